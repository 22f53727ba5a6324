"""High-pressure homogenizer as a production unit: the pass-by-pass emulsion model
(``emulsion_homogenizer``, docs/models/emulsion_homogenizer.md) applied to a feed stream.

Feed stream -> model parameters (volumes additive; surfactant concentrations per emulsion volume)
    phi = m_oil / (rho_d V),   c_T80 = m_PS80 / V,   c_S85 = m_S85 / V   (kg/m^3 = mg/mL)
    feed_d50 = d50 of the inlet distribution,   feed_gsd = ln(d90/d10) / (2 x 1.2816)
    (a log-normal's width; without a distribution the model's feed_d50/feed_gsd are used)
    T_inlet = feed temperature
Model (per pass, see its documentation): Q_chamber, t_res, eps ~ dp^1.5, breakage-coalescence PBE,
temperature rise dp / (rho_e c_p) per pass, cooling back to T_inlet between passes.
Plant scale (the same energy density and residence time per pass at a larger flow: n chambers in
parallel or a geometrically larger one, Hakansson 2015; energy density E_V = dp,
Karbstein & Schubert 1995, Chem Eng Process 34:205)
    t_pass = V / Q_plant,   t = n_passes V / Q_plant
Outlet temperature: with cooling the last heat exchanger returns the product to T_inlet; without,
it leaves at the last pass's chamber outlet temperature.
Hold-up: the volume V_h left in the pump, chamber, heat exchanger and lines leaves as
"hold_up_loss" with the product's composition; every component splits with the liquid:
    emulsion = (1 - V_h/V) feed,   hold_up_loss = (V_h/V) feed     (masses; new droplet size)
SI inside: the unit's parameters arrive in SI (pressure in Pa, flow_rate in m^3/s, hold_up_volume in m^3),
as the streams are (m^3, kg, K); values handed to the emulsion model are converted by pint to its
declared units (from_si), and times are reported in h.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.recipe import Phase, PhaseRecord, Recipe
from ..core.streams import ParticleSize, Stream, UnitOperation, UnitResult
from ..core.units import from_si, to_si
from ..processes.emulsion_homogenizer import EmulsionHomogenizer

Z90 = 1.2816  # standard normal quantile of 0.9
#: model parameters the unit sets from the feed stream
FROM_STREAM = ("oil_fraction", "tween80", "span85")


class HomogenizerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    oil: str = Field("squalene", description="dispersed component")
    tween80: str = Field("polysorbate_80", description="component taken as the model's Tween 80")
    span85: str = Field("sorbitan_trioleate", description="component taken as the model's Span 85")
    model_parameters: dict[str, float | str] = Field(
        default_factory=dict,
        description="further emulsion-model parameters (chamber_volume, C4, ...); "
        f"{', '.join(FROM_STREAM)} come from the feed stream",
    )


class Homogenizer(UnitOperation):
    kind = "homogenizer"
    #: units of each KPI (pint; "" for a pure number)
    kpi_units = {
        "z_average_nm": "nm",
        "d50_nm": "nm",
        "d32_nm": "nm",
        "span": "",
        "pdi": "",
        "passes": "",
        "process_time_h": "h",
        "pass_time_h": "h",
        "chamber_outlet_C": "degC",
        "outlet_temperature_C": "degC",
        "oil_fraction": "",
        "energy_density_MJ_per_m3": "MJ/m^3",
        "coalescence_per_pass": "",
        "coverage": "",
        "yield": "",
    }
    description = (
        "High-pressure homogenizer/microfluidizer: the pass-by-pass squalene emulsion model applied to a "
        "coarse pre-emulsion stream; droplet size, heating, process time n V / Q, hold-up loss."
    )
    inlets = ("feed",)
    outlets = ("emulsion", "hold_up_loss")
    Config = HomogenizerConfig
    process = EmulsionHomogenizer
    parameters = ParameterTable(
        (
            Parameter(
                name="pressure",
                units="bar",
                default=1000.0,
                bounds=(100, 2000),
                source="microfluidizer 15 kpsi; MF59 12-20 kpsi",
                description="homogenizing pressure drop",
            ),
            Parameter(
                name="passes",
                units="1",
                default=6,
                bounds=(1, 30),
                source="MF59 practice: 5-10 passes",
                description="number of passes",
                integer=True,
            ),
            Parameter(
                name="flow_rate",
                units="L/h",
                default=120.0,
                bounds=(0.1, 1e5),
                source="M-110P 0.4 L/min to M-700 series 12 L/min",
                description="plant flow rate at the operating pressure",
            ),
            Parameter(
                name="cooling",
                units="1",
                default=1,
                bounds=(0, 1),
                source="",
                description="1: heat exchanger back to the feed temperature after each pass; 0: heat accumulates",
                integer=True,
            ),
            Parameter(
                name="hold_up_volume",
                units="L",
                default=0.3,
                bounds=(0, 100),
                source="estimate: pump, chamber, cooler, lines",
                description="product left in the machine",
            ),
        )
    )

    def __init__(self, name: str, parameters: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None):
        super().__init__(name, parameters, config)
        clash = sorted(set(self.config.model_parameters) & set(FROM_STREAM))
        if clash:
            raise ParameterError([(f"{name}.config.model_parameters.{k}", "comes from the feed stream") for k in clash])

    def model_parameters(self, feed: Stream) -> dict[str, Any]:
        """Emulsion-model parameters for ``feed``, in the model's declared units (volume fraction from rho_d)."""
        process = self.process.shared()
        declared = process.model.parameters
        base = process.model_parameters_si(self.config.model_parameters)
        given = dict(self.config.model_parameters)
        given["oil_fraction"] = from_si(
            feed.mass.get(self.config.oil, 0.0) / base["rho_d"] / feed.volume, declared["oil_fraction"].units
        )
        given["tween80"] = from_si(feed.concentration(self.config.tween80), declared["tween80"].units)
        given["span85"] = from_si(feed.concentration(self.config.span85), declared["span85"].units)
        if feed.particles is not None:
            stats = feed.particles.statistics()
            given["feed_d50"] = f"{stats['d50_nm']} nm"
            given["feed_gsd"] = min(max(math.log(stats["d90_nm"] / stats["d10_nm"]) / (2 * Z90), 0.1), 1.2)
        return given

    def _recipe(self, phases: Sequence[Any] | None, T_inlet: float) -> tuple[Recipe, list[str]]:
        """One model phase per pass, starting at ``T_inlet`` (K). Given ``phases`` are passes (their ``inputs``
        may set ``pressure``; a pass lasts V/Q whatever its duration)."""
        cool = bool(self.values["cooling"])
        start = {"T": T_inlet}  # the model's state T is declared in K, the SI unit
        if not phases:
            n = int(self.values["passes"])
            return Recipe(
                phases=[
                    Phase(name=f"pass {k}", duration=1.0, set_states=start if k == 1 or cool else {})
                    for k in range(1, n + 1)
                ]
            ), [f"pass {k}" for k in range(1, n + 1)]
        out, errors = [], []
        for k, p in enumerate(phases, 1):
            name = p.get("name") if isinstance(p, Mapping) else getattr(p, "name", f"pass {k}")
            inputs = dict((p.get("inputs") if isinstance(p, Mapping) else getattr(p, "inputs", None)) or {})
            errors += [
                (f"{self.name}.phases.{name}.inputs.{key}", "a pass sets only 'pressure'")
                for key in inputs
                if key != "pressure"
            ]
            out.append(Phase(name=str(name), duration=1.0, inputs=inputs, set_states=start if k == 1 or cool else {}))
        if errors:
            raise ParameterError(errors, f"unit '{self.name}' phases")
        return Recipe(phases=out), [p.name for p in out]

    def run(self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None) -> UnitResult:
        self.check_inlets(inlets)
        v = self.values
        feed = inlets["feed"]
        if feed.volume <= 0:
            raise ParameterError([(f"{self.name}.feed.volume", "the feed carries no liquid")])
        hold = v["hold_up_volume"]
        if hold >= feed.volume:
            raise ParameterError(
                [
                    (
                        f"{self.name}.hold_up_volume",
                        f"{from_si(hold, 'L'):g} L is not less than the feed {from_si(feed.volume, 'L'):.4g} L",
                    )
                ]
            )
        process = self.process.shared()
        T_in = from_si(feed.temperature, process.operating["T_inlet"].units)  # degC
        params = self.model_parameters(feed)
        params |= {
            "n_passes": len(phases) if phases else int(v["passes"]),
            "T_inlet": T_in,
            "cooling": int(v["cooling"]),
        }
        recipe, names = self._recipe(phases, feed.temperature)
        pressure = from_si(v["pressure"], process.model.inputs["pressure"].units)
        try:
            run = process.run(
                parameters=params,
                inputs={"pressure": pressure},
                recipe=recipe,
                times=np.arange(len(names) + 1, dtype=float),
            )
        except ParameterError as exc:
            raise ParameterError(
                [(f"{self.name}.feed -> {f}", m) for f, m in exc.errors], f"unit '{self.name}' feed stream"
            ) from None
        t_pass = from_si(feed.volume / v["flow_rate"], "h")  # V / Q_plant
        records = [PhaseRecord(n, k * t_pass, (k + 1) * t_pass) for k, n in enumerate(names)]
        if not run.ok:
            return UnitResult(
                self.name,
                self.kind,
                "failed",
                f"emulsion model: {run.result.message}",
                {
                    "emulsion": feed.scaled(1 - hold / feed.volume, "emulsion"),
                    "hold_up_loss": feed.scaled(hold / feed.volume, "hold_up_loss"),
                },
                duration=records[-1].end,
                phases=records,
            )
        dist = run.distribution
        weights = dist.density[-1] * np.gradient(np.log(dist.diameter))
        psd = ParticleSize(dist.diameter, weights)
        k = run.kpis
        T_out = feed.temperature if v["cooling"] else to_si(k["T_out_C"], "degC")  # K
        product = Stream("emulsion", feed.volume, feed.mass, T_out, psd, self.config.oil)
        share = hold / feed.volume
        outlets = {
            "emulsion": product.scaled(1 - share, "emulsion"),
            "hold_up_loss": product.scaled(share, "hold_up_loss"),
        }
        kpis = {
            "z_average_nm": k["z_average_nm"],
            "d50_nm": k["d50_nm"],
            "d32_nm": k["d32_nm"],
            "span": k["span"],
            "pdi": k["pdi"],
            "passes": float(len(names)),
            "process_time_h": records[-1].end,
            "pass_time_h": t_pass,
            "chamber_outlet_C": k["T_out_C"],
            "outlet_temperature_C": from_si(T_out, "degC"),
            "oil_fraction": params["oil_fraction"],
            "energy_density_MJ_per_m3": k["energy_density_MJ_per_m3"],
            "coalescence_per_pass": k["coalescence_per_pass"],
            "coverage": k["coverage"],
            "yield": 1 - share,
        }
        df = run.series
        df = df[df["pass_end"]]
        series = pd.DataFrame(
            {c: df[c].to_numpy() for c in ("z_average_nm", "d50_nm", "d32_nm", "span", "pdi", "T_outlet_C")},
            index=pd.Index([r.end for r in records], name="time_h"),
        )
        series.attrs["units"] = {"time_h": "h", "T_outlet_C": "degC", "span": "1", "pdi": "1"} | {
            c: "nm" for c in series.columns if c.endswith("_nm")
        }
        warnings = list(run.result.warnings)
        if k["oil_balance_error"] > 1e-6:
            warnings.append(f"emulsion model oil balance error {k['oil_balance_error']:.2g}")
        return UnitResult(
            self.name,
            self.kind,
            "ok",
            f"{len(names)} passes at {pressure:g} bar",
            outlets,
            duration=records[-1].end,
            phases=records,
            kpis=kpis,
            series=series,
            warnings=warnings,
        )
