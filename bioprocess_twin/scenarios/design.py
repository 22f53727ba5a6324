"""Static design optimisation: the factor values of a scenario spec that minimise or maximise one KPI while
every response stays within its limits (``analysis: optimize``; docs/optimisation.md).

- **Continuous** factors, a ``range`` on a model parameter (not an operating one), a constant input or a scalar
  initial state, are NLP variables scaled to [0, 1] over their ranges (pint converts a factor's ``units`` to
  the model's). An operating parameter or recipe value with a ``range`` is a named SpecError: it shapes the
  recipe, so CVODES has no sensitivity for it; give it ``levels``.
- **Enumerated** factors, integer ones and any with ``levels``, take every combination (at most
  :data:`MAX_COMBINATIONS`); each combination is one NLP.

Each NLP is solved by IPOPT (Wächter & Biegler 2006, Math. Program. 106:25) through ``cyipopt.Problem`` (MUMPS,
L-BFGS Hessian) over one :func:`~bioprocess_twin.core.trajectory.trajectory` of the continuous factors. A KPI is
the process's own ``kpis`` of the trajectory's values v. Its gradient is the chain rule through the exact CVODES
forward sensitivities J = dv/dθ: a central difference of the cheap KPI post-processing along each sensitivity
direction, dK/dθ_j ≈ [K(v + h J_j, θ + h e_j) - K(v - h J_j, θ - h e_j)] / 2h, with no new integration (θ also
enters K directly, as the pressure in an energy density does).

When IPOPT does not converge, an elastic NLP finds the least-infeasible point (least total violation, each
relative to its bound). Violations left: ``infeasible``, naming the constraints that cannot be met together
(violated, or holding it at their bounds). None: IPOPT restarts there, else ``failed``. Prices are IPOPT's
multipliers as the gain in the objective (its sense and units) per unit a bound is relaxed. Local optima from
the middle of the ranges; nominal model (the spec's ``uncertainty`` is not sampled). A ``progress`` callable hears
of every IPOPT iteration and of each combination's end, with the share of the combinations done (:mod:`.progress`).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import catalogue
from ..core.definitions import calibrated_parameters
from ..core.kpi_units import declared_units
from ..core.parameters import ParameterError
from ..core.process import Process
from ..core.results import SimulationResult
from ..core.simulation import SolverOptions, bounds_status
from ..core.spec import SpecError, parse_spec
from ..core.trajectory import Trajectory, TrajectoryError, trajectory
from ..core.units import UnitsError, to_magnitude
from . import line_base
from .cases import CaseContext, check_paths
from .design_nlp import FEASIBILITY_TOLERANCE, DesignConstraint, Elastic, Nlp, Row, constraint_text, finite_or_none
from .progress import Progress, close_part, part
from .spec import KpiObjective, OptimizeSettings, ScenarioSpec

#: most combinations of the enumerated factors one optimisation solves (each is an NLP)
MAX_COMBINATIONS = 100
#: central-difference step of the KPI post-processing along a sensitivity direction, as a share of the range
STEP = 1e-6
SOLVED = (0, 1)  # IPOPT's Solve_Succeeded and Solved_To_Acceptable_Level
IPOPT_STATUS = {0: "Solve_Succeeded", 1: "Solved_To_Acceptable_Level", 2: "Infeasible_Problem_Detected"}
IPOPT_STATUS |= {3: "Search_Direction_Becomes_Too_Small", 4: "Diverging_Iterates", -1: "Maximum_Iterations_Exceeded"}
IPOPT_STATUS |= {-2: "Restoration_Failed", -3: "Error_In_Step_Computation", -13: "Invalid_Number_Detected"}


@dataclass(frozen=True)
class Variable:
    """A continuous factor as the NLP variable s in [0, 1]: value = low + s (high - low) in the factor's units,
    θ = scale · value + offset in the model's declared units."""

    path: str
    section: str  # "parameters", "inputs" or "initial"
    name: str
    low: float
    high: float
    units: str
    scale: float
    offset: float

    def value(self, s: float) -> float:
        return self.low + s * (self.high - self.low)

    def theta(self, s: float) -> float:
        return self.scale * self.value(s) + self.offset

    def slope(self) -> float:
        return self.scale * (self.high - self.low)


@dataclass
class CombinationResult:
    """The optimum, or the least-infeasible point, at one combination of the enumerated factors."""

    levels: dict[str, float]
    status: str  # "optimal", "infeasible" or "failed"
    message: str
    objective: float | None
    factors: dict[str, float]  # every factor, in its units
    kpis: dict[str, float | None]
    constraints: list[DesignConstraint] = field(default_factory=list)
    iterations: int = 0
    solver_status: str = ""
    violation: float = 0.0  # total violation, each relative to its bound (at least 1)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self)) | {"constraints": [vars(c) for c in self.constraints]}


@dataclass
class DesignResult:
    status: str
    message: str
    objective: KpiObjective
    best: CombinationResult | None
    combinations: list[CombinationResult]
    factor_units: dict[str, str]
    kpi_units: dict[str, str]
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        best = self.best.to_dict() if self.best is not None else {}
        return {
            "status": self.status,
            "message": self.message,
            "objective_kpi": self.objective.kpi,
            "sense": self.objective.sense,
            **{k: best.get(k) for k in ("objective", "factors", "kpis", "constraints", "iterations", "solver_status")},
            "total_iterations": sum(c.iterations for c in self.combinations),
            "factor_units": self.factor_units,
            "kpi_units": self.kpi_units,
            "combinations": [c.to_dict() for c in self.combinations],
            "seconds": self.seconds,
        }


class DesignProblem:
    """A scenario spec's design problem, checked once: its process, the continuous factors (NLP variables) and
    the enumerated ones with their levels. :meth:`solve` optimises it (per ε: :func:`.optimize.design_front`)."""

    def __init__(self, spec: ScenarioSpec, base: Mapping[str, Any], settings: OptimizeSettings | None = None):
        settings = settings or spec.optimize
        if settings is None:
            raise SpecError("scenario", [("optimize", "give the objective: optimize: {objective: {kpi: ...}}")])
        self.spec, self.settings = spec, settings
        if line_base.is_line(base):
            why = "a static design takes a process model's simulation spec; a line has no sensitivities here"
            raise SpecError("scenario", [("base", why)])
        errors = check_paths(spec, base)
        if errors:
            raise SpecError("scenario", errors)
        self.process = catalogue.get(str(base.get("model")))
        self.context = CaseContext.of(spec, base)
        self.variables, self.enumerated = _factors(spec, self.process)
        count = math.prod(len(levels) for _, _, levels in self.enumerated)
        if count > MAX_COMBINATIONS:
            why = f"{count:,} combinations of the enumerated factors exceed {MAX_COMBINATIONS}"
            raise SpecError("scenario", [("factors", why)])
        wanted = [("optimize.objective.kpi", settings.objective.kpi)]
        wanted += [(f"responses.{i}.kpi", r.kpi) for i, r in enumerate(spec.responses)]
        if settings.pareto is not None:
            wanted.append(("optimize.pareto.second.kpi", settings.pareto.second.kpi))
        declared = self.process.kpi_units
        unknown = [(f, k) for f, k in wanted if declared and declared_units(k, declared) is None]
        if unknown:
            raise SpecError("scenario", [(f, _no_kpi(self.process.name, k, declared)) for f, k in unknown])
        self.fields = {k: f for f, k in reversed(wanted)}  # each KPI -> the first field that names it
        self.factor_units = {f.path: f.units for f in spec.factors} | {v.path: v.units for v in self.variables}
        self.kpi_units = {k: declared_units(k, declared) or "" for k in self.fields}
        self._cases: dict[tuple[float, ...], _Case] = {}

    def combinations(self) -> list[dict[str, float]]:
        paths = [path for path, _, _ in self.enumerated]
        return [dict(zip(paths, values)) for values in itertools.product(*[lv for _, _, lv in self.enumerated])]

    def solve(self, extra: Sequence[Row] = (), progress: Progress | None = None) -> DesignResult:
        """The best design over every combination, under the responses' limits and the ``extra`` rows.
        ``progress``: called at every IPOPT iteration and as each combination ends (:mod:`.progress`)."""
        started = time.perf_counter()
        objective = self.settings.objective
        rows = [_looser(Row("response", r.kpi, r.min, r.max), extra) for r in self.spec.responses]
        rows = [r for r in rows if r.min is not None or r.max is not None] + list(extra)
        found = []
        combinations = self.combinations()
        for j, levels in enumerate(combinations):
            key = tuple(levels.values())
            if key not in self._cases:
                self._cases[key] = _Case(self, levels)
            label = f"combination {j + 1} of {len(combinations)} ({_levels_text(levels)})" if levels else "design"
            c = self._cases[key].solve(objective, rows, part(progress, label, j, len(combinations)))
            found.append(c)
            close_part(
                progress, label, j, len(combinations), c.status, c.iterations, c.objective, c.violation, objective.kpi
            )
        status, message, best = _pick(found, objective)
        seconds = time.perf_counter() - started
        return DesignResult(status, message, objective, best, found, self.factor_units, self.kpi_units, seconds)


def optimize_design(
    spec: ScenarioSpec,
    base: Mapping[str, Any],
    objective: KpiObjective | Mapping[str, Any] | None = None,
    settings: OptimizeSettings | None = None,
    progress: Progress | None = None,
) -> DesignResult:
    """The factor values of ``spec`` that optimise ``objective`` (default: the spec's ``optimize.objective``)
    under every response's limits (see the module docstring). Raises SpecError for a problem it cannot pose.
    ``progress``: called at every IPOPT iteration and as each combination ends (:mod:`.progress`); if it raises,
    the run stops and the exception propagates."""
    settings = settings or spec.optimize
    if objective is not None:
        objective = KpiObjective.model_validate(objective if isinstance(objective, KpiObjective) else dict(objective))
        settings = (
            settings.model_copy(update={"objective": objective}) if settings else OptimizeSettings(objective=objective)
        )
    return DesignProblem(spec, base, settings).solve(progress=progress)


def _factors(spec: ScenarioSpec, process: Process) -> tuple[list[Variable], list[tuple[str, int, list[float]]]]:
    """The continuous factors as variables, and the enumerated ones as (path, index, levels)."""
    model = process.model
    errors: list[tuple[str, str]] = []
    variables: list[Variable] = []
    enumerated: list[tuple[str, int, list[float]]] = []
    for i, f in enumerate(spec.factors):
        where = f"factors.{i}"
        section, _, name = f.path.partition(".")
        if f.levels is not None or f.integer:
            lo, hi = f.bounds()
            values = f.levels if f.levels is not None else range(int(lo), int(hi) + 1)
            enumerated.append((f.path, i, list(dict.fromkeys(float(v) for v in values))))
            continue
        if section == "recipe" or "." in name:
            errors.append((f"{where}.path", "a recipe value has no sensitivity here: give it levels to enumerate it"))
            continue
        if section == "parameters" and name in process.operating:
            why = "is an operating parameter: it shapes the recipe, so CVODES has no sensitivity for it"
            errors.append((f"{where}.path", f"'{name}' {why}; give it levels (or integer: true) to enumerate it"))
            continue
        if section == "initial":
            var = model.state(name)
            if var.size != 1:
                errors.append((f"{where}.path", f"'{name}' is a vector state: only a scalar initial state can vary"))
                continue
            units, bounds = var.units, var.bounds
        else:
            declared = model.parameters[name] if section == "parameters" else model.inputs[name]
            units, bounds = declared.units, declared.bounds
        try:
            offset = to_magnitude({"value": 0.0, "units": f.units}, units) if f.units else 0.0
            scale = to_magnitude({"value": 1.0, "units": f.units}, units) - offset if f.units else 1.0
        except UnitsError as exc:
            errors.append((f"{where}.units", str(exc)))
            continue
        low, high = f.bounds()
        ends = sorted((scale * low + offset, scale * high + offset))
        if ends[0] < bounds[0] or ends[1] > bounds[1]:
            shown = f"[{ends[0]:g}, {ends[1]:g}] {units} leaves the bounds [{bounds[0]:g}, {bounds[1]:g}] of '{name}'"
            errors.append((f"{where}.range", shown))
            continue
        variables.append(Variable(f.path, section, name, low, high, f.units or units, scale, offset))
    if errors:
        raise SpecError("scenario", errors)
    return variables, enumerated


class _Case:
    """One combination of the enumerated factors: its trajectory of the continuous factors, and KPIs at s."""

    def __init__(self, problem: DesignProblem, levels: dict[str, float]):
        self.problem, self.levels = problem, levels
        self.process, self.variables = problem.process, problem.variables
        self.needed = list(problem.fields)
        self.message = ""
        self._last: tuple[bytes, bool, np.ndarray, np.ndarray | None] | None = None
        self.trajectory: Trajectory | None = None
        try:
            self.sim = parse_spec(problem.context.document(levels), "scenario")
            if self.variables:
                self._build()
        except (SpecError, ParameterError) as exc:
            raise SpecError("scenario", [(_field(problem, f), m) for f, m in exc.errors]) from None

    def _build(self) -> None:
        sim, process, model = self.sim, self.process, self.process.model
        calibrated = calibrated_parameters(process, sim.version) if sim.version not in (None, model.version) else {}
        params, self.operating, recipe, times = process._setup(
            calibrated | sim.parameters, sim.recipe, sim.time_values()
        )
        free = [v.name for v in self.variables if v.section == "parameters"]
        errors = []
        if model.nz:
            errors.append(("base.model", "gradient-based design takes ODE models (no algebraic states)"))
        if recipe is not None and recipe.conditional:
            errors.append(("base.recipe", "a recipe with phase transitions ends each run at its own time"))
        if free and sim.recipe is None and type(process).recipe_for is not Process.recipe_for:
            errors.append(("factors", f"the recipe of process '{process.name}' is made from its parameters"))
        if errors:
            raise SpecError("scenario", errors)
        self.options = sim.solver if sim.solver is not None else (process.solver_options or SolverOptions())
        self.trajectory = trajectory(
            model,
            times,
            parameters=params,
            inputs=sim.inputs,
            recipe=recipe,
            initial=sim.initial or None,
            options=self.options,
            free_parameters=free,
            free_states=[v.name for v in self.variables if v.section == "initial"],
            free_inputs=[v.name for v in self.variables if v.section == "inputs"],
        )
        self.p0 = model.parameter_vector(params)
        self.phases = recipe.phase_at(self.trajectory.times) if recipe is not None and recipe.phases else None
        rank = {"parameters": 0, "initial": 1, "inputs": 2}  # θ stacks them in this order
        self.order = sorted(range(len(self.variables)), key=lambda j: rank[self.variables[j].section])

    # -- KPIs ---------------------------------------------------------------------------------------------
    def kpis(self, s: np.ndarray, gradient: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """The needed KPIs at s (NaN where the run fails) and, with ``gradient``, dKPI/ds (KPIs × variables)."""
        s = np.asarray(s, dtype=float)
        key = s.tobytes()
        if self._last is None or self._last[0] != key or (gradient and not self._last[1]):
            self._last = (key, gradient, *self._evaluate(s, gradient))
        return self._last[2], self._last[3]

    def _evaluate(self, s: np.ndarray, gradient: bool) -> tuple[np.ndarray, np.ndarray | None]:
        if self.trajectory is None:
            return self._run(), None
        failed = np.full(len(self.needed), np.nan), (np.full((len(self.needed), len(s)), np.nan) if gradient else None)
        theta = np.array([self.variables[j].theta(s[j]) for j in self.order])
        try:
            values, J = self.trajectory.jacobian(list(theta)) if gradient else (self.trajectory(list(theta)), None)
        except TrajectoryError as exc:
            self.message = str(exc)
            return failed
        model = self.process.model
        status, why = bounds_status(model, self.trajectory.times, values[:, : model.nx], self.options)
        if status != "ok" or not np.all(np.isfinite(values)):
            self.message = why or "non-finite state or output"
            return failed
        k = self._post(theta, values)
        if J is None:
            return k, None
        G = np.empty((len(self.needed), len(s)))
        for col, j in enumerate(self.order):
            d_theta = np.zeros(len(theta))
            d_theta[col] = self.variables[j].slope() * STEP
            d_values = J[:, :, col] * d_theta[col]
            G[:, j] = (
                self._post(theta + d_theta, values + d_values) - self._post(theta - d_theta, values - d_values)
            ) / (2 * STEP)
        return k, G

    def _post(self, theta: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The process's KPIs of trajectory values at θ: the cheap post-processing, no integration."""
        tr, model = self.trajectory, self.process.model
        assert tr is not None and tr.inputs is not None
        p, u = self.p0.copy(), tr.inputs.copy()
        for col, j in enumerate(self.order):
            v = self.variables[j]
            if v.section == "parameters":
                p[model.parameters.names.index(v.name)] = theta[col]
            elif v.section == "inputs":
                u[:, model.inputs.names.index(v.name)] = theta[col]
        n, nx = len(tr.times), model.nx
        params = dict(zip(model.parameters.names, p.tolist()))
        result = SimulationResult(
            model, "ok", "", tr.times, values[:, :nx], np.zeros((n, 0)), values[:, nx:], u, params, self.phases
        )
        with np.errstate(all="ignore"):
            return self._pick(self.process.kpis(result, self.operating))

    def _run(self) -> np.ndarray:
        """No continuous factor: one plain run of the combination's spec."""
        try:
            run = catalogue.run_spec(self.sim)
        except ParameterError as exc:
            raise SpecError("scenario", [(_field(self.problem, f), m) for f, m in exc.errors]) from None
        if not run.ok:
            self.message = run.result.message
            return np.full(len(self.needed), np.nan)
        return self._pick(run.kpis)

    def _pick(self, kpis: Mapping[str, Any]) -> np.ndarray:
        missing = [k for k in self.needed if k not in kpis]
        if missing:
            name = self.process.name
            raise SpecError("scenario", [(self.problem.fields[k], _no_kpi(name, k, kpis)) for k in missing])
        return np.array([_number(kpis[k]) for k in self.needed])

    # -- solving ------------------------------------------------------------------------------------------
    def solve(
        self, objective: KpiObjective, rows: Sequence[Row], progress: Progress | None = None
    ) -> CombinationResult:
        self.message = ""
        settings, nlp = self.problem.settings, Nlp(self, objective, rows)
        if not self.variables:
            return self._report(nlp, np.zeros(0), None, 0, "enumerated")
        x, info, iterations = nlp.run(np.full(len(self.variables), 0.5), settings, progress)
        status = IPOPT_STATUS.get(int(info["status"]), str(info["status"]))
        if int(info["status"]) in SOLVED:
            return self._report(nlp, x, info, iterations, status)
        elastic = Elastic(nlp)
        xe, info_e, more = elastic.run(
            np.concatenate([x, elastic.slacks(x)]), settings, progress, "least-infeasible point", iterations
        )
        xe, iterations = xe[: len(x)], iterations + more
        k = self.kpis(xe)[0]
        if int(info_e["status"]) not in SOLVED or not np.all(np.isfinite(k)):
            return self._report(nlp, x, None, iterations, status, f"IPOPT stopped: {status}")
        if sum(nlp.violations(k)) > FEASIBILITY_TOLERANCE:
            return self._report(nlp, xe, None, iterations, status, binding=elastic.binding(info_e, xe))
        # a feasible point: start again from there
        x, info, more = nlp.run(xe, settings, progress, "restart", iterations)
        status = IPOPT_STATUS.get(int(info["status"]), str(info["status"]))
        solved = int(info["status"]) in SOLVED
        return self._report(
            nlp, x, info if solved else None, iterations + more, status, "" if solved else f"IPOPT stopped: {status}"
        )

    def _report(
        self,
        nlp: Nlp,
        x: np.ndarray,
        info: Mapping[str, Any] | None,
        iterations: int,
        solver_status: str,
        failure: str = "",
        binding: list[str] | None = None,
    ) -> CombinationResult:
        """The combination's result at x: optimal with prices (``info`` given), infeasible or failed."""
        k = self.kpis(x)[0]
        values = self.levels | {v.path: v.value(float(x[j])) for j, v in enumerate(self.variables)}
        constraints = nlp.report(x, k, info)
        violation = sum(nlp.violations(k))
        if failure:
            status, message = (
                "failed",
                failure + (f" (a failed run on the way: {self.message})" if self.message else ""),
            )
        elif not np.all(np.isfinite(k)):
            status, message = "failed", self.message or "a KPI is not finite at this point"
        elif info is not None or violation <= FEASIBILITY_TOLERANCE:
            status, message = "optimal", ""
        else:
            named = (
                binding
                if binding is not None
                else [
                    constraint_text(c.name, c.side, c.bound, c.units, -c.violation)
                    for c in constraints
                    if c.violation > 0
                ]
            )
            status, message = "infeasible", "cannot be met together: " + "; ".join(named)
        return CombinationResult(
            levels=dict(self.levels),
            status=status,
            message=message,
            objective=finite_or_none(k[nlp.io]),
            factors={f.path: values[f.path] for f in self.problem.spec.factors},
            kpis={name: finite_or_none(v) for name, v in zip(self.needed, k)},
            constraints=constraints,
            iterations=iterations,
            solver_status=solver_status,
            violation=violation,
        )


def _looser(row: Row, extra: Sequence[Row]) -> Row:
    """``row`` without the limits an ``extra`` row on the same KPI holds as tight or tighter (a Pareto point's ε
    equal to a response's limit would split one price between two copies of the same constraint)."""
    low, high = row.min, row.max
    for e in extra:
        if e.kpi == row.kpi:
            low = None if low is not None and e.min is not None and e.min >= low else low
            high = None if high is not None and e.max is not None and e.max <= high else high
    return Row(row.kind, row.kpi, low, high)


def _pick(found: list[CombinationResult], objective: KpiObjective) -> tuple[str, str, CombinationResult | None]:
    """The overall status, message and best combination (see the module docstring)."""
    sign = -1.0 if objective.sense == "maximize" else 1.0
    optimal = [c for c in found if c.status == "optimal" and c.objective is not None]
    failed = [c for c in found if c.status == "failed"]
    noted = "; ".join(f"{_levels(c)}: {c.message}" for c in failed)
    if optimal:
        best = min(optimal, key=lambda c: sign * float(c.objective or 0.0))
        return "optimal", (f"the best of the combinations that solved; failed: {noted}" if failed else ""), best
    if failed or not found:
        return "failed", f"no combination solved; failed: {noted}", None
    least = min(found, key=lambda c: c.violation)
    return "infeasible", least.message + (f" (least infeasible at {_levels(least)})" if least.levels else ""), least


def _levels(c: CombinationResult) -> str:
    return _levels_text(c.levels) or "the base spec"


def _levels_text(levels: Mapping[str, float]) -> str:
    return ", ".join(f"{p}={v:g}" for p, v in levels.items())


def _field(problem: DesignProblem, name: str) -> str:
    """A field of a combination's spec error, as a field of the scenario spec."""
    paths = [f.path for f in problem.spec.factors]
    for path, i, _ in problem.enumerated:
        if name in (path, path.split(".", 1)[1]):
            return f"factors.{i}.levels"
    for v in problem.variables:
        if name.startswith("free_") and name.endswith(f".{v.name}"):
            return f"factors.{paths.index(v.path)}.path"
    return name if name.startswith(("factors", "base")) else f"base.{name}"


def _no_kpi(model: str, kpi: str, known: Mapping[str, Any]) -> str:
    return f"model '{model}' reports no KPI '{kpi}'; it reports {', '.join(sorted(known)) or 'none'}"


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
