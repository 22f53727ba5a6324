"""Packed-bed chromatography, bind-and-elute: lumped kinetic model with competitive Langmuir binding.

Column of length L, total porosity eps_t (mobile phase in the interstitial and accessible pore
volume), superficial velocity u (interstitial u/eps_t). Per binding component i (antigen, hcp,
dna) the lumped kinetic model (LKM; Guiochon, Felinger, Shirazi & Katti 2006, Fundamentals of
Preparative and Nonlinear Chromatography, ch. 2 and 6; Schmidt-Traub, Schulte & Seidel-Morgenstern
2012, Preparative Chromatography, ch. 6):
    eps_t dc_i/dt + (1 - eps_t) dq_i/dt = -u dc_i/dz + eps_t D_ax d2c_i/dz2
    dq_i/dt = k_kin,i (q*_i - q_i)
    q*_i = q_max,i K_i c_i / (1 + sum_j K_j c_j)            (competitive multi-component Langmuir)
    K_i = K_i,0 exp(-s_i c_M)                                (modifier, e.g. salt, c_M in mol/L)
q is per volume of solid (1 - eps_t) V_col. The exponential salt dependence is the empirical
form of ion-exchange retention (Melander, Corradini & Horvath 1984; Carta & Jungbauer 2010,
Protein Chromatography, ch. 5); it lowers K_i as the elution buffer replaces the wash buffer.
Boundary conditions (Danckwerts): u c_in = u c - eps_t D_ax dc/dz at z = 0, dc/dz = 0 at z = L.

Non-binding components (water, the salt modifier, glucose, ...) all move with the liquid. Instead
of a field per component the model transports the volume fractions of liquid that came from the
load (f_L) and from the elution buffer (f_E); the wash buffer is the rest. Any non-binding
component j then has c_j = c_j,L f_L + c_j,E f_E + c_j,W (1 - f_L - f_E), the modifier included.
The inlet is the load during loading, else a mix m(t) of elution and wash buffer (a step, or a
linear gradient dm/dt = rate).

Discretisation: finite volumes, n cells (default 50), Dz = L/n, conservative fluxes.
  upwind  first-order upwind convection. Its truncation error acts as a numerical dispersion
          D_num = u_int Dz/2 (u_int = u/eps_t), i.e. the grid has n theoretical plates (HETP = Dz;
          Guiochon et al. 2006, ch. 10; the idea behind the Craig and Rouchon schemes). The physical
          term then uses D_eff = max(D_ax - D_num, 0): when D_ax > D_num the total dispersion equals
          D_ax; when it is smaller the band spreading is grid-limited (plates = n) and the unit says so.
  koren   second-order upwind-biased reconstruction with the Koren flux limiter (high resolution,
          TVD; Koren 1993); numerical dispersion is small and D_eff = D_ax.
The column starts filled with wash (equilibration) buffer taken from the wash-buffer inlet.

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
"""
from __future__ import annotations

import functools
import math
from typing import Any, Literal, Mapping, Sequence

import casadi as ca
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.interpolate import CubicHermiteSpline

from ..core import ModelBuilder, SolverOptions
from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.phased import Transition, UnitPhase, run_phases
from ..core.registry import register_unit
from ..core.streams import Stream, UnitOperation, UnitResult
from ..pbe.growth import koren

BINDERS = ("antigen", "hcp", "dna")
SOURCES = ("load", "wash", "elution")
BUFFERS = {"wash_buffer": "wash", "elution_buffer": "elution"}
OPTIONS = SolverOptions(rtol=1e-8, atol=1e-10)
# default buffers (per litre) when an inlet is not connected: 20 mM and 1 M NaCl in water
DEFAULT_BUFFERS = {"wash": {"water": 0.997, "salts": 0.02 * 58.44e-3},
                   "elution": {"water": 0.985, "salts": 1.0 * 58.44e-3}}


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
        Parameter(f"{comp}_qmax", "g/L", qmax, (0.0, 1000.0), source, f"Langmuir capacity of {comp} per solid volume"),
        Parameter(f"{comp}_K0", "L/g", K0, (0.0, 1e4), source, f"Langmuir affinity of {comp} without modifier"),
        Parameter(f"{comp}_kkin", "1/h", kkin, (1e-3, 1e5), "LKM lumped rate: 15 D_e/R_p^2 scale (Carta & "
                  "Jungbauer 2010)", f"binding rate constant of {comp}"),
        Parameter(f"{comp}_salt_slope", "L/mol", slope, (0.0, 100.0), "ion exchange, exp(-s c_M) (Melander et al. 1984)",
                  f"s in K = K0 exp(-s c_M) for {comp}"),
    )


PARAMETERS = ParameterTable((
    Parameter("column_diameter", "cm", 14.0, (0.5, 200.0), "pilot/production columns 5-100 cm", "column inner diameter"),
    Parameter("bed_height", "cm", 20.0, (2.0, 50.0), "typical 15-30 cm (Carta & Jungbauer 2010)", "packed bed height L"),
    Parameter("velocity", "cm/h", 150.0, (5.0, 2000.0), "agarose resins 100-300 cm/h", "superficial velocity u"),
    Parameter("total_porosity", "1", 0.65, (0.3, 0.95), "eps_b 0.35 + accessible pores (Schmidt-Traub 2012)",
              "eps_t: mobile-phase volume per bed volume"),
    Parameter("axial_dispersion", "m^2/s", 1e-7, (0.0, 1e-4), "D_ax ~ u_int d_p (Guiochon et al. 2006)",
              "axial dispersion coefficient D_ax"),
    Parameter("cells", "1", 50, (5, 400), "", "finite volumes along the column", integer=True),
    Parameter("modifier_molar_mass", "g/mol", 58.44, (1.0, 1000.0), "NaCl", "molar mass of the modifier"),
    *_binding_parameters("antigen", 100.0, 50.0, 60.0, 8.0, "illustrative AEX capture of a protein antigen"),
    *_binding_parameters("hcp", 80.0, 2.0, 60.0, 8.0, "illustrative: HCP binds weaker than the product"),
    *_binding_parameters("dna", 20.0, 100.0, 60.0, 4.0, "illustrative: DNA binds AEX strongly, elutes late"),
    Parameter("load_stop_breakthrough", "%", 10.0, (0.0, 99.0), "load to 10 % breakthrough (DBC10)",
              "end the load when the product outlet reaches this % of its feed concentration; 0: load all"),
    Parameter("wash_cv", "1", 5.0, (0.0, 100.0), "3-5 CV", "wash length in column volumes"),
    Parameter("elution_gradient_cv", "1", 0.0, (0.0, 100.0), "", "linear gradient to 100 % elution buffer; 0: step"),
    Parameter("elution_cv", "1", 5.0, (0.1, 100.0), "3-5 CV", "elution length after the gradient, in column volumes"),
    Parameter("strip_cv", "1", 3.0, (0.0, 100.0), "2-3 CV", "strip (regeneration) length"),
    Parameter("pool_start", "%", 10.0, (0.0, 100.0), "UV-based peak cutting", "start pooling above this % of the peak"),
    Parameter("pool_end", "%", 10.0, (0.0, 100.0), "UV-based peak cutting", "stop pooling below this % after the peak"),
    Parameter("points_per_cv", "1", 10, (2, 200), "", "output points per column volume", integer=True),
))


def _koren_faces(y, y_in):
    """Face values y_{k+1/2} (k = 0..n-1) with the Koren limiter (``pbe.growth.koren``); inlet ghost y_in,
    first-order last face."""
    prev = ca.vertcat(y_in, y[:-1])
    return ca.vertcat(y[:-1] + 0.5 * koren(y[:-1] - prev[:-1], y[1:] - y[:-1]), y[-1])


@functools.lru_cache(maxsize=8)
def build_model(cells: int, scheme: str):
    """LKM column model on ``cells`` finite volumes (cached: integrators are built once per model)."""
    m = ModelBuilder(f"chromatography_{scheme}_{cells}", "1.0", "bind-and-elute LKM column", time_units="h")
    L = m.parameter("length", "m", 0.2, (0, np.inf))
    u = m.parameter("velocity", "m/h", 1.5, (0, np.inf))
    eps = m.parameter("porosity", "1", 0.65, (0, 1))
    d_ax = m.parameter("dispersion", "m^2/h", 0.0, (0, np.inf))
    qmax = [m.parameter(f"{c}_qmax", "g/L", 0.0, (0, np.inf)) for c in BINDERS]
    K0 = [m.parameter(f"{c}_K0", "L/g", 0.0, (0, np.inf)) for c in BINDERS]
    kkin = [m.parameter(f"{c}_kkin", "1/h", 1.0, (0, np.inf)) for c in BINDERS]
    slope = [m.parameter(f"{c}_salt_slope", "L/mol", 0.0, (0, np.inf)) for c in BINDERS]
    feed = {(c, s): m.parameter(f"c_{c}_{s}", "g/L", 0.0, (0, np.inf)) for c in BINDERS for s in SOURCES}
    salt = {s: m.parameter(f"modifier_{s}", "mol/L", 0.0, (0, np.inf)) for s in SOURCES}
    loading = m.input("loading", "1", 0.0, (0, 1), "1 while the load is pumped in")
    mix_rate = m.input("mix_rate", "1/h", 0.0, (0, np.inf), "gradient slope of the elution-buffer share")
    c = {b: m.state(f"c_{b}", "g/L", feed[(b, "wash")], shape=cells) for b in BINDERS}
    q = {b: m.state(f"q_{b}", "g/L", 0.0, shape=cells) for b in BINDERS}
    f_load = m.state("f_load", "1", 0.0, shape=cells, description="share of the liquid that came from the load")
    f_elu = m.state("f_elution", "1", 0.0, shape=cells, description="share that came from the elution buffer")
    mix = m.state("mix", "1", 0.0, description="elution-buffer share of the buffer at the inlet")
    out = {b: m.state(f"out_{b}", "kg/m^2", 0.0) for b in BINDERS}
    out_load = m.state("out_load", "m", 0.0, description="load liquid out per column area")
    out_elu = m.state("out_elution", "m", 0.0)
    in_load = m.state("in_load", "m", 0.0, description="load pumped in per column area")
    in_elu = m.state("in_elution", "m", 0.0)
    dz = L / cells
    share_load = loading
    share_elu = (1 - loading) * ca.fmin(ca.fmax(mix, 0), 1)
    share_wash = 1 - share_load - share_elu
    if scheme == "upwind":
        d_eff = ca.fmax(d_ax - u / eps * dz / 2, 0)
    else:
        d_eff = d_ax

    def transport(y, y_in):
        faces = ca.vertcat(y_in, y if scheme == "upwind" else _koren_faces(y, y_in))
        conv = -u * (faces[1:] - faces[:-1]) / dz
        grad = (y[1:] - y[:-1]) / dz
        diff_flux = ca.vertcat(0, eps * d_eff * grad, 0)
        return conv + (diff_flux[1:] - diff_flux[:-1]) / dz

    c_mod = salt["load"] * f_load + salt["elution"] * f_elu + salt["wash"] * (1 - f_load - f_elu)
    K = {b: K0[i] * ca.exp(-slope[i] * c_mod) for i, b in enumerate(BINDERS)}
    denominator = 1 + sum(K[b] * ca.fmax(c[b], 0) for b in BINDERS)
    for i, b in enumerate(BINDERS):
        q_star = qmax[i] * K[b] * ca.fmax(c[b], 0) / denominator
        dq = kkin[i] * (q_star - q[b])
        m.ode(q[b], dq)
        c_in = feed[(b, "load")] * share_load + feed[(b, "elution")] * share_elu + feed[(b, "wash")] * share_wash
        m.ode(c[b], (transport(c[b], c_in) - (1 - eps) * dq) / eps)
        m.ode(out[b], u * c[b][-1])
        m.output(f"outlet_{b}", c[b][-1], "g/L")
    m.ode(f_load, transport(f_load, share_load) / eps)
    m.ode(f_elu, transport(f_elu, share_elu) / eps)
    m.ode(mix, mix_rate * (mix < 1))
    m.ode(out_load, u * f_load[-1])
    m.ode(out_elu, u * f_elu[-1])
    m.ode(in_load, u * share_load)
    m.ode(in_elu, u * share_elu)
    m.output("outlet_modifier", c_mod[-1], "mol/L")
    m.output("inlet_elution_share", share_elu, "1")
    return m.build()


@register_unit
class Chromatography(UnitOperation):
    """Load - wash - elute - strip on a packed column; see the module docstring for the equations."""

    kind = "chromatography"
    description = "Bind-and-elute chromatography: LKM with competitive Langmuir binding and salt elution"
    parameters = PARAMETERS
    inlets = ("load", "wash_buffer", "elution_buffer")
    optional_inlets = ("wash_buffer", "elution_buffer")
    outlets = ("pool", "flowthrough", "load_remaining", "wash_buffer_remaining", "elution_buffer_remaining")
    Config = ChromatographyConfig

    # -- geometry ------------------------------------------------------------------------------
    @property
    def area(self) -> float:
        """Column cross-section, m^2."""
        return math.pi * (self.values["column_diameter"] / 100.0) ** 2 / 4.0

    @property
    def column_volume(self) -> float:
        """Bed volume, m^3."""
        return self.area * self.values["bed_height"] / 100.0

    @property
    def cv_time(self) -> float:
        """Hours to pump one column volume."""
        return self.values["bed_height"] / self.values["velocity"]

    def buffers(self, inlets: Mapping[str, Stream]) -> dict[str, Stream]:
        """The wash and elution buffers: the connected inlets, or 1 L of the default composition."""
        out = {}
        for inlet, source in BUFFERS.items():
            if inlet in inlets:
                out[source] = inlets[inlet]
            else:
                out[source] = Stream(inlet, 1e-3, {k: v for k, v in DEFAULT_BUFFERS[source].items()})
        return out

    # -- recipe --------------------------------------------------------------------------------
    def default_phases(self, load: Stream) -> list[UnitPhase]:
        v = self.values
        cv, per_cv = self.cv_time, int(v["points_per_cv"])
        load_cv = load.volume / self.column_volume
        product = self.config.product
        until = None
        if v["load_stop_breakthrough"] > 0 and load.concentration(product) > 0:
            until = Transition(variable=f"outlet_{product}", op=">=",
                               value=v["load_stop_breakthrough"] / 100.0 * load.concentration(product))
        phases = [UnitPhase(name="load", duration=load_cv * cv, inputs={"loading": 1.0, "mix_rate": 0.0},
                            until=until, points=max(20, int(per_cv * load_cv)))]
        if v["wash_cv"] > 0:
            phases.append(UnitPhase(name="wash", duration=v["wash_cv"] * cv, inputs={"loading": 0.0},
                                    points=max(10, int(per_cv * v["wash_cv"]))))
        gradient = v["elution_gradient_cv"]
        elute_cv = gradient + v["elution_cv"]
        elute = UnitPhase(name="elute", duration=elute_cv * cv, inputs={"loading": 0.0,
                          "mix_rate": 1.0 / (gradient * cv) if gradient > 0 else 0.0},
                          set_states={} if gradient > 0 else {"mix": 1.0}, points=max(20, int(2 * per_cv * elute_cv)))
        phases.append(elute)
        if v["strip_cv"] > 0:
            phases.append(UnitPhase(name="strip", duration=v["strip_cv"] * cv, inputs={"loading": 0.0, "mix_rate": 0.0},
                                    set_states={"mix": 1.0}, points=max(10, int(per_cv * v["strip_cv"]))))
        return phases

    def model_parameters(self, load: Stream, buffers: Mapping[str, Stream]) -> dict[str, float]:
        v = self.values
        u = v["velocity"] / 100.0
        p = {"length": v["bed_height"] / 100.0, "velocity": u, "porosity": v["total_porosity"],
             "dispersion": v["axial_dispersion"] * 3600.0}
        for b in BINDERS:
            for key in ("qmax", "K0", "kkin", "salt_slope"):
                p[f"{b}_{key}"] = v[f"{b}_{key}"]
        streams = {"load": load} | dict(buffers)
        for s, stream in streams.items():
            for b in BINDERS:
                p[f"c_{b}_{s}"] = stream.concentration(b)
            p[f"modifier_{s}"] = stream.concentration(self.config.modifier) / v["modifier_molar_mass"]
        return p

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
        plan = [UnitPhase.model_validate(p) if isinstance(p, Mapping) else p for p in phases] if phases \
            else self.default_phases(load)
        model = build_model(int(self.values["cells"]), self.config.scheme)
        out = run_phases(model, plan, parameters=self.model_parameters(load, buffers), options=OPTIONS)
        return Accounting(self, model, out, inlets, buffers, load, plan).result()


class Accounting:
    """Turns the column simulation into outlet streams, the pool and the KPIs."""

    def __init__(self, unit: Chromatography, model, out, inlets, buffers, load, plan):
        self.unit, self.model, self.out, self.inlets, self.buffers, self.load = unit, model, out, inlets, buffers, load
        self.plan = plan
        v = unit.values
        self.eps, self.u = v["total_porosity"], v["velocity"] / 100.0
        self.res = out.result
        self.t = self.res.t - out.phases[0].start
        self.sources = {"load": load, "wash": buffers["wash"], "elution": buffers["elution"]}
        self.components = sorted(set().union(*(s.mass for s in self.sources.values())) | set(BINDERS))

    def _state(self, name, row=-1):
        return self.res.state(name)[row]

    def cumulative(self, comp: str) -> np.ndarray:
        """kg of ``comp`` that left the column up to each output time."""
        A = self.unit.area
        if comp in BINDERS:
            return A * self.res.state(f"out_{comp}")
        total = self.u * self.t
        W_L, W_E = self.res.state("out_load"), self.res.state("out_elution")
        cL, cW, cE = (self.sources[s].concentration(comp) for s in SOURCES)
        return A * (cL * W_L + cE * W_E + cW * (total - W_L - W_E))

    def outlet_concentration(self, comp: str) -> np.ndarray:
        if comp in BINDERS:
            return self.res.output(f"outlet_{comp}")
        fL, fE = self.res.state("f_load")[:, -1], self.res.state("f_elution")[:, -1]
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
        """Pool start and end (h): the documented peak-cutting rule on the product chromatogram."""
        v, product = self.unit.values, self.unit.config.product
        mask = np.isin(np.asarray(self.res.phases), self.unit.config.pool_phases)
        if not mask.any():
            return None
        idx = np.flatnonzero(mask)
        c = self.res.output(f"outlet_{product}")
        t = self.t
        peak_i = idx[int(np.argmax(c[idx]))]
        peak = c[peak_i]
        if peak <= 0:
            return None
        lo, hi = v["pool_start"] / 100.0 * peak, v["pool_end"] / 100.0 * peak
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
        """Cumulative outlet mass at ``times`` by cubic Hermite interpolation (slope Q c_out)."""
        slope = self.unit.area * self.u * self.outlet_concentration(comp)
        t, keep = np.unique(self.t, return_index=True)
        return CubicHermiteSpline(t, self.cumulative(comp)[keep], slope[keep])(np.asarray(times))

    def result(self) -> UnitResult:
        unit, load, res, out = self.unit, self.load, self.res, self.out
        A, V_col = unit.area, unit.column_volume
        T = load.temperature
        duration = out.end - out.phases[0].start
        status, message = ("ok", "") if out.ok else ("failed", res.message)
        warnings = []
        used = {"load": A * self._state("in_load"), "elution": A * self._state("in_elution")}
        used["wash"] = A * self.u * duration - used["load"] - used["elution"] + self.eps * V_col
        remaining = {}
        for source, name in (("load", "load_remaining"), ("wash", "wash_buffer_remaining"),
                             ("elution", "elution_buffer_remaining")):
            stream = self.sources[source]
            given = source == "load" or f"{source}_buffer" in self.inlets
            if given and used[source] > stream.volume * (1 + 1e-8):
                status, message = "failed", (f"the run needs {used[source] * 1e3:.4g} L of {source}; "
                                             f"{stream.name} holds {stream.volume * 1e3:.4g} L")
            share = min(used[source] / stream.volume, 1.0) if given else 1.0
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
        kpis = self.kpis(pool, used, duration, cuts)
        if unit.config.scheme == "upwind":
            d_num = self.u / self.eps * (unit.values["bed_height"] / 100.0) / unit.values["cells"] / 2 / 3600.0
            if d_num > unit.values["axial_dispersion"]:
                warnings.append(f"numerical dispersion {d_num:.3g} m^2/s exceeds D_ax: band spreading is "
                                f"grid-limited ({int(unit.values['cells'])} plates)")
        supplied = {f"{source}_buffer": self.sources[source].scaled(used[source] / self.sources[source].volume,
                                                                     f"default {source} buffer")
                    for source in ("wash", "elution") if f"{source}_buffer" not in self.inlets}
        return UnitResult(unit.name, unit.kind, status, message,
                          {"pool": pool, "flowthrough": flowthrough, **remaining}, generated={},
                          duration=duration, phases=out.phases, kpis=kpis, series=self.series(), warnings=warnings,
                          supplied=supplied)

    def kpis(self, pool: Stream, used, duration, cuts) -> dict[str, float]:
        unit, product = self.unit, self.unit.config.product
        V_col = unit.column_volume
        c_feed = self.load.concentration(product)
        loaded = c_feed * used["load"]
        protein = sum(pool.mass.get(b, 0.0) for b in BINDERS)
        n = int(unit.values["cells"])
        bound = V_col / n * (1 - self.eps) * float(np.sum(self._state(f"q_{product}")))
        kpis = {"yield": pool.mass.get(product, 0.0) / loaded if loaded > 0 else float("nan"),
                "purity": pool.mass.get(product, 0.0) / protein if protein > 0 else float("nan"),
                "dbc10_g_per_L": self.dbc10(c_feed), "pool_volume_L": pool.volume * 1e3,
                "pool_volume_cv": pool.volume / V_col, "pool_concentration_g_per_L": pool.concentration(product),
                "cycle_time_h": duration, "column_volume_L": V_col * 1e3, "load_volume_L": used["load"] * 1e3,
                "load_g_per_L_resin": loaded / V_col, "product_loaded_g": loaded * 1e3,
                "product_bound_at_end_g": bound * 1e3,
                "product_out_g": float(self.cumulative(product)[-1]) * 1e3,
                "wash_buffer_used_L": used["wash"] * 1e3, "elution_buffer_used_L": used["elution"] * 1e3}
        if cuts:
            kpis["pool_start_h"], kpis["pool_end_h"] = cuts
        return {k: float(x) for k, x in kpis.items()}

    def dbc10(self, c_feed: float) -> float:
        """c_F (V_10 - eps_t V_col)/V_col in g/L of bed, from the load phase; NaN if 10 % is not reached."""
        product = self.unit.config.product
        loads = [p for p in self.out.phases if p.name == "load"]
        if c_feed <= 0 or not loads:
            return float("nan")
        start = self.out.phases[0].start
        # the load's last point is the next phase's first row (values are right-continuous at joins)
        idx = np.flatnonzero((self.t >= loads[0].start - start) & (self.t <= loads[0].end - start))
        c, t = self.res.output(f"outlet_{product}")[idx], self.t[idx]
        hit = np.flatnonzero(c >= 0.1 * c_feed * (1 - 1e-6))   # the crossing is found to ~1e-9 h
        if hit.size == 0:
            return float("nan")
        i = int(hit[0])
        t10 = t[i] if i == 0 else float(np.interp(0.1 * c_feed, [c[i - 1], c[i]], [t[i - 1], t[i]]))
        V_col = self.unit.column_volume
        return c_feed * (self.unit.area * self.u * t10 - self.eps * V_col) / V_col

    def series(self) -> pd.DataFrame:
        frame = pd.DataFrame(index=pd.Index(self.t, name="time_h"))
        frame["phase"] = self.res.phases
        frame["column_volumes"] = self.t / self.unit.cv_time
        units = {"column_volumes": "1"}
        for b in BINDERS:
            frame[f"outlet_{b}"] = self.res.output(f"outlet_{b}")
            units[f"outlet_{b}"] = "g/L"
        frame["outlet_modifier"] = self.res.output("outlet_modifier")
        frame["inlet_elution_share"] = self.res.output("inlet_elution_share")
        frame[f"{self.unit.config.product}_out_cumulative"] = self.cumulative(self.unit.config.product) * 1e3
        units |= {"outlet_modifier": "mol/L", "inlet_elution_share": "1",
                  f"{self.unit.config.product}_out_cumulative": "g"}
        frame.attrs["units"] = units
        return frame
