"""O/W emulsion (squalene, MF59/AS03-like) made pass by pass in a high-pressure homogenizer or microfluidizer.

Time is counted in passes (tau = t / t_res): the recipe has one phase of duration 1 per pass
("pass 1", "pass 2", ...); rates per second are multiplied by the residence time t_res.
Sources are listed in docs/models/emulsion_homogenizer.md, which also says which constants are tuned.
SI inside: the equations below receive every parameter, input and state in SI base units (pint
converts the declared units: bar -> Pa, mL/min -> m^3/s, nL -> m^3, mN/m -> N/m, um -> m, 1/um -> 1/m,
mg/mL -> kg/m^3, umol/m^2 -> mol/m^2, kJ/mol -> J/mol) and give rates per pass in SI; outputs are
converted back to their declared units (nm, us, mL/min, mN/m, degC) by the model builder.

Flow, dissipation, heating (Walstra 1993, Chem Eng Sci 48:333; Hakansson 2015; energy density E_V = dp,
Karbstein & Schubert 1995, Chem Eng Process 34:205)
    Q = Q_ref (dp / p_ref)^a      a = 1/2 for a fixed chamber (Bernoulli), 0 for a fixed-flow pump
    t_res = V_zone / Q,   eps = dp / (rho_e t_res),   eta_K = (nu_c^3 / eps)^(1/4)
    dT/dtau = dp / (rho_e c_p)    (~2.4 K per 100 bar); a heat exchanger may reset T at each pass start
    mu_c(T) = mu_c,ref exp(E_mu/R (1/T - 1/T_ref))

Surfactant (Tween 80 + Span 85 as one mixed film: Langmuir isotherm, mass balance, Szyszkowski)
    c_tot = c_T80 / M_T80 + c_S85 / M_S85,   a = 6 phi / d32   (interfacial area per emulsion volume)
    c + Gamma_max a K c / (1 + K c) = c_tot,  free monomer c <= CMC,   theta = K c / (1 + K c)
    sigma = sigma_0 + R T_ref Gamma_max ln(1 - theta) + dsigma/dT (T - T_ref)
    K = (exp((sigma_0 - sigma_sat) / (R T_ref Gamma_max)) - 1) / CMC     (so that sigma(CMC) = sigma_sat)

Breakage frequency g(d) (Coulaloglou & Tavlarides 1977 with the dispersed-viscosity term of Alopaeus
et al. 2002, as refitted for homogenizers by Raikar et al. 2009, Chem Eng Sci 64:2433; viscous
sub-Kolmogorov regime after Vankova et al. 2007, J Colloid Interface Sci 312:363, and Maindarkar et al. 2014)
    g_I = C1 eps^(1/3) d^(-2/3) / (1+phi) exp(-C2 sigma (1+phi)^2 / (rho_d eps^(2/3) d^(5/3))
                                             - C3 mu_d (1+phi) / ((rho_d rho_c)^(1/2) eps^(1/3) d^(4/3)))
    g_V = C4 (eps / nu_c)^(1/2) exp(-C5 sigma / (d (eps mu_c rho_c)^(1/2)))
    g   = g_I d^4 / (d^4 + (k_eta eta_K)^4) + g_V      (inertial eddies only break drops above ~k_eta eta_K)
    daughters: binary, volume fraction ~ Beta(q, q) (q = 2: Hill & Ng 1995 parabolic)

Coalescence kernel (Coulaloglou & Tavlarides 1977; surfactant coverage after Maindarkar et al. 2012)
    beta = Cc eps^(1/3) / (1+phi) (d_i + d_j)^2 (d_i^(2/3) + d_j^(2/3))^(1/2)                collisions
         * exp(-Cd mu_c rho_c eps / (sigma^2 (1+phi)^3) (d_i d_j / (d_i + d_j))^4)         film drainage
                                                       (exponent capped at 600: DRAIN_EXPONENT_CAP)
         * (1 - theta)^n                                                                 bare interface

Population balance: fixed pivot (Kumar & Ramkrishna 1996) operators of bioprocess_twin.pbe, written
for class volume shares y_i = N_i x_i / phi (sum y = 1 is conserved exactly):
    dy/dtau = t_res [ B (g * y) + phi kc A (exp(-b G) * y_j y_k) ],   kc = Cc eps^(1/3) (1-theta)^n / (1+phi)
with B = diag(x) (n_ik - I) diag(1/x), A = diag(x) P diag(F / (x_j x_k)) (P: fixed-pivot pair operator,
F: collision geometry) and G = (d_j d_k / (d_j + d_k))^4 (m^4) precomputed (EmulsionOperators).
1/d32 = sum y_i / d_i (1/m) is carried as an extra state so that theta and sigma depend on one state (keeps
the Jacobian O(n^2)). ``rhs_numpy`` evaluates the same equations with NumPy, in SI. ``structured_functions``
gives them once more as CasADi MX vector/matrix operations with an analytic Jacobian (ModelBuilder.structured,
which wraps them into the declared units), which the simulator compiles to C for the nominal integration
(docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import casadi as ca
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import beta as beta_fn

from bioprocess_twin.core import ModelBuilder, Phase, Recipe
from bioprocess_twin.core.constants import R_GAS
from bioprocess_twin.core.parameters import Parameter, ParameterTable
from bioprocess_twin.core.process import Distribution, Process
from bioprocess_twin.core.units import from_si, to_si
from bioprocess_twin.pbe import Grid, PopulationBalance, daughter, size_stats
from bioprocess_twin.pbe.compiled import pair_jacobian_entries

T_REF = 293.15  # K, reference temperature of viscosity and isotherm
M_TWEEN80 = 1.310  # kg/mol, polysorbate 80
M_SPAN85 = 0.957  # kg/mol, sorbitan trioleate
#: numeric floor of the interfacial tension (N/m), far below any physical value: keeps sigma^2 > 0
SIGMA_FLOOR = 1e-4
#: two output times closer than this (in passes) are the same time: finds the pass ends among the outputs
PASS_TIME_TOL = 1e-9
#: model outputs shown per time (``series``) and reported at the end of the last pass (KPIs): (output, column)
SERIES_OUTPUTS = (
    ("eps", "eps_W_per_kg"),
    ("t_res", "t_res_us"),
    ("sigma", "sigma_mN_per_m"),
    ("coverage", "coverage"),
    ("breakage_rate", "breakage_per_pass"),
    ("coalescence_rate", "coalescence_per_pass"),
    ("kolmogorov", "kolmogorov_nm"),
    ("d_viscous", "viscous_d_nm"),
)

#: the model parameters, in the units users give them; the equations receive them in SI
PARAMETERS = ParameterTable(
    (
        Parameter(
            name="oil_fraction",
            units="1",
            default=0.05,
            bounds=(0.005, 0.3),
            source="Ott et al. 1995 (MF59: 4.3 % w/v squalene)",
            description="squalene volume fraction phi",
        ),
        Parameter(
            name="rho_c",
            units="kg/m^3",
            default=1000.0,
            bounds=(950, 1100),
            source="water / 10 mM citrate buffer",
            description="continuous-phase density",
        ),
        Parameter(
            name="rho_d",
            units="kg/m^3",
            default=858.0,
            bounds=(700, 1100),
            source="squalene, CRC Handbook",
            description="dispersed-phase density",
        ),
        Parameter(
            name="mu_c",
            units="mPa*s",
            default=1.0,
            bounds=(0.3, 10),
            source="water at 20 C, CRC Handbook",
            description="continuous-phase viscosity at 20 C",
        ),
        Parameter(
            name="E_mu",
            units="kJ/mol",
            default=16.0,
            bounds=(0, 40),
            source="Arrhenius fit to water 10-60 C",
            description="activation energy of mu_c(T)",
        ),
        Parameter(
            name="mu_d",
            units="mPa*s",
            default=12.0,
            bounds=(0.5, 500),
            source="squalene at 20-25 C",
            description="dispersed-phase viscosity",
        ),
        Parameter(
            name="cp",
            units="J/kg/K",
            default=4100.0,
            bounds=(1500, 4500),
            source="mass-weighted water/squalene",
            description="emulsion heat capacity",
        ),
        Parameter(
            name="sigma_0",
            units="mN/m",
            default=30.0,
            bounds=(5, 55),
            source="estimate, hydrocarbon oil/water",
            description="clean squalene/water interfacial tension",
        ),
        Parameter(
            name="sigma_sat",
            units="mN/m",
            default=5.0,
            bounds=(0.5, 20),
            source="estimate, polysorbate 80 at oil/water above the CMC",
            description="interfacial tension with a saturated mixed film",
        ),
        Parameter(
            name="dsigma_dT",
            units="mN/m/K",
            default=-0.03,
            bounds=(-0.5, 0.5),
            source="typical oil/water",
            description="temperature coefficient of sigma",
        ),
        Parameter(
            name="tween80",
            units="mg/mL",
            default=5.0,
            bounds=(0, 50),
            source="MF59: 0.5 % w/v (Ott et al. 1995)",
            description="polysorbate 80 concentration",
        ),
        Parameter(
            name="span85",
            units="mg/mL",
            default=5.0,
            bounds=(0, 50),
            source="MF59: 0.5 % w/v (Ott et al. 1995)",
            description="sorbitan trioleate concentration",
        ),
        Parameter(
            name="gamma_max",
            units="umol/m^2",
            default=2.0,
            bounds=(0.5, 6),
            source="nonionic surfactants ~2-3 mg/m2 (Walstra 1993)",
            description="surface excess at saturation, mixed film",
        ),
        Parameter(
            name="cmc",
            units="mol/m^3",
            default=0.012,
            bounds=(1e-4, 1.0),
            source="polysorbate 80 CMC 12 uM",
            description="critical micelle concentration",
        ),
        Parameter(
            name="feed_d50",
            units="um",
            default=2.0,
            bounds=(0.2, 15),
            source="coarse pre-emulsion 1-3 um (rotor-stator)",
            description="feed volume median diameter",
        ),
        Parameter(
            name="feed_gsd",
            units="1",
            default=0.5,
            bounds=(0.1, 1.2),
            source="rotor-stator pre-emulsions",
            description="feed log-normal width sigma_ln (volume)",
        ),
        Parameter(
            name="chamber_volume",
            units="nL",
            default=40.0,
            bounds=(1, 1e6),
            source="Z-chamber, 75-100 um channels, ~mm jet length",
            description="volume of the dissipation zone V_zone",
        ),
        Parameter(
            name="flow_rate",
            units="mL/min",
            default=250.0,
            bounds=(1, 1e5),
            source="lab microfluidizer (M-110P class)",
            description="flow rate at the reference pressure",
        ),
        Parameter(
            name="reference_pressure",
            units="bar",
            default=1000.0,
            bounds=(50, 3000),
            source="",
            description="pressure at which flow_rate is given",
        ),
        Parameter(
            name="flow_exponent",
            units="1",
            default=0.5,
            bounds=(0, 1),
            source="Bernoulli, fixed orifice",
            description="Q ~ dp^a; 0 for a fixed-flow pump",
        ),
        Parameter(
            name="C1",
            units="1",
            default=0.2,
            bounds=(1e-5, 10),
            source="tuned; CT 1977 ~5e-3, Raikar 2009",
            description="inertial breakage frequency constant",
        ),
        Parameter(
            name="C2",
            units="1",
            default=1.0,
            bounds=(1e-3, 50),
            source="tuned; CT 1977 ~0.06, Raikar 2009",
            description="inertial surface-energy constant",
        ),
        Parameter(
            name="C3",
            units="1",
            default=0.2,
            bounds=(0, 10),
            source="Alopaeus et al. 2002",
            description="dispersed-viscosity resistance constant",
        ),
        Parameter(
            name="k_eta",
            units="1",
            default=10.0,
            bounds=(1, 60),
            source="dissipation range extends to ~60 eta_K (Pope 2000)",
            description="drops below k_eta * eta_K are not broken by inertial eddies",
        ),
        Parameter(
            name="C4",
            units="1",
            default=0.0075,
            bounds=(1e-5, 10),
            source="tuned; Vankova et al. 2007",
            description="viscous breakage frequency constant",
        ),
        Parameter(
            name="C5",
            units="1",
            default=6.0,
            bounds=(0.1, 50),
            source="tuned (check value 4); turbulent-viscous drop size sigma/(eps mu_c rho_c)^1/2: "
            "Walstra 1993, Chem Eng Sci 48:333; Vankova et al. 2007, J Colloid Interface Sci 312:363",
            description="viscous critical-stress constant",
        ),
        Parameter(
            name="Cc",
            units="1",
            default=0.3,
            bounds=(0, 10),
            source="tuned; CT 1977 ~2e-4, Maindarkar et al. 2012",
            description="collision frequency constant",
        ),
        Parameter(
            name="Cd",
            units="1/m^2",
            default=2.0e13,
            bounds=(0, 1e19),
            source="CT 1977 ~2e13",
            description="film-drainage constant",
        ),
        Parameter(
            name="coverage_exponent",
            units="1",
            default=1.0,
            bounds=(0.5, 4),
            source="bare-patch probability of two films",
            description="n in (1-theta)^n",
        ),
    )
)
#: the model's one input
PRESSURE = Parameter(
    name="pressure",
    units="bar",
    default=1000.0,
    bounds=(100, 2000),
    source="microfluidizer 15 kpsi",
    description="homogenizing pressure drop",
)


def beta_daughter(q: float):
    """Binary breakage with daughter volume fraction z = v/v' ~ Beta(q, q).

    b(v|v') = 2 z^(q-1) (1-z)^(q-1) / (B(q, q) v'); q = 1 is uniform, q = 2 parabolic.
    """
    norm = 2.0 / beta_fn(q, q)

    def b(v, v_parent):
        z = np.asarray(v, dtype=float) / v_parent
        inside = (z > 0) & (z < 1)
        zc = np.where(inside, z, 0.5)
        return np.where(inside, norm * zc ** (q - 1) * (1 - zc) ** (q - 1) / v_parent, 0.0)

    b.__name__ = f"beta_binary_q{q:g}"
    return b


@dataclass(frozen=True)
class EmulsionOperators:
    """Numeric matrices of the PBE in volume-share form, built once per grid (shared by CasADi and NumPy); SI."""

    grid: Grid
    breakage: np.ndarray  # (n, n): dy/dt|break = breakage @ (g * y)
    coalescence: sp.csr_matrix  # (n, n_pairs): dy/dt|coal = phi * kc * coalescence @ (exp(-b * drain) * y[j] * y[k])
    pair_j: np.ndarray
    pair_k: np.ndarray
    drain: np.ndarray  # (d_j d_k / (d_j + d_k))^4 per pair, in m^4

    @property
    def d(self) -> np.ndarray:
        """Class diameters, m."""
        return self.grid.diameters

    @property
    def dlnd(self) -> np.ndarray:
        return np.diff(np.log(self.grid.edge_diameters))

    @cached_property
    def inv_d(self) -> np.ndarray:
        """w = 1/d (1/m): 1/d32 = w . y and d(1/d32)/dtau = w . dy/dtau."""
        return 1.0 / self.d

    @cached_property
    def area_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(B' w, A' w) with w = 1/d: d(1/d32) from breakage is w . B (g y) = (B' w) . (g y), O(n)."""
        w = self.inv_d
        return self.breakage.T @ w, self.coalescence.T @ w


def build_operators(
    n_classes: int = 100, d_min: float = 20e-9, d_max: float = 20e-6, daughter_q: float = 2.0
) -> EmulsionOperators:
    """The operators on ``n_classes`` classes from ``d_min`` to ``d_max`` (m)."""
    grid = Grid.from_diameters(d_min, d_max, n_classes)
    pb = PopulationBalance(grid, aggregation_method="fixed_pivot")
    x, d = grid.pivots, grid.diameters
    brk = pb.breakage_operator(daughter(beta_daughter(daughter_q), order=16)).operator.toarray()
    B = (x[:, None] * brk) / x[None, :]
    agg = pb.aggregation_operators
    j, k = agg.pair_j, agg.pair_k
    F = (d[j] + d[k]) ** 2 * np.sqrt(d[j] ** (2 / 3) + d[k] ** (2 / 3))
    A = sp.diags(x) @ agg.operator @ sp.diags(F / (x[j] * x[k]))
    drain = (d[j] * d[k] / (d[j] + d[k])) ** 4
    return EmulsionOperators(grid, B, sp.csr_matrix(A), j, k, drain)


def _lib(*xs):
    return ca if any(isinstance(x, (ca.SX, ca.MX)) for x in xs) else np


def _physics(P: dict, pressure, T, y, inv_d32, op: EmulsionOperators) -> dict:
    """Every rate of the model for NumPy numbers or CasADi symbols, in SI (P and pressure in SI, T in K,
    inv_d32 in 1/m; rates per second, except dT: K per pass)."""
    L = _lib(pressure, T, y, inv_d32, *P.values())
    d = op.d
    phi, rho_c, rho_d = P["oil_fraction"], P["rho_c"], P["rho_d"]
    rho_e = (1 - phi) * rho_c + phi * rho_d
    dp = pressure
    Q = P["flow_rate"] * (pressure / P["reference_pressure"]) ** P["flow_exponent"]
    t_res = P["chamber_volume"] / Q
    eps = dp / (rho_e * t_res)
    mu_c = P["mu_c"] * L.exp(P["E_mu"] / R_GAS * (1.0 / T - 1.0 / T_REF))
    nu_c = mu_c / rho_c
    # surfactant at equilibrium: Langmuir isotherm + mass balance, free monomer capped at the CMC
    gam = P["gamma_max"]
    s0, ssat = P["sigma_0"], P["sigma_sat"]
    K = (L.exp((s0 - ssat) / (R_GAS * T_REF * gam)) - 1.0) / P["cmc"]
    c_tot = P["tween80"] / M_TWEEN80 + P["span85"] / M_SPAN85
    area = 6.0 * phi * inv_d32
    bq = 1.0 + K * (gam * area - c_tot)
    sq = L.sqrt(bq * bq + 4.0 * K * c_tot)
    c_free = _where(L, bq > 0, 2.0 * c_tot / (bq + sq), (sq - bq) / (2.0 * K))
    c_free = L.fmin(c_free, P["cmc"])
    theta = K * c_free / (1.0 + K * c_free)
    sigma = s0 + R_GAS * T_REF * gam * L.log(1.0 - theta) + P["dsigma_dT"] * (T - T_REF)
    sigma = L.fmax(sigma, SIGMA_FLOOR)
    g = _breakage(P, eps, sigma, mu_c, nu_c, L, d)  # breakage frequency (1/s) per class
    # coalescence scale (m^3/s per unit of the precomputed geometry) and drainage exponent (1/m^4)
    kc = P["Cc"] * eps ** (1 / 3) / (1 + phi) * (1.0 - theta) ** P["coverage_exponent"]
    b_drain = P["Cd"] * mu_c * rho_c * eps / (sigma**2 * (1 + phi) ** 3)
    return dict(
        t_res=t_res,
        eps=eps,
        Q=Q,
        rho_e=rho_e,
        dT=dp / (rho_e * P["cp"]),
        mu_c=mu_c,
        nu_c=nu_c,
        eta_K=(nu_c**3 / eps) ** 0.25,
        theta=theta,
        sigma=sigma,
        area=area,
        g=g,
        kc=kc,
        b_drain=b_drain,
        d_hinze=0.725 * (sigma / rho_c) ** 0.6 * eps ** (-0.4),
        d_visc=4.0 * sigma / (eps * mu_c * rho_c) ** 0.5,
    )


def _breakage(P, eps, sigma, mu_c, nu_c, L, d):
    """Breakage frequency g(d) (1/s) at one local dissipation rate: inertial (CT/Alopaeus) + viscous; SI."""
    phi, rho_c, rho_d, mu_d = P["oil_fraction"], P["rho_c"], P["rho_d"], P["mu_d"]
    e13 = eps ** (1 / 3)
    g_in = (
        P["C1"]
        * e13
        / (1 + phi)
        * _c(L, d ** (-2 / 3))
        * L.exp(
            -P["C2"] * sigma * (1 + phi) ** 2 / (rho_d * eps ** (2 / 3)) * _c(L, d ** (-5 / 3))
            - P["C3"] * mu_d * (1 + phi) / ((rho_d * rho_c) ** 0.5 * e13) * _c(L, d ** (-4 / 3))
        )
    )
    eta_K = (nu_c**3 / eps) ** 0.25
    d4 = _c(L, d**4)
    f_in = d4 / (d4 + (P["k_eta"] * eta_K) ** 4)
    g_visc = P["C4"] * (eps / nu_c) ** 0.5 * L.exp(-P["C5"] * sigma / (eps * mu_c * rho_c) ** 0.5 * _c(L, 1.0 / d))
    return f_in * g_in + g_visc


def _c(L, a):
    return ca.DM(a) if L is ca else a


def _dot(L, w, y):
    return ca.dot(ca.DM(w), y) if L is ca else np.asarray(y) @ w


def _where(L, cond, a, b):
    return ca.if_else(cond, a, b) if L is ca else np.where(cond, a, b)


#: film-drainage exponents are capped here: exp(-600) ~ 1e-261 is zero for the model, and the cap keeps
#: exp out of the slow underflow path (a quarter of the pairs at 1000 bar would underflow)
DRAIN_EXPONENT_CAP = 600.0


def _drainage_efficiency(L, b_drain, drain):
    """exp(-b G) per pair, with the exponent capped at DRAIN_EXPONENT_CAP."""
    if L is ca:
        a = b_drain * ca.DM(drain)
        return ca.exp(-ca.if_else(a < DRAIN_EXPONENT_CAP, a, DRAIN_EXPONENT_CAP))
    return np.exp(-np.minimum(b_drain * drain, DRAIN_EXPONENT_CAP))


def _rhs(P, pressure, T, y, inv_d32, op: EmulsionOperators):
    """Time derivatives per pass of (y, inv_d32, T) and the physics dict; NumPy or CasADi, all in SI
    (P in SI, pressure in Pa, T in K, inv_d32 in 1/m)."""
    ph = _physics(P, pressure, T, y, inv_d32, op)
    L = _lib(pressure, T, y, inv_d32, *P.values())
    pair = _collision_pairs(L, ph["b_drain"], y, op)
    if L is ca:
        brk = ca.mtimes(ca.DM(op.breakage), ph["g"] * y)
        coal = ca.mtimes(ca.DM(op.coalescence), pair)
    else:
        brk = op.breakage @ (ph["g"] * y)
        coal = op.coalescence @ pair
    dy = ph["t_res"] * (brk + P["oil_fraction"] * ph["kc"] * coal)
    return dy, _dot(L, op.inv_d, dy), ph["dT"], ph


def area_rates(P, ph: dict, y, inv_d32, op: EmulsionOperators):
    """Interfacial area made by breakage and lost to coalescence per pass, relative to the area.

    The 1/d32 rate split into its two terms, w . brk / (1/d32) and -w . coal / (1/d32), through the
    precomputed weights ``op.area_weights`` (O(n) and O(pairs) instead of the operator products); SI in,
    dimensionless out.
    """
    L = _lib(y, inv_d32, ph["t_res"])
    w_brk, w_coal = op.area_weights
    pair = _collision_pairs(L, ph["b_drain"], y, op)
    s_brk = ph["t_res"] * _dot(L, w_brk, ph["g"] * y)
    s_coal = ph["t_res"] * P["oil_fraction"] * ph["kc"] * _dot(L, w_coal, pair)
    return s_brk / inv_d32, -s_coal / inv_d32


def _collision_pairs(L, b_drain, y, op: EmulsionOperators):
    """exp(-b G) y_j y_k for every pair j <= k: what the coalescence operator acts on."""
    j, k = (op.pair_j.tolist(), op.pair_k.tolist()) if L is ca else (op.pair_j, op.pair_k)
    return _drainage_efficiency(L, b_drain, op.drain) * y[j] * y[k]


def jacobian_scatter(op: EmulsionOperators) -> sp.csc_matrix:
    """Constant map K with vec(d[dy; d(1/d32)]/dy) = K @ [c E y_k; c E y_j; t_res g], column-major (n+2) x n.

    Coalescence: d(y_j y_k)/dy_j = y_k and d/dy_k = y_j, so pair p adds coalescence[:, p] times its
    factor to column j_p (first block) and to column k_p (second block). Breakage: B diag(g), one
    entry of B per entry of the Jacobian (third block). Row n is w . (rows 0..n-1) with w = 1/d,
    since d(1/d32)/dtau = w . dy/dtau; row n+1 (temperature) is zero.
    """
    n, B = op.grid.n, sp.coo_matrix(op.breakage)
    m, rows_per_col = len(op.pair_j), n + 2
    row, col, src, val = (
        np.concatenate(a)
        for a in zip(pair_jacobian_entries(op.coalescence, op.pair_j, op.pair_k), (B.row, B.col, 2 * m + B.col, B.data))
    )
    w = op.inv_d
    rows = np.concatenate([row + rows_per_col * col, n + rows_per_col * col])  # dy rows, then the 1/d32 row
    return sp.csc_matrix(
        (np.concatenate([val, w[row] * val]), (rows, np.concatenate([src, src]))), shape=(rows_per_col * n, 2 * m + n)
    )


def structured_functions(op: EmulsionOperators, names: tuple[str, ...]) -> tuple[ca.Function, ca.Function]:
    """The model's ODE as compact CasADi MX functions rhs(x, p, u) and jacobian(x, p, u) = d rhs / dx, in SI.

    x, p and u are in SI (inv_d32 in 1/m, pressure in Pa) and the rhs is d x_SI / dtau (per pass);
    ``ModelBuilder.structured`` wraps both into the declared units. Same equations as ``_rhs`` (the rhs *is*
    ``_rhs`` on MX symbols), written with vector and matrix operations so that they evaluate and compile as
    loops. The Jacobian is analytic in y:
        d(dy)/dy = t_res B diag(g) + t_res phi kc A diag(E) (diag(y_k) S_j + diag(y_j) S_k)   (K @ ...)
    and exact through the two scalar states q = (1/d32, T), on which g, kc and b_drain depend:
        d(dy)/dq = t_res B (y * dg/dq) + t_res phi [A(E y_j y_k) dkc/dq - kc A(E y_j y_k G) db/dq]
    with dg/dq, dkc/dq, db/dq by AD of the scalar physics; d(1/d32)/dtau = w . dy; dT/dtau is constant.
    """
    n = op.grid.n
    y, s, T = ca.MX.sym("y", n), ca.MX.sym("inv_d32"), ca.MX.sym("T")
    p, u = ca.MX.sym("p", len(names)), ca.MX.sym("u", 1)
    P = {name: p[i] for i, name in enumerate(names)}
    dy, ds, dT, ph = _rhs(P, u, T, y, s, op)
    q = ca.vertcat(s, T)
    t_res, phi, kc, b, g = ph["t_res"], P["oil_fraction"], ph["kc"], ph["b_drain"], ph["g"]
    j, k = op.pair_j.tolist(), op.pair_k.tolist()
    A, G = ca.DM(op.coalescence), ca.DM(op.drain)
    E = _drainage_efficiency(ca, b, op.drain)
    pair = E * y[j] * y[k]
    c = t_res * phi * kc
    J_y = ca.reshape(
        ca.mtimes(ca.DM(jacobian_scatter(op)), ca.vertcat(c * E * y[k], c * E * y[j], t_res * g)), n + 2, n
    )
    J_yq = t_res * ca.mtimes(ca.DM(op.breakage), y * ca.jacobian(g, q)) + t_res * phi * (
        ca.mtimes(ca.mtimes(A, pair), ca.jacobian(kc, q)) - kc * ca.mtimes(ca.mtimes(A, pair * G), ca.jacobian(b, q))
    )
    J_q = ca.vertcat(J_yq, ca.mtimes(ca.DM(op.inv_d).T, J_yq), ca.DM.zeros(1, 2))
    x = ca.MX.sym("x", n + 2)
    parts = (x[:n], x[n], x[n + 1], p, u)
    ode = ca.Function("emulsion_ode", [y, s, T, p, u], [ca.vertcat(dy, ds, dT)])(*parts)  # separate functions:
    jac = ca.Function("emulsion_ode_jac", [y, s, T, p, u], [ca.horzcat(J_y, J_q)])(*parts)  # each computes its own
    return (
        ca.Function("emulsion_rhs", [x, p, u], [ode], ["x", "p", "u"], ["ode"]),
        ca.Function("emulsion_jac", [x, p, u], [jac], ["x", "p", "u"], ["jac"]),
    )


def rhs_numpy(t, x, op: EmulsionOperators, P: dict, pressure: float):
    """NumPy RHS for scipy.integrate.solve_ivp, time in passes, everything in SI.

    x = [y_1..y_n, inv_d32 (1/m), T (K)]; ``P`` holds every model parameter in SI
    (``EmulsionHomogenizer().model_parameters_si()``) and ``pressure`` is in Pa. With cooling, reset T to
    the inlet temperature at each integer time (pass end); ``initial_state`` gives the feed.
    """
    n = op.grid.n
    dy, ds, dT, _ = _rhs(P, pressure, x[n + 1], x[:n], x[n], op)
    return np.concatenate([dy, [ds, dT]])


def initial_state(op: EmulsionOperators, P: dict, T_inlet: float = T_REF) -> np.ndarray:
    """Feed state [y, inv_d32 (1/m), T (K)] for rhs_numpy; ``P`` in SI, ``T_inlet`` in K."""
    y = feed_shares(op, P["feed_d50"], P["feed_gsd"])
    return np.concatenate([y, [y @ op.inv_d, T_inlet]])


def feed_shares(op: EmulsionOperators, d50, gsd, L=np):
    """Log-normal volume distribution of the feed (median ``d50`` in m), as class shares summing to 1."""
    z = (np.log(op.d) - (L.log(d50) if L is ca else np.log(d50))) / gsd
    w = (ca.exp(-0.5 * z * z) if L is ca else np.exp(-0.5 * z * z)) * _c(L, op.dlnd)
    return w / (ca.sum1(w) if L is ca else w.sum())


class EmulsionHomogenizer(Process):
    name = "emulsion_homogenizer"
    description = (
        "Squalene O/W emulsion (MF59/AS03-like) in a high-pressure homogenizer/microfluidizer: "
        "pass-by-pass breakage-coalescence population balance with surfactant coverage and heating."
    )
    #: units of each KPI (pint; "" for a pure number)
    kpi_units = {
        "z_average_nm": "nm",
        "pdi": "",
        "d10_nm": "nm",
        "d50_nm": "nm",
        "d90_nm": "nm",
        "span": "",
        "d32_nm": "nm",
        "d43_nm": "nm",
        "eps_W_per_kg": "W/kg",
        "t_res_us": "us",
        "sigma_mN_per_m": "mN/m",
        "coverage": "",
        "breakage_per_pass": "",
        "coalescence_per_pass": "",
        "kolmogorov_nm": "nm",
        "viscous_d_nm": "nm",
        "hinze_dmax_nm": "nm",
        "T_out_C": "degC",
        "T_max_C": "degC",
        "passes": "",
        "energy_density_MJ_per_m3": "MJ/m^3",
        "oil_balance_error": "",
        "last_pass_change_pct": "percent",
    }
    operating = ParameterTable(
        (
            Parameter(
                name="n_passes",
                units="1",
                default=6,
                bounds=(1, 30),
                source="MF59 practice: 5-10 passes",
                description="number of passes",
                integer=True,
            ),
            Parameter(
                name="T_inlet",
                units="degC",
                default=20.0,
                bounds=(2, 60),
                source="cooled feed",
                description="product temperature entering each pass",
            ),
            Parameter(
                name="cooling",
                units="1",
                default=1,
                bounds=(0, 1),
                source="",
                description="1: a heat exchanger returns the product to T_inlet before each pass; 0: heat accumulates",
                integer=True,
            ),
            Parameter(
                name="points_per_pass",
                units="1",
                default=1,
                bounds=(1, 50),
                source="",
                description="output intervals per pass (1: pass ends only)",
                integer=True,
            ),
        )
    )

    def __init__(self, n_classes: int = 100, d_min_nm: float = 20.0, d_max_um: float = 20.0, daughter_q: float = 2.0):
        super().__init__()
        self.n_classes, self.d_min_nm, self.d_max_um, self.daughter_q = n_classes, d_min_nm, d_max_um, daughter_q

    @cached_property
    def operators(self) -> EmulsionOperators:
        return build_operators(self.n_classes, to_si(self.d_min_nm, "nm"), to_si(self.d_max_um, "um"), self.daughter_q)

    def model_parameters(self, given: dict | None = None) -> dict:
        """All model parameters (defaults overridden by ``given``), validated, in declared units."""
        return self.model.parameters.resolve(given, f"model '{self.name}' parameters")

    def model_parameters_si(self, given: dict | None = None) -> dict:
        """As :meth:`model_parameters`, in SI base units: what ``rhs_numpy`` and ``_rhs`` take."""
        return self.model.parameters.resolve_si(given, f"model '{self.name}' parameters")

    def build(self):
        op = self.operators
        m = ModelBuilder(
            self.name,
            version="1.0.0",
            time_units="1",
            time_label="pass",
            description=self.description + " Time is counted in passes (1 = one pass through the interaction chamber).",
        )
        P = m.parameters(PARAMETERS)
        pressure = m.input(PRESSURE)
        y0 = feed_shares(op, P["feed_d50"], P["feed_gsd"], ca)
        y = m.state(
            "y", "1", initial=y0, shape=op.grid.n, description="share of the oil volume in each size class (sums to 1)"
        )
        inv_d32 = m.state(
            "inv_d32",
            "1/um",
            initial=ca.dot(ca.DM(op.inv_d), y0),
            description="1/d32 = sum y_i (1 um / d_i), carried as a state (sets the interfacial area)",
        )
        T = m.state("T", "K", initial=T_REF, description="product temperature in the chamber")
        dy, ds, dT, ph = _rhs(P, pressure, T, y, inv_d32, op)
        m.ode(y, dy)
        m.ode(inv_d32, ds)
        m.ode(T, dT)
        m.structured(*structured_functions(op, tuple(PARAMETERS.names)))
        d = op.d
        s = [ca.dot(ca.DM(d**k), y) for k in (-1, 0, 1, 2, 3)]  # sum y d^k
        gbar = s[3] / s[4]  # intensity-weighted mean of 1/d
        m.output("z_average", 1.0 / gbar, "nm", "DLS Z-average (intensity ~ N d^6)")
        m.output("pdi", s[2] / s[4] / gbar**2 - 1.0, "1", "DLS cumulant polydispersity index")
        m.output("d32", s[1] / s[0], "nm", "Sauter mean diameter")
        m.output("oil_balance", ca.sum1(y), "1", "sum of class shares (1 = oil volume conserved)")
        m.output("T_C", T, "degC", "product temperature")
        m.output("eps", ph["eps"], "W/kg", "mean dissipation rate in the chamber")
        m.output("t_res", ph["t_res"], "us", "residence time in the dissipation zone")
        m.output("flow", ph["Q"], "mL/min", "flow rate")
        m.output("sigma", ph["sigma"], "mN/m", "interfacial tension")
        m.output("coverage", ph["theta"], "1", "surfactant coverage of the interface")
        made, lost = area_rates(P, ph, y, inv_d32, op)
        m.output("breakage_rate", made, "1", "interfacial area made by breakage, per pass, / area")
        m.output("coalescence_rate", lost, "1", "interfacial area lost to coalescence, per pass, / area")
        m.output("T_rise", ph["dT"], "K", "temperature rise over one pass, dp / (rho_e c_p)")
        m.output("kolmogorov", ph["eta_K"], "nm", "Kolmogorov length")
        m.output("d_hinze", ph["d_hinze"], "nm", "Hinze-Kolmogorov d_max (inertial)")
        m.output("d_viscous", ph["d_visc"], "nm", "viscous-regime d = 4 sigma/(eps mu_c rho_c)^1/2")
        return m.build()

    # -- recipe (operating values arrive in SI: T_inlet in K) ----------------------------------
    def default_recipe(self, operating) -> Recipe:
        """One phase per pass; with cooling every pass starts at T_inlet, otherwise only the first."""
        T_in = {"T": operating["T_inlet"]}  # the state T is declared in K, the SI unit
        return Recipe(
            phases=[
                Phase(name=f"pass {k}", duration=1.0, set_states=T_in if (k == 1 or operating["cooling"]) else {})
                for k in range(1, int(operating["n_passes"]) + 1)
            ]
        )

    def default_times(self, operating, recipe):
        n = int(operating["n_passes"])
        return np.linspace(0.0, float(n), n * int(operating["points_per_pass"]) + 1)

    # -- results -------------------------------------------------------------------------------
    def _number(self, result) -> np.ndarray:
        phi = result.parameters["oil_fraction"]
        return phi * result.state("y") / self.operators.grid.pivots

    def _pass_rows(self, result) -> tuple[list[int], list[str]]:
        t = result.t
        rows, labels = [], []
        for k in range(int(round(t[-1])) + 1):
            hit = np.flatnonzero(np.abs(t - k) < PASS_TIME_TOL)
            if hit.size:
                rows.append(int(hit[0]))
                labels.append("feed" if k == 0 else f"pass {k}")
        return rows, labels

    def series(self, result, operating) -> pd.DataFrame:
        """Size statistics and conditions at every output time; ``pass_end`` rows form the per-pass table."""
        st = size_stats(self._number(result), self.operators.grid)
        t = result.t
        df = pd.DataFrame(index=pd.Index(t, name="time"))
        df["pass_end"] = (np.abs(t - np.round(t)) < PASS_TIME_TOL) & (t > 0)
        for key in ("z_average", "d10", "d50", "d90", "d32", "d43"):
            df[f"{key}_nm"] = from_si(st[key], "nm")
        df["span"], df["pdi"] = st["span"], st["pdi"]
        df["pressure_bar"] = result.u[:, 0]
        for name, col in (("T_C", "T_C"), *SERIES_OUTPUTS, ("oil_balance", "oil_balance")):
            df[col] = result.output(name)
        # outlet temperature of pass k: temperature at its start (after any cooling) + dp/(rho c_p) of that pass
        rise, T0 = result.output("T_rise"), result.output("T_C")
        outlet = np.full(len(t), np.nan)
        for i in np.flatnonzero(df["pass_end"].to_numpy()):
            start = np.flatnonzero(np.abs(t - (round(t[i]) - 1)) < PASS_TIME_TOL)
            if start.size:
                outlet[i] = T0[start[0]] + rise[start[0]]
        df["T_outlet_C"] = outlet
        units = {c: ("nm" if c.endswith("_nm") else "1") for c in df.columns}
        units.update(
            {
                "time": "1",
                "T_C": "degC",
                "T_outlet_C": "degC",
                "eps_W_per_kg": "W/kg",
                "sigma_mN_per_m": "mN/m",
                "t_res_us": "us",
                "pressure_bar": "bar",
            }
        )
        df.attrs["units"] = units
        return df

    def kpis(self, result, operating) -> dict:
        """Final-pass values; ``series(...)[pass_end]`` has them for every pass."""
        one = self._kpis_of(
            result.t,
            result.state("y")[None],
            lambda name: result.output(name)[None],
            result.u[None, :, 0],
            np.array([result.parameters["oil_fraction"]]),
        )
        return {k: None if v is None else float(v[0]) for k, v in one.items()}

    def ensemble_kpis(self, runs, operating):
        kpis = self._kpis_of(
            runs.t, runs.state("y"), runs.output, runs.column("pressure"), runs.parameter("oil_fraction")
        )
        nan = np.full(len(runs), np.nan)
        return {k: nan if v is None else np.where(runs.ok, v, np.nan) for k, v in kpis.items()}

    def _kpis_of(self, t, y, output, pressure, phi) -> dict:
        """The KPIs of ``n`` runs on the same times ``t`` from their class shares ``y`` (n, T, classes), outputs
        (``output(name)`` -> (n, T)), pressures (n, T, bar) and oil fractions (n,): one array each."""
        grid = self.operators.grid
        n = y.shape[0]

        def stats(rows):
            number = phi[:, None, None] * y[:, rows, :] / grid.pivots
            flat = size_stats(number.reshape(-1, grid.n), grid)
            return {k: v.reshape(n, -1) for k, v in flat.items()}

        last = stats([len(t) - 1])
        out = {f"{k}_nm": from_si(last[k][:, 0], "nm") for k in ("z_average", "d10", "d50", "d90", "d32", "d43")}
        out["pdi"], out["span"] = last["pdi"][:, 0], last["span"][:, 0]
        for name, key in (*SERIES_OUTPUTS, ("d_hinze", "hinze_dmax_nm")):
            out[key] = output(name)[:, -1]
        on_pass = np.abs(t - np.round(t)) < PASS_TIME_TOL
        ends = np.flatnonzero(on_pass & (t > 0))
        starts = [np.flatnonzero(np.abs(t - (round(t[i]) - 1)) < PASS_TIME_TOL) for i in ends]
        ends = np.array([i for i, st in zip(ends, starts) if st.size], dtype=int)
        first = np.array([st[0] for st in starts if st.size], dtype=int)
        # outlet temperature of pass k: temperature at its start (after any cooling) + dp/(rho c_p) of that pass
        outlet = output("T_C")[:, first] + output("T_rise")[:, first]
        out["T_out_C"] = outlet[:, -1] if len(first) else np.full(n, np.nan)
        out["T_max_C"] = outlet.max(axis=1) if len(first) else np.full(n, np.nan)
        out["passes"] = np.full(n, float(round(t[-1])))
        starts_all = on_pass & (t < t[-1] - 0.5)
        energy = to_si(pressure[:, starts_all], "bar").sum(axis=1)  # sum dp per pass, J/m^3
        out["energy_density_MJ_per_m3"] = from_si(energy, "MJ/m^3")
        out["oil_balance_error"] = np.max(np.abs(output("oil_balance") - 1.0), axis=1)
        if len(ends) > 1:
            z = stats(list(ends[-2:]))["z_average"]
            out["last_pass_change_pct"] = from_si((z[:, 0] - z[:, 1]) / z[:, 0], "percent")
        else:
            out["last_pass_change_pct"] = None
        return out

    def distribution(self, result, operating) -> Distribution:
        rows, labels = self._pass_rows(result)
        op = self.operators
        y = result.state("y")[rows]
        dens = np.clip(y, 0, None) / op.dlnd
        dens /= (dens * op.dlnd).sum(axis=1, keepdims=True)
        return Distribution(diameter=from_si(op.d, "nm"), density=dens, labels=labels)
