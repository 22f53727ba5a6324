"""Packed-bed chromatography, bind-and-elute: lumped kinetic model with competitive Langmuir binding
(kinetic process model ``chromatography_lkm``).

Column of length L, total porosity eps_t (mobile phase in the interstitial and accessible pore
volume), superficial velocity u (interstitial u/eps_t). Per binding component i (antigen, hcp,
dna) the lumped kinetic model (LKM; Guiochon, Felinger, Shirazi & Katti 2006, Fundamentals of
Preparative and Nonlinear Chromatography, ch. 2 and 6; Schmidt-Traub, Schulte & Seidel-Morgenstern
2012, Preparative Chromatography, ch. 6):
    eps_t dc_i/dt + (1 - eps_t) dq_i/dt = -u dc_i/dz + eps_t D_ax d2c_i/dz2
    dq_i/dt = k_kin,i (q*_i - q_i)
    q*_i = q_max,i K_i c_i / (1 + sum_j K_j c_j)            (competitive multi-component Langmuir)
    K_i = K_i,0 exp(-s_i c_M)                                (modifier, e.g. salt, molar concentration c_M)
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
the outlet, a conditional transition, or until the load volume is pumped), wash, elute (step or
gradient), strip (100 % elution buffer); :func:`column_phases` writes these phases for the process
model and for the production unit.

:func:`build_column_model` builds the model for a number of cells and a scheme; the production unit
``chromatography`` (``units/chromatography.py``) builds the variant its configuration names, maps its
streams onto it and pools the eluate. The process model ``chromatography_lkm`` is the default
configuration run standalone, per column cross-section: 50 cells, upwind, the unit's default column
(20 cm bed, 150 cm/h, eps_t 0.65, D_ax 1e-7 m^2/s) and binding parameters (AEX-like capture of the
antigen, weaker HCP, stronger DNA), a load of 1 g/L antigen, 0.2 g/L HCP and 0.02 g/L DNA in 20 mM
salt, a wash buffer of 20 mM and an elution buffer of 1 M salt (the unit's default buffers). Its KPIs
are per bed volume: product loaded, lost in load and wash, eluted in elute and strip, and left bound;
yield and purity of the eluate; the equilibrium capacity of the bed at the load composition,
eps_t c_F + (1 - eps_t) q*(c_F) (Langmuir, competitive, at the load's modifier).

Units: the equations are written in SI: lengths in m, u in m/s, D_ax in m^2/s, c and q in kg/m^3, K in
m^3/kg, k_kin in 1/s, c_M in mol/m^3 and s_i in m^3/mol, time in s. Pint converts the declared
parameters (cm, cm/h, L/g, L/mol, %, ...) on entry. The column model integrates and reports in g/L,
mol/L and h, so recipes (phase durations, the gradient rate) are in h; the KPIs are read in the units
their names carry.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import casadi as ca
import numpy as np

from ..core import ModelBuilder, SolverOptions
from ..core.parameters import Parameter, ParameterTable
from ..core.process import Process
from ..core.recipe import Phase, Recipe, Transition
from ..core.units import from_si, to_si
from ..pbe.growth import koren
from .standalone import Declarer

BINDERS = ("antigen", "hcp", "dna")
SOURCES = ("load", "wash", "elution")
OPTIONS = SolverOptions(rtol=1e-8, atol=1e-10)
#: the column model integrates in h (the time of unit results, phase records and recipes) and reports
#: concentrations in g/L; its equations see SI
TIME_UNITS, CONCENTRATION_UNITS = "h", "g/L"
#: version of the models :func:`build_column_model` builds for the unit; the process model has its own
VARIANT_VERSION = "1.0"
#: minimum output intervals of the load and elute phases, and of the wash and strip phases
MIN_POINTS_LONG, MIN_POINTS_SHORT = 20, 10

# -- the standalone process model's configuration ----------------------------------------------------
CELLS, SCHEME, PRODUCT = 50, "upwind", "antigen"
#: phases in which the product leaving the column counts as eluted
ELUTION_PHASES = ("elute", "strip")
#: Langmuir capacity (g/L solid), affinity (L/g), binding rate (1/h) and salt slope (L/mol) per binder:
#: the production unit's defaults
BINDING = {"antigen": (100.0, 50.0, 60.0, 8.0), "hcp": (80.0, 2.0, 60.0, 8.0), "dna": (20.0, 100.0, 60.0, 4.0)}
#: defaults of the standalone model that differ from the builder's (declared units); the unit sets every
#: parameter from its own values and streams
STANDALONE_DEFAULTS: dict[str, float] = {
    "dispersion": from_si(1e-7, "m^2/h"),  # the unit's D_ax, 1e-7 m^2/s
    **{
        f"{b}_{key}": value
        for b, values in BINDING.items()
        for key, value in zip(("qmax", "K0", "kkin", "salt_slope"), values)
    },
    "c_antigen_load": 1.0,
    "c_hcp_load": 0.2,
    "c_dna_load": 0.02,
    "modifier_load": 0.02,
    "modifier_wash": 0.02,
    "modifier_elution": 1.0,
}


def _koren_faces(y, y_in):
    """Face values y_{k+1/2} (k = 0..n-1) with the Koren limiter (``pbe.growth.koren``); inlet ghost y_in,
    first-order last face."""
    prev = ca.vertcat(y_in, y[:-1])
    return ca.vertcat(y[:-1] + 0.5 * koren(y[:-1] - prev[:-1], y[1:] - y[:-1]), y[-1])


@functools.lru_cache(maxsize=8)
def build_column_model(
    cells: int,
    scheme: str,
    name: str | None = None,
    version: str = VARIANT_VERSION,
    defaults: tuple[tuple[str, float], ...] = (),
):
    """LKM column model on ``cells`` finite volumes (cached: integrators are built once per model).

    The equations are in SI; parameters, states and outputs are declared in g/L, m/h, h. ``name``
    (default ``chromatography_<scheme>_<cells>``) and ``version`` name the model; ``defaults`` ((name,
    value) pairs in declared units) replace the declared defaults of those parameters (the standalone
    process model's configuration)."""
    m = ModelBuilder(
        name or f"chromatography_{scheme}_{cells}", version, "bind-and-elute LKM column", time_units=TIME_UNITS
    )
    declare = Declarer(m, defaults)
    L = declare(Parameter(name="length", units="m", default=0.2, bounds=(0, np.inf)))
    u = declare(Parameter(name="velocity", units="m/h", default=1.5, bounds=(0, np.inf)))
    eps = declare(Parameter(name="porosity", units="1", default=0.65, bounds=(0, 1)))
    d_ax = declare(Parameter(name="dispersion", units="m^2/h", default=0.0, bounds=(0, np.inf)))
    qmax = [declare(Parameter(name=f"{c}_qmax", units="g/L", default=0.0, bounds=(0, np.inf))) for c in BINDERS]
    K0 = [declare(Parameter(name=f"{c}_K0", units="L/g", default=0.0, bounds=(0, np.inf))) for c in BINDERS]
    kkin = [declare(Parameter(name=f"{c}_kkin", units="1/h", default=1.0, bounds=(0, np.inf))) for c in BINDERS]
    slope = [
        declare(Parameter(name=f"{c}_salt_slope", units="L/mol", default=0.0, bounds=(0, np.inf))) for c in BINDERS
    ]
    feed = {
        (c, s): declare(Parameter(name=f"c_{c}_{s}", units="g/L", default=0.0, bounds=(0, np.inf)))
        for c in BINDERS
        for s in SOURCES
    }
    salt = {
        s: declare(Parameter(name=f"modifier_{s}", units="mol/L", default=0.0, bounds=(0, np.inf))) for s in SOURCES
    }
    loading = m.input(
        Parameter(name="loading", units="1", default=0.0, bounds=(0, 1), description="1 while the load is pumped in")
    )
    mix_rate = m.input(
        Parameter(
            name="mix_rate",
            units="1/h",
            default=0.0,
            bounds=(0, np.inf),
            description="gradient slope of the elution-buffer share",
        )
    )
    c = {b: m.state(f"c_{b}", CONCENTRATION_UNITS, feed[(b, "wash")], shape=cells) for b in BINDERS}
    q = {b: m.state(f"q_{b}", CONCENTRATION_UNITS, 0.0, shape=cells) for b in BINDERS}
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
        m.output(f"outlet_{b}", c[b][-1], CONCENTRATION_UNITS)
    m.ode(f_load, transport(f_load, share_load) / eps)
    m.ode(f_elu, transport(f_elu, share_elu) / eps)
    m.ode(mix, mix_rate * (mix < 1))
    m.ode(out_load, u * f_load[-1])
    m.ode(out_elu, u * f_elu[-1])
    m.ode(in_load, u * share_load)
    m.ode(in_elu, u * share_elu)
    m.output("outlet_modifier", c_mod[-1], "mol/L")
    m.output("inlet_elution_share", share_elu, "1")
    declare.check_used()
    return m.build()


def column_phases(
    cv: float,
    load_cv: float,
    per_cv: int,
    wash_cv: float,
    gradient_cv: float,
    elution_cv: float,
    strip_cv: float,
    until: Transition | None = None,
) -> list[Phase]:
    """Load, wash, elute, strip, in the column model's units: ``cv`` is the time to pump one column volume
    (h), the lengths are in column volumes, ``per_cv`` output points per column volume; ``until`` ends the
    load early (breakthrough). A step elution sets the inlet to elution buffer at the start of elute; a
    gradient raises its share linearly over ``gradient_cv`` column volumes."""
    phases = [
        Phase(
            name="load",
            duration=load_cv * cv,
            inputs={"loading": 1.0, "mix_rate": 0.0},
            until=until,
            points=max(MIN_POINTS_LONG, int(per_cv * load_cv)),
        )
    ]
    if wash_cv > 0:
        phases.append(
            Phase(
                name="wash",
                duration=wash_cv * cv,
                inputs={"loading": 0.0},
                points=max(MIN_POINTS_SHORT, int(per_cv * wash_cv)),
            )
        )
    elute_cv = gradient_cv + elution_cv
    elute = Phase(
        name="elute",
        duration=elute_cv * cv,
        inputs={"loading": 0.0, "mix_rate": 1.0 / (gradient_cv * cv) if gradient_cv > 0 else 0.0},
        set_states={} if gradient_cv > 0 else {"mix": 1.0},
        points=max(MIN_POINTS_LONG, int(2 * per_cv * elute_cv)),
    )
    phases.append(elute)
    if strip_cv > 0:
        phases.append(
            Phase(
                name="strip",
                duration=strip_cv * cv,
                inputs={"loading": 0.0, "mix_rate": 0.0},
                set_states={"mix": 1.0},
                points=max(MIN_POINTS_SHORT, int(per_cv * strip_cv)),
            )
        )
    return phases


#: recipe settings the process model shares with its production unit
LOAD_STOP_BREAKTHROUGH = Parameter(
    name="load_stop_breakthrough",
    units="%",
    default=10.0,
    bounds=(0.0, 99.0),
    source="load to 10 % breakthrough (DBC10)",
    description="end the load when the product outlet reaches this % of its feed concentration; 0: load all",
)
WASH_CV = Parameter(
    name="wash_cv",
    units="1",
    default=5.0,
    bounds=(0.0, 100.0),
    source="3-5 CV",
    description="wash length in column volumes",
)
ELUTION_GRADIENT_CV = Parameter(
    name="elution_gradient_cv",
    units="1",
    default=0.0,
    bounds=(0.0, 100.0),
    source="",
    description="linear gradient to 100 % elution buffer; 0: step",
)
ELUTION_CV = Parameter(
    name="elution_cv",
    units="1",
    default=5.0,
    bounds=(0.1, 100.0),
    source="3-5 CV",
    description="elution length after the gradient, in column volumes",
)
STRIP_CV = Parameter(
    name="strip_cv",
    units="1",
    default=3.0,
    bounds=(0.0, 100.0),
    source="2-3 CV",
    description="strip (regeneration) length",
)
POINTS_PER_CV = Parameter(
    name="points_per_cv",
    units="1",
    default=10,
    bounds=(2, 200),
    source="",
    description="output points per column volume",
    integer=True,
)


class ChromatographyLkm(Process):
    """Load - wash - elute - strip on a packed column, per unit of cross-section."""

    name = "chromatography_lkm"
    description = (
        "Bind-and-elute chromatography, lumped kinetic model with competitive Langmuir binding and salt "
        "elution: load 20 CV, wash, step elution, strip"
    )
    #: units of each KPI (pint; "" for a pure number)
    kpi_units = {
        "yield": "",
        "purity": "",
        "product_loaded_g_per_L": "g/L",
        "product_lost_g_per_L": "g/L",
        "product_eluted_g_per_L": "g/L",
        "product_bound_at_end_g_per_L": "g/L",
        "equilibrium_capacity_g_per_L": "g/L",
        "peak_concentration_g_per_L": "g/L",
        "load_cv": "",
        "cycle_time_h": "h",
    }
    operating = ParameterTable(
        (
            Parameter(
                name="load_cv",
                units="1",
                default=20.0,
                bounds=(0.01, 1000.0),
                source="below the bed's capacity at the defaults",
                description="load volume in column volumes",
            ),
            LOAD_STOP_BREAKTHROUGH,
            WASH_CV,
            ELUTION_GRADIENT_CV,
            ELUTION_CV,
            STRIP_CV,
            POINTS_PER_CV,
        )
    )

    solver_options = OPTIONS

    def build(self):
        return build_column_model(CELLS, SCHEME, self.name, "1.0.0", tuple(STANDALONE_DEFAULTS.items()))

    # -- recipe ------------------------------------------------------------------------------------
    def recipe_for(self, operating: Mapping[str, float], parameters: Mapping[str, float]) -> Recipe:
        """Load - wash - elute - strip from the operating and model values (SI)."""
        p = parameters
        cv = from_si(p["length"] / p["velocity"], TIME_UNITS)
        c_feed, breakthrough = p[f"c_{PRODUCT}_load"], operating["load_stop_breakthrough"]
        until = None
        if breakthrough > 0 and c_feed > 0:
            until = Transition(
                variable=f"outlet_{PRODUCT}", op=">=", value=from_si(breakthrough * c_feed, CONCENTRATION_UNITS)
            )
        return Recipe(
            phases=column_phases(
                cv,
                operating["load_cv"],
                int(operating["points_per_cv"]),
                operating["wash_cv"],
                operating["elution_gradient_cv"],
                operating["elution_cv"],
                operating["strip_cv"],
                until,
            )
        )

    def default_times(self, operating, recipe):
        """Each phase's ``points`` intervals (a recipe without transitions runs on this grid)."""
        return np.unique(
            np.concatenate(
                [np.linspace(t0, t1, p.points + 1) for (_, t0, t1), p in zip(recipe.phase_bounds(), recipe.phases)]
            )
        )

    # -- results -----------------------------------------------------------------------------------
    def equilibrium_capacity(self, p: Mapping[str, float]) -> float:
        """eps_t c_F + (1 - eps_t) q*(c_F), kg/m^3 of bed: the product a bed holds in equilibrium with the load
        (competitive Langmuir at the load's composition and modifier; ``p`` in SI)."""
        K = {b: p[f"{b}_K0"] * math.exp(-p[f"{b}_salt_slope"] * p["modifier_load"]) for b in BINDERS}
        c = {b: p[f"c_{b}_load"] for b in BINDERS}
        q_star = p[f"{PRODUCT}_qmax"] * K[PRODUCT] * c[PRODUCT] / (1.0 + sum(K[b] * c[b] for b in BINDERS))
        return p["porosity"] * c[PRODUCT] + (1.0 - p["porosity"]) * q_star

    def kpis(self, result, operating):
        """Per bed volume: product loaded, lost (load and wash), eluted (elute and strip) and bound at the end;
        yield, purity and peak concentration of the eluate; equilibrium capacity; load and cycle time."""
        p = self.model.to_si(result.parameters)
        L, eps = p["length"], p["porosity"]
        t = to_si(result.t, self.model.time_units)
        phases = np.asarray(result.phases if result.phases is not None else [""] * len(t))
        eluting = np.isin(phases, ELUTION_PHASES)
        first = int(np.argmax(eluting)) if eluting.any() else len(t) - 1
        out = {b: result.in_si(f"out_{b}") for b in BINDERS}  # kg per m^2 of cross-section
        eluted = {b: float(out[b][-1] - out[b][first]) for b in BINDERS}
        in_load = result.in_si("in_load")
        load_per_area = float(in_load[-1] - in_load[0])  # m^3 of load per m^2
        loaded = p[f"c_{PRODUCT}_load"] * load_per_area
        bound = float(
            np.mean(eps * result.in_si(f"c_{PRODUCT}")[-1] + (1 - eps) * result.in_si(f"q_{PRODUCT}")[-1])
        )  # kg/m^3 of bed
        outlet = result.in_si(f"outlet_{PRODUCT}")
        protein = sum(eluted.values())

        def per_bed(mass_per_area: float) -> float:
            return from_si(mass_per_area / L, "g/L")

        kpis = {
            "yield": eluted[PRODUCT] / loaded if loaded > 0 else float("nan"),
            "purity": eluted[PRODUCT] / protein if protein > 0 else float("nan"),
            "product_loaded_g_per_L": per_bed(loaded),
            "product_lost_g_per_L": per_bed(float(out[PRODUCT][first] - out[PRODUCT][0])),
            "product_eluted_g_per_L": per_bed(eluted[PRODUCT]),
            "product_bound_at_end_g_per_L": from_si(bound, "g/L"),
            "equilibrium_capacity_g_per_L": from_si(self.equilibrium_capacity(p), "g/L"),
            "peak_concentration_g_per_L": from_si(float(outlet[eluting].max()), "g/L")
            if eluting.any()
            else float("nan"),
            "load_cv": load_per_area / L,
            "cycle_time_h": from_si(float(t[-1] - t[0]), "h"),
        }
        return {k: float(x) for k, x in kpis.items()}
