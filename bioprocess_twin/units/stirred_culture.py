"""What the stirred culture production units share (``cho_bioreactor.py``, ``microbial_bioreactor.py``).

Impeller and kLa configuration, the vessel sized for the largest volume the recipe can reach
(``Vessel.from_volume``), the impeller speed for a target ungassed P/V at the initial volume
(P0 = n Np rho N^3 D^5 solved for N), feed checks, and components the model does not know
passing with the liquid into the harvest. Equations of the culture models: ``processes/culture_kinetics.py``.

SI inside: the unit's values (``self.values``) and streams are SI (m^3, kg, K, s, 1/s); the model's
parameters, inputs, phases and states are in its declared units, converted by pint's factors
(:func:`declared`, :func:`states_in_si`, :func:`states_declared`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.recipe import Phase
from ..core.streams import Stream, UnitOperation
from ..core.units import from_si, to_magnitude, to_si
from ..correlations.agitation import (
    IMPELLERS,
    KLA_CORRELATIONS,
    Vessel,
    find_impeller,
    find_kla_correlation,
    speed_for_power,
)
from ..processes.culture_kinetics import DEFAULT_KLA, VESSEL_PARAMETERS

#: temperatures of the example media: the culture at 37 degC, a feed medium at room temperature
MEDIUM_TEMPERATURE = to_si(37.0, "degC")
FEED_MEDIUM_TEMPERATURE = to_si(25.0, "degC")
#: sizing and gassing parameters every stirred culture unit shares
VESSEL_OPERATING = (
    Parameter(
        name="aeration",
        units="1/min",
        default=0.05,
        bounds=(1e-4, 2),
        source="CHO 0.01-0.1 vvm; microbial 0.5-2 vvm",
        description="sparge gas per liquid volume (vvm)",
    ),
    Parameter(
        name="aspect_ratio",
        units="1",
        default=1.5,
        bounds=(0.5, 4),
        source="single-use bioreactors H/T ~ 1.5-2",
        description="liquid height / tank diameter",
    ),
    Parameter(
        name="d_over_t", units="1", default=0.4, bounds=(0.15, 0.7), source="", description="impeller / tank diameter"
    ),
    Parameter(
        name="do_setpoint",
        units="percent",
        default=40.0,
        bounds=(1, 100),
        source="",
        description="DO set point of the O2-enrichment controller",
    ),
)
#: vessel parameters the unit derives from its volume and configuration (not given by the user)
VESSEL_DERIVED = {"tank_diameter", "impeller_diameter", "n_impellers", "power_number", "do_setpoint"}
#: vessel parameters of the model that the unit passes on unchanged
VESSEL_FREE = ("kla_factor", "c_star_25", "solubility_dH", "do_gain", "density")
#: relative slack of the feed-volume check (round-off of rate x duration)
FEED_VOLUME_RTOL = 1e-9
#: fewest reported points of a default phase
MIN_POINTS = 4
#: below this DO (fraction of air saturation) the unit warns that O2 transfer limits the culture
DO_WARNING = to_si(10.0, "percent")
#: relative slack before "more feed was used than the inlet holds" is reported
FEED_SHARE_RTOL = 1e-6


class BioreactorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    impeller: str = Field("pitched_blade", description=f"one of {', '.join(IMPELLERS)}")
    n_impellers: int = Field(1, ge=1, le=6)
    kla_correlation: str = Field(DEFAULT_KLA, description=f"one of {', '.join(KLA_CORRELATIONS)}")


def model_parameters(kinetics: ParameterTable | Sequence[Parameter]) -> tuple[Parameter, ...]:
    """Parameters of a culture unit taken from its model: the kinetic parameters plus the free vessel ones."""
    return (*kinetics, *(p for p in VESSEL_PARAMETERS if p.name in VESSEL_FREE))


class StirredCulture(UnitOperation):
    """What the stirred culture units share: impeller and kLa config, vessel sizing from the largest
    volume, impeller speed from P/V, feed checks, and components the model does not know passing
    through into the harvest."""

    Config = BioreactorConfig
    cell_component = "cells"

    def __init__(self, name: str, parameters: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None):
        super().__init__(name, parameters, config)
        errors = []
        for fld, check in (("impeller", find_impeller), ("kla_correlation", find_kla_correlation)):
            try:
                check(getattr(self.config, fld))
            except ParameterError as exc:
                errors += [(f"{name}.config.{f}", m) for f, m in exc.errors]
        if errors:
            raise ParameterError(errors, f"unit '{name}' config")

    def check_feed(self, feed: Stream | None, phases: Sequence[Phase]) -> float:
        """Largest feed volume (m^3) the phases can use, after checking the feed inlet can supply it."""
        fed_max = feed_volume_needed(self.model, phases)
        errors = []
        if fed_max > 0 and feed is None:
            errors.append((f"{self.name}.feed", "the phases feed, but no feed inlet is connected"))
        elif feed is not None:
            if feed.mass.get(self.cell_component, 0.0) > 0:
                errors.append((f"{self.name}.feed.mass.{self.cell_component}", "the feed medium must not carry cells"))
            if fed_max > feed.volume * (1 + FEED_VOLUME_RTOL):
                errors.append(
                    (
                        f"{self.name}.feed.volume",
                        f"{from_si(feed.volume, 'L'):g} L is less than the "
                        f"{from_si(fed_max, 'L'):g} L the phases can feed",
                    )
                )
        if errors:
            raise ParameterError(errors, f"unit '{self.name}' inlets")
        return fed_max

    def vessel_settings(self, V0: float, fed_max: float) -> tuple[dict[str, float], dict[str, float]]:
        """The vessel sized for the largest volume (V0 + fed_max, m^3), as model parameters, and the inputs
        that follow: the impeller speed (1/s) for the target ungassed P/V at V0, and the aeration; all SI."""
        v = self.values
        imp = IMPELLERS[self.config.impeller]
        n_imp = self.config.n_impellers
        vessel = Vessel.from_volume(V0 + fed_max, v["aspect_ratio"], v["d_over_t"], imp.name, n_imp)
        D = vessel.impeller_diameter
        N = speed_for_power(v["power_per_volume"] * V0, imp.power_number, v["density"], D, n_imp)
        parameters = dict(
            tank_diameter=vessel.tank_diameter,
            impeller_diameter=D,
            n_impellers=n_imp,
            power_number=imp.power_number,
            do_setpoint=v["do_setpoint"],
        )
        return parameters, {"agitation": N, "aeration": v["aeration"]}

    @staticmethod
    def fed_share(feed: Stream | None, fed: float) -> float:
        """Share of the feed inlet used, from the fed volume (m^3)."""
        return fed / feed.volume if feed is not None and feed.volume > 0 else 0.0

    @staticmethod
    def pass_through(
        harvest: dict[str, float], known: set[str], medium: Stream, feed: Stream | None, fed_share: float
    ) -> dict[str, float]:
        """Add to ``harvest`` the components the model does not track, from the medium and the used feed."""
        for source, share in ((medium, 1.0), (feed, fed_share)):
            if source is None:
                continue
            for comp, kg in source.mass.items():
                if comp not in known:
                    harvest[comp] = harvest.get(comp, 0.0) + share * kg
        return harvest

    def feed_outlets(self, feed: Stream | None, fed_share: float) -> dict[str, Stream]:
        return {} if feed is None else {"feed_remaining": feed.scaled(max(1.0 - fed_share, 0.0), "feed_remaining")}

    def common_warnings(self, min_do_pct: float, fed_share: float) -> list[str]:
        """Warnings on the lowest DO (in % air saturation, as the KPIs report it) and the feed used."""
        warnings = []
        if to_si(min_do_pct, "percent") < DO_WARNING:
            warnings.append(f"DO fell to {min_do_pct:.1f} % air saturation: O2 transfer limits the culture")
        if fed_share > 1 + FEED_SHARE_RTOL:
            warnings.append("more feed was used than the feed inlet holds")
        return warnings


def feed_volume_needed(model, phases: Sequence[Phase]) -> float:
    """Largest feed volume (m^3) the phases can use: rate x longest duration, plus shots of fed_volume
    (phase values are in the model's units)."""
    rate_units, volume_units = model.inputs["feed_rate"].units, model.state("fed_volume").units
    total, rate = 0.0, 0.0
    for p in phases:
        r = p.inputs.get("feed_rate", rate)
        rate = (
            float(np.max(np.asarray(r, dtype=float)[..., -1])) if isinstance(r, list) else to_magnitude(r, rate_units)
        )
        total += to_si(rate, rate_units) * to_si(p.duration, model.time_units) + to_si(
            float(p.add_states.get("fed_volume", 0.0)), volume_units
        )
    return total
