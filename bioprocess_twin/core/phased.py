"""Run phases with timed or conditional transitions one after another (``core.recipe.Phase``).

A phase sets inputs (and may set or add to states) when it starts, and ends after its
``duration`` or, earlier, when its ``until`` transition on a scalar state or output becomes true.
:func:`run_phases` integrates phase by phase; where a condition becomes true between two output
points, the crossing time is found by Brent's method on re-integrations from the last point
before it, so the phase ends at the crossing to within ``time_tol``, not at the next grid point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import brentq

from .model import Model
from .parameters import ParameterError
from .recipe import Phase, PhaseRecord
from .results import SimulationResult
from .simulation import SolverOptions, bounds_status, simulate

#: default ``time_tol``: a relative time tolerance, this fraction of max(1, |end of the phase's grid|)
TIME_RTOL = 1e-9


@dataclass
class PhasedResult:
    result: SimulationResult  # stitched over all phases; right-continuous at phase starts
    phases: list[PhaseRecord] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def end(self) -> float:
        return self.phases[-1].end if self.phases else float(self.result.t[0])

    def final_state(self) -> dict[str, np.ndarray | float]:
        x = self.result.x[-1]
        m = self.result.model
        return {v.name: (float(x[v.offset]) if v.size == 1 else x[v.slice].copy()) for v in m.states}


def run_phases(
    model: Model,
    phases: Sequence[Phase],
    *,
    parameters: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    initial: Mapping[str, Any] | None = None,
    start: float = 0.0,
    options: SolverOptions | None = None,
    time_tol: float | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> PhasedResult:
    """Run ``phases`` back to back from ``start``. Inputs carry over from phase to phase unless a
    phase sets them; ``inputs`` gives their values before the first phase."""
    if not phases:
        raise ParameterError([("phases", "needs at least one phase")])
    _check_phases(model, phases)
    current_inputs = dict(inputs or {})
    state: dict[str, Any] = dict(initial or {})
    t = float(start)
    pieces: list[SimulationResult] = []
    records: list[PhaseRecord] = []
    total = sum(p.duration for p in phases)
    done = 0.0
    for phase in phases:
        current_inputs.update(phase.inputs)
        state = _apply(model, parameters, state, phase)
        times = (t + np.linspace(0.0, phase.duration, phase.points + 1)).tolist()
        conditional = phase.until is not None
        res = simulate(
            model,
            times,
            parameters=parameters,
            inputs=current_inputs,
            initial=state,
            options=options,
            check_bounds=not conditional,  # only the part before the transition counts
        )
        ended_by = "duration"
        if res.ok and conditional:
            tol = time_tol if time_tol is not None else TIME_RTOL * max(1.0, abs(times[-1]))
            res, ended_by = _stop_at_condition(model, res, phase, parameters, current_inputs, options, tol)
            res.status, res.message = bounds_status(model, res.t, res.x, options or SolverOptions())
        res.phases = [phase.name] * len(res.t)
        pieces.append(res)
        end = float(res.t[-1]) if len(res.t) else t
        records.append(PhaseRecord(phase.name, t, end, ended_by if res.ok else "failed"))
        if not res.ok:
            break
        state = _state_dict(model, res.x[-1])
        t = end
        done += phase.duration
        if progress is not None:
            progress(done / total, f"phase {phase.name} ended at {end:g} {model.time_units} ({ended_by})")
        if ended_by in ("condition", "instant") and phase.until is not None and phase.until.then == "stop":
            break
    return PhasedResult(_stitch(pieces), records)


def _check_phases(model: Model, phases: Sequence[Phase]):
    errors = []
    names = [p.name for p in phases]
    errors += [("phases", f"phase name '{n}' is repeated") for n in sorted({n for n in names if names.count(n) > 1})]
    scalar = {v.name for v in model.states if v.size == 1} | {v.name for v in model.outputs}
    for p in phases:
        if p.until is not None and p.until.variable not in scalar:
            errors.append(
                (
                    f"phases.{p.name}.until.variable",
                    f"'{p.until.variable}' is not a scalar state or output of '{model.name}'; "
                    f"choose from {', '.join(sorted(scalar))}",
                )
            )
        for key in ("inputs", "set_states", "add_states"):
            known = model.inputs.names if key == "inputs" else [v.name for v in model.states]
            errors += [
                (f"phases.{p.name}.{key}.{k}", f"unknown name; known: {', '.join(known)}")
                for k in getattr(p, key)
                if k not in known
            ]
    if errors:
        raise ParameterError(errors, f"model '{model.name}' phases")


def _state_dict(model: Model, x: np.ndarray) -> dict[str, Any]:
    return {v.name: (float(x[v.offset]) if v.size == 1 else x[v.slice].copy()) for v in model.states}


def _apply(model: Model, parameters, state: dict[str, Any], phase: Phase) -> dict[str, Any]:
    if not (phase.set_states or phase.add_states):
        return state
    if set(state) != {v.name for v in model.states}:  # fill in the model's own initial values
        x0, _ = model.initial_state(model.parameter_vector(parameters), state)
        state = _state_dict(model, x0)
    new = dict(state) | {
        k: np.asarray(v, dtype=float) if isinstance(v, list) else float(v) for k, v in phase.set_states.items()
    }
    for k, v in phase.add_states.items():
        new[k] = new[k] + (np.asarray(v, dtype=float) if isinstance(v, list) else float(v))
    return new


def _values(res: SimulationResult, variable: str) -> np.ndarray:
    names = {v.name for v in res.model.outputs}
    return res.output(variable) if variable in names else res.state(variable)


def _stop_at_condition(model, res: SimulationResult, phase: Phase, parameters, inputs, options, tol):
    cond = phase.until
    assert cond is not None
    hits = np.flatnonzero(cond.holds(_values(res, cond.variable)))
    if hits.size == 0:
        return res, "duration"
    k = int(hits[0])
    if k == 0:
        return _rows(res, [0]), "instant"
    t0, t1 = float(res.t[k - 1]), float(res.t[k])
    x_prev = _state_dict(model, res.x[k - 1])
    g_prev = float(_values(res, cond.variable)[k - 1]) - cond.value

    def ahead(tau: float) -> SimulationResult:
        return simulate(model, [t0, t0 + tau], parameters=parameters, inputs=inputs, initial=x_prev, options=options)

    def g(tau: float) -> float:
        if tau <= 0:
            return g_prev
        return float(_values(ahead(tau), cond.variable)[-1]) - cond.value

    # the condition switches where g crosses 0; the re-integration over the whole interval may land a
    # hair on the other side of 0 than the grid value did, and then the grid point is the crossing
    try:
        tau = brentq(g, 0.0, t1 - t0, xtol=tol, rtol=4 * np.finfo(float).eps)
    except ValueError:
        tau = t1 - t0
    last = ahead(tau) if tau > 0 else _rows(res, [k - 1])
    head = _rows(res, list(range(k)))
    return _stitch([head, _rows(last, [len(last.t) - 1])], join="append"), "condition"


def _rows(res: SimulationResult, idx: list[int]) -> SimulationResult:
    return SimulationResult(
        model=res.model,
        status=res.status,
        message=res.message,
        t=res.t[idx],
        x=res.x[idx],
        z=res.z[idx],
        y=res.y[idx],
        u=res.u[idx],
        parameters=res.parameters,
        phases=None if res.phases is None else [res.phases[i] for i in idx],
        stats=res.stats,
        warnings=res.warnings,
        options=res.options,
    )


def _stitch(pieces: list[SimulationResult], join: Literal["right", "append"] = "right") -> SimulationResult:
    """Pieces back to back. With ``join="right"`` a piece's last row gives way to the next piece's first
    row at the same time (values right-continuous at phase starts, as in :func:`simulate`)."""
    keep = []
    for i, r in enumerate(pieces):
        n = len(r.t)
        nxt = pieces[i + 1] if i + 1 < len(pieces) else None
        if join == "right" and nxt is not None and n and len(nxt.t) and r.t[-1] == nxt.t[0]:
            n -= 1
        keep.append(_rows(r, list(range(n))))
    last = pieces[-1]

    def cat(a):
        return np.concatenate([getattr(r, a) for r in keep], axis=0)

    phases = None if any(r.phases is None for r in keep) else [name for r in keep for name in (r.phases or [])]
    stats = {"phases": [r.stats for r in pieces]}
    warnings = sorted({w for r in pieces for w in r.warnings})
    return SimulationResult(
        model=last.model,
        status=last.status,
        message=last.message,
        t=cat("t"),
        x=cat("x"),
        z=cat("z"),
        y=cat("y"),
        u=cat("u"),
        parameters=last.parameters,
        phases=phases,
        stats=stats,
        warnings=warnings,
        options=last.options,
    )


def schedule_phases(
    unit: str, planned: Sequence[tuple[str, float, bool]], phases: Sequence[Any] | None
) -> tuple[list[PhaseRecord], list[str]]:
    """Phase records back to back from 0 h, and the problems found.

    ``planned`` holds (name, duration h, computed). ``phases`` (Phase objects or dicts with
    ``name`` and ``duration`` in h) override: a timed phase takes the given duration; a computed
    phase (mixing, filtration, filling) keeps its computed length and the given duration is its
    maximum, so a longer computed phase is a problem that fails the batch.
    """
    known = [name for name, _, _ in planned]
    given: dict[str, float] = {}
    errors = []
    for p in phases or []:
        name = p.get("name") if isinstance(p, Mapping) else getattr(p, "name", None)
        duration = p.get("duration") if isinstance(p, Mapping) else getattr(p, "duration", None)
        if name not in known:
            errors.append((f"{unit}.phases.{name}", f"unknown phase; this unit has {', '.join(known)}"))
        elif not (isinstance(duration, (int, float)) and math.isfinite(duration) and duration >= 0):
            errors.append((f"{unit}.phases.{name}.duration", f"must be a number of hours >= 0, got {duration!r}"))
        else:
            given[name] = float(duration)
    if errors:
        raise ParameterError(errors, f"unit '{unit}' phases")
    records, problems, t = [], [], 0.0
    for name, duration, computed in planned:
        ended_by = "condition" if computed else "duration"
        if name in given and not computed:
            duration = given[name]
        elif name in given and duration > given[name] * (1 + 1e-12):
            problems.append(f"phase '{name}' needs {duration:.4g} h, more than its maximum {given[name]:.4g} h")
            duration, ended_by = given[name], "failed"
        records.append(PhaseRecord(name, t, t + duration, ended_by if duration > 0 else "instant"))
        t += duration
    return records, problems
