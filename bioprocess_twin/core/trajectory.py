"""A simulation as a differentiable CasADi function of chosen parameters and initial states.

:func:`trajectory` builds, once, the map theta -> (states and outputs at the output times), where
theta stacks the free parameters and the free initial states. Calling it integrates with CVODES
or IDAS; :meth:`Trajectory.jacobian` returns the values together with their exact forward
sensitivities (CasADi differentiates through the SUNDIALS integrators). Estimation builds one per
batch and calls it every iteration, so the graph and the integrators are made only once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import casadi as ca
import numpy as np

from .crossing import StepOptions, crossed_states, step_options
from .integration import (
    SolverOptions,
    apply_jumps,
    call_chunk,
    check_event_states,
    chunk_shape,
    consistent_z_symbolic,
    integrator,
    normalised_dae,
    plan_run,
    rhs_form,
)
from .model import Model
from .parameters import ParameterError
from .recipe import Recipe


class TrajectoryError(RuntimeError):
    """The integrator failed at this theta (the solver's message is the text)."""


@dataclass
class Trajectory:
    model: Model
    times: np.ndarray  # output times
    columns: list[str]  # state / output names, one column each (vector states: name[i])
    names: list[str]  # entries of theta: free parameters, then free initial states
    theta0: np.ndarray  # theta at the values the trajectory was built with
    _values: ca.Function = field(repr=False)
    _jacobian: ca.Function | None = field(default=None, repr=False)
    #: (n_times, nu) inputs in effect at the output times, as planned (a free input at its value in theta0)
    inputs: np.ndarray | None = None
    #: builds the same trajectory on the restarting path, used when a crossing run fails (``core.crossing``)
    restarting: Callable[[], Trajectory] | None = field(default=None, repr=False)
    #: calls that failed crossing the input steps and were answered by the restarting path
    fallbacks: int = 0
    _restarted: Trajectory | None = field(default=None, repr=False)

    @property
    def function(self) -> ca.Function:
        """theta -> the values, column by column (all times of the first column, then the next...)."""
        return self._values

    def __call__(self, theta: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
        """(n_times, n_columns) values at theta."""
        at = self.theta0 if theta is None else np.asarray(theta, dtype=float)
        try:
            out = self._values(at)
        except RuntimeError as exc:
            fallback = self._fallback()
            if fallback is None:
                raise TrajectoryError(last_line(exc)) from None
            return fallback(at)
        return np.array(out).reshape(len(self.columns), len(self.times)).T

    def jacobian(self, theta: Sequence[float] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Values (n_times, n_columns) and their derivatives (n_times, n_columns, n_theta) at theta."""
        at = self.theta0 if theta is None else np.asarray(theta, dtype=float)
        try:
            v, J = self.jacobian_function()(at)
        except RuntimeError as exc:
            fallback = self._fallback()
            if fallback is None:
                raise TrajectoryError(last_line(exc)) from None
            return fallback.jacobian(at)
        nt, nc = len(self.times), len(self.columns)
        values = np.array(v).reshape(nc, nt).T
        jac = np.array(J).reshape(nc, nt, len(self.names)).transpose(1, 0, 2)
        return values, jac

    def jacobian_function(self) -> ca.Function:
        """theta -> (values, their Jacobian), built on first use (build it before calling from threads)."""
        if self._jacobian is None:
            th = ca.MX.sym("theta", len(self.names))
            sym = self._values(th)
            self._jacobian = ca.Function("trajectory_jac", [th], [sym, ca.jacobian(sym, th)])
        return self._jacobian

    def _fallback(self) -> Trajectory | None:
        """The restarting trajectory (built on first use), or None on the restarting path."""
        if self.restarting is None:
            return None
        if self._restarted is None:
            self._restarted = self.restarting()
        self.fallbacks += 1
        return self._restarted


def last_line(exc: Exception) -> str:
    """The solver's message: the last line of a CasADi error."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else "integrator failed"


def trajectory(
    model: Model,
    times: Sequence[float],
    *,
    parameters: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    recipe: Recipe | None = None,
    initial: Mapping[str, Any] | None = None,
    options: SolverOptions | None = None,
    free_parameters: Sequence[str] = (),
    free_states: Sequence[str] = (),
    free_inputs: Sequence[str] = (),
    columns: Sequence[str] | None = None,
    derivatives: bool = True,
    steps: StepOptions | Mapping[str, Any] | None = None,
) -> Trajectory:
    """The states and outputs named in ``columns`` (default: all) at ``times`` as a CasADi function of
    the ``free_parameters``, the initial values of the ``free_states`` and the values of the
    ``free_inputs`` (inputs held constant over the whole run), stacked in that order. Other parameters,
    initial states and inputs keep the values given (or their defaults). Inputs and recipe as in
    ``simulate``. ``derivatives=False`` builds for values only (``core.ensemble``): the nominal
    right-hand side the options name, which need not carry parameter derivatives.

    ``steps`` (``core.crossing.StepOptions``) chooses how input steps are passed: None restarts CVODES at
    every step (as ``simulate``); ``input_steps='cross'`` crosses small steps in one run (ODE models), and a
    call that fails that way is answered by the restarting path."""
    given = dict(
        parameters=parameters,
        inputs=inputs,
        recipe=recipe,
        initial=initial,
        options=options,
        free_parameters=free_parameters,
        free_states=free_states,
        free_inputs=free_inputs,
        columns=columns,
        derivatives=derivatives,
    )
    crossing = steps is not None and step_options(steps).input_steps == "cross" and not model.nz
    options = options or SolverOptions()
    if derivatives:
        # CasADi's second-order correction of the augmented Newton matrix only changes how fast the corrector
        # converges, not the error control: off, the sensitivities agree within the integration tolerance and
        # cost about half (docs/benchmarks_calibration.md).
        options = options.model_copy(update={"rhs": _sensitivity_form(model, options)}).trusted(
            {"second_order_correction": False} | options.casadi_options
        )
    errors = [(f"free_parameters.{n}", "unknown parameter") for n in free_parameters if n not in model.parameters]
    errors += [(f"free_states.{n}", "unknown state") for n in free_states if n not in [v.name for v in model.states]]
    errors += [(f"free_inputs.{n}", "unknown input") for n in free_inputs if n not in model.inputs]
    if errors:
        raise ParameterError(errors, f"model '{model.name}'")
    p_num = model.parameter_vector(parameters)
    plan = plan_run(model, times, inputs, recipe)
    check_event_states(model, plan)
    rows = [model.inputs.names.index(n) for n in free_inputs]
    stepped = [n for n, r in zip(free_inputs, rows) if np.any(plan.u_at[r] != plan.u_at[r, 0])]
    if stepped:
        raise ParameterError(
            [
                (f"free_inputs.{n}", "changes during the run (steps or recipe): only a constant input can be free")
                for n in stepped
            ],
            f"model '{model.name}'",
        )
    x0_num, z0 = model.initial_state(p_num, initial)
    n_states = [model.state(n).size for n in free_states]
    theta = ca.MX.sym("theta", len(free_parameters) + sum(n_states) + len(free_inputs))
    P = ca.MX(ca.DM(p_num))
    for j, name in enumerate(free_parameters):
        P[model.parameters.names.index(name)] = theta[j]
    x0_sym, _ = model.initial_function(P)
    fixed = np.zeros(model.nx)
    for name in initial or {}:
        fixed[model.state(name).slice] = 1.0
    x = x0_sym * (1 - fixed) + x0_num * fixed
    k = len(free_parameters)
    theta0 = [p_num[model.parameters.names.index(n)] for n in free_parameters]
    for name, size in zip(free_states, n_states):
        sl = model.state(name).slice
        mask = np.zeros(model.nx)
        mask[sl] = 1.0
        x = x * (1 - mask) + ca.vertcat(ca.MX(sl.start, 1), theta[k : k + size], ca.MX(model.nx - sl.stop, 1))
        theta0.extend(np.atleast_1d(x0_num[sl]))
        k += size
    inputs_at = _inputs_at(plan.u_at, rows, theta[k:])
    theta0.extend(plan.u_at[r, 0] for r in rows)
    x = apply_jumps(model, x, plan.jumps.get(0, []))
    plugin = options.plugin(model)
    zsolve = lambda t, xx, zz, i: consistent_z_symbolic(model, t, xx, zz, P, inputs_at(i))  # noqa: E731
    cols, zcols = [x], [zsolve(plan.grid[0], x, z0, 0)]
    if crossing:
        cols = crossed_states(model, plan, x, P, inputs_at, options, step_options(steps), theta.numel())
    for a, b in [] if crossing else plan.chunks:
        shape, span = chunk_shape(plan.grid, a, b)
        F = integrator(model, shape, plugin, options)
        xf, zf = call_chunk(F, cols[-1], plan.grid[a], zcols[-1], P, inputs_at(a), span)
        cols.extend(xf[: model.nx, i] for i in range(b - a))
        zcols.extend(zf[:, i] if model.nz else ca.MX(0, 1) for i in range(b - a))
        if b in plan.jumps:
            cols[-1] = apply_jumps(model, cols[-1], plan.jumps[b])
            zcols[-1] = zsolve(plan.grid[b], cols[-1], zcols[-1], b)
    n = len(plan.output_index)
    X = ca.horzcat(*[cols[i] for i in plan.output_index])
    stacked, labels = X, _labels(model, "states")
    if model.ny:
        t_out = plan.grid[plan.output_index]
        U = ca.horzcat(*[inputs_at(i) for i in plan.output_index]) if rows else plan.u_at[:, plan.output_index]
        Zs = ca.horzcat(*[zcols[i] for i in plan.output_index]) if model.nz else ca.DM(0, n)
        Y = model.output_function.map(n)(
            np.atleast_2d(t_out), X, Zs, ca.repmat(P, 1, n), U if model.nu else ca.DM(0, n)
        )
        stacked, labels = ca.vertcat(X, Y), labels + _labels(model, "outputs")
    wanted = list(labels) if columns is None else list(columns)
    missing = [c for c in wanted if c not in labels]
    if missing:
        raise ParameterError(
            [(f"columns.{c}", "not a state or output of the model") for c in missing], f"model '{model.name}'"
        )
    rows = [labels.index(c) for c in wanted]
    values = ca.vec(stacked[rows, :].T)  # column-major: all times of column 0, then column 1...
    f = ca.Function("trajectory", [theta], [values])
    return Trajectory(
        model,
        np.asarray(times, dtype=float),
        wanted,
        list(free_parameters) + _expand(model, free_states) + list(free_inputs),
        np.asarray(theta0, dtype=float),
        f,
        inputs=plan.u_at[:, plan.output_index].T.copy(),
        restarting=(lambda: trajectory(model, times, **given)) if crossing else None,  # type: ignore[arg-type]
    )


def _inputs_at(u_at: np.ndarray, rows: Sequence[int], values: ca.MX):
    """Inputs in effect at grid point i: the plan's numbers, with the free inputs' rows taken from ``values``."""
    if not rows:
        return lambda i: u_at[:, i]

    def at(i: int):
        u = ca.MX(ca.DM(u_at[:, i]))
        for j, r in enumerate(rows):
            u[r] = values[j]
        return u

    return at


def _sensitivity_form(model: Model, options: SolverOptions) -> str:
    """The compiled form when the options ask for it (``auto`` for a structured model; ``compiled``, which for a
    model without a structured ODE compiles its declared equations) and a C compiler builds it (its library has
    forward derivatives), else the SX equations.

    Never the structured form in the virtual machine: its custom Jacobian has no parameter columns.
    """
    if rhs_form(model, options) != "compiled":
        return "symbolic"
    _, form = normalised_dae(model, "compiled", strict=options.rhs == "compiled")  # falls back to VM or symbolic
    return "compiled" if form == "compiled" else "symbolic"


def _labels(model: Model, kind: str) -> list[str]:
    return [c for v in getattr(model, kind) for c in v.columns()]


def _expand(model: Model, states: Sequence[str]) -> list[str]:
    out = []
    for name in states:
        size = model.state(name).size
        out += [f"{name}(0)"] if size == 1 else [f"{name}[{i}](0)" for i in range(size)]
    return out
