"""Formulation and mixing tank: blends antigen, adjuvant and buffer to a target, or makes a coarse
oil-in-water pre-emulsion with a rotor-stator head ("premix" mode) as the homogenizer's feed.

Blend (volumes additive, every component conserved; ``Stream.mix``)
    V_blend = sum V_k,   m_i = sum m_i,k,   c_i = m_i / V_blend,   T = sum V_k T_k / V_blend
Dilution to a target concentration c* of one component (q.s. with the diluent inlet, whose
concentration of that component is c_d; only the volume needed is drawn, the rest is returned)
    V_d = (m_t - c* V_0) / (c* - c_d),   0 <= V_d <= V_diluent            (V_0, m_t: other inlets)
Mixing time, turbulent (Grenville 1992; Nienow 1997, Chem Eng Sci 52:2557; Nienow 2006 for H/T)
via ``correlations.agitation``: tank diameter T and impeller D from the working volume, H from the fill
    theta_95 = 5.20 / (N Np^(1/3)) (T/D)^2 max(H/T, 1)^2.5,   Re = rho N D^2 / mu  (valid for Re > 1e4)
    P = n Np rho N^3 D^5                          (Rushton et al. 1950)
Batch time
    t = t_fill + t_mix + t_hold,   t_fill = V_blend / Q_transfer,   t_mix = n_theta theta_95
Premix (rotor-stator; Hinze 1955, AIChE J 1:289; d32/D ~ We^-0.6 for rotor-stators: Calabrese,
Francis, Mishra & Phongikaroon 2000, in Mixing: Proc. 10th Eur. Conf.; with the dispersed-phase
correction (1 + b phi) of Doulah 1975, Ind Eng Chem Fundam 14:137)
    We = rho_c N^2 D^3 / sigma,   d32 = C (1 + b phi) D We^(-0.6),   phi = V_oil / V_blend
    volume-weighted log-normal of width s:  d50,v = d32 exp(s^2 / 2)
C = 0.035 is tuned (stirred tanks: 0.053, Calabrese, Chang & Dang 1986, AIChE J 32:657) so that a
10 cm head at 3600 rpm (19 m/s tip) gives a 1-3 um pre-emulsion, as the emulsion model assumes.
Losses: the hold-up (tank heel, transfer line) leaves as "hold_up_loss" with the blend's composition.

Units: the equations are written in SI (pint converts the declared L, rpm, mPa s,
mN/m, L/min, min and h on entry): volumes in m^3, N in 1/s, lengths in m, sigma in N/m, mu in Pa s,
times in s. Phase durations are given in h and droplet sizes in nm (the units of phase records and
of ``ParticleSize``); the KPIs are read in the units their names carry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.phased import schedule_phases
from ..core.streams import ParticleSize, Stream, UnitOperation, UnitResult
from ..core.units import from_si
from ..correlations import agitation
from ..pbe import Grid

#: size grid of premix distributions: the emulsion model's default grid (20 nm - 20 um, 100 classes),
#: so the streams blend; in nm, the units of ParticleSize
PREMIX_GRID_NM = from_si(Grid.from_diameters(20e-9, 20e-6, 100).diameters, "nm")
#: relative allowance for round-off when a blend volume is compared with the tank's working capacity
VOLUME_RTOL = 1e-9
#: relative allowance for round-off when the diluent needed is compared with the diluent given
DRAW_RTOL = 1e-12
#: turbulent regime of the mixing-time correlation: impeller Reynolds number above 1e4
TURBULENT_REYNOLDS = 1e4


def lognormal_volume_psd(d50_nm: float, width: float, grid_nm: np.ndarray = PREMIX_GRID_NM) -> ParticleSize:
    """Volume-weighted log-normal distribution (median ``d50_nm``, sigma_ln ``width``) on ``grid_nm``."""
    z = (np.log(grid_nm) - math.log(d50_nm)) / width
    return ParticleSize(grid_nm, np.exp(-0.5 * z * z))


def premix_d32(rotor_diameter, rotor_speed, sigma, oil_fraction, rho_c=1000.0, constant=0.035, phi_coefficient=3.0):
    """Sauter diameter (m) of a rotor-stator pre-emulsion: C (1 + b phi) D We^-0.6, We = rho N^2 D^3 / sigma.

    rotor_diameter D in m, rotor_speed N in 1/s, sigma in N/m, rho_c in kg/m^3.
    """
    weber = rho_c * rotor_speed**2 * rotor_diameter**3 / sigma
    return constant * (1 + phi_coefficient * oil_fraction) * rotor_diameter * weber**-0.6


class MixingTankConfig(BaseModel):
    """Non-numeric settings of the mixing tank."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["blend", "premix"] = Field(
        "blend",
        description="blend: mix inlets; premix: also make a "
        "coarse O/W pre-emulsion of the oil component with a rotor-stator",
    )
    inlets: list[str] | None = Field(
        None, description="inlet names; default antigen, adjuvant, buffer (blend) or oil, aqueous (premix)"
    )
    optional_inlets: list[str] | None = Field(
        None, description="inlets a batch may run without; default buffer (blend), none (premix)"
    )
    diluent: str | None = Field("buffer", description="inlet drawn only as needed to reach the target")
    target_component: str = Field("antigen", description="component whose concentration the target sets")
    impeller: str = Field("pitched_blade", description=f"one of {', '.join(agitation.IMPELLERS)}")
    oil_component: str = Field("squalene", description="dispersed component in premix mode")

    @model_validator(mode="after")
    def _defaults_by_mode(self):
        if self.inlets is None:
            self.inlets = ["antigen", "adjuvant", "buffer"] if self.mode == "blend" else ["oil", "aqueous"]
        if self.optional_inlets is None:
            self.optional_inlets = [n for n in ("buffer",) if n in self.inlets]
        if not self.inlets or len(set(self.inlets)) != len(self.inlets):
            raise ValueError("inlets must be a non-empty list of distinct names")
        stray = [n for n in self.optional_inlets if n not in self.inlets]
        if stray:
            raise ValueError(f"optional inlets {stray} are not among the inlets {self.inlets}")
        return self

    @field_validator("impeller")
    @classmethod
    def _known_impeller(cls, name: str) -> str:
        if name not in agitation.IMPELLERS:
            raise ValueError(f"unknown impeller '{name}'; known: {', '.join(agitation.IMPELLERS)}")
        return name


class MixingTank(UnitOperation):
    kind = "mixing_tank"
    #: units of each KPI (pint; "" for a pure number)
    kpi_units = {
        "premix_d32_nm": "nm",
        "premix_d50_nm": "nm",
        "premix_oil_fraction": "",
        "rotor_tip_speed_m_per_s": "m/s",
        "rotor_weber": "",
        "mixing_time_s": "s",
        "reynolds": "",
        "tip_speed_m_per_s": "m/s",
        "power_per_volume_W_per_m3": "W/m^3",
        "tank_diameter_m": "m",
        "impeller_diameter_m": "m",
        "liquid_height_m": "m",
        "blend_volume_L": "L",
        "diluent_used_L": "L",
        "fill_time_h": "h",
        "mix_time_h": "h",
        "batch_time_h": "h",
        "temperature_C": "degC",
        "c_*_g_per_L": "g/L",
    }
    description = (
        "Formulation tank: blends inlets (to a target concentration with the diluent), turbulent "
        "mixing time from the agitation correlations, fill + mix + hold; optional rotor-stator premix."
    )
    inlets = ("antigen", "adjuvant", "buffer")
    optional_inlets = ("buffer",)
    outlets = ("blend", "hold_up_loss", "unused_diluent")
    Config = MixingTankConfig
    parameters = ParameterTable(
        (
            Parameter(
                name="tank_volume",
                units="L",
                default=200.0,
                bounds=(0.5, 20000),
                source="single-use mixers 50-2000 L",
                description="working capacity; fixes T and D (H/T = aspect_ratio when full)",
            ),
            Parameter(
                name="aspect_ratio",
                units="1",
                default=1.0,
                bounds=(0.5, 3.0),
                source="formulation tanks H/T ~ 1",
                description="H/T at the working capacity",
            ),
            Parameter(
                name="d_over_t",
                units="1",
                default=0.33,
                bounds=(0.15, 0.7),
                source="standard geometry D/T = 1/3",
                description="impeller to tank diameter",
            ),
            Parameter(
                name="n_impellers",
                units="1",
                default=1,
                bounds=(1, 6),
                source="",
                description="impellers on the shaft",
                integer=True,
            ),
            Parameter(
                name="agitation",
                units="rpm",
                default=100.0,
                bounds=(1, 3000),
                source="formulation tanks 50-200 rpm",
                description="impeller speed N",
            ),
            Parameter(
                name="viscosity",
                units="mPa*s",
                default=1.0,
                bounds=(0.3, 100),
                source="aqueous buffer / dilute emulsion",
                description="blend viscosity",
            ),
            Parameter(
                name="mixing_times",
                units="1",
                default=4.0,
                bounds=(1, 10),
                source="3-5 theta_95 (Paul et al. 2004, Handbook of Ind. Mixing)",
                description="length of the mix phase in units of theta_95",
            ),
            Parameter(
                name="transfer_rate",
                units="L/min",
                default=10.0,
                bounds=(0.01, 1000),
                source="peristaltic / diaphragm transfer pumps",
                description="rate at which the inlets are charged",
            ),
            Parameter(
                name="hold_time",
                units="h",
                default=0.5,
                bounds=(0, 168),
                source="sampling and release before transfer",
                description="hold after mixing",
            ),
            Parameter(
                name="hold_up_volume",
                units="L",
                default=0.5,
                bounds=(0, 1000),
                source="tank heel + transfer line, estimate",
                description="blend lost in the tank and lines",
            ),
            Parameter(
                name="target_concentration",
                units="g/L",
                default=0.0,
                bounds=(0, 1e4),
                source="formulation target (dose / dose volume)",
                description="concentration of target_component after q.s. with the diluent; 0: blend all inlets as given",
            ),
            Parameter(
                name="rotor_diameter",
                units="cm",
                default=10.0,
                bounds=(1, 50),
                source="in-tank rotor-stator heads 3-20 cm",
                description="premix rotor diameter",
            ),
            Parameter(
                name="rotor_speed",
                units="rpm",
                default=3600.0,
                bounds=(300, 30000),
                source="tip speed 10-40 m/s",
                description="premix rotor speed",
            ),
            Parameter(
                name="interfacial_tension",
                units="mN/m",
                default=10.0,
                bounds=(0.5, 50),
                source="estimate: dynamic tension of squalene/water with Tween 80 while drops form",
                description="interfacial tension during premixing",
            ),
            Parameter(
                name="premix_constant",
                units="1",
                default=0.035,
                bounds=(0.005, 0.5),
                source="tuned; 0.053 in stirred tanks (Calabrese et al. 1986)",
                description="C in d32/D = C (1 + b phi) We^-0.6",
            ),
            Parameter(
                name="phi_coefficient",
                units="1",
                default=3.0,
                bounds=(0, 10),
                source="Doulah 1975",
                description="b in (1 + b phi)",
            ),
            Parameter(
                name="premix_width",
                units="1",
                default=0.5,
                bounds=(0.1, 1.2),
                source="rotor-stator pre-emulsions",
                description="log-normal sigma_ln (volume)",
            ),
            Parameter(
                name="premix_time",
                units="min",
                default=15.0,
                bounds=(0.1, 600),
                source="rotor-stator premix 10-30 min",
                description="premix phase length",
            ),
            Parameter(
                name="oil_density",
                units="kg/m^3",
                default=858.0,
                bounds=(700, 1100),
                source="squalene, CRC Handbook",
                description="oil density (premix phi)",
            ),
        )
    )

    def __init__(self, name: str, parameters: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None):
        super().__init__(name, parameters, config)
        self.inlets = tuple(self.config.inlets)
        self.optional_inlets = tuple(self.config.optional_inlets)
        if self.values["target_concentration"] > 0 and self.config.diluent not in self.inlets:
            raise ParameterError(
                [
                    (
                        f"{name}.config.diluent",
                        f"a target concentration needs a diluent inlet; "
                        f"'{self.config.diluent}' is not among {', '.join(self.inlets)}",
                    )
                ]
            )

    # -- blending ------------------------------------------------------------------------------
    def _draw_diluent(self, inlets: Mapping[str, Stream]) -> tuple[list[Stream], Stream]:
        """Streams that go into the blend and the diluent left unused."""
        diluent = self.config.diluent
        target = self.values["target_concentration"]
        others = [s for k, s in inlets.items() if k != diluent]
        dil = inlets.get(diluent)
        if target <= 0 or dil is None:
            return list(inlets.values()), Stream("unused_diluent", 0.0, {})
        comp = self.config.target_component
        m_t = sum(s.mass.get(comp, 0.0) for s in others)
        v_0 = sum(s.volume for s in others)
        c_d = dil.concentration(comp)
        need = (m_t - target * v_0) / (target - c_d) if target != c_d else math.inf
        if not 0.0 <= need <= dil.volume * (1 + DRAW_RTOL):
            reach = (m_t + c_d * dil.volume) / (v_0 + dil.volume)
            raise ParameterError(
                [
                    (
                        f"{self.name}.target_concentration",
                        f"{from_si(target, 'g/L'):g} g/L of {comp} is not reachable: the inlets give "
                        f"{from_si(m_t / v_0 if v_0 else 0, 'g/L'):g} g/L without and "
                        f"{from_si(reach, 'g/L'):g} g/L with all {from_si(dil.volume, 'L'):g} L of {diluent}",
                    )
                ]
            )
        share = min(need / dil.volume, 1.0) if dil.volume > 0 else 0.0
        return others + [dil.scaled(share)], dil.scaled(1.0 - share, "unused_diluent")

    def _premix(self, blend: Stream) -> tuple[Stream, dict[str, float]]:
        v = self.values
        oil = self.config.oil_component
        oil_volume = blend.mass.get(oil, 0.0) / v["oil_density"]
        if oil_volume <= 0 or blend.volume <= 0:
            raise ParameterError([(f"{self.name}.inlets", f"premix mode needs {oil} in the inlets")])
        phi = oil_volume / blend.volume
        D, N = v["rotor_diameter"], v["rotor_speed"]
        sigma = v["interfacial_tension"]
        d32 = premix_d32(D, N, sigma, phi, blend.total_mass / blend.volume, v["premix_constant"], v["phi_coefficient"])
        d50_nm = from_si(d32 * math.exp(0.5 * v["premix_width"] ** 2), "nm")
        if not PREMIX_GRID_NM[0] < d50_nm < PREMIX_GRID_NM[-1]:
            raise ParameterError(
                [
                    (
                        f"{self.name}.rotor_speed",
                        f"premix d50 {d50_nm:.3g} nm is off the size grid "
                        f"{PREMIX_GRID_NM[0]:.3g}-{PREMIX_GRID_NM[-1]:.3g} nm",
                    )
                ]
            )
        psd = lognormal_volume_psd(d50_nm, v["premix_width"])
        stream = Stream(blend.name, blend.volume, blend.mass, blend.temperature, psd, oil)
        kpis = {
            "premix_d32_nm": from_si(d32, "nm"),
            "premix_d50_nm": psd.percentile(0.5),
            "premix_oil_fraction": phi,
            "rotor_tip_speed_m_per_s": math.pi * N * D,
            "rotor_weber": blend.total_mass / blend.volume * N**2 * D**3 / sigma,
        }
        return stream, kpis

    # -- agitation -------------------------------------------------------------------------------
    def mixing(self, blend_volume: float, density: float) -> dict[str, float]:
        """Mixing time and agitation numbers for ``blend_volume`` (m^3) in this tank."""
        v = self.values
        vessel = agitation.Vessel.from_volume(
            v["tank_volume"], v["aspect_ratio"], v["d_over_t"], self.config.impeller, int(v["n_impellers"])
        )
        T, D, Np = vessel.tank_diameter, vessel.impeller_diameter, vessel.power_number
        H = 4 * blend_volume / (math.pi * T**2)
        N = v["agitation"]
        power = agitation.ungassed_power(Np, density, N, D, vessel.n_impellers)
        # (H/T)^2.5 describes tall vessels (Nienow 2006); below H = T the H = T value is kept (conservative)
        return {
            "mixing_time_s": agitation.mixing_time(N, D, T, max(H, T), Np),
            "reynolds": agitation.reynolds(N, D, density, v["viscosity"]),
            "tip_speed_m_per_s": agitation.tip_speed(N, D),
            "power_per_volume_W_per_m3": power / blend_volume,
            "tank_diameter_m": T,
            "impeller_diameter_m": D,
            "liquid_height_m": H,
        }

    def run(self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None) -> UnitResult:
        self.check_inlets(inlets)
        v = self.values
        parts, unused = self._draw_diluent(inlets)
        blend = Stream.mix("blend", parts)
        if blend.volume <= 0:
            raise ParameterError([(f"{self.name}.inlets", "the inlets carry no liquid")])
        if blend.volume > v["tank_volume"] * (1 + VOLUME_RTOL):
            raise ParameterError(
                [
                    (
                        f"{self.name}.tank_volume",
                        f"the blend ({from_si(blend.volume, 'L'):.4g} L) "
                        f"exceeds the working capacity {from_si(v['tank_volume'], 'L'):.4g} L",
                    )
                ]
            )
        if v["hold_up_volume"] >= blend.volume:
            raise ParameterError(
                [
                    (
                        f"{self.name}.hold_up_volume",
                        f"{from_si(v['hold_up_volume'], 'L'):g} L is not "
                        f"less than the blend volume {from_si(blend.volume, 'L'):.4g} L",
                    )
                ]
            )
        kpis: dict[str, float] = {}
        if self.config.mode == "premix":
            blend, kpis = self._premix(blend)
        mix = self.mixing(blend.volume, blend.total_mass / blend.volume)
        warnings = []
        if mix["reynolds"] < TURBULENT_REYNOLDS:
            warnings.append(
                f"Re = {mix['reynolds']:.3g} < 1e4: the turbulent mixing-time correlation underestimates theta_95"
            )
        if mix["liquid_height_m"] < 0.5 * mix["tank_diameter_m"]:
            warnings.append(f"liquid height {mix['liquid_height_m']:.3g} m is below T/2: the impeller may be uncovered")
        t_fill = blend.volume / v["transfer_rate"]
        t_mix = v["mixing_times"] * mix["mixing_time_s"]
        if self.config.mode == "premix":
            t_mix = max(t_mix, v["premix_time"])
        t_fill_h, t_mix_h = from_si(t_fill, "h"), from_si(t_mix, "h")  # phase records are in h
        planned = [
            ("fill", t_fill_h, True),
            ("premix" if self.config.mode == "premix" else "mix", t_mix_h, True),
            ("hold", from_si(v["hold_time"], "h"), False),
        ]
        records, problems = schedule_phases(self.name, planned, phases)
        loss_share = v["hold_up_volume"] / blend.volume
        outlets = {
            "blend": blend.scaled(1.0 - loss_share, "blend"),
            "hold_up_loss": blend.scaled(loss_share, "hold_up_loss"),
            "unused_diluent": unused,
        }
        product = outlets["blend"]
        kpis |= mix | {
            "blend_volume_L": from_si(product.volume, "L"),
            "diluent_used_L": from_si(inlets[self.config.diluent].volume - unused.volume, "L")
            if self.config.diluent in inlets
            else 0.0,
            "fill_time_h": t_fill_h,
            "mix_time_h": t_mix_h,
            "batch_time_h": records[-1].end,
            "temperature_C": from_si(product.temperature, "degC"),
        }
        kpis |= {f"c_{comp}_g_per_L": from_si(product.concentration(comp), "g/L") for comp in sorted(product.mass)}
        level = from_si(blend.volume, "L")
        series = pd.DataFrame(
            {"volume_L": [0.0, level, level, level]}, index=pd.Index([0.0] + [r.end for r in records], name="time_h")
        )
        series.attrs["units"] = {"time_h": "h", "volume_L": "L"}
        return UnitResult(
            self.name,
            self.kind,
            "failed" if problems else "ok",
            "; ".join(problems) or "blended",
            outlets,
            duration=records[-1].end,
            phases=records,
            kpis=kpis,
            series=series,
            warnings=warnings,
        )
