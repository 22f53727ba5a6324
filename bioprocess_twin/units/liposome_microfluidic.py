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
concentration is basis x phi. States are lipid mass concentrations (mg/mL of ethanol stream): free
lipid c, fragment classes w_i and vesicle classes z_i; c + sum w + sum z = c_L0 at all times.

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
from ..core.parameters import Parameter, ParameterTable
from ..core.process import Distribution, Process
from ..core.registry import register
from ..pbe import Grid, PopulationBalance

K_B = 1.380649e-23        # J/K
N_A = 6.02214076e23       # 1/mol
R_GAS = 8.314462618       # J/mol/K
T_REF = 298.15            # K, reference temperature of the property data
DLS_Q = 4 * np.pi * 1.33 / 633e-9 * np.sin(np.radians(173) / 2)   # 1/m, backscatter DLS
N_CLASSES = 40
D_MIN, D_MAX = 2.5e-9, 2.5e-6   # vesicle-equivalent diameter range of the grid, m
DIST_CLOSED = (0.25, 0.5, 0.75, 0.9)   # distributions when these shares of the final vesicle lipid exist


def make_grid() -> Grid:
    """Area grid (stored on the engine's volume axis): A from pi d_min^2 to pi d_max^2."""
    return Grid.geometric(np.pi * D_MIN ** 2, np.pi * D_MAX ** 2, N_CLASSES)


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


def _p(name, units, default, bounds, source, description):
    return (name, units, default, bounds, source, description)


PARAMETERS = [
    _p("lipid_concentration", "mg/mL", 10.0, (0.5, 50.0),
       "Kastner et al. 2014; Zook & Vreeland 2010 (5-20 mg/mL typical)",
       "total lipid (DOPC + cholesterol) in the ethanol stream"),
    _p("channel_width", "um", 300.0, (50.0, 3000.0), "Stroock et al. 2002 (200 um); SHM cartridges ~300 um",
       "mixer channel width w"),
    _p("channel_height", "um", 130.0, (20.0, 1000.0), "Stroock et al. 2002 (79 um); SHM cartridges ~130 um",
       "mixer channel height h"),
    _p("stretching_length", "mm", 0.9, (0.05, 20.0),
       "Stroock et al. 2002: 90 % mixing length ~1 cm at Pe ~1e5, growing as ln Pe",
       "lam in L_90 = lam ln(Pe) for chaotic advection"),
    _p("ethanol_diffusivity", "m^2/s", 1.0e-9, (1e-10, 5e-9),
       "Hayduk & Laudie 1974 (1.2e-9 dilute); Pratt & Wakeham 1974 (lower mid-range)",
       "ethanol-water mutual diffusivity at 25 C"),
    _p("solubility_ethanol", "mg/mL", 100.0, (1.0, 1000.0),
       "apparent self-assembly threshold; DOPC/cholesterol are soluble to ~1e2 mg/mL in ethanol",
       "lipid solubility c_E in pure ethanol at 25 C"),
    _p("cosolvency_slope", "1", 12.0, (2.0, 40.0),
       "Yalkowsky & Roseman 1981 log-linear law; onset of assembly at 70-85 % ethanol (Maeki et al. 2015)",
       "sigma in c_sat = c_E exp(-sigma (1 - phi))"),
    _p("solubility_enthalpy", "kJ/mol", 30.0, (0.0, 120.0),
       "van 't Hoff; sterol/phospholipid dissolution in alcohols 20-40 kJ/mol",
       "dissolution enthalpy (solubility rises with temperature)"),
    _p("bending_modulus", "J", 8.5e-20, (1e-20, 1e-18), "Rawicz et al. 2000 (DOPC 8.5e-20 J)",
       "Helfrich bending rigidity kappa"),
    _p("gaussian_modulus_ratio", "1", -0.9, (-1.9, 0.0), "Hu, Briguglio & Deserno 2012 (kappa_bar/kappa ~ -0.9)",
       "Gaussian modulus kappa_bar as a multiple of kappa"),
    _p("edge_tension_water", "pN", 12.0, (1.0, 60.0),
       "Karatekin et al. 2003 (DOPC 7 pN); Portet & Dimova 2010; cholesterol raises it",
       "bilayer edge (line) tension Lambda_w in water"),
    _p("edge_tension_ethanol_scale", "1", 0.3, (0.05, 3.0),
       "phenomenological; ethanol screens the exposed edge (Lasic 1988); fitted to FRR trend (Kastner 2014)",
       "phi_L in Lambda = Lambda_w exp(-phi/phi_L)"),
    _p("closure_frequency", "1/s", 1e6, (1e3, 1e9), "kappa/(eta R^3) for R ~ 50 nm (Fromherz 1983)",
       "attempt frequency nu_c of disc closure"),
    _p("nucleation_constant", "1/m^3/s", 3e21, (1e10, 1e30), "fitted: Z-average 60-120 nm at FRR 3 (Kastner 2014)",
       "k_n in B = k_n (S-1)^b"),
    _p("nucleation_order", "1", 2.0, (1.0, 6.0), "empirical nucleation order (Mersmann 2001: 2-5)",
       "b in B = k_n (S-1)^b"),
    _p("attachment_efficiency", "1", 0.1, (1e-6, 1.0), "fitted; below 1 for rim-limited uptake",
       "eta: fraction of diffusion-limited lipid flux taken up at fragment edges"),
    _p("monomer_radius", "nm", 0.6, (0.2, 3.0), "Stokes-Einstein radius of a phospholipid monomer",
       "r_L for the monomer diffusivity D_L = kT/(6 pi mu r_L)"),
    _p("fusion_efficiency", "1", 1.0, (1e-4, 10.0),
       "fitted to the TFR trend (Kastner 2014); Brownian collisions of open edges fuse readily (Lasic 1988)",
       "alpha: fusion per Brownian collision of fragments (> 1 lumps shear-induced collisions)"),
    _p("viscosity_water", "mPa*s", 0.89, (0.3, 2.0), "water at 25 C (CRC Handbook)", "mu_w at 25 C"),
    _p("viscosity_ethanol", "mPa*s", 1.07, (0.3, 2.0), "ethanol at 25 C (CRC Handbook)", "mu_e at 25 C"),
    _p("viscosity_interaction", "1", 3.3, (0.0, 6.0), "Grunberg & Nissan 1949 fitted to 2.2 mPa s at 45 vol% (25 C)",
       "G in ln mu = (1-phi) ln mu_w + phi ln mu_e + G phi (1-phi)"),
    _p("viscosity_activation_energy", "kJ/mol", 16.0, (5.0, 30.0), "water 15-17 kJ/mol near 25 C",
       "E_mu of the Arrhenius viscosity factor"),
    _p("area_per_lipid", "nm^2", 0.6, (0.3, 1.0),
       "Kucerka et al. 2005 (DOPC 0.72 nm^2) condensed by 33 mol% cholesterol (Hung et al. 2007)",
       "mean area per lipid a_L in the bilayer"),
    _p("lipid_molar_mass", "g/mol", 652.0, (300.0, 1000.0), "DOPC 786 + cholesterol 387 g/mol at 4:1 w/w (AS01)",
       "mean molar mass M of the lipid mixture"),
]


@register
class LiposomeMicrofluidic(Process):
    name = "liposome_microfluidic"
    description = ("Liposome (DOPC/cholesterol) formation by ethanol dilution in a microfluidic mixer: "
                   "bilayer-fragment nucleation, growth, fusion and closure into vesicles.")
    operating = ParameterTable((
        Parameter("formation_time", "s", 1.0, (0.005, 20.0), "", "time simulated after the streams meet"),
        Parameter("output_points", "1", 60, (10, 400), "", "number of output times (log-spaced)", integer=True),
    ))

    def __init__(self):
        super().__init__()
        self.grid = make_grid()
        self.pbe = PopulationBalance(self.grid, aggregation_method="fixed_pivot")

    # -- model ------------------------------------------------------------------------------
    def build(self):
        m = ModelBuilder(self.name, version="1.0.0", description=self.description, time_units="s")
        P = {name: m.parameter(name, units, default, bounds=bounds, source=src, description=desc)
             for name, units, default, bounds, src, desc in PARAMETERS}
        frr = m.input("flow_rate_ratio", "1", 3.0, bounds=(0.5, 20.0), description="FRR = Q_aqueous/Q_ethanol")
        tfr = m.input("total_flow_rate", "mL/min", 12.0, bounds=(0.5, 200.0), description="TFR = Q_aq + Q_eth")
        temp_c = m.input("temperature", "degC", 25.0, bounds=(2.0, 70.0), description="mixing temperature")
        c0 = P["lipid_concentration"]          # mg/mL = kg/m^3
        n = self.grid.n
        phi = m.state("ethanol_fraction", "1", initial=1.0, description="ethanol volume fraction in the element")
        c = m.state("lipid_free", "mg/mL", initial=c0, description="dissolved lipid, per volume of ethanol stream")
        w = m.state("lipid_fragments", "mg/mL", initial=0.0, shape=n, description="lipid in open fragments per class")
        z = m.state("lipid_vesicles", "mg/mL", initial=0.0, shape=n, description="lipid in closed vesicles per class")

        T = temp_c + 273.15
        kT = K_B * T
        arr = 1.0 / T - 1.0 / T_REF
        phi_c = ca.fmin(ca.fmax(phi, 0.0), 1.0)
        phi_f = 1.0 / (1.0 + frr)
        mu_w25 = P["viscosity_water"] * 1e-3
        mu_T = ca.exp(P["viscosity_activation_energy"] * 1e3 / R_GAS * arr)
        mu = ca.exp((1 - phi_c) * ca.log(mu_w25) + phi_c * ca.log(P["viscosity_ethanol"] * 1e-3)
                    + P["viscosity_interaction"] * phi_c * (1 - phi_c)) * mu_T      # Pa s
        # mixing
        width, height = P["channel_width"] * 1e-6, P["channel_height"] * 1e-6
        velocity = tfr * 1e-6 / 60.0 / (width * height)
        d_e = P["ethanol_diffusivity"] * (T / T_REF) / mu_T
        peclet = velocity * width / d_e
        t_mix = P["stretching_length"] * 1e-3 * ca.fmax(ca.log(peclet), 1.0) / velocity
        m.ode(phi, -(phi - phi_f) * np.log(10.0) / t_mix)
        # solubility and supersaturation
        c_sat = P["solubility_ethanol"] * ca.exp(-P["cosolvency_slope"] * (1 - phi_c)
                                                 - P["solubility_enthalpy"] * 1e3 / R_GAS * arr)
        c_act = c * phi_c
        S = c_act / c_sat
        # fragments: number per class (basis) from lipid mass
        sigma_m = 2.0 * P["lipid_molar_mass"] * 1e-3 / (N_A * P["area_per_lipid"] * 1e-18)   # kg/m^2
        A = self.grid.pivots
        N = w / (sigma_m * ca.DM(A))
        edges = self.grid.edges
        r_edge = np.sqrt(edges / np.pi)
        d_l = kT / (6 * np.pi * mu * P["monomer_radius"] * 1e-9)
        drive = ca.fmax(c_act - c_sat, 0.0)
        g_scale = P["attachment_efficiency"] * 4.0 * d_l * drive / sigma_m
        top = np.ones(n + 1)
        top[-1] = 0.0                                  # no growth out of the grid: lipid stays on it
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
        edge = P["edge_tension_water"] * 1e-12 * ca.exp(-phi_c / P["edge_tension_ethanol_scale"])
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

        frag_number = ca.sum1(N) * phi_c * 1e-6
        ves_number = ca.sum1(z / mass_per) * phi_c * 1e-6
        m.output("supersaturation", S, "1", "S = dissolved lipid / solubility")
        m.output("solubility", c_sat, "mg/mL", "lipid solubility in the current mixture")
        m.output("final_ethanol_fraction", phi_f, "1", "1/(1 + FRR)")
        m.output("mixing_time", t_mix * 1e3, "ms", "90 % mixing time lam ln(Pe)/U")
        m.output("mean_velocity", velocity, "m/s", "mean velocity in the mixer channel")
        m.output("peclet_number", peclet, "1", "U w / D_e")
        m.output("reynolds_number", 1000.0 * velocity * 2 * width * height / (width + height) / mu, "1",
                 "Re on the hydraulic diameter")
        m.output("viscosity", mu * 1e3, "mPa*s", "mixture viscosity")
        m.output("edge_tension", edge * 1e12, "pN", "bilayer edge tension in the mixture")
        m.output("closure_radius", r_star * 1e9, "nm", "R* = (2 kappa + kappa_bar)/Lambda")
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
        return np.concatenate([[0.0], np.geomspace(min(1e-5, t_end / 100), t_end, k - 1)])

    # -- post-processing ------------------------------------------------------------------------
    @property
    def diameters_nm(self) -> np.ndarray:
        return vesicle_diameter(self.grid.pivots) * 1e9

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
            zavg, pdi = 1.0 / gamma, var / gamma ** 2
        q = _quantiles(z, np.log(vesicle_diameter(self.grid.edges)), (0.1, 0.5, 0.9))
        with np.errstate(invalid="ignore", divide="ignore"):
            span = (q[:, 2] - q[:, 0]) / q[:, 1]
        return {"z_average_nm": zavg * 1e9, "pdi": pdi, "d10_nm": q[:, 0] * 1e9, "d50_nm": q[:, 1] * 1e9,
                "d90_nm": q[:, 2] * 1e9, "span": span}

    def kpis(self, result, operating):
        s = {k: float(v[-1]) for k, v in self.vesicle_stats(result.state("lipid_vesicles")[-1:]).items()}
        out = {k: s[k] for k in ("z_average_nm", "d50_nm", "d10_nm", "d90_nm", "span", "pdi")}
        y = {v.name: float(result.output(v.name)[-1]) for v in result.model.outputs}
        out |= {"vesicle_lipid_fraction": y["vesicle_lipid_fraction"],
                "fragment_lipid_fraction": y["fragment_lipid_fraction"],
                "free_lipid_fraction": y["free_lipid_fraction"],
                "ethanol_fraction_final": float(result.state("ethanol_fraction")[-1]),
                "ethanol_fraction_target": y["final_ethanol_fraction"],
                "mixing_time_ms": y["mixing_time"], "reynolds_number": y["reynolds_number"],
                "closure_radius_nm": y["closure_radius"], "vesicle_count_per_mL": y["vesicle_count"],
                "peak_supersaturation": float(np.max(result.output("supersaturation")))}
        target = out["ethanol_fraction_target"]
        if abs(out["ethanol_fraction_final"] - target) > 0.01 * target or out["fragment_lipid_fraction"] > 0.05:
            result.warnings.append(f"{self.name}: formation incomplete at t = {result.t[-1]:g} s (ethanol "
                                   f"{out['ethanol_fraction_final']:.3f} vs {target:.3f}, "
                                   f"{out['fragment_lipid_fraction']:.1%} of lipid in open fragments); "
                                   "increase formation_time")
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
        labels = [f"t = {t[i] * 1e3:.3g} ms ({closed[i] / closed[-1] * 100 if closed[-1] > 0 else 0:.0f} % of vesicles)"
                  for i in idx]
        return Distribution(diameter=self.diameters_nm, density=dens, labels=labels,
                            kind="lipid-mass density q3(ln d) of vesicles")

    def series(self, result, operating):
        st = self.vesicle_stats(result.state("lipid_vesicles"))
        sparse = result.output("vesicle_lipid_fraction") < 1e-3      # too few vesicles to size
        st = {k: np.where(sparse, np.nan, v) for k, v in st.items()}
        df = pd.DataFrame({"ethanol_fraction": result.state("ethanol_fraction"),
                           "supersaturation": result.output("supersaturation"),
                           "closure_radius": result.output("closure_radius"),
                           "free_lipid_fraction": result.output("free_lipid_fraction"),
                           "vesicle_lipid_fraction": result.output("vesicle_lipid_fraction"),
                           "fragment_count": result.output("fragment_count"),
                           "vesicle_count": result.output("vesicle_count"),
                           "z_average": st["z_average_nm"], "pdi": st["pdi"], "d50": st["d50_nm"]},
                          index=pd.Index(result.t, name="time"))
        df.attrs["units"] = {"time": "s", "ethanol_fraction": "1", "supersaturation": "1", "closure_radius": "nm",
                             "free_lipid_fraction": "1", "vesicle_lipid_fraction": "1",
                             "fragment_count": "1/mL", "vesicle_count": "1/mL", "z_average": "nm",
                             "pdi": "1", "d50": "nm"}
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
