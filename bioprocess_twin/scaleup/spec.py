"""The scale-up spec shared by the CLI, the dashboard and the Python API (pydantic; errors name the field).

Quantities take a number in the documented units or a string with units (``"50 L"``, ``"120 rpm"``);
they are stored as floats in the documented units, which each field declares (``quantity(units)``), and
``section.si(name)`` gives a field in SI, converted by pint, for the scale-up equations.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationError, field_validator, model_validator

from ..core.parameters import ParameterError
from ..core.spec import SpecError, StrictModel, read_spec_file
from ..core.units import to_magnitude, to_si
from ..correlations import agitation as ag
from ..processes.emulsion_homogenizer import PARAMETERS as EMULSION_PARAMETERS
from .limits import HOMOGENIZER_LIMITS, STIRRED_TANK_LIMITS
from .stirred_tank import CRITERIA, GAS_BASES


def _converter(units: str, lo: float, hi: float):
    def convert(value):
        x = to_magnitude(value, units)
        if not (math.isfinite(x) and lo <= x <= hi):
            raise ValueError(f"{x:g} {units} is outside [{lo:g}, {hi:g}] {units}")
        return x

    return convert


@dataclass(frozen=True)
class DeclaredUnits:
    """The units a quantity field is stored in (metadata of ``quantity``, read by ``field_units``)."""

    units: str


def quantity(units: str, lo: float = -math.inf, hi: float = math.inf):
    """A float field in ``units`` that also accepts strings with units, checked against [lo, hi]."""
    return Annotated[float, BeforeValidator(_converter(units, lo, hi)), DeclaredUnits(units)]


def field_units(model: type[BaseModel], name: str) -> str:
    """The declared units of the quantity field ``name`` of a spec section (``Optional`` fields too)."""
    field = model.model_fields[name]
    pending: list[Any] = [*field.metadata, field.annotation]
    while pending:
        item = pending.pop()
        if isinstance(item, DeclaredUnits):
            return item.units
        pending.extend(getattr(item, "__metadata__", ()))
        pending.extend(typing.get_args(item))
    raise KeyError(f"{model.__name__}.{name} is not a quantity with units")


class QuantitySection(StrictModel):
    """A spec section whose quantity fields can be read in SI."""

    def si(self, name: str) -> float:
        """Field ``name`` in SI base units, converted by pint from its declared units."""
        return to_si(getattr(self, name), field_units(type(self), name))


_EMULSION = {p.name: (p.units, p.default, p.bounds) for p in EMULSION_PARAMETERS}


def _emulsion_quantity(name: str):
    """The field type of an emulsion-model parameter (its units and bounds)."""
    units, _, (lo, hi) = _EMULSION[name]
    return quantity(units, lo, hi)


class VesselSpec(QuantitySection):
    """A stirred tank by working volume and geometric ratios (``Vessel.from_volume``)."""

    volume: quantity("m^3", 1e-5, 200) = Field(description="working volume, m^3 (or '50 L')")
    aspect_ratio: quantity("1", 0.3, 5) = Field(1.0, description="liquid height / tank diameter H/T")
    d_over_t: quantity("1", 0.15, 0.7) = Field(1 / 3, description="impeller / tank diameter D/T")
    impeller: str = "rushton"
    n_impellers: int = Field(1, ge=1, le=6)

    @field_validator("impeller")
    @classmethod
    def _known_impeller(cls, v):
        ag.find_impeller(v)
        return v

    def vessel(self, volume: float | None = None) -> ag.Vessel:
        return ag.Vessel.from_volume(
            self.volume if volume is None else volume, self.aspect_ratio, self.d_over_t, self.impeller, self.n_impellers
        )


class TargetGeometry(StrictModel):
    """Target-vessel changes; anything left out keeps the lab value (geometric similarity)."""

    aspect_ratio: quantity("1", 0.3, 5) | None = None
    d_over_t: quantity("1", 0.15, 0.7) | None = None
    impeller: str | None = None
    n_impellers: int | None = Field(None, ge=1, le=6)

    @field_validator("impeller")
    @classmethod
    def _known_impeller(cls, v):
        if v is not None:
            ag.find_impeller(v)
        return v


class OxygenDemand(QuantitySection):
    """Peak oxygen demand of the culture; sets the kLa the target must reach (``aeration.kla_required``)."""

    our: quantity("mmol/L/h", 0, 1000) = Field(description="peak oxygen uptake rate, mmol/L/h")
    do_setpoint: quantity("percent", 0, 100) = Field(30.0, description="DO setpoint, % of air saturation")
    c_star_air: quantity("mmol/L", 0.01, 2) = Field(
        0.2, description="O2 solubility with air, mmol/L (water at 37 C 0.21; media slightly lower)"
    )
    oxygen_fraction: quantity("1", 0.01, 1) = Field(0.2095, description="O2 mole fraction of the sparge gas")
    vvm_min: quantity("1/min", 0, 5) = Field(0.002, description="lowest gas flow the sparger handles, vvm")


class StirredTankCase(QuantitySection):
    lab: VesselSpec
    agitation: quantity("rpm", 0.1, 5000) = Field(description="lab agitation speed, rpm")
    vvm: quantity("1/min", 0, 5) | None = Field(None, description="lab gas flow, vvm (or give gas_flow)")
    gas_flow: quantity("L/min", 0, 1000000.0) | None = Field(None, description="lab gas flow, L/min (or give vvm)")
    target_volume: quantity("m^3", 1e-5, 200) = Field(description="target working volume, m^3 (or '2000 L')")
    target: TargetGeometry = Field(default_factory=TargetGeometry)
    criterion: Literal[tuple(CRITERIA)] = "power_per_volume"
    gas_basis: Literal[tuple(GAS_BASES)] = "vvm"
    kla_correlation: str = "van_t_riet_coalescing"
    density: quantity("kg/m^3", 500, 2000) = 1000.0
    viscosity: quantity("Pa*s", 1e-4, 1.0) = ag.MU_MEDIUM
    oxygen: OxygenDemand | None = None

    @field_validator("kla_correlation")
    @classmethod
    def _known_correlation(cls, v):
        ag.find_kla_correlation(v)
        return v

    @model_validator(mode="after")
    def _one_gas_flow(self):
        if (self.vvm is None) == (self.gas_flow is None):
            raise ValueError("give exactly one of vvm or gas_flow for the lab gas flow")
        return self

    def lab_vessel(self) -> ag.Vessel:
        return self.lab.vessel()

    def target_vessel(self) -> ag.Vessel:
        lab = self.lab.model_dump()
        lab.update({k: v for k, v in self.target.model_dump().items() if v is not None}, volume=self.target_volume)
        return VesselSpec(**lab).vessel()

    def lab_gas_flow(self) -> float:
        """Lab gas flow in m^3/s."""
        if self.gas_flow is not None:
            return self.si("gas_flow")
        return ag.gas_flow_from_vvm(self.vvm, self.lab.volume)


class HomogenizerLab(QuantitySection):
    pressure: quantity("bar", 100, 2000) = Field(1000.0, description="homogenizing pressure, bar")
    n_passes: int = Field(6, ge=1, le=30)
    flow_rate: quantity("L/h", 0.06, 6000) = Field(15.0, description="flow at the operating pressure, L/h")
    chamber_volume: quantity("nL", 1, 1e6) = Field(
        _EMULSION["chamber_volume"][1], description="dissipation-zone volume, nL"
    )
    batch_volume: quantity("L", 0.01, 1e5) = Field(5.0, description="batch volume, L")
    T_inlet: quantity("degC", 2, 60) = Field(20.0, description="product temperature entering each pass, degC")
    cooling: bool = True


class HomogenizerTarget(QuantitySection):
    flow_rate: quantity("L/h", 0.06, 6000) = Field(description="production flow at the operating pressure, L/h")
    batch_volume: quantity("L", 0.01, 1e5) = Field(description="production batch volume, L")
    chamber_volume: quantity("nL", 1, 1000000.0) | None = Field(
        None, description="dissipation-zone volume, nL; default: scaled with the flow to keep t_res and eps"
    )
    pressure: quantity("bar", 100, 2000) | None = Field(None, description="default: the lab pressure")
    n_passes: int | None = Field(None, ge=1, le=30)
    T_inlet: quantity("degC", 2, 60) | None = None


class HomogenizerCase(QuantitySection):
    lab: HomogenizerLab = Field(default_factory=HomogenizerLab)
    target: HomogenizerTarget
    oil_fraction: _emulsion_quantity("oil_fraction") = _EMULSION["oil_fraction"][1]
    rho_c: _emulsion_quantity("rho_c") = _EMULSION["rho_c"][1]
    rho_d: _emulsion_quantity("rho_d") = _EMULSION["rho_d"][1]
    cp: _emulsion_quantity("cp") = _EMULSION["cp"][1]

    def fluid(self) -> dict[str, float]:
        return {"oil_fraction": self.oil_fraction, "rho_c": self.rho_c, "rho_d": self.rho_d, "cp": self.cp}


class ScaleUpSpec(StrictModel):
    """A lab-scale scenario and the target scale: ``kind`` says which section applies."""

    kind: Literal["stirred_tank", "homogenizer"] = "stirred_tank"
    title: str = Field("", max_length=1000, description="label shown in reports")
    stirred_tank: StirredTankCase | None = None
    homogenizer: HomogenizerCase | None = None
    limits: dict[str, Any] = Field(default_factory=dict, description="overrides of the typical-range limits")

    @model_validator(mode="after")
    def _section_matches_kind(self):
        other = "homogenizer" if self.kind == "stirred_tank" else "stirred_tank"
        if getattr(self, self.kind) is None:
            raise ValueError(f"kind '{self.kind}' needs a '{self.kind}' section")
        if getattr(self, other) is not None:
            raise ValueError(f"kind '{self.kind}' takes no '{other}' section")
        try:
            self.limit_values()
        except ParameterError as exc:
            raise ValueError("; ".join(f"limits.{f}: {m}" for f, m in exc.errors)) from None
        return self

    def limit_table(self):
        return STIRRED_TANK_LIMITS if self.kind == "stirred_tank" else HOMOGENIZER_LIMITS

    def limit_values(self) -> dict[str, float]:
        return self.limit_table().resolve(self.limits, "limits")


#: a scale-up spec that cannot be read or validated; ``errors`` lists ``(field, message)``
ScaleUpSpecError = SpecError


def parse_scaleup_spec(data: Any, source: str = "spec") -> ScaleUpSpec:
    """Validate a mapping into a ScaleUpSpec; ScaleUpSpecError lists every bad field by its dotted path."""
    if isinstance(data, ScaleUpSpec):
        return data
    if not isinstance(data, dict):
        raise ScaleUpSpecError(source, [("(top level)", "expected a mapping with 'kind' and its section")])
    try:
        return ScaleUpSpec.model_validate(data)
    except ValidationError as exc:
        raise ScaleUpSpecError(source, _field_errors(exc)) from None


def _field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """pydantic errors as (dotted field, message). The spec-level check writes "field: text" parts joined by
    "; " (``limits.tip_speed_max: ...``): each becomes an entry on its field."""
    out = []
    for e in exc.errors():
        loc, msg = _loc(e["loc"]), e["msg"].removeprefix("Value error, ")
        if loc != "(top level)" or not e["msg"].startswith("Value error, "):
            out.append((loc, msg))
            continue
        for part in msg.split("; "):
            field, sep, text = part.partition(": ")
            out.append((field, text) if sep and field and " " not in field else (loc, part))
    return out


def _loc(loc) -> str:
    # drop pydantic's internal tags such as "function-after[...]" from the path
    parts = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
    return ".".join(parts) or "(top level)"


def load_scaleup_spec(path: str | Path) -> ScaleUpSpec:
    return parse_scaleup_spec(read_spec_file(path), str(path))
