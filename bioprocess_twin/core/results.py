"""Simulation results: arrays, a pandas DataFrame with units, sensitivities and a JSON summary."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .units import to_si

if TYPE_CHECKING:
    from .model import Model


def json_safe(value: Any) -> Any:
    """Plain JSON data: numpy scalars and arrays to Python, NaN and infinities to None (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return json_safe(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


class SolverFailure(RuntimeError):
    """Raised by :meth:`SimulationResult.raise_for_status` when the solver failed."""


@dataclass
class SimulationResult:
    model: Model
    status: str  # "ok" or "failed"
    message: str
    t: np.ndarray
    x: np.ndarray  # (nt, nx)
    z: np.ndarray  # (nt, nz)
    y: np.ndarray  # (nt, ny)
    u: np.ndarray  # (nt, nu) inputs in effect at each time
    parameters: dict[str, float]
    phases: list[str] | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    sensitivities: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (nt, nx+ny)
    warnings: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    #: the model version that ran when it is not the code's: a calibrated set such as "1.0.0+cal.1"
    version_label: str | None = None

    @property
    def model_version(self) -> str:
        """The version that ran: the calibrated set's label, else the code's model version."""
        return self.version_label or self.model.version

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def raise_for_status(self) -> SimulationResult:
        if not self.ok:
            raise SolverFailure(f"{self.model.name}: {self.message}")
        return self

    def state(self, name: str) -> np.ndarray:
        """The state block over time: shape (nt,) for a scalar state, (nt, size) for a vector."""
        var = self.model.state(name)
        block = self.x[:, var.slice]
        return block[:, 0] if var.size == 1 else block

    def output(self, name: str) -> np.ndarray:
        for v in self.model.outputs:
            if v.name == name:
                return self.y[:, v.offset]
        raise KeyError(f"model '{self.model.name}' has no output '{name}'")

    def in_si(self, name: str) -> np.ndarray:
        """A state or output over time, in SI base units (for code that computes in SI)."""
        values = self.output(name) if name in {v.name for v in self.model.outputs} else self.state(name)
        return to_si(values, self.model.units_of(name))

    def units(self) -> dict[str, str]:
        m = self.model
        out = {"time": m.time_units}
        for blocks in (m.states, m.algebraics, m.outputs):
            for v in blocks:
                out.update({c: v.units for c in v.columns()})
        out.update({p.name: p.units for p in m.inputs})
        return out

    def frame(self, include_vectors: bool = True) -> pd.DataFrame:
        """One row per output time; columns are states, algebraics, outputs and inputs.

        Column names are the plain variable names (vector states as ``n[0]``, ``n[1]``...);
        ``df.attrs["units"]`` maps every column, and the index, to its units.
        """
        m = self.model
        data: dict[str, np.ndarray] = {}
        for blocks, arr in ((m.states, self.x), (m.algebraics, self.z), (m.outputs, self.y)):
            for v in blocks:
                if v.size > 1 and not include_vectors:
                    continue
                for j, col in enumerate(v.columns()):
                    data[col] = arr[:, v.offset + j]
        for j, p in enumerate(m.inputs):
            data[p.name] = self.u[:, j]
        df = pd.DataFrame(data, index=pd.Index(self.t, name="time"))
        if self.phases is not None:
            df.insert(0, "phase", self.phases)
        df.attrs["units"] = {k: v for k, v in self.units().items() if k in df.columns or k == "time"}
        df.attrs["model"] = f"{m.name} {self.model_version}"
        return df

    def sensitivity_frame(self, parameter: str) -> pd.DataFrame:
        """d(state or output)/d(parameter) at each output time, in state units per parameter unit."""
        if parameter not in self.sensitivities:
            raise KeyError(f"no sensitivities for '{parameter}'; computed: {', '.join(self.sensitivities) or 'none'}")
        m = self.model
        cols = [c for v in m.states for c in v.columns()] + [v.name for v in m.outputs]
        df = pd.DataFrame(self.sensitivities[parameter], columns=cols, index=pd.Index(self.t, name="time"))
        p_units = m.parameters[parameter].units
        df.attrs["units"] = {c: f"({u})/({p_units})" for c, u in self.units().items() if c in cols}
        return df

    def summary(self) -> dict[str, Any]:
        """Plain data for JSON: status, model identity (the version that ran and the code's version),
        solver settings and statistics."""
        return {
            "status": self.status,
            "message": self.message,
            "model": self.model.name,
            "model_version": self.model_version,
            "code_version": self.model.version,
            "parameters": self.parameters,
            "solver": self.options | {"stats": self.stats},
            "warnings": self.warnings,
            "n_times": int(len(self.t)),
            "t_end": float(self.t[-1]) if len(self.t) else None,
        }
