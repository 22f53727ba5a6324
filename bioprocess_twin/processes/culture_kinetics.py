"""Stirred, sparged culture: what the CHO and microbial process models share.

SI inside: the equations receive every value in SI base units (converted by pint from the declared
units by the ModelBuilder): V in m^3, F in m^3/s, amounts in mol, kg or count, concentrations in
mol/m^3 (= mmol/L), kg/m^3 (= g/L) or count/m^3, rates per s, temperatures in K, DO as a fraction of
air saturation (1 = in equilibrium with air), impeller speed N in 1/s, gas flow per volume in 1/s.
The models declare and report the usual units (h, L, mmol, Mcount/mL, %, degC, rpm, vvm).

Balances on amounts (V liquid volume, F feed rate, c_f feed-medium concentration), so a bolus shot
of feed is a constant jump of V and of every amount:
    dV/dt = F,     dn_i/dt = r_i V + F c_f,i,     dG_i/dt = r_i V  (G_i: amount formed (+) or used (-))
The cumulative reaction states G_i give the ``generated`` of the production unit.

Gas-liquid transfer (correlations of correlations/agitation.py):
    P0 = n Np rho N^3 D^5,  Pg = min(P0, n c (P0,1^2 N D^3/Qg^0.56)^0.45)    (Michel & Miller 1962)
    Qg = q_g V (q_g: gas flow per liquid volume, vvm),  v_s = Qg/(pi T^2/4)
    kLa = f_kLa a (Pg/V)^alpha v_s^beta                              (van 't Riet 1979 or others)
    C*_air(T) = C*_25 exp(dH (1/T - 1/298.15 K))                     (Benson & Krause 1984; Sander 2015)
    y_O2 = air, or P control: 0.2095 + 0.7905 clip(K_c (DO_sp - DO), 0, 1)   (O2 enrichment cascade)
    dDO/dt = kLa (y_O2/0.2095 - DO) - OUR/C*_air + (F/V)(1 - DO)
               (DO as a fraction of air saturation; OTR = kLa (C* - C); the feed enters air-saturated)
    f_T = Q10^((T - T_ref)/10 K)                                     (a temperature difference)

Every function takes a math namespace ``L`` (:data:`CASADI` or :data:`NUMPY`) for the few
non-arithmetic operations (max, min, exp, if-else), so the CasADi models (``cho_fed_batch.py``,
``microbial_fed_batch.py``) and the NumPy right-hand side of the scipy benchmark evaluate the same
equations (docs/models/bioreactor.md).
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import casadi as ca
import numpy as np

from ..core.model import UNBOUNDED
from ..core.parameters import Parameter, ParameterTable
from ..correlations.agitation import (
    IMPELLERS,
    RHO_WATER,
    gassed_power_michel_miller,
    kla,
    superficial_gas_velocity,
    tip_speed,
    ungassed_power,
)

CASADI = SimpleNamespace(fmax=ca.fmax, fmin=ca.fmin, exp=ca.exp, where=ca.if_else)
NUMPY = SimpleNamespace(fmax=np.maximum, fmin=np.minimum, exp=np.exp, where=np.where)

O2_AIR = 0.2095  # mole fraction of O2 in air
T_REF_SOLUBILITY = 298.15  # K: reference temperature of c_star_25
AIR_SATURATED = 1.0  # DO (fraction of air saturation) of a liquid in equilibrium with air
Q10_INTERVAL = 10.0  # K: the temperature step a Q10 factor refers to

#: units of the KPIs every stirred, fed culture reports: oxygen supply, volumes and agitation
STIRRED_VESSEL_KPI_UNITS = {
    "min_DO_pct": "percent",
    "max_o2_fraction": "",
    "final_volume_L": "L",
    "feed_used_L": "L",
    "kla_1_per_h": "1/h",
    "power_per_volume_W_per_m3": "W/m^3",
}

#: parameters of the stirred, sparged vessel
VESSEL_PARAMETERS = ParameterTable(
    (
        Parameter(
            name="tank_diameter",
            units="m",
            default=0.13,
            bounds=(0.02, 10),
            source="2 L bench vessel, H/T ~ 1.2",
            description="vessel inner diameter T",
        ),
        Parameter(
            name="impeller_diameter",
            units="m",
            default=0.055,
            bounds=(0.005, 5),
            source="D/T ~ 0.42",
            description="impeller diameter D",
        ),
        Parameter(
            name="n_impellers",
            units="1",
            default=1,
            bounds=(1, 6),
            source="",
            description="impellers on the shaft (each sees the full gas flow)",
            integer=True,
        ),
        Parameter(
            name="power_number",
            units="1",
            default=IMPELLERS["pitched_blade"].power_number,
            bounds=(0.1, 10),
            source=IMPELLERS["pitched_blade"].source,
            description="turbulent power number Np of one impeller",
        ),
        Parameter(
            name="density",
            units="kg/m^3",
            default=RHO_WATER,
            bounds=(950, 1100),
            source="culture medium ~ water",
            description="broth density",
        ),
        Parameter(
            name="kla_factor",
            units="1",
            default=1.0,
            bounds=(0.05, 20),
            source="calibration multiplier (1 = correlation as published)",
            description="multiplies the kLa correlation (medium additives, antifoam, sparger type)",
        ),
        Parameter(
            name="c_star_25",
            units="mmol/L",
            default=0.258,
            bounds=(0.1, 0.4),
            source="Benson & Krause 1984, Limnol Oceanogr 29:620 (8.26 mg/L, 25 C)",
            description="O2 solubility in water under air at 25 C and 1 atm",
        ),
        Parameter(
            name="solubility_dH",
            units="K",
            default=1700.0,
            bounds=(0, 3000),
            source="Sander 2015, Atmos Chem Phys 15:4399 (O2: -d ln kH/d(1/T))",
            description="van 't Hoff temperature coefficient of O2 solubility",
        ),
        Parameter(
            name="do_setpoint",
            units="percent",
            default=40.0,
            bounds=(1, 100),
            source="typical CHO DO set point 30-50 %",
            description="DO controller set point",
        ),
        Parameter(
            name="do_gain",
            units="1/percent",
            default=0.05,
            bounds=(0, 10),
            source="tuned: full O2 at 20 % below set point",
            description="proportional gain of the O2-enrichment controller (O2 fraction per % DO error)",
        ),
    )
)


def vessel_parameters(defaults: dict) -> ParameterTable:
    """The vessel parameters with other defaults (a different bench vessel)."""
    return ParameterTable(
        tuple(replace(p, default=defaults[p.name]) if p.name in defaults else p for p in VESSEL_PARAMETERS)
    )


# -- shared factors ------------------------------------------------------------------------------
def q10_factor(q10, T, T_ref):
    """Q10 temperature factor q10^((T - T_ref)/10 K) (T and T_ref in K: only their difference counts)."""
    return q10 ** ((T - T_ref) / Q10_INTERVAL)


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
def gas_transfer(P, V, N, gas_per_volume, T, correlation: str, L):
    """Power (W), kLa (1/s) and O2 solubility under air (mol/m^3) at the current liquid volume, all SI.

    V liquid volume (m^3), N impeller speed (1/s), ``gas_per_volume`` sparge gas flow per liquid volume
    (vvm in SI: 1/s), T temperature (K). Uses the correlations of :mod:`..correlations.agitation`:
    P0 = n Np rho N^3 D^5, Michel-Miller gassed power capped at P0, v_s = Qg / (pi T^2/4),
    kLa = a (Pg/V)^alpha v_s^beta.
    """
    D, T_tank = P["impeller_diameter"], P["tank_diameter"]
    Qg = gas_per_volume * V  # m^3/s
    p0_one = ungassed_power(P["power_number"], P["density"], N, D)
    pg_one = L.fmin(p0_one, gassed_power_michel_miller(p0_one, N, D, Qg))
    Pg = P["n_impellers"] * pg_one
    v_s = superficial_gas_velocity(Qg, T_tank)
    kla_s = P["kla_factor"] * kla(Pg / V, v_s, correlation)
    c_star_air = P["c_star_25"] * L.exp(P["solubility_dH"] * (1.0 / T - 1.0 / T_REF_SOLUBILITY))
    return {
        "kla": kla_s,
        "power_ungassed": P["n_impellers"] * p0_one,
        "power_gassed": Pg,
        "power_per_volume": Pg / V,
        "superficial_gas_velocity": v_s,
        "c_star_air": c_star_air,
        "tip_speed": tip_speed(N, D),
    }


def o2_fraction(P, DO, do_control, o2_manual, L):
    """O2 mole fraction of the sparge gas: manual, or a P controller that enriches air with O2 below the set point."""
    enriched = O2_AIR + (1.0 - O2_AIR) * L.fmin(L.fmax(P["do_gain"] * (P["do_setpoint"] - DO), 0.0), 1.0)
    return do_control * enriched + (1.0 - do_control) * o2_manual


def do_rate(P, gas, DO, y_o2, OUR, dilution, L):
    """d(DO)/dt (fraction of air saturation per s): transfer - uptake + dilution by air-saturated feed."""
    return gas["kla"] * (y_o2 / O2_AIR - DO) - OUR / gas["c_star_air"] + dilution * (AIR_SATURATED - DO)


def otr(gas, y_o2, DO):
    """O2 transfer rate (mol/m^3/s): kLa C*_air (y_O2/0.2095 - DO)."""
    return gas["kla"] * gas["c_star_air"] * (y_o2 / O2_AIR - DO)


# -- CHO cell culture ------------------------------------------------------------------------------
#: CHO kinetic parameters (Xing et al. 2010 structure; values typical of a 14-day fed-batch, tuned)
CHO_KINETICS = ParameterTable(
    (
        Parameter(
            name="mu_max",
            units="1/h",
            default=0.045,
            bounds=(0.001, 0.2),
            source="Xing et al. 2010, Biotechnol Prog 26:208 (0.03-0.05 1/h)",
            description="maximum specific growth rate at T_ref",
        ),
        Parameter(
            name="K_glc",
            units="mmol/L",
            default=0.8,
            bounds=(0.0, 50),
            source="Ben Yahia et al. 2015, Appl Microbiol Biotechnol 99:7009 (0.1-1.5 mM)",
            description="Monod constant of glucose",
        ),
        Parameter(
            name="K_gln",
            units="mmol/L",
            default=0.3,
            bounds=(0.0, 20),
            source="Ben Yahia et al. 2015 (0.05-0.8 mM)",
            description="Monod constant of glutamine",
        ),
        Parameter(
            name="KI_lac",
            units="mmol/L",
            default=80.0,
            bounds=(1, 1000),
            source="Xing et al. 2010 form; tuned (lactate inhibits above ~40 mM)",
            description="lactate inhibition constant of growth",
        ),
        Parameter(
            name="KI_amm",
            units="mmol/L",
            default=15.0,
            bounds=(0.1, 200),
            source="Xing et al. 2010 form; tuned (ammonia inhibits above ~5 mM)",
            description="ammonia inhibition constant of growth",
        ),
        Parameter(
            name="K_DO",
            units="percent",
            default=1.5,
            bounds=(0, 50),
            source="CHO grows unaffected down to ~5-10 % air saturation",
            description="DO limitation constant of growth and O2 uptake",
        ),
        Parameter(
            name="kd_0",
            units="1/h",
            default=0.0005,
            bounds=(0, 0.1),
            source="tuned: ~97 % viability in the growth phase",
            description="basal death rate",
        ),
        Parameter(
            name="kd_amm",
            units="1/h",
            default=0.006,
            bounds=(0, 1),
            source="tuned (death rises with ammonia; Xing et al. 2010; Ben Yahia et al. 2015)",
            description="maximum ammonia-driven death rate",
        ),
        Parameter(
            name="KD_amm",
            units="mmol/L",
            default=12.0,
            bounds=(0.1, 200),
            source="tuned",
            description="ammonia level of half-maximal ammonia-driven death",
        ),
        Parameter(
            name="kd_lac",
            units="1/h",
            default=0.008,
            bounds=(0, 1),
            source="tuned (death rises with lactate)",
            description="maximum lactate-driven death rate",
        ),
        Parameter(
            name="KD_lac",
            units="mmol/L",
            default=60.0,
            bounds=(1, 1000),
            source="tuned",
            description="lactate level of half-maximal lactate-driven death",
        ),
        Parameter(
            name="kd_starve",
            units="1/h",
            default=0.03,
            bounds=(0, 1),
            source="tuned (apoptosis on glucose or glutamine depletion)",
            description="death rate when glucose or glutamine is exhausted",
        ),
        Parameter(
            name="KD_starve",
            units="mmol/L",
            default=0.1,
            bounds=(0.001, 20),
            source="tuned",
            description="level below which depletion death sets in",
        ),
        Parameter(
            name="Y_x_glc",
            units="Gcount/mmol",
            default=0.6,
            bounds=(0.01, 100),
            source="tuned: q_glc ~ 0.1 pmol/cell/h in growth (Ben Yahia et al. 2015)",
            description="cells formed per glucose consumed (growth part)",
        ),
        Parameter(
            name="m_glc",
            units="mmol/Gcount/h",
            default=0.025,
            bounds=(0, 1),
            source="Xing et al. 2010 (maintenance dominates late glucose uptake)",
            description="glucose maintenance coefficient (Pirt)",
        ),
        Parameter(
            name="Y_x_gln",
            units="Gcount/mmol",
            default=3.0,
            bounds=(0.01, 100),
            source="tuned: q_gln ~ 0.015 pmol/cell/h",
            description="cells formed per glutamine",
        ),
        Parameter(
            name="m_gln",
            units="mmol/Gcount/h",
            default=0.0005,
            bounds=(0, 1),
            source="Xing et al. 2010 (glutamine maintenance negligible)",
            description="glutamine maintenance coefficient",
        ),
        Parameter(
            name="K_maint",
            units="mmol/L",
            default=0.1,
            bounds=(1e-4, 10),
            source="numerical: maintenance uptake stops at depletion",
            description="Monod cut-off of maintenance uptake",
        ),
        Parameter(
            name="Y_lac_glc",
            units="mol/mol",
            default=1.0,
            bounds=(0, 2),
            source="0.5-2 mol/mol (Ben Yahia et al. 2015)",
            description="lactate produced per glucose",
        ),
        Parameter(
            name="q_lac_uptake",
            units="mmol/Gcount/h",
            default=0.05,
            bounds=(0, 1),
            source="lactate switch (Mulukutla et al. 2012, Metab Eng 14:138)",
            description="maximum specific lactate consumption (0 = no lactate switch)",
        ),
        Parameter(
            name="K_lac_uptake",
            units="mmol/L",
            default=5.0,
            bounds=(0.01, 100),
            source="tuned",
            description="Monod constant of lactate consumption",
        ),
        Parameter(
            name="Y_amm_gln",
            units="mol/mol",
            default=0.7,
            bounds=(0, 2),
            source="0.6-1 mol/mol (Ben Yahia et al. 2015)",
            description="ammonia released per glutamine",
        ),
        Parameter(
            name="k_gln_deg",
            units="1/h",
            default=0.0035,
            bounds=(0, 0.05),
            source="Ozturk & Palsson 1990, Biotechnol Prog 6:121 (37 C)",
            description="spontaneous glutamine decomposition to pyroglutamate + ammonia",
        ),
        Parameter(
            name="q_p",
            units="mg/Gcount/h",
            default=0.8,
            bounds=(0, 20),
            source="CHO 10-50 pg/cell/day (Ben Yahia et al. 2015); 1 mg/Gcount = 1 pg/cell",
            description="non-growth-associated specific productivity at T_ref (Luedeking-Piret beta)",
        ),
        Parameter(
            name="alpha_p",
            units="mg/Gcount",
            default=0.0,
            bounds=(0, 1000),
            source="Luedeking & Piret 1959",
            description="growth-associated product per cell formed",
        ),
        Parameter(
            name="q_o2",
            units="mmol/Gcount/h",
            default=0.15,
            bounds=(0, 2),
            source="CHO 0.1-0.3 pmol/cell/h (Goudar et al. 2011, Biotechnol Bioeng)",
            description="specific O2 uptake rate",
        ),
        Parameter(
            name="q_hcp",
            units="mg/Gcount/h",
            default=0.05,
            bounds=(0, 5),
            source="tuned to harvest HCP ~ 0.1-1 g/L",
            description="HCP secretion per viable cell",
        ),
        Parameter(
            name="hcp_per_cell",
            units="mg/Gcount",
            default=10.0,
            bounds=(0, 200),
            source="tuned",
            description="HCP released when a cell dies (pg/cell)",
        ),
        Parameter(
            name="dna_per_cell",
            units="mg/Gcount",
            default=6.0,
            bounds=(0, 20),
            source="CHO diploid genome ~ 5-6 pg/cell",
            description="DNA released when a cell dies",
        ),
        Parameter(
            name="T_ref",
            units="degC",
            default=37.0,
            bounds=(30, 40),
            source="",
            description="reference temperature of the rates",
        ),
        Parameter(
            name="Q10_growth",
            units="1",
            default=4.0,
            bounds=(1, 10),
            source="growth ~halves from 37 to 32 C (Kumar et al. 2007, Biotechnol Lett 29:1)",
            description="Q10 of mu_max",
        ),
        Parameter(
            name="Q10_productivity",
            units="1",
            default=0.5,
            bounds=(0.1, 5),
            source="q_p ~1.4x higher at 32 C (Yoon et al. 2003, Biotechnol Bioeng 82:289)",
            description="Q10 of q_p (< 1: productivity rises when cooled)",
        ),
        Parameter(
            name="Q10_metabolism",
            units="1",
            default=2.0,
            bounds=(1, 10),
            source="classical Q10 ~ 2",
            description="Q10 of death, maintenance and O2 uptake",
        ),
        Parameter(
            name="pH_min", units="1", default=6.2, bounds=(4, 7), source="CHO", description="cardinal pH minimum"
        ),
        Parameter(
            name="pH_opt", units="1", default=7.0, bounds=(5, 8), source="CHO", description="cardinal pH optimum"
        ),
        Parameter(
            name="pH_max", units="1", default=7.8, bounds=(7, 10), source="CHO", description="cardinal pH maximum"
        ),
    )
)


def cho_rates(P, c, u, L):
    """Specific and volumetric rates of the CHO culture, in SI.

    ``c``: concentrations Xv (count/m^3), glc, gln, lac, amm (mol/m^3), DO (fraction of air
    saturation); ``u``: temperature (K), pH. Returns rates per m^3 per s (cells in count/m^3/s,
    metabolites mol/m^3/s, product kg/m^3/s) and the specific rates (per cell and s).
    """
    T, pH = u["temperature"], u["pH"]
    f_do = monod(c["DO"], P["K_DO"], L)
    f_met = q10_factor(P["Q10_metabolism"], T, P["T_ref"])
    f_growth = q10_factor(P["Q10_growth"], T, P["T_ref"])
    mu = (
        P["mu_max"]
        * f_growth
        * cardinal_ph(pH, P["pH_min"], P["pH_opt"], P["pH_max"], L)
        * monod(c["glc"], P["K_glc"], L)
        * monod(c["gln"], P["K_gln"], L)
        * inhibition(c["lac"], P["KI_lac"], L)
        * inhibition(c["amm"], P["KI_amm"], L)
        * f_do
    )
    starve = P["kd_starve"] * L.fmax(1.0 - hill2(c["glc"], P["KD_starve"], L), 1.0 - hill2(c["gln"], P["KD_starve"], L))
    mu_d = f_met * (
        P["kd_0"]
        + P["kd_amm"] * hill2(c["amm"], P["KD_amm"], L)
        + P["kd_lac"] * hill2(c["lac"], P["KD_lac"], L)
        + starve
    )
    q_glc = mu / P["Y_x_glc"] + f_met * P["m_glc"] * monod(c["glc"], P["K_maint"], L)
    q_gln = mu / P["Y_x_gln"] + f_met * P["m_gln"] * monod(c["gln"], P["K_maint"], L)
    growth_share = mu / (P["mu_max"] * f_growth)  # 1 in unlimited growth, 0 when growth stops
    q_lac = P["Y_lac_glc"] * q_glc - P["q_lac_uptake"] * monod(c["lac"], P["K_lac_uptake"], L) * (1.0 - growth_share)
    q_p = P["alpha_p"] * mu + P["q_p"] * q10_factor(P["Q10_productivity"], T, P["T_ref"])
    q_o2 = f_met * P["q_o2"] * f_do
    Xv = L.fmax(c["Xv"], 0.0)
    deg = P["k_gln_deg"] * L.fmax(c["gln"], 0.0)
    return {
        "mu": mu,
        "mu_d": mu_d,
        "q_glc": q_glc,
        "q_gln": q_gln,
        "q_lac": q_lac,
        "q_p": q_p,
        "q_o2": q_o2,
        "growth": mu * Xv,
        "death": mu_d * Xv,
        "glc": -q_glc * Xv,
        "gln": -q_gln * Xv - deg,
        "lac": q_lac * Xv,
        "amm": P["Y_amm_gln"] * q_gln * Xv + deg,
        "antigen": q_p * Xv,
        "hcp": P["q_hcp"] * Xv + P["hcp_per_cell"] * mu_d * Xv,
        "dna": P["dna_per_cell"] * mu_d * Xv,
        "OUR": q_o2 * Xv,
    }


# -- microbial culture ---------------------------------------------------------------------------
GROWTH_LAWS = ("monod", "haldane", "contois")

MICROBIAL_KINETICS = ParameterTable(
    (
        Parameter(
            name="mu_max",
            units="1/h",
            default=0.6,
            bounds=(0.001, 3),
            source="E. coli on glucose ~0.6-0.9 1/h (Shuler & Kargi 2002)",
            description="maximum specific growth rate at T_ref",
        ),
        Parameter(
            name="Y_xs",
            units="g/g",
            default=0.5,
            bounds=(0.01, 1),
            source="E. coli on glucose ~0.5 g/g (Shuler & Kargi 2002)",
            description="biomass yield on substrate",
        ),
        Parameter(
            name="m_s",
            units="g/g/h",
            default=0.03,
            bounds=(0, 1),
            source="Pirt 1965, Proc R Soc B 163:224; E. coli 0.025-0.06 g/g/h",
            description="substrate maintenance coefficient",
        ),
        Parameter(
            name="K_maint",
            units="g/L",
            default=0.005,
            bounds=(1e-6, 10),
            source="numerical: maintenance uptake stops at depletion",
            description="Monod cut-off of maintenance uptake",
        ),
        Parameter(
            name="alpha",
            units="g/g",
            default=0.1,
            bounds=(0, 10),
            source="Luedeking & Piret 1959, J Biochem Microbiol Technol Eng 1:393",
            description="growth-associated product formation",
        ),
        Parameter(
            name="beta",
            units="g/g/h",
            default=0.01,
            bounds=(0, 1),
            source="Luedeking & Piret 1959",
            description="non-growth-associated product formation",
        ),
        Parameter(
            name="Y_xo",
            units="g/mmol",
            default=0.03,
            bounds=(0.001, 1),
            source="~1 g cells per g O2 (Shuler & Kargi 2002)",
            description="biomass yield on O2",
        ),
        Parameter(
            name="m_o",
            units="mmol/g/h",
            default=0.5,
            bounds=(0, 20),
            source="E. coli O2 maintenance (order of magnitude)",
            description="O2 maintenance coefficient",
        ),
        Parameter(
            name="K_DO",
            units="percent",
            default=1.0,
            bounds=(0, 50),
            source="critical DO of E. coli ~ 5-10 % air saturation",
            description="DO limitation constant of growth and O2 uptake",
        ),
        Parameter(
            name="T_ref",
            units="degC",
            default=37.0,
            bounds=(10, 45),
            source="",
            description="reference temperature of the rates",
        ),
        Parameter(
            name="Q10_growth",
            units="1",
            default=2.0,
            bounds=(1, 10),
            source="classical Q10 ~ 2",
            description="Q10 of growth, maintenance and O2 uptake",
        ),
        Parameter(
            name="pH_min",
            units="1",
            default=4.5,
            bounds=(2, 7),
            source="E. coli (Rosso et al. 1995)",
            description="cardinal pH minimum",
        ),
        Parameter(
            name="pH_opt", units="1", default=7.0, bounds=(4, 9), source="E. coli", description="cardinal pH optimum"
        ),
        Parameter(
            name="pH_max", units="1", default=9.0, bounds=(7, 11), source="E. coli", description="cardinal pH maximum"
        ),
    )
)

#: parameters only one growth law uses
GROWTH_LAW_PARAMETERS = {
    "monod": ParameterTable(
        (
            Parameter(
                name="K_s",
                units="g/L",
                default=0.05,
                bounds=(0, 50),
                source="Monod 1949, Annu Rev Microbiol 3:371",
                description="saturation constant",
            ),
        )
    ),
    "haldane": ParameterTable(
        (
            Parameter(
                name="K_s",
                units="g/L",
                default=0.05,
                bounds=(0, 50),
                source="Andrews 1968, Biotechnol Bioeng 10:707",
                description="saturation constant",
            ),
            Parameter(
                name="K_i",
                units="g/L",
                default=20.0,
                bounds=(1e-3, 1e4),
                source="Andrews 1968",
                description="substrate inhibition constant",
            ),
        )
    ),
    "contois": ParameterTable(
        (
            Parameter(
                name="K_x",
                units="g/g",
                default=0.1,
                bounds=(1e-6, 100),
                source="Contois 1959, J Gen Microbiol 21:40",
                description="saturation constant per unit biomass (g substrate / g cells)",
            ),
        )
    ),
}


def growth_rate(law: str, P, S, X, L):
    """Specific growth rate without temperature, pH and DO factors (any consistent units; SI in the models)."""
    S = L.fmax(S, 0.0)
    if law == "monod":
        return P["mu_max"] * S / (P["K_s"] + S)
    if law == "haldane":
        return P["mu_max"] * S / (P["K_s"] + S + S * S / P["K_i"])
    if law == "contois":
        return P["mu_max"] * S / (P["K_x"] * L.fmax(X, 0.0) + S)
    raise ValueError(f"unknown growth law '{law}'; known: {', '.join(GROWTH_LAWS)}")


def microbial_rates(law: str, P, c, u, L):
    """Volumetric rates in SI (kg/m^3/s; OUR mol/m^3/s) of growth, substrate uptake and product formation."""
    f_do = monod(c["DO"], P["K_DO"], L)
    f_T = q10_factor(P["Q10_growth"], u["temperature"], P["T_ref"])
    mu = (
        growth_rate(law, P, c["S"], c["X"], L)
        * f_T
        * cardinal_ph(u["pH"], P["pH_min"], P["pH_opt"], P["pH_max"], L)
        * f_do
    )
    X = L.fmax(c["X"], 0.0)
    q_s = mu / P["Y_xs"] + f_T * P["m_s"] * monod(c["S"], P["K_maint"], L)
    q_p = P["alpha"] * mu + P["beta"]
    q_o = (mu / P["Y_xo"] + f_T * P["m_o"]) * f_do
    return {"mu": mu, "q_s": q_s, "q_p": q_p, "q_o2": q_o, "X": mu * X, "S": -q_s * X, "P": q_p * X, "OUR": q_o * X}


DEFAULT_KLA = "van_t_riet_coalescing"


def culture_inputs(agitation: float, aeration: float) -> ParameterTable:
    """The inputs of a culture model (recipe events set them), with its default agitation and aeration."""
    return ParameterTable(
        (
            Parameter(
                name="feed_rate",
                units="L/h",
                default=0.0,
                bounds=(0, 1e4),
                description="feed-medium flow (recipe events set it)",
            ),
            Parameter(
                name="temperature", units="degC", default=37.0, bounds=(20, 45), description="culture temperature"
            ),
            Parameter(name="pH", units="1", default=7.0, bounds=(3, 10), description="culture pH (controlled)"),
            Parameter(
                name="agitation", units="rpm", default=agitation, bounds=(1, 3000), description="impeller speed N"
            ),
            Parameter(
                name="aeration",
                units="1/min",
                default=aeration,
                bounds=(1e-4, 3),
                description="sparge gas flow per liquid volume (vvm)",
            ),
            Parameter(
                name="do_control",
                units="1",
                default=1.0,
                bounds=(0, 1),
                description="1: O2 enrichment controls DO at its set point",
            ),
            Parameter(
                name="o2_fraction",
                units="1",
                default=O2_AIR,
                bounds=(0, 1),
                description="O2 fraction of the sparge gas without control",
            ),
        )
    )


#: states named gen_<species> hold the net amount formed (+) or consumed (-): signed, unlike the others
NET_AMOUNT_PREFIX = "gen_"


def declare_states(m, states, initial: dict) -> dict:
    """Declare the culture states ``(name, units, description)``: the net amounts are signed, the
    others (volumes, cells, amounts, DO) non-negative."""
    return {
        name: m.state(
            name,
            units,
            initial=initial[name],
            description=description,
            bounds=UNBOUNDED if name.startswith(NET_AMOUNT_PREFIX) else None,
        )
        for name, units, description in states
    }


def common_outputs(m, r, gas, y_o2, DO):
    """Outputs every culture model has: growth, gas transfer, O2 uptake and transfer (SI expressions)."""
    m.output("mu", r["mu"], "1/h", "specific growth rate")
    m.output("kla", gas["kla"], "1/h", "volumetric O2 transfer coefficient")
    m.output("power_per_volume", gas["power_per_volume"], "W/m^3", "gassed power per liquid volume")
    m.output("tip_speed", gas["tip_speed"], "m/s")
    m.output("superficial_gas_velocity", gas["superficial_gas_velocity"], "mm/s")
    m.output("OUR", r["OUR"], "mmol/L/h", "O2 uptake rate")
    m.output("OTR", otr(gas, y_o2, DO), "mmol/L/h", "O2 transfer rate")
    m.output("gas_o2", y_o2, "1", "O2 fraction of the sparge gas")


def output_grid(recipe, step: float) -> np.ndarray:
    """Every ``step`` (in the model's time units), plus the recipe's phase boundaries and events."""
    end = recipe.end
    return np.unique(np.concatenate([np.arange(0.0, end, step), [end], recipe.time_grid(1)]))
