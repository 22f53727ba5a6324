"""The optimisation spec of a catalogue process model and its one entry point (``bioprocess-twin optimize``).

```yaml
model: microbial_fed_batch          # a process model of the catalogue
version: 1.0.0+cal.1                # optional: a calibrated set of it
parameters: {S_0: "10 g/L"}         # model parameters, with units where wanted
inputs: {agitation: "800 rpm"}      # the inputs that are not controls, held constant
horizon: 30                         # model time units
intervals: 15
controls: {feed_rate: {min: 0, max: 0.02}}
objective: {name: P, sense: maximize}
path: [{name: DO, min: 30}]
final: [{name: V, max: 1.5}]
pareto: {second: {name: V, sense: minimize}, epsilons: [1.1, 1.3, 1.5]}   # optional
```

Units: bounds, horizon and ε are in the model's declared units (``bioprocess-twin models NAME`` lists them).
An operating parameter (one that shapes a recipe) has no place in a policy and is a named error.

The same entry point takes a scenario spec (told apart by its ``base``) with ``analysis: optimize``: the static
design over its factors under its responses' limits, or its Pareto front (:mod:`.design`).

Every entry point takes an optional ``progress`` callable: it hears of every IPOPT iteration and of each front
point's end (:mod:`.progress`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from .. import catalogue
from ..core.definitions import calibrated_parameters
from ..core.parameters import ParameterError
from ..core.spec import SpecError, StrictModel, field_errors, read_spec_file
from .design import DesignProblem, DesignResult, Row
from .pareto import ParetoPoint, pareto_front
from .policy import Objective, PolicyProblem, optimize_policy, reporting
from .progress import Progress, close_part, part
from .spec import ScenarioSpec, parse_scenario_spec


class ParetoSettings(StrictModel):
    second: Objective
    epsilons: list[float] = Field(min_length=1, max_length=200)


class OptimizationSpec(PolicyProblem):
    model: str = Field(max_length=100)
    version: str | None = Field(None, max_length=100)
    pareto: ParetoSettings | None = None


@dataclass
class DesignPoint:
    """A point of a design's Pareto front: ``price`` is the gain in the first objective per unit the ε bound on
    the second is relaxed (0 when the bound is not active)."""

    epsilon: float
    first: float | None
    second: float | None
    price: float
    result: DesignResult

    def to_dict(self) -> dict[str, Any]:
        best = self.result.best
        shown = {k: v for k, v in vars(self).items() if k != "result"}
        return shown | {"status": self.result.status, "message": self.result.message, "factors": best and best.factors}


def design_front(problem: DesignProblem, progress: Progress | None = None) -> list[DesignPoint]:
    """The ε-constraint Pareto front of a design's objective against ``optimize.pareto.second`` (Haimes, Lasdon &
    Wismer 1971): ``second <= ε`` when it is minimised, ``>= ε`` else; every ε solves every combination. A
    response's limit on the second KPI that ε holds as tight is left out for that point (one constraint, one
    price). ``progress``: every IPOPT iteration and each combination's and point's end (:mod:`.progress`)."""
    pareto = problem.settings.pareto
    if pareto is None:
        raise SpecError("scenario", [("optimize.pareto", "give second: {kpi: ...} and epsilons: [...]")])
    side = "max" if pareto.second.sense == "minimize" else "min"
    points = []
    for i, eps in enumerate(pareto.epsilons):
        label = _point_label(eps, i, len(pareto.epsilons))
        result = problem.solve(
            [Row("epsilon", pareto.second.kpi, **{side: float(eps)})], part(progress, label, i, len(pareto.epsilons))
        )
        best, price = result.best, 0.0
        if best is not None and best.status == "optimal":
            bound = next(c for c in best.constraints if c.kind == "epsilon" and c.side == side)
            price = bound.multiplier if bound.active else 0.0
        first = None if best is None else best.objective
        second = None if best is None else best.kpis.get(pareto.second.kpi)
        points.append(DesignPoint(float(eps), first, second, price, result))
        violation = best.violation if best is not None else math.nan
        kpi = problem.settings.objective.kpi
        close_part(progress, label, i, len(pareto.epsilons), result.status, _iterations(result), first, violation, kpi)
    return points


def _point_label(epsilon: float, index: int, count: int) -> str:
    return f"ε {epsilon:g} ({index + 1} of {count})"


def _iterations(result: DesignResult) -> int:
    return sum(c.iterations for c in result.combinations)


@dataclass
class DesignSpec:
    """A scenario spec with ``analysis: optimize`` and its base simulation spec document."""

    scenario: ScenarioSpec
    base: dict[str, Any]


def parse_optimization_spec(
    data: Any, source: str = "optimization spec", folder: str | Path | None = None
) -> OptimizationSpec | DesignSpec:
    """A policy spec, or a scenario spec (it has ``base``; a base file is read from ``folder``) for a design."""
    if not isinstance(data, dict):
        raise SpecError(source, [("(top level)", "expected a mapping with model, horizon, controls and objective")])
    if "base" in data:
        spec, base = parse_scenario_spec(data, source, folder)
        if spec.analysis != "optimize":
            why = (
                f"bioprocess-twin optimize runs analysis 'optimize', not '{spec.analysis}' (the scenario command does)"
            )
            raise SpecError(source, [("analysis", why)])
        return DesignSpec(spec, dict(base))
    try:
        return OptimizationSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, field_errors(exc)) from None


def load_optimization_spec(path: str | Path) -> OptimizationSpec | DesignSpec:
    path = Path(path)
    return parse_optimization_spec(read_spec_file(path), str(path), path.parent)


def run_optimization(spec: OptimizationSpec | DesignSpec, progress: Progress | None = None) -> dict[str, Any]:
    """Optimise the spec's policy (or trace its Pareto front) on its catalogue model, or the static design of a
    scenario spec; the result document. ``status`` is ``optimal``, ``infeasible`` or ``failed`` (for a front: the
    worst of its points). ``progress``: called at every IPOPT iteration and as each front point or design
    combination ends (:mod:`.progress`); if it raises, the run stops and the exception propagates."""
    if isinstance(spec, DesignSpec):
        return run_design(spec, progress)
    try:
        process = catalogue.get(spec.model)
    except KeyError as exc:
        raise SpecError("optimization spec", [("model", exc.args[0])]) from None
    given = dict(spec.parameters)
    operating = [
        (f"parameters.{k}", "an operating parameter shapes a recipe; a policy has none")
        for k in given
        if k in process.operating
    ]
    if operating:
        raise SpecError("optimization spec", operating)
    try:
        calibrated = calibrated_parameters(process, spec.version) if spec.version else {}
        values, _ = process.split_parameters(calibrated | given)
    except ParameterError as exc:
        raise SpecError("optimization spec", exc.errors) from None
    problem = PolicyProblem.model_validate(
        spec.model_dump(exclude={"model", "version", "pareto"}) | {"parameters": values}
    )
    doc: dict[str, Any] = {"model": process.name, "model_version": spec.version or process.version}
    try:
        if spec.pareto is None:
            result = optimize_policy(process.model, problem, progress=progress)
            return doc | {"kind": "policy", **result.to_dict()}
        points = _policy_front(process.model, problem, spec.pareto, progress)
    except ParameterError as exc:
        raise SpecError("optimization spec", exc.errors) from None
    return doc | _front("pareto", points, spec.objective, spec.pareto.second)


def _policy_front(model: Any, problem: PolicyProblem, pareto: ParetoSettings, progress: Progress | None):
    """:func:`.pareto.pareto_front`, one ε at a time when progress is wanted (each from the policy of the ε
    before it when that one was optimal, as the front itself does), so that each point reports its share."""
    if progress is None:
        return pareto_front(model, problem, pareto.second, pareto.epsilons)
    points: list[ParetoPoint] = []
    start = None
    count = len(pareto.epsilons)
    for i, eps in enumerate(pareto.epsilons):
        label = _point_label(eps, i, count)
        with reporting(part(progress, label, i, count)):
            (point,) = pareto_front(model, problem, pareto.second, [eps], start)
        points.append(point)
        result = point.result
        start = result.controls if result.status == "optimal" else start
        worst = max([c.violation / max(1.0, abs(c.bound)) for c in result.constraints], default=0.0)
        close_part(
            progress, label, i, count, result.status, result.iterations, result.objective, worst, problem.objective.name
        )
    return points


def run_design(spec: DesignSpec, progress: Progress | None = None) -> dict[str, Any]:
    """The static design of a scenario spec (``kind: design``), or its ε-constraint front (``design_pareto``)."""
    problem = DesignProblem(spec.scenario, spec.base)
    settings = problem.settings
    process = problem.process
    doc: dict[str, Any] = {
        "name": spec.scenario.name,
        "model": process.name,
        "model_version": spec.base.get("version") or process.version,
        "method": "IPOPT (cyipopt, MUMPS, L-BFGS Hessian) over the continuous factors, gradients from CVODES "
        "forward sensitivities; the other factors enumerated",
        "responses": [r.describe() for r in spec.scenario.responses],
    }
    uncertainty = spec.scenario.uncertainty
    if uncertainty.parameters or uncertainty.factors or uncertainty.calibrated:
        doc["note"] = "nominal model: the uncertainty section is not sampled by the optimisation"
    if settings.pareto is None:
        return doc | {"kind": "design", **problem.solve(progress=progress).to_dict()}
    front = _front("design_pareto", design_front(problem, progress), settings.objective, settings.pareto.second)
    return doc | front | {"kpi_units": problem.kpi_units}


def _front(kind: str, points: Sequence[Any], objective: Any, second: Any) -> dict[str, Any]:
    """The document of an ε-constraint front: its status is the worst of its points' (failed, then infeasible)."""
    statuses = [p.result.status for p in points]
    worst = next((s for s in ("failed", "infeasible") if s in statuses), "optimal")
    return {
        "kind": kind,
        "status": worst,
        "message": "; ".join(f"ε {p.epsilon:g}: {p.result.message}" for p in points if p.result.message),
        "objective": objective.model_dump(),
        "second": second.model_dump(),
        "points": [p.to_dict() for p in points],
    }
