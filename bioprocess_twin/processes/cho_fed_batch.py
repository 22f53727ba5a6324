"""CHO cell culture in batch and fed-batch (kinetic process model ``cho_fed_batch``).

Balances, gas transfer and the shared vessel parameters: ``culture_kinetics.py``.
CHO cell culture (structure of Xing et al. 2010, Biotechnol Prog 26:208; forms reviewed by Ben Yahia,
Malphettes & Heinzle 2015, Appl Microbiol Biotechnol 99:7009). Xv, Xd viable/dead cell densities,
G, Q, L, A glucose, glutamine, lactate, ammonia concentrations, DO dissolved O2, T temperature:
    mu   = mu_max f_T,mu f_pH [G/(K_G+G)] [Q/(K_Q+Q)] [K_IL/(K_IL+L)] [K_IA/(K_IA+A)] [DO/(K_DO+DO)]
    mu_d = f_T,met (k_d0 + k_dA A^2/(K_DA^2+A^2) + k_dL L^2/(K_DL^2+L^2) + k_ds max(1 - G^2/(K_ds^2+G^2), 1 - Q^2/(K_ds^2+Q^2)))
    dXv = (mu - mu_d) Xv,   dXd = mu_d Xv                          (no lysis; dead cells stay in the broth)
    q_G = mu/Y_XG + f_T,met m_G G/(K_m+G)                          (Pirt 1965 maintenance)
    q_Q = mu/Y_XQ + f_T,met m_Q Q/(K_m+Q),  glutamine decay k_deg Q -> ammonia (Ozturk & Palsson 1990)
    q_L = Y_LG q_G - q_L,up L/(K_L,up+L) (1 - mu/(mu_max f_T,mu))   (lactate consumed as growth slows)
    q_A = Y_AQ q_Q (+ k_deg Q per volume)
    q_P = alpha_P mu + q_p f_T,p                                   (Luedeking & Piret 1959)
    HCP: q_hcp Xv + hcp_per_cell mu_d Xv;  DNA: dna_per_cell mu_d Xv   (released at death)
    f_T = Q10^((T - T_ref)/10 K): growth Q10 4 (halves 37 -> 32 C), productivity Q10 0.5 (x1.4 at 32 C)
    f_pH = (pH-pH_min)(pH-pH_max) / ((pH-pH_min)(pH-pH_max) - (pH-pH_opt)^2)  (Rosso et al. 1995), 0 outside

SI inside: the equations see SI values (cells in count, metabolites in mol, antigen, HCP and DNA in
kg, V in m^3, time in s, T in K, DO as a fraction of air saturation). The model declares and reports
the usual units: time in h, V in L, cells in 1e9 (Gcount; densities in 1e6 cells/mL), metabolites in
mmol (mM), proteins and DNA in mg, DO in % air saturation, temperature in degC.

The production unit (``units/cho_bioreactor.py``) and the bench (bench/cho_fed_batch_vs_scipy.py) use
``cho_rhs``: the same function serves CasADi symbols and NumPy floats.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import pandas as pd

from ..core import Event, ModelBuilder, Phase, Recipe
from ..core.parameters import Parameter, ParameterTable
from ..core.process import Process
from ..core.units import from_si, to_si
from .culture_kinetics import (
    CASADI,
    CHO_KINETICS,
    DEFAULT_KLA,
    NUMPY,
    STIRRED_VESSEL_KPI_UNITS,
    VESSEL_PARAMETERS,
    cho_rates,
    common_outputs,
    culture_inputs,
    declare_states,
    do_rate,
    gas_transfer,
    o2_fraction,
    output_grid,
)

MOLAR_MASS = {"glucose": 180.156, "glutamine": 146.146, "lactate": 89.070, "ammonia": 17.031}  # g/mol
#: model state -> line component, for the CHO model (metabolites in mmol, proteins and DNA in mg)
CHO_METABOLITES = ("glucose", "glutamine", "lactate", "ammonia")
CHO_PROTEINS = ("antigen", "hcp", "dna")
CHO_SPECIES = CHO_METABOLITES + CHO_PROTEINS
_RATE_KEY = {
    "glucose": "glc",
    "glutamine": "gln",
    "lactate": "lac",
    "ammonia": "amm",
    "antigen": "antigen",
    "hcp": "hcp",
    "dna": "dna",
}
#: time units of the CHO model (recipes, output grid, the index of its result frames)
TIME_UNITS = "h"
GLUCOSE_SHOT_CONC = to_si(2500.0, "mmol/L")  # mol/m^3: 450 g/L glucose shot solution
SHOT_INTERVAL = to_si(1.0, "day")  # s: the glucose shots are daily
#: model time: no shot falls on the very end of the culture
END_GUARD = 1e-9

#: initial charge and feed medium of the CHO process (the production unit takes them from its inlets)
CHO_CHARGE = ParameterTable(
    (
        Parameter(
            name="initial_volume",
            units="L",
            default=2.0,
            bounds=(1e-3, 1e5),
            source="2 L bench bioreactor",
            description="working volume at inoculation",
        ),
        Parameter(
            name="seed_density",
            units="Mcount/mL",
            default=0.4,
            bounds=(1e-3, 20),
            source="typical 0.3-0.5e6 cells/mL",
            description="viable cell density at inoculation",
        ),
        Parameter(
            name="glucose_0",
            units="mmol/L",
            default=33.0,
            bounds=(0, 200),
            source="~6 g/L in CHO basal media",
            description="initial glucose",
        ),
        Parameter(
            name="glutamine_0",
            units="mmol/L",
            default=6.0,
            bounds=(0, 50),
            source="4-8 mM in CHO basal media",
            description="initial glutamine",
        ),
        Parameter(
            name="lactate_0", units="mmol/L", default=0.0, bounds=(0, 200), source="", description="initial lactate"
        ),
        Parameter(
            name="ammonia_0",
            units="mmol/L",
            default=0.5,
            bounds=(0, 50),
            source="carried over with the inoculum",
            description="initial ammonia",
        ),
        Parameter(
            name="DO_0",
            units="percent",
            default=100.0,
            bounds=(0, 500),
            source="medium equilibrated with air",
            description="initial dissolved O2",
        ),
        *(
            Parameter(
                name=f"feed_{s}",
                units="mmol/L",
                default=d,
                bounds=(0, 5000),
                source=src,
                description=f"{s} in the feed medium",
            )
            for s, d, src in (
                ("glucose", 350.0, "concentrated CHO feeds 300-500 mM"),
                ("glutamine", 40.0, "concentrated CHO feeds 20-50 mM"),
                ("lactate", 0.0, ""),
                ("ammonia", 0.0, ""),
            )
        ),
        *(
            Parameter(
                name=f"feed_{s}",
                units="mg/L",
                default=0.0,
                bounds=(0, 1e6),
                source="",
                description=f"{s} in the feed medium",
            )
            for s in CHO_PROTEINS
        ),
    )
)


# -- CHO -----------------------------------------------------------------------------------------
#: (name, declared units, description) of the states
CHO_STATES = (
    ("V", "L", "liquid volume"),
    ("fed_volume", "L", "feed medium added"),
    ("viable_cells", "Gcount", "viable cells (1e9)"),
    ("dead_cells", "Gcount", "dead cells (1e9)"),
    *((s, "mmol", f"{s} in the broth") for s in CHO_METABOLITES),
    *((s, "mg", f"{s} in the broth") for s in CHO_PROTEINS),
    ("DO", "percent", "dissolved O2, % of air saturation"),
    ("ivc", "Mcount*h/mL", "integral of viable cell density"),
    ("gen_cells", "Gcount", "cells formed by growth"),
    *((f"gen_{s}", "mmol", f"{s} formed (+) or consumed (-)") for s in CHO_METABOLITES),
    *((f"gen_{s}", "mg", f"{s} formed") for s in CHO_PROTEINS),
)
STATE_UNITS = {n: units for n, units, _ in CHO_STATES}


def cho_rhs(P, x, u, correlation: str = DEFAULT_KLA, L=CASADI):
    """Time derivatives of the CHO states (dict by state name) and the auxiliary quantities, all in SI
    (d(state in SI)/d(t in s) from SI parameters, states and inputs)."""
    V, F = x["V"], u["feed_rate"]
    c = {
        "Xv": x["viable_cells"] / V,
        "glc": x["glucose"] / V,
        "gln": x["glutamine"] / V,
        "lac": x["lactate"] / V,
        "amm": x["ammonia"] / V,
        "DO": x["DO"],
    }
    r = cho_rates(P, c, u, L)
    gas = gas_transfer(P, V, u["agitation"], u["aeration"], u["temperature"], correlation, L)
    y_o2 = o2_fraction(P, x["DO"], u["do_control"], u["o2_fraction"], L)
    d = {
        "V": F,
        "fed_volume": F,
        "viable_cells": (r["growth"] - r["death"]) * V,
        "dead_cells": r["death"] * V,
        "DO": do_rate(P, gas, x["DO"], y_o2, r["OUR"], F / V, L),
        "ivc": c["Xv"],
        "gen_cells": r["growth"] * V,
    }
    for s in CHO_SPECIES:
        d[s] = r[_RATE_KEY[s]] * V + F * P[f"feed_{s}"]
        d[f"gen_{s}"] = r[_RATE_KEY[s]] * V
    return d, {"rates": r, "gas": gas, "o2_fraction": y_o2, "c": c}


def cho_initial(P) -> dict:
    """Initial states in SI from the (SI) charge parameters."""
    V = P["initial_volume"]
    x = {n: 0.0 for n, _, _ in CHO_STATES}
    x.update(V=V, viable_cells=P["seed_density"] * V, DO=P["DO_0"], **{s: P[f"{s}_0"] * V for s in CHO_METABOLITES})
    return x


@lru_cache(maxsize=8)
def build_cho_model(correlation: str = DEFAULT_KLA, name: str = "cho_fed_batch", version: str = "1.0.0"):
    m = ModelBuilder(
        name,
        version=version,
        time_units=TIME_UNITS,
        description=(
            "CHO fed-batch: viable/dead cells, glucose, glutamine, lactate, ammonia, antigen, HCP, DNA and DO "
            f"(kLa: {correlation})"
        ),
    )
    P = m.parameters(CHO_KINETICS, VESSEL_PARAMETERS, CHO_CHARGE)
    u = m.inputs(culture_inputs(agitation=200.0, aeration=0.05))
    init = cho_initial(P)
    x = declare_states(m, CHO_STATES, init)
    d, aux = cho_rhs(P, x, u, correlation, CASADI)
    for n in x:
        m.ode(x[n], d[n])
    r, gas, c = aux["rates"], aux["gas"], aux["c"]
    V = x["V"]
    m.output("vcd", c["Xv"], "Mcount/mL", "viable cell density")
    m.output("viability", x["viable_cells"] / (x["viable_cells"] + x["dead_cells"]), "percent")
    for s in CHO_METABOLITES:
        m.output(f"{s}_conc", x[s] / V, "mmol/L")
    m.output("titre", x["antigen"] / V, "g/L", "antigen concentration")
    m.output("hcp_conc", x["hcp"] / V, "g/L")
    m.output("ivcd", x["ivc"], "Mcount*day/mL", "integral of viable cell density")
    common_outputs(m, r, gas, aux["o2_fraction"], x["DO"])
    m.output("mu_d", r["mu_d"], "1/h", "specific death rate")
    m.output("specific_productivity", r["q_p"], "pg/day", "specific productivity per cell")
    return m.build()


def cho_rhs_numpy(model, correlation: str = DEFAULT_KLA):
    """f(t, x, p, u) for scipy: the same ``cho_rhs`` on NumPy floats, states in the model's order.

    x, the parameter dict p, the input dict u and the returned dx/dt are in the model's declared units
    (per model time unit); they are converted to SI for ``cho_rhs`` and back by pint's factors.
    """
    names = [v.name for v in model.states]
    units = [v.units for v in model.states]
    rate_units = [f"({x_units})/({model.time_units})" for x_units in units]
    p_units = {p.name: p.units for p in model.parameters}
    u_units = {i.name: i.units for i in model.inputs}
    pnames, unames = model.parameters.names, model.inputs.names

    def f(t, xv, p: dict, u: dict):
        x = {n: to_si(v, xu) for n, v, xu in zip(names, xv, units)}
        d, _ = cho_rhs(
            {k: to_si(v, p_units[k]) for k, v in p.items()},
            x,
            {k: to_si(v, u_units[k]) for k, v in u.items()},
            correlation,
            NUMPY,
        )
        return np.array([from_si(d[n], ru) for n, ru in zip(names, rate_units)], dtype=float)

    f.parameter_names, f.input_names = pnames, unames
    return f


#: units of each KPI of :func:`cho_kpis` (pint; "" for a pure number)
CHO_KPI_UNITS = {
    "peak_vcd_1e6_per_mL": "1e6*cell/mL",
    "peak_day": "day",
    "final_viability_pct": "percent",
    "final_titre_g_per_L": "g/L",
    "antigen_g": "g",
    "ivcd_1e6_cell_day_per_mL": "1e6*cell*day/mL",
    "max_lactate_mM": "mM",
    "final_lactate_mM": "mM",
    "max_ammonia_mM": "mM",
    "min_glucose_mM": "mM",
    **STIRRED_VESSEL_KPI_UNITS,
    "tip_speed_m_per_s": "m/s",
    "duration_days": "day",
}


def cho_kpis(df: pd.DataFrame, time_units: str = TIME_UNITS) -> dict:
    """KPIs from a frame with the CHO model's states and outputs (declared units; index in ``time_units``)."""
    kpis = cho_kpis_of(lambda name: df[name].to_numpy(), df.index.to_numpy(), time_units)
    return {k: float(v) for k, v in kpis.items()}


def cho_kpis_of(column: Callable[[str], np.ndarray], t: np.ndarray, time_units: str = TIME_UNITS) -> dict:
    """The KPIs of :func:`cho_kpis` from ``column(name)``: the values of a state, output or input over the times
    ``t`` (last axis), for one run (1-D) or many at once (one row each)."""

    def days(time):
        return from_si(to_si(time, time_units), "day")

    vcd = column("vcd")
    return {
        "peak_vcd_1e6_per_mL": vcd.max(axis=-1),
        "peak_day": days(t[np.argmax(vcd, axis=-1)]),
        "final_viability_pct": column("viability")[..., -1],
        "final_titre_g_per_L": column("titre")[..., -1],
        "antigen_g": from_si(to_si(column("antigen")[..., -1], STATE_UNITS["antigen"]), "g"),
        "ivcd_1e6_cell_day_per_mL": column("ivcd")[..., -1],
        "max_lactate_mM": column("lactate_conc").max(axis=-1),
        "final_lactate_mM": column("lactate_conc")[..., -1],
        "max_ammonia_mM": column("ammonia_conc").max(axis=-1),
        "min_glucose_mM": column("glucose_conc").min(axis=-1),
        "min_DO_pct": column("DO").min(axis=-1),
        "max_o2_fraction": column("gas_o2").max(axis=-1),
        "final_volume_L": column("V")[..., -1],
        "feed_used_L": column("fed_volume")[..., -1],
        "kla_1_per_h": column("kla")[..., 0],
        "power_per_volume_W_per_m3": column("power_per_volume")[..., 0],
        "tip_speed_m_per_s": column("tip_speed")[..., 0],
        "duration_days": days(t[-1]) + 0.0 * vcd[..., -1],
    }


#: recipe settings the process model shares with its production unit
BATCH_DAYS = Parameter(
    name="batch_days",
    units="day",
    default=3.0,
    bounds=(0.25, 30),
    source="",
    description="batch phase before feeding starts",
)
CULTURE_TEMPERATURE = Parameter(
    name="culture_temperature",
    units="degC",
    default=37.0,
    bounds=(30, 40),
    source="",
    description="temperature before the shift",
)
SHIFT_TEMPERATURE = Parameter(
    name="shift_temperature",
    units="degC",
    default=32.0,
    bounds=(28, 40),
    source="Kumar et al. 2007",
    description="temperature after the shift",
)


class ChoFedBatch(Process):
    """CHO fed-batch in a 2 L bench bioreactor: batch, then continuous feed and daily glucose shots, with a
    temperature shift."""

    name = "cho_fed_batch"
    description = (
        "CHO cell culture, 14-day fed-batch (batch 3 d, continuous feed, daily glucose shots, "
        "temperature shift to 32 C)"
    )
    kpi_units = CHO_KPI_UNITS
    operating = ParameterTable(
        (
            BATCH_DAYS,
            Parameter(
                name="culture_days",
                units="day",
                default=14.0,
                bounds=(1, 60),
                source="typical CHO fed-batch 12-16 days",
                description="total culture time",
            ),
            Parameter(
                name="feed_rate",
                units="mL/h",
                default=2.5,
                bounds=(0, 1e7),
                source="3 % of the initial volume per day",
                description="continuous feed rate",
            ),
            Parameter(
                name="shift_day",
                units="day",
                default=6.0,
                bounds=(0, 60),
                source="shift at the end of exponential growth",
                description="day of the temperature shift (>= culture_days: no shift)",
            ),
            CULTURE_TEMPERATURE,
            SHIFT_TEMPERATURE,
            Parameter(
                name="glucose_shot",
                units="mmol",
                default=10.0,
                bounds=(0, 1e7),
                source="5 mM per shot at 2 L",
                description="glucose per daily shot (2.5 mol/L solution), from the day after feeding starts; 0 = none",
            ),
            Parameter(
                name="output_step",
                units="h",
                default=2.0,
                bounds=(0.1, 24),
                source="",
                description="spacing of the output grid",
            ),
        )
    )

    def build(self):
        return build_cho_model(DEFAULT_KLA, self.name)

    def default_recipe(self, operating) -> Recipe:
        """The recipe from the operating values (SI), in the model's time and input units."""
        model = self.model
        in_units = {i.name: i.units for i in model.inputs}

        def model_time(seconds):
            return from_si(seconds, model.time_units)

        t_batch = model_time(min(operating["batch_days"], operating["culture_days"]))
        t_shift = model_time(operating["shift_day"])
        t_end = model_time(operating["culture_days"])
        phases = [
            Phase(
                name="batch",
                duration=t_batch,
                inputs={
                    "feed_rate": 0.0,
                    "temperature": from_si(operating["culture_temperature"], in_units["temperature"]),
                },
            )
        ]
        feed = {"feed_rate": from_si(operating["feed_rate"], in_units["feed_rate"])}
        if t_batch < t_shift < t_end:
            phases += [
                Phase(name="fed_batch", duration=t_shift - t_batch, inputs=feed),
                Phase(
                    name="fed_batch_shifted",
                    duration=t_end - t_shift,
                    inputs={"temperature": from_si(operating["shift_temperature"], in_units["temperature"])},
                ),
            ]
        elif t_batch < t_end:
            phases.append(Phase(name="fed_batch", duration=t_end - t_batch, inputs=feed))
        events = []
        n = operating["glucose_shot"]  # mol
        if n > 0:
            shot = {
                "glucose": from_si(n, STATE_UNITS["glucose"]),
                "V": from_si(n / GLUCOSE_SHOT_CONC, STATE_UNITS["V"]),
            }
            interval = model_time(SHOT_INTERVAL)
            for k, t in enumerate(np.arange(t_batch + interval, t_end - END_GUARD, interval)):
                events.append(Event(time=float(t), name=f"glucose shot {k + 1}", add_states=shot))
        return Recipe(phases=phases, events=events)

    def default_times(self, operating, recipe):
        return output_grid(recipe, from_si(operating["output_step"], self.model.time_units))

    def kpis(self, result, operating):
        return cho_kpis(result.frame(include_vectors=False), self.model.time_units)

    def ensemble_kpis(self, runs, operating):
        kpis = cho_kpis_of(runs.column, runs.t, self.model.time_units)
        return {k: np.where(runs.ok, v, np.nan) for k, v in kpis.items()}
