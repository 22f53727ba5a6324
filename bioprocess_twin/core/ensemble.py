"""Many runs of one recipe that differ only in chosen parameters, initial states and constant inputs.

An :class:`Ensemble` builds the whole-recipe function theta -> (states and outputs at the output
times) once (``core.trajectory``, values only), and :meth:`Ensemble.run` evaluates it for a batch
of samples in one CasADi call: ``Function.map`` over the samples, on threads. A sample pays no
Python: no spec parsing, no run plan, no per-chunk integrator call from Python. The right-hand side
is the model's equations compiled to C where a compiler is found (``SolverOptions.rhs='compiled'``).

A sample whose integration fails does not spoil its batch: a failed call is split in halves until
the failing samples stand alone, each with the solver's message. A sample outside a parameter's or
an input's bounds is not run (status ``error``), and one whose states leave their physical bounds
fails, as in ``simulate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import casadi as ca
import numpy as np

from .compiled import compiler
from .integration import SolverOptions
from .limits import check_deadline
from .model import Model
from .parameters import ParameterError
from .recipe import Recipe
from .results import SimulationResult
from .simulation import bounds_status
from .trajectory import last_line, trajectory

#: samples per CasADi call: large enough that a call's overhead vanishes, small enough to split a failure cheaply
BATCH = 256
OK, FAILED, ERROR = "ok", "failed", "error"


@dataclass
class EnsembleResult:
    """States, outputs and inputs of every sample at the output times, with each sample's status."""

    model: Model
    t: np.ndarray  # (T,)
    names: list[str]  # what theta's columns are
    theta: np.ndarray  # (N, k)
    x: np.ndarray  # (N, T, nx); NaN where a sample did not run
    y: np.ndarray  # (N, T, ny)
    u: np.ndarray  # (N, T, nu)
    parameters: np.ndarray  # (N, np), declared units
    status: list[str] = field(default_factory=list)
    message: list[str] = field(default_factory=list)
    phases: list[str] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.status)

    @property
    def ok(self) -> np.ndarray:
        return np.array([s == OK for s in self.status], dtype=bool)

    def state(self, name: str) -> np.ndarray:
        """(N, T) values of a scalar state, (N, T, size) of a vector state."""
        var = self.model.state(name)
        return self.x[:, :, var.offset] if var.size == 1 else self.x[:, :, var.slice]

    def output(self, name: str) -> np.ndarray:
        """(N, T) values of an output."""
        for v in self.model.outputs:
            if v.name == name:
                return self.y[:, :, v.offset]
        raise KeyError(f"model '{self.model.name}' has no output '{name}'")

    def column(self, name: str) -> np.ndarray:
        """(N, T) values of a scalar state, an output or an input, by name (as in ``SimulationResult.frame``)."""
        if name in self.model.inputs.names:
            return self.u[:, :, self.model.inputs.names.index(name)]
        if name in {v.name for v in self.model.outputs}:
            return self.output(name)
        return self.state(name)

    def parameter(self, name: str) -> np.ndarray:
        """(N,) values of a model parameter (declared units)."""
        return self.parameters[:, self.model.parameters.names.index(name)]

    def result(self, i: int) -> SimulationResult:
        """Sample ``i`` as a simulation result (what ``Process.kpis`` takes)."""
        n = len(self.t)
        return SimulationResult(
            model=self.model,
            status=FAILED if self.status[i] == ERROR else self.status[i],
            message=self.message[i],
            t=self.t,
            x=self.x[i],
            z=np.zeros((n, 0)),
            y=self.y[i],
            u=self.u[i],
            parameters=dict(zip(self.model.parameters.names, self.parameters[i].tolist())),
            phases=self.phases,
            options=self.options,
        )


class Ensemble:
    """The runs of ``model`` over ``times`` (inputs, recipe and initial state as in ``simulate``) with the
    ``free_parameters``, ``free_states`` (initial values) and ``free_inputs`` (constant over the run) taken
    from each sample. ``threads`` is how many samples integrate at once."""

    def __init__(
        self,
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
        threads: int = 1,
    ):
        if model.nz:
            raise ParameterError([("model", "an ensemble runs ODE models; this one has algebraic states")])
        if threads < 1:
            raise ParameterError([("threads", f"must be at least 1, got {threads}")])
        self.model, self.threads = model, int(threads)
        self.options = _batch_options(model, options or SolverOptions())
        self.trajectory = trajectory(
            model,
            times,
            parameters=parameters,
            inputs=inputs,
            recipe=recipe,
            initial=initial,
            options=self.options,
            free_parameters=free_parameters,
            free_states=free_states,
            free_inputs=free_inputs,
            derivatives=False,
        )
        self.names = self.trajectory.names
        self.theta0 = self.trajectory.theta0
        self._p0 = model.parameter_vector(parameters)
        self._p_rows = [model.parameters.names.index(n) for n in free_parameters]
        self._u_rows = [model.inputs.names.index(n) for n in free_inputs]
        scalar = [n for n in free_states if model.state(n).size == 1]
        self._bounds = [model.parameters[n] for n in free_parameters] + [model.state(n) for n in scalar]
        self._bounds += [model.inputs[n] for n in free_inputs]
        self._bounded = [self.names.index(n) for n in free_parameters] + [self.names.index(f"{n}(0)") for n in scalar]
        self._bounded += list(range(len(self.names) - len(free_inputs), len(self.names)))
        assert self.trajectory.inputs is not None
        self._u0 = self.trajectory.inputs
        self.phases = recipe.phase_at(self.trajectory.times) if recipe is not None and recipe.phases else None
        self._maps: dict[int, tuple[ca.Function, Any, Any]] = {}

    def run(self, theta: np.ndarray | Sequence[Sequence[float]]) -> EnsembleResult:
        """Every sample (a row of ``theta``, in :attr:`names` order and declared units)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        if theta.shape[1] != len(self.names):
            raise ParameterError(
                [("theta", f"needs {len(self.names)} columns ({', '.join(self.names)}), got {theta.shape[1]}")]
            )
        model, n = self.model, theta.shape[0]
        T, C = len(self.trajectory.times), len(self.trajectory.columns)
        values = np.full((n, T, C), np.nan)
        status, message = [OK] * n, [""] * n
        for i, why in self._outside(theta).items():
            status[i], message[i] = ERROR, why
        runnable = np.array([i for i in range(n) if status[i] == OK], dtype=int)
        for start in range(0, len(runnable), BATCH):
            check_deadline()
            self._evaluate(theta, runnable[start : start + BATCH], values, status, message)
        x, y = values[:, :, : model.nx], values[:, :, model.nx :]
        params = np.tile(self._p0, (n, 1))
        params[:, self._p_rows] = theta[:, : len(self._p_rows)]
        u = np.tile(self._u0, (n, 1, 1))
        for j, r in enumerate(self._u_rows):
            u[:, :, r] = theta[:, len(self.names) - len(self._u_rows) + j, None]
        out = EnsembleResult(
            model,
            self.trajectory.times,
            list(self.names),
            theta,
            x,
            y,
            u,
            params,
            status,
            message,
            self.phases,
            self.options.model_dump(),
        )
        ok = out.ok
        finite = np.isfinite(x).all(axis=(1, 2)) & np.isfinite(y).all(axis=(1, 2))
        beyond = ((x < model.state_lower) | (x > model.state_upper)).any(axis=(1, 2))
        for i in map(int, np.flatnonzero(ok & ~finite)):
            out.status[i], out.message[i] = FAILED, "non-finite state or output"
        for i in map(int, np.flatnonzero(ok & finite & beyond)):  # within the solver's margin, or failed
            out.status[i], out.message[i] = bounds_status(model, out.t, x[i], self.options)
        return out

    def _outside(self, theta: np.ndarray) -> dict[int, str]:
        """Samples with a value outside its parameter's or input's bounds, and why."""
        bad: dict[int, str] = {}
        for col, spec in zip(self._bounded, self._bounds):
            lo, hi = spec.bounds
            v = theta[:, col]
            for i in np.flatnonzero(~((v >= lo) & (v <= hi))):
                bad.setdefault(int(i), f"{spec.name}: {v[i]:g} {spec.units} is outside the bounds [{lo:g}, {hi:g}]")
        return bad

    def _evaluate(self, theta, rows: np.ndarray, values, status, message) -> None:
        """Integrate the samples ``rows`` in one call; on failure, split until the failing samples stand alone."""
        if not len(rows):
            return
        n = len(rows)
        if n not in self._maps:
            f = self.trajectory.function
            mapped = f if n == 1 else f.map(n, "thread", min(self.threads, n))
            self._maps[n] = (mapped, *mapped.buffer())  # results straight into NumPy, not through Python lists
        mapped, buffer, call = self._maps[n]
        arg = np.ascontiguousarray(theta[rows]).ravel()  # sample by sample: CasADi's column-major (k, n)
        out = np.empty(mapped.nnz_out(0))
        buffer.set_arg(0, arg.data)
        buffer.set_res(0, out.data)
        try:
            call()
        except RuntimeError as exc:
            if n == 1:
                status[rows[0]], message[rows[0]] = FAILED, last_line(exc)
                return
            half = n // 2
            self._evaluate(theta, rows[:half], values, status, message)
            self._evaluate(theta, rows[half:], values, status, message)
            return
        T, C = values.shape[1], values.shape[2]
        values[rows] = out.reshape(n, C, T).transpose(0, 2, 1)


def _batch_options(model: Model, options: SolverOptions) -> SolverOptions:
    """The given options, with the right-hand side compiled to C when they leave it to 'auto' and a compiler is found."""
    if options.rhs == "auto" and compiler() is not None and "jit" not in options.casadi_options:
        return options.model_copy(update={"rhs": "compiled"}).trusted(options.casadi_options)
    return options
