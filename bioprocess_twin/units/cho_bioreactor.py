"""The CHO bioreactor as a production unit: medium and feed streams in, harvest, cells and unused feed out.

The unit has the process model ``cho_fed_batch`` (``processes/cho_fed_batch.py``; equations there and in
docs/models/bioreactor.md); what it shares with the microbial unit is in ``stirred_culture.py``.
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

SI inside: the unit's values and streams are SI (``cell_dry_mass`` in kg per cell, durations in s,
the feed rate per initial volume in 1/s); model amounts convert to kg through the molar masses
(mol -> kg) or directly (antigen, HCP, DNA in kg), cells through ``cell_dry_mass``.

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
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.phased import run_phases
from ..core.recipe import Phase, PhaseRecord, Transition
from ..core.simulation import SolverOptions
from ..core.streams import Stream, UnitResult
from ..core.units import from_si, to_si
from ..correlations.agitation import RHO_WATER
from ..processes.cho_fed_batch import (
    BATCH_DAYS,
    CHO_KPI_UNITS,
    CHO_METABOLITES,
    CHO_PROTEINS,
    CHO_SPECIES,
    CULTURE_TEMPERATURE,
    MOLAR_MASS,
    SHIFT_TEMPERATURE,
    ChoFedBatch,
    build_cho_model,
    cho_kpis,
)
from ..processes.culture_kinetics import AIR_SATURATED, CHO_KINETICS
from .stirred_culture import (
    FEED_MEDIUM_TEMPERATURE,
    MEDIUM_TEMPERATURE,
    MIN_POINTS,
    VESSEL_DERIVED,
    VESSEL_OPERATING,
    BioreactorConfig,
    StirredCulture,
    model_parameters,
)

#: kg per SI amount of each species: the molar mass (kg/mol) of the metabolites (mol); 1 for antigen,
#: HCP and DNA, whose SI amount is a mass (kg)
KG_PER_SI_AMOUNT = {s: to_si(MOLAR_MASS[s], "g/mol") for s in CHO_METABOLITES} | {s: 1.0 for s in CHO_PROTEINS}
#: spacing of the reported points of the default phases
POINT_SPACING = to_si(4.0, "h")
#: water in the example media and feeds: kg = share x water density x volume
MEDIUM_WATER_SHARE, FEED_WATER_SHARE = 0.99, 0.93

OPERATING = (
    BATCH_DAYS,
    Parameter(
        name="culture_days",
        units="day",
        default=14.0,
        bounds=(1, 60),
        source="typical CHO fed-batch 12-16 days",
        description="longest culture time",
    ),
    Parameter(
        name="feed_rate_pct",
        units="percent/day",
        default=3.0,
        bounds=(0, 50),
        source="typical 2-5 % of the initial volume per day",
        description="continuous feed in the fed-batch phase, per initial volume",
    ),
    Parameter(
        name="viability_threshold",
        units="percent",
        default=60.0,
        bounds=(0, 100),
        source="harvest at 60-80 % viability",
        description="the fed-batch ends (harvest) when the viability falls below this",
    ),
    Parameter(
        name="shift_day",
        units="day",
        default=6.0,
        bounds=(0, 60),
        source="",
        description="day of the temperature shift (>= culture_days: none)",
    ),
    CULTURE_TEMPERATURE,
    SHIFT_TEMPERATURE,
    Parameter(
        name="power_per_volume",
        units="W/m^3",
        default=20.0,
        bounds=(1, 500),
        source="typical CHO culture practice (10-100 W/m3)",
        description="ungassed power per initial volume; sets the impeller speed",
    ),
    Parameter(
        name="cell_dry_mass",
        units="pg",
        default=300.0,
        bounds=(50, 1000),
        source="Szeliova et al. 2020, Metab Eng 61:288 (CHO 250-450 pg dry mass per cell)",
        description="mass of one cell counted in the 'cells' component",
    ),
) + VESSEL_OPERATING


class CHOBioreactor(StirredCulture):
    kind = "bioreactor"
    kpi_units = CHO_KPI_UNITS | {"ended_on_viability": ""}
    description = "CHO fed-batch bioreactor: batch, fed-batch with temperature shift, harvest on viability"
    parameters = ParameterTable(model_parameters(CHO_KINETICS) + OPERATING)
    inlets = ("medium", "feed")
    optional_inlets = ("feed",)
    outlets = ("harvest", "cells", "feed_remaining")
    process = ChoFedBatch

    @property
    def model(self):
        return build_cho_model(self.config.kla_correlation)

    # -- recipe --------------------------------------------------------------------------------
    def default_phases(self, V0: float) -> list[Phase]:
        """The default phases (in the model's units) for an initial volume V0 (m^3)."""
        v, model = self.values, self.model
        in_units = {i.name: i.units for i in model.inputs}

        def model_time(seconds):
            return from_si(seconds, model.time_units)

        t_batch, t_end = model_time(v["batch_days"]), model_time(v["culture_days"])
        t_shift = model_time(v["shift_day"])
        spacing = model_time(POINT_SPACING)
        temperature: Any = from_si(v["culture_temperature"], in_units["temperature"])
        if t_batch < t_shift < t_end:
            temperature = [[0.0, temperature], [t_shift, from_si(v["shift_temperature"], in_units["temperature"])]]
        phases = [
            Phase(
                name="batch",
                duration=min(t_batch, t_end),
                points=int(max(MIN_POINTS, t_batch / spacing)),
                inputs={"feed_rate": 0.0, "temperature": temperature},
            )
        ]
        if t_end > t_batch:
            phases.append(
                Phase(
                    name="fed_batch",
                    duration=t_end - t_batch,
                    points=int(max(MIN_POINTS, (t_end - t_batch) / spacing)),
                    inputs={"feed_rate": from_si(v["feed_rate_pct"] * V0, in_units["feed_rate"])},
                    until=Transition(
                        variable="viability",
                        op="<",
                        then="stop",
                        value=model.from_si({"viability": v["viability_threshold"]})["viability"],
                    ),
                )
            )
        return phases

    # -- run -----------------------------------------------------------------------------------
    def run(
        self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None, options: SolverOptions | None = None
    ) -> UnitResult:
        self.check_inlets(inlets)
        medium, feed = inlets["medium"], inlets.get("feed")
        m_cell = self.values["cell_dry_mass"]  # kg per cell
        initial = self._charge(medium, m_cell)
        V0 = medium.volume
        phases = self.default_phases(V0) if phases is None else [_harvest_on_viability(p) for p in phases]
        params, inputs = self._model_settings(feed, V0, phases)
        out = run_phases(self.model, phases, parameters=params, inputs=inputs, initial=initial, options=options)
        records = out.phases
        df = out.result.frame(include_vectors=False)
        if not out.ok:
            return UnitResult(
                self.name,
                self.kind,
                "failed",
                f"phase {records[-1].name}: {out.result.message}",
                outlets={},
                duration=out.end,
                phases=records,
                series=df,
            )
        message = ""
        if records[-1].ended_by == "condition" and phases[len(records) - 1].until.variable == "viability":
            day = from_si(to_si(out.end, self.model.time_units), "day")
            message = f"harvest: viability fell below {phases[len(records) - 1].until.value:g} % at day {day:.2f}"
        x = self.model.to_si(out.final_state())
        return self._result(medium, feed, x, df, records, m_cell, message)

    def _charge(self, medium: Stream, m_cell: float) -> dict:
        """Initial states (the model's units) from the medium: volume, amounts and the inoculum."""
        errors = []
        if medium.volume <= 0:
            errors.append((f"{self.name}.medium.volume", "the medium must have a volume > 0"))
        if medium.mass.get("cells", 0.0) <= 0:
            errors.append(
                (
                    f"{self.name}.medium.mass.cells",
                    "the medium carries no cells to inoculate (add the inoculum as 'cells' mass)",
                )
            )
        if errors:
            raise ParameterError(errors, f"unit '{self.name}' inlets")
        x = {n.name: 0.0 for n in self.model.states}
        x.update(
            V=medium.volume,
            viable_cells=medium.mass["cells"] / m_cell,
            DO=AIR_SATURATED,
            **{s: medium.mass.get(s, 0.0) / KG_PER_SI_AMOUNT[s] for s in CHO_SPECIES},
        )
        return self.model.from_si(x)

    def _model_settings(self, feed: Stream | None, V0: float, phases: list[Phase]) -> tuple[dict, dict]:
        """Model parameters (kinetics from the unit, feed composition from the feed inlet, vessel from V0)
        and the inputs the vessel sets (agitation, aeration), in the model's units."""
        model = self.model
        names = set(model.parameters.names)
        params = {k: val for k, val in self.values.items() if k in names and k not in VESSEL_DERIVED}
        fed_max = self.check_feed(feed, phases)
        for s in CHO_SPECIES:
            params[f"feed_{s}"] = feed.concentration(s) / KG_PER_SI_AMOUNT[s] if feed is not None else 0.0
        vessel, inputs = self.vessel_settings(V0, fed_max)
        return model.from_si(params | vessel), model.from_si(inputs)

    def _result(
        self,
        medium: Stream,
        feed: Stream | None,
        x: dict,
        df: pd.DataFrame,
        records: list[PhaseRecord],
        m_cell: float,
        message: str,
    ) -> UnitResult:
        """Outlets, generated amounts and KPIs from the final states ``x`` (SI)."""
        model = self.model
        fed_share = self.fed_share(feed, x["fed_volume"])
        harvest = {s: max(x[s], 0.0) * KG_PER_SI_AMOUNT[s] for s in CHO_SPECIES}
        self.pass_through(harvest, set(CHO_SPECIES) | {"cells"}, medium, feed, fed_share)
        T_end = to_si(float(df["temperature"].iloc[-1]), model.inputs["temperature"].units)
        outlets = {
            "harvest": Stream("harvest", x["V"], harvest, T_end),
            "cells": Stream("cells", 0.0, {"cells": (x["viable_cells"] + x["dead_cells"]) * m_cell}, T_end),
            **self.feed_outlets(feed, fed_share),
        }
        generated = {s: x[f"gen_{s}"] * KG_PER_SI_AMOUNT[s] for s in CHO_SPECIES} | {"cells": x["gen_cells"] * m_cell}
        kpis = cho_kpis(df, model.time_units)
        kpis["ended_on_viability"] = float(records[-1].ended_by == "condition")
        warnings = self.common_warnings(kpis["min_DO_pct"], fed_share)
        if not math.isfinite(kpis["final_titre_g_per_L"]):
            warnings.append("titre is not finite")
        return UnitResult(
            self.name,
            self.kind,
            "ok",
            message or "culture ran its full duration",
            outlets,
            generated,
            float(df.index[-1]),
            records,
            kpis,
            df,
            warnings,
        )


def _harvest_on_viability(phase) -> Phase:
    """A given phase; a condition on viability is a harvest trigger, so it ends the culture."""
    phase = phase if isinstance(phase, Phase) else Phase.model_validate(phase)
    if phase.until is not None and phase.until.variable == "viability":
        return phase.model_copy(update={"until": phase.until.model_copy(update={"then": "stop"})})
    return phase


def cho_medium(
    volume_L: float = 2.0,
    seed_density: float = 0.4,
    cell_dry_mass_pg: float = 300.0,
    glucose_mM: float = 33.0,
    glutamine_mM: float = 6.0,
    ammonia_mM: float = 0.5,
    salts_g_per_L: float = 8.0,
    name: str = "medium",
) -> Stream:
    """A basal CHO medium with its inoculum (seed_density in 1e6 cells/mL) as a Stream (SI)."""
    V = to_si(volume_L, "L")
    cells = to_si(seed_density, "Mcount/mL") * V * to_si(cell_dry_mass_pg, "pg")
    mass = {
        "water": RHO_WATER * V * MEDIUM_WATER_SHARE,
        "glucose": to_si(glucose_mM, "mmol/L") * V * KG_PER_SI_AMOUNT["glucose"],
        "glutamine": to_si(glutamine_mM, "mmol/L") * V * KG_PER_SI_AMOUNT["glutamine"],
        "ammonia": to_si(ammonia_mM, "mmol/L") * V * KG_PER_SI_AMOUNT["ammonia"],
        "salts": to_si(salts_g_per_L, "g/L") * V,
        "cells": cells,
    }
    return Stream(name, V, mass, MEDIUM_TEMPERATURE)


def cho_feed(
    volume_L: float = 1.0,
    glucose_mM: float = 350.0,
    glutamine_mM: float = 40.0,
    salts_g_per_L: float = 5.0,
    name: str = "feed",
) -> Stream:
    """A concentrated CHO feed medium as a Stream (SI)."""
    V = to_si(volume_L, "L")
    mass = {
        "water": RHO_WATER * V * FEED_WATER_SHARE,
        "glucose": to_si(glucose_mM, "mmol/L") * V * KG_PER_SI_AMOUNT["glucose"],
        "glutamine": to_si(glutamine_mM, "mmol/L") * V * KG_PER_SI_AMOUNT["glutamine"],
        "salts": to_si(salts_g_per_L, "g/L") * V,
    }
    return Stream(name, V, mass, FEED_MEDIUM_TEMPERATURE)


__all__ = [
    "CHOBioreactor",
    "StirredCulture",
    "VESSEL_OPERATING",
    "model_parameters",
    "BioreactorConfig",
    "cho_medium",
    "cho_feed",
    "KG_PER_SI_AMOUNT",
]
