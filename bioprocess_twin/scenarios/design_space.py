"""Monte Carlo probability of meeting spec, and the design space over two to four factors.

At each factor set point the scenario's ``samples`` batches are simulated, each with the uncertain model
parameters drawn from their distributions and process noise added to the factors; P(every CQA in spec) is
the share that meet every specification, with its Wilson interval (:mod:`.probability`). The design space
is the region of the factor grid where P ≥ the target (ICH Q8(R2); Peterson 2008, J. Biopharm. Stat.
18:959; García-Muñoz et al. 2015, Org. Process Res. Dev. 19:1012). The proven acceptable range (PAR) of
a factor is the span of its grid values, through the set point with the other factors held at theirs,
over which P stays ≥ the target.

Common random numbers: every grid point uses the same parameter draws (from the scenario's seed), so the
probability map changes from point to point only through the factors, not through sampling noise. The
process noise of point ``i`` is drawn from the seed and ``i``. A sweep is reproducible from its spec.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..core.spec import SpecError
from .cases import Execution, check_paths, noisy, run_values, sampled_values
from .executor import CaseOutcome
from .probability import Probability, probability, probability_in_spec
from .spec import ScenarioSpec

#: most cases one design-space sweep may run
MAX_CASES = 1_000_000


@dataclass
class PointResult:
    values: dict[str, float]
    probability: Probability
    per_response: dict[str, Probability]
    failed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": self.values,
            "probability": self.probability.to_dict(),
            "per_response": {k: p.to_dict() for k, p in self.per_response.items()},
            "failed": self.failed,
        }


@dataclass
class DesignSpace:
    name: str
    factors: list[str]
    target: float
    points: list[PointResult]
    set_point: dict[str, float]
    par: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    convergence: list[dict[str, float]] = field(default_factory=list)
    cases: int = 0

    def inside(self) -> list[PointResult]:
        """The grid points in the design space: P ≥ target."""
        return [p for p in self.points if p.probability.p >= self.target]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "factors": self.factors,
            "target": self.target,
            "set_point": self.set_point,
            "points": [p.to_dict() for p in self.points],
            "par": {k: list(v) if v is not None else None for k, v in self.par.items()},
            "convergence": self.convergence,
            "cases": self.cases,
        }


def grid_values(spec: ScenarioSpec) -> dict[str, list[float]]:
    """The values of each factor on the design-space grid: its levels, or ``grid`` points over its range
    (whole numbers for an integer factor), with the set point added where it falls between them."""
    out = {}
    for f in spec.factors:
        if f.levels is not None:
            values = sorted(set(f.levels))
        else:
            low, high = f.bounds()
            values = list(np.linspace(low, high, spec.design_space.grid))
            if f.integer:
                values = sorted({float(round(v)) for v in values})
        given = spec.design_space.set_point.get(f.path)
        if given is not None and given not in values:
            values = sorted([*values, given])
        out[f.path] = [float(v) for v in values]
    return out


def set_point(spec: ScenarioSpec, grid: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """The given set point, or each factor's middle grid value."""
    return {p: float(spec.design_space.set_point.get(p, values[len(values) // 2])) for p, values in grid.items()}


def checked(spec: ScenarioSpec, base: Mapping[str, Any], source: str = "scenario") -> None:
    """Refuse a scenario whose paths do not fit the base spec's model, and a set point outside a factor."""
    errors = check_paths(spec, base)
    for f in spec.factors:
        value = spec.design_space.set_point.get(f.path)
        low, high = f.bounds()
        if value is not None and not low <= value <= high:
            errors.append((f"design_space.set_point.{f.path}", f"{value:g} lies outside [{low:g}, {high:g}]"))
    if errors:
        raise SpecError(source, errors)


def _run(spec, base, points: Sequence[Mapping[str, float]], execution: Execution) -> list[list[CaseOutcome]]:
    """Simulate ``spec.samples`` batches at each point; the outcomes per point, in sample order."""
    n = spec.samples
    parameters = sampled_values(spec, base, n, np.random.default_rng(spec.seed))
    values = []
    for i, point in enumerate(points):
        noise = noisy(spec, point, np.random.default_rng([spec.seed, i]), n)
        values += [noise[j] | parameters[j] for j in range(n)]
    outcomes = run_values(spec, base, values, execution, {"design": "points", "points": [dict(p) for p in points]})
    return [outcomes[i * n : (i + 1) * n] for i in range(len(points))]


def _point(spec: ScenarioSpec, values: Mapping[str, float], outcomes: Sequence[CaseOutcome]) -> PointResult:
    kpis = [o.kpis if o.status == "ok" else None for o in outcomes]
    confidence = spec.design_space.confidence
    return PointResult(
        values=dict(values),
        probability=probability_in_spec(kpis, spec.responses, confidence),
        per_response={r.kpi: probability_in_spec(kpis, [r], confidence) for r in spec.responses},
        failed=sum(o.status != "ok" for o in outcomes),
    )


def convergence(spec: ScenarioSpec, outcomes: Sequence[CaseOutcome], steps: int = 10) -> list[dict[str, float]]:
    """P̂ and its Wilson interval after the first n samples, for ``steps`` values of n up to all of them."""
    met = [o.status == "ok" and all(r.met(o.kpis.get(r.kpi)) for r in spec.responses) for o in outcomes]
    sizes = sorted({max(1, round(len(met) * (k + 1) / steps)) for k in range(steps)})
    return [{"n": n} | probability(sum(met[:n]), n, spec.design_space.confidence).to_dict() for n in sizes]


def monte_carlo(
    spec: ScenarioSpec, base: Mapping[str, Any], point: Mapping[str, float], execution: Execution | None = None
) -> tuple[PointResult, list[dict[str, float]]]:
    """P(every CQA in spec) at one factor set point, and its convergence with the number of samples."""
    checked(spec, base)
    missing = [f.path for f in spec.factors if f.path not in point]
    if missing:
        raise SpecError("scenario", [("set_point", f"no value for factor {p}") for p in missing])
    (outcomes,) = _run(spec, base, [point], execution or Execution())
    return _point(spec, point, outcomes), convergence(spec, outcomes)


def design_space(spec: ScenarioSpec, base: Mapping[str, Any], execution: Execution | None = None) -> DesignSpace:
    """P(every CQA in spec) over the full grid of the factors, the region where it reaches the target and
    each factor's PAR through the set point."""
    checked(spec, base)
    if not 1 <= len(spec.factors) <= 4:
        raise SpecError("scenario", [("factors", f"a design space takes 1 to 4 factors, not {len(spec.factors)}")])
    grid = grid_values(spec)
    paths = list(grid)
    total = math.prod(len(v) for v in grid.values()) * spec.samples
    if total > MAX_CASES:
        raise SpecError(
            "scenario",
            [("samples", f"{total:,} cases (grid points x samples) exceed the limit of {MAX_CASES:,} in one sweep")],
        )
    execution = execution or Execution()
    points = [dict(zip(paths, combo, strict=True)) for combo in itertools.product(*grid.values())]
    per_point = _run(spec, base, points, execution)
    results = [_point(spec, p, o) for p, o in zip(points, per_point, strict=True)]
    centre = set_point(spec, grid)
    at_centre = per_point[next(i for i, p in enumerate(points) if p == centre)]
    for round_ in range(1, spec.design_space.refine + 1):
        finer = _refined(spec, grid, results)
        new = [dict(zip(paths, c, strict=True)) for c in itertools.product(*finer.values())]
        new = [p for p in new if p not in points]
        if not new:
            break
        if (len(points) + len(new)) * spec.samples > MAX_CASES:
            raise SpecError(
                "scenario", [("design_space.refine", f"refining past round {round_ - 1} exceeds {MAX_CASES:,} cases")]
            )
        store = execution.store and Path(execution.store) / f"refine-{round_}"
        outcomes = _run(spec, base, new, replace(execution, store=store))
        points += new
        results += [_point(spec, p, o) for p, o in zip(new, outcomes, strict=True)]
        grid = finer
    order = sorted(range(len(points)), key=lambda i: [points[i][p] for p in paths])
    results = [results[i] for i in order]
    space = DesignSpace(spec.name, paths, spec.design_space.target, results, centre, cases=len(points) * spec.samples)
    space.convergence = convergence(spec, at_centre)
    space.par = {path: proven_range(space, path) for path in paths}
    return space


def _refined(
    spec: ScenarioSpec, grid: Mapping[str, list[float]], results: Sequence[PointResult]
) -> dict[str, list[float]]:
    """The grid with the midpoint added between two neighbouring values of a continuous factor wherever P
    crosses the target between them, the other factors held at any of their grid values (Kusumo et al. 2020
    refine near the boundary of a probabilistic design space; this is the grid form of that idea)."""
    target = spec.design_space.target
    p_at = {tuple(r.values[q] for q in grid): r.probability.p for r in results}
    paths = list(grid)
    out = {path: list(values) for path, values in grid.items()}
    for k, factor in enumerate(spec.factors):
        if factor.levels is not None or factor.integer:
            continue
        values = grid[factor.path]
        others = [grid[q] for q in paths if q != factor.path]
        for a, b in zip(values[:-1], values[1:]):
            for rest in itertools.product(*others):
                key_a, key_b = (*rest[:k], a, *rest[k:]), (*rest[:k], b, *rest[k:])
                if key_a in p_at and key_b in p_at and (p_at[key_a] >= target) != (p_at[key_b] >= target):
                    out[factor.path].append((a + b) / 2)
                    break
        out[factor.path] = sorted(set(out[factor.path]))
    return out


def proven_range(space: DesignSpace, path: str) -> tuple[float, float] | None:
    """The PAR of one factor: the widest run of its grid values containing the set point where P ≥ target,
    the other factors at their set points; None when the set point itself is below the target."""
    line = sorted(
        (p.values[path], p.probability.p)
        for p in space.points
        if all(p.values[q] == v for q, v in space.set_point.items() if q != path)
    )
    values = [v for v, _ in line]
    at = values.index(space.set_point[path])
    if line[at][1] < space.target:
        return None
    low = high = at
    while low > 0 and line[low - 1][1] >= space.target:
        low -= 1
    while high < len(line) - 1 and line[high + 1][1] >= space.target:
        high += 1
    return values[low], values[high]
