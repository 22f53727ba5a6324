"""Packed-bed chromatography, bind-and-elute, as a production unit: a load stream and buffer streams in,
pool, flowthrough and what is left of the inlets out.

The unit has the process model ``chromatography_lkm`` (``processes/chromatography_column.py``; the
equations and their sources are there and in docs/models/chromatography.md): the lumped kinetic model
(LKM) with competitive Langmuir binding and salt (modifier) elution, on n finite volumes (default 50)
with the upwind or the Koren scheme. The unit builds the variant its configuration names with
``build_column_model(cells, config.scheme)`` and maps its values and streams onto its parameters: the
binding components' concentrations and the modifier's molar concentration in the load, wash and
elution buffers (an unconnected buffer is 1 L of 20 mM or 1 M NaCl). Non-binding components (water,
the salt modifier, glucose, ...) all move with the liquid: c_j = c_j,L f_L + c_j,E f_E +
c_j,W (1 - f_L - f_E) from the model's load and elution-buffer fractions. The column starts filled
with wash (equilibration) buffer taken from the wash-buffer inlet. With the upwind scheme the band
spreading is grid-limited (n plates) when D_ax < D_num = u_int Dz/2, and the unit says so.

Recipe: load (until the product reaches ``load_stop_breakthrough`` % of its feed concentration at
the outlet, a conditional transition, or until the load is used up), wash, elute (step or gradient),
strip (100 % elution buffer). Pool rule: collected from the time the product outlet concentration
first rises above ``pool_start`` % of its elution peak to the time it falls below ``pool_end`` %
after the peak (cut times by linear interpolation of the chromatogram, cumulative masses at the
cuts by cubic Hermite interpolation of the integrated outlet, whose derivative u c_out is known).
Everything else that leaves the column goes to the flowthrough outlet, including the column
contents at the end (the regeneration flush). KPIs: yield (product in pool / product loaded),
purity (product / sum of binding components in the pool), DBC10 = c_F (V_10 - eps_t V_col)/V_col
(dynamic binding capacity at 10 % breakthrough; Carta & Jungbauer 2010, ch. 8), pool volume, cycle time.

Units: the unit's accounting (and the column model's equations) are written in SI: lengths in m,
u in m/s, D_ax in m^2/s, c and q in kg/m^3, K in m^3/kg, k_kin in 1/s, c_M in mol/m^3 and s_i in
m^3/mol, time in s. Pint converts the declared parameters (cm, cm/h, L/g, L/mol, %, ...) on entry. The column model integrates and reports in g/L, mol/L and h, so recipes (phase
durations, the gradient rate) are in h; the KPIs are read in the units their names carry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.interpolate import CubicHermiteSpline

from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.phased import run_phases
from ..core.recipe import Phase, Transition
from ..core.streams import Stream, UnitOperation, UnitResult
from ..core.units import from_si, to_si
from ..processes.chromatography_column import (
    BINDERS,
    CONCENTRATION_UNITS,
    ELUTION_CV,
    ELUTION_GRADIENT_CV,
    LOAD_STOP_BREAKTHROUGH,
    OPTIONS,
    POINTS_PER_CV,
    SOURCES,
    STRIP_CV,
    TIME_UNITS,
    WASH_CV,
    ChromatographyLkm,
    build_column_model,
    column_phases,
)

BUFFERS = {"wash_buffer": "wash", "elution_buffer": "elution"}
#: default buffers when an inlet is not connected: 1 L of 20 mM or 1 M NaCl in water (masses in kg)
DEFAULT_BUFFER_VOLUME = to_si(1.0, "L")
NACL_MOLAR_MASS = to_si(58.44, "g/mol")
DEFAULT_BUFFERS = {
    "wash": {"water": 0.997, "salts": to_si(20.0, "mmol") * NACL_MOLAR_MASS},
    "elution": {"water": 0.985, "salts": to_si(1.0, "mol") * NACL_MOLAR_MASS},
}
#: DBC10: the dynamic binding capacity at 10 % breakthrough (outlet / feed concentration)
DBC_BREAKTHROUGH = 0.1
#: relative allowance when the outlet is tested against the breakthrough (the crossing is found to ~1e-9 h)
BREAKTHROUGH_RTOL = 1e-6
#: relative allowance for round-off when the volume a run draws is compared with the inlet's volume
VOLUME_RTOL = 1e-8


class ChromatographyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product: Literal["antigen", "hcp", "dna"] = Field("antigen", description="the binding component pooled")
    modifier: str = Field("salts", description="component that weakens binding (mass in the streams)")
    scheme: Literal["upwind", "koren"] = Field("upwind", description="convection scheme")
    pool_phases: list[str] = Field(["elute", "strip"], description="phases in which the pool may be collected")

    @model_validator(mode="after")
    def _modifier_is_not_a_binder(self):
        if self.modifier in BINDERS:
            raise ValueError(f"the modifier cannot be a binding component ({', '.join(BINDERS)})")
        return self


def _binding_parameters(comp, qmax, K0, kkin, slope, source):
    return (
        Parameter(
            name=f"{comp}_qmax",
            units="g/L",
            default=qmax,
            bounds=(0.0, 1000.0),
            source=source,
            description=f"Langmuir capacity of {comp} per solid volume",
        ),
        Parameter(
            name=f"{comp}_K0",
            units="L/g",
            default=K0,
            bounds=(0.0, 1e4),
            source=source,
            description=f"Langmuir affinity of {comp} without modifier",
        ),
        Parameter(
            name=f"{comp}_kkin",
            units="1/h",
            default=kkin,
            bounds=(1e-3, 1e5),
            source="LKM lumped rate: 15 D_e/R_p^2 scale (Carta & Jungbauer 2010)",
            description=f"binding rate constant of {comp}",
        ),
        Parameter(
            name=f"{comp}_salt_slope",
            units="L/mol",
            default=slope,
            bounds=(0.0, 100.0),
            source="ion exchange, exp(-s c_M) (Melander et al. 1984)",
            description=f"s in K = K0 exp(-s c_M) for {comp}",
        ),
    )


PARAMETERS = ParameterTable(
    (
        Parameter(
            name="column_diameter",
            units="cm",
            default=14.0,
            bounds=(0.5, 200.0),
            source="pilot/production columns 5-100 cm",
            description="column inner diameter",
        ),
        Parameter(
            name="bed_height",
            units="cm",
            default=20.0,
            bounds=(2.0, 50.0),
            source="typical 15-30 cm (Carta & Jungbauer 2010)",
            description="packed bed height L",
        ),
        Parameter(
            name="velocity",
            units="cm/h",
            default=150.0,
            bounds=(5.0, 2000.0),
            source="agarose resins 100-300 cm/h",
            description="superficial velocity u",
        ),
        Parameter(
            name="total_porosity",
            units="1",
            default=0.65,
            bounds=(0.3, 0.95),
            source="eps_b 0.35 + accessible pores (Schmidt-Traub 2012)",
            description="eps_t: mobile-phase volume per bed volume",
        ),
        Parameter(
            name="axial_dispersion",
            units="m^2/s",
            default=1e-7,
            bounds=(0.0, 1e-4),
            source="D_ax ~ u_int d_p (Guiochon et al. 2006)",
            description="axial dispersion coefficient D_ax",
        ),
        Parameter(
            name="cells",
            units="1",
            default=50,
            bounds=(5, 400),
            source="",
            description="finite volumes along the column",
            integer=True,
        ),
        Parameter(
            name="modifier_molar_mass",
            units="g/mol",
            default=58.44,
            bounds=(1.0, 1000.0),
            source="NaCl",
            description="molar mass of the modifier",
        ),
        *_binding_parameters("antigen", 100.0, 50.0, 60.0, 8.0, "illustrative AEX capture of a protein antigen"),
        *_binding_parameters("hcp", 80.0, 2.0, 60.0, 8.0, "illustrative: HCP binds weaker than the product"),
        *_binding_parameters("dna", 20.0, 100.0, 60.0, 4.0, "illustrative: DNA binds AEX strongly, elutes late"),
        LOAD_STOP_BREAKTHROUGH,
        WASH_CV,
        ELUTION_GRADIENT_CV,
        ELUTION_CV,
        STRIP_CV,
        Parameter(
            name="pool_start",
            units="%",
            default=10.0,
            bounds=(0.0, 100.0),
            source="UV-based peak cutting",
            description="start pooling above this % of the peak",
        ),
        Parameter(
            name="pool_end",
            units="%",
            default=10.0,
            bounds=(0.0, 100.0),
            source="UV-based peak cutting",
            description="stop pooling below this % after the peak",
        ),
        POINTS_PER_CV,
    )
)


class Chromatography(UnitOperation):
    """Load - wash - elute - strip on a packed column; see the module docstring for the equations."""

    kind = "chromatography"
    #: units of each KPI (pint; "" for a pure number)
    kpi_units = {
        "yield": "",
        "purity": "",
        "dbc10_g_per_L": "g/L",
        "pool_volume_L": "L",
        "pool_volume_cv": "",
        "pool_concentration_g_per_L": "g/L",
        "cycle_time_h": "h",
        "column_volume_L": "L",
        "load_volume_L": "L",
        "load_g_per_L_resin": "g/L",
        "product_loaded_g": "g",
        "product_bound_at_end_g": "g",
        "product_out_g": "g",
        "wash_buffer_used_L": "L",
        "elution_buffer_used_L": "L",
        "pool_start_h": "h",
        "pool_end_h": "h",
    }
    description = "Bind-and-elute chromatography: LKM with competitive Langmuir binding and salt elution"
    parameters = PARAMETERS
    inlets = ("load", "wash_buffer", "elution_buffer")
    optional_inlets = ("wash_buffer", "elution_buffer")
    outlets = ("pool", "flowthrough", "load_remaining", "wash_buffer_remaining", "elution_buffer_remaining")
    Config = ChromatographyConfig
    process = ChromatographyLkm

    # -- geometry ------------------------------------------------------------------------------
    @property
    def area(self) -> float:
        """Column cross-section, m^2."""
        return math.pi * self.values["column_diameter"] ** 2 / 4.0

    @property
    def column_volume(self) -> float:
        """Bed volume, m^3."""
        return self.area * self.values["bed_height"]

    @property
    def cv_time(self) -> float:
        """Time to pump one column volume, in the column model's time units (h): recipes are written in them."""
        return from_si(self.values["bed_height"] / self.values["velocity"], TIME_UNITS)

    def buffers(self, inlets: Mapping[str, Stream]) -> dict[str, Stream]:
        """The wash and elution buffers: the connected inlets, or 1 L of the default composition."""
        out = {}
        for inlet, source in BUFFERS.items():
            if inlet in inlets:
                out[source] = inlets[inlet]
            else:
                out[source] = Stream(inlet, DEFAULT_BUFFER_VOLUME, {k: v for k, v in DEFAULT_BUFFERS[source].items()})
        return out

    # -- recipe --------------------------------------------------------------------------------
    def default_phases(self, load: Stream) -> list[Phase]:
        """Load, wash, elute, strip (:func:`~bioprocess_twin.processes.chromatography_column.column_phases`), in
        the column model's units (durations in h, the gradient in 1/h)."""
        v = self.values
        load_cv = load.volume / self.column_volume
        product = self.config.product
        until = None
        if v["load_stop_breakthrough"] > 0 and load.concentration(product) > 0:
            until = Transition(
                variable=f"outlet_{product}",
                op=">=",
                value=from_si(v["load_stop_breakthrough"] * load.concentration(product), CONCENTRATION_UNITS),
            )
        return column_phases(
            self.cv_time,
            load_cv,
            int(v["points_per_cv"]),
            v["wash_cv"],
            v["elution_gradient_cv"],
            v["elution_cv"],
            v["strip_cv"],
            until,
        )

    def model_parameters(self, model, load: Stream, buffers: Mapping[str, Stream]) -> dict[str, float]:
        """The values of ``model``'s parameters, worked out in SI and given in its declared units."""
        v = self.values
        p = {
            "length": v["bed_height"],
            "velocity": v["velocity"],
            "porosity": v["total_porosity"],
            "dispersion": v["axial_dispersion"],
        }
        for b in BINDERS:
            for key in ("qmax", "K0", "kkin", "salt_slope"):
                p[f"{b}_{key}"] = v[f"{b}_{key}"]
        streams = {"load": load} | dict(buffers)
        for s, stream in streams.items():
            for b in BINDERS:
                p[f"c_{b}_{s}"] = stream.concentration(b)
            p[f"modifier_{s}"] = stream.concentration(self.config.modifier) / v["modifier_molar_mass"]
        return model.from_si(p)

    # -- run -------------------------------------------------------------------------------------
    def run(self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None) -> UnitResult:
        self.check_inlets(inlets)
        load = inlets["load"]
        if load.volume <= 0:
            raise ParameterError([(f"{self.name}.load.volume", "the load carries no liquid")])
        buffers = self.buffers(inlets)
        for inlet, source in BUFFERS.items():
            if buffers[source].volume <= 0:
                raise ParameterError([(f"{self.name}.{inlet}.volume", "a connected buffer needs liquid")])
        plan = (
            [Phase.model_validate(p) if isinstance(p, Mapping) else p for p in phases]
            if phases
            else self.default_phases(load)
        )
        model = build_column_model(int(self.values["cells"]), self.config.scheme)
        out = run_phases(model, plan, parameters=self.model_parameters(model, load, buffers), options=OPTIONS)
        return Accounting(self, model, out, inlets, buffers, load, plan).result()


class Accounting:
    """Turns the column simulation into outlet streams, the pool and the KPIs (in SI; KPIs read as named)."""

    def __init__(self, unit: Chromatography, model, out, inlets, buffers, load, plan):
        self.unit, self.model, self.out, self.inlets, self.buffers, self.load = unit, model, out, inlets, buffers, load
        self.plan = plan
        v = unit.values
        self.eps, self.u = v["total_porosity"], v["velocity"]
        self.res = out.result
        #: output times from the first phase's start, in the model's time units (h) and in s
        self.t = self.res.t - out.phases[0].start
        self.t_si = to_si(self.t, model.time_units)
        self.sources = {"load": load, "wash": buffers["wash"], "elution": buffers["elution"]}
        self.components = sorted(set().union(*(s.mass for s in self.sources.values())) | set(BINDERS))

    def _state(self, name, row=-1):
        """A state of the column model at output ``row`` (all rows: None), in SI."""
        values = self.res.in_si(name)
        return values if row is None else values[row]

    def _output(self, name):
        """An output of the column model at every output time, in SI."""
        return self.res.in_si(name)

    def cumulative(self, comp: str) -> np.ndarray:
        """kg of ``comp`` that left the column up to each output time."""
        A = self.unit.area
        if comp in BINDERS:
            return A * self._state(f"out_{comp}", None)
        total = self.u * self.t_si
        W_L, W_E = self._state("out_load", None), self._state("out_elution", None)
        cL, cW, cE = (self.sources[s].concentration(comp) for s in SOURCES)
        return A * (cL * W_L + cE * W_E + cW * (total - W_L - W_E))

    def outlet_concentration(self, comp: str) -> np.ndarray:
        """kg/m^3 of ``comp`` at the column outlet at each output time."""
        if comp in BINDERS:
            return self._output(f"outlet_{comp}")
        fL, fE = self._state("f_load", None)[:, -1], self._state("f_elution", None)[:, -1]
        cL, cW, cE = (self.sources[s].concentration(comp) for s in SOURCES)
        return cL * fL + cE * fE + cW * (1 - fL - fE)

    def column_content(self, comp: str) -> float:
        """kg of ``comp`` in the column (liquid and bound) at the end."""
        n = int(self.unit.values["cells"])
        cell = self.unit.column_volume / n
        if comp in BINDERS:
            return cell * float(np.sum(self.eps * self._state(f"c_{comp}") + (1 - self.eps) * self._state(f"q_{comp}")))
        fL, fE = self._state("f_load"), self._state("f_elution")
        cL, cW, cE = (self.sources[s].concentration(comp) for s in SOURCES)
        return cell * self.eps * float(np.sum(cL * fL + cE * fE + cW * (1 - fL - fE)))

    def cut_times(self) -> tuple[float, float] | None:
        """Pool start and end (s from the first phase's start): the documented peak-cutting rule on the
        product chromatogram."""
        v, product = self.unit.values, self.unit.config.product
        mask = np.isin(np.asarray(self.res.phases), self.unit.config.pool_phases)
        if not mask.any():
            return None
        idx = np.flatnonzero(mask)
        c = self._output(f"outlet_{product}")
        t = self.t_si
        peak_i = idx[int(np.argmax(c[idx]))]
        peak = c[peak_i]
        if peak <= 0:
            return None
        lo, hi = v["pool_start"] * peak, v["pool_end"] * peak
        start = t[idx[0]]
        for i in range(idx[0], peak_i + 1):
            if c[i] >= lo:
                start = t[i] if i == idx[0] else float(np.interp(lo, [c[i - 1], c[i]], [t[i - 1], t[i]]))
                break
        end = t[idx[-1]]
        for i in range(peak_i + 1, idx[-1] + 1):
            if c[i] <= hi:
                end = float(np.interp(hi, [c[i], c[i - 1]], [t[i], t[i - 1]]))
                break
        return start, end

    def at(self, comp: str, times: Sequence[float]) -> np.ndarray:
        """Cumulative outlet mass at ``times`` (s) by cubic Hermite interpolation (slope Q c_out)."""
        slope = self.unit.area * self.u * self.outlet_concentration(comp)
        t, keep = np.unique(self.t_si, return_index=True)
        return CubicHermiteSpline(t, self.cumulative(comp)[keep], slope[keep])(np.asarray(times))

    def result(self) -> UnitResult:
        unit, load, res, out = self.unit, self.load, self.res, self.out
        A, V_col = unit.area, unit.column_volume
        T = load.temperature
        duration_h = out.end - out.phases[0].start  # in the model's time units, h
        duration = to_si(duration_h, self.model.time_units)
        status, message = ("ok", "") if out.ok else ("failed", res.message)
        warnings = []
        used = {"load": A * self._state("in_load"), "elution": A * self._state("in_elution")}
        used["wash"] = A * self.u * duration - used["load"] - used["elution"] + self.eps * V_col
        remaining = {}
        for source, name in (
            ("load", "load_remaining"),
            ("wash", "wash_buffer_remaining"),
            ("elution", "elution_buffer_remaining"),
        ):
            stream = self.sources[source]
            given = source == "load" or f"{source}_buffer" in self.inlets
            if given and used[source] > stream.volume * (1 + VOLUME_RTOL):
                status, message = (
                    "failed",
                    (
                        f"the run needs {from_si(used[source], 'L'):.4g} L of {source}; "
                        f"{stream.name} holds {from_si(stream.volume, 'L'):.4g} L"
                    ),
                )
            # a stream drawn to within round-off of its volume is used up: nothing (not a speck) remains
            share = (
                (1.0 if used[source] >= stream.volume * (1 - VOLUME_RTOL) else used[source] / stream.volume)
                if given
                else 1.0
            )
            remaining[name] = stream.scaled(1.0 - share, name) if given else Stream(name, 0.0, {}, T)
        cuts = self.cut_times()
        if cuts is None:
            warnings.append("no product peak in the pool phases: the pool is empty")
        pool_mass = {}
        total_out = {}
        for comp in self.components:
            total_out[comp] = float(self.cumulative(comp)[-1])
            if cuts is None:
                pool_mass[comp] = 0.0
            else:
                a, b = self.at(comp, cuts)
                pool_mass[comp] = max(float(b - a), 0.0)
        pool_volume = A * self.u * (cuts[1] - cuts[0]) if cuts else 0.0
        flow_mass = {c: total_out[c] - pool_mass[c] + self.column_content(c) for c in self.components}
        pool = Stream("pool", pool_volume, pool_mass, T)
        flowthrough = Stream("flowthrough", A * self.u * duration - pool_volume + self.eps * V_col, flow_mass, T)
        kpis = self.kpis(pool, used, duration_h, cuts)
        if unit.config.scheme == "upwind":
            d_num = self.u / self.eps * unit.values["bed_height"] / unit.values["cells"] / 2
            if d_num > unit.values["axial_dispersion"]:
                warnings.append(
                    f"numerical dispersion {d_num:.3g} m^2/s exceeds D_ax: band spreading is "
                    f"grid-limited ({int(unit.values['cells'])} plates)"
                )
        supplied = {
            f"{source}_buffer": self.sources[source].scaled(
                used[source] / self.sources[source].volume, f"default {source} buffer"
            )
            for source in ("wash", "elution")
            if f"{source}_buffer" not in self.inlets
        }
        return UnitResult(
            unit.name,
            unit.kind,
            status,
            message,
            {"pool": pool, "flowthrough": flowthrough, **remaining},
            generated={},
            duration=duration_h,
            phases=out.phases,
            kpis=kpis,
            series=self.series(),
            warnings=warnings,
            supplied=supplied,
        )

    def kpis(self, pool: Stream, used, duration_h, cuts) -> dict[str, float]:
        """The KPIs, computed in SI and read in the units their names carry."""
        unit, product = self.unit, self.unit.config.product
        V_col = unit.column_volume
        c_feed = self.load.concentration(product)
        loaded = c_feed * used["load"]
        protein = sum(pool.mass.get(b, 0.0) for b in BINDERS)
        n = int(unit.values["cells"])
        bound = V_col / n * (1 - self.eps) * float(np.sum(self._state(f"q_{product}")))
        kpis = {
            "yield": pool.mass.get(product, 0.0) / loaded if loaded > 0 else float("nan"),
            "purity": pool.mass.get(product, 0.0) / protein if protein > 0 else float("nan"),
            "dbc10_g_per_L": from_si(self.dbc10(c_feed), "g/L"),
            "pool_volume_L": from_si(pool.volume, "L"),
            "pool_volume_cv": pool.volume / V_col,
            "pool_concentration_g_per_L": from_si(pool.concentration(product), "g/L"),
            "cycle_time_h": duration_h,
            "column_volume_L": from_si(V_col, "L"),
            "load_volume_L": from_si(used["load"], "L"),
            "load_g_per_L_resin": from_si(loaded / V_col, "g/L"),
            "product_loaded_g": from_si(loaded, "g"),
            "product_bound_at_end_g": from_si(bound, "g"),
            "product_out_g": from_si(float(self.cumulative(product)[-1]), "g"),
            "wash_buffer_used_L": from_si(used["wash"], "L"),
            "elution_buffer_used_L": from_si(used["elution"], "L"),
        }
        if cuts:
            kpis["pool_start_h"], kpis["pool_end_h"] = (from_si(t, "h") for t in cuts)
        return {k: float(x) for k, x in kpis.items()}

    def dbc10(self, c_feed: float) -> float:
        """c_F (V_10 - eps_t V_col)/V_col in kg/m^3 of bed, from the load phase; NaN if 10 % is not reached."""
        product = self.unit.config.product
        loads = [p for p in self.out.phases if p.name == "load"]
        if c_feed <= 0 or not loads:
            return float("nan")
        start = self.out.phases[0].start
        # the load's last point is the next phase's first row (values are right-continuous at joins)
        idx = np.flatnonzero((self.t >= loads[0].start - start) & (self.t <= loads[0].end - start))
        c, t = self._output(f"outlet_{product}")[idx], self.t_si[idx]
        c_10 = DBC_BREAKTHROUGH * c_feed
        hit = np.flatnonzero(c >= c_10 * (1 - BREAKTHROUGH_RTOL))
        if hit.size == 0:
            return float("nan")
        i = int(hit[0])
        t10 = t[i] if i == 0 else float(np.interp(c_10, [c[i - 1], c[i]], [t[i - 1], t[i]]))
        V_col = self.unit.column_volume
        return c_feed * (self.unit.area * self.u * t10 - self.eps * V_col) / V_col

    def series(self) -> pd.DataFrame:
        """The chromatogram over time (h), in the column model's units."""
        frame = pd.DataFrame(index=pd.Index(self.t, name="time_h"))
        frame["phase"] = self.res.phases
        frame["column_volumes"] = self.t / self.unit.cv_time
        units = {"column_volumes": "1"}
        for b in BINDERS:
            frame[f"outlet_{b}"] = self.res.output(f"outlet_{b}")
            units[f"outlet_{b}"] = CONCENTRATION_UNITS
        frame["outlet_modifier"] = self.res.output("outlet_modifier")
        frame["inlet_elution_share"] = self.res.output("inlet_elution_share")
        frame[f"{self.unit.config.product}_out_cumulative"] = from_si(self.cumulative(self.unit.config.product), "g")
        units |= {
            "outlet_modifier": "mol/L",
            "inlet_elution_share": "1",
            f"{self.unit.config.product}_out_cumulative": "g",
        }
        frame.attrs["units"] = units
        return frame
