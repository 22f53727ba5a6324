"""Liposome formation by microfluidic mixing (AS01-like DOPC/cholesterol liposomes).

Lipid dissolved in ethanol meets aqueous buffer in a staggered-herringbone mixer. As ethanol is
diluted the lipid becomes insoluble, nucleates as bilayer fragments (BPF), the fragments grow by
lipid uptake at their edges and by fusing with each other, and a fragment closes into a vesicle
once bending it shut costs less than its open edge (Lasic 1988; Fromherz 1983). Closed vesicles
neither grow nor fuse. The model follows one fluid element through the mixer (Lagrangian frame).

Mixing (Stroock et al. 2002, Science 295:647; Maeki et al. 2015, RSC Adv. 5:46181)
    U = TFR/(w h),  Pe = U w / D_e,  t_mix = lam ln(Pe) / U   (90 % mixing length lam ln Pe)
    dphi/dt = -(phi - phi_f)/tau,  tau = t_mix/ln 10,  phi(0) = 1,  phi_f = 1/(1 + FRR)
    D_e(T) = D_e,ref (T/T_ref) mu_w(T_ref)/mu_w(T)  (Stokes-Einstein)

Basis: amounts are per volume of the ethanol stream, so mixing dilutes nothing; the actual
concentration is basis x phi. States are lipid mass concentrations (declared in mg/mL of ethanol
stream, i.e. kg/m^3): free lipid c, fragment classes w_i and vesicle classes z_i; c + sum w + sum z
= c_L0 at all times.

Units: the equations are written in SI base units (m, s, kg, K, J, N, Pa s). Pint converts every
declared value where it enters (um, mm, nm^2, mL/min, degC, kJ/mol, g/mol, pN, mPa*s) and converts
the outputs back to their declared units (ms, mPa*s, pN, nm, 1/mL); the code holds no unit factors.

Solubility (log-linear cosolvency, Yalkowsky & Roseman 1981; van 't Hoff in T)
    c_sat = c_E exp(-sigma (1 - phi)) exp(-dH/R (1/T - 1/T_ref)),   S = c phi / c_sat
Viscosity of the mixture (Grunberg & Nissan 1949) with an Arrhenius temperature factor
    ln mu = (1 - phi) ln mu_w + phi ln mu_e + G phi (1 - phi) + E_mu/R (1/T - 1/T_ref)

Fragment population balance (engine in bioprocess_twin.pbe). Size coordinate: bilayer area A of a
fragment (one face), placed on the engine's volume axis (v := A, numerically in m^2); fusion adds
areas, so the fixed-pivot scheme conserves lipid. Mass per area sigma_m = 2 M/(N_A a_L). The
vesicle made from a disc has the same area: pi R_d^2 = 4 pi R_v^2, so d_ves = R_d = sqrt(A/pi).
    nucleation   B = k_n (S - 1)_+^b                       (#/m^3 actual/s, into the first class)
    growth       dA/dt = eta 4 D_L R_d (c phi - c_sat)_+ / sigma_m,  D_L = kT/(6 pi mu r_L)
                 (diffusion to the rim of a disc, Berg 1993), limited finite volumes
    fusion       beta_ij = alpha (2kT/3mu)(pi/2)(1/R_i + 1/R_j)(R_i + R_j)   (Brownian discs, hydro-
                 dynamic radius 2R/pi, Smoluchowski 1917); basis form dN/dt = phi * PBE(beta)
Closure (Fromherz 1983, Chem. Phys. Lett. 94:259; Leng, Egelhaaf & Cates 2003, Biophys. J. 85:1624)
    R* = (2 kappa + kappa_bar)/Lambda,   Lambda(phi) = Lambda_w exp(-phi/phi_L)
    E(x) = E_b x + E_e sqrt(1 - x)  (x: closed share of the sphere; E_b = 4 pi (2 kappa + kappa_bar),
    E_e = 4 pi Lambda R_v = E_b R_v/R*, the rim energy of the flat disc)
    barrier dE = E_b (1 - y/2)_+^2, y = R_v/R*; closure rate k_c = nu_c exp(-dE/kT)
R* is the vesicle radius at which a closed vesicle and the flat disc of equal area have the same
energy; the barrier vanishes at R_v = 2 R*. Fragment class i loses k_c,i w_i to vesicle class i.

Temperature enters through c_sat (van 't Hoff), mu (Arrhenius), D_L, D_e and beta (Stokes-
Einstein), and kT in the closure barrier; far above the main transition (DOPC: -17 C) kappa/Lambda
and hence the size barely change with T (Zook & Vreeland 2010). Sizes as a DLS instrument reports them: intensity of a
thin-shell vesicle I ~ N m^2 (sin qR/qR)^2 at 173 deg, 633 nm; Z-average and PDI from the cumulant
of the intensity-weighted decay rates (ISO 22412). q3(ln d) is lipid-mass (bilayer-area) weighted.
Empirical trends reproduced: size falls with FRR and TFR and rises with lipid concentration
(Zook & Vreeland 2010, Soft Matter 6:1352; Jahn et al. 2010, ACS Nano 4:2077; Kastner et
al. 2014, Int. J. Pharm. 477:361; GSK digital twin, Processes 2023, 11:1717).
"""

from __future__ import annotations

import casadi as ca
import numpy as np
import pandas as pd

from ..core import ModelBuilder
from ..core.constants import K_BOLTZMANN, N_AVOGADRO, R_GAS
from ..core.parameters import Parameter, ParameterTable
from ..core.process import Distribution, Process
from ..core.units import from_si
from ..pbe import Grid, PopulationBalance

T_REF = 298.15  # K, reference temperature of the property data
RHO_MIX = 1000.0  # kg/m^3, mixture density taken as water's (Reynolds number only)
DLS_Q = 4 * np.pi * 1.33 / 633e-9 * np.sin(np.radians(173) / 2)  # 1/m, backscatter DLS
N_CLASSES = 40
D_MIN, D_MAX = 2.5e-9, 2.5e-6  # vesicle-equivalent diameter range of the grid, m
DIST_CLOSED = (0.25, 0.5, 0.75, 0.9)  # distributions when these shares of the final vesicle lipid exist
FIRST_OUTPUT = 1e-5  # s, latest first output time after t = 0 ...
FIRST_OUTPUT_RATIO = 100.0  # ... and at most formation_time / FIRST_OUTPUT_RATIO
FORMATION_RTOL = 0.01  # ethanol within this relative distance of its target: mixing complete
OPEN_LIPID_MAX = 0.05  # share of lipid still in open fragments above which formation is incomplete
SIZED_SHARE_MIN = 1e-3  # series sizes are NaN until this share of the lipid is in vesicles


def make_grid() -> Grid:
    """Area grid (stored on the engine's volume axis): A from pi d_min^2 to pi d_max^2."""
    return Grid.geometric(np.pi * D_MIN**2, np.pi * D_MAX**2, N_CLASSES)


def vesicle_diameter(area):
    """Vesicle diameter (m) of a disc of face area A (m^2): d = R_disc = sqrt(A/pi)."""
    return np.sqrt(np.asarray(area, dtype=float) / np.pi)


def closure_radius(kappa, kappa_bar, edge_tension):
    """R* = (2 kappa + kappa_bar)/Lambda (m): vesicle radius where vesicle and disc energies match."""
    return (2.0 * kappa + kappa_bar) / edge_tension


def closure_barrier(radius, kappa, kappa_bar, edge_tension):
    """Fromherz barrier (J) for closing a disc into a vesicle of radius ``radius``."""
    e_b = 4 * np.pi * (2.0 * kappa + kappa_bar)
    y = np.asarray(radius, dtype=float) / closure_radius(kappa, kappa_bar, edge_tension)
    return e_b * np.maximum(1.0 - y / 2.0, 0.0) ** 2


PARAMETERS = ParameterTable(
    (
        Parameter(
            name="lipid_concentration",
            units="mg/mL",
            default=10.0,
            bounds=(0.5, 50.0),
            source="Kastner et al. 2014; Zook & Vreeland 2010 (5-20 mg/mL typical)",
            description="total lipid (DOPC + cholesterol) in the ethanol stream",
        ),
        Parameter(
            name="channel_width",
            units="um",
            default=300.0,
            bounds=(50.0, 3000.0),
            source="Stroock et al. 2002 (200 um); SHM cartridges ~300 um",
            description="mixer channel width w",
        ),
        Parameter(
            name="channel_height",
            units="um",
            default=130.0,
            bounds=(20.0, 1000.0),
            source="Stroock et al. 2002 (79 um); SHM cartridges ~130 um",
            description="mixer channel height h",
        ),
        Parameter(
            name="stretching_length",
            units="mm",
            default=0.9,
            bounds=(0.05, 20.0),
            source="Stroock et al. 2002: 90 % mixing length ~1 cm at Pe ~1e5, growing as ln Pe",
            description="lam in L_90 = lam ln(Pe) for chaotic advection",
        ),
        Parameter(
            name="ethanol_diffusivity",
            units="m^2/s",
            default=1.0e-9,
            bounds=(1e-10, 5e-9),
            source="Hayduk & Laudie 1974 (1.2e-9 dilute); Pratt & Wakeham 1974 (lower mid-range)",
            description="ethanol-water mutual diffusivity at 25 C",
        ),
        Parameter(
            name="solubility_ethanol",
            units="mg/mL",
            default=100.0,
            bounds=(1.0, 1000.0),
            source="apparent self-assembly threshold; DOPC/cholesterol are soluble to ~1e2 mg/mL in ethanol",
            description="lipid solubility c_E in pure ethanol at 25 C",
        ),
        Parameter(
            name="cosolvency_slope",
            units="1",
            default=12.0,
            bounds=(2.0, 40.0),
            source="Yalkowsky & Roseman 1981 log-linear law; onset of assembly at 70-85 % ethanol (Maeki et al. 2015)",
            description="sigma in c_sat = c_E exp(-sigma (1 - phi))",
        ),
        Parameter(
            name="solubility_enthalpy",
            units="kJ/mol",
            default=30.0,
            bounds=(0.0, 120.0),
            source="van 't Hoff; sterol/phospholipid dissolution in alcohols 20-40 kJ/mol",
            description="dissolution enthalpy (solubility rises with temperature)",
        ),
        Parameter(
            name="bending_modulus",
            units="J",
            default=8.5e-20,
            bounds=(1e-20, 1e-18),
            source="Rawicz et al. 2000 (DOPC 8.5e-20 J)",
            description="Helfrich bending rigidity kappa",
        ),
        Parameter(
            name="gaussian_modulus_ratio",
            units="1",
            default=-0.9,
            bounds=(-1.9, 0.0),
            source="Hu, Briguglio & Deserno 2012 (kappa_bar/kappa ~ -0.9)",
            description="Gaussian modulus kappa_bar as a multiple of kappa",
        ),
        Parameter(
            name="edge_tension_water",
            units="pN",
            default=12.0,
            bounds=(1.0, 60.0),
            source="Karatekin et al. 2003 (DOPC 7 pN); Portet & Dimova 2010; cholesterol raises it",
            description="bilayer edge (line) tension Lambda_w in water",
        ),
        Parameter(
            name="edge_tension_ethanol_scale",
            units="1",
            default=0.3,
            bounds=(0.05, 3.0),
            source="phenomenological; ethanol screens the exposed edge (Lasic 1988); fitted to FRR trend (Kastner 2014)",
            description="phi_L in Lambda = Lambda_w exp(-phi/phi_L)",
        ),
        Parameter(
            name="closure_frequency",
            units="1/s",
            default=1e6,
            bounds=(1e3, 1e9),
            source="kappa/(eta R^3) for R ~ 50 nm (Fromherz 1983)",
            description="attempt frequency nu_c of disc closure",
        ),
        Parameter(
            name="nucleation_constant",
            units="1/m^3/s",
            default=3e21,
            bounds=(1e10, 1e30),
            source="fitted: Z-average 60-120 nm at FRR 3 (Kastner 2014)",
            description="k_n in B = k_n (S-1)^b",
        ),
        Parameter(
            name="nucleation_order",
            units="1",
            default=2.0,
            bounds=(1.0, 6.0),
            source="empirical nucleation order (Mersmann 2001: 2-5)",
            description="b in B = k_n (S-1)^b",
        ),
        Parameter(
            name="attachment_efficiency",
            units="1",
            default=0.1,
            bounds=(1e-6, 1.0),
            source="fitted; below 1 for rim-limited uptake",
            description="eta: fraction of diffusion-limited lipid flux taken up at fragment edges",
        ),
        Parameter(
            name="monomer_radius",
            units="nm",
            default=0.6,
            bounds=(0.2, 3.0),
            source="Stokes-Einstein radius of a phospholipid monomer",
            description="r_L for the monomer diffusivity D_L = kT/(6 pi mu r_L)",
        ),
        Parameter(
            name="fusion_efficiency",
            units="1",
            default=1.0,
            bounds=(1e-4, 10.0),
            source="fitted to the TFR trend (Kastner 2014); Brownian collisions of open edges fuse readily (Lasic 1988)",
            description="alpha: fusion per Brownian collision of fragments (> 1 lumps shear-induced collisions)",
        ),
        Parameter(
            name="viscosity_water",
            units="mPa*s",
            default=0.89,
            bounds=(0.3, 2.0),
            source="water at 25 C (CRC Handbook)",
            description="mu_w at 25 C",
        ),
        Parameter(
            name="viscosity_ethanol",
            units="mPa*s",
            default=1.07,
            bounds=(0.3, 2.0),
            source="ethanol at 25 C (CRC Handbook)",
            description="mu_e at 25 C",
        ),
        Parameter(
            name="viscosity_interaction",
            units="1",
            default=3.3,
            bounds=(0.0, 6.0),
            source="Grunberg & Nissan 1949 fitted to 2.2 mPa s at 45 vol% (25 C)",
            description="G in ln mu = (1-phi) ln mu_w + phi ln mu_e + G phi (1-phi)",
        ),
        Parameter(
            name="viscosity_activation_energy",
            units="kJ/mol",
            default=16.0,
            bounds=(5.0, 30.0),
            source="water 15-17 kJ/mol near 25 C",
            description="E_mu of the Arrhenius viscosity factor",
        ),
        Parameter(
            name="area_per_lipid",
            units="nm^2",
            default=0.6,
            bounds=(0.3, 1.0),
            source="Kucerka et al. 2005 (DOPC 0.72 nm^2) condensed by 33 mol% cholesterol (Hung et al. 2007)",
            description="mean area per lipid a_L in the bilayer",
        ),
        Parameter(
            name="lipid_molar_mass",
            units="g/mol",
            default=652.0,
            bounds=(300.0, 1000.0),
            source="DOPC 786 + cholesterol 387 g/mol at 4:1 w/w (AS01)",
            description="mean molar mass M of the lipid mixture",
        ),
    )
)


class LiposomeMicrofluidic(Process):
    name = "liposome_microfluidic"
    description = (
        "Liposome (DOPC/cholesterol) formation by ethanol dilution in a microfluidic mixer: "
        "bilayer-fragment nucleation, growth, fusion and closure into vesicles."
    )
    #: units of each KPI (pint; "" for a pure number)
    kpi_units = {
        "z_average_nm": "nm",
        "d50_nm": "nm",
        "d10_nm": "nm",
        "d90_nm": "nm",
        "span": "",
        "pdi": "",
        "vesicle_lipid_fraction": "",
        "fragment_lipid_fraction": "",
        "free_lipid_fraction": "",
        "ethanol_fraction_final": "",
        "ethanol_fraction_target": "",
        "mixing_time_ms": "ms",
        "reynolds_number": "",
        "closure_radius_nm": "nm",
        "vesicle_count_per_mL": "1/mL",
        "peak_supersaturation": "",
    }
    operating = ParameterTable(
        (
            Parameter(
                name="formation_time",
                units="s",
                default=1.0,
                bounds=(0.005, 20.0),
                source="",
                description="time simulated after the streams meet",
            ),
            Parameter(
                name="output_points",
                units="1",
                default=60,
                bounds=(10, 400),
                source="",
                description="number of output times (log-spaced)",
                integer=True,
            ),
        )
    )

    def __init__(self):
        super().__init__()
        self.grid = make_grid()
        self.pbe = PopulationBalance(self.grid, aggregation_method="fixed_pivot")

    # -- model ------------------------------------------------------------------------------
    def build(self):
        m = ModelBuilder(self.name, version="1.0.0", description=self.description, time_units="s")
        P = m.parameters(PARAMETERS)  # SI: m, m^2/s, kg/m^3, J/mol, N, Pa s, m^2, kg/mol
        frr = m.input(
            Parameter(
                name="flow_rate_ratio",
                units="1",
                default=3.0,
                bounds=(0.5, 20.0),
                description="FRR = Q_aqueous/Q_ethanol",
            )
        )
        tfr = m.input(
            Parameter(
                name="total_flow_rate",
                units="mL/min",
                default=12.0,
                bounds=(0.5, 200.0),
                description="TFR = Q_aq + Q_eth",
            )
        )
        T = m.input(
            Parameter(
                name="temperature", units="degC", default=25.0, bounds=(2.0, 70.0), description="mixing temperature"
            )
        )
        c0 = P["lipid_concentration"]  # kg/m^3 (= mg/mL)
        n = self.grid.n
        phi = m.state("ethanol_fraction", "1", initial=1.0, description="ethanol volume fraction in the element")
        c = m.state("lipid_free", "mg/mL", initial=c0, description="dissolved lipid, per volume of ethanol stream")
        w = m.state("lipid_fragments", "mg/mL", initial=0.0, shape=n, description="lipid in open fragments per class")
        z = m.state("lipid_vesicles", "mg/mL", initial=0.0, shape=n, description="lipid in closed vesicles per class")

        kT = K_BOLTZMANN * T
        arr = 1.0 / T - 1.0 / T_REF
        phi_c = ca.fmin(ca.fmax(phi, 0.0), 1.0)
        phi_f = 1.0 / (1.0 + frr)
        mu_w25 = P["viscosity_water"]
        mu_T = ca.exp(P["viscosity_activation_energy"] / R_GAS * arr)
        mu = (
            ca.exp(
                (1 - phi_c) * ca.log(mu_w25)
                + phi_c * ca.log(P["viscosity_ethanol"])
                + P["viscosity_interaction"] * phi_c * (1 - phi_c)
            )
            * mu_T
        )  # Pa s
        # mixing
        width, height = P["channel_width"], P["channel_height"]
        velocity = tfr / (width * height)
        d_e = P["ethanol_diffusivity"] * (T / T_REF) / mu_T
        peclet = velocity * width / d_e
        t_mix = P["stretching_length"] * ca.fmax(ca.log(peclet), 1.0) / velocity
        m.ode(phi, -(phi - phi_f) * np.log(10.0) / t_mix)
        # solubility and supersaturation
        c_sat = P["solubility_ethanol"] * ca.exp(
            -P["cosolvency_slope"] * (1 - phi_c) - P["solubility_enthalpy"] / R_GAS * arr
        )
        c_act = c * phi_c
        S = c_act / c_sat
        # fragments: number per class (basis) from lipid mass
        sigma_m = 2.0 * P["lipid_molar_mass"] / (N_AVOGADRO * P["area_per_lipid"])  # kg/m^2
        A = self.grid.pivots
        N = w / (sigma_m * ca.DM(A))
        edges = self.grid.edges
        r_edge = np.sqrt(edges / np.pi)
        d_l = kT / (6 * np.pi * mu * P["monomer_radius"])
        drive = ca.fmax(c_act - c_sat, 0.0)
        g_scale = P["attachment_efficiency"] * 4.0 * d_l * drive / sigma_m
        top = np.ones(n + 1)
        top[-1] = 0.0  # no growth out of the grid: lipid stays on it
        G = g_scale * ca.DM(r_edge * top)
        dN_growth = self.pbe.rhs(N, growth=G)
        B = P["nucleation_constant"] * ca.fmax(S - 1.0, 0.0) ** P["nucleation_order"] / phi_c
        dN_nuc = self.pbe.rhs(N, nucleation=B)
        r = np.sqrt(A / np.pi)
        geo = np.pi / 2 * (1 / r[:, None] + 1 / r[None, :]) * (r[:, None] + r[None, :])
        beta = (phi_c * P["fusion_efficiency"] * 2.0 * kT / (3.0 * mu)) * ca.DM(geo)
        dN_fusion = self.pbe.rhs(N, aggregation=beta)
        # closure
        kappa = P["bending_modulus"]
        kappa_bar = P["gaussian_modulus_ratio"] * kappa
        edge = P["edge_tension_water"] * ca.exp(-phi_c / P["edge_tension_ethanol_scale"])
        r_star = closure_radius(kappa, kappa_bar, edge)
        e_b = 4 * np.pi * (2 * kappa + kappa_bar) / kT
        y = ca.DM(r / 2.0) / r_star
        k_close = P["closure_frequency"] * ca.exp(-e_b * ca.fmax(1.0 - y / 2.0, 0.0) ** 2)
        closing = k_close * w
        mass_per = sigma_m * ca.DM(A)
        uptake_growth = ca.sum1(dN_growth * mass_per)
        uptake_nuc = ca.sum1(dN_nuc * mass_per)
        m.ode(c, -uptake_growth - uptake_nuc)
        m.ode(w, (dN_growth + dN_nuc + dN_fusion) * mass_per - closing)
        m.ode(z, closing)

        frag_number = ca.sum1(N) * phi_c  # 1/m^3 of mixture
        ves_number = ca.sum1(z / mass_per) * phi_c
        m.output("supersaturation", S, "1", "S = dissolved lipid / solubility")
        m.output("solubility", c_sat, "mg/mL", "lipid solubility in the current mixture")
        m.output("final_ethanol_fraction", phi_f, "1", "1/(1 + FRR)")
        m.output("mixing_time", t_mix, "ms", "90 % mixing time lam ln(Pe)/U")
        m.output("mean_velocity", velocity, "m/s", "mean velocity in the mixer channel")
        m.output("peclet_number", peclet, "1", "U w / D_e")
        m.output(
            "reynolds_number",
            RHO_MIX * velocity * 2 * width * height / (width + height) / mu,
            "1",
            "Re on the hydraulic diameter",
        )
        m.output("viscosity", mu, "mPa*s", "mixture viscosity")
        m.output("edge_tension", edge, "pN", "bilayer edge tension in the mixture")
        m.output("closure_radius", r_star, "nm", "R* = (2 kappa + kappa_bar)/Lambda")
        m.output("nucleation_rate", B * phi_c, "1/m^3/s", "fragment nucleation rate (actual volume)")
        m.output("free_lipid_fraction", c / c0, "1", "share of lipid still dissolved")
        m.output("fragment_lipid_fraction", ca.sum1(w) / c0, "1", "share of lipid in open fragments")
        m.output("vesicle_lipid_fraction", ca.sum1(z) / c0, "1", "share of lipid in closed vesicles")
        m.output("lipid_balance", (c + ca.sum1(w) + ca.sum1(z)) / c0, "1", "total lipid / lipid fed (1 exactly)")
        m.output("fragment_count", frag_number, "1/mL", "open fragments per mL of mixture")
        m.output("vesicle_count", ves_number, "1/mL", "vesicles per mL of mixture")
        return m.build()

    # -- output grid ----------------------------------------------------------------------------
    def default_times(self, operating, recipe):
        t_end = float(operating["formation_time"])
        k = int(operating["output_points"])
        return np.concatenate([[0.0], np.geomspace(min(FIRST_OUTPUT, t_end / FIRST_OUTPUT_RATIO), t_end, k - 1)])

    # -- post-processing ------------------------------------------------------------------------
    @property
    def diameters_nm(self) -> np.ndarray:
        return from_si(vesicle_diameter(self.grid.pivots), "nm")

    def vesicle_stats(self, z: np.ndarray) -> dict[str, np.ndarray]:
        """DLS Z-average and PDI, lipid-weighted d10/d50/d90 and span of vesicle classes ``z`` (nt x n)."""
        z = np.clip(np.atleast_2d(z), 0.0, None)
        d = vesicle_diameter(self.grid.pivots)
        qr = DLS_Q * d / 2
        # I ~ N m^2 P(qR) = (z/m) m^2 P ~ z A P(qR); A ~ d^2
        inten = z * (d / d.max()) ** 2 * np.sinc(qr / np.pi) ** 2
        tot = inten.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            gamma = (inten / d).sum(axis=1) / tot
            var = (inten * (1 / d[None, :] - gamma[:, None]) ** 2).sum(axis=1) / tot
            zavg, pdi = 1.0 / gamma, var / gamma**2
        q = _quantiles(z, np.log(vesicle_diameter(self.grid.edges)), (0.1, 0.5, 0.9))
        with np.errstate(invalid="ignore", divide="ignore"):
            span = (q[:, 2] - q[:, 0]) / q[:, 1]
        nm = from_si(q, "nm")
        return {
            "z_average_nm": from_si(zavg, "nm"),
            "pdi": pdi,
            "d10_nm": nm[:, 0],
            "d50_nm": nm[:, 1],
            "d90_nm": nm[:, 2],
            "span": span,
        }

    def kpis(self, result, operating):
        s = {k: float(v[-1]) for k, v in self.vesicle_stats(result.state("lipid_vesicles")[-1:]).items()}
        out = {k: s[k] for k in ("z_average_nm", "d50_nm", "d10_nm", "d90_nm", "span", "pdi")}
        y = {v.name: float(result.output(v.name)[-1]) for v in result.model.outputs}
        out |= {
            "vesicle_lipid_fraction": y["vesicle_lipid_fraction"],
            "fragment_lipid_fraction": y["fragment_lipid_fraction"],
            "free_lipid_fraction": y["free_lipid_fraction"],
            "ethanol_fraction_final": float(result.state("ethanol_fraction")[-1]),
            "ethanol_fraction_target": y["final_ethanol_fraction"],
            "mixing_time_ms": y["mixing_time"],
            "reynolds_number": y["reynolds_number"],
            "closure_radius_nm": y["closure_radius"],
            "vesicle_count_per_mL": y["vesicle_count"],
            "peak_supersaturation": float(np.max(result.output("supersaturation"))),
        }
        target = out["ethanol_fraction_target"]
        if (
            abs(out["ethanol_fraction_final"] - target) > FORMATION_RTOL * target
            or out["fragment_lipid_fraction"] > OPEN_LIPID_MAX
        ):
            result.warnings.append(
                f"{self.name}: formation incomplete at t = {result.t[-1]:g} s (ethanol "
                f"{out['ethanol_fraction_final']:.3f} vs {target:.3f}, "
                f"{out['fragment_lipid_fraction']:.1%} of lipid in open fragments); "
                "increase formation_time"
            )
        return out

    def distribution(self, result, operating):
        z = np.clip(result.state("lipid_vesicles"), 0.0, None)
        t, closed = result.t, z.sum(axis=1)
        idx = [int(np.argmax(closed >= q * closed[-1])) for q in DIST_CLOSED if closed[-1] > 0] + [len(t) - 1]
        idx = sorted(set(idx))
        dln = np.diff(np.log(vesicle_diameter(self.grid.edges)))
        dens = np.zeros((len(idx), self.grid.n))
        for k, i in enumerate(idx):
            if closed[i] > 0:
                dens[k] = z[i] / closed[i] / dln
        labels = [
            f"t = {from_si(t[i], 'ms'):.3g} ms "
            f"({from_si(closed[i] / closed[-1], 'percent') if closed[-1] > 0 else 0:.0f} % of vesicles)"
            for i in idx
        ]
        return Distribution(
            diameter=self.diameters_nm, density=dens, labels=labels, kind="lipid-mass density q3(ln d) of vesicles"
        )

    def series(self, result, operating):
        st = self.vesicle_stats(result.state("lipid_vesicles"))
        sparse = result.output("vesicle_lipid_fraction") < SIZED_SHARE_MIN  # too few vesicles to size
        st = {k: np.where(sparse, np.nan, v) for k, v in st.items()}
        df = pd.DataFrame(
            {
                "ethanol_fraction": result.state("ethanol_fraction"),
                "supersaturation": result.output("supersaturation"),
                "closure_radius": result.output("closure_radius"),
                "free_lipid_fraction": result.output("free_lipid_fraction"),
                "vesicle_lipid_fraction": result.output("vesicle_lipid_fraction"),
                "fragment_count": result.output("fragment_count"),
                "vesicle_count": result.output("vesicle_count"),
                "z_average": st["z_average_nm"],
                "pdi": st["pdi"],
                "d50": st["d50_nm"],
            },
            index=pd.Index(result.t, name="time"),
        )
        df.attrs["units"] = {
            "time": "s",
            "ethanol_fraction": "1",
            "supersaturation": "1",
            "closure_radius": "nm",
            "free_lipid_fraction": "1",
            "vesicle_lipid_fraction": "1",
            "fragment_count": "1/mL",
            "vesicle_count": "1/mL",
            "z_average": "nm",
            "pdi": "1",
            "d50": "nm",
        }
        return df


def _quantiles(weights: np.ndarray, ln_edges: np.ndarray, qs) -> np.ndarray:
    """Diameters (exp of ln d) where the cumulative weight over classes (uniform in ln d) reaches q."""
    out = np.full((weights.shape[0], len(qs)), np.nan)
    for t, wt in enumerate(weights):
        total = wt.sum()
        if total <= 0:
            continue
        cum = np.concatenate([[0.0], np.cumsum(wt)]) / total
        for j, q in enumerate(qs):
            i = min(max(int(np.searchsorted(cum, q, side="left")) - 1, 0), len(wt) - 1)
            frac = (q - cum[i]) / (cum[i + 1] - cum[i]) if cum[i + 1] > cum[i] else 0.5
            out[t, j] = np.exp(ln_edges[i] + frac * (ln_edges[i + 1] - ln_edges[i]))
    return out
