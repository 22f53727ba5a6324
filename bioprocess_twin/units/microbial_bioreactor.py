"""The microbial fed-batch as a production unit: medium and feed streams in, broth and unused feed out.

The unit has the process model ``microbial_fed_batch`` (``processes/microbial_fed_batch.py``) (Monod, Haldane or Contois growth,
Luedeking–Piret product, Pirt maintenance, DO with an O2-enrichment controller; equations there and
in docs/models/bioreactor.md). Its initial charge comes from the "medium" inlet: volume, the
inoculum as "biomass" mass, the substrate and the product (component names set by the config,
default "glucose" and "product"); the feed substrate concentration comes from the optional "feed"
inlet. The vessel is sized to the largest volume the recipe can reach, and the impeller speed is
set for a target ungassed P/V at the initial volume, as for the CHO unit (``StirredCulture``).

Default phases: "batch" (no feed, ``batch_hours``), then "fed_batch" with a constant feed of
``feed_rate_pct`` of the initial volume per hour until ``culture_hours``. Given phases may end on
conditions, e.g. ``until: {variable: S_conc, op: "<", value: 0.1, then: stop}``.

SI inside: the unit's values and streams are SI; the model's biomass, substrate and product
amounts are masses, so in SI they are the stream masses (kg).

Balance convention (kg, per component):
    in  = medium + feed (the whole feed inlet, used or not)
    out = broth (biomass, substrate, product and the components the model does not know)
          + feed_remaining
    generated = integrated rates (states gen_X, gen_S, gen_P): biomass and product formed (+),
          substrate consumed (-)
O2, CO2 and metabolic water are not balanced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.phased import run_phases
from ..core.recipe import Phase, PhaseRecord
from ..core.simulation import SolverOptions
from ..core.streams import Stream, UnitResult
from ..core.units import from_si, to_si
from ..correlations.agitation import RHO_WATER
from ..processes.culture_kinetics import AIR_SATURATED, GROWTH_LAW_PARAMETERS, GROWTH_LAWS, MICROBIAL_KINETICS
from ..processes.microbial_fed_batch import (
    MICROBIAL_KPI_UNITS,
    MicrobialFedBatch,
    build_microbial_model,
    microbial_kpis,
)
from .stirred_culture import (
    FEED_MEDIUM_TEMPERATURE,
    MEDIUM_TEMPERATURE,
    MIN_POINTS,
    VESSEL_OPERATING,
    BioreactorConfig,
    StirredCulture,
    model_parameters,
)

#: spacing of the reported points of the default phases
POINT_SPACING = to_si(0.25, "h")
#: water in the example medium and feed: kg = share x water density x volume
MEDIUM_WATER_SHARE, FEED_WATER_SHARE = 0.98, 0.7


def _growth_law_parameters() -> tuple[Parameter, ...]:
    """Every growth law's own parameters, once each (Monod and Haldane share K_s)."""
    params: dict[str, Parameter] = {}
    for law in GROWTH_LAWS:
        for p in GROWTH_LAW_PARAMETERS[law]:
            params.setdefault(p.name, p)
    return tuple(params.values())


OPERATING = (
    Parameter(
        name="batch_hours",
        units="h",
        default=8.0,
        bounds=(0.1, 200),
        source="",
        description="batch phase before feeding starts",
    ),
    Parameter(
        name="culture_hours",
        units="h",
        default=30.0,
        bounds=(0.5, 500),
        source="E. coli fed-batch 20-40 h",
        description="longest culture time",
    ),
    Parameter(
        name="feed_rate_pct",
        units="percent/h",
        default=0.4,
        bounds=(0, 20),
        source="",
        description="constant feed in the fed-batch phase, per initial volume",
    ),
    Parameter(
        name="culture_temperature",
        units="degC",
        default=37.0,
        bounds=(15, 45),
        source="E. coli optimum",
        description="culture temperature",
    ),
    Parameter(
        name="power_per_volume",
        units="W/m^3",
        default=3000.0,
        bounds=(10, 20000),
        source="microbial fermenters 1-5 kW/m3 (Garcia-Ochoa & Gomez 2009, Biotechnol Adv 27:153)",
        description="ungassed power per initial volume; sets the impeller speed",
    ),
    *(replace(p, default=1.0, source="microbial 0.5-2 vvm") if p.name == "aeration" else p for p in VESSEL_OPERATING),
)


class MicrobialConfig(BioreactorConfig):
    impeller: str = Field("rushton", description="Rushton turbines are the microbial default")
    n_impellers: int = Field(2, ge=1, le=6)
    growth_law: Literal["monod", "haldane", "contois"] = "monod"
    substrate: str = Field("glucose", min_length=1, description="stream component the cells grow on")
    product: str = Field("product", min_length=1, description="stream component of the Luedeking-Piret product")


class MicrobialBioreactor(StirredCulture):
    kind = "microbial_bioreactor"
    kpi_units = MICROBIAL_KPI_UNITS
    description = "Microbial fed-batch (Monod/Haldane/Contois, Luedeking-Piret product, DO control)"
    parameters = ParameterTable(model_parameters((*MICROBIAL_KINETICS, *_growth_law_parameters())) + OPERATING)
    inlets = ("medium", "feed")
    optional_inlets = ("feed",)
    outlets = ("broth", "feed_remaining")
    Config = MicrobialConfig
    process = MicrobialFedBatch
    cell_component = "biomass"

    @property
    def model(self):
        return build_microbial_model(self.config.growth_law, self.config.kla_correlation)

    @property
    def components(self) -> dict[str, str]:
        """Model state -> stream component."""
        c = self.config
        return {"X": self.cell_component, "S": c.substrate, "P": c.product}

    def default_phases(self, V0: float) -> list[Phase]:
        """The default phases (in the model's units) for an initial volume V0 (m^3)."""
        v, model = self.values, self.model

        def model_time(seconds):
            return from_si(seconds, model.time_units)

        t_batch, t_end = model_time(min(v["batch_hours"], v["culture_hours"])), model_time(v["culture_hours"])
        spacing = model_time(POINT_SPACING)
        phases = [
            Phase(
                name="batch",
                duration=t_batch,
                points=int(max(MIN_POINTS, t_batch / spacing)),
                inputs={
                    "feed_rate": 0.0,
                    "temperature": from_si(v["culture_temperature"], model.inputs["temperature"].units),
                },
            )
        ]
        if t_end > t_batch:
            phases.append(
                Phase(
                    name="fed_batch",
                    duration=t_end - t_batch,
                    points=int(max(MIN_POINTS, (t_end - t_batch) / spacing)),
                    inputs={"feed_rate": from_si(v["feed_rate_pct"] * V0, model.inputs["feed_rate"].units)},
                )
            )
        return phases

    def run(
        self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None, options: SolverOptions | None = None
    ) -> UnitResult:
        self.check_inlets(inlets)
        model = self.model
        medium, feed = inlets["medium"], inlets.get("feed")
        initial = self._charge(medium)
        V0 = medium.volume
        phases = (
            self.default_phases(V0)
            if phases is None
            else [p if isinstance(p, Phase) else Phase.model_validate(p) for p in phases]
        )
        fed_max = self.check_feed(feed, phases)
        names = set(model.parameters.names)
        params = {k: val for k, val in self.values.items() if k in names and k != "do_setpoint"}
        params["feed_substrate"] = feed.concentration(self.config.substrate) if feed is not None else 0.0
        vessel, inputs = self.vessel_settings(V0, fed_max)
        params |= vessel
        inputs["temperature"] = self.values["culture_temperature"]
        out = run_phases(
            model,
            phases,
            parameters=model.from_si(params),
            inputs=model.from_si(inputs),
            initial=initial,
            options=options,
        )
        df = out.result.frame(include_vectors=False)
        if not out.ok:
            return UnitResult(
                self.name,
                self.kind,
                "failed",
                f"phase {out.phases[-1].name}: {out.result.message}",
                outlets={},
                duration=out.end,
                phases=out.phases,
                series=df,
            )
        return self._result(medium, feed, model.to_si(out.final_state()), df, out.phases)

    def _charge(self, medium: Stream) -> dict:
        """Initial states (the model's units) from the medium: volume and the masses of biomass, substrate, product."""
        errors = []
        if medium.volume <= 0:
            errors.append((f"{self.name}.medium.volume", "the medium must have a volume > 0"))
        if medium.mass.get(self.cell_component, 0.0) <= 0:
            errors.append(
                (
                    f"{self.name}.medium.mass.{self.cell_component}",
                    f"the medium carries no cells to inoculate (add the inoculum as '{self.cell_component}' mass)",
                )
            )
        if errors:
            raise ParameterError(errors, f"unit '{self.name}' inlets")
        x = {n.name: 0.0 for n in self.model.states}
        x.update(
            V=medium.volume,
            DO=AIR_SATURATED,
            **{state: medium.mass.get(comp, 0.0) for state, comp in self.components.items()},
        )
        return self.model.from_si(x)

    def _result(
        self, medium: Stream, feed: Stream | None, x: dict, df: pd.DataFrame, records: list[PhaseRecord]
    ) -> UnitResult:
        """Outlets, generated masses and KPIs from the final states ``x`` (SI)."""
        fed_share = self.fed_share(feed, x["fed_volume"])
        comps = self.components
        broth = {comp: max(x[state], 0.0) for state, comp in comps.items()}
        self.pass_through(broth, set(comps.values()), medium, feed, fed_share)
        T = to_si(float(df["temperature"].iloc[-1]), self.model.inputs["temperature"].units)
        outlets = {"broth": Stream("broth", x["V"], broth, T), **self.feed_outlets(feed, fed_share)}
        generated = {comp: x[f"gen_{state}"] for state, comp in comps.items()}
        kpis = microbial_kpis(df)
        warnings = self.common_warnings(kpis["min_DO_pct"], fed_share)
        return UnitResult(
            self.name,
            self.kind,
            "ok",
            f"culture ran {kpis['duration_h']:.2f} h",
            outlets,
            generated,
            float(df.index[-1]),
            records,
            kpis,
            df,
            warnings,
        )


def microbial_medium(
    volume_L: float = 1.0,
    biomass_g_per_L: float = 0.1,
    glucose_g_per_L: float = 10.0,
    salts_g_per_L: float = 10.0,
    name: str = "medium",
) -> Stream:
    """A defined mineral medium with glucose and its inoculum as a Stream (SI)."""
    V = to_si(volume_L, "L")
    mass = {
        "water": RHO_WATER * V * MEDIUM_WATER_SHARE,
        "glucose": to_si(glucose_g_per_L, "g/L") * V,
        "salts": to_si(salts_g_per_L, "g/L") * V,
        "biomass": to_si(biomass_g_per_L, "g/L") * V,
    }
    return Stream(name, V, mass, MEDIUM_TEMPERATURE)


def microbial_feed(volume_L: float = 0.2, glucose_g_per_L: float = 500.0, name: str = "feed") -> Stream:
    """A concentrated glucose feed as a Stream (SI)."""
    V = to_si(volume_L, "L")
    return Stream(
        name,
        V,
        {"water": RHO_WATER * V * FEED_WATER_SHARE, "glucose": to_si(glucose_g_per_L, "g/L") * V},
        FEED_MEDIUM_TEMPERATURE,
    )


__all__ = ["MicrobialBioreactor", "MicrobialConfig", "microbial_medium", "microbial_feed"]
