"""The integration machinery that simulation, trajectories and estimation share (public within the project).

:func:`plan_run` merges the output grid, the input changes and the recipe events into one grid
and splits it into chunks at input steps and state events. Each chunk is integrated in
normalised time s in [0, 1] with its length and inputs as constant parameters (:func:`integrator`),
so one CasADi integrator per relative output spacing serves every call: integrator construction
costs far more than a call. :func:`call_chunk` runs one chunk on numbers or CasADi symbols, which is
how ``core.trajectory`` differentiates through the same code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import casadi as ca
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from . import structured
from .model import Model
from .parameters import ParameterError
from .recipe import Event, Recipe

_CACHE_SIZE = 32
#: relative time tolerance: an input change within this fraction of max(1, |t|) of a grid point applies there
CHANGE_TIME_RTOL = 1e-12
#: relative spacing (of the time span) below which two grid points are merged into one
MERGE_SPACING_RTOL = 1e-10
#: smallest span used to scale MERGE_SPACING_RTOL (a zero span would merge nothing)
MIN_SPAN = 1e-300


#: allowed range of each solver setting: (lowest, highest, True if the highest itself is excluded)
TOLERANCE_RANGES = {"rtol": (1e-14, 1.0, True), "atol": (1e-30, 1e6, False), "max_num_steps": (1, 1e7, False)}


class SolverOptions(BaseModel):
    """The solver settings a spec may give: tolerances, step limits, the integrator and the right-hand side.

    An allow-list: a spec comes from anyone, and CasADi options can run a compiler (``jit``,
    ``compiler``, ``jit_options``) or load a plugin. Python callers that trust their own options add
    them with :meth:`trusted`.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    rtol: float = Field(1e-6, description="relative tolerance, in [1e-14, 1): below 1e-14 is below double precision")
    atol: float = Field(1e-8, description="absolute tolerance (in the states' units), in [1e-30, 1e6]")
    max_num_steps: int = Field(100_000, description="solver steps allowed per output interval, 1 to 1e7")
    method: Literal["auto", "cvodes", "idas"] = "auto"
    rhs: Literal["auto", "symbolic", "structured", "compiled"] = Field(
        "auto",
        description=(
            "right-hand side and Jacobian for the nominal integration: 'symbolic' = the declared equations with "
            "CasADi's AD Jacobian; 'structured' = the model's structured ODE (ModelBuilder.structured) in CasADi's "
            "virtual machine; 'compiled' = the same compiled to C (cached on disk), or for an ODE model without one "
            "its declared equations and their AD Jacobian compiled to C; 'auto' = compiled if the model "
            "has a structured ODE and a C compiler is found, else structured, else symbolic (and symbolic with the "
            "'jit' CasADi option). Forward sensitivities use the compiled form when 'auto' or 'compiled' finds it, "
            "else symbolic"
        ),
    )

    @field_validator("rtol", "atol", "max_num_steps")
    @classmethod
    def _within(cls, value, info):
        lo, hi, below = TOLERANCE_RANGES[info.field_name]
        if not (lo <= value < hi if below else lo <= value <= hi):
            raise ValueError(f"must be at least {lo:g} and {'below' if below else 'at most'} {hi:g}, got {value:g}")
        return value

    _casadi_options: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def casadi_options(self) -> dict[str, Any]:
        """Extra CasADi integrator options, set only from Python through :meth:`trusted`."""
        return self._casadi_options

    def trusted(self, casadi_options: dict[str, Any]) -> SolverOptions:
        """A copy with extra CasADi integrator options, e.g. ``{'jit': True, 'compiler': 'shell'}``.

        For options the calling code wrote itself: they can run a compiler, so no spec reaches here.
        """
        copy = self.model_copy()
        copy._casadi_options = dict(casadi_options)
        return copy

    def plugin(self, model: Model) -> str:
        if self.method == "auto":
            return "idas" if model.nz else "cvodes"
        if self.method == "cvodes" and model.nz:
            raise ParameterError([("solver.method", f"model '{model.name}' has algebraic states; use idas")])
        return self.method


@dataclass
class Plan:
    grid: np.ndarray  # merged time points
    U: np.ndarray  # (nu, K) inputs on each interval
    u_at: np.ndarray  # (nu, len(grid)) inputs in effect at each point (right-continuous)
    jumps: dict[int, list[Event]] = field(default_factory=dict)  # grid index -> state events
    output_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    warnings: list[str] = field(default_factory=list)

    @property
    def chunks(self) -> list[tuple[int, int]]:
        """Integrator calls: each starts CVODES afresh, at state jumps and where an input changes.

        CasADi's multi-interval integrator stops at a changed input but keeps its step history,
        which stiff transients after a feed or pressure step can fail on.
        """
        last = len(self.grid) - 1
        input_steps = (
            np.flatnonzero(np.any(self.U[:, 1:] != self.U[:, :-1], axis=0)) + 1
            if self.U.size
            else np.zeros(0, dtype=int)
        )
        cuts = sorted({0, last, *[i for i in self.jumps if 0 < i < last], *[int(i) for i in input_steps]})
        return list(zip(cuts[:-1], cuts[1:]))


# -- the run plan ----------------------------------------------------------------------------------
def plan_run(model: Model, times, inputs, recipe: Recipe | None) -> Plan:
    t = np.asarray(times, dtype=float).ravel()
    if t.size < 2 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ParameterError([("times", "needs at least two finite, strictly increasing values")])
    t0, tf = t[0], t[-1]
    warnings: list[str] = []
    changes: list[tuple[float, str, float]] = []  # (time, input, value)
    base = {}
    errors = []
    for name, value in (inputs or {}).items():
        if name not in model.inputs:
            errors.append((f"inputs.{name}", f"unknown input; known: {', '.join(model.inputs.names) or 'none'}"))
            continue
        spec = model.inputs[name]
        try:
            if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
                for k, step in enumerate(value):
                    when = _step_time(step)
                    if when is None:
                        raise ParameterError(
                            [(name, f"step {k} must be [time, value] with a finite time, got {step!r}")]
                        )
                    changes.append((when, name, spec.check(step[1])))
            else:
                base[name] = spec.check(value)
        except ParameterError as exc:
            errors.extend((f"inputs.{n}", m) for n, m in exc.errors)
    events = recipe.all_events() if recipe is not None else []
    for e in events:
        for name, value in e.inputs.items():
            where = f"recipe event '{e.name or e.time}' input {name}"
            if name not in model.inputs:
                errors.append((where, f"unknown input; known: {', '.join(model.inputs.names) or 'none'}"))
                continue
            try:
                changes.append((e.time, name, model.inputs[name].check(value)))
            except ParameterError as exc:
                errors.extend((where, m) for _, m in exc.errors)
    if errors:
        raise ParameterError(errors, f"model '{model.name}'")
    late = [e for e in events if e.time > tf] + [c for c in changes if c[0] > tf]
    if late:
        warnings.append(f"{len(late)} event(s)/input change(s) after the last output time {tf:g} were ignored")
    early = [c for c in changes if c[0] < t0] + [e for e in events if e.time < t0 and e.changes_states]
    if any(isinstance(e, Event) for e in early):
        raise ParameterError([("recipe", f"an event changes states before the first output time {t0:g}")])
    inner = [c[0] for c in changes if t0 < c[0] < tf] + [e.time for e in events if t0 <= e.time <= tf]
    grid = _merge(np.concatenate([t, inner]), tf - t0)
    defaults = model.inputs.defaults() | base
    order = model.inputs.names
    u_at = np.empty((model.nu, grid.size))
    changes.sort(key=lambda c: c[0])
    current, k = dict(defaults), 0
    for i, g in enumerate(grid):
        while k < len(changes) and changes[k][0] <= g + CHANGE_TIME_RTOL * max(1.0, abs(g)):
            current[changes[k][1]] = changes[k][2]
            k += 1
        u_at[:, i] = [current[n] for n in order]
    jumps: dict[int, list[Event]] = {}
    for e in events:
        if e.changes_states and t0 <= e.time <= tf:
            jumps.setdefault(int(np.argmin(np.abs(grid - e.time))), []).append(e)
    out_idx = np.array([int(np.argmin(np.abs(grid - ti))) for ti in t])
    return Plan(grid=grid, U=u_at[:, :-1], u_at=u_at, jumps=jumps, output_index=out_idx, warnings=warnings)


def _step_time(step) -> float | None:
    try:
        when = float(step[0]) if len(step) == 2 else None
    except (TypeError, ValueError):
        return None
    return when if when is not None and np.isfinite(when) else None


def _merge(points: np.ndarray, span: float) -> np.ndarray:
    pts = np.unique(points)
    keep = np.concatenate([[True], np.diff(pts) > MERGE_SPACING_RTOL * max(span, MIN_SPAN)])
    return pts[keep]


def check_event_states(model: Model, plan: Plan):
    errors = []
    for evs in plan.jumps.values():
        for e in evs:
            for kind, values in (("set_states", e.set_states), ("add_states", e.add_states)):
                for name, v in values.items():
                    where = f"recipe event '{e.name or e.time}' {kind}.{name}"
                    try:
                        var = model.state(name)
                    except KeyError as exc:
                        errors.append((where, exc.args[0]))
                        continue
                    given = np.atleast_1d(np.asarray(v, dtype=float))
                    if given.size not in (1, var.size):
                        errors.append((where, f"needs 1 or {var.size} values, got {given.size}"))
                        continue
                    lo, hi = var.bounds
                    if kind == "set_states" and np.any((given < lo) | (given > hi)):
                        errors.append((where, f"must lie within [{lo:g}, {hi:g}] {var.units}, its physical bounds"))
    if errors:
        raise ParameterError(errors, f"model '{model.name}'")


def apply_jumps(model: Model, x, events: list[Event]):
    """State events on a numeric or CasADi state vector: ``set_states`` replace, ``add_states`` add."""
    for e in events:
        for name, v in e.set_states.items():
            mask = _block(model, name, 1.0)
            x = x * (1 - mask) + _block(model, name, v)
        for name, v in e.add_states.items():
            x = x + _block(model, name, v)
    return x


def jumps_outside(model: Model, x: np.ndarray, events: list[Event], t: float, margin=0.0) -> str | None:
    """Why a state that ``events`` at ``t`` set or added to is out of its physical bounds (by more than
    ``margin``) in ``x``, or None."""
    changed = {name for e in events for name in (*e.set_states, *e.add_states)}
    if not changed:
        return None
    bad = [reason for name, reason in model.states_outside(x, margin) if name in changed]
    if not bad:
        return None
    names = ", ".join(e.name or "event" for e in events if e.changes_states)
    return f"after the state changes of {names} at t={t:g} {model.time_units}: {'; '.join(bad)}"


def _block(model: Model, name: str, value) -> np.ndarray:
    """A full-length state vector holding ``value`` in the block of state ``name``, zero elsewhere."""
    out = np.zeros(model.nx)
    out[model.state(name).slice] = np.asarray(value, dtype=float)
    return out


# -- integration -------------------------------------------------------------------------------
def integrator(model: Model, shape: Sequence[float], plugin: str, options: SolverOptions) -> ca.Function:
    """The cached integrator over normalised time s in [0, 1] with outputs at ``shape`` (ending at 1).

    A chunk of real length T is integrated as dx/ds = T f(t, x, z, p, u) with T and u constant, so
    the normalised equations are as smooth as the real ones; one integrator serves every chunk with
    the same relative output spacing, whatever its times, parameters or inputs.
    """
    shape = _shape(shape)
    extra = repr(sorted(options.casadi_options.items()))
    form = rhs_form(model, options)
    key = (shape, plugin, options.rtol, options.atol, options.max_num_steps, extra, form)
    cache = model.integrator_cache
    if key in cache:
        return cache[key]
    dae, form = normalised_dae(model, form, strict=options.rhs == "compiled")
    opts = {
        "abstol": options.atol,
        "reltol": options.rtol,
        "max_num_steps": options.max_num_steps,
        "show_eval_warnings": False,
    }
    if form != "symbolic":
        opts |= structured.solver_options()
    opts |= options.casadi_options
    name = f"{model.name}_{plugin}_{len(shape)}" + ("" if form == "symbolic" else f"_{form}")
    if options.casadi_options:
        name += "_" + hashlib.sha256(extra.encode()).hexdigest()[:8]
    try:
        F = ca.integrator(name, plugin, dae, 0.0, list(shape), opts)
    except RuntimeError as exc:
        raise ParameterError([("solver.casadi_options", str(exc).splitlines()[-1])]) from None
    if len(cache) >= _CACHE_SIZE:
        cache.pop(next(k for k in cache if k != "z_solver"))
    cache[key] = F
    return F


def rhs_form(model: Model, options: SolverOptions) -> str:
    """Which right-hand side the integrator uses (see ``SolverOptions.rhs``)."""
    if options.rhs == "auto":
        return "symbolic" if model.structured is None or "jit" in options.casadi_options else "compiled"
    if options.rhs == "structured" and model.structured is None:
        raise ParameterError([("solver.rhs", f"model '{model.name}' has no structured ODE; use 'symbolic'")])
    if options.rhs == "compiled" and model.nz:
        raise ParameterError([("solver.rhs", f"model '{model.name}' has algebraic states; use 'symbolic'")])
    return options.rhs


def normalised_dae(model: Model, form: str, strict: bool):
    """The normalised DAE (see :func:`integrator`) in ``form``; compiled falls back to structured unless ``strict``."""
    if form != "symbolic":
        dae = structured.oracle(model, compiled=form == "compiled")
        if dae is not None:
            return dae, form
        if strict:
            raise ParameterError([("solver.rhs", "no C compiler could build the model (set CC, or use 'structured')")])
        if model.structured is None:
            return normalised_dae(model, "symbolic", strict)
        return structured.oracle(model, compiled=False), "structured"
    x = ca.SX.sym("x", model.nx)
    clock = ca.SX.sym("clock")
    z = ca.SX.sym("z", model.nz)
    p = ca.SX.sym("p", model.np)
    u = ca.SX.sym("u", model.nu)
    span = ca.SX.sym("span")
    ode, alg = model.dae(clock, x, z, p, u)
    return {
        "x": ca.vertcat(x, clock),
        "z": z,
        "p": ca.vertcat(p, u, span),
        "ode": ca.vertcat(span * ode, span),
        "alg": alg,
    }, form


def _shape(points) -> tuple[float, ...]:
    """Relative output positions of a chunk, rounded so that equal spacings share an integrator."""
    s = tuple(float(f"{v:.12g}") for v in np.asarray(points, dtype=float))  # 12 significant digits
    if not s or s[-1] != 1.0 or any(b <= a for a, b in zip((0.0,) + s, s)):
        raise ValueError(f"integrator shape must increase to 1, got {s[:5]}...")
    return s


def chunk_shape(grid: np.ndarray, a: int, b: int) -> tuple[tuple[float, ...], float]:
    span = grid[b] - grid[a]
    return _shape((grid[a + 1 : b + 1] - grid[a]) / span), float(span)


def call_chunk(F: ca.Function, x, t, z, p, u, span):
    """One chunk from real time ``t``: p, constant inputs u and the chunk length are the parameters."""
    res = F(x0=_stack(x, t), z0=z, p=_stack(p, u, span))
    return res["xf"], res["zf"]


def _stack(*parts):
    """Column of numbers or CasADi symbols (NumPy is ~50x faster than ca.vertcat for numbers)."""
    if any(isinstance(v, (ca.MX, ca.SX, ca.DM)) for v in parts):
        return ca.vertcat(*parts)
    return np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in parts])


def _z_solver(model: Model) -> ca.Function:
    """Newton solve of 0 = alg(t, x, z, p, u) for z; differentiable by the implicit-function theorem."""
    if "z_solver" not in model.integrator_cache:
        zs, xs, ps, us, ts = (
            ca.SX.sym(n, k) for n, k in (("z", model.nz), ("x", model.nx), ("p", model.np), ("u", model.nu), ("t", 1))
        )
        g = ca.Function("g", [zs, ca.vertcat(ts, xs, ps, us)], [model.dae(ts, xs, zs, ps, us)[1]])
        model.integrator_cache["z_solver"] = ca.rootfinder(f"{model.name}_z0", "newton", g, {"error_on_fail": False})
    return model.integrator_cache["z_solver"]


def consistent_z(model: Model, t, x, z_guess, p, u):
    if not model.nz:
        return np.zeros(0)
    return np.array(_z_solver(model)(z_guess, np.concatenate([[t], x, p, u]))).ravel()


def consistent_z_symbolic(model: Model, t, x, z_guess, P, u):
    if not model.nz:
        return ca.MX(0, 1)
    return _z_solver(model)(z_guess, ca.vertcat(t, x, P, u))
