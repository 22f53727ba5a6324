"""Dynamic optimisation of a time-varying operating policy by direct multiple shooting.

The horizon [0, T] is cut into N equal intervals; each control (a model input) is constant on each
interval, between its bounds. The states at the N + 1 interval boundaries are NLP variables too, and
continuity ties them: x_{k+1} = F(x_k, u_k), where F integrates the model over one interval with CVODES
or IDAS (Bock & Plitt 1984, Proc. 9th IFAC World Congress). IPOPT (Wächter & Biegler 2006, Math.
Program. 106:25; linear solver MUMPS) solves the NLP with exact derivatives: CasADi differentiates
through the integrator with its forward sensitivities, and the Hessian of the Lagrangian comes from
second-order sensitivities (``hessian="exact"``) or from L-BFGS updates (``"limited-memory"``).
``quasi_newton_iterations`` runs L-BFGS first and then the exact Hessian from where it stopped: on a
multimodal problem the two steps may find a better local optimum than either alone. Every node state
keeps its physical bounds.

Two things keep the NLP well posed on models with states of very different sizes (a CHO culture holds
mg of antigen, Gcells and mL of feed): each node state is an NLP variable divided by its largest size along
the first guess (simulated once), and each path and final row is divided by its bound; the continuity rows are
in the node scales too. Multipliers and values are reported in the problem's units. And only the states the
objective and the constraints depend on, directly or through the equations of other needed states, are
nodes of the NLP: the others (cumulative amounts, say) are integrated after the solve, interval by interval
from the nodes.

The problem is data (:class:`PolicyProblem`): the objective is one state or output at the end of the
horizon, maximised or minimised; path constraints bound a state or output at every boundary
(``DO >= 30``); final constraints bound one at the end (``V <= V_max``). The result gives the optimum, the
policy, the trajectory at the boundaries, each constraint's activity and Lagrange multiplier (the price of
the constraint: the change of the objective per unit of the bound), the solver status and the iterations;
an infeasible problem names the constraints that are still violated. A ``progress`` callable hears of every IPOPT
iteration (nlpsol's ``iteration_callback``; :mod:`.progress`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

import casadi as ca
import numpy as np
from pydantic import Field, model_validator

from ..core.integration import SolverOptions, call_chunk, integrator
from ..core.model import Model
from ..core.parameters import ParameterError
from ..core.spec import StrictModel
from .progress import OptimisationProgress, Progress, Relay
from .spec import Limits

#: a bound counts as active within this share of the control's range, or of the constraint's scale (or within
#: the solver's tolerance, if that is looser)
ACTIVE_TOLERANCE = 1e-6
#: a constraint counts as violated beyond this share of its bound (at least of 1)
FEASIBILITY_TOLERANCE = 1e-6
#: a state's scale is at least this many absolute tolerances (below them its value is integration noise)
SCALE_FLOOR = 1e3
#: the progress callable of the optimisations run inside :func:`reporting` that are given none
_REPORTING: ContextVar[Progress | None] = ContextVar("policy_progress", default=None)


class ControlBounds(StrictModel):
    min: float
    max: float
    initial: float | None = None

    @model_validator(mode="after")
    def _order(self):
        if not self.min < self.max:
            raise ValueError("min must be below max")
        if self.initial is not None and not self.min <= self.initial <= self.max:
            raise ValueError("initial: must lie between min and max")
        return self


class Bound(Limits):
    """A state or output (``name``) kept at or above ``min`` and/or at or below ``max``."""

    name: str


class Objective(StrictModel):
    name: str
    sense: Literal["maximize", "minimize"] = "maximize"


class PolicyProblem(StrictModel):
    horizon: float = Field(gt=0)
    intervals: int = Field(20, ge=1, le=2000)
    controls: dict[str, ControlBounds] = Field(min_length=1)
    objective: Objective
    path: list[Bound] = Field(default_factory=list)
    final: list[Bound] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, Any] = Field(default_factory=dict)
    rtol: float = Field(1e-8, gt=0, lt=1)
    atol: float = Field(1e-10, gt=0)
    max_iterations: int = Field(3000, ge=1, le=100_000)
    tolerance: float = Field(1e-8, gt=0, lt=1)
    #: "exact": second derivatives through the integrator; "limited-memory": a quasi-Newton (L-BFGS) Hessian
    hessian: Literal["exact", "limited-memory"] = "exact"
    #: first run this many IPOPT iterations with the quasi-Newton Hessian, then solve from there (0: none); on a
    #: multimodal problem the two steps may reach a better local optimum than either alone
    quasi_newton_iterations: int = Field(0, ge=0, le=100_000)


@dataclass
class ConstraintReport:
    """One constraint: where it applies, its bound, whether and where it is active, its multiplier as a price
    (the gain in the objective, in its own sense, per unit the bound is relaxed: positive when relaxing helps)
    and its largest violation."""

    kind: str  # "path", "final" or "control"
    name: str
    side: str  # "min" or "max"
    bound: float
    active_at: list[float]  # times (model units) where it is active
    multiplier: float  # the largest over those times
    violation: float  # the largest violation, 0 when met


@dataclass
class PolicyResult:
    status: str  # "optimal", "infeasible" or "failed"
    message: str
    objective: float
    times: list[float]  # interval boundaries
    controls: dict[str, list[float]]  # one value per interval
    states: dict[str, list[float]]  # at the boundaries
    outputs: dict[str, list[float]]  # at the boundaries (the control of the interval that starts there)
    constraints: list[ConstraintReport] = field(default_factory=list)
    iterations: int = 0
    solver_status: str = ""
    seconds: float = 0.0

    def active(self) -> list[ConstraintReport]:
        return [c for c in self.constraints if c.active_at]

    def to_dict(self) -> dict[str, Any]:
        out = dict(vars(self))
        out["constraints"] = [vars(c) for c in self.constraints]
        return out


def _scalar_names(model: Model) -> tuple[list[str], list[str]]:
    states = [v.name for v in model.states if v.size == 1]
    outputs = [v.name for v in model.outputs]
    return states, outputs


def _check(model: Model, problem: PolicyProblem) -> None:
    states, outputs = _scalar_names(model)
    known = set(states) | set(outputs)
    errors = [
        (f"controls.{name}", f"model '{model.name}' has no input '{name}'")
        for name in problem.controls
        if name not in model.inputs
    ]
    errors += [
        (f"{where}.{i}.name", f"model '{model.name}' has no scalar state or output '{b.name}'")
        for where, bounds in (("path", problem.path), ("final", problem.final))
        for i, b in enumerate(bounds)
        if b.name not in known
    ]
    if problem.objective.name not in known:
        errors.append(
            ("objective.name", f"model '{model.name}' has no scalar state or output '{problem.objective.name}'")
        )
    if model.nz:
        errors.append(("model", "multiple shooting here takes ODE models (no algebraic states)"))
    if errors:
        raise ParameterError(errors, "policy problem")


def optimize_policy(
    model: Model,
    problem: PolicyProblem,
    start: Mapping[str, Sequence[float]] | None = None,
    progress: Progress | None = None,
) -> PolicyResult:
    """The best piecewise-constant policy of ``problem.controls`` for ``model`` (see the module docstring).

    ``start``: a first policy per control, on any number of equal intervals (a coarser solution, say); it is
    resampled onto the problem's intervals. Without it every control starts at its ``initial`` value.
    ``progress``: called at every IPOPT iteration (:mod:`.progress`); if it raises, IPOPT stops there and the
    exception propagates. Without it, the one of an enclosing :func:`reporting` block, if any."""
    _check(model, problem)
    progress = progress if progress is not None else _REPORTING.get()
    started = time.perf_counter()
    N, T = problem.intervals, problem.horizon
    dt = T / N
    p = model.parameter_vector(problem.parameters)
    fixed = model.inputs.resolve(problem.inputs, f"model '{model.name}' inputs")
    x0, _ = model.initial_state(p)
    names = list(model.inputs.names)
    controlled = [names.index(c) for c in problem.controls]
    base_u = np.array([fixed[n] for n in names], dtype=float)
    options = SolverOptions(rtol=problem.rtol, atol=problem.atol)
    states, outputs = _scalar_names(model)
    keep = _needed_states(model, problem)
    nk, nc = len(keep), len(controlled)
    F = _shooting_integrator(model, keep, options)
    guess = _first_policy(problem, start)
    x_guess = _simulate(F, model, keep, x0, p, base_u, controlled, guess, dt)

    # node states scaled by their largest size along the first guess (the controls keep the units the problem gives)
    sx = np.maximum(np.max(np.abs(x_guess), axis=0), SCALE_FLOOR * problem.atol)
    Xs = [ca.MX.sym(f"x{k}", nk) for k in range(N + 1)]
    U = [ca.MX.sym(f"u{k}", nc) for k in range(N)]
    X = [x * sx for x in Xs]
    w = ca.vertcat(*Xs, *U)
    w0 = np.concatenate([(x_guess / sx).ravel(), guess.ravel()])
    embed = _embedding(model, keep, x0)

    def input_vector(k: int):
        return ca.vertcat(*[U[k][controlled.index(j)] if j in controlled else base_u[j] for j in range(len(names))])

    def value(name: str, k: int):
        """A state or output at boundary k (with the control of the interval that starts there)."""
        if name in states:
            return X[k][keep.index(model.state(name).slice.start)]
        y = model.output_function(k * dt, embed(X[k]), ca.MX(0, 1), p, input_vector(min(k, N - 1)))
        return y[outputs.index(name)]

    continuity = [
        (call_chunk(F, X[k], k * dt, ca.MX(0, 1), p, input_vector(k), dt)[0][:nk] - X[k + 1]) / sx for k in range(N)
    ]
    rows, tags = [], []
    for kind, bounds, nodes in (("path", problem.path, range(N + 1)), ("final", problem.final, [N])):
        for b in bounds:
            for k in nodes:
                rows.append(value(b.name, k))
                tags.append((kind, b, k * dt))
    sign = -1.0 if problem.objective.sense == "maximize" else 1.0
    J = value(problem.objective.name, N)
    at_guess = ca.Function("at_guess", [w], [ca.vertcat(*rows) if rows else ca.MX(0, 1)])(w0)
    sg = _constraint_scales(tags, np.array(at_guess).ravel())
    lbg = [0.0] * (N * nk) + [(-math.inf if b.min is None else b.min) / s for (_, b, _), s in zip(tags, sg)]
    ubg = [0.0] * (N * nk) + [(math.inf if b.max is None else b.max) / s for (_, b, _), s in zip(tags, sg)]
    g = ca.vertcat(*continuity, *[r / s for r, s in zip(rows, sg)])
    lower, upper = model.state_lower[keep], model.state_upper[keep]
    c_min, c_max = [c.min for c in problem.controls.values()], [c.max for c in problem.controls.values()]
    lbw = np.concatenate([x0[keep] / sx] + [lower / sx] * N + [c_min] * N)
    ubw = np.concatenate([x0[keep] / sx] + [upper / sx] * N + [c_max] * N)

    nlp = {"x": w, "f": sign * J, "g": g}
    limits = {"lbx": lbw, "ubx": ubw, "lbg": np.array(lbg), "ubg": np.array(ubg)}
    iterations = 0
    relay = Relay(progress)

    def monitor(stage: str) -> _Monitor | None:
        return None if progress is None else _Monitor(relay, stage, iterations, sign, problem.objective.name, limits)

    if problem.quasi_newton_iterations:
        watch = monitor("quasi-Newton warm-up")
        first = _solver(nlp, problem, "limited-memory", problem.quasi_newton_iterations, watch)
        w0 = np.array(first(x0=w0, **limits)["x"]).ravel()
        relay.reraise()
        iterations += int(first.stats().get("iter_count", 0))
    watch = monitor(f"{problem.hessian} Hessian" if problem.quasi_newton_iterations else "policy")
    solver = _solver(nlp, problem, problem.hessian, problem.max_iterations, watch)
    sol = solver(x0=w0, **limits)
    relay.reraise()
    stats = solver.stats()
    iterations += int(stats.get("iter_count", 0))
    # back to the problem's units: the multiplier of a row divided by s is the row's multiplier over s
    wopt = np.array(sol["x"]).ravel()
    gopt = np.array(sol["g"]).ravel()[N * nk :] * sg
    lam_g = np.array(sol["lam_g"]).ravel()[N * nk :] / sg
    lam_u = np.array(sol["lam_x"]).ravel()[(N + 1) * nk :].reshape(N, nc)

    us = np.clip(wopt[(N + 1) * nk :].reshape(N, nc), c_min, c_max)  # IPOPT may pass a bound by its tolerance
    nodes = wopt[: (N + 1) * nk].reshape(N + 1, nk) * sx
    xs = _all_states(model, keep, nodes, x0, p, base_u, controlled, us, dt, options)
    share = max(ACTIVE_TOLERANCE, problem.tolerance)
    report = _constraints(problem, tags, gopt, lam_g, share)
    report += _control_bounds(problem, us, lam_u, dt, share)
    solver_status = str(stats.get("return_status", ""))
    violated = [c for c in report if c.violation > FEASIBILITY_TOLERANCE * max(1.0, abs(c.bound))]
    if stats.get("success") and not violated:
        status, message = "optimal", ""
    elif solver_status == "Infeasible_Problem_Detected" or (stats.get("success") and violated):
        status = "infeasible"
        message = (
            "cannot be met together: "
            + "; ".join(
                f"{c.kind} {c.name} {'>=' if c.side == 'min' else '<='} {c.bound:g} (short by {c.violation:.3g})"
                for c in violated
            )
            if violated
            else f"IPOPT found no policy that meets every constraint ({solver_status})"
            + _gap(model, keep, np.array(sol["g"]).ravel()[: N * nk].reshape(N, nk), dt)
        )
    else:  # an iteration limit or a numerical failure says nothing of feasibility
        status, message = "failed", f"IPOPT stopped: {solver_status}"
        if violated:
            message += "; where it stopped, " + "; ".join(
                f"{c.kind} {c.name} is short by {c.violation:.3g}" for c in violated
            )
    output_fn = model.output_function
    out_rows = [
        np.array(output_fn(k * dt, xs[k], [], p, _full(base_u, controlled, us[min(k, N - 1)]))).ravel()
        for k in range(N + 1)
    ]
    return PolicyResult(
        status=status,
        message=message,
        objective=float(sign * float(sol["f"])),
        times=[k * dt for k in range(N + 1)],
        controls={name: us[:, j].tolist() for j, name in enumerate(problem.controls)},
        states={n: xs[:, model.state(n).slice.start].tolist() for n in states},
        outputs={n: [float(r[i]) for r in out_rows] for i, n in enumerate(outputs)},
        constraints=report,
        iterations=iterations,
        solver_status=solver_status,
        seconds=time.perf_counter() - started,
    )


@contextmanager
def reporting(progress: Progress | None) -> Iterator[None]:
    """Within the block, :func:`optimize_policy` calls that get no ``progress`` report to this one (the policies
    of a Pareto front, which are solved by :func:`.pareto.pareto_front`)."""
    token = _REPORTING.set(progress)
    try:
        yield
    finally:
        _REPORTING.reset(token)


def _needed_states(model: Model, problem: PolicyProblem) -> list[int]:
    """Indices of the state elements the objective and constraints depend on, directly or through the equations
    of other needed states; the others (cumulative amounts, say) are left out of the NLP."""
    t = ca.SX.sym("t")
    x = ca.vertcat(*[ca.SX.sym(f"x{i}") for i in range(model.nx)])
    p, u = ca.SX.sym("p", model.np), ca.SX.sym("u", model.nu)
    ode, _ = model.dae(t, x, ca.SX(0, 1), p, u)
    y = model.output_function(t, x, ca.SX(0, 1), p, u)
    position = {x[i].name(): i for i in range(model.nx)}

    def used(expr) -> set[int]:  # symbols that appear, also inside conditions (a Jacobian would miss those)
        return {position[v.name()] for v in ca.symvar(expr) if v.name() in position}

    _, outputs = _scalar_names(model)
    todo: set[int] = set()
    for name in [problem.objective.name, *(b.name for b in (*problem.path, *problem.final))]:
        todo |= used(y[outputs.index(name)]) if name in outputs else {model.state(name).slice.start}
    needed: set[int] = set()
    while todo:
        i = todo.pop()
        needed.add(i)
        todo |= used(ode[i]) - needed
    return sorted(needed)


def _shooting_integrator(model: Model, keep: list[int], options: SolverOptions) -> ca.Function:
    """The integrator over one interval (normalised time, see ``core.integration.integrator``) of the needed
    states: the core's own when every state is needed, else one of the needed states alone, with the other
    states fixed (their equations do not reach the needed ones)."""
    plugin = options.plugin(model)
    if len(keep) == model.nx:
        return integrator(model, (1.0,), plugin, options)
    key = ("policy", tuple(keep), plugin, options.rtol, options.atol, options.max_num_steps)
    if key not in model.integrator_cache:
        x, clock, span = ca.SX.sym("x", len(keep)), ca.SX.sym("clock"), ca.SX.sym("span")
        p, u = ca.SX.sym("p", model.np), ca.SX.sym("u", model.nu)
        ode, _ = model.dae(clock, _embedding(model, keep, np.zeros(model.nx))(x), ca.SX(0, 1), p, u)
        dae = {"x": ca.vertcat(x, clock), "p": ca.vertcat(p, u, span), "ode": ca.vertcat(span * ode[keep], span)}
        opts = {
            "abstol": options.atol,
            "reltol": options.rtol,
            "max_num_steps": options.max_num_steps,
            "show_eval_warnings": False,
        }
        model.integrator_cache[key] = ca.integrator(f"{model.name}_policy_{len(keep)}", plugin, dae, 0.0, [1.0], opts)
    return model.integrator_cache[key]


def _embedding(model: Model, keep: list[int], rest: np.ndarray):
    """x_needed -> the full state vector, the other elements at ``rest``."""
    if len(keep) == model.nx:
        return lambda x: x
    select = ca.DM(ca.Sparsity.triplet(model.nx, len(keep), keep, list(range(len(keep)))), 1.0)
    fill = np.array(rest, dtype=float)
    fill[keep] = 0.0
    return lambda x: ca.mtimes(select, x) + fill


def _gap(model: Model, keep: list[int], gaps: np.ndarray, dt: float) -> str:
    """Where the intervals join worst at IPOPT's last point (``gaps``: continuity rows, in state scales)."""
    if not gaps.size or not np.max(np.abs(gaps)) > FEASIBILITY_TOLERANCE:
        return ""
    k, j = np.unravel_index(int(np.argmax(np.abs(gaps))), gaps.shape)
    name = next(v.name for v in model.states if v.offset <= keep[j] < v.offset + v.size)
    where = f"{(k + 1) * dt:g} {model.time_units}"
    return (
        f"; at its last point the intervals do not join: {name} jumps by {abs(gaps[k, j]):.3g} of its scale at {where}"
    )


def _size(value: float, default: float) -> float:
    return abs(value) if math.isfinite(value) and value != 0.0 else default


def _constraint_scales(tags, at_guess: np.ndarray) -> np.ndarray:
    """One scale per bound: its limit, or where that is 0, the bounded value's size along the first guess."""
    out = np.ones(len(tags))
    for b in {id(t[1]): t[1] for t in tags}.values():
        rows = [i for i, t in enumerate(tags) if t[1] is b]
        limit = max(abs(v) for v in (b.min, b.max) if v is not None)
        out[rows] = limit if limit > 0 else _size(float(np.max(np.abs(at_guess[rows]))), 1.0)
    return out


class _Monitor(ca.Callback):
    """nlpsol's ``iteration_callback``: at each IPOPT iteration, a report (the objective in the problem's sense,
    the largest violation of the rows of g from their bounds, in the NLP's scaling) to ``relay``; it asks IPOPT to
    stop (returns 1) once the relay holds an error. IPOPT calls it twice at the iteration where its restoration
    phase starts (the same point): both calls carry that iteration's number."""

    def __init__(self, relay: Relay, stage: str, offset: int, sign: float, name: str, limits: Mapping[str, Any]):
        ca.Callback.__init__(self)
        self.relay, self.stage, self.sign, self.objective_name = relay, stage, sign, name
        self.lbg, self.ubg = np.asarray(limits["lbg"], dtype=float), np.asarray(limits["ubg"], dtype=float)
        self.sizes = {"x": len(limits["lbx"]), "f": 1, "g": len(self.lbg), "lam_x": len(limits["lbx"])}
        self.sizes |= {"lam_g": len(self.lbg), "lam_p": 0}
        self.at, self.last = offset - 1, np.zeros(0)
        self.construct("policy_progress", {})

    def get_n_in(self) -> int:
        return ca.nlpsol_n_out()

    def get_n_out(self) -> int:
        return 1

    def get_name_in(self, i: int) -> str:
        return ca.nlpsol_out(i)

    def get_name_out(self, i: int) -> str:
        return "stop"

    def get_sparsity_in(self, i: int) -> ca.Sparsity:
        return ca.Sparsity.dense(self.sizes[ca.nlpsol_out(i)], 1)

    def eval(self, arg):
        try:
            x, g = np.array(arg[0], dtype=float).ravel(), np.array(arg[2], dtype=float).ravel()
            if not np.array_equal(x, self.last):
                self.at, self.last = self.at + 1, x
            gap = np.maximum(np.maximum(self.lbg - g, g - self.ubg), 0.0)
            violation = float(np.max(gap, initial=0.0))
            report = OptimisationProgress(
                self.stage, self.at, self.sign * float(arg[1]), violation, None, self.objective_name
            )
            go = self.relay(report)
        except BaseException as exc:  # noqa: BLE001 - a signal (the wall-clock limit) while here: stop, raise later
            self.relay.error = self.relay.error or exc
            go = False
        return [0 if go else 1]


def _solver(
    nlp: dict, problem: PolicyProblem, hessian: str, iterations: int, monitor: _Monitor | None = None
) -> ca.Function:
    opts: dict[str, Any] = {
        "ipopt.print_level": 0,
        "print_time": False,
        "ipopt.sb": "yes",
        "show_eval_warnings": False,
        "ipopt.linear_solver": "mumps",
        "ipopt.max_iter": iterations,
        "ipopt.tol": problem.tolerance,
        "ipopt.hessian_approximation": hessian,
    }
    if monitor is not None:
        opts["iteration_callback"] = monitor
    return ca.nlpsol("policy", "ipopt", nlp, opts)


def _full(base_u: np.ndarray, controlled: list[int], values) -> np.ndarray:
    u = base_u.copy()
    u[controlled] = np.asarray(values, dtype=float)
    return u


def _first_policy(problem: PolicyProblem, start: Mapping[str, Sequence[float]] | None) -> np.ndarray:
    """(N, controls) first iterate: ``start`` resampled onto the N intervals, else each control's initial value."""
    N = problem.intervals
    columns = []
    for name, c in problem.controls.items():
        given = None if start is None else start.get(name)
        if given is None or not len(given):
            columns.append(np.full(N, c.initial if c.initial is not None else 0.5 * (c.min + c.max)))
            continue
        values = np.asarray(given, dtype=float)
        at = np.minimum((np.arange(N) + 0.5) / N * len(values), len(values) - 1).astype(int)
        columns.append(np.clip(values[at], c.min, c.max))
    return np.column_stack(columns)


def _simulate(F, model, keep, x0, p, base_u, controlled, policy, dt) -> np.ndarray:
    """(N + 1, needed states) at the boundaries under ``policy``, by one pass of the integrator (a consistent
    first iterate)."""
    lower, upper = model.state_lower[keep], model.state_upper[keep]
    x = np.asarray(x0, dtype=float)[keep]
    nodes = [x]
    for k in range(len(policy)):
        xf, _ = call_chunk(F, x, k * dt, np.zeros(0), p, _full(base_u, controlled, policy[k]), dt)
        x = np.clip(np.array(xf).ravel()[: len(keep)], lower, upper)
        nodes.append(x)
    return np.array(nodes)


def _all_states(model, keep, nodes, x0, p, base_u, controlled, us, dt, options) -> np.ndarray:
    """(N + 1, all states) at the boundaries: the needed ones are the NLP's nodes; the others follow from them,
    interval by interval, with the whole model (NaN from where the integrator fails)."""
    if len(keep) == model.nx:
        return nodes
    F = integrator(model, (1.0,), options.plugin(model), options)
    x = np.asarray(x0, dtype=float).copy()
    out = [x]
    for k in range(len(us)):
        x = x.copy()
        x[keep] = nodes[k]
        try:
            xf, _ = call_chunk(F, x, k * dt, np.zeros(0), p, _full(base_u, controlled, us[k]), dt)
            x = np.array(xf).ravel()[: model.nx]
        except RuntimeError:
            x = np.full(model.nx, math.nan)
        x[keep] = nodes[k + 1]
        out.append(x)
    return np.array(out)


def _constraints(problem, tags, g, lam_g, share: float) -> list[ConstraintReport]:
    """Activity, multiplier and violation of every path and final constraint, one report per bound side."""
    out = []
    for kind, bounds in (("path", problem.path), ("final", problem.final)):
        for b in bounds:
            rows = [i for i, t in enumerate(tags) if t is not None and t[0] == kind and t[1] is b]
            for side, limit in (("min", b.min), ("max", b.max)):
                if limit is None:
                    continue
                scale = share * max(1.0, abs(limit))
                gap = [(g[i] - limit) if side == "min" else (limit - g[i]) for i in rows]
                active = [i for i, d in zip(rows, gap, strict=True) if d <= scale]
                # IPOPT minimises f = ±objective: its multiplier of an active upper bound (> 0) is how much f falls
                # per unit the bound is raised, of a lower bound (< 0) how much f rises per unit it is raised;
                # either way the gain per unit of relaxation is (the sign of the side) times the multiplier
                prices = [lam_g[i] * (1 if side == "max" else -1) for i in active]
                out.append(
                    ConstraintReport(
                        kind,
                        b.name,
                        side,
                        limit,
                        [float(tags[i][2]) for i in active],
                        float(max(prices, key=abs)) if prices else 0.0,
                        float(max([0.0, *(-d for d in gap)])),
                    )
                )
    return out


def _control_bounds(problem, us, lam, dt, share: float) -> list[ConstraintReport]:
    out = []
    for j, (name, c) in enumerate(problem.controls.items()):
        span = c.max - c.min
        for side, limit in (("min", c.min), ("max", c.max)):
            active = [k for k in range(len(us)) if abs(us[k, j] - limit) <= share * span]
            prices = [lam[k, j] * (1 if side == "max" else -1) for k in active]
            out.append(
                ConstraintReport(
                    "control",
                    name,
                    side,
                    limit,
                    [k * dt for k in active],
                    float(max(prices, key=abs)) if prices else 0.0,
                    0.0,
                )
            )
    return out
