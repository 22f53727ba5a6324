"""Tangential-flow filtration (TFF): ultrafiltration (UF) concentration and diafiltration (DF) exchange.

Batch TFF with a recirculated retentate tank of volume V (L). The recipe is UF1 -> DF -> UF2: UF1
concentrates the feed to V0/CF1, DF adds buffer at the permeate rate (constant volume) for N
diavolumes, UF2 concentrates to the final V0/CF. Each phase ends on its condition (retentate volume
reached, diavolumes exchanged), found exactly by :func:`~bioprocess_twin.core.phased.run_phases`.

Mass balances (retentate tank, permeate tank; every component i, water included; df = 1 in DF)
    dV/dt   = (df - 1) J A                       dVp/dt = J A,   dVb/dt = df J A
    dm_i/dt = df J A c_buf,i - S_i (m_i/V) J A   dP_i/dt = S_i (m_i/V) J A
    dN/dt   = df J A / V                         (diavolumes; N = Vb/V at constant volume)
S_i is the observed sieving coefficient c_permeate/c_retentate (van Reis & Zydney 2007, J. Membr.
Sci. 297:16; Cheryan 1998, Ultrafiltration and Microfiltration Handbook). Water is the solvent
(S = 1). Consequences used in the tests: S = 0 and UF gives C = C0 V0/V exactly; DF at constant
volume washes a solute as C = C0 exp(-S N).

Flux J (L/m^2/h, LMH), chosen by ``config.flux_model``, with the membrane permeability
Lp = 1/(mu R_m) (Darcy, resistance in series; Zeman & Zydney 1996, Microfiltration and
Ultrafiltration, ch. 6). C_b is the bulk concentration of the polarising (retained) component.
  gel      J = min( Lp TMP, k ln(C_g/C_b) )
           Film theory with a gel-layer wall concentration C_g (Michaels 1968; Blatt et al. 1970):
           pressure-limited at low C_b, pressure-independent (a plateau in TMP) near the gel limit.
  osmotic  J = Lp (TMP - pi(C_w)),  C_w = C_b exp(J/k)       (Wijmans, Nakao & Smolders 1984,
           J. Membr. Sci. 20:115; Kedem-Katchalsky with a fully retained solute)
           pi(C) = (R T/M) C (1 + b2 C + b3 C^2)              (virial; Vilker, Colton & Smith 1981,
           J. Colloid Interface Sci. 79:548, BSA-like coefficients)
           Solved as a DAE: the algebraic state is u = ln C_w with the residual
           k (u - ln C_b) - Lp (TMP - pi(e^u)) = 0, which is increasing and convex in u, so the
           Newton iterations of the consistent-initialisation and of IDAS converge from any guess
           on the right of the root. The flux rises ever more slowly with TMP (the osmotic limit).

Components a feed or buffer carries but the config does not name pass with a default sieving
coefficient: 0 for the retained roles (``config.retained``: antigen, hcp, dna) and 1 for every other
(small) solute. Outlets: retentate, permeate and the buffer not used (buffer_remaining).
"""
from __future__ import annotations

import functools
import math
from typing import Any, Literal, Mapping, Sequence

import casadi as ca
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy.optimize import brentq

from ..core import ModelBuilder, SolverOptions
from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.phased import Transition, UnitPhase, run_phases
from ..core.registry import register_unit
from ..core.streams import Stream, UnitOperation, UnitResult

R_GAS = 8.314462618          # J/mol/K
LMH_PER_M_PER_S = 3.6e6      # 1 m/s = 3.6e6 L/m^2/h
PA_PER_BAR = 1e5
TINY = 1e-12                 # g/L, keeps ln C_b finite when the polarising component is absent


class TFFConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flux_model: Literal["gel", "osmotic"] = Field("gel", description="gel-polarisation or osmotic-pressure flux")
    polarising_component: str = Field("antigen", description="retained component whose bulk concentration "
                                      "sets concentration polarisation")
    retained: list[str] = Field(["antigen", "hcp", "dna"], description="components retained by default (S = 0)")
    sieving: dict[str, float] = Field(default_factory=dict, description="sieving coefficient per component "
                                      "(0 retained .. 1 free); overrides the default by role")
    solvent: str = Field("water", description="the solvent (always S = 1)")

    @field_validator("sieving")
    @classmethod
    def _sieving_range(cls, value: dict[str, float]):
        bad = {k: s for k, s in value.items() if not (math.isfinite(s) and 0.0 <= s <= 1.0)}
        if bad:
            raise ValueError(f"sieving coefficients must lie in [0, 1]: {bad}")
        return value

    def sieving_of(self, component: str) -> float:
        if component == self.solvent:
            return 1.0
        if component in self.sieving:
            return float(self.sieving[component])
        return 0.0 if component in self.retained else 1.0


PARAMETERS = ParameterTable((
    Parameter("membrane_area", "m^2", 1.0, (1e-3, 500.0), "Pellicon-type cassettes 0.1-10 m^2 per module",
              "membrane area A"),
    Parameter("tmp", "bar", 1.0, (0.01, 10.0), "UF of proteins 0.5-2 bar (van Reis & Zydney 2007)",
              "transmembrane pressure TMP"),
    Parameter("membrane_resistance", "1/m", 3.0e12, (1e10, 1e15),
              "30 kDa PES: water permeability ~100-150 LMH/bar (Zeman & Zydney 1996)", "clean-membrane resistance R_m"),
    Parameter("viscosity", "mPa*s", 1.0, (0.3, 20.0), "water at 20 C", "permeate viscosity mu"),
    Parameter("mass_transfer_coefficient", "L/m^2/h", 30.0, (0.5, 500.0),
              "screened cassettes 10-60 LMH (van Reis & Zydney 2007; Cheryan 1998)", "film coefficient k"),
    Parameter("gel_concentration", "g/L", 250.0, (1.0, 1500.0),
              "proteins 200-400 g/L (Blatt et al. 1970; Cheryan 1998)", "gel (limiting wall) concentration C_g"),
    Parameter("molar_mass", "kg/mol", 66.0, (1.0, 5000.0), "BSA 66 kDa; vaccine antigens 20-500 kDa",
              "molar mass M of the polarising component (osmotic model)"),
    Parameter("virial_b2", "L/g", 5e-3, (0.0, 1.0), "order of magnitude of BSA data (Vilker et al. 1981)",
              "b2 in pi = R T C/M (1 + b2 C + b3 C^2)"),
    Parameter("virial_b3", "L^2/g^2", 8e-5, (0.0, 0.1), "order of magnitude of BSA data (Vilker et al. 1981)",
              "b3 in pi = R T C/M (1 + b2 C + b3 C^2)"),
    Parameter("concentration_factor_df", "1", 5.0, (1.0, 200.0), "UF1 target, typical 2-10x",
              "V0/V at the end of UF1 (DF runs at this volume)"),
    Parameter("diavolumes", "1", 7.0, (0.0, 30.0), "5-10 DV for > 99 % exchange (van Reis & Zydney 2007)",
              "buffer volumes per retentate volume exchanged in DF; 0 skips DF"),
    Parameter("concentration_factor", "1", 10.0, (1.0, 500.0), "overall V0/V_final",
              "V0/V at the end of UF2 (>= concentration_factor_df)"),
    Parameter("max_phase_duration", "h", 24.0, (0.01, 500.0), "", "a phase not reaching its target ends here"),
    Parameter("points", "1", 40, (4, 2000), "", "output intervals per phase", integer=True),
))

#: solver settings of the unit: tight, the balance tests check conservation to this tolerance
OPTIONS = SolverOptions(rtol=1e-9, atol=1e-10)


def osmotic_pressure(c, coef_bar, b2, b3):
    """pi(C) in bar for C in g/L; ``coef_bar`` = R T/M in bar L/g."""
    return coef_bar * c * (1.0 + b2 * c + b3 * c * c)


@functools.lru_cache(maxsize=16)
def build_model(flux_model: str, components: tuple[str, ...]):
    """The TFF model for this component list (cached: CasADi integrators are built once per model)."""
    m = ModelBuilder(f"tff_{flux_model}_{len(components)}", "1.0", "batch UF/DF with recirculated retentate",
                     time_units="h")
    area = m.parameter("membrane_area", "m^2", 1.0, (0, np.inf))
    lp = m.parameter("permeability", "L/m^2/h/bar", 120.0, (0, np.inf), description="Lp = 1/(mu R_m)")
    tmp = m.parameter("tmp", "bar", 1.0, (0, np.inf))
    k = m.parameter("mass_transfer_coefficient", "L/m^2/h", 30.0, (0, np.inf))
    c_gel = m.parameter("gel_concentration", "g/L", 250.0, (0, np.inf))
    coef = m.parameter("osmotic_coefficient", "bar*L/g", 0.0, (0, np.inf), description="R T/M")
    b2 = m.parameter("virial_b2", "L/g", 0.0, (0, np.inf))
    b3 = m.parameter("virial_b3", "L^2/g^2", 0.0, (0, np.inf))
    log_wall_guess = m.parameter("log_wall_guess", "1", 0.0, description="initial guess of ln C_w")
    polar = m.parameter("polarising_index", "1", 0, (0, len(components) - 1), integer=True)
    sieving = [m.parameter(f"sieving_{c}", "1", 1.0, (0, 1)) for c in components]
    c_buffer = [m.parameter(f"buffer_{c}", "g/L", 0.0, (0, np.inf)) for c in components]
    df = m.input("df", "1", 0.0, (0, 1), "1 in diafiltration (buffer added at the permeate rate)")
    V = m.state("V", "L", 1.0, description="retentate volume")
    mass = m.state("mass", "g", 0.0, shape=len(components), description="retentate masses")
    perm = m.state("permeate", "g", 0.0, shape=len(components), description="permeate masses")
    Vp = m.state("permeate_volume", "L", 0.0)
    Vb = m.state("buffer_used", "L", 0.0)
    N = m.state("diavolumes", "1", 0.0)
    conc = mass / V
    c_b = sum(ca.if_else(polar == i, conc[i], 0.0) for i in range(len(components)))
    c_b = ca.fmax(c_b, TINY)
    if flux_model == "gel":
        J = ca.fmax(ca.fmin(lp * tmp, k * ca.log(c_gel / c_b)), 0.0)
        c_wall = c_b * ca.exp(J / k)
    else:
        u = m.algebraic("log_wall_concentration", "1", log_wall_guess)
        c_wall = ca.exp(u)
        J = lp * (tmp - osmotic_pressure(c_wall, coef, b2, b3))
        m.alg((k * (u - ca.log(c_b)) - J) / k)
    flow = J * area
    s = ca.vertcat(*sieving)
    m.ode(V, (df - 1.0) * flow)
    m.ode(mass, df * flow * ca.vertcat(*c_buffer) - s * conc * flow)
    m.ode(perm, s * conc * flow)
    m.ode(Vp, flow)
    m.ode(Vb, df * flow)
    m.ode(N, df * flow / V)
    m.output("flux", J, "L/m^2/h")
    m.output("wall_concentration", c_wall, "g/L")
    m.output("product_concentration", c_b, "g/L")
    m.output("osmotic_pressure", osmotic_pressure(c_wall, coef, b2, b3), "bar")
    return m.build()


@register_unit
class TangentialFlowFiltration(UnitOperation):
    """Batch UF/DF on a recirculated retentate tank; see the module docstring for the equations."""

    kind = "tff"
    description = "Tangential-flow filtration: UF1 -> DF -> UF2 with gel or osmotic flux model and sieving"
    parameters = PARAMETERS
    inlets = ("feed", "buffer")
    optional_inlets = ("buffer",)
    outlets = ("retentate", "permeate", "buffer_remaining")
    Config = TFFConfig

    def __init__(self, name: str, parameters: Mapping[str, Any] | None = None,
                 config: Mapping[str, Any] | None = None):
        super().__init__(name, parameters, config)
        v = self.values
        if v["concentration_factor"] < v["concentration_factor_df"]:
            raise ParameterError([(f"{name}.concentration_factor",
                                   f"{v['concentration_factor']:g} is below concentration_factor_df "
                                   f"{v['concentration_factor_df']:g}")])

    @property
    def permeability(self) -> float:
        """Lp = 1/(mu R_m) in L/m^2/h/bar."""
        v = self.values
        return PA_PER_BAR / (v["viscosity"] * 1e-3 * v["membrane_resistance"]) * LMH_PER_M_PER_S

    def default_phases(self, feed: Stream) -> list[UnitPhase]:
        """UF1 to V0/CF_df, DF for N diavolumes, UF2 to V0/CF (phases of zero length are left out).

        Each phase's longest duration is 1.5 x the time at the lowest flux it will see (the flux at
        its end concentration, taking the product as fully retained), capped by max_phase_duration,
        so its output points spread over the phase."""
        v = self.values
        V0 = feed.volume * 1e3
        c0 = feed.concentration(self.config.polarising_component)
        coef = self.osmotic_coefficient(feed.temperature)
        longest, pts = v["max_phase_duration"], int(v["points"])

        def duration(permeate_L: float, volume_end_L: float) -> float:
            flux = self.flux(c0 * V0 / volume_end_L, coef)
            return min(longest, 1.5 * permeate_L / (flux * v["membrane_area"])) if flux > 0 else longest

        V_df, V_end = V0 / v["concentration_factor_df"], V0 / v["concentration_factor"]
        phases = [UnitPhase(name="UF1", duration=duration(V0 - V_df, V_df), inputs={"df": 0.0}, points=pts,
                            until=Transition(variable="V", op="<=", value=V_df))]
        if v["diavolumes"] > 0:
            phases.append(UnitPhase(name="DF", duration=duration(v["diavolumes"] * V_df, V_df), inputs={"df": 1.0},
                                    points=pts, until=Transition(variable="diavolumes", op=">=", value=v["diavolumes"])))
        if v["concentration_factor"] > v["concentration_factor_df"]:
            phases.append(UnitPhase(name="UF2", duration=duration(V_df - V_end, V_end), inputs={"df": 0.0}, points=pts,
                                    until=Transition(variable="V", op="<=", value=V_end)))
        return phases

    def osmotic_coefficient(self, temperature: float) -> float:
        """R T/M in bar per g/L."""
        return R_GAS * temperature / self.values["molar_mass"] / PA_PER_BAR   # J/kg = Pa per (kg/m^3 = g/L)

    def flux(self, c_bulk: float, coef: float) -> float:
        """Steady flux (L/m^2/h) at bulk concentration ``c_bulk`` (g/L) of the polarising component."""
        v = self.values
        c_bulk = max(c_bulk, TINY)
        if self.config.flux_model == "gel":
            return max(min(self.permeability * v["tmp"],
                           v["mass_transfer_coefficient"] * math.log(v["gel_concentration"] / c_bulk)), 0.0)
        c_wall = self.wall_concentration(c_bulk, coef)
        return self.permeability * (v["tmp"] - osmotic_pressure(c_wall, coef, v["virial_b2"], v["virial_b3"]))

    def model_parameters(self, feed: Stream, buffer: Stream | None, components: Sequence[str]) -> dict[str, float]:
        v, cfg = self.values, self.config
        coef = self.osmotic_coefficient(feed.temperature)
        polar = components.index(cfg.polarising_component)
        p = {"membrane_area": v["membrane_area"], "permeability": self.permeability, "tmp": v["tmp"],
             "mass_transfer_coefficient": v["mass_transfer_coefficient"], "gel_concentration": v["gel_concentration"],
             "osmotic_coefficient": coef, "virial_b2": v["virial_b2"], "virial_b3": v["virial_b3"],
             "polarising_index": polar}
        c_b = max(feed.concentration(cfg.polarising_component), TINY)
        p["log_wall_guess"] = math.log(self.wall_concentration(c_b, coef)) if cfg.flux_model == "osmotic" else 0.0
        for c in components:
            p[f"sieving_{c}"] = cfg.sieving_of(c)
            p[f"buffer_{c}"] = buffer.concentration(c) if buffer is not None else 0.0
        return p

    def wall_concentration(self, c_bulk: float, coef: float) -> float:
        """C_w of the osmotic model at bulk concentration ``c_bulk`` (g/L), by Brent's method on ln C_w."""
        v = self.values
        k, lp = v["mass_transfer_coefficient"], self.permeability

        def residual(u):
            return k * (u - math.log(c_bulk)) - lp * (v["tmp"] - osmotic_pressure(math.exp(u), coef, v["virial_b2"],
                                                                                   v["virial_b3"]))
        lo = math.log(c_bulk)
        hi = lo + lp * v["tmp"] / k + 1.0
        return math.exp(brentq(residual, lo - 1.0, hi, xtol=1e-14))

    def run(self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None) -> UnitResult:
        self.check_inlets(inlets)
        feed, buffer = inlets["feed"], inlets.get("buffer")
        cfg, v = self.config, self.values
        if feed.volume <= 0:
            raise ParameterError([(f"{self.name}.feed.volume", "the feed carries no liquid")])
        if buffer is not None and buffer.volume <= 0 and buffer.total_mass > 0:
            raise ParameterError([(f"{self.name}.buffer.volume", "a buffer with solutes needs a volume")])
        V0 = feed.volume * 1e3
        plan = [UnitPhase.model_validate(p) if isinstance(p, Mapping) else p for p in phases] if phases \
            else self.default_phases(feed)
        uses_df = any(p.inputs.get("df", 0.0) > 0 for p in plan)
        if uses_df and (buffer is None or buffer.volume <= 0):
            raise ParameterError([(f"{self.name}.buffer", "diafiltration needs a buffer inlet with liquid")])
        if phases is None and uses_df:
            need = v["diavolumes"] * V0 / v["concentration_factor_df"]
            if buffer.volume * 1e3 < need * (1 - 1e-9):
                raise ParameterError([(f"{self.name}.buffer.volume",
                                       f"{buffer.volume * 1e3:.4g} L is less than the {need:.4g} L DF needs")])
        components = sorted(set(feed.mass) | set(buffer.mass if buffer is not None else ())
                            | {cfg.solvent, cfg.polarising_component})
        model = build_model(cfg.flux_model, tuple(components))
        params = self.model_parameters(feed, buffer, components)
        initial = {"V": V0, "mass": [feed.mass.get(c, 0.0) * 1e3 for c in components]}
        out = run_phases(model, plan, parameters=params, initial=initial, options=OPTIONS)
        return self._result(out, inlets, components, plan)

    def _result(self, out, inlets, components, plan) -> UnitResult:
        feed, buffer = inlets["feed"], inlets.get("buffer")
        res = out.result
        final = out.final_state()
        warnings = [f"phase {r.name} ended at its longest duration without reaching its target"
                    for r, p in zip(out.phases, plan) if p.until is not None and r.ended_by == "duration"]
        status, message = ("ok", "") if out.ok else ("failed", res.message)
        used_L = final["buffer_used"]
        buffer_L = buffer.volume * 1e3 if buffer is not None else 0.0
        if used_L > buffer_L * (1 + 1e-9) + 1e-12:
            status, message = "failed", f"DF used {used_L:.4g} L of buffer; the buffer inlet holds {buffer_L:.4g} L"
        T = feed.temperature
        retentate = Stream("retentate", final["V"] / 1e3, dict(zip(components, final["mass"] / 1e3)), T)
        permeate = Stream("permeate", final["permeate_volume"] / 1e3, dict(zip(components, final["permeate"] / 1e3)), T)
        share = min(used_L / buffer_L, 1.0) if buffer_L > 0 else 0.0
        remaining = buffer.scaled(1.0 - share, "buffer_remaining") if buffer is not None \
            else Stream("buffer_remaining", 0.0, {}, T)
        duration = out.end - out.phases[0].start
        product = self.config.polarising_component
        fed = feed.mass.get(product, 0.0)
        V0 = feed.volume * 1e3
        kpis = {"process_time_h": duration, "concentration_factor": V0 / final["V"],
                "product_yield": retentate.mass.get(product, 0.0) / fed if fed > 0 else float("nan"),
                "product_concentration_g_per_L": retentate.concentration(product),
                "diavolumes": final["diavolumes"], "permeate_volume_L": final["permeate_volume"],
                "buffer_used_L": used_L,
                "average_flux_LMH": final["permeate_volume"] / (self.values["membrane_area"] * duration)
                if duration > 0 else float("nan")}
        for r in out.phases:
            kpis[f"{r.name}_time_h"] = r.end - r.start
        frame = pd.DataFrame(index=pd.Index(res.t - out.phases[0].start, name="time_h"))
        frame["phase"] = res.phases
        frame["retentate_volume"] = res.state("V")
        for name in ("flux", "wall_concentration", "product_concentration", "osmotic_pressure"):
            frame[name] = res.output(name)
        frame["diavolumes"] = res.state("diavolumes")
        frame["permeate_volume"] = res.state("permeate_volume")
        masses = res.state("mass")
        for i, c in enumerate(components):
            frame[f"c_{c}"] = masses[:, i] / frame["retentate_volume"].to_numpy()
        frame.attrs["units"] = {"retentate_volume": "L", "flux": "L/m^2/h", "wall_concentration": "g/L",
                                "product_concentration": "g/L", "osmotic_pressure": "bar", "diavolumes": "1",
                                "permeate_volume": "L"} | {f"c_{c}": "g/L" for c in components}
        return UnitResult(self.name, self.kind, status, message,
                          {"retentate": retentate, "permeate": permeate, "buffer_remaining": remaining},
                          generated={}, duration=duration, phases=out.phases, kpis=kpis, series=frame,
                          warnings=warnings)
