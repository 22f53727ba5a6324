"""Microbial culture in batch and fed-batch (kinetic process model ``microbial_fed_batch``).

Balances, gas transfer and the shared vessel parameters: ``culture_kinetics.py``.
Microbial culture (X, S, P biomass, substrate and product concentrations):
    Monod       mu = mu_max S/(K_s+S)                               (Monod 1949)
    Haldane     mu = mu_max S/(K_s+S+S^2/K_i),  optimum at S* = sqrt(K_s K_i)   (Andrews 1968)
    Contois     mu = mu_max S/(K_x X+S)                             (Contois 1959)
    dX = mu X,  dS = -(mu/Y_xs + m_s S/(K_m+S)) X,  dP = (alpha mu + beta) X      (Pirt; Luedeking-Piret)
    OUR = (mu/Y_xo + m_o) X DO/(K_DO+DO)

SI inside: the equations see SI values (amounts in kg, concentrations in kg/m^3, V in m^3, time in
s, T in K, DO as a fraction of air saturation); the model declares and reports amounts in g,
concentrations in g/L, V in L, time in h, DO in % air saturation, temperature in degC.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from ..core import ModelBuilder, Phase, Recipe
from ..core.parameters import Parameter, ParameterTable
from ..core.process import Process
from ..core.units import from_si
from .culture_kinetics import (
    CASADI,
    DEFAULT_KLA,
    GROWTH_LAW_PARAMETERS,
    GROWTH_LAWS,
    MICROBIAL_KINETICS,
    STIRRED_VESSEL_KPI_UNITS,
    common_outputs,
    culture_inputs,
    declare_states,
    do_rate,
    gas_transfer,
    microbial_rates,
    o2_fraction,
    output_grid,
    vessel_parameters,
)

#: time units of the microbial model
TIME_UNITS = "h"

MICROBIAL_CHARGE = ParameterTable(
    (
        Parameter(
            name="initial_volume",
            units="L",
            default=1.0,
            bounds=(1e-3, 1e5),
            source="1 L lab fermenter",
            description="working volume at inoculation",
        ),
        Parameter(name="X_0", units="g/L", default=0.1, bounds=(1e-6, 100), source="", description="initial biomass"),
        Parameter(name="S_0", units="g/L", default=10.0, bounds=(0, 500), source="", description="initial substrate"),
        Parameter(name="P_0", units="g/L", default=0.0, bounds=(0, 500), source="", description="initial product"),
        Parameter(
            name="DO_0",
            units="percent",
            default=100.0,
            bounds=(0, 500),
            source="medium equilibrated with air",
            description="initial dissolved O2",
        ),
        Parameter(
            name="feed_substrate",
            units="g/L",
            default=500.0,
            bounds=(0, 1000),
            source="glucose feed 500 g/L",
            description="substrate in the feed",
        ),
    )
)
#: the lab fermenter's vessel (defaults of the vessel parameters)
MICROBIAL_VESSEL = {"tank_diameter": 0.11, "impeller_diameter": 0.045, "n_impellers": 2, "power_number": 5.0}


# -- microbial -----------------------------------------------------------------------------------
#: (name, declared units, description) of the states
MICROBIAL_STATES = (
    ("V", "L", "liquid volume"),
    ("fed_volume", "L", "feed added"),
    ("X", "g", "biomass"),
    ("S", "g", "substrate"),
    ("P", "g", "product"),
    ("DO", "percent", "dissolved O2, % of air saturation"),
    ("gen_X", "g", "biomass formed"),
    ("gen_S", "g", "substrate formed (-: consumed)"),
    ("gen_P", "g", "product formed"),
)


def microbial_rhs(law: str, P, x, u, correlation: str = DEFAULT_KLA, L=CASADI):
    """d(state)/dt of the microbial states and the auxiliary quantities, all in SI."""
    V, F = x["V"], u["feed_rate"]
    c = {"X": x["X"] / V, "S": x["S"] / V, "DO": x["DO"]}
    r = microbial_rates(law, P, c, u, L)
    gas = gas_transfer(P, V, u["agitation"], u["aeration"], u["temperature"], correlation, L)
    y_o2 = o2_fraction(P, x["DO"], u["do_control"], u["o2_fraction"], L)
    d = {
        "V": F,
        "fed_volume": F,
        "X": r["X"] * V,
        "S": r["S"] * V + F * P["feed_substrate"],
        "P": r["P"] * V,
        "DO": do_rate(P, gas, x["DO"], y_o2, r["OUR"], F / V, L),
        "gen_X": r["X"] * V,
        "gen_S": r["S"] * V,
        "gen_P": r["P"] * V,
    }
    return d, {"rates": r, "gas": gas, "o2_fraction": y_o2, "c": c}


@lru_cache(maxsize=16)
def build_microbial_model(
    law: str = "monod", correlation: str = DEFAULT_KLA, name: str = "microbial_fed_batch", version: str = "1.0.0"
):
    if law not in GROWTH_LAWS:
        raise ValueError(f"unknown growth law '{law}'; known: {', '.join(GROWTH_LAWS)}")
    m = ModelBuilder(
        name,
        version=version,
        time_units=TIME_UNITS,
        description=(
            f"Microbial fed-batch ({law} growth, Luedeking-Piret product, Pirt maintenance, DO; kLa: {correlation})"
        ),
    )
    P = m.parameters(
        MICROBIAL_KINETICS, GROWTH_LAW_PARAMETERS[law], vessel_parameters(MICROBIAL_VESSEL), MICROBIAL_CHARGE
    )
    u = m.inputs(culture_inputs(agitation=800.0, aeration=1.0))
    V0 = P["initial_volume"]
    init = {
        "V": V0,
        "fed_volume": 0.0,
        "X": P["X_0"] * V0,
        "S": P["S_0"] * V0,
        "P": P["P_0"] * V0,
        "DO": P["DO_0"],
        "gen_X": 0.0,
        "gen_S": 0.0,
        "gen_P": 0.0,
    }
    x = declare_states(m, MICROBIAL_STATES, init)
    d, aux = microbial_rhs(law, P, x, u, correlation, CASADI)
    for n in x:
        m.ode(x[n], d[n])
    V = x["V"]
    for n in ("X", "S", "P"):
        m.output(f"{n}_conc", x[n] / V, "g/L")
    common_outputs(m, aux["rates"], aux["gas"], aux["o2_fraction"], x["DO"])
    return m.build()


#: units of each KPI of :func:`microbial_kpis` (pint; "" for a pure number)
MICROBIAL_KPI_UNITS = {
    "final_biomass_g_per_L": "g/L",
    "max_biomass_g_per_L": "g/L",
    "final_product_g_per_L": "g/L",
    "product_g": "g",
    "final_substrate_g_per_L": "g/L",
    **STIRRED_VESSEL_KPI_UNITS,
    "duration_h": "h",
}


class MicrobialFedBatch(Process):
    """Microbial (E. coli-like) fed-batch on glucose: batch, then a constant substrate feed."""

    name = "microbial_fed_batch"
    description = "Microbial fed-batch, Monod growth, Luedeking-Piret product, Pirt maintenance, DO control"
    growth_law = "monod"
    kpi_units = MICROBIAL_KPI_UNITS
    operating = ParameterTable(
        (
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
                source="",
                description="total culture time",
            ),
            Parameter(
                name="feed_rate",
                units="mL/h",
                default=4.0,
                bounds=(0, 1e7),
                source="",
                description="constant feed rate in the fed-batch phase",
            ),
            Parameter(
                name="output_step",
                units="h",
                default=0.25,
                bounds=(0.01, 24),
                source="",
                description="spacing of the output grid",
            ),
        )
    )

    def build(self):
        return build_microbial_model(self.growth_law, DEFAULT_KLA, self.name)

    def default_recipe(self, operating) -> Recipe:
        """The recipe from the operating values (SI), in the model's time and input units."""
        model = self.model
        t_b = from_si(min(operating["batch_hours"], operating["culture_hours"]), model.time_units)
        t_end = from_si(operating["culture_hours"], model.time_units)
        phases = [Phase(name="batch", duration=t_b, inputs={"feed_rate": 0.0})]
        if t_end > t_b:
            phases.append(
                Phase(
                    name="fed_batch",
                    duration=t_end - t_b,
                    inputs={"feed_rate": from_si(operating["feed_rate"], model.inputs["feed_rate"].units)},
                )
            )
        return Recipe(phases=phases)

    def default_times(self, operating, recipe):
        return output_grid(recipe, from_si(operating["output_step"], self.model.time_units))

    def kpis(self, result, operating):
        return microbial_kpis(result.frame(include_vectors=False))


def microbial_kpis(df: pd.DataFrame) -> dict:
    """KPIs from a frame with the microbial model's states and outputs (declared units; index in h)."""
    return {
        "final_biomass_g_per_L": float(df["X_conc"].iloc[-1]),
        "max_biomass_g_per_L": float(df["X_conc"].max()),
        "final_product_g_per_L": float(df["P_conc"].iloc[-1]),
        "product_g": float(df["P"].iloc[-1]),
        "final_substrate_g_per_L": float(df["S_conc"].iloc[-1]),
        "min_DO_pct": float(df["DO"].min()),
        "max_o2_fraction": float(df["gas_o2"].max()),
        "final_volume_L": float(df["V"].iloc[-1]),
        "feed_used_L": float(df["fed_volume"].iloc[-1]),
        "kla_1_per_h": float(df["kla"].iloc[0]),
        "power_per_volume_W_per_m3": float(df["power_per_volume"].iloc[0]),
        "duration_h": float(df.index[-1]),
    }
