"""The estimation problem: the unknowns, one differentiable trajectory per batch, residuals and their Jacobian.

Unknowns are stacked in one vector u: shared parameters, then per-batch parameters and initial
states batch by batch. Entries marked ``log`` are estimated as log(value). A batch's trajectory
(``core.trajectory``) maps its slice of the unknowns to the predictions at its observation times,
with exact CVODES/IDAS forward sensitivities. The batches are evaluated on ``workers`` threads
(CasADi releases the GIL while it integrates), and the last few evaluations are kept, so a point the
optimiser asks for twice is integrated once. ``steps`` may ask trajectories to cross small input
steps in one CVODES run (``core.crossing``).
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.crossing import StepOptions, step_options
from ..core.model import Model
from ..core.parameters import ParameterError
from ..core.recipe import Event, Recipe
from ..core.simulation import SolverOptions
from ..core.trajectory import Trajectory, TrajectoryError, trajectory
from ..core.units import UnitsError, to_magnitude
from .dataset import BatchData
from .settings import ErrorModel, FitSettings, PhaseAction


@dataclass
class Unknown:
    label: str  # "mu_max", "K_s[B02]", "X(0)[B02]"
    kind: str  # "parameter" | "state"
    name: str
    batch: str | None
    lower: float
    upper: float
    start: float
    log: bool

    def encode(self, value: float) -> float:
        return math.log(value) if self.log else value

    def decode(self, u: float) -> float:
        return math.exp(u) if self.log else u


@dataclass
class BatchFit:
    name: str
    data: BatchData
    trajectory: Trajectory
    index: np.ndarray  # positions in u of the trajectory's theta entries
    time_index: np.ndarray  # per observation: row of the trajectory values
    column_index: np.ndarray  # per observation: column of the trajectory values
    outputs: np.ndarray  # per observation: output name
    y: np.ndarray  # per observation: measured value
    fixed: dict[str, float] = field(default_factory=dict)


def observation_times(data: BatchData, outputs) -> tuple[pd.DataFrame, np.ndarray]:
    """The batch's observations of ``outputs`` and the simulation times: 0 and every observation time."""
    obs = data.observations[data.observations["output"].isin(list(outputs))]
    times = np.unique(np.concatenate([[0.0], obs["time"].to_numpy(float)]))
    if len(times) < 2:
        times = np.array([0.0, max(data.end, 1e-6)])
    return obs, times


def input_steps(data: BatchData) -> dict[str, list[list[float]]]:
    """The batch's recorded inputs in the ``simulate`` form ``{name: [[t, value], ...]}``."""
    return {k: [[float(t), float(v)] for t, v in steps] for k, steps in data.inputs.items()}


def phase_recipe(model: Model, data: BatchData, actions: Mapping[str, PhaseAction]) -> Recipe | None:
    """The batch's recorded phase starts as recipe events carrying the matching ``actions`` (first match wins:
    an exact name before a pattern). None when no action applies."""
    events = []
    for phase, start in data.phases:
        key = phase if phase in actions else next((k for k in actions if fnmatch.fnmatchcase(phase, k)), None)
        if key is not None:
            a = actions[key]
            events.append(
                Event(
                    time=max(start, 0.0),
                    name=f"phase {phase}",
                    set_states=_state_values(model, a.set_states, f"phase_actions.{key}.set_states"),
                    add_states=_state_values(model, a.add_states, f"phase_actions.{key}.add_states", delta=True),
                )
            )
    return Recipe(events=events) if events else None


def _state_values(model: Model, values: Mapping, field_name: str, delta: bool = False) -> dict[str, float]:
    out, errors = {}, []
    states = {v.name: v for v in model.states}
    for name, value in values.items():
        if name not in states:
            errors.append((f"{field_name}.{name}", f"not a state of model '{model.name}'"))
            continue
        units = states[name].units
        try:
            out[name] = to_magnitude(value, f"delta_{units}" if delta and units in ("degC", "degF") else units)
        except (UnitsError, ValueError) as exc:
            errors.append((f"{field_name}.{name}", str(exc)))
    if errors:
        raise ParameterError(errors, "calibration")
    return out


def check_phase_actions(actions: Mapping[str, PhaseAction], batches: Mapping[str, BatchData]):
    """Every action must name a phase (or match one) recorded in at least one batch: a typo never passes silently."""
    seen = {phase for b in batches.values() for phase, _ in b.phases}
    unused = [k for k in actions if k not in seen and not any(fnmatch.fnmatchcase(p, k) for p in seen)]
    if unused:
        recorded = ", ".join(sorted(seen)[:12]) or "none (map a tag with phase_marker: true)"
        raise ParameterError(
            [(f"phase_actions.{k}", f"matches no recorded phase; recorded: {recorded}") for k in unused], "calibration"
        )


#: evaluations (predictions, or predictions with their Jacobian) a Problem keeps, by the unknowns
KEEP = 4


class Problem:
    """Unknowns, per-batch trajectories and scaled residuals for ``settings`` on ``batches``.

    ``steps`` (``core.crossing.StepOptions`` or a mapping) chooses how trajectories pass input steps; the
    default restarts CVODES at every step (crossing them was measured slower to converge to a slightly
    different optimum on the hourly-feed bench, docs/benchmarks_scenarios.md). ``workers`` threads evaluate
    the batches (default: one per CPU, at most one per batch); they give the same numbers as one."""

    def __init__(
        self,
        model: Model,
        batches: Mapping[str, BatchData],
        settings: FitSettings,
        *,
        steps: StepOptions | Mapping[str, Any] | None = None,
        workers: int | None = None,
    ):
        self.model, self.settings = model, settings
        self.steps = StepOptions(input_steps="restart") if steps is None else step_options(steps)
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ParameterError([("workers", f"must be a whole number >= 1, got {workers!r}")], "calibration")
        self.workers = min(workers or os.cpu_count() or 1, max(len(batches), 1))
        self._kept: OrderedDict[tuple[str, bytes], Any] = OrderedDict()
        self.fixed = self._check_fixed(settings.fixed)
        check_phase_actions(settings.phase_actions, batches)
        self.outputs = self._outputs(batches)
        self.unknowns = self._unknowns(batches)
        options = SolverOptions(rtol=settings.rtol, atol=settings.atol)
        self.batches = [self._batch(name, data, options) for name, data in batches.items()]
        self.y = np.concatenate([b.y for b in self.batches])  # per observation, stacked
        self.output_of = np.concatenate([b.outputs for b in self.batches])
        self.batch_of = np.concatenate([[b.name] * len(b.y) for b in self.batches])
        self.time_of = np.concatenate([b.trajectory.times[b.time_index] for b in self.batches])
        self.n_obs = len(self.y)
        self.error_models = {o: settings.error_models.get(o, ErrorModel()) for o in self.outputs}
        if self.n_obs <= len(self.unknowns):
            raise ParameterError([("parameters", f"{len(self.unknowns)} unknowns but only {self.n_obs} observations")])

    # -- set-up --------------------------------------------------------------------------------
    def _check_fixed(self, fixed: Mapping[str, float]) -> dict[str, float]:
        try:
            self.model.parameter_vector(fixed)
        except ParameterError as exc:
            raise ParameterError([(f"fixed.{f}", m) for f, m in exc.errors]) from None
        return dict(fixed)

    def _outputs(self, batches: Mapping[str, BatchData]) -> list[str]:
        known = [c for v in (*self.model.states, *self.model.outputs) for c in v.columns()]
        with_data = sorted({o for b in batches.values() for o in b.observations["output"].unique()})
        wanted = self.settings.outputs or with_data
        errors = [
            (f"outputs.{o}", f"not a state or output of model '{self.model.name}'") for o in wanted if o not in known
        ]
        errors += [(f"outputs.{o}", "no batch has data for it") for o in wanted if o in known and o not in with_data]
        missing = [
            (f"batches.{n}", f"no data for output '{o}'")
            for n, b in batches.items()
            for o in wanted
            if o in with_data and not (b.observations["output"] == o).any()
        ]
        if errors or missing:
            raise ParameterError(errors + missing, "calibration outputs")
        return list(wanted)

    def _unknowns(self, batches: Mapping[str, BatchData]) -> list[Unknown]:
        out, errors = [], []
        table = self.model.parameters
        base = dict(zip(table.names, self.model.parameter_vector(self.fixed)))
        shared = [p for p in self.settings.parameters if p.scope == "shared"]
        per_batch = [p for p in self.settings.parameters if p.scope == "batch"]
        for p in self.settings.parameters:
            if p.name not in table:
                errors.append((f"parameters.{p.name}", f"not a parameter of model '{self.model.name}'"))
        for s in self.settings.initial_states:
            if s.state not in [v.name for v in self.model.states]:
                errors.append((f"initial_states.{s.state}", f"not a state of model '{self.model.name}'"))
        if errors:
            raise ParameterError(errors, "calibration")

        def param(p, batch):
            lo, hi = table[p.name].bounds
            lo = lo if p.lower is None else p.lower
            hi = hi if p.upper is None else p.upper
            start = base[p.name] if p.start is None else p.start
            return self._unknown(
                p.name if batch is None else f"{p.name}[{batch}]",
                "parameter",
                p.name,
                batch,
                lo,
                hi,
                start,
                p.log,
                errors,
                f"parameters.{p.name}",
            )

        out += [param(p, None) for p in shared]
        for name, data in batches.items():
            out += [param(p, name) for p in per_batch]
            for s in self.settings.initial_states:
                start = s.start if s.start is not None else data.initial.get(s.state)
                if start is None:
                    start = float(
                        self.model.initial_state(self.model.parameter_vector(self.fixed))[0][
                            self.model.state(s.state).slice
                        ][0]
                    )
                out.append(
                    self._unknown(
                        f"{s.state}(0)[{name}]",
                        "state",
                        s.state,
                        name,
                        s.lower,
                        s.upper,
                        start,
                        s.log,
                        errors,
                        f"initial_states.{s.state}",
                    )
                )
        if errors:
            raise ParameterError(errors, "calibration")
        return out

    @staticmethod
    def _unknown(label, kind, name, batch, lo, hi, start, log, errors, field_name) -> Unknown:
        log = lo > 0 if log is None else log
        if log and lo <= 0:
            errors.append((f"{field_name}.log", f"log needs a lower bound > 0, got {lo:g}"))
            log = False
        if not (lo <= start <= hi):
            start = min(max(start, lo), hi)
        if log and start <= 0:
            start = lo
        return Unknown(label, kind, name, batch, lo, hi, start, log)

    def _batch(self, name: str, data: BatchData, options: SolverOptions) -> BatchFit:
        obs, times = observation_times(data, self.outputs)
        columns = [o for o in self.outputs if (obs["output"] == o).any()]
        positions = [i for i, u in enumerate(self.unknowns) if u.batch in (None, name)]
        free_p = [self.unknowns[i].name for i in positions if self.unknowns[i].kind == "parameter"]
        free_s = [self.unknowns[i].name for i in positions if self.unknowns[i].kind == "state"]
        initial = {k: v for k, v in data.initial.items() if k not in free_s}
        inputs = input_steps(data)
        recipe = phase_recipe(self.model, data, self.settings.phase_actions)
        try:
            traj = trajectory(
                self.model,
                times,
                parameters=self.fixed,
                inputs=inputs,
                recipe=recipe,
                initial=initial,
                options=options,
                free_parameters=free_p,
                free_states=free_s,
                columns=columns,
                steps=self.steps,
            )
        except ParameterError as exc:
            raise ParameterError([(f"batches.{name}.{f}", m) for f, m in exc.errors]) from None
        return BatchFit(
            name,
            data,
            traj,
            np.array(positions, dtype=int),
            np.searchsorted(times, obs["time"].to_numpy(float)),
            np.array([columns.index(o) for o in obs["output"]], dtype=int),
            obs["output"].to_numpy(str),
            obs["value"].to_numpy(float),
        )

    # -- evaluation ----------------------------------------------------------------------------
    @property
    def lower(self) -> np.ndarray:
        return np.array([u.encode(u.lower) for u in self.unknowns])  # log entries have lower > 0

    @property
    def upper(self) -> np.ndarray:
        return np.array([u.encode(u.upper) for u in self.unknowns])

    def start(self) -> np.ndarray:
        return np.array([u.encode(u.start) for u in self.unknowns])

    def decode(self, u: np.ndarray) -> np.ndarray:
        return np.array([k.decode(x) for k, x in zip(self.unknowns, u)])

    def chain(self, u: np.ndarray) -> np.ndarray:
        """d(value)/d(u) for every unknown: the value itself for log entries, 1 otherwise."""
        values = self.decode(u)
        return np.array([v if k.log else 1.0 for k, v in zip(self.unknowns, values)])

    def predict(self, u: np.ndarray) -> list[np.ndarray]:
        """Predictions at every observation, per batch (raises TrajectoryError)."""
        u = np.asarray(u, dtype=float)
        both = self._kept.get(("jacobian", u.tobytes()))
        if both is not None:
            return [p.copy() for p in both[2]]
        kept = self._recall(
            "values", u, lambda: self._each(lambda b, th: b.trajectory(th)[b.time_index, b.column_index], u)
        )
        return [p.copy() for p in kept]

    def predict_with_jacobian(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stacked predictions and d(prediction)/d(u) (n_obs, n_unknowns)."""
        u = np.asarray(u, dtype=float)
        preds, jac, _ = self._recall("jacobian", u, lambda: self._jacobian(u))
        return preds.copy(), jac.copy()

    def _jacobian(self, u: np.ndarray):
        dv = self.chain(u)
        for b in self.batches:
            b.trajectory.jacobian_function()  # CasADi builds the sensitivity integrators here, one thread at a time
        per_batch = self._each(lambda b, th: b.trajectory.jacobian(th), u)
        preds, jac = [], np.zeros((self.n_obs, len(self.unknowns)))
        row = 0
        for b, (values, J) in zip(self.batches, per_batch):
            preds.append(values[b.time_index, b.column_index])
            n = len(b.y)
            jac[row : row + n, b.index] = J[b.time_index, b.column_index, :] * dv[b.index]
            row += n
        return np.concatenate(preds), jac, preds

    def _each(self, call: Callable[[BatchFit, np.ndarray], Any], u: np.ndarray) -> list:
        """``call(batch, its theta)`` for every batch, on the worker threads (in batch order)."""
        theta = self.decode(u)
        if self.workers <= 1:
            return [call(b, theta[b.index]) for b in self.batches]
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(lambda b: call(b, theta[b.index]), self.batches))

    def _recall(self, kind: str, u: np.ndarray, compute: Callable[[], Any]):
        """The kept result of ``compute`` at ``u``, or computed and kept (the last :data:`KEEP` of each kind)."""
        key = (kind, u.tobytes())
        if key in self._kept:
            self._kept.move_to_end(key)
            return self._kept[key]
        out = compute()
        self._kept[key] = out
        while sum(k[0] == kind for k in self._kept) > KEEP:
            del self._kept[next(k for k in self._kept if k[0] == kind)]
        return out

    def sigma(self, values: np.ndarray, error_params: Mapping[str, tuple[float, float]]) -> np.ndarray:
        """Standard deviation of every observation: sqrt(a^2 + (b |value|)^2) of its output's error model."""
        out = np.empty(self.n_obs)
        outputs = self.output_of
        for o, (a, b) in error_params.items():
            m = outputs == o
            out[m] = np.sqrt(a * a + (b * np.abs(values[m])) ** 2)
        return np.maximum(out, 1e-300)

    def check_start(self, u: np.ndarray):
        try:
            return self.predict(u)
        except TrajectoryError as exc:
            raise ParameterError([("parameters", f"the model fails at the starting values: {exc}")]) from None
