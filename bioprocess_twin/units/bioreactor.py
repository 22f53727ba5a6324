"""Stirred, sparged bioreactor in batch and fed-batch: CHO cell culture and microbial culture.

Time in h. Balances on amounts (V liquid volume in L, F feed rate in L/h, c_f feed-medium
concentration), so a bolus shot of feed is a constant jump of V and of every amount:
    dV/dt = F,     dn_i/dt = r_i V + F c_f,i,     dG_i/dt = r_i V  (G_i: amount formed (+) or used (-))
The cumulative reaction states G_i give the ``generated`` of the production unit.

CHO cell culture (structure of Xing et al. 2010, Biotechnol Prog 26:208; forms reviewed by Ben Yahia,
Malphettes & Heinzle 2015, Appl Microbiol Biotechnol 99:7009). Xv, Xd viable/dead cells (1e6/mL),
concentrations in mmol/L, DO in % air saturation, T in degC:
    mu   = mu_max f_T,mu f_pH [G/(K_G+G)] [Q/(K_Q+Q)] [K_IL/(K_IL+L)] [K_IA/(K_IA+A)] [DO/(K_DO+DO)]
    mu_d = f_T,met (k_d0 + k_dA A^2/(K_DA^2+A^2) + k_dL L^2/(K_DL^2+L^2) + k_ds max(1 - G^2/(K_ds^2+G^2), 1 - Q^2/(K_ds^2+Q^2)))
    dXv = (mu - mu_d) Xv,   dXd = mu_d Xv                          (no lysis; dead cells stay in the broth)
    q_G = mu/Y_XG + f_T,met m_G G/(K_m+G)                          (Pirt 1965 maintenance)
    q_Q = mu/Y_XQ + f_T,met m_Q Q/(K_m+Q),  glutamine decay k_deg Q -> ammonia (Ozturk & Palsson 1990)
    q_L = Y_LG q_G - q_L,up L/(K_L,up+L) (1 - mu/(mu_max f_T,mu))   (lactate consumed as growth slows)
    q_A = Y_AQ q_Q (+ k_deg Q per volume)
    q_P = alpha_P mu + q_p f_T,p                                   (Luedeking & Piret 1959)
    HCP: q_hcp Xv + hcp_per_cell mu_d Xv;  DNA: dna_per_cell mu_d Xv   (released at death)
    f_T = Q10^((T - T_ref)/10): growth Q10 4 (halves 37 -> 32 C), productivity Q10 0.5 (x1.4 at 32 C)
    f_pH = (pH-pH_min)(pH-pH_max) / ((pH-pH_min)(pH-pH_max) - (pH-pH_opt)^2)  (Rosso et al. 1995), 0 outside
Microbial culture (X, S, P in g/L):
    Monod       mu = mu_max S/(K_s+S)                               (Monod 1949)
    Haldane     mu = mu_max S/(K_s+S+S^2/K_i),  optimum at S* = sqrt(K_s K_i)   (Andrews 1968)
    Contois     mu = mu_max S/(K_x X+S)                             (Contois 1959)
    dX = mu X,  dS = -(mu/Y_xs + m_s S/(K_m+S)) X,  dP = (alpha mu + beta) X      (Pirt; Luedeking-Piret)
    OUR = (mu/Y_xo + m_o) X DO/(K_DO+DO)
Gas-liquid transfer (correlations of units/agitation.py; SI inside):
    P0 = n Np rho N^3 D^5,  Pg = min(P0, n c (P0,1^2 N D^3/Qg^0.56)^0.45)    (Michel & Miller 1962)
    Qg = vvm V/60,  v_s = Qg/(pi T^2/4),  kLa = f_kLa a (Pg/V)^alpha v_s^beta  (van 't Riet 1979 or others)
    C*_air(T) = C*_25 exp(dH (1/T - 1/298.15))                      (Benson & Krause 1984; Sander 2015)
    y_O2 = air, or P control: 0.2095 + 0.7905 clip(K_c (DO_sp - DO), 0, 1)   (O2 enrichment cascade)
    dDO/dt = kLa (100 y_O2/0.2095 - DO) - 100 OUR/C*_air + (F/V)(100 - DO)
               (OTR = kLa (C* - C); the feed enters air-saturated)

The production unit (``bioreactor_unit.py``) and the bench (bench/cho_fed_batch_vs_scipy.py) use
``cho_rhs``: the same function serves CasADi symbols and NumPy floats.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from ..core import Event, ModelBuilder, Phase, Recipe
from ..core.parameters import Parameter, ParameterTable
from ..core.process import Process
from ..core.registry import register
from .bioreactor_kinetics import (CASADI, CHO_KINETICS, GROWTH_LAW_PARAMETERS, GROWTH_LAWS, MICROBIAL_KINETICS,
                                  NUMPY, O2_AIR, VESSEL_PARAMETERS, cho_rates, do_rate, gas_transfer,
                                  microbial_rates, o2_fraction, rows_to_params)

DEFAULT_KLA = "van_t_riet_coalescing"
MOLAR_MASS = {"glucose": 180.156, "glutamine": 146.146, "lactate": 89.070, "ammonia": 17.031}   # g/mol
#: model state -> line component, for the CHO model (metabolites in mmol, proteins and DNA in mg)
CHO_METABOLITES = ("glucose", "glutamine", "lactate", "ammonia")
CHO_PROTEINS = ("antigen", "hcp", "dna")
CHO_SPECIES = CHO_METABOLITES + CHO_PROTEINS
_RATE_KEY = {"glucose": "glc", "glutamine": "gln", "lactate": "lac", "ammonia": "amm",
             "antigen": "antigen", "hcp": "hcp", "dna": "dna"}

#: initial charge and feed medium of the CHO process (the production unit takes them from its inlets)
CHO_CHARGE = (
    ("initial_volume", "L", 2.0, (1e-3, 1e5), "2 L bench bioreactor", "working volume at inoculation"),
    ("seed_density", "Mcount/mL", 0.4, (1e-3, 20), "typical 0.3-0.5e6 cells/mL", "viable cell density at inoculation"),
    ("glucose_0", "mmol/L", 33.0, (0, 200), "~6 g/L in CHO basal media", "initial glucose"),
    ("glutamine_0", "mmol/L", 6.0, (0, 50), "4-8 mM in CHO basal media", "initial glutamine"),
    ("lactate_0", "mmol/L", 0.0, (0, 200), "", "initial lactate"),
    ("ammonia_0", "mmol/L", 0.5, (0, 50), "carried over with the inoculum", "initial ammonia"),
    ("DO_0", "percent", 100.0, (0, 500), "medium equilibrated with air", "initial dissolved O2"),
) + tuple((f"feed_{s}", "mmol/L", d, (0, 5000), src, f"{s} in the feed medium")
          for s, d, src in (("glucose", 350.0, "concentrated CHO feeds 300-500 mM"),
                            ("glutamine", 40.0, "concentrated CHO feeds 20-50 mM"),
                            ("lactate", 0.0, ""), ("ammonia", 0.0, ""))) + tuple(
    (f"feed_{s}", "mg/L", 0.0, (0, 1e6), "", f"{s} in the feed medium") for s in CHO_PROTEINS)

MICROBIAL_CHARGE = (
    ("initial_volume", "L", 1.0, (1e-3, 1e5), "1 L lab fermenter", "working volume at inoculation"),
    ("X_0", "g/L", 0.1, (1e-6, 100), "", "initial biomass"),
    ("S_0", "g/L", 10.0, (0, 500), "", "initial substrate"),
    ("P_0", "g/L", 0.0, (0, 500), "", "initial product"),
    ("DO_0", "percent", 100.0, (0, 500), "medium equilibrated with air", "initial dissolved O2"),
    ("feed_substrate", "g/L", 500.0, (0, 1000), "glucose feed 500 g/L", "substrate in the feed"),
)
MICROBIAL_VESSEL = {"tank_diameter": 0.11, "impeller_diameter": 0.045, "n_impellers": 2, "power_number": 5.0}


def _inputs(m: ModelBuilder, agitation: float, aeration: float) -> dict:
    return {
        "feed_rate": m.input("feed_rate", "L/h", 0.0, (0, 1e4), "feed-medium flow (recipe events set it)"),
        "temperature": m.input("temperature", "degC", 37.0, (20, 45), "culture temperature"),
        "pH": m.input("pH", "1", 7.0, (3, 10), "culture pH (controlled)"),
        "agitation": m.input("agitation", "rpm", agitation, (1, 3000), "impeller speed N"),
        "aeration": m.input("aeration", "1/min", aeration, (1e-4, 3), "sparge gas flow per liquid volume (vvm)"),
        "do_control": m.input("do_control", "1", 1.0, (0, 1), "1: O2 enrichment controls DO at its set point"),
        "o2_fraction": m.input("o2_fraction", "1", O2_AIR, (0, 1), "O2 fraction of the sparge gas without control"),
    }


def _vessel_rows(overrides: dict) -> tuple:
    return tuple((n, u, overrides.get(n, d), b, s, desc) for n, u, d, b, s, desc in VESSEL_PARAMETERS)


# -- CHO -----------------------------------------------------------------------------------------
CHO_STATES = (("V", "L", "liquid volume"), ("fed_volume", "L", "feed medium added"),
              ("viable_cells", "Gcount", "viable cells (1e9)"), ("dead_cells", "Gcount", "dead cells (1e9)"),
              *((s, "mmol", f"{s} in the broth") for s in CHO_METABOLITES),
              *((s, "mg", f"{s} in the broth") for s in CHO_PROTEINS),
              ("DO", "percent", "dissolved O2, % of air saturation"),
              ("ivc", "Mcount*h/mL", "integral of viable cell density"),
              ("gen_cells", "Gcount", "cells formed by growth"),
              *((f"gen_{s}", "mmol", f"{s} formed (+) or consumed (-)") for s in CHO_METABOLITES),
              *((f"gen_{s}", "mg", f"{s} formed") for s in CHO_PROTEINS))


def cho_rhs(P, x, u, correlation: str = DEFAULT_KLA, L=CASADI):
    """Time derivatives of the CHO states (dict by state name) and the auxiliary quantities."""
    V, F = x["V"], u["feed_rate"]
    c = {"Xv": x["viable_cells"] / V, "glc": x["glucose"] / V, "gln": x["glutamine"] / V, "lac": x["lactate"] / V,
         "amm": x["ammonia"] / V, "DO": x["DO"]}
    r = cho_rates(P, c, u, L)
    gas = gas_transfer(P, V, u["agitation"], u["aeration"], u["temperature"], correlation, L)
    y_o2 = o2_fraction(P, x["DO"], u["do_control"], u["o2_fraction"], L)
    d = {"V": F, "fed_volume": F, "viable_cells": (r["growth"] - r["death"]) * V, "dead_cells": r["death"] * V,
         "DO": do_rate(P, gas, x["DO"], y_o2, r["OUR"], F / V, L), "ivc": c["Xv"], "gen_cells": r["growth"] * V}
    for s in CHO_SPECIES:
        d[s] = r[_RATE_KEY[s]] * V + F * P[f"feed_{s}"]
        d[f"gen_{s}"] = r[_RATE_KEY[s]] * V
    return d, {"rates": r, "gas": gas, "o2_fraction": y_o2, "c": c}


def cho_initial(P) -> dict:
    V = P["initial_volume"]
    x = {n: 0.0 for n, _, _ in CHO_STATES}
    x.update(V=V, viable_cells=P["seed_density"] * V, DO=P["DO_0"],
             **{s: P[f"{s}_0"] * V for s in CHO_METABOLITES})
    return x


@lru_cache(maxsize=8)
def build_cho_model(correlation: str = DEFAULT_KLA, name: str = "cho_fed_batch", version: str = "1.0.0"):
    m = ModelBuilder(name, version=version, time_units="h", description=(
        "CHO fed-batch: viable/dead cells, glucose, glutamine, lactate, ammonia, antigen, HCP, DNA and DO "
        f"(kLa: {correlation})"))
    P = rows_to_params(m, CHO_KINETICS) | rows_to_params(m, VESSEL_PARAMETERS) | rows_to_params(m, CHO_CHARGE)
    u = _inputs(m, agitation=200.0, aeration=0.05)
    init = cho_initial(P)
    x = {n: m.state(n, units, initial=init[n], description=desc) for n, units, desc in CHO_STATES}
    d, aux = cho_rhs(P, x, u, correlation, CASADI)
    for n in x:
        m.ode(x[n], d[n])
    r, gas, c = aux["rates"], aux["gas"], aux["c"]
    V = x["V"]
    m.output("vcd", c["Xv"], "Mcount/mL", "viable cell density")
    m.output("viability", 100 * x["viable_cells"] / (x["viable_cells"] + x["dead_cells"]), "percent")
    for s in CHO_METABOLITES:
        m.output(f"{s}_conc", x[s] / V, "mmol/L")
    m.output("titre", x["antigen"] / V * 1e-3, "g/L", "antigen concentration")
    m.output("hcp_conc", x["hcp"] / V * 1e-3, "g/L")
    m.output("ivcd", x["ivc"] / 24.0, "Mcount*day/mL", "integral of viable cell density")
    _common_outputs(m, r, gas, aux["o2_fraction"], x["DO"])
    m.output("mu_d", r["mu_d"], "1/h", "specific death rate")
    m.output("specific_productivity", r["q_p"] * 24, "pg/day", "specific productivity per cell")
    return m.build()


def _common_outputs(m, r, gas, y_o2, DO):
    m.output("mu", r["mu"], "1/h", "specific growth rate")
    m.output("kla", gas["kla"], "1/h", "volumetric O2 transfer coefficient")
    m.output("power_per_volume", gas["power_per_volume"], "W/m^3", "gassed power per liquid volume")
    m.output("tip_speed", gas["tip_speed"], "m/s")
    m.output("superficial_gas_velocity", gas["superficial_gas_velocity"] * 1e3, "mm/s")
    m.output("OUR", r["OUR"], "mmol/L/h", "O2 uptake rate")
    m.output("OTR", gas["kla"] * gas["c_star_air"] * (y_o2 / O2_AIR - DO / 100.0), "mmol/L/h", "O2 transfer rate")
    m.output("gas_o2", y_o2, "1", "O2 fraction of the sparge gas")


def cho_rhs_numpy(model, correlation: str = DEFAULT_KLA):
    """f(t, x, p, u) for scipy: the same ``cho_rhs`` on NumPy floats, states in the model's order."""
    names = [v.name for v in model.states]
    pnames, unames = model.parameters.names, model.inputs.names

    def f(t, xv, p: dict, u: dict):
        d, _ = cho_rhs(p, dict(zip(names, xv)), u, correlation, NUMPY)
        return np.array([d[n] for n in names], dtype=float)
    f.parameter_names, f.input_names = pnames, unames
    return f


def cho_kpis(df: pd.DataFrame) -> dict:
    """KPIs from a frame with the CHO model's states and outputs (index in h)."""
    i_peak = int(np.argmax(df["vcd"].to_numpy()))
    return {
        "peak_vcd_1e6_per_mL": float(df["vcd"].max()), "peak_day": float(df.index[i_peak] / 24.0),
        "final_viability_pct": float(df["viability"].iloc[-1]), "final_titre_g_per_L": float(df["titre"].iloc[-1]),
        "antigen_g": float(df["antigen"].iloc[-1] * 1e-3),
        "ivcd_1e6_cell_day_per_mL": float(df["ivcd"].iloc[-1]),
        "max_lactate_mM": float(df["lactate_conc"].max()), "final_lactate_mM": float(df["lactate_conc"].iloc[-1]),
        "max_ammonia_mM": float(df["ammonia_conc"].max()), "min_glucose_mM": float(df["glucose_conc"].min()),
        "min_DO_pct": float(df["DO"].min()), "max_o2_fraction": float(df["gas_o2"].max()),
        "final_volume_L": float(df["V"].iloc[-1]), "feed_used_L": float(df["fed_volume"].iloc[-1]),
        "kla_1_per_h": float(df["kla"].iloc[0]), "power_per_volume_W_per_m3": float(df["power_per_volume"].iloc[0]),
        "tip_speed_m_per_s": float(df["tip_speed"].iloc[0]), "duration_days": float(df.index[-1] / 24.0),
    }


# -- microbial -----------------------------------------------------------------------------------
MICROBIAL_STATES = (("V", "L", "liquid volume"), ("fed_volume", "L", "feed added"),
                    ("X", "g", "biomass"), ("S", "g", "substrate"), ("P", "g", "product"),
                    ("DO", "percent", "dissolved O2, % of air saturation"),
                    ("gen_X", "g", "biomass formed"), ("gen_S", "g", "substrate formed (-: consumed)"),
                    ("gen_P", "g", "product formed"))


def microbial_rhs(law: str, P, x, u, correlation: str = DEFAULT_KLA, L=CASADI):
    V, F = x["V"], u["feed_rate"]
    c = {"X": x["X"] / V, "S": x["S"] / V, "DO": x["DO"]}
    r = microbial_rates(law, P, c, u, L)
    gas = gas_transfer(P, V, u["agitation"], u["aeration"], u["temperature"], correlation, L)
    y_o2 = o2_fraction(P, x["DO"], u["do_control"], u["o2_fraction"], L)
    d = {"V": F, "fed_volume": F, "X": r["X"] * V, "S": r["S"] * V + F * P["feed_substrate"], "P": r["P"] * V,
         "DO": do_rate(P, gas, x["DO"], y_o2, r["OUR"], F / V, L),
         "gen_X": r["X"] * V, "gen_S": r["S"] * V, "gen_P": r["P"] * V}
    return d, {"rates": r, "gas": gas, "o2_fraction": y_o2, "c": c}


@lru_cache(maxsize=16)
def build_microbial_model(law: str = "monod", correlation: str = DEFAULT_KLA, name: str = "microbial_fed_batch",
                          version: str = "1.0.0"):
    if law not in GROWTH_LAWS:
        raise ValueError(f"unknown growth law '{law}'; known: {', '.join(GROWTH_LAWS)}")
    m = ModelBuilder(name, version=version, time_units="h", description=(
        f"Microbial fed-batch ({law} growth, Luedeking-Piret product, Pirt maintenance, DO; kLa: {correlation})"))
    P = (rows_to_params(m, MICROBIAL_KINETICS) | rows_to_params(m, GROWTH_LAW_PARAMETERS[law])
         | rows_to_params(m, _vessel_rows(MICROBIAL_VESSEL)) | rows_to_params(m, MICROBIAL_CHARGE))
    u = _inputs(m, agitation=800.0, aeration=1.0)
    V0 = P["initial_volume"]
    init = {"V": V0, "fed_volume": 0.0, "X": P["X_0"] * V0, "S": P["S_0"] * V0, "P": P["P_0"] * V0, "DO": P["DO_0"],
            "gen_X": 0.0, "gen_S": 0.0, "gen_P": 0.0}
    x = {n: m.state(n, units, initial=init[n], description=desc) for n, units, desc in MICROBIAL_STATES}
    d, aux = microbial_rhs(law, P, x, u, correlation, CASADI)
    for n in x:
        m.ode(x[n], d[n])
    V = x["V"]
    for n in ("X", "S", "P"):
        m.output(f"{n}_conc", x[n] / V, "g/L")
    _common_outputs(m, aux["rates"], aux["gas"], aux["o2_fraction"], x["DO"])
    return m.build()


# -- registered processes ------------------------------------------------------------------------
def _grid(recipe: Recipe, step: float) -> np.ndarray:
    end = recipe.end
    return np.unique(np.concatenate([np.arange(0.0, end, step), [end], recipe.time_grid(1)]))


@register
class ChoFedBatch(Process):
    """CHO fed-batch in a 2 L bench bioreactor: batch, then continuous feed and daily glucose shots, with a
    temperature shift."""

    name = "cho_fed_batch"
    description = ("CHO cell culture, 14-day fed-batch (batch 3 d, continuous feed, daily glucose shots, "
                   "temperature shift to 32 C)")
    operating = ParameterTable((
        Parameter("batch_days", "day", 3.0, (0.25, 30), "", "batch phase before feeding starts"),
        Parameter("culture_days", "day", 14.0, (1, 60), "typical CHO fed-batch 12-16 days", "total culture time"),
        Parameter("feed_rate", "mL/h", 2.5, (0, 1e7), "3 % of the initial volume per day", "continuous feed rate"),
        Parameter("shift_day", "day", 6.0, (0, 60), "shift at the end of exponential growth",
                  "day of the temperature shift (>= culture_days: no shift)"),
        Parameter("culture_temperature", "degC", 37.0, (30, 40), "", "temperature before the shift"),
        Parameter("shift_temperature", "degC", 32.0, (28, 40), "Kumar et al. 2007", "temperature after the shift"),
        Parameter("glucose_shot", "mmol", 10.0, (0, 1e7), "5 mM per shot at 2 L",
                  "glucose per daily shot (2.5 mol/L solution), from the day after feeding starts; 0 = none"),
        Parameter("output_step", "h", 2.0, (0.1, 24), "", "spacing of the output grid"),
    ))

    def build(self):
        return build_cho_model(DEFAULT_KLA, self.name)

    def default_recipe(self, operating) -> Recipe:
        days = operating["culture_days"]
        t_batch = min(operating["batch_days"], days) * 24.0
        t_shift = operating["shift_day"] * 24.0
        t_end = days * 24.0
        phases = [Phase(name="batch", duration=t_batch, inputs={"feed_rate": 0.0,
                                                                 "temperature": operating["culture_temperature"]})]
        feed = {"feed_rate": operating["feed_rate"] * 1e-3}
        if t_batch < t_shift < t_end:
            phases += [Phase(name="fed_batch", duration=t_shift - t_batch, inputs=feed),
                       Phase(name="fed_batch_shifted", duration=t_end - t_shift,
                             inputs={"temperature": operating["shift_temperature"]})]
        elif t_batch < t_end:
            phases.append(Phase(name="fed_batch", duration=t_end - t_batch, inputs=feed))
        events = []
        n = operating["glucose_shot"]
        if n > 0:
            for k, t in enumerate(np.arange(t_batch + 24.0, t_end - 1e-9, 24.0)):
                events.append(Event(time=float(t), name=f"glucose shot {k + 1}",
                                    add_states={"glucose": n, "V": n / GLUCOSE_SHOT_MM}))
        return Recipe(phases=phases, events=events)

    def default_times(self, operating, recipe):
        return _grid(recipe, operating["output_step"])

    def kpis(self, result, operating):
        return cho_kpis(result.frame(include_vectors=False))


GLUCOSE_SHOT_MM = 2500.0        # mmol/L: 450 g/L glucose shot solution


@register
class MicrobialFedBatch(Process):
    """Microbial (E. coli-like) fed-batch on glucose: batch, then a constant substrate feed."""

    name = "microbial_fed_batch"
    description = "Microbial fed-batch, Monod growth, Luedeking-Piret product, Pirt maintenance, DO control"
    growth_law = "monod"
    operating = ParameterTable((
        Parameter("batch_hours", "h", 8.0, (0.1, 200), "", "batch phase before feeding starts"),
        Parameter("culture_hours", "h", 30.0, (0.5, 500), "", "total culture time"),
        Parameter("feed_rate", "mL/h", 4.0, (0, 1e7), "", "constant feed rate in the fed-batch phase"),
        Parameter("output_step", "h", 0.25, (0.01, 24), "", "spacing of the output grid"),
    ))

    def build(self):
        return build_microbial_model(self.growth_law, DEFAULT_KLA, self.name)

    def default_recipe(self, operating) -> Recipe:
        t_b = min(operating["batch_hours"], operating["culture_hours"])
        phases = [Phase(name="batch", duration=t_b, inputs={"feed_rate": 0.0})]
        if operating["culture_hours"] > t_b:
            phases.append(Phase(name="fed_batch", duration=operating["culture_hours"] - t_b,
                                inputs={"feed_rate": operating["feed_rate"] * 1e-3}))
        return Recipe(phases=phases)

    def default_times(self, operating, recipe):
        return _grid(recipe, operating["output_step"])

    def kpis(self, result, operating):
        return microbial_kpis(result.frame(include_vectors=False))


def microbial_kpis(df: pd.DataFrame) -> dict:
    return {"final_biomass_g_per_L": float(df["X_conc"].iloc[-1]), "max_biomass_g_per_L": float(df["X_conc"].max()),
            "final_product_g_per_L": float(df["P_conc"].iloc[-1]), "product_g": float(df["P"].iloc[-1]),
            "final_substrate_g_per_L": float(df["S_conc"].iloc[-1]), "min_DO_pct": float(df["DO"].min()),
            "max_o2_fraction": float(df["gas_o2"].max()), "final_volume_L": float(df["V"].iloc[-1]),
            "feed_used_L": float(df["fed_volume"].iloc[-1]), "kla_1_per_h": float(df["kla"].iloc[0]),
            "power_per_volume_W_per_m3": float(df["power_per_volume"].iloc[0]),
            "duration_h": float(df.index[-1])}
