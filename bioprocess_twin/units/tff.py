"""Tangential-flow filtration (TFF) as a production unit: ultrafiltration (UF) concentration and
diafiltration (DF) exchange of a feed stream with a buffer stream.

The unit has the process model ``tff_ufdf`` (``processes/tff_ufdf.py``; the equations and their sources
are there and in docs/models/tff.md): batch TFF with a recirculated retentate tank, UF1 -> DF -> UF2,
each phase ending on its condition (retentate volume reached, diavolumes exchanged). The unit builds the
variant its streams need with ``build_tff_model(config.flux_model, components)`` (gel or osmotic flux; one
retentate and one permeate mass per component of the feed and buffer, the solvent and the polarising
component) and maps the feed onto its initial state and the buffer and its own values onto its
parameters: Lp = 1/(mu R_m) (Darcy, resistance in series; Zeman & Zydney 1996, Microfiltration and
Ultrafiltration, ch. 6), R T/M from the feed temperature and the molar mass of the polarising component.

Components a feed or buffer carries but the config does not name pass with a default sieving
coefficient: 0 for the retained roles (``config.retained``: antigen, hcp, dna) and 1 for every other
(small) solute. Outlets: retentate, permeate and the buffer not used (buffer_remaining).

Units: the unit's accounting is written in SI: V in m^3, masses in kg, concentrations in kg/m^3, J and k
in m/s, Lp in m/(Pa s), TMP and pi in Pa, R T/M in J/kg, time in s. Pint converts the declared
parameters (bar, mPa s, L/m^2/h, ...) on entry; the model integrates and reports in L, g and h (flux in
L/m^2/h, pi in bar), and the unit's KPIs are read in the units their names carry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.phased import run_phases
from ..core.recipe import Phase
from ..core.streams import Stream, UnitOperation, UnitResult
from ..core.units import from_si, to_si
from ..processes.tff_ufdf import (
    CONCENTRATION_FACTOR,
    CONCENTRATION_FACTOR_DF,
    DIAVOLUMES,
    MASS_UNITS,
    MAX_PHASE_DURATION,
    OPTIONS,
    POINTS,
    R_GAS,
    TIME_UNITS,
    TINY,
    VOLUME_UNITS,
    TffUfdf,
    build_tff_model,
    steady_flux,
    ufdf_phases,
    wall_concentration,
)

#: relative allowance for round-off when a run's buffer use is compared with the buffer given
VOLUME_RTOL = 1e-9
#: absolute allowance in that comparison, m^3 (1e-12 L)
VOLUME_ATOL = 1e-15


class TFFConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flux_model: Literal["gel", "osmotic"] = Field("gel", description="gel-polarisation or osmotic-pressure flux")
    polarising_component: str = Field(
        "antigen", description="retained component whose bulk concentration sets concentration polarisation"
    )
    retained: list[str] = Field(["antigen", "hcp", "dna"], description="components retained by default (S = 0)")
    sieving: dict[str, float] = Field(
        default_factory=dict,
        description="sieving coefficient per component (0 retained .. 1 free); overrides the default by role",
    )
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


PARAMETERS = ParameterTable(
    (
        Parameter(
            name="membrane_area",
            units="m^2",
            default=1.0,
            bounds=(1e-3, 500.0),
            source="Pellicon-type cassettes 0.1-10 m^2 per module",
            description="membrane area A",
        ),
        Parameter(
            name="tmp",
            units="bar",
            default=1.0,
            bounds=(0.01, 10.0),
            source="UF of proteins 0.5-2 bar (van Reis & Zydney 2007)",
            description="transmembrane pressure TMP",
        ),
        Parameter(
            name="membrane_resistance",
            units="1/m",
            default=3.0e12,
            bounds=(1e10, 1e15),
            source="30 kDa PES: water permeability ~100-150 LMH/bar (Zeman & Zydney 1996)",
            description="clean-membrane resistance R_m",
        ),
        Parameter(
            name="viscosity",
            units="mPa*s",
            default=1.0,
            bounds=(0.3, 20.0),
            source="water at 20 C",
            description="permeate viscosity mu",
        ),
        Parameter(
            name="mass_transfer_coefficient",
            units="L/m^2/h",
            default=30.0,
            bounds=(0.5, 500.0),
            source="screened cassettes 10-60 LMH (van Reis & Zydney 2007; Cheryan 1998)",
            description="film coefficient k",
        ),
        Parameter(
            name="gel_concentration",
            units="g/L",
            default=250.0,
            bounds=(1.0, 1500.0),
            source="proteins 200-400 g/L (Blatt et al. 1970; Cheryan 1998)",
            description="gel (limiting wall) concentration C_g",
        ),
        Parameter(
            name="molar_mass",
            units="kg/mol",
            default=66.0,
            bounds=(1.0, 5000.0),
            source="BSA 66 kDa; vaccine antigens 20-500 kDa",
            description="molar mass M of the polarising component (osmotic model)",
        ),
        Parameter(
            name="virial_b2",
            units="L/g",
            default=5e-3,
            bounds=(0.0, 1.0),
            source="order of magnitude of BSA data (Vilker et al. 1981)",
            description="b2 in pi = R T C/M (1 + b2 C + b3 C^2)",
        ),
        Parameter(
            name="virial_b3",
            units="L^2/g^2",
            default=8e-5,
            bounds=(0.0, 0.1),
            source="order of magnitude of BSA data (Vilker et al. 1981)",
            description="b3 in pi = R T C/M (1 + b2 C + b3 C^2)",
        ),
        CONCENTRATION_FACTOR_DF,
        DIAVOLUMES,
        CONCENTRATION_FACTOR,
        MAX_PHASE_DURATION,
        POINTS,
    )
)


class TangentialFlowFiltration(UnitOperation):
    """Batch UF/DF on a recirculated retentate tank; see the module docstring for the equations."""

    kind = "tff"
    #: the units of the process model's KPIs (the unit reports them all but the salts left)
    kpi_units = TffUfdf.kpi_units
    description = "Tangential-flow filtration: UF1 -> DF -> UF2 with gel or osmotic flux model and sieving"
    parameters = PARAMETERS
    inlets = ("feed", "buffer")
    optional_inlets = ("buffer",)
    outlets = ("retentate", "permeate", "buffer_remaining")
    Config = TFFConfig
    process = TffUfdf

    def __init__(self, name: str, parameters: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None):
        super().__init__(name, parameters, config)
        v = self.values
        if v["concentration_factor"] < v["concentration_factor_df"]:
            raise ParameterError(
                [
                    (
                        f"{name}.concentration_factor",
                        f"{v['concentration_factor']:g} is below concentration_factor_df "
                        f"{v['concentration_factor_df']:g}",
                    )
                ]
            )

    @property
    def permeability(self) -> float:
        """Lp = 1/(mu R_m) in m/(Pa s)."""
        v = self.values
        return 1.0 / (v["viscosity"] * v["membrane_resistance"])

    def default_phases(self, feed: Stream) -> list[Phase]:
        """UF1 to V0/CF_df, DF for N diavolumes, UF2 to V0/CF (phases of zero length are left out), by
        :func:`~bioprocess_twin.processes.tff_ufdf.ufdf_phases`: each phase's longest duration is 1.5 x the
        time at the lowest flux it will see, capped by max_phase_duration. Computed in SI; the phases are
        in the model's time and volume units (h, L)."""
        v = self.values
        coef = self.osmotic_coefficient(feed.temperature)
        return ufdf_phases(
            feed.volume,
            feed.concentration(self.config.polarising_component),
            lambda c_bulk: self.flux(c_bulk, coef),
            v["membrane_area"],
            v["concentration_factor_df"],
            v["diavolumes"],
            v["concentration_factor"],
            v["max_phase_duration"],
            int(v["points"]),
        )

    def osmotic_coefficient(self, temperature: float) -> float:
        """R T/M in J/kg = Pa per kg/m^3, for ``temperature`` in K."""
        return R_GAS * temperature / self.values["molar_mass"]

    def flux(self, c_bulk: float, coef: float) -> float:
        """Steady flux (m/s) at bulk concentration ``c_bulk`` (kg/m^3) of the polarising component."""
        v = self.values
        return steady_flux(
            self.config.flux_model,
            c_bulk,
            self.permeability,
            v["tmp"],
            v["mass_transfer_coefficient"],
            v["gel_concentration"],
            coef,
            v["virial_b2"],
            v["virial_b3"],
        )

    def model_parameters(
        self, model, feed: Stream, buffer: Stream | None, components: Sequence[str]
    ) -> dict[str, float]:
        """The values of ``model``'s parameters, worked out in SI and given in its declared units."""
        v, cfg = self.values, self.config
        coef = self.osmotic_coefficient(feed.temperature)
        polar = components.index(cfg.polarising_component)
        p = {
            "membrane_area": v["membrane_area"],
            "permeability": self.permeability,
            "tmp": v["tmp"],
            "mass_transfer_coefficient": v["mass_transfer_coefficient"],
            "gel_concentration": v["gel_concentration"],
            "osmotic_coefficient": coef,
            "virial_b2": v["virial_b2"],
            "virial_b3": v["virial_b3"],
            "polarising_index": polar,
        }
        c_b = max(feed.concentration(cfg.polarising_component), TINY)
        p["log_wall_guess"] = math.log(self.wall_concentration(c_b, coef)) if cfg.flux_model == "osmotic" else 0.0
        for c in components:
            p[f"sieving_{c}"] = cfg.sieving_of(c)
            p[f"buffer_{c}"] = buffer.concentration(c) if buffer is not None else 0.0
        return model.from_si(p)

    def wall_concentration(self, c_bulk: float, coef: float) -> float:
        """C_w (kg/m^3) of the osmotic model at bulk concentration ``c_bulk`` (kg/m^3), by Brent's method on ln C_w."""
        v = self.values
        return wall_concentration(
            c_bulk, self.permeability, v["tmp"], v["mass_transfer_coefficient"], coef, v["virial_b2"], v["virial_b3"]
        )

    def run(self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None) -> UnitResult:
        self.check_inlets(inlets)
        feed, buffer = inlets["feed"], inlets.get("buffer")
        cfg, v = self.config, self.values
        if feed.volume <= 0:
            raise ParameterError([(f"{self.name}.feed.volume", "the feed carries no liquid")])
        if buffer is not None and buffer.volume <= 0 and buffer.total_mass > 0:
            raise ParameterError([(f"{self.name}.buffer.volume", "a buffer with solutes needs a volume")])
        plan = (
            [Phase.model_validate(p) if isinstance(p, Mapping) else p for p in phases]
            if phases
            else self.default_phases(feed)
        )
        uses_df = any(p.inputs.get("df", 0.0) > 0 for p in plan)
        if uses_df and (buffer is None or buffer.volume <= 0):
            raise ParameterError([(f"{self.name}.buffer", "diafiltration needs a buffer inlet with liquid")])
        if not phases and uses_df:
            need = v["diavolumes"] * feed.volume / v["concentration_factor_df"]
            if buffer.volume < need * (1 - VOLUME_RTOL):
                raise ParameterError(
                    [
                        (
                            f"{self.name}.buffer.volume",
                            f"{from_si(buffer.volume, 'L'):.4g} L is less than the {from_si(need, 'L'):.4g} L DF needs",
                        )
                    ]
                )
        components = sorted(
            set(feed.mass) | set(buffer.mass if buffer is not None else ()) | {cfg.solvent, cfg.polarising_component}
        )
        model = build_tff_model(cfg.flux_model, tuple(components))
        params = self.model_parameters(model, feed, buffer, components)
        initial = {
            "V": from_si(feed.volume, VOLUME_UNITS),
            "mass": [from_si(feed.mass.get(c, 0.0), MASS_UNITS) for c in components],
        }
        out = run_phases(model, plan, parameters=params, initial=initial, options=OPTIONS)
        return self._result(out, inlets, components, plan)

    def _result(self, out, inlets, components, plan) -> UnitResult:
        feed, buffer = inlets["feed"], inlets.get("buffer")
        res = out.result
        final = out.final_state()
        warnings = [
            f"phase {r.name} ended at its longest duration without reaching its target"
            for r, p in zip(out.phases, plan)
            if p.until is not None and r.ended_by == "duration"
        ]
        status, message = ("ok", "") if out.ok else ("failed", res.message)
        # the model's final state, in SI
        used = to_si(final["buffer_used"], VOLUME_UNITS)
        buffer_volume = buffer.volume if buffer is not None else 0.0
        if used > buffer_volume * (1 + VOLUME_RTOL) + VOLUME_ATOL:
            status, message = (
                "failed",
                (
                    f"DF used {from_si(used, 'L'):.4g} L of buffer; the buffer inlet holds "
                    f"{from_si(buffer_volume, 'L'):.4g} L"
                ),
            )
        T = feed.temperature
        retentate = Stream(
            "retentate", to_si(final["V"], VOLUME_UNITS), dict(zip(components, to_si(final["mass"], MASS_UNITS))), T
        )
        permeate = Stream(
            "permeate",
            to_si(final["permeate_volume"], VOLUME_UNITS),
            dict(zip(components, to_si(final["permeate"], MASS_UNITS))),
            T,
        )
        share = min(used / buffer_volume, 1.0) if buffer_volume > 0 else 0.0
        remaining = (
            buffer.scaled(1.0 - share, "buffer_remaining")
            if buffer is not None
            else Stream("buffer_remaining", 0.0, {}, T)
        )
        duration_h = out.end - out.phases[0].start  # in the model's time units, h
        duration = to_si(duration_h, TIME_UNITS)
        product = self.config.polarising_component
        fed = feed.mass.get(product, 0.0)
        kpis = {
            "process_time_h": duration_h,
            "concentration_factor": feed.volume / retentate.volume,
            "product_yield": retentate.mass.get(product, 0.0) / fed if fed > 0 else float("nan"),
            "product_concentration_g_per_L": from_si(retentate.concentration(product), "g/L"),
            "diavolumes": final["diavolumes"],
            "permeate_volume_L": from_si(permeate.volume, "L"),
            "buffer_used_L": from_si(used, "L"),
            "average_flux_LMH": from_si(permeate.volume / (self.values["membrane_area"] * duration), "L/m^2/h")
            if duration > 0
            else float("nan"),
        }
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
        frame.attrs["units"] = {
            "retentate_volume": "L",
            "flux": "L/m^2/h",
            "wall_concentration": "g/L",
            "product_concentration": "g/L",
            "osmotic_pressure": "bar",
            "diavolumes": "1",
            "permeate_volume": "L",
        } | {f"c_{c}": "g/L" for c in components}
        return UnitResult(
            self.name,
            self.kind,
            status,
            message,
            {"retentate": retentate, "permeate": permeate, "buffer_remaining": remaining},
            generated={},
            duration=duration_h,
            phases=out.phases,
            kpis=kpis,
            series=frame,
            warnings=warnings,
        )
