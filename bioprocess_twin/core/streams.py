"""Material streams and the production-unit interface that takes and gives them.

A :class:`Stream` is a batch transfer: a liquid volume, the mass of each component and, for
dispersions such as an emulsion, the droplet size distribution. A :class:`UnitOperation` turns
inlet streams into outlet streams over a batch; every kilogram that enters leaves by a named
outlet (product, permeate, waste, loss) or is formed or consumed by reaction, which the unit
reports in :attr:`UnitResult.generated`. That is what makes mass balances checkable:
``in + generated - out = 0`` for every component, see :meth:`UnitResult.balance`.

Time in production units is in hours from the start of the unit's batch.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from .kpi_units import KpiUnits, units_of
from .parameters import ParameterError, ParameterTable
from .process import Process
from .recipe import PhaseRecord
from .units import from_si

#: round-off allowance: a component mass down to -NEGATIVE_MASS_RTOL x the stream's total mass counts as zero
NEGATIVE_MASS_RTOL = 1e-12


@dataclass(frozen=True)
class ParticleSize:
    """Size distribution of a dispersed phase: volume fraction of the particles in each class."""

    diameter_nm: np.ndarray
    volume_fraction: np.ndarray

    def __post_init__(self):
        d = np.asarray(self.diameter_nm, dtype=float)
        w = np.asarray(self.volume_fraction, dtype=float)
        if d.ndim != 1 or d.shape != w.shape or d.size == 0:
            raise ValueError("particles: diameter_nm and volume_fraction must be 1-D arrays of equal length")
        if np.any(d <= 0) or np.any(np.diff(d) <= 0):
            raise ValueError("particles: diameter_nm must be positive and increasing")
        if np.any(w < -1e-12) or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("particles: volume_fraction must be finite, non-negative and not all zero")
        object.__setattr__(self, "diameter_nm", d)
        object.__setattr__(self, "volume_fraction", np.clip(w, 0, None) / w.sum())

    def percentile(self, q: float) -> float:
        """Volume-weighted percentile diameter (q in 0..1): the cumulative fraction is linear in
        log d within each class, whose edges lie halfway between the log class diameters."""
        ln_d = np.log(self.diameter_nm)
        if ln_d.size == 1:
            return float(self.diameter_nm[0])
        mid = 0.5 * (ln_d[1:] + ln_d[:-1])
        edges = np.concatenate([[2 * ln_d[0] - mid[0]], mid, [2 * ln_d[-1] - mid[-1]]])
        cdf = np.concatenate([[0.0], np.cumsum(self.volume_fraction)])
        return float(np.exp(np.interp(q, cdf, edges)))

    def statistics(self) -> dict[str, float]:
        w, d = self.volume_fraction, self.diameter_nm
        d10, d50, d90 = (self.percentile(q) for q in (0.1, 0.5, 0.9))
        return {
            "d10_nm": d10,
            "d50_nm": d50,
            "d90_nm": d90,
            "span": (d90 - d10) / d50,
            "d43_nm": float(np.sum(w * d)),
            "d32_nm": float(1.0 / np.sum(w / d)),
        }

    @staticmethod
    def blend(parts: Sequence[tuple[ParticleSize | None, float]]) -> ParticleSize | None:
        """The distribution of several dispersions mixed, each weighted by its dispersed volume."""
        present = [(ps, w) for ps, w in parts if ps is not None and w > 0]
        if not present:
            return None
        grid = present[0][0].diameter_nm
        if any(ps.diameter_nm.shape != grid.shape or not np.allclose(ps.diameter_nm, grid) for ps, _ in present):
            raise ValueError("particles: cannot blend distributions on different size grids")
        return ParticleSize(grid, np.sum([ps.volume_fraction * w for ps, w in present], axis=0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "diameter_nm": self.diameter_nm.tolist(),
            "volume_fraction": self.volume_fraction.tolist(),
            "statistics": self.statistics(),
        }


@dataclass(frozen=True)
class Stream:
    """A batch transfer of liquid: volume (m3), mass of each component (kg), temperature (K)."""

    name: str
    volume: float
    mass: Mapping[str, float] = field(default_factory=dict)
    temperature: float = 293.15
    particles: ParticleSize | None = None
    #: component whose volume the particle distribution describes (the dispersed phase)
    dispersed: str | None = None

    def __post_init__(self):
        errors = []
        scale = max(1.0, sum(abs(float(v)) for v in self.mass.values()))  # round-off allowance for "negative"
        if not (math.isfinite(self.volume) and self.volume >= 0):
            errors.append((f"{self.name}.volume", f"must be finite and >= 0 m3, got {self.volume}"))
        for comp, m in self.mass.items():
            if not (math.isfinite(m) and m >= -NEGATIVE_MASS_RTOL * scale):
                errors.append((f"{self.name}.mass.{comp}", f"must be finite and >= 0 kg, got {m}"))
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            errors.append(
                (f"{self.name}.temperature", f"must be a positive absolute temperature in K, got {self.temperature}")
            )
        if self.particles is not None and self.dispersed is None:
            errors.append((f"{self.name}.dispersed", "a stream with particles must name its dispersed component"))
        if errors:
            raise ParameterError(errors, f"stream '{self.name}'")
        object.__setattr__(self, "mass", {k: max(float(v), 0.0) for k, v in self.mass.items()})

    @property
    def total_mass(self) -> float:
        return float(sum(self.mass.values()))

    def concentration(self, component: str) -> float:
        """kg/m3 (= g/L); 0 for a component the stream does not carry."""
        return self.mass.get(component, 0.0) / self.volume if self.volume > 0 else 0.0

    def scaled(self, factor: float, name: str | None = None) -> Stream:
        """The same composition and size distribution, ``factor`` times the amount."""
        return replace(
            self,
            name=name or self.name,
            volume=self.volume * factor,
            mass={k: v * factor for k, v in self.mass.items()},
        )

    @staticmethod
    def mix(name: str, streams: Sequence[Stream]) -> Stream:
        """Streams combined: volumes and masses add, temperature is volume-weighted, particle
        distributions are blended by the mass of their dispersed component."""
        if not streams:
            raise ValueError("mix needs at least one stream")
        mass: dict[str, float] = {}
        for s in streams:
            for k, v in s.mass.items():
                mass[k] = mass.get(k, 0.0) + v
        volume = sum(s.volume for s in streams)
        temperature = sum(s.volume * s.temperature for s in streams) / volume if volume > 0 else streams[0].temperature
        dispersed = {s.dispersed for s in streams if s.particles is not None and s.dispersed is not None}
        if len(dispersed) > 1:
            raise ValueError(f"mix '{name}': streams carry particles of different components: {sorted(dispersed)}")
        disp = dispersed.pop() if dispersed else None
        particles = ParticleSize.blend([(s.particles, s.mass.get(disp, 0.0)) for s in streams]) if disp else None
        return Stream(name, volume, mass, temperature, particles, disp)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "volume_m3": self.volume,
            "volume_L": from_si(self.volume, "L"),
            "temperature_K": self.temperature,
            "mass_kg": dict(self.mass),
            "concentration_g_per_L": {k: self.concentration(k) for k in self.mass},
        }
        if self.particles is not None:
            out["particles"] = self.particles.to_dict() | {"component": self.dispersed}
        return out


@dataclass
class UnitResult:
    unit: str
    kind: str
    status: str  # "ok" or "failed"
    message: str
    outlets: dict[str, Stream]
    generated: dict[str, float] = field(default_factory=dict)  # kg formed (+) or consumed (-) inside
    duration: float = 0.0  # h
    phases: list[PhaseRecord] = field(default_factory=list)
    kpis: dict[str, float] = field(default_factory=dict)
    series: pd.DataFrame | None = None  # index: h from the unit's start; attrs["units"]
    warnings: list[str] = field(default_factory=list)
    #: streams the unit drew from plant utilities itself (e.g. a default buffer for an unconnected inlet)
    supplied: dict[str, Stream] = field(default_factory=dict)
    #: units of each KPI, filled from the unit's declaration by :meth:`UnitOperation.execute`
    kpi_units: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def balance(self, inlets: Mapping[str, Stream]) -> dict[str, float]:
        """Per component: in (inlets and supplied utilities) + generated - out, in kg. Zero (to solver
        tolerance) when the balance closes."""
        sources = list(inlets.values()) + list(self.supplied.values())
        comps = set(self.generated)
        for s in sources + list(self.outlets.values()):
            comps.update(s.mass)
        total_in = {c: sum(s.mass.get(c, 0.0) for s in sources) for c in comps}
        total_out = {c: sum(s.mass.get(c, 0.0) for s in self.outlets.values()) for c in comps}
        return {c: total_in[c] + self.generated.get(c, 0.0) - total_out[c] for c in sorted(comps)}

    def to_dict(self, include_series: bool = True) -> dict[str, Any]:
        out = {
            "unit": self.unit,
            "kind": self.kind,
            "status": self.status,
            "message": self.message,
            "duration_h": self.duration,
            "kpis": self.kpis,
            "kpi_units": self.kpi_units,
            "warnings": self.warnings,
            "phases": [vars(p) for p in self.phases],
            "generated_kg": self.generated,
            "outlets": {k: s.to_dict() for k, s in self.outlets.items()},
            "supplied": {k: s.to_dict() for k, s in self.supplied.items()},
        }
        if include_series and self.series is not None:
            df = self.series
            out["series"] = {
                "time_h": df.index.to_list(),
                "units": df.attrs.get("units", {}),
                "columns": {c: df[c].tolist() for c in df.columns},
            }
        return out


class UnitOperation(ABC):
    """A production unit: declared parameters, named inlets and outlets, and a batch ``run``.

    A unit that integrates kinetics *has* a process model: ``process`` names its class, and the unit
    turns inlet streams into that model's parameters, inputs and initial states, runs it and turns
    the result back into outlet streams. Units without kinetics (fill, a mixing tank) leave it None.
    """

    kind: ClassVar[str]
    description: ClassVar[str] = ""
    #: the kinetic process model the unit runs, if any
    process: ClassVar[type[Process] | None] = None
    parameters: ClassVar[ParameterTable] = ParameterTable()
    inlets: ClassVar[tuple[str, ...]] = ("inlet",)
    outlets: ClassVar[tuple[str, ...]] = ("outlet",)
    #: inlets a batch may run without (e.g. an optional buffer)
    optional_inlets: ClassVar[tuple[str, ...]] = ()
    #: units of each KPI a batch reports (see :mod:`.kpi_units`)
    kpi_units: ClassVar[KpiUnits] = {}

    #: non-numeric settings (component roles, correlation choice, ...) as a pydantic model, if any
    Config: ClassVar[type[BaseModel] | None] = None

    def __init__(self, name: str, parameters: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None):
        self.name = name
        #: the unit's parameter values in SI base units (pint-converted): its equations hold no unit factors
        self.values = self.parameters.resolve_si(parameters, f"unit '{name}' ({self.kind}) parameters")
        if self.Config is None:
            if config:
                raise ParameterError([(f"{name}.config", f"{self.kind} takes no config")])
            self.config = None
        else:
            try:
                self.config = self.Config.model_validate(dict(config or {}))
            except ValidationError as exc:
                raise ParameterError(
                    [(f"{name}.config." + ".".join(str(x) for x in e["loc"]), e["msg"]) for e in exc.errors()],
                    f"unit '{name}' config",
                ) from None

    @abstractmethod
    def run(self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None) -> UnitResult:
        """Run one batch on ``inlets``; ``phases`` override the unit's default recipe."""

    def execute(self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None) -> UnitResult:
        """:meth:`run`, with the declared units of the KPIs it reports."""
        result = self.run(inlets, phases)
        result.kpi_units = units_of(result.kpis, self.kpi_units)
        return result

    def check_inlets(self, inlets: Mapping[str, Stream]) -> None:
        errors = [
            (f"{self.name}.{k}", f"unknown inlet; {self.kind} has {', '.join(self.inlets)}")
            for k in inlets
            if k not in self.inlets
        ]
        errors += [
            (f"{self.name}.{k}", "inlet is not connected")
            for k in self.inlets
            if k not in inlets and k not in self.optional_inlets
        ]
        if errors:
            raise ParameterError(errors, f"unit '{self.name}' inlets")

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "process": self.process.name if self.process is not None else None,
            "inlets": list(self.inlets),
            "outlets": list(self.outlets),
            "parameters": self.parameters.describe(),
            "config": self.Config.model_json_schema() if self.Config is not None else None,
        }
