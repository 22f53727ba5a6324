"""Simulate a :class:`~.model.Model` with SUNDIALS (CVODES for ODEs, IDAS for DAEs).

Inputs are piecewise constant. The grid, chunks and integrators come from ``core.integration``;
every chunk starts CVODES afresh. A failed solve returns ``status="failed"`` with the
solver's message and the trajectory up to the failure, never NaNs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import casadi as ca
import numpy as np

from .integration import (
    Plan,
    SolverOptions,
    apply_jumps,
    call_chunk,
    check_event_states,
    chunk_shape,
    consistent_z,
    integrator,
    jumps_outside,
    plan_run,
)
from .limits import check_deadline
from .model import Model
from .parameters import ParameterError
from .recipe import Recipe
from .results import SimulationResult
from .trajectory import trajectory

__all__ = ["SolverOptions", "simulate"]


def simulate(
    model: Model,
    times: Sequence[float],
    *,
    parameters: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    recipe: Recipe | None = None,
    initial: Mapping[str, Any] | None = None,
    options: SolverOptions | None = None,
    sensitivities: bool | Sequence[str] = False,
    progress: Callable[[float, str], None] | None = None,
    check_bounds: bool = True,
) -> SimulationResult:
    """Run ``model`` and report its states, algebraics, outputs and inputs at ``times``.

    ``inputs`` maps an input name to a constant or to ``[[time, value], ...]`` steps.
    ``sensitivities`` is True for all parameters or a list of parameter names; the forward
    sensitivities of states and outputs are then in ``result.sensitivities``.
    ``progress(fraction, message)`` is called after each chunk of the run. A state that leaves its
    physical bounds fails the run (:func:`bounds_status`) unless ``check_bounds`` is False (the phase
    runner checks the part of a phase before its transition itself).
    """
    options = options or SolverOptions()
    if recipe is not None and recipe.conditional:
        raise ParameterError(
            [
                (
                    f"recipe.phases.{ph.name}.until",
                    "a phase with a transition runs with "
                    "core.phased.run_phases (Process.run does that for a recipe without events)",
                )
                for ph in recipe.phases
                if ph.until is not None
            ]
        )
    p = model.parameter_vector(parameters)
    plan = plan_run(model, times, inputs, recipe)
    x0, z0 = model.initial_state(p, initial, tolerances=(options.atol, options.rtol))
    check_event_states(model, plan)
    x0 = apply_jumps(model, x0, plan.jumps.get(0, []))
    outside = jumps_outside(model, x0, plan.jumps.get(0, []), plan.grid[0])
    if outside:
        raise ParameterError([("recipe", outside)], f"model '{model.name}'")
    xs, zs, status, message, stats = _integrate(model, plan, x0, z0, p, options, progress)
    n_ok = len(xs)
    out_idx = plan.output_index[plan.output_index < n_ok]
    X = np.array([xs[i] for i in out_idx]).reshape(len(out_idx), model.nx)
    Z = np.array([zs[i] for i in out_idx]).reshape(len(out_idx), model.nz)
    t_out = plan.grid[out_idx]
    U = plan.u_at[:, out_idx].T
    Y = _outputs(model, t_out, X, Z, p, U)
    if status == "ok" and not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        bad = int(np.argmax(~np.isfinite(np.hstack([X, Y])).any(axis=1)))
        status, message = "failed", f"non-finite state or output at t={t_out[bad]:g} {model.time_units}"
        keep = slice(0, bad)
        t_out, X, Z, U, Y = t_out[keep], X[keep], Z[keep], U[keep], Y[keep]
    if status == "ok" and check_bounds:
        status, message = bounds_status(model, t_out, X, options)
    sens = {}
    if sensitivities and status == "ok":
        names = model.parameters.names if sensitivities is True else list(sensitivities)
        try:
            sens = _sensitivities(model, times, inputs, recipe, p, initial, options, names)
        except RuntimeError as exc:  # the sensitivity integrator failed where the nominal one did not
            check_deadline()
            status, message = "failed", "sensitivities: " + _solver_message(exc, t_out[0], t_out[-1], model.time_units)
    phases = recipe.phase_at(t_out) if recipe is not None and recipe.phases else None
    return SimulationResult(
        model=model,
        status=status,
        message=message,
        t=t_out,
        x=X,
        z=Z,
        y=Y,
        u=U,
        parameters=dict(zip(model.parameters.names, p.tolist())),
        phases=phases,
        stats=stats,
        sensitivities=sens,
        warnings=plan.warnings,
        options=options.model_dump(),
    )


def _integrate(model: Model, plan: Plan, x0, z0, p, options: SolverOptions, progress=None):
    plugin = options.plugin(model)
    grid = plan.grid
    z0 = consistent_z(model, grid[0], x0, z0, p, plan.u_at[:, 0])
    xs, zs = [x0], [z0]
    stats: dict[str, Any] = {"solver": plugin, "chunks": 0, "intervals": len(grid) - 1}
    for a, b in plan.chunks:
        shape, span = chunk_shape(grid, a, b)
        F = integrator(model, shape, plugin, options)
        try:
            xf, zf = call_chunk(F, xs[-1], grid[a], zs[-1], p, plan.U[:, a], span)
        except RuntimeError as exc:
            check_deadline()
            return _locate_failure(model, plan, xs, zs, p, options, a, b, exc, stats)
        xf, zf = np.array(xf), np.array(zf)
        for k in range(b - a):
            xs.append(xf[: model.nx, k])
            zs.append(zf[:, k] if model.nz else np.zeros(0))
        xs[-1] = apply_jumps(model, xs[-1], plan.jumps.get(b, []))
        if b in plan.jumps:
            margin = model.bound_margin(np.array(xs), options.atol, options.rtol)
            outside = jumps_outside(model, xs[-1], plan.jumps[b], grid[b], margin)
            if outside:
                return xs[:-1], zs[:-1], "failed", outside, stats
        if b in plan.jumps and model.nz:
            zs[-1] = consistent_z(model, grid[b], xs[-1], zs[-1], p, plan.u_at[:, b])
        stats["chunks"] += 1
        if progress is not None:
            progress((grid[b] - grid[0]) / (grid[-1] - grid[0]), f"t = {grid[b]:g} {model.time_units}")
        if not np.all(np.isfinite(xf)):
            break
    return xs, zs, "ok", "", stats


def bounds_status(model: Model, t: np.ndarray, X: np.ndarray, options: SolverOptions) -> tuple[str, str]:
    """("failed", why) when a state leaves its physical bounds by more than the solver's tolerance."""
    if not len(t):
        return "ok", ""
    margin = model.bound_margin(X, options.atol, options.rtol)
    rows = np.flatnonzero(((X < model.state_lower - margin) | (X > model.state_upper + margin)).any(axis=1))
    if not rows.size:
        return "ok", ""
    k = int(rows[0])
    reasons = "; ".join(reason for _, reason in model.states_outside(X[k], margin))
    return "failed", f"a state left its physical bounds at t={t[k]:g} {model.time_units}: {reasons}"


def _locate_failure(model, plan, xs, zs, p, options, a, b, exc, stats):
    """Re-run the failed chunk one interval at a time, keeping every point that did solve."""
    F1 = integrator(model, (1.0,), options.plugin(model), options)
    grid = plan.grid
    for k in range(a, b):
        try:
            xf, zf = call_chunk(F1, xs[-1], grid[k], zs[-1], p, plan.U[:, k], grid[k + 1] - grid[k])
        except RuntimeError as exc_k:
            return xs, zs, "failed", _solver_message(exc_k, grid[k], grid[k + 1], model.time_units), stats
        xs.append(np.array(xf)[: model.nx, 0])
        zs.append(np.array(zf)[:, 0] if model.nz else np.zeros(0))
    return xs, zs, "failed", _solver_message(exc, grid[a], grid[b], model.time_units), stats


def _solver_message(exc: Exception, t_a: float, t_b: float, units: str) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if any(k in ln for k in ("CV_", "IDA_", "flag", "failed", "Failed", "error"))]
    text = (useful or lines or ["unknown solver error"])[-1]
    return f"solver failed between t={t_a:g} and t={t_b:g} {units}: {text}"


def _outputs(model: Model, t, X, Z, p, U) -> np.ndarray:
    n = len(t)
    if n == 0 or model.ny == 0:
        return np.zeros((n, model.ny))
    if n not in model.output_maps:  # building the map costs more than evaluating it
        model.output_maps[n] = model.output_function.map(n)
    f = model.output_maps[n]
    y = f(
        np.atleast_2d(t),
        X.T,
        Z.T if model.nz else ca.DM(0, n),
        np.tile(p[:, None], (1, n)),
        U.T if model.nu else ca.DM(0, n),
    )
    return np.array(y).reshape(model.ny, n).T


# -- sensitivities -----------------------------------------------------------------------------
def _sensitivities(model: Model, times, inputs, recipe, p_num, initial, options, names) -> dict[str, np.ndarray]:
    """d(states, outputs)/d(parameter) at the output times, one (n_times, nx + ny) array per parameter."""
    unknown = [n for n in names if n not in model.parameters]
    if unknown:
        raise ParameterError([(n, "unknown parameter for sensitivities") for n in unknown])
    given = dict(zip(model.parameters.names, p_num))
    traj = trajectory(
        model,
        times,
        parameters=given,
        inputs=inputs,
        recipe=recipe,
        initial=initial,
        options=options,
        free_parameters=names,
    )
    _, jac = traj.jacobian()
    return {name: jac[:, :, j] for j, name in enumerate(names)}
