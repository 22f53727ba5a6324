"""The CHO bioreactor as a production unit: medium and feed streams in, harvest, cells and unused feed out.

The unit runs the CHO model of ``bioreactor.py`` (equations there and in docs/models/bioreactor.md).
Its initial charge comes from the "medium" inlet (volume, glucose, glutamine, lactate, ammonia,
antigen, HCP, DNA and the inoculum as "cells" mass, all viable), the feed composition from the
optional "feed" inlet. The vessel is sized to the largest volume the recipe can reach
(``Vessel.from_volume``), and the impeller speed is set for a target ungassed P/V at the initial
volume (P0 = n Np rho N^3 D^5 solved for N).

Default phases: "batch" (no feed, ``batch_days``), then "fed_batch" with a constant feed of
``feed_rate_pct`` of the initial volume per day and a temperature shift at ``shift_day``, until
day ``culture_days`` or, earlier, until the viability falls below ``viability_threshold``. A phase
that ends because of a condition on ``viability`` ends the culture (harvest); other conditions
move on to the next phase.

Balance convention (kg, per component):
    in  = medium + feed (the whole feed inlet, used or not)
    out = harvest (liquid: water, metabolites, antigen, HCP, DNA, pass-through components)
          + cells (viable + dead cell mass, cell_dry_mass per cell) + feed_remaining
    generated = integrated reaction rates (states gen_*): glucose/glutamine consumed (-),
          lactate/ammonia/antigen/HCP/DNA formed (+), cells formed by growth (+)
Components the model does not know (water, salts, ...) pass with the liquid into the harvest.
Metabolic water, CO2 and O2 are not balanced.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.phased import Transition, UnitPhase, run_phases
from ..core.registry import register_unit
from ..core.simulation import SolverOptions
from ..core.streams import PhaseRecord, Stream, UnitOperation, UnitResult
from .agitation import IMPELLERS, KLA_CORRELATIONS, Vessel, find_impeller, find_kla_correlation
from .bioreactor import (CHO_METABOLITES, CHO_PROTEINS, CHO_SPECIES, DEFAULT_KLA, MOLAR_MASS, build_cho_model,
                         cho_kpis)
from .bioreactor_kinetics import CHO_KINETICS, VESSEL_PARAMETERS

#: kg per model amount unit: metabolites in mmol, proteins/DNA in mg
KG_PER_UNIT = {s: MOLAR_MASS[s] * 1e-6 for s in CHO_METABOLITES} | {s: 1e-6 for s in CHO_PROTEINS}

#: sizing and gassing rows every stirred culture unit shares
VESSEL_OPERATING = (
    Parameter("aeration", "1/min", 0.05, (1e-4, 2), "CHO 0.01-0.1 vvm; microbial 0.5-2 vvm",
              "sparge gas per liquid volume (vvm)"),
    Parameter("aspect_ratio", "1", 1.5, (0.5, 4), "single-use bioreactors H/T ~ 1.5-2", "liquid height / tank diameter"),
    Parameter("d_over_t", "1", 0.4, (0.15, 0.7), "", "impeller / tank diameter"),
    Parameter("do_setpoint", "percent", 40.0, (1, 100), "", "DO set point of the O2-enrichment controller"),
)

OPERATING = (
    Parameter("batch_days", "day", 3.0, (0.25, 30), "", "batch phase before feeding starts"),
    Parameter("culture_days", "day", 14.0, (1, 60), "typical CHO fed-batch 12-16 days", "longest culture time"),
    Parameter("feed_rate_pct", "percent/day", 3.0, (0, 50), "typical 2-5 % of the initial volume per day",
              "continuous feed in the fed-batch phase, per initial volume"),
    Parameter("viability_threshold", "percent", 60.0, (0, 100), "harvest at 60-80 % viability",
              "the fed-batch ends (harvest) when the viability falls below this"),
    Parameter("shift_day", "day", 6.0, (0, 60), "", "day of the temperature shift (>= culture_days: none)"),
    Parameter("culture_temperature", "degC", 37.0, (30, 40), "", "temperature before the shift"),
    Parameter("shift_temperature", "degC", 32.0, (28, 40), "Kumar et al. 2007", "temperature after the shift"),
    Parameter("power_per_volume", "W/m^3", 20.0, (1, 500), "CHO 10-100 W/m3 (DESIGN.md)",
              "ungassed power per initial volume; sets the impeller speed"),
    Parameter("cell_dry_mass", "pg", 300.0, (50, 1000),
              "Szeliova et al. 2020, Metab Eng 61:288 (CHO 250-450 pg dry mass per cell)",
              "mass of one cell counted in the 'cells' component"),
) + VESSEL_OPERATING
_DERIVED = {"tank_diameter", "impeller_diameter", "n_impellers", "power_number", "do_setpoint"}
_VESSEL_FREE = ("kla_factor", "c_star_25", "solubility_dH", "do_gain", "density")


class BioreactorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    impeller: str = Field("pitched_blade", description=f"one of {', '.join(IMPELLERS)}")
    n_impellers: int = Field(1, ge=1, le=6)
    kla_correlation: str = Field(DEFAULT_KLA, description=f"one of {', '.join(KLA_CORRELATIONS)}")


def model_rows(kinetics) -> tuple[Parameter, ...]:
    """Parameters of a culture unit taken from its model: the kinetic rows plus the free vessel rows."""
    vessel = [row for row in VESSEL_PARAMETERS if row[0] in _VESSEL_FREE]
    return tuple(Parameter(n, u, d, b, s, desc) for n, u, d, b, s, desc in (*kinetics, *vessel))


class StirredCulture(UnitOperation):
    """What the stirred culture units share: impeller and kLa config, vessel sizing from the largest
    volume, impeller speed from P/V, feed checks, and components the model does not know passing
    through into the harvest."""

    Config = BioreactorConfig
    cell_component = "cells"

    def __init__(self, name: str, parameters: Mapping[str, Any] | None = None,
                 config: Mapping[str, Any] | None = None):
        super().__init__(name, parameters, config)
        errors = []
        for fld, check in (("impeller", find_impeller), ("kla_correlation", find_kla_correlation)):
            try:
                check(getattr(self.config, fld))
            except ParameterError as exc:
                errors += [(f"{name}.config.{f}", m) for f, m in exc.errors]
        if errors:
            raise ParameterError(errors, f"unit '{name}' config")

    def check_feed(self, feed: Stream | None, phases: Sequence[UnitPhase]) -> float:
        """Largest feed volume (L) the phases can use, after checking the feed inlet can supply it."""
        fed_max = _feed_volume_needed(phases)
        errors = []
        if fed_max > 0 and feed is None:
            errors.append((f"{self.name}.feed", "the phases feed, but no feed inlet is connected"))
        elif feed is not None:
            if feed.mass.get(self.cell_component, 0.0) > 0:
                errors.append((f"{self.name}.feed.mass.{self.cell_component}", "the feed medium must not carry cells"))
            if fed_max > feed.volume * 1e3 * (1 + 1e-9):
                errors.append((f"{self.name}.feed.volume", f"{feed.volume * 1e3:g} L is less than the "
                               f"{fed_max:g} L the phases can feed"))
        if errors:
            raise ParameterError(errors, f"unit '{self.name}' inlets")
        return fed_max

    def vessel_parameters(self, V0: float, fed_max: float) -> dict[str, float]:
        """Vessel sized for the largest volume (L); impeller speed (rpm) for the target ungassed P/V at V0."""
        v = self.values
        imp = IMPELLERS[self.config.impeller]
        n_imp = self.config.n_impellers
        vessel = Vessel.from_volume((V0 + fed_max) * 1e-3, v["aspect_ratio"], v["d_over_t"], imp.name, n_imp)
        D = vessel.impeller_diameter
        N = (v["power_per_volume"] * V0 * 1e-3 / (n_imp * imp.power_number * v["density"] * D ** 5)) ** (1 / 3)
        return dict(tank_diameter=vessel.tank_diameter, impeller_diameter=D, n_impellers=n_imp,
                    power_number=imp.power_number, do_setpoint=v["do_setpoint"], _agitation_rpm=60.0 * N)

    @staticmethod
    def fed_share(feed: Stream | None, fed_L: float) -> float:
        return fed_L / (feed.volume * 1e3) if feed is not None and feed.volume > 0 else 0.0

    @staticmethod
    def pass_through(harvest: dict[str, float], known: set[str], medium: Stream, feed: Stream | None,
                     fed_share: float) -> dict[str, float]:
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

    def common_warnings(self, min_do: float, fed_share: float) -> list[str]:
        warnings = []
        if min_do < 10:
            warnings.append(f"DO fell to {min_do:.1f} % air saturation: O2 transfer limits the culture")
        if fed_share > 1 + 1e-6:
            warnings.append("more feed was used than the feed inlet holds")
        return warnings


@register_unit
class CHOBioreactor(StirredCulture):
    kind = "bioreactor"
    description = "CHO fed-batch bioreactor: batch, fed-batch with temperature shift, harvest on viability"
    parameters = ParameterTable(model_rows(CHO_KINETICS) + OPERATING)
    inlets = ("medium", "feed")
    optional_inlets = ("feed",)
    outlets = ("harvest", "cells", "feed_remaining")

    @property
    def model(self):
        return build_cho_model(self.config.kla_correlation)

    # -- recipe --------------------------------------------------------------------------------
    def default_phases(self, V0_L: float) -> list[UnitPhase]:
        v = self.values
        t_batch, t_end = v["batch_days"] * 24.0, v["culture_days"] * 24.0
        t_shift = v["shift_day"] * 24.0
        temperature: Any = v["culture_temperature"]
        if t_batch < t_shift < t_end:
            temperature = [[0.0, v["culture_temperature"]], [t_shift, v["shift_temperature"]]]
        phases = [UnitPhase(name="batch", duration=min(t_batch, t_end), points=int(max(4, t_batch / 4)),
                            inputs={"feed_rate": 0.0, "temperature": temperature})]
        if t_end > t_batch:
            phases.append(UnitPhase(
                name="fed_batch", duration=t_end - t_batch, points=int(max(4, (t_end - t_batch) / 4)),
                inputs={"feed_rate": v["feed_rate_pct"] / 100.0 * V0_L / 24.0},
                until=Transition(variable="viability", op="<", value=v["viability_threshold"], then="stop")))
        return phases

    # -- run -----------------------------------------------------------------------------------
    def run(self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None,
            options: SolverOptions | None = None) -> UnitResult:
        self.check_inlets(inlets)
        medium, feed = inlets["medium"], inlets.get("feed")
        m_cell = self.values["cell_dry_mass"] * 1e-15 * 1e9          # kg per 1e9 cells
        initial = self._charge(medium, m_cell)
        V0 = initial["V"]
        phases = self.default_phases(V0) if phases is None else [_harvest_on_viability(p) for p in phases]
        params = self._model_parameters(feed, V0, phases)
        inputs = {"agitation": params.pop("_agitation_rpm"), "aeration": self.values["aeration"]}
        out = run_phases(self.model, phases, parameters=params, inputs=inputs, initial=initial, options=options)
        records = out.phases
        df = out.result.frame(include_vectors=False)
        if not out.ok:
            return UnitResult(self.name, self.kind, "failed", f"phase {records[-1].name}: {out.result.message}",
                              outlets={}, duration=out.end, phases=records, series=df)
        message = ""
        if records[-1].ended_by == "condition" and phases[len(records) - 1].until.variable == "viability":
            message = f"harvest: viability fell below {phases[len(records) - 1].until.value:g} % at day {out.end / 24:.2f}"
        return self._result(medium, feed, out.final_state(), df, records, m_cell, message)

    def _charge(self, medium: Stream, m_cell: float) -> dict:
        errors = []
        V0 = medium.volume * 1e3
        if V0 <= 0:
            errors.append((f"{self.name}.medium.volume", "the medium must have a volume > 0"))
        if medium.mass.get("cells", 0.0) <= 0:
            errors.append((f"{self.name}.medium.mass.cells",
                           "the medium carries no cells to inoculate (add the inoculum as 'cells' mass)"))
        if errors:
            raise ParameterError(errors, f"unit '{self.name}' inlets")
        x = {n.name: 0.0 for n in self.model.states}
        x.update(V=V0, viable_cells=medium.mass["cells"] / m_cell, DO=100.0,
                 **{s: medium.mass.get(s, 0.0) / KG_PER_UNIT[s] for s in CHO_SPECIES})
        return x

    def _model_parameters(self, feed: Stream | None, V0: float, phases: list[UnitPhase]) -> dict:
        """Model parameters: kinetics from the unit, feed composition from the feed inlet, vessel from V0."""
        names = set(self.model.parameters.names)
        params = {k: val for k, val in self.values.items() if k in names and k not in _DERIVED}
        fed_max = self.check_feed(feed, phases)
        for s in CHO_SPECIES:
            params[f"feed_{s}"] = feed.concentration(s) / KG_PER_UNIT[s] * 1e-3 if feed is not None else 0.0
        return params | self.vessel_parameters(V0, fed_max)

    def _result(self, medium: Stream, feed: Stream | None, x: dict, df: pd.DataFrame, records: list[PhaseRecord],
                m_cell: float, message: str) -> UnitResult:
        fed_share = self.fed_share(feed, x["fed_volume"])
        harvest = {s: max(x[s], 0.0) * KG_PER_UNIT[s] for s in CHO_SPECIES}
        self.pass_through(harvest, set(CHO_SPECIES) | {"cells"}, medium, feed, fed_share)
        T_end = float(df["temperature"].iloc[-1]) + 273.15
        outlets = {"harvest": Stream("harvest", x["V"] * 1e-3, harvest, T_end),
                   "cells": Stream("cells", 0.0, {"cells": (x["viable_cells"] + x["dead_cells"]) * m_cell}, T_end),
                   **self.feed_outlets(feed, fed_share)}
        generated = {s: x[f"gen_{s}"] * KG_PER_UNIT[s] for s in CHO_SPECIES} | {"cells": x["gen_cells"] * m_cell}
        kpis = cho_kpis(df)
        kpis["ended_on_viability"] = float(records[-1].ended_by == "condition")
        warnings = self.common_warnings(kpis["min_DO_pct"], fed_share)
        if not math.isfinite(kpis["final_titre_g_per_L"]):
            warnings.append("titre is not finite")
        return UnitResult(self.name, self.kind, "ok", message or "culture ran its full duration", outlets,
                          generated, float(df.index[-1]), records, kpis, df, warnings)


def _harvest_on_viability(phase) -> UnitPhase:
    """A given phase; a condition on viability is a harvest trigger, so it ends the culture."""
    phase = phase if isinstance(phase, UnitPhase) else UnitPhase.model_validate(phase)
    if phase.until is not None and phase.until.variable == "viability":
        return phase.model_copy(update={"until": phase.until.model_copy(update={"then": "stop"})})
    return phase


def _feed_volume_needed(phases: Sequence[UnitPhase]) -> float:
    """Largest feed volume (L) the phases can use: rate x longest duration, plus shots of fed_volume."""
    total, rate = 0.0, 0.0
    for p in phases:
        r = p.inputs.get("feed_rate", rate)
        rate = float(np.max(np.asarray(r, dtype=float)[..., -1])) if isinstance(r, list) else float(r)
        total += rate * p.duration + float(p.add_states.get("fed_volume", 0.0))
    return total


def cho_medium(volume_L: float = 2.0, seed_density: float = 0.4, cell_dry_mass_pg: float = 300.0,
               glucose_mM: float = 33.0, glutamine_mM: float = 6.0, ammonia_mM: float = 0.5,
               salts_g_per_L: float = 8.0, name: str = "medium") -> Stream:
    """A basal CHO medium with its inoculum (seed_density in 1e6 cells/mL) as a Stream."""
    V = volume_L
    cells = seed_density * V * cell_dry_mass_pg * 1e-6                 # 1e9 cells x pg -> kg
    mass = {"water": V * 0.99, "glucose": glucose_mM * V * KG_PER_UNIT["glucose"],
            "glutamine": glutamine_mM * V * KG_PER_UNIT["glutamine"],
            "ammonia": ammonia_mM * V * KG_PER_UNIT["ammonia"], "salts": salts_g_per_L * V * 1e-3, "cells": cells}
    return Stream(name, V * 1e-3, mass, 310.15)


def cho_feed(volume_L: float = 1.0, glucose_mM: float = 350.0, glutamine_mM: float = 40.0,
             salts_g_per_L: float = 5.0, name: str = "feed") -> Stream:
    """A concentrated CHO feed medium as a Stream."""
    V = volume_L
    mass = {"water": V * 0.93, "glucose": glucose_mM * V * KG_PER_UNIT["glucose"],
            "glutamine": glutamine_mM * V * KG_PER_UNIT["glutamine"], "salts": salts_g_per_L * V * 1e-3}
    return Stream(name, V * 1e-3, mass, 298.15)


__all__ = ["CHOBioreactor", "StirredCulture", "VESSEL_OPERATING", "model_rows", "BioreactorConfig", "cho_medium", "cho_feed", "KG_PER_UNIT"]
