"""Bioreactor kinetics and gas transfer, written once for CasADi symbols and NumPy floats.

Every function takes a math namespace ``L`` (:data:`CASADI` or :data:`NUMPY`) for the few
non-arithmetic operations (max, min, exp, if-else), so the CasADi model in ``bioreactor.py`` and
the NumPy right-hand side of the scipy benchmark evaluate the same equations. Equations and sources
are listed in ``bioreactor.py`` and docs/models/bioreactor.md. Concentrations are in mmol/L (CHO
metabolites), g/L (microbial), 1e6 cells/mL = 1e9 cells/L (Mcount/mL), DO in % air saturation,
time in h.
"""
from __future__ import annotations

from types import SimpleNamespace

import casadi as ca
import numpy as np

from .agitation import (IMPELLERS, RHO_WATER, gassed_power_michel_miller, kla, superficial_gas_velocity,
                        ungassed_power)

CASADI = SimpleNamespace(fmax=ca.fmax, fmin=ca.fmin, exp=ca.exp, where=ca.if_else)
NUMPY = SimpleNamespace(fmax=np.maximum, fmin=np.minimum, exp=np.exp, where=np.where)

O2_AIR = 0.2095                   # mole fraction of O2 in air
T_REF_SOLUBILITY = 298.15         # K

#: (name, units, default, bounds, source, description): parameters of the stirred, sparged vessel
VESSEL_PARAMETERS = (
    ("tank_diameter", "m", 0.13, (0.02, 10), "2 L bench vessel, H/T ~ 1.2", "vessel inner diameter T"),
    ("impeller_diameter", "m", 0.055, (0.005, 5), "D/T ~ 0.42", "impeller diameter D"),
    ("n_impellers", "1", 1, (1, 6), "", "impellers on the shaft (each sees the full gas flow)"),
    ("power_number", "1", IMPELLERS["pitched_blade"].power_number, (0.1, 10), IMPELLERS["pitched_blade"].source,
     "turbulent power number Np of one impeller"),
    ("density", "kg/m^3", RHO_WATER, (950, 1100), "culture medium ~ water", "broth density"),
    ("kla_factor", "1", 1.0, (0.05, 20), "calibration multiplier (1 = correlation as published)",
     "multiplies the kLa correlation (medium additives, antifoam, sparger type)"),
    ("c_star_25", "mmol/L", 0.258, (0.1, 0.4), "Benson & Krause 1984, Limnol Oceanogr 29:620 (8.26 mg/L, 25 C)",
     "O2 solubility in water under air at 25 C and 1 atm"),
    ("solubility_dH", "K", 1700.0, (0, 3000), "Sander 2015, Atmos Chem Phys 15:4399 (O2: -d ln kH/d(1/T))",
     "van 't Hoff temperature coefficient of O2 solubility"),
    ("do_setpoint", "percent", 40.0, (1, 100), "typical CHO DO set point 30-50 %", "DO controller set point"),
    ("do_gain", "1/percent", 0.05, (0, 10), "tuned: full O2 at 20 % below set point",
     "proportional gain of the O2-enrichment controller (O2 fraction per % DO error)"),
)


def rows_to_params(builder, rows):
    """Declare each (name, units, default, bounds, source, description) row on a ModelBuilder."""
    return {name: builder.parameter(name, units, default, bounds, source, desc, integer=(name == "n_impellers"))
            for name, units, default, bounds, source, desc in rows}


# -- shared factors ------------------------------------------------------------------------------
def q10_factor(q10, T, T_ref):
    """Q10 temperature factor q10^((T - T_ref)/10) (T in degC)."""
    return q10 ** ((T - T_ref) / 10.0)


def cardinal_ph(pH, pH_min, pH_opt, pH_max, L):
    """Cardinal pH model (Rosso et al. 1995, Appl Environ Microbiol 61:610): 1 at pH_opt, 0 outside."""
    a = (pH - pH_min) * (pH - pH_max)
    value = a / (a - (pH - pH_opt) ** 2)
    return L.where((pH > pH_min) * (pH < pH_max), value, 0.0)


def monod(c, K, L):
    c = L.fmax(c, 0.0)
    return c / (K + c)


def inhibition(c, K, L):
    """Non-competitive inhibition K / (K + c)."""
    return K / (K + L.fmax(c, 0.0))


def hill2(c, K, L):
    """Saturating, switch-like c^2 / (K^2 + c^2)."""
    c = L.fmax(c, 0.0)
    return c * c / (K * K + c * c)


# -- gas transfer --------------------------------------------------------------------------------
def gas_transfer(P, V_L, agitation_rpm, aeration_vvm, temperature_C, correlation: str, L):
    """Power, kLa (1/h) and O2 solubility under air (mmol/L) at the current liquid volume.

    Uses the correlations of :mod:`.agitation`: P0 = n Np rho N^3 D^5, Michel-Miller gassed power
    capped at P0, v_s = Qg / (pi T^2/4), kLa = a (Pg/V)^alpha v_s^beta.
    """
    N = agitation_rpm / 60.0                                       # 1/s
    D, T = P["impeller_diameter"], P["tank_diameter"]
    V = V_L * 1e-3                                                 # m^3
    Qg = aeration_vvm * V / 60.0                                   # m^3/s
    p0_one = ungassed_power(P["power_number"], P["density"], N, D)
    pg_one = L.fmin(p0_one, gassed_power_michel_miller(p0_one, N, D, Qg))
    Pg = P["n_impellers"] * pg_one
    v_s = superficial_gas_velocity(Qg, T)
    kla_h = 3600.0 * P["kla_factor"] * kla(Pg / V, v_s, correlation)
    T_K = temperature_C + 273.15
    c_star_air = P["c_star_25"] * L.exp(P["solubility_dH"] * (1.0 / T_K - 1.0 / T_REF_SOLUBILITY))
    return {"kla": kla_h, "power_ungassed": P["n_impellers"] * p0_one, "power_gassed": Pg,
            "power_per_volume": Pg / V, "superficial_gas_velocity": v_s, "c_star_air": c_star_air,
            "tip_speed": np.pi * N * D}


def o2_fraction(P, DO, do_control, o2_manual, L):
    """O2 mole fraction of the sparge gas: manual, or a P controller that enriches air with O2 below the set point."""
    enriched = O2_AIR + (1.0 - O2_AIR) * L.fmin(L.fmax(P["do_gain"] * (P["do_setpoint"] - DO), 0.0), 1.0)
    return do_control * enriched + (1.0 - do_control) * o2_manual


def do_rate(P, gas, DO, y_o2, OUR, dilution, L):
    """d(DO)/dt in % air saturation per h: transfer - uptake + dilution by air-saturated feed."""
    return (gas["kla"] * (100.0 * y_o2 / O2_AIR - DO) - 100.0 * OUR / gas["c_star_air"]
            + dilution * (100.0 - DO))


# -- CHO cell culture ------------------------------------------------------------------------------
#: CHO kinetic parameters (Xing et al. 2010 structure; values typical of a 14-day fed-batch, tuned)
CHO_KINETICS = (
    ("mu_max", "1/h", 0.045, (0.001, 0.2), "Xing et al. 2010, Biotechnol Prog 26:208 (0.03-0.05 1/h)",
     "maximum specific growth rate at T_ref"),
    ("K_glc", "mmol/L", 0.8, (0.0, 50), "Ben Yahia et al. 2015, Appl Microbiol Biotechnol 99:7009 (0.1-1.5 mM)",
     "Monod constant of glucose"),
    ("K_gln", "mmol/L", 0.3, (0.0, 20), "Ben Yahia et al. 2015 (0.05-0.8 mM)", "Monod constant of glutamine"),
    ("KI_lac", "mmol/L", 80.0, (1, 1000), "Xing et al. 2010 form; tuned (lactate inhibits above ~40 mM)",
     "lactate inhibition constant of growth"),
    ("KI_amm", "mmol/L", 15.0, (0.1, 200), "Xing et al. 2010 form; tuned (ammonia inhibits above ~5 mM)",
     "ammonia inhibition constant of growth"),
    ("K_DO", "percent", 1.5, (0, 50), "CHO grows unaffected down to ~5-10 % air saturation",
     "DO limitation constant of growth and O2 uptake"),
    ("kd_0", "1/h", 0.0005, (0, 0.1), "tuned: ~97 % viability in the growth phase", "basal death rate"),
    ("kd_amm", "1/h", 0.006, (0, 1), "tuned (death rises with ammonia; Xing et al. 2010; Ben Yahia et al. 2015)",
     "maximum ammonia-driven death rate"),
    ("KD_amm", "mmol/L", 12.0, (0.1, 200), "tuned", "ammonia level of half-maximal ammonia-driven death"),
    ("kd_lac", "1/h", 0.008, (0, 1), "tuned (death rises with lactate)", "maximum lactate-driven death rate"),
    ("KD_lac", "mmol/L", 60.0, (1, 1000), "tuned", "lactate level of half-maximal lactate-driven death"),
    ("kd_starve", "1/h", 0.03, (0, 1), "tuned (apoptosis on glucose or glutamine depletion)",
     "death rate when glucose or glutamine is exhausted"),
    ("KD_starve", "mmol/L", 0.1, (0.001, 20), "tuned", "level below which depletion death sets in"),
    ("Y_x_glc", "Gcount/mmol", 0.6, (0.01, 100), "tuned: q_glc ~ 0.1 pmol/cell/h in growth (Ben Yahia et al. 2015)",
     "cells formed per glucose consumed (growth part)"),
    ("m_glc", "mmol/Gcount/h", 0.025, (0, 1), "Xing et al. 2010 (maintenance dominates late glucose uptake)",
     "glucose maintenance coefficient (Pirt)"),
    ("Y_x_gln", "Gcount/mmol", 3.0, (0.01, 100), "tuned: q_gln ~ 0.015 pmol/cell/h", "cells formed per glutamine"),
    ("m_gln", "mmol/Gcount/h", 0.0005, (0, 1), "Xing et al. 2010 (glutamine maintenance negligible)",
     "glutamine maintenance coefficient"),
    ("K_maint", "mmol/L", 0.1, (1e-4, 10), "numerical: maintenance uptake stops at depletion",
     "Monod cut-off of maintenance uptake"),
    ("Y_lac_glc", "mol/mol", 1.0, (0, 2), "0.5-2 mol/mol (Ben Yahia et al. 2015)", "lactate produced per glucose"),
    ("q_lac_uptake", "mmol/Gcount/h", 0.05, (0, 1), "lactate switch (Mulukutla et al. 2012, Metab Eng 14:138)",
     "maximum specific lactate consumption (0 = no lactate switch)"),
    ("K_lac_uptake", "mmol/L", 5.0, (0.01, 100), "tuned", "Monod constant of lactate consumption"),
    ("Y_amm_gln", "mol/mol", 0.7, (0, 2), "0.6-1 mol/mol (Ben Yahia et al. 2015)", "ammonia released per glutamine"),
    ("k_gln_deg", "1/h", 0.0035, (0, 0.05), "Ozturk & Palsson 1990, Biotechnol Prog 6:121 (37 C)",
     "spontaneous glutamine decomposition to pyroglutamate + ammonia"),
    ("q_p", "mg/Gcount/h", 0.8, (0, 20), "CHO 10-50 pg/cell/day (Ben Yahia et al. 2015); 1 mg/Gcount = 1 pg/cell",
     "non-growth-associated specific productivity at T_ref (Luedeking-Piret beta)"),
    ("alpha_p", "mg/Gcount", 0.0, (0, 1000), "Luedeking & Piret 1959", "growth-associated product per cell formed"),
    ("q_o2", "mmol/Gcount/h", 0.15, (0, 2), "CHO 0.1-0.3 pmol/cell/h (Goudar et al. 2011, Biotechnol Bioeng)",
     "specific O2 uptake rate"),
    ("q_hcp", "mg/Gcount/h", 0.05, (0, 5), "tuned to harvest HCP ~ 0.1-1 g/L", "HCP secretion per viable cell"),
    ("hcp_per_cell", "mg/Gcount", 10.0, (0, 200), "tuned", "HCP released when a cell dies (pg/cell)"),
    ("dna_per_cell", "mg/Gcount", 6.0, (0, 20), "CHO diploid genome ~ 5-6 pg/cell", "DNA released when a cell dies"),
    ("T_ref", "degC", 37.0, (30, 40), "", "reference temperature of the rates"),
    ("Q10_growth", "1", 4.0, (1, 10), "growth ~halves from 37 to 32 C (Kumar et al. 2007, Biotechnol Lett 29:1)",
     "Q10 of mu_max"),
    ("Q10_productivity", "1", 0.5, (0.1, 5), "q_p ~1.4x higher at 32 C (Yoon et al. 2003, Biotechnol Bioeng 82:289)",
     "Q10 of q_p (< 1: productivity rises when cooled)"),
    ("Q10_metabolism", "1", 2.0, (1, 10), "classical Q10 ~ 2", "Q10 of death, maintenance and O2 uptake"),
    ("pH_min", "1", 6.2, (4, 7), "CHO", "cardinal pH minimum"),
    ("pH_opt", "1", 7.0, (5, 8), "CHO", "cardinal pH optimum"),
    ("pH_max", "1", 7.8, (7, 10), "CHO", "cardinal pH maximum"),
)


def cho_rates(P, c, u, L):
    """Specific and volumetric rates of the CHO culture.

    ``c``: concentrations Xv (Mcount/mL), glc, gln, lac, amm (mmol/L), DO (%); ``u``: temperature
    (degC), pH. Returns rates per litre per hour (cells in Mcount/mL/h, metabolites mmol/L/h,
    product mg/L/h) and the specific rates.
    """
    T, pH = u["temperature"], u["pH"]
    f_do = monod(c["DO"], P["K_DO"], L)
    f_met = q10_factor(P["Q10_metabolism"], T, P["T_ref"])
    f_growth = q10_factor(P["Q10_growth"], T, P["T_ref"])
    mu = (P["mu_max"] * f_growth
          * cardinal_ph(pH, P["pH_min"], P["pH_opt"], P["pH_max"], L)
          * monod(c["glc"], P["K_glc"], L) * monod(c["gln"], P["K_gln"], L)
          * inhibition(c["lac"], P["KI_lac"], L) * inhibition(c["amm"], P["KI_amm"], L) * f_do)
    starve = P["kd_starve"] * L.fmax(1.0 - hill2(c["glc"], P["KD_starve"], L), 1.0 - hill2(c["gln"], P["KD_starve"], L))
    mu_d = f_met * (P["kd_0"] + P["kd_amm"] * hill2(c["amm"], P["KD_amm"], L)
                    + P["kd_lac"] * hill2(c["lac"], P["KD_lac"], L) + starve)
    q_glc = mu / P["Y_x_glc"] + f_met * P["m_glc"] * monod(c["glc"], P["K_maint"], L)
    q_gln = mu / P["Y_x_gln"] + f_met * P["m_gln"] * monod(c["gln"], P["K_maint"], L)
    growth_share = mu / (P["mu_max"] * f_growth)                    # 1 in unlimited growth, 0 when growth stops
    q_lac = (P["Y_lac_glc"] * q_glc
             - P["q_lac_uptake"] * monod(c["lac"], P["K_lac_uptake"], L) * (1.0 - growth_share))
    q_p = P["alpha_p"] * mu + P["q_p"] * q10_factor(P["Q10_productivity"], T, P["T_ref"])
    q_o2 = f_met * P["q_o2"] * f_do
    Xv = L.fmax(c["Xv"], 0.0)
    deg = P["k_gln_deg"] * L.fmax(c["gln"], 0.0)
    return {
        "mu": mu, "mu_d": mu_d, "q_glc": q_glc, "q_gln": q_gln, "q_lac": q_lac, "q_p": q_p, "q_o2": q_o2,
        "growth": mu * Xv, "death": mu_d * Xv,
        "glc": -q_glc * Xv, "gln": -q_gln * Xv - deg, "lac": q_lac * Xv,
        "amm": P["Y_amm_gln"] * q_gln * Xv + deg,
        "antigen": q_p * Xv,
        "hcp": P["q_hcp"] * Xv + P["hcp_per_cell"] * mu_d * Xv,
        "dna": P["dna_per_cell"] * mu_d * Xv,
        "OUR": q_o2 * Xv,
    }


# -- microbial culture ---------------------------------------------------------------------------
GROWTH_LAWS = ("monod", "haldane", "contois")

MICROBIAL_KINETICS = (
    ("mu_max", "1/h", 0.6, (0.001, 3), "E. coli on glucose ~0.6-0.9 1/h (Shuler & Kargi 2002)",
     "maximum specific growth rate at T_ref"),
    ("Y_xs", "g/g", 0.5, (0.01, 1), "E. coli on glucose ~0.5 g/g (Shuler & Kargi 2002)", "biomass yield on substrate"),
    ("m_s", "g/g/h", 0.03, (0, 1), "Pirt 1965, Proc R Soc B 163:224; E. coli 0.025-0.06 g/g/h",
     "substrate maintenance coefficient"),
    ("K_maint", "g/L", 0.005, (1e-6, 10), "numerical: maintenance uptake stops at depletion",
     "Monod cut-off of maintenance uptake"),
    ("alpha", "g/g", 0.1, (0, 10), "Luedeking & Piret 1959, J Biochem Microbiol Technol Eng 1:393",
     "growth-associated product formation"),
    ("beta", "g/g/h", 0.01, (0, 1), "Luedeking & Piret 1959", "non-growth-associated product formation"),
    ("Y_xo", "g/mmol", 0.03, (0.001, 1), "~1 g cells per g O2 (Shuler & Kargi 2002)", "biomass yield on O2"),
    ("m_o", "mmol/g/h", 0.5, (0, 20), "E. coli O2 maintenance (order of magnitude)", "O2 maintenance coefficient"),
    ("K_DO", "percent", 1.0, (0, 50), "critical DO of E. coli ~ 5-10 % air saturation",
     "DO limitation constant of growth and O2 uptake"),
    ("T_ref", "degC", 37.0, (10, 45), "", "reference temperature of the rates"),
    ("Q10_growth", "1", 2.0, (1, 10), "classical Q10 ~ 2", "Q10 of growth, maintenance and O2 uptake"),
    ("pH_min", "1", 4.5, (2, 7), "E. coli (Rosso et al. 1995)", "cardinal pH minimum"),
    ("pH_opt", "1", 7.0, (4, 9), "E. coli", "cardinal pH optimum"),
    ("pH_max", "1", 9.0, (7, 11), "E. coli", "cardinal pH maximum"),
)

#: parameters only one growth law uses
GROWTH_LAW_PARAMETERS = {
    "monod": (("K_s", "g/L", 0.05, (0, 50), "Monod 1949, Annu Rev Microbiol 3:371", "saturation constant"),),
    "haldane": (("K_s", "g/L", 0.05, (0, 50), "Andrews 1968, Biotechnol Bioeng 10:707", "saturation constant"),
                ("K_i", "g/L", 20.0, (1e-3, 1e4), "Andrews 1968", "substrate inhibition constant")),
    "contois": (("K_x", "g/g", 0.1, (1e-6, 100), "Contois 1959, J Gen Microbiol 21:40",
                 "saturation constant per unit biomass (g substrate / g cells)"),),
}


def growth_rate(law: str, P, S, X, L):
    """Specific growth rate without temperature, pH and DO factors."""
    S = L.fmax(S, 0.0)
    if law == "monod":
        return P["mu_max"] * S / (P["K_s"] + S)
    if law == "haldane":
        return P["mu_max"] * S / (P["K_s"] + S + S * S / P["K_i"])
    if law == "contois":
        return P["mu_max"] * S / (P["K_x"] * L.fmax(X, 0.0) + S)
    raise ValueError(f"unknown growth law '{law}'; known: {', '.join(GROWTH_LAWS)}")


def microbial_rates(law: str, P, c, u, L):
    """Volumetric rates (g/L/h; OUR mmol/L/h) of growth, substrate uptake and product formation."""
    f_do = monod(c["DO"], P["K_DO"], L)
    f_T = q10_factor(P["Q10_growth"], u["temperature"], P["T_ref"])
    mu = growth_rate(law, P, c["S"], c["X"], L) * f_T * cardinal_ph(u["pH"], P["pH_min"], P["pH_opt"],
                                                                    P["pH_max"], L) * f_do
    X = L.fmax(c["X"], 0.0)
    q_s = mu / P["Y_xs"] + f_T * P["m_s"] * monod(c["S"], P["K_maint"], L)
    q_p = P["alpha"] * mu + P["beta"]
    q_o = (mu / P["Y_xo"] + f_T * P["m_o"]) * f_do
    return {"mu": mu, "q_s": q_s, "q_p": q_p, "q_o2": q_o,
            "X": mu * X, "S": -q_s * X, "P": q_p * X, "OUR": q_o * X}
