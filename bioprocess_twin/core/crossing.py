"""Crossing piecewise-constant input steps inside one CVODES run, for trajectories (``core.trajectory``).

A plant record logs an input hourly, so a batch carries hundreds of small input steps. The
restarting path (``core.integration``) starts CVODES afresh at each of them. Here the steps are
crossed instead: one integrator takes the inputs as a piecewise-constant control (``ca.integrator``
with ``u``, one column per interval), stops at each step and goes on with its step history.

* **Where it still restarts.** At state events (a recipe that sets or adds to states) and at input
  steps whose change exceeds ``restart_above`` times the larger of the values before and after
  (the start of a feed from zero is a change of 1). A feed starting from zero makes the slope of a
  state that was zero (the fed volume) jump: its error weight is 1/atol, so the history-based error
  estimate after the step fails seven times before CVODES has dropped to order 1, and the run stops
  with ``CV_ERR_FAILURE``. A fresh start at order 1 crosses it.
* **A few integrators for every grid.** Each call covers n intervals in normalised time s = 0, 1, ..., n;
  the control is the inputs and the interval's real length (dx/ds = length f), so an integrator depends
  only on n. A segment is cut into calls of ``block`` intervals and, for the rest, powers of two below
  it (no padding: an interval of length 0 would be a step of its own), so a handful of integrators
  and one compiled right-hand side serve every batch and grid.
* **Compiled right-hand side.** With a C compiler the right-hand side, its Jacobian and its forward
  derivatives (one direction and as many as the trajectory's unknowns) are compiled once per machine
  (``core.compiled``), else CasADi's virtual machine evaluates the SX equations.

A crossing that fails falls back to the restarting path (``Trajectory`` does that per call).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import casadi as ca
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .compiled import compile_functions
from .integration import Plan, SolverOptions, apply_jumps
from .model import Model
from .parameters import ParameterError


class StepOptions(BaseModel):
    """How a trajectory passes the input steps of its plan."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    input_steps: Literal["cross", "restart"] = Field(
        "cross",
        description="'cross' = one CVODES run crosses small input steps; 'restart' = a fresh run at every step",
    )
    restart_above: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="an input step restarts CVODES when |after - before| > this x max(|before|, |after|)",
    )
    block: int = Field(32, ge=1, le=1024, description="intervals per integrator call when crossing")
    compiled: bool = Field(True, description="compile the right-hand side to C when a compiler is found")


def step_options(value) -> StepOptions:
    """``value`` (None, a StepOptions or a mapping) as StepOptions; errors name the field ``steps.<name>``."""
    if value is None:
        return StepOptions()
    if isinstance(value, StepOptions):
        return value
    try:
        return StepOptions.model_validate(value)
    except ValidationError as exc:
        raise ParameterError(
            [("steps." + ".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()], "step options"
        ) from None


def restart_points(plan: Plan, restart_above: float) -> list[int]:
    """Grid indices where CVODES starts afresh: the ends, state events and large input steps."""
    last = len(plan.grid) - 1
    cuts = {0, last, *[i for i in plan.jumps if 0 < i < last]}
    U = plan.U
    if U.size > 1:
        before, after = U[:, :-1], U[:, 1:]
        big = np.abs(after - before) > restart_above * np.maximum(np.abs(before), np.abs(after))
        cuts |= {int(i) + 1 for i in np.flatnonzero(np.any(big, axis=0))}
    return sorted(cuts)


def crossed_states(
    model: Model,
    plan: Plan,
    x0: ca.MX,
    P: ca.MX,
    inputs_at: Callable[[int], Any],
    options: SolverOptions,
    steps: StepOptions,
    n_fwd: int,
) -> list:
    """The state columns (MX) at every grid point of ``plan`` from ``x0``, crossing small input steps."""
    cols = [x0]
    cuts = restart_points(plan, steps.restart_above)
    for a, b in zip(cuts[:-1], cuts[1:]):
        k0 = a
        for n in block_lengths(b - a, steps.block):
            F = block_integrator(model, options, n, steps.compiled, n_fwd)
            controls = [ca.vertcat(inputs_at(i), plan.grid[i + 1] - plan.grid[i]) for i in range(k0, k0 + n)]
            xf = F(x0=ca.vertcat(cols[-1], plan.grid[k0]), p=P, u=ca.horzcat(*controls))["xf"]
            cols.extend(xf[: model.nx, j] for j in range(n))
            k0 += n
        if b in plan.jumps:
            cols[-1] = apply_jumps(model, cols[-1], plan.jumps[b])
    return cols


def block_lengths(n: int, block: int) -> list[int]:
    """``n`` intervals as calls of ``block`` intervals, then powers of two below ``block``, largest first."""
    sizes = sorted({block, *[2**k for k in range(block.bit_length()) if 2**k < block]}, reverse=True)
    out = []
    for size in sizes:
        out += [size] * (n // size)
        n %= size
    return out


def block_integrator(model: Model, options: SolverOptions, n: int, compiled: bool, n_fwd: int) -> ca.Function:
    """The cached CVODES integrator over s in [0, n] with outputs at s = 1, ..., n."""
    extra = repr(sorted(options.casadi_options.items()))
    key = ("cross", n, compiled, n_fwd, options.rtol, options.atol, options.max_num_steps, extra)
    cache = model.integrator_cache
    if key not in cache:
        daes: dict[int, dict | None] = model.__dict__.setdefault("_crossing_daes", {})
        if compiled and n_fwd not in daes:
            daes[n_fwd] = _compiled_dae(model, n_fwd)
        dae = daes[n_fwd] if compiled else None
        opts = {
            "abstol": options.atol,
            "reltol": options.rtol,
            "max_num_steps": options.max_num_steps,
            "show_eval_warnings": False,
        } | options.casadi_options
        try:
            cache[key] = ca.integrator(
                f"{model.name}_cross_{n}",
                "cvodes",
                dae if dae is not None else _dae(model),
                0.0,
                [float(k) for k in range(1, n + 1)],
                opts,
            )
        except RuntimeError as exc:
            raise ParameterError([("solver.casadi_options", str(exc).splitlines()[-1])]) from None
    return cache[key]


def _symbols(model: Model):
    """x = [states, clock], p, u = [inputs, interval length] and dx/ds = [length f, length]."""
    nx, npar, nu = model.nx, model.np, model.nu
    x, p, u = ca.SX.sym("x", nx + 1), ca.SX.sym("p", npar), ca.SX.sym("u", nu + 1)
    ode, _ = model.dae(x[nx], x[:nx], ca.SX(0, 1), p, u[:nu])
    span = u[nu]
    return x, p, u, ca.vertcat(span * ode, span)


def _dae(model: Model) -> dict:
    x, p, u, rhs = _symbols(model)
    return {"x": x, "p": p, "u": u, "ode": rhs}


def _compiled_dae(model: Model, n_fwd: int) -> dict | None:
    """The DAE calling the right-hand side compiled to C (with its Jacobian and forward derivatives in one
    direction and in ``n_fwd``), or None without a compiler."""
    x, p, u, rhs = _symbols(model)
    f = ca.Function("rhs", [x, p, u], [rhs])
    derived = [f.jacobian(), f.forward(1)] + ([f.forward(n_fwd)] if n_fwd > 1 else [])
    version = "".join(c if c.isalnum() else "_" for c in model.version)
    lib = compile_functions(f"{model.name}_v{version}_cross{n_fwd}", [f, *[_own(g) for g in derived]])
    if lib is None:
        return None
    X, Pm, U = ca.MX.sym("x", model.nx + 1), ca.MX.sym("p", model.np), ca.MX.sym("u", model.nu + 1)
    return {"x": X, "p": Pm, "u": U, "ode": lib["rhs"](X, Pm, U)}


def _own(g: ca.Function) -> ca.Function:
    """``g`` as a Function of its own (CasADi's External finds a derivative by its name: jac_rhs, fwd<n>_rhs)."""
    ins = g.sx_in()
    return ca.Function(g.name(), ins, g.call(ins), g.name_in(), g.name_out())
