"""Aluminium-salt adjuvant precipitation (AlOOH, AlPO4) in a stirred tank at controlled pH.

Two registered processes share this code: ``alum_alooh`` (AlCl3 dosed into water, pH held by
NaOH: poorly crystalline aluminium oxyhydroxide, the "aluminium hydroxide" adjuvant) and
``alum_alpo4`` (AlCl3 dosed into a sodium phosphate charge at constant pH: amorphous aluminium
(hydroxy)phosphate, treated as AlPO4).  A recipe has a "dosing" phase (feed on) and an "ageing"
phase (feed off, stirring on).

Balances (amounts in mol; V vessel volume, titrant volume not counted)::

    dV/dt = Q                   dn_fed/dt = F_Al                 (feed, recipe inputs)
    dn_Al/dt = F_Al - R         dn_P/dt = -R (AlPO4)             R = precipitation rate
    dm_i/dt = V v_i/v_m * PBE_i(N)     N_i = m_i v_m/(v_i V)     (m_i: mol of Al in class i)

The PBE (bioprocess_twin.pbe on 60 volume classes from 1 nm to 1 mm: nucleation into class 0,
Koren-limited finite-volume growth, fixed-pivot aggregation and breakage) works on number
concentrations N_i = max(m_i, 0) v_m/(v_i V); the states are the moles of Al held in each class,
so every state is O(mol) and R = sum_i dm_i/dt keeps Al exactly conserved.

Units: the equations are written in SI base units. Pint converts every declared value where it
enters (L -> m^3, L/min -> m^3/s, mol/min -> mol/s, rpm -> 1/s, kJ/mol -> J/mol, umol -> mol,
mol/L -> mol/m^3) and converts the outputs back to their declared units; the code holds no unit
factors. Concentrations c = n/V are in mol/m^3; activities, the ionic strength in the Davies
equation and the solubility products use them relative to the standard concentration
c0 = 1 mol/L (``C_STANDARD``).

Solution chemistry (activities, 25 degC constants; Davies 1962 activity coefficients)::

    log g_z = -A z^2 (sqrt(I/c0)/(1+sqrt(I/c0)) - 0.3 I/c0),   A = 0.5085 + 0.00089 (T - 298.15 K)/K
    I = I0 + i_Al c_fed + 3 c_Al + 2 c_P             (NaCl from neutralisation, excess salts)
    a_Al3 = (c_Al/c0) / (1/g3 + b1/(aH g2) + b2/(aH^2 g1) + b3/aH^3 + b4/(aH^4 g1))
    a_PO4 = (c_P/c0) / (1/g3 + aH/(K3 g2) + aH^2/(K2 K3 g1) + aH^3/(K1 K2 K3))
    AlOOH:  S = a_Al3 / (*Ks0 aH^3)     (AlOOH + 3H+ = Al3+ + 2H2O)
    AlPO4:  S = a_Al3 a_PO4 / Ksp       (AlPO4 = Al3+ + PO4^3-)
    log K(T) = log K(298) - dH/(R ln10) (1/T - 1/298.15)             (van 't Hoff)

with aH = 10^-pH (pH is a controlled input) and Al hydrolysis constants log *b1..4 = -5.00,
-10.1, -16.9, -22.7 (Nordstrom & May 1989, as in WATEQ4F: Ball & Nordstrom 1991) and phosphoric
acid pKa 2.168, 7.207, 12.346 (same database).

Kinetics::

    B = A_n exp(-16 pi gamma^3 v0^2 / (3 (kT)^3 ln^2 S))    (classical nucleation, Mullin 2001)
    G = k_g exp(-E_g/R (1/T - 1/298.15)) max(S-1, 0)^g        (length growth; max smoothed)
    dv/dt = (pi/2) d^2 G sqrt(1 + (d/d_p)^2),  d_p = (6 V_solid/(pi N_nucleated))^(1/3)
    beta_ij = alpha(pH) [ (4/3) G_s (r_i+r_j)^3 + 2kT/(3 mu) (r_i+r_j)(1/r_i+1/r_j) ]
              (orthokinetic + perikinetic, Smoluchowski 1917; Elimelech et al. 1995)
    alpha = alpha_min + (alpha_max - alpha_min) exp(-((pH - PZC)/w)^2)
    G_s = sqrt(P/(V mu)), P = N_p rho N^3 D^5        (Camp & Stein 1943; Rushton et al. 1950)
    S_i = k_b (G_s/100 s^-1)^y (d_i/1 um)^z, equal binary fragments
              (Pandya & Spielman 1983, y = 1.6; Spicer & Pratsinis 1996, z = 1)

The collision efficiency is a Gaussian in pH - PZC: close to the point of zero charge the
surface carries little charge and collisions stick; far from it electrostatic repulsion gives a
stability ratio W = 1/alpha >> 1.  PZC: AlOOH 11.4, AlPO4 4.6-7 falling with the P/Al ratio
(Hem & White 1995; Burrell, Johnston & Hem 2000; Hem & HogenEsch 2007).

The growth law turns from a compact sphere (d << d_p) into one proportional to the particle
volume (d >> d_p): aggregates of primary particles keep the primaries' surface (adjuvants keep
hundreds of m^2/g), so growth continues on aggregates.  d_p is the mean primary size so far.

Tuned (not measured) defaults: A_n, gamma, k_g (primary particles of a few nm for AlOOH and
tens of nm for AlPO4; Hem & HogenEsch 2007), alpha_min/w and k_b (final d50 of a few um,
Alhydrogel/Adju-Phos aggregates 1-10 um).  Sizes are solid-equivalent sphere diameters.  See
docs/models/alum_precipitation.md for the parameter table and measured trends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import casadi as ca
import numpy as np
import pandas as pd

from ..core import ModelBuilder, Phase, Recipe, SolverOptions
from ..core.constants import K_BOLTZMANN, N_AVOGADRO, R_GAS
from ..core.parameters import Parameter, ParameterTable
from ..core.process import Distribution, Process
from ..core.units import from_si, to_si
from ..pbe import Grid, PopulationBalance, size_stats
from ..pbe.growth import length_growth_to_edges

LN10 = math.log(10.0)
T_REF = 298.15

# Al3+ hydrolysis, log *beta_k for Al3+ + k H2O = Al(OH)k^(3-k) + k H+ (Nordstrom & May 1989)
LOG_BETA_AL = (-5.00, -10.1, -16.9, -22.7)
# phosphoric acid log Ka1..3 (Nordstrom et al. 1990, WATEQ4F)
LOG_KA_P = (-2.168, -7.207, -12.346)

# grid: 1 nm .. 1 mm in 60 classes (volume ratio ~2 between pivots)
D_MIN, D_MAX, N_CLASSES = 1e-9, 1e-3, 60

C_STANDARD = to_si(1.0, "mol/L")  # mol/m^3, standard concentration of the activities and of I in Davies
M_AL = 26.98e-3  # kg/mol, molar mass of Al
G_REF_BREAKAGE = 100.0  # 1/s, shear rate at which k_b is given
D_REF_BREAKAGE = 1e-6  # m, floc size at which k_b is given
# numeric guards
TINY = 1e-30  # floor of the relative concentrations under ln, and of the Al fed in kpis
I_FLOOR = 1e-8  # keeps sqrt(I/c0) differentiable at I = 0
LN_S_MAX = 200.0  # S = exp(min(ln S, LN_S_MAX)) cannot overflow
LN_S2_FLOOR = 1e-6  # (ln S)^2 floor in the nucleation exponent (B -> 0 as S -> 1)
S_SMOOTHING = 1e-3  # width of the smoothed max(S - 1, 0) in growth
N_FED_FLOOR = 1e-12  # mol, Al fed below which the yield is 0
NO_SOLID_SHARE = 1e-9  # solid below this share of the Al fed: nothing precipitated, no sizes
TRUNCATED_SHARE = 0.05  # warn when the largest size class holds more of the solid
# output grid (s): the start-up window in fine steps, then dosing in DOSING_STEPS steps
FINE_WINDOW = 60.0
FINE_STEP = 0.5
DOSING_STEPS = 60


@dataclass(frozen=True)
class Salt:
    """Composition of the solid and its kinetic parameters (in declaration order)."""

    formula: str
    molar_mass: float  # kg/mol
    density: float  # kg/m^3
    has_phosphate: bool
    kinetics: ParameterTable


# kinetic parameters whose defaults both salts share
E_G = Parameter(
    name="E_g",
    units="kJ/mol",
    default=40.0,
    bounds=(0.0, 120.0),
    source="typical surface-integration activation energy (Mullin 2001)",
    description="activation energy of growth",
)
G_ORDER = Parameter(
    name="g_order",
    units="1",
    default=1.0,
    bounds=(1.0, 3.0),
    source="first order in S-1 (Mullin 2001)",
    description="growth order g",
)
ALPHA_MAX = Parameter(
    name="alpha_max",
    units="1",
    default=1.0,
    bounds=(1e-3, 1.0),
    source="no energy barrier at the PZC (Elimelech et al. 1995)",
    description="collision efficiency at the point of zero charge",
)
ALPHA_MIN = Parameter(
    name="alpha_min",
    units="1",
    default=0.05,
    bounds=(1e-5, 1.0),
    source="tuned: aggregation far from the PZC at ~0.1-0.3 M salt",
    description="collision efficiency far from the point of zero charge",
)
PZC_WIDTH = Parameter(
    name="pzc_width",
    units="1",
    default=3.0,
    bounds=(0.3, 6.0),
    source="tuned: width of the sticky pH window",
    description="pH width w of the collision-efficiency window",
)
Y_B = Parameter(
    name="y_b",
    units="1",
    default=1.6,
    bounds=(0.5, 3.0),
    source="Pandya & Spielman 1983; Spicer & Pratsinis 1996",
    description="shear-rate exponent y of the breakage rate",
)
Z_B = Parameter(
    name="z_b",
    units="1",
    default=1.0,
    bounds=(0.3, 3.0),
    source="Spicer & Pratsinis 1996 (S ~ v^(1/3))",
    description="size exponent z of the breakage rate",
)

SALTS = {
    "AlOOH": Salt(
        "AlOOH",
        59.99e-3,
        3010.0,
        False,
        ParameterTable(
            (
                Parameter(
                    name="log_Ks",
                    units="1",
                    default=9.0,
                    bounds=(7.0, 11.0),
                    source="poorly crystalline boehmite between crystalline boehmite "
                    "(~7.5-8.6 reported, e.g. Bourcier et al. 1993) and amorphous Al(OH)3 (10.8, Nordstrom & May 1989)",
                    description="log10 solubility constant at 25 degC (AlOOH: *Ks0 for AlOOH + 3H+ = Al3+ + 2H2O; "
                    "AlPO4: Ksp = a(Al3+) a(PO4^3-))",
                ),
                Parameter(
                    name="dH_s",
                    units="kJ/mol",
                    default=-95.0,
                    bounds=(-150.0, 50.0),
                    source="gibbsite dissolution -95.4 kJ/mol (Nordstrom & May 1989)",
                    description="enthalpy of the dissolution reaction (van 't Hoff)",
                ),
                Parameter(
                    name="gamma_s",
                    units="J/m^2",
                    default=0.10,
                    bounds=(0.02, 0.4),
                    source="tuned; Mersmann 1990 estimate is an upper bound",
                    description="effective solid-liquid interfacial energy in classical nucleation",
                ),
                Parameter(
                    name="log_A_nuc",
                    units="1",
                    default=28.0,
                    bounds=(10.0, 36.0),
                    source="tuned: primary particles ~5-10 nm (Hem & HogenEsch 2007)",
                    description="log10 nucleation pre-exponential factor A_n in 1/(m^3 s)",
                ),
                Parameter(
                    name="k_g",
                    units="m/s",
                    default=1e-12,
                    bounds=(0.0, 1e-6),
                    source="tuned with log_A_nuc",
                    description="growth rate constant at 25 degC, G = k_g (S-1)^g",
                ),
                E_G,
                G_ORDER,
                ALPHA_MAX,
                ALPHA_MIN,
                Parameter(
                    name="pzc",
                    units="1",
                    default=11.4,
                    bounds=(5.0, 12.0),
                    source="Hem & White 1995; Hem & HogenEsch 2007 (adsorbed phosphate lowers it)",
                    description="pH of the point of zero charge of the solid",
                ),
                PZC_WIDTH,
                Parameter(
                    name="k_b",
                    units="1/s",
                    default=0.006,
                    bounds=(1e-3, 100.0),
                    source="tuned: d50 ~5 um at the defaults (Alhydrogel 1-10 um)",
                    description="floc breakage rate at G_s = 100 1/s and d = 1 um",
                ),
                Y_B,
                Z_B,
            )
        ),
    ),
    "AlPO4": Salt(
        "AlPO4",
        121.95e-3,
        2560.0,
        True,
        ParameterTable(
            (
                Parameter(
                    name="log_Ks",
                    units="1",
                    default=-20.0,
                    bounds=(-24.0, -16.0),
                    source="amorphous Al hydroxyphosphate assumed 2 log units more "
                    "soluble than variscite (log Ksp ~ -22, Lindsay 1979)",
                    description="log10 solubility constant at 25 degC (AlOOH: *Ks0 for AlOOH + 3H+ = Al3+ + 2H2O; "
                    "AlPO4: Ksp = a(Al3+) a(PO4^3-))",
                ),
                Parameter(
                    name="dH_s",
                    units="kJ/mol",
                    default=0.0,
                    bounds=(-150.0, 150.0),
                    source="not known; no temperature dependence by default",
                    description="enthalpy of the dissolution reaction (van 't Hoff)",
                ),
                Parameter(
                    name="gamma_s",
                    units="J/m^2",
                    default=0.08,
                    bounds=(0.02, 0.4),
                    source="tuned; Mersmann 1990 estimate is an upper bound",
                    description="effective solid-liquid interfacial energy in classical nucleation",
                ),
                Parameter(
                    name="log_A_nuc",
                    units="1",
                    default=27.0,
                    bounds=(10.0, 36.0),
                    source="tuned: primary particles ~50 nm (Hem & HogenEsch 2007)",
                    description="log10 nucleation pre-exponential factor A_n in 1/(m^3 s)",
                ),
                Parameter(
                    name="k_g",
                    units="m/s",
                    default=1e-11,
                    bounds=(0.0, 1e-6),
                    source="tuned with log_A_nuc",
                    description="growth rate constant at 25 degC, G = k_g (S-1)^g",
                ),
                E_G,
                G_ORDER,
                ALPHA_MAX,
                ALPHA_MIN,
                Parameter(
                    name="pzc",
                    units="1",
                    default=5.0,
                    bounds=(4.0, 8.0),
                    source="4.6-7 falling with P/Al (Burrell et al. 2000; Hem & HogenEsch 2007)",
                    description="pH of the point of zero charge of the solid",
                ),
                PZC_WIDTH,
                Parameter(
                    name="k_b",
                    units="1/s",
                    default=0.1,
                    bounds=(1e-3, 100.0),
                    source="tuned: d50 ~4 um at the defaults (Adju-Phos 1-10 um)",
                    description="floc breakage rate at G_s = 100 1/s and d = 1 um",
                ),
                Y_B,
                Z_B,
            )
        ),
    ),
}

# vessel, stirrer and background electrolyte (both salts)
VESSEL = ParameterTable(
    (
        Parameter(
            name="V0",
            units="L",
            default=8.0,
            bounds=(0.05, 1e5),
            source="lab/pilot vessel",
            description="initial liquid volume in the vessel",
        ),
        Parameter(
            name="impeller_diameter",
            units="m",
            default=0.08,
            bounds=(0.01, 3.0),
            source="D/T ~ 1/3 of a 10 L tank",
            description="impeller diameter D",
        ),
        Parameter(
            name="power_number",
            units="1",
            default=5.0,
            bounds=(0.1, 10.0),
            source="Rushton turbine, Rushton et al. 1950",
            description="impeller power number N_p (turbulent)",
        ),
        Parameter(
            name="rho_liquid",
            units="kg/m^3",
            default=1000.0,
            bounds=(950.0, 1200.0),
            source="water",
            description="liquid density",
        ),
        Parameter(
            name="I_background",
            units="mol/L",
            default=0.0,
            bounds=(0.0, 1.0),
            source="",
            description="background ionic strength (buffer, NaCl)",
        ),
        Parameter(
            name="I_per_al",
            units="1",
            default=3.0,
            bounds=(0.0, 10.0),
            source="3 NaCl per Al with AlCl3 (6 with alum KAl(SO4)2)",
            description="ionic strength added per mol/L of Al fed",
        ),
    )
)


def _softplus(x, eps):
    """Smooth max(x, 0): eps ln(1 + exp(x/eps)), written to avoid overflow."""
    return ca.fmax(x, 0.0) + eps * ca.log1p(ca.exp(-ca.fabs(x) / eps))


def _fine_window(t_dose: float) -> tuple[float, int]:
    """Start-up window (s) resolved in FINE_STEP output steps, and its number of steps."""
    t_fine = min(FINE_WINDOW, t_dose / 4.0)
    return t_fine, max(4, int(round(t_fine / FINE_STEP)))


class AlumPrecipitation(Process):
    """Shared implementation; subclasses set ``salt``."""

    salt: ClassVar[str] = "AlOOH"
    default_pH: ClassVar[float] = 7.0
    #: at most 20,000 steps per output interval, so that runs far outside the calibrated range fail quickly
    #: units of each KPI (pint; "" for a pure number)
    kpi_units = {
        "d10_um": "um",
        "d50_um": "um",
        "d90_um": "um",
        "span": "",
        "d43_um": "um",
        "primary_d_nm": "nm",
        "yield_pct": "percent",
        "S_max": "",
        "log10_S_max": "",
        "particles_per_mL": "1/mL",
        "nuclei_per_mL": "1/mL",
        "al_dissolved_final_mM": "mM",
        "solid_al_g_per_L": "g/L",
        "shear_rate_1_per_s": "1/s",
        "power_per_volume_W_per_m3": "W/m^3",
        "collision_efficiency": "",
        "final_volume_L": "L",
    }
    solver_options = SolverOptions(max_num_steps=20_000)
    operating = ParameterTable(
        (
            Parameter(
                name="al_feed_conc",
                units="mol/L",
                default=0.5,
                bounds=(0.01, 2.0),
                source="typical AlCl3 feed",
                description="AlCl3 concentration of the dosed feed",
            ),
            Parameter(
                name="feed_volume",
                units="L",
                default=2.0,
                bounds=(0.01, 1e5),
                source="",
                description="volume of Al feed dosed",
            ),
            Parameter(
                name="dosing_time",
                units="min",
                default=20.0,
                bounds=(0.1, 600.0),
                source="",
                description="duration of the dosing phase",
            ),
            Parameter(
                name="ageing_time",
                units="min",
                default=60.0,
                bounds=(0.0, 1440.0),
                source="",
                description="duration of the ageing phase (0: none)",
            ),
        )
    )

    def __init__(self):
        super().__init__()
        self.grid = Grid.from_diameters(D_MIN, D_MAX, N_CLASSES)
        self.pb = PopulationBalance(self.grid, aggregation_method="fixed_pivot")
        s = SALTS[self.salt]
        self.v_m = s.molar_mass / s.density  # m^3/mol of solid
        self.v0 = self.v_m / N_AVOGADRO  # m^3 per formula unit

    # -- model ---------------------------------------------------------------------------------
    def build(self):
        s = SALTS[self.salt]
        m = ModelBuilder(self.name, version="1.1.0", time_units="s", description=self.description)
        P = m.parameters(s.kinetics, VESSEL)  # in SI: J/mol, m/s, m^3, mol/m^3, ...
        log_Ks, dH_s, gamma_s, log_A = P["log_Ks"], P["dH_s"], P["gamma_s"], P["log_A_nuc"]
        k_g, E_g, g_order = P["k_g"], P["E_g"], P["g_order"]
        a_max, a_min, pzc, w_pzc = P["alpha_max"], P["alpha_min"], P["pzc"], P["pzc_width"]
        k_b, y_b, z_b = P["k_b"], P["y_b"], P["z_b"]
        V0, D_imp, N_p, rho_l = P["V0"], P["impeller_diameter"], P["power_number"], P["rho_liquid"]
        I0, i_al = P["I_background"], P["I_per_al"]

        pH = m.input(
            Parameter(
                name="pH", units="1", default=self.default_pH, bounds=(3.0, 12.0), description="controlled pH (pH-stat)"
            )
        )
        T = m.input(
            Parameter(
                name="temperature", units="K", default=298.15, bounds=(278.15, 353.15), description="liquid temperature"
            )
        )
        N_rps = m.input(
            Parameter(
                name="stirrer_speed",
                units="1/min",
                default=300.0,
                bounds=(10.0, 2000.0),
                description="impeller speed (rpm)",
            )
        )
        Q = m.input(
            Parameter(name="feed_flow", units="L/min", default=0.0, bounds=(0.0, 1e4), description="feed flow (recipe)")
        )
        F_al = m.input(
            Parameter(
                name="al_feed",
                units="mol/min",
                default=0.0,
                bounds=(0.0, 1e4),
                description="Al molar feed rate (recipe)",
            )
        )

        V = m.state("volume", "L", initial=V0, description="liquid volume")
        n_fed = m.state("al_fed", "mol", initial=0.0, description="Al fed so far")
        n_al = m.state("al_dissolved", "mol", initial=0.0, description="dissolved Al (all species)")
        n_p = (
            m.state("p_dissolved", "mol", initial=0.0, description="dissolved phosphate (all species)")
            if s.has_phosphate
            else None
        )
        nuc = m.state("nuclei", "umol", initial=0.0, description="particles nucleated so far (count / N_A)")
        sol = m.state("solid", "mol", initial=0.0, shape=self.grid.n, description="Al in solid, per size class")

        c_fed, c_al = n_fed / V, n_al / V  # mol/m^3
        c_p = n_p / V if n_p is not None else 0.0
        kT = K_BOLTZMANN * T
        mu = 2.414e-5 * 10.0 ** (247.8 / (T - 140.0))  # water viscosity, Pa s
        # activities (Davies), concentrations relative to the standard concentration c0
        I = I0 + i_al * c_fed + 3.0 * c_al + 2.0 * c_p  # ionic strength, mol/m^3
        I_rel = I / C_STANDARD
        sI = ca.sqrt(ca.fmax(I_rel, 0.0) + I_FLOOR)
        A_dh = 0.5085 + 0.00089 * (T - T_REF)
        lg = -A_dh * (sI / (1.0 + sI) - 0.3 * I_rel)
        g1, g2, g3 = 10.0**lg, 10.0 ** (4.0 * lg), 10.0 ** (9.0 * lg)
        aH = 10.0 ** (-pH)
        b = [10.0**k for k in LOG_BETA_AL]
        D_al = 1.0 / g3 + b[0] / (aH * g2) + b[1] / (aH**2 * g1) + b[2] / aH**3 + b[3] / (aH**4 * g1)
        log_K = log_Ks - dH_s / (R_GAS * LN10) * (1.0 / T - 1.0 / T_REF)
        ln_S = ca.log(ca.fmax(c_al / C_STANDARD, TINY)) - ca.log(D_al) - LN10 * log_K
        if s.has_phosphate:
            K1, K2, K3 = (10.0**k for k in LOG_KA_P)
            D_p = 1.0 / g3 + aH / (K3 * g2) + aH**2 / (K2 * K3 * g1) + aH**3 / (K1 * K2 * K3)
            ln_S += ca.log(ca.fmax(c_p / C_STANDARD, TINY)) - ca.log(D_p)
        else:
            ln_S += 3.0 * LN10 * pH
        S = ca.exp(ca.fmin(ln_S, LN_S_MAX))
        # nucleation and growth
        x = ca.fmax(ln_S, 0.0)
        K_cnt = 16.0 * math.pi * gamma_s**3 * self.v0**2 / (3.0 * kT**3)
        B = 10.0**log_A * ca.exp(-K_cnt / (x**2 + LN_S2_FLOOR))
        G_L = k_g * ca.exp(-E_g / R_GAS * (1.0 / T - 1.0 / T_REF)) * _softplus(S - 1.0, S_SMOOTHING) ** g_order
        # hydrodynamics
        P_imp = N_p * rho_l * N_rps**3 * D_imp**5
        G_s = ca.sqrt(P_imp / (V * mu))
        # aggregation and breakage
        alpha = a_min + (a_max - a_min) * ca.exp(-(((pH - pzc) / w_pzc) ** 2))
        r = 0.5 * self.grid.diameters
        ri, rj = np.meshgrid(r, r, indexing="ij")
        K_sh = 4.0 / 3.0 * (ri + rj) ** 3
        K_br = (ri + rj) * (1.0 / ri + 1.0 / rj)
        beta = alpha * G_s * ca.DM(K_sh) + alpha * 2.0 * kT / (3.0 * mu) * ca.DM(K_br)
        ln_d = ca.DM(np.log(self.grid.diameters / D_REF_BREAKAGE))
        sel = k_b * (G_s / G_REF_BREAKAGE) ** y_b * ca.exp(z_b * ln_d)
        # population balance on number concentrations
        pivots = self.grid.pivots
        # clipped at zero: round-off negatives must not feed aggregation (keeps N >= 0 stable)
        N = ca.fmax(sol, 0.0) * ca.DM(self.v_m / pivots) / V
        # growth surface: a compact sphere up to the mean primary size d_p, then the primary
        # particles' surface (porous aggregates keep their specific area): G_v ~ 3 G v / d_p
        count = nuc * N_AVOGADRO
        v_nuc = float(pivots[0])
        d_p = ca.power(
            6.0 / math.pi * (ca.fmax(ca.sum1(sol) * self.v_m, 0.0) + v_nuc) / (ca.fmax(count, 0.0) + 1.0), 1.0 / 3.0
        )
        d_e = self.grid.edge_diameters
        G_v = length_growth_to_edges(self.grid, G_L) * ca.sqrt(1.0 + (ca.DM(d_e) / d_p) ** 2)
        dN = self.pb.rhs(N, nucleation=B, growth=G_v, aggregation=beta, selection=sel, daughter="binary_equal")
        d_sol = dN * ca.DM(pivots / self.v_m) * V
        R = ca.sum1(d_sol)

        m.ode(V, Q)
        m.ode(n_fed, F_al)
        m.ode(n_al, F_al - R)
        if n_p is not None:
            m.ode(n_p, -R)
        m.ode(nuc, B * V / N_AVOGADRO)
        m.ode(sol, d_sol)

        n_solid = ca.sum1(sol)
        m.output("supersaturation", S, "1", "S = IAP/K")
        m.output("log10_S", ln_S / LN10, "1", "log10 of the supersaturation")
        m.output("al_dissolved_mM", c_al, "mmol/L", "dissolved Al concentration")
        m.output("yield_pct", n_solid / ca.fmax(n_fed, N_FED_FLOOR), "percent", "precipitated Al / Al fed")
        m.output("solid_al_mol", n_solid, "mol", "Al in the solid")
        m.output("nucleation_rate", B, "1/m^3/s", "primary nucleation rate")
        m.output("growth_rate_nm_s", G_L, "nm/s", "linear growth rate")
        m.output("collision_efficiency", alpha, "1", "alpha(pH)")
        m.output("shear_rate", G_s, "1/s", "mean shear rate sqrt(P/(V mu))")
        m.output("power_per_volume", P_imp / V, "W/m^3", "impeller power per volume")
        m.output("ionic_strength", I, "mol/L", "ionic strength")
        return m.build()

    # -- recipe --------------------------------------------------------------------------------
    def default_recipe(self, operating: Mapping[str, float]) -> Recipe:
        """Dosing then ageing (the simulator restarts CVODES where the feed stops)."""
        model = self.model
        t_dose = operating["dosing_time"]  # s
        n_al = operating["al_feed_conc"] * operating["feed_volume"]  # mol
        inputs = model.inputs
        dosing = Phase(
            name="dosing",
            duration=from_si(t_dose, model.time_units),
            inputs={
                "feed_flow": from_si(operating["feed_volume"] / t_dose, inputs["feed_flow"].units),
                "al_feed": from_si(n_al / t_dose, inputs["al_feed"].units),
            },
            set_states=self._initial_charge(operating),
        )
        phases = [dosing]
        if operating["ageing_time"] > 0:
            phases.append(
                Phase(
                    name="ageing",
                    duration=from_si(operating["ageing_time"], model.time_units),
                    inputs={"feed_flow": 0.0, "al_feed": 0.0},
                )
            )
        return Recipe(phases=phases)

    def _initial_charge(self, operating) -> dict:
        return {}

    def default_times(self, operating, recipe):
        """Fine uniform steps over the start-up supersaturation peak, then uniform steps of one
        length through dosing and ageing."""
        bounds = recipe.phase_bounds()
        t_dose = bounds[0][2]
        t_fine, n_fine = _fine_window(t_dose)
        dt = (t_dose - t_fine) / DOSING_STEPS
        pts = [np.linspace(0.0, t_fine, n_fine + 1), np.linspace(t_fine, t_dose, DOSING_STEPS + 1)]
        for _, t0, t1 in bounds[1:]:
            pts.append(np.linspace(t0, t1, max(2, int(round((t1 - t0) / dt)) + 1)))
        return np.unique(np.concatenate(pts))

    # -- post-processing -----------------------------------------------------------------------
    def number_concentration(self, result) -> np.ndarray:
        """N (#/m^3) per time and class."""
        sol = result.state("solid")
        V = result.in_si("volume")[:, None]
        return np.clip(sol, 0.0, None) * self.v_m / self.grid.pivots / V

    def _primary_nm(self, result) -> np.ndarray:
        count = result.in_si("nuclei") * N_AVOGADRO
        vol = result.output("solid_al_mol") * self.v_m
        with np.errstate(divide="ignore", invalid="ignore"):
            d = from_si(np.cbrt(6.0 * vol / (math.pi * count)), "nm")
        return np.where(count > 0, d, np.nan)

    def series(self, result, operating):
        N = self.number_concentration(result)
        st = size_stats(N, self.grid)
        df = pd.DataFrame(
            {
                "supersaturation": result.output("supersaturation"),
                "pH": result.u[:, result.model.inputs.names.index("pH")],
                "d10_um": from_si(st["d10"], "um"),
                "d50_um": from_si(st["d50"], "um"),
                "d90_um": from_si(st["d90"], "um"),
                "yield_pct": result.output("yield_pct"),
                "al_dissolved_mM": result.output("al_dissolved_mM"),
                "particles_per_mL": from_si(st["number"], "1/mL"),
                "primary_d_nm": self._primary_nm(result),
                "collision_efficiency": result.output("collision_efficiency"),
                "shear_rate": result.output("shear_rate"),
                "volume_L": result.state("volume"),
            },
            index=pd.Index(result.t, name="time"),
        )
        df.attrs["units"] = {
            "time": "s",
            "supersaturation": "1",
            "pH": "1",
            "d10_um": "um",
            "d50_um": "um",
            "d90_um": "um",
            "yield_pct": "percent",
            "al_dissolved_mM": "mmol/L",
            "particles_per_mL": "1/mL",
            "primary_d_nm": "nm",
            "collision_efficiency": "1",
            "shear_rate": "1/s",
            "volume_L": "L",
        }
        return df

    def kpis(self, result, operating):
        N = self.number_concentration(result)
        solid = result.output("solid_al_mol")[-1]
        fed = result.state("al_fed")[-1]
        st = size_stats(N[-1], self.grid)
        precipitated = solid > NO_SOLID_SHARE * max(fed, TINY)
        vol = N[-1] * self.grid.pivots
        if vol.sum() > 0 and vol[-1] > TRUNCATED_SHARE * vol.sum():
            msg = (
                f"{from_si(vol[-1] / vol.sum(), 'percent'):.0f} % of the solid is in the largest size class "
                f"({from_si(D_MAX, 'um'):.0f} um): sizes are truncated (breakage too weak?)"
            )
            if msg not in result.warnings:
                result.warnings.append(msg)
        s_max = float(np.max(result.output("log10_S")))  # over the output times
        V = result.state("volume")[-1]  # L, as reported
        V_si = result.in_si("volume")[-1]
        nuclei = result.in_si("nuclei")[-1] * N_AVOGADRO
        sizes = {
            "d10_um": from_si(st["d10"], "um"),
            "d50_um": from_si(st["d50"], "um"),
            "d90_um": from_si(st["d90"], "um"),
            "span": st["span"],
            "d43_um": from_si(st["d43"], "um"),
            "primary_d_nm": float(self._primary_nm(result)[-1]),
        }
        if not precipitated:  # nothing precipitated: sizes are not defined (None), not a failed number
            sizes = dict.fromkeys(sizes)
        return sizes | {
            "yield_pct": float(result.output("yield_pct")[-1]),
            "S_max": float(10.0**s_max),
            "log10_S_max": s_max,
            "particles_per_mL": from_si(st["number"], "1/mL") if precipitated else 0.0,
            "nuclei_per_mL": float(from_si(nuclei / V_si, "1/mL")),
            "al_dissolved_final_mM": float(result.output("al_dissolved_mM")[-1]),
            "solid_al_g_per_L": float(from_si(solid * M_AL / V_si, "g/L")),
            "shear_rate_1_per_s": float(result.output("shear_rate")[-1]),
            "power_per_volume_W_per_m3": float(result.output("power_per_volume")[-1]),
            "collision_efficiency": float(result.output("collision_efficiency")[-1]),
            "final_volume_L": float(V),
        }

    def distribution(self, result, operating):
        N = self.number_concentration(result)
        vol = N * self.grid.pivots
        dln = np.diff(np.log(self.grid.edge_diameters))
        t = result.t
        t_dose = operating["dosing_time"]  # s
        wanted = sorted({min(FINE_WINDOW, t_dose / 4), t_dose / 2, t_dose, t_dose + (t[-1] - t_dose) / 4, t[-1]})
        rows, labels = [], []
        for tw in wanted:
            k = int(np.argmin(np.abs(t - tw)))
            tot = vol[k].sum()
            label = f"t = {from_si(t[k], 'min'):.1f} min"
            if tot <= 0 or (labels and labels[-1] == label):
                continue
            rows.append(vol[k] / tot / dln)
            labels.append(label)
        return Distribution(diameter=from_si(self.grid.diameters, "nm"), density=np.array(rows), labels=labels)


class AlOOHPrecipitation(AlumPrecipitation):
    name = "alum_alooh"
    description = "Aluminium oxyhydroxide (AlOOH) adjuvant: AlCl3 dosed at constant pH (NaOH), then ageing"
    salt = "AlOOH"
    default_pH = 7.0


class AlPO4Precipitation(AlumPrecipitation):
    name = "alum_alpo4"
    description = "Aluminium (hydroxy)phosphate adjuvant: AlCl3 dosed into Na phosphate at constant pH, then ageing"
    salt = "AlPO4"
    default_pH = 6.0
    operating = ParameterTable(
        AlumPrecipitation.operating.items
        + (
            Parameter(
                name="p_al_ratio",
                units="1",
                default=1.2,
                bounds=(0.5, 3.0),
                source="Adju-Phos-like excess phosphate",
                description="phosphate charged to the vessel per Al fed (mol/mol)",
            ),
        )
    )

    def _initial_charge(self, operating):
        n_al = operating["al_feed_conc"] * operating["feed_volume"]  # mol (SI, as the state)
        return {"p_dissolved": operating["p_al_ratio"] * n_al}
