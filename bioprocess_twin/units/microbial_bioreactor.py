"""The microbial fed-batch as a production unit: medium and feed streams in, broth and unused feed out.

The unit runs the microbial model of ``bioreactor.py`` (Monod, Haldane or Contois growth,
Luedeking–Piret product, Pirt maintenance, DO with an O2-enrichment controller; equations there and
in docs/models/bioreactor.md). Its initial charge comes from the "medium" inlet: volume, the
inoculum as "biomass" mass, the substrate and the product (component names set by the config,
default "glucose" and "product"); the feed substrate concentration comes from the optional "feed"
inlet. The vessel is sized to the largest volume the recipe can reach, and the impeller speed is
set for a target ungassed P/V at the initial volume, as for the CHO unit (``StirredCulture``).

Default phases: "batch" (no feed, ``batch_hours``), then "fed_batch" with a constant feed of
``feed_rate_pct`` of the initial volume per hour until ``culture_hours``. Given phases may end on
conditions, e.g. ``until: {variable: S_conc, op: "<", value: 0.1, then: stop}``.

Balance convention (kg, per component):
    in  = medium + feed (the whole feed inlet, used or not)
    out = broth (biomass, substrate, product and the components the model does not know)
          + feed_remaining
    generated = integrated rates (states gen_X, gen_S, gen_P): biomass and product formed (+),
          substrate consumed (-)
O2, CO2 and metabolic water are not balanced.
"""
from __future__ import annotations

from typing import Any, Literal, Mapping, Sequence

import pandas as pd
from pydantic import Field

from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.phased import UnitPhase, run_phases
from ..core.registry import register_unit
from ..core.simulation import SolverOptions
from ..core.streams import PhaseRecord, Stream, UnitResult
from .bioreactor import build_microbial_model, microbial_kpis
from .bioreactor_kinetics import GROWTH_LAW_PARAMETERS, GROWTH_LAWS, MICROBIAL_KINETICS
from .bioreactor_unit import VESSEL_OPERATING, BioreactorConfig, StirredCulture, model_rows

KG_PER_G = 1e-3


def _growth_law_rows() -> tuple:
    """Every growth law's own parameters, once each (Monod and Haldane share K_s)."""
    rows = {}
    for law in GROWTH_LAWS:
        for row in GROWTH_LAW_PARAMETERS[law]:
            rows.setdefault(row[0], row)
    return tuple(rows.values())


OPERATING = (
    Parameter("batch_hours", "h", 8.0, (0.1, 200), "", "batch phase before feeding starts"),
    Parameter("culture_hours", "h", 30.0, (0.5, 500), "E. coli fed-batch 20-40 h", "longest culture time"),
    Parameter("feed_rate_pct", "percent/h", 0.4, (0, 20), "", "constant feed in the fed-batch phase, "
              "per initial volume"),
    Parameter("culture_temperature", "degC", 37.0, (15, 45), "E. coli optimum", "culture temperature"),
    Parameter("power_per_volume", "W/m^3", 3000.0, (10, 20000), "microbial fermenters 1-5 kW/m3 "
              "(Garcia-Ochoa & Gomez 2009, Biotechnol Adv 27:153)",
              "ungassed power per initial volume; sets the impeller speed"),
    *(Parameter(p.name, p.units, 1.0, p.bounds, "microbial 0.5-2 vvm", p.description)
      if p.name == "aeration" else p for p in VESSEL_OPERATING),
)


class MicrobialConfig(BioreactorConfig):
    impeller: str = Field("rushton", description="Rushton turbines are the microbial default")
    n_impellers: int = Field(2, ge=1, le=6)
    growth_law: Literal["monod", "haldane", "contois"] = "monod"
    substrate: str = Field("glucose", min_length=1, description="stream component the cells grow on")
    product: str = Field("product", min_length=1, description="stream component of the Luedeking-Piret product")


@register_unit
class MicrobialBioreactor(StirredCulture):
    kind = "microbial_bioreactor"
    description = "Microbial fed-batch (Monod/Haldane/Contois, Luedeking-Piret product, DO control)"
    parameters = ParameterTable(model_rows(MICROBIAL_KINETICS + _growth_law_rows()) + OPERATING)
    inlets = ("medium", "feed")
    optional_inlets = ("feed",)
    outlets = ("broth", "feed_remaining")
    Config = MicrobialConfig
    cell_component = "biomass"

    @property
    def model(self):
        return build_microbial_model(self.config.growth_law, self.config.kla_correlation)

    @property
    def components(self) -> dict[str, str]:
        """Model state -> stream component."""
        c = self.config
        return {"X": self.cell_component, "S": c.substrate, "P": c.product}

    def default_phases(self, V0_L: float) -> list[UnitPhase]:
        v = self.values
        t_batch, t_end = min(v["batch_hours"], v["culture_hours"]), v["culture_hours"]
        phases = [UnitPhase(name="batch", duration=t_batch, points=int(max(4, 4 * t_batch)),
                            inputs={"feed_rate": 0.0, "temperature": v["culture_temperature"]})]
        if t_end > t_batch:
            phases.append(UnitPhase(name="fed_batch", duration=t_end - t_batch, points=int(max(4, 4 * (t_end - t_batch))),
                                    inputs={"feed_rate": v["feed_rate_pct"] / 100.0 * V0_L}))
        return phases

    def run(self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None,
            options: SolverOptions | None = None) -> UnitResult:
        self.check_inlets(inlets)
        medium, feed = inlets["medium"], inlets.get("feed")
        initial = self._charge(medium)
        V0 = initial["V"]
        phases = self.default_phases(V0) if phases is None else [
            p if isinstance(p, UnitPhase) else UnitPhase.model_validate(p) for p in phases]
        fed_max = self.check_feed(feed, phases)
        names = set(self.model.parameters.names)
        params = {k: val for k, val in self.values.items() if k in names and k != "do_setpoint"}
        params["feed_substrate"] = feed.concentration(self.config.substrate) if feed is not None else 0.0
        params |= self.vessel_parameters(V0, fed_max)
        inputs = {"agitation": params.pop("_agitation_rpm"), "aeration": self.values["aeration"],
                  "temperature": self.values["culture_temperature"]}
        out = run_phases(self.model, phases, parameters=params, inputs=inputs, initial=initial, options=options)
        df = out.result.frame(include_vectors=False)
        if not out.ok:
            return UnitResult(self.name, self.kind, "failed", f"phase {out.phases[-1].name}: {out.result.message}",
                              outlets={}, duration=out.end, phases=out.phases, series=df)
        return self._result(medium, feed, out.final_state(), df, out.phases)

    def _charge(self, medium: Stream) -> dict:
        errors = []
        if medium.volume <= 0:
            errors.append((f"{self.name}.medium.volume", "the medium must have a volume > 0"))
        if medium.mass.get(self.cell_component, 0.0) <= 0:
            errors.append((f"{self.name}.medium.mass.{self.cell_component}",
                           f"the medium carries no cells to inoculate (add the inoculum as "
                           f"'{self.cell_component}' mass)"))
        if errors:
            raise ParameterError(errors, f"unit '{self.name}' inlets")
        x = {n.name: 0.0 for n in self.model.states}
        x.update(V=medium.volume * 1e3, DO=100.0,
                 **{state: medium.mass.get(comp, 0.0) / KG_PER_G for state, comp in self.components.items()})
        return x

    def _result(self, medium: Stream, feed: Stream | None, x: dict, df: pd.DataFrame,
                records: list[PhaseRecord]) -> UnitResult:
        fed_share = self.fed_share(feed, x["fed_volume"])
        comps = self.components
        broth = {comp: max(x[state], 0.0) * KG_PER_G for state, comp in comps.items()}
        self.pass_through(broth, set(comps.values()), medium, feed, fed_share)
        T = float(df["temperature"].iloc[-1]) + 273.15
        outlets = {"broth": Stream("broth", x["V"] * 1e-3, broth, T), **self.feed_outlets(feed, fed_share)}
        generated = {comp: x[f"gen_{state}"] * KG_PER_G for state, comp in comps.items()}
        kpis = microbial_kpis(df)
        warnings = self.common_warnings(kpis["min_DO_pct"], fed_share)
        return UnitResult(self.name, self.kind, "ok", f"culture ran {kpis['duration_h']:.2f} h", outlets,
                          generated, float(df.index[-1]), records, kpis, df, warnings)


def microbial_medium(volume_L: float = 1.0, biomass_g_per_L: float = 0.1, glucose_g_per_L: float = 10.0,
                     salts_g_per_L: float = 10.0, name: str = "medium") -> Stream:
    """A defined mineral medium with glucose and its inoculum as a Stream."""
    V = volume_L
    mass = {"water": V * 0.98, "glucose": glucose_g_per_L * V * KG_PER_G, "salts": salts_g_per_L * V * KG_PER_G,
            "biomass": biomass_g_per_L * V * KG_PER_G}
    return Stream(name, V * 1e-3, mass, 310.15)


def microbial_feed(volume_L: float = 0.2, glucose_g_per_L: float = 500.0, name: str = "feed") -> Stream:
    """A concentrated glucose feed as a Stream."""
    V = volume_L
    return Stream(name, V * 1e-3, {"water": V * 0.7, "glucose": glucose_g_per_L * V * KG_PER_G}, 298.15)


__all__ = ["MicrobialBioreactor", "MicrobialConfig", "microbial_medium", "microbial_feed"]
