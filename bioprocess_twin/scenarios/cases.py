"""Scenario cases: the base spec with factor values and sampled uncertainty written in, and the task that
runs one case (any executor backend calls it; it holds plain data only, so it pickles to Dask workers).

A case's ``values`` map a dotted path of the spec document to a number in that path's units: the factor
paths (``inputs.pressure``) and the sampled model parameters (``parameters.k``). Every sample is drawn
in the driver from the scenario's seed, so a sweep is reproducible and the store records it whole.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import catalogue
from ..core.definitions import calibrated_set
from ..core.limits import WallClockLimit
from ..core.parameters import ParameterError
from ..core.spec import SpecError, parse_spec, spec_error_from
from ..core.units import UnitsError
from . import line_base
from .batch import simulate_batch
from .executor import Case, CaseOutcome, CaseStore, run_cases
from .spec import SECTIONS, Distribution, ScenarioSpec

#: a solver failure, as opposed to a case the task could not run
SOLVER_FAILED = "failed"


def set_path(document: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``document`` with ``value`` at the dotted ``path``. Under ``parameters``, ``inputs`` and
    ``initial`` any name may be set; elsewhere every part of the path must exist. Raises KeyError naming the
    part that does not."""
    out = copy.deepcopy(dict(document))
    _put(out, path, value)
    return out


def _put(document: dict[str, Any], path: str, value: Any) -> None:
    """:func:`set_path` in place."""
    parts = line_base.unit_path(path).split(".")
    if parts[0] == "units" and len(parts) == 4 and parts[2] == "parameters" and isinstance(document.get("units"), dict):
        unit = document["units"].get(parts[1])
        if not isinstance(unit, dict):
            raise KeyError(f"'units.{parts[1]}': the base line has no such unit")
        unit.setdefault("parameters", {})[parts[3]] = value
        return
    if parts[0] in ("parameters", "inputs", "initial") and len(parts) == 2:
        section = document.setdefault(parts[0], {})
        if not isinstance(section, dict):
            raise KeyError(f"'{parts[0]}' of the base spec is not a mapping")
        section[parts[1]] = value
        return
    node: Any = document
    for i, part in enumerate(parts):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(f"'{where}': the base spec has no item {part} (it has {len(node)})")
            key: Any = int(part)
        elif isinstance(node, dict):
            if part not in node:
                raise KeyError(f"'{where}': the base spec has no such field")
            key = part
        else:
            raise KeyError(f"'{where}': the base spec has a value, not a section, before it")
        if i == len(parts) - 1:
            node[key] = value
        else:
            node = node[key]


def check_paths(spec: ScenarioSpec, base: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Named errors for factor paths and uncertain parameters the base spec's model (or line) does not have."""
    if line_base.is_line(base):
        paths = [f.path for f in spec.factors]
        return line_base.check(base, paths, list(spec.uncertainty.parameters), spec.uncertainty.calibrated)
    try:
        process = catalogue.get(str(base.get("model")))
    except KeyError as exc:
        return [("base.model", exc.args[0])]
    model = process.model
    known = {
        "parameters": set(model.parameters.names) | set(process.operating.names),
        "inputs": set(model.inputs.names),
        "initial": {v.name for v in model.states},
    }
    errors = []
    for i, factor in enumerate(spec.factors):
        section, _, rest = factor.path.partition(".")
        if section in known and "." not in rest:
            if rest not in known[section]:
                errors.append((f"factors.{i}.path", f"model '{model.name}' has no {SECTIONS[section]} '{rest}'"))
            continue
        try:
            set_path(base, factor.path, 0.0)
        except KeyError as exc:
            errors.append((f"factors.{i}.path", exc.args[0]))
    for name in spec.uncertainty.parameters:
        if name not in known["parameters"]:
            errors.append((f"uncertainty.parameters.{name}", f"model '{model.name}' has no parameter '{name}'"))
    return errors


def draw(distribution: Distribution, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` values of an uncertain quantity."""
    first, second = distribution.pair()
    if distribution.distribution == "normal":
        return rng.normal(first, second, n)
    if distribution.distribution == "lognormal":
        return first * np.exp(math.log(second) * rng.standard_normal(n))
    return rng.uniform(first, second, n)


def sampled_values(
    spec: ScenarioSpec, base: Mapping[str, Any], n: int, rng: np.random.Generator
) -> list[dict[str, float]]:
    """``n`` draws of the uncertain parameters, as case values (``parameters.<name>``, declared units): the
    calibrated set's joint draws first (when asked), then the given distributions."""
    columns = calibrated_draws(base, n, rng) if spec.uncertainty.calibrated else {}
    both = sorted({p.removeprefix("parameters.") for p in columns} & set(spec.uncertainty.parameters))
    if both:
        raise SpecError(
            "scenario",
            [(f"uncertainty.parameters.{name}", "the calibrated set already samples it") for name in both],
        )
    line = line_base.is_line(base)
    for name, d in spec.uncertainty.parameters.items():
        columns[(line_base.parameter_path(name) or name) if line else f"parameters.{name}"] = draw(d, rng, n)
    return [{path: float(values[j]) for path, values in columns.items()} for j in range(n)]


def calibrated_draws(base: Mapping[str, Any], n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` joint draws of the shared parameters of the base spec's calibrated set: a multivariate normal with
    the set's covariance, in the space each was fitted in (exponentiated where that is the log)."""
    process = catalogue.get(str(base.get("model")))
    version = base.get("version")
    field_name = "uncertainty.calibrated"
    if not version or version == process.version:
        raise SpecError("scenario", [(field_name, "the base spec names no calibrated set: give its 'version'")])
    try:
        found = calibrated_set(process, str(version)).get("covariance")
    except ParameterError as exc:
        raise SpecError("scenario", [("base.version", m) for _, m in exc.errors]) from None
    if not isinstance(found, dict) or not found.get("names"):
        raise SpecError("scenario", [(field_name, f"set {version} holds no covariance: recalibrate to save one")])
    names = list(found["names"])
    try:
        centre = np.asarray(found["centre"], dtype=float)
        matrix = np.asarray(found["matrix"], dtype=float)
        ok = matrix.shape == (len(names), len(names)) and centre.shape == (len(names),)
        ok = ok and bool(np.all(np.isfinite(matrix))) and np.allclose(matrix, matrix.T)
        ok = ok and float(np.linalg.eigvalsh(matrix).min()) >= -1e-10 * max(1.0, float(np.abs(matrix).max()))
    except (KeyError, TypeError, ValueError, np.linalg.LinAlgError):
        ok = False
    if not ok:
        raise SpecError(
            "scenario",
            [
                (
                    field_name,
                    f"the covariance of set {version} is not a finite positive semi-definite matrix "
                    "(an unidentifiable parameter?)",
                )
            ],
        )
    draws = rng.multivariate_normal(centre, matrix, n, method="eigh")
    space = found.get("space") or {}
    return {
        f"parameters.{name}": np.exp(draws[:, i]) if space.get(name) == "log" else draws[:, i]
        for i, name in enumerate(names)
    }


def noisy(spec: ScenarioSpec, point: Mapping[str, float], rng: np.random.Generator, n: int) -> list[dict[str, float]]:
    """``n`` copies of the factor set point ``point`` with process noise added (integer factors rounded)."""
    factors = {f.path: f for f in spec.factors}
    columns = {}
    for path, value in point.items():
        noise = spec.uncertainty.factors.get(path)
        x = value + (rng.normal(0.0, noise.sd, n) if noise is not None and noise.sd > 0 else np.zeros(n))
        columns[path] = np.round(x) if factors[path].integer else x
    return [{path: float(x[j]) for path, x in columns.items()} for j in range(n)]


@dataclass(frozen=True)
class CaseContext:
    """What a worker needs to run any case of a scenario: the base spec document, the units of each
    factor and uncertain parameter, and the KPIs to keep."""

    base: dict[str, Any]
    units: dict[str, str] = field(default_factory=dict)
    integer: frozenset[str] = frozenset()
    kpis: tuple[str, ...] | None = None  # None: keep every KPI

    @classmethod
    def of(cls, spec: ScenarioSpec, base: Mapping[str, Any]) -> CaseContext:
        units = {f.path: f.units for f in spec.factors if f.units}
        line = line_base.is_line(base)
        units |= {
            (line_base.parameter_path(n) or n) if line else f"parameters.{n}": d.units
            for n, d in spec.uncertainty.parameters.items()
            if d.units
        }
        return cls(
            base=copy.deepcopy(dict(base)),
            units=units,
            integer=frozenset(f.path for f in spec.factors if f.integer),
            kpis=tuple(r.kpi for r in spec.responses),
        )

    def document(self, values: Mapping[str, float]) -> dict[str, Any]:
        """The base spec with the case's values written in (with their units, where they have any)."""
        doc = copy.deepcopy(self.base)  # once per case; the values go into the copy
        for path, x in values.items():
            if path in self.integer:
                value: Any = int(round(x))
            elif path in self.units:
                value = {"value": float(x), "units": self.units[path]}
            else:
                value = float(x)
            _put(doc, path, value)
        return doc


def simulate_case(context: CaseContext, case: Case) -> CaseOutcome:
    """Run one case: status ``ok``, ``failed`` (the solver or a physical check failed; the message says
    why) or ``error`` (the case's spec is not valid: a sampled value out of its bounds, say)."""
    started = time.perf_counter()

    def outcome(status: str, message: str = "", kpis: Mapping[str, Any] | None = None) -> CaseOutcome:
        kept = dict(kpis or {})
        if context.kpis is not None:
            kept = {k: kept.get(k) for k in context.kpis}
        values = {k: (float(v) if isinstance(v, (int, float)) else None) for k, v in kept.items()}
        return CaseOutcome(case.index, status, message, values, time.perf_counter() - started)

    try:
        document = context.document(case.values)
        if line_base.is_line(document):
            ok, message, kpis = line_base.run(document)
            return outcome("ok" if ok else SOLVER_FAILED, message, kpis)
        spec = parse_spec(document, f"case {case.index}")
        run = catalogue.run_spec(spec)
    except WallClockLimit as exc:
        return outcome(SOLVER_FAILED, str(exc))
    except (SpecError, UnitsError) as exc:
        return outcome("error", str(exc))
    except (ParameterError, KeyError) as exc:
        return outcome("error", str(spec_error_from(exc, f"case {case.index}")))
    if not run.ok:
        return outcome(SOLVER_FAILED, run.result.message, run.kpis)
    return outcome("ok", "", run.kpis)


@dataclass(frozen=True)
class ScenarioTask:
    """The task of a scenario's cases: one case (a call) or a chunk of cases at once (:meth:`batch`: the cases that
    differ only in model parameters and inputs share one ensemble, on ``threads`` threads)."""

    context: CaseContext
    threads: int = 1

    def __call__(self, case: Case) -> CaseOutcome:
        return simulate_case(self.context, case)

    def batch(self, cases: Sequence[Case]) -> list[CaseOutcome]:
        return simulate_batch(self.context, cases, self.threads, self)


@dataclass
class Execution:
    """Where the cases run (see :func:`.executor.run_cases`) and where their results stream to."""

    backend: str = "sequential"
    scheduler: str | None = None
    workers: int = 2
    store: str | Path | None = None
    progress: Callable[[int, int], None] | None = None
    #: most cases this caller lets one analysis run (a shared server sets it); None: only the spec's limits
    max_cases: int | None = None


def run_values(
    spec: ScenarioSpec,
    base: Mapping[str, Any],
    values: Sequence[Mapping[str, float]],
    execution: Execution,
    design: Mapping[str, Any],
) -> list[CaseOutcome]:
    """Run one case per set of ``values`` (numbered in order) and return their outcomes in that order. With a
    store, the record holds the scenario, the base spec and ``design`` (what the values were made from), so a
    stored sweep is never resumed under another spec."""
    if execution.max_cases is not None and len(values) > execution.max_cases:
        raise SpecError(
            "scenario",
            [
                (
                    "samples",
                    f"{len(values):,} cases exceed the {execution.max_cases:,} allowed here; use the command line",
                )
            ],
        )
    store = None
    if execution.store is not None:
        record = {"scenario": spec.model_dump(mode="json"), "base": dict(base), **design}
        store = CaseStore(execution.store, record)
    threads = execution.workers if execution.backend == "sequential" else 1
    return run_cases(
        ScenarioTask(CaseContext.of(spec, base), threads),
        [Case(i, dict(v)) for i, v in enumerate(values)],
        backend=execution.backend,
        scheduler=execution.scheduler,
        workers=execution.workers,
        store=store,
        progress=execution.progress,
    )
