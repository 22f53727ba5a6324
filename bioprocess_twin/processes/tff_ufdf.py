"""Tangential-flow filtration (TFF): ultrafiltration (UF) concentration and diafiltration (DF) exchange
(kinetic process model ``tff_ufdf``).

Batch TFF with a recirculated retentate tank of volume V. The recipe is UF1 -> DF -> UF2: UF1
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

Flux J (volume per membrane area and time), chosen by the flux model (``flux_model``), with the membrane
permeability Lp = 1/(mu R_m) (Darcy, resistance in series; Zeman & Zydney 1996, Microfiltration and
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

Units: the equations are written in SI: V in m^3, masses in kg, concentrations in kg/m^3, J and k in
m/s, Lp in m/(Pa s), TMP and pi in Pa, R T/M in J/kg, time in s, ln C_w of C_w in kg/m^3. Pint
converts the declared parameters on entry; the model integrates and reports in L, g and h (flux in
L/m^2/h, pi in bar).

:func:`build_tff_model` builds the model for a flux model and a component list; the production unit
``tff`` (``units/tff.py``) builds the variant its streams need and maps streams onto it. The process
model ``tff_ufdf`` is the default configuration run standalone: the gel flux model, the components
antigen, dna, hcp, salts and water (antigen the polarising component; antigen, HCP and DNA retained,
S = 0, as the unit retains them by default; salts and water free, S = 1), the unit's default membrane
and film values, and a DF buffer of water. Its default recipe charges the feed given by the operating
parameters (``feed_volume``, ``feed_<component>``) at the start of UF1 and runs UF1 -> DF -> UF2, each
phase ending on its transition; its longest duration is 1.5 x the time at the lowest flux the phase
will see (the flux at its end concentration, the product fully retained), capped by
``max_phase_duration``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import casadi as ca
import numpy as np
from scipy.optimize import brentq

from ..core import ModelBuilder, SolverOptions
from ..core.constants import R_GAS
from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.process import Process
from ..core.recipe import Phase, Recipe, Transition
from ..core.units import from_si, to_si
from .standalone import Declarer

TINY = 1e-12  # kg/m^3, keeps ln C_b finite when the polarising component is absent
#: the TFF model integrates and reports time in h (the time of unit results and phase records, so those
#: are read as they come), volumes in L and masses in g; its equations see SI
TIME_UNITS, VOLUME_UNITS, MASS_UNITS = "h", "L", "g"
#: version of the models :func:`build_tff_model` builds for the unit; the process model has its own
VARIANT_VERSION = "1.0"
#: solver settings: tight, the balance tests check conservation to this tolerance
OPTIONS = SolverOptions(rtol=1e-9, atol=1e-10)
#: the longest phase lasts this many times the permeate volume over the lowest flux the phase will see
DURATION_MARGIN = 1.5

# -- the standalone process model's configuration ----------------------------------------------------
FLUX_MODEL = "gel"
#: sorted, as the unit sorts the components of its streams
COMPONENTS = ("antigen", "dna", "hcp", "salts", "water")
POLARISING = "antigen"
#: the unit's default roles: retained (S = 0); every other component passes freely (S = 1)
RETAINED = ("antigen", "hcp", "dna")
#: temperature at which R T/M of the standalone model is taken, K (25 C)
TEMPERATURE = 298.15
#: molar mass of the polarising component, kg/mol (the unit's default, BSA 66 kDa)
MOLAR_MASS = 66.0
#: defaults of the standalone model that differ from the builder's (declared units); the unit sets every
#: parameter from its own values and streams
STANDALONE_DEFAULTS: dict[str, float] = {
    "osmotic_coefficient": from_si(R_GAS * TEMPERATURE / MOLAR_MASS, "bar*L/g"),
    "virial_b2": 5e-3,
    "virial_b3": 8e-5,
    "polarising_index": COMPONENTS.index(POLARISING),
    **{f"sieving_{c}": 0.0 for c in RETAINED},
    "buffer_water": 997.0,
}


def osmotic_pressure(c, coef, b2, b3):
    """pi(C) = coef C (1 + b2 C + b3 C^2); in SI: Pa for C in kg/m^3, ``coef`` = R T/M in J/kg."""
    return coef * c * (1.0 + b2 * c + b3 * c * c)


def wall_concentration(c_bulk: float, lp: float, tmp: float, k: float, coef: float, b2: float, b3: float) -> float:
    """C_w (kg/m^3) of the osmotic model at bulk concentration ``c_bulk`` (kg/m^3), by Brent's method on
    ln C_w (all values in SI)."""

    def residual(u):
        return k * (u - math.log(c_bulk)) - lp * (tmp - osmotic_pressure(math.exp(u), coef, b2, b3))

    lo = math.log(c_bulk)
    hi = lo + lp * tmp / k + 1.0
    return math.exp(brentq(residual, lo - 1.0, hi, xtol=1e-14))


def steady_flux(
    flux_model: str, c_bulk: float, lp: float, tmp: float, k: float, c_gel: float, coef: float, b2: float, b3: float
) -> float:
    """Steady flux (m/s) at bulk concentration ``c_bulk`` (kg/m^3) of the polarising component (SI values)."""
    c_bulk = max(c_bulk, TINY)
    if flux_model == "gel":
        return max(min(lp * tmp, k * math.log(c_gel / c_bulk)), 0.0)
    c_wall = wall_concentration(c_bulk, lp, tmp, k, coef, b2, b3)
    return lp * (tmp - osmotic_pressure(c_wall, coef, b2, b3))


def ufdf_phases(
    V0: float,
    c0: float,
    flux: Callable[[float], float],
    area: float,
    concentration_factor_df: float,
    diavolumes: float,
    concentration_factor: float,
    longest: float,
    points: int,
    charge: Mapping[str, Any] | None = None,
) -> list[Phase]:
    """UF1 to V0/CF_df, DF for N diavolumes, UF2 to V0/CF (phases of zero length are left out).

    ``V0`` (m^3) and ``c0`` (kg/m^3, polarising component) describe the feed, ``flux(c_bulk)`` gives the
    steady flux (m/s), ``area`` is in m^2 and ``longest`` in s. Each phase's longest duration is 1.5 x the
    time at the lowest flux it will see (the flux at its end concentration, taking the product as fully
    retained), capped by ``longest``, so its output points spread over the phase. ``charge`` (states in
    the model's units) is set at the start of UF1. The phases are in the model's time and volume units."""

    def duration(permeate: float, volume_end: float) -> float:
        """Longest phase duration in the model's time units for ``permeate`` m^3 ending at ``volume_end`` m^3."""
        J = flux(c0 * V0 / volume_end)
        seconds = min(longest, DURATION_MARGIN * permeate / (J * area)) if J > 0 else longest
        return from_si(seconds, TIME_UNITS)

    V_df, V_end = V0 / concentration_factor_df, V0 / concentration_factor
    phases = [
        Phase(
            name="UF1",
            duration=duration(V0 - V_df, V_df),
            inputs={"df": 0.0},
            points=points,
            until=Transition(variable="V", op="<=", value=from_si(V_df, VOLUME_UNITS)),
            set_states=dict(charge or {}),
        )
    ]
    if diavolumes > 0:
        phases.append(
            Phase(
                name="DF",
                duration=duration(diavolumes * V_df, V_df),
                inputs={"df": 1.0},
                points=points,
                until=Transition(variable="diavolumes", op=">=", value=diavolumes),
            )
        )
    if concentration_factor > concentration_factor_df:
        phases.append(
            Phase(
                name="UF2",
                duration=duration(V_df - V_end, V_end),
                inputs={"df": 0.0},
                points=points,
                until=Transition(variable="V", op="<=", value=from_si(V_end, VOLUME_UNITS)),
            )
        )
    return phases


@functools.lru_cache(maxsize=16)
def build_tff_model(
    flux_model: str,
    components: tuple[str, ...],
    name: str | None = None,
    version: str = VARIANT_VERSION,
    defaults: tuple[tuple[str, float], ...] = (),
):
    """The TFF model for this component list (cached: CasADi integrators are built once per model).

    The equations are in SI; parameters, states and outputs are declared in the
    units users read (L, g, h, bar, L/m^2/h). ``name`` (default ``tff_<flux model>_<n components>``)
    and ``version`` name the model; ``defaults`` ((name, value) pairs in declared units) replace the
    declared defaults of those parameters (the standalone process model's configuration)."""
    m = ModelBuilder(
        name or f"tff_{flux_model}_{len(components)}",
        version,
        "batch UF/DF with recirculated retentate",
        time_units=TIME_UNITS,
    )
    declare = Declarer(m, defaults)
    area = declare(Parameter(name="membrane_area", units="m^2", default=1.0, bounds=(0, np.inf)))
    lp = declare(
        Parameter(
            name="permeability", units="L/m^2/h/bar", default=120.0, bounds=(0, np.inf), description="Lp = 1/(mu R_m)"
        )
    )
    tmp = declare(Parameter(name="tmp", units="bar", default=1.0, bounds=(0, np.inf)))
    k = declare(Parameter(name="mass_transfer_coefficient", units="L/m^2/h", default=30.0, bounds=(0, np.inf)))
    c_gel = declare(Parameter(name="gel_concentration", units="g/L", default=250.0, bounds=(0, np.inf)))
    coef = declare(
        Parameter(name="osmotic_coefficient", units="bar*L/g", default=0.0, bounds=(0, np.inf), description="R T/M")
    )
    b2 = declare(Parameter(name="virial_b2", units="L/g", default=0.0, bounds=(0, np.inf)))
    b3 = declare(Parameter(name="virial_b3", units="L^2/g^2", default=0.0, bounds=(0, np.inf)))
    log_wall_guess = declare(
        Parameter(name="log_wall_guess", units="1", default=0.0, description="initial guess of ln C_w")
    )
    polar = declare(
        Parameter(name="polarising_index", units="1", default=0, bounds=(0, len(components) - 1), integer=True)
    )
    sieving = [declare(Parameter(name=f"sieving_{c}", units="1", default=1.0, bounds=(0, 1))) for c in components]
    c_buffer = [
        declare(Parameter(name=f"buffer_{c}", units="g/L", default=0.0, bounds=(0, np.inf))) for c in components
    ]
    df = m.input(
        Parameter(
            name="df",
            units="1",
            default=0.0,
            bounds=(0, 1),
            description="1 in diafiltration (buffer added at the permeate rate)",
        )
    )
    V = m.state("V", VOLUME_UNITS, 1.0, description="retentate volume")
    mass = m.state("mass", MASS_UNITS, 0.0, shape=len(components), description="retentate masses")
    perm = m.state("permeate", MASS_UNITS, 0.0, shape=len(components), description="permeate masses")
    Vp = m.state("permeate_volume", VOLUME_UNITS, 0.0)
    Vb = m.state("buffer_used", VOLUME_UNITS, 0.0)
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
    declare.check_used()
    return m.build()


def _phase_times(result) -> dict[str, float]:
    """Duration of each phase of a phased result, in the model's time units."""
    names = list(result.phases or [])
    out: dict[str, float] = {}
    starts = [i for i, n in enumerate(names) if i == 0 or n != names[i - 1]]
    for j, i in enumerate(starts):
        end = result.t[starts[j + 1]] if j + 1 < len(starts) else result.t[-1]
        out[names[i]] = float(end - result.t[i])
    return out


#: recipe settings the process model shares with its production unit
CONCENTRATION_FACTOR_DF = Parameter(
    name="concentration_factor_df",
    units="1",
    default=5.0,
    bounds=(1.0, 200.0),
    source="UF1 target, typical 2-10x",
    description="V0/V at the end of UF1 (DF runs at this volume)",
)
DIAVOLUMES = Parameter(
    name="diavolumes",
    units="1",
    default=7.0,
    bounds=(0.0, 30.0),
    source="5-10 DV for > 99 % exchange (van Reis & Zydney 2007)",
    description="buffer volumes per retentate volume exchanged in DF; 0 skips DF",
)
CONCENTRATION_FACTOR = Parameter(
    name="concentration_factor",
    units="1",
    default=10.0,
    bounds=(1.0, 500.0),
    source="overall V0/V_final",
    description="V0/V at the end of UF2 (>= concentration_factor_df)",
)
MAX_PHASE_DURATION = Parameter(
    name="max_phase_duration",
    units="h",
    default=24.0,
    bounds=(0.01, 500.0),
    source="",
    description="a phase not reaching its target ends here",
)
POINTS = Parameter(
    name="points",
    units="1",
    default=40,
    bounds=(4, 2000),
    source="",
    description="output intervals per phase",
    integer=True,
)


class TffUfdf(Process):
    """Batch UF/DF of a protein feed: UF1 -> DF -> UF2, each phase ending on its transition."""

    name = "tff_ufdf"
    description = (
        "Tangential-flow filtration, batch UF/DF with recirculated retentate: UF1 to 5x, 7 diavolumes "
        "of water, UF2 to 10x; gel-polarisation flux, antigen, HCP and DNA retained"
    )
    #: units of each KPI (pint; "" for a pure number)
    kpi_units = {
        "process_time_h": "h",
        "concentration_factor": "",
        "product_yield": "",
        "product_concentration_g_per_L": "g/L",
        "diavolumes": "",
        "permeate_volume_L": "L",
        "buffer_used_L": "L",
        "average_flux_LMH": "L/m^2/h",
        "salts_remaining_fraction": "",
        "*_time_h": "h",
    }
    operating = ParameterTable(
        (
            Parameter(
                name="feed_volume",
                units="L",
                default=50.0,
                bounds=(1e-3, 1e5),
                source="pilot-scale batch",
                description="feed volume V0, charged at the start of UF1",
            ),
            Parameter(
                name="feed_antigen",
                units="g/L",
                default=1.0,
                bounds=(0.0, 200.0),
                source="clarified harvest 0.5-5 g/L",
                description="antigen in the feed (polarising, retained)",
            ),
            Parameter(
                name="feed_dna",
                units="g/L",
                default=0.05,
                bounds=(0.0, 50.0),
                source="",
                description="DNA in the feed (retained)",
            ),
            Parameter(
                name="feed_hcp",
                units="g/L",
                default=0.2,
                bounds=(0.0, 50.0),
                source="",
                description="host-cell protein in the feed (retained)",
            ),
            Parameter(
                name="feed_salts",
                units="g/L",
                default=9.0,
                bounds=(0.0, 300.0),
                source="~150 mM NaCl",
                description="salts in the feed (free; exchanged in DF)",
            ),
            Parameter(
                name="feed_water",
                units="g/L",
                default=990.0,
                bounds=(0.0, 1000.0),
                source="",
                description="water in the feed",
            ),
            CONCENTRATION_FACTOR_DF,
            DIAVOLUMES,
            CONCENTRATION_FACTOR,
            MAX_PHASE_DURATION,
            POINTS,
        )
    )

    solver_options = OPTIONS

    def build(self):
        return build_tff_model(FLUX_MODEL, COMPONENTS, self.name, "1.0.0", tuple(STANDALONE_DEFAULTS.items()))

    # -- recipe ------------------------------------------------------------------------------------
    def recipe_for(self, operating: Mapping[str, float], parameters: Mapping[str, float]) -> Recipe:
        """UF1 (the feed charged at its start) -> DF -> UF2 from the operating and model values (SI)."""
        p = parameters
        cf_df, cf = operating["concentration_factor_df"], operating["concentration_factor"]
        if cf < cf_df:
            raise ParameterError(
                [("concentration_factor", f"{cf:g} is below concentration_factor_df {cf_df:g}")],
                f"process '{self.name}' parameters",
            )
        V0 = operating["feed_volume"]
        feed = {c: operating[f"feed_{c}"] for c in COMPONENTS}  # kg/m^3

        def flux(c_bulk: float) -> float:
            return steady_flux(
                FLUX_MODEL,
                c_bulk,
                p["permeability"],
                p["tmp"],
                p["mass_transfer_coefficient"],
                p["gel_concentration"],
                p["osmotic_coefficient"],
                p["virial_b2"],
                p["virial_b3"],
            )

        charge = {"V": from_si(V0, VOLUME_UNITS), "mass": [from_si(feed[c] * V0, MASS_UNITS) for c in COMPONENTS]}
        return Recipe(
            phases=ufdf_phases(
                V0,
                feed[POLARISING],
                flux,
                p["membrane_area"],
                cf_df,
                operating["diavolumes"],
                cf,
                operating["max_phase_duration"],
                int(operating["points"]),
                charge,
            )
        )

    # -- results -----------------------------------------------------------------------------------
    def kpis(self, result, operating):
        """Process time, concentration factor, product yield and concentration, diavolumes, volumes, average
        flux, the salt left and the time of each phase (computed in SI, read in the units their names carry)."""
        p = self.model.to_si(result.parameters)
        t = to_si(result.t, self.model.time_units)
        duration = float(t[-1] - t[0])
        V, mass = result.in_si("V"), result.in_si("mass")
        permeate = float(result.in_si("permeate_volume")[-1] - result.in_si("permeate_volume")[0])
        buffer = float(result.in_si("buffer_used")[-1] - result.in_si("buffer_used")[0])
        i, s = COMPONENTS.index(POLARISING), COMPONENTS.index("salts")

        def share(j: int) -> float:
            return float(mass[-1, j] / mass[0, j]) if mass[0, j] > 0 else float("nan")

        kpis = {
            "process_time_h": from_si(duration, "h"),
            "concentration_factor": float(V[0] / V[-1]),
            "product_yield": share(i),
            "product_concentration_g_per_L": from_si(mass[-1, i] / V[-1], "g/L"),
            "diavolumes": float(result.state("diavolumes")[-1]),
            "permeate_volume_L": from_si(permeate, "L"),
            "buffer_used_L": from_si(buffer, "L"),
            "average_flux_LMH": from_si(permeate / (p["membrane_area"] * duration), "L/m^2/h")
            if duration > 0
            else float("nan"),
            "salts_remaining_fraction": share(s),
        }
        for phase, dt in _phase_times(result).items():
            kpis[f"{phase}_time_h"] = from_si(to_si(dt, self.model.time_units), "h")
        return {k: float(x) for k, x in kpis.items()}

    def series(self, result, operating):
        """States and outputs over time, with the retentate concentration of each component (g/L)."""
        frame = result.frame(include_vectors=False)
        V, mass = result.in_si("V"), result.in_si("mass")
        for j, c in enumerate(COMPONENTS):
            frame[f"c_{c}"] = from_si(mass[:, j] / V, "g/L")
        frame.attrs["units"] = frame.attrs.get("units", {}) | {f"c_{c}": "g/L" for c in COMPONENTS}
        return frame
