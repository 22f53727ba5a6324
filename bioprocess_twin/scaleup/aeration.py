"""Aeration and agitation sizing at the target scale: a small NLP solved by Pyomo + cyipopt.

Oxygen demand -> required kLa (DO kept at its setpoint; O2 enrichment raises c*):
    c* = c*_air y_O2 / 0.2095,   kLa_req = OUR / (c* - DO_set c*_air)
Sizing problem over agitation N (1/s) and gas flow Qg (m^3/s):
    min   Pg(N, Qg) + w Qg                       gassed power + gas compression power (W)
    s.t.  a (Pg/V)^alpha v_s^beta >= kLa_req      (kLa correlation of correlations/agitation.py)
          pi N D <= u_tip,max,   (P/V)_min <= Pg/V <= (P/V)_max,   theta_95(N) <= theta_max
          Pg <= P0  (Michel-Miller validity)
          vvm_min <= Qg / V <= vvm_max
    Pg = n c (P0,1^2 N D^3 / Qg^0.56)^0.45 = n c Np^0.9 rho^0.9 D^5.85 N^3.15 Qg^-0.252  (Michel & Miller 1962)
    w = p_atm ln(1 + rho g H / p_atm) / eta_c  (isothermal compression to the sparger depth, J/m^3)
Closed form when only the kLa constraint is active: with x = Pg and y = Qg the stationarity conditions
1 = lambda alpha k / x and w = lambda beta k / y give w y = (beta/alpha) x, hence
    x* = (k V^alpha A^beta (alpha w / beta)^beta / a)^(1/(alpha+beta)),  y* = beta x* / (alpha w)
and N* from the Michel-Miller relation (``closed_form_optimum``). The map (N, Qg) -> (Pg, Qg) is one to
one for N > 0, so this is the optimum of the problem in (N, Qg) too.
Units: the equations are SI. For the solver's scaling the NLP's gas-flow variable is q in L/min
(``NLP_GAS_FLOW_UNITS``, Qg = q converted by pint) and the kLa constraint is written in 1/h
(``NLP_KLA_UNITS``), so variables and constraint are of order 1-100; OUR is in mmol/L/h and the required
kLa in 1/h (``kla_required``), DO setpoints are fractions of air saturation, vvm per minute.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import asdict, dataclass, field

from ..core.parameters import ParameterError
from ..core.units import from_si, to_magnitude, to_si
from ..correlations import agitation as ag

AIR_OXYGEN_FRACTION = 0.2095
P_ATM = 101325.0  # Pa
G = 9.80665  # m/s^2
#: units the NLP works in, for its scaling: the gas flow variable in L/min, the kLa constraint in 1/h
NLP_GAS_FLOW_UNITS = "L/min"
NLP_KLA_UNITS = "1/h"
#: the lowest agitation the NLP may try (1/s): keeps N^3.15 and 1/N away from zero
NLP_SPEED_FLOOR = 1e-3
#: relative distance from a bound within which a constraint counts as binding at the optimum
ACTIVE_TOL = 1e-6
#: IPOPT's convergence tolerance and iteration limit
IPOPT_TOL = 1e-10
IPOPT_MAX_ITER = 500


def kla_required(
    our: float, do_setpoint: float, c_star_air: float = 0.2, oxygen_fraction: float = AIR_OXYGEN_FRACTION
) -> float:
    """kLa (1/h) that supplies ``our`` (mmol/L/h) with DO at ``do_setpoint`` (fraction of air saturation).

    ``c_star_air`` is the saturation concentration with air (mmol/L); ``oxygen_fraction`` that of the sparge gas.
    """
    c_star = c_star_air * oxygen_fraction / AIR_OXYGEN_FRACTION
    driving = c_star - do_setpoint * c_star_air
    if driving <= 0:
        raise ParameterError(
            [
                (
                    "do_setpoint",
                    f"DO setpoint {from_si(do_setpoint, 'percent'):g} % is not below "
                    f"the saturation {from_si(c_star / c_star_air, 'percent'):.3g} % of the sparge gas",
                )
            ]
        )
    return our / driving


def sparging_energy(liquid_height: float, rho: float = ag.RHO_WATER, efficiency: float = 0.6) -> float:
    """Energy to compress gas isothermally to the sparger depth (J per m^3 of gas at the surface)."""
    return P_ATM * math.log(1 + rho * G * liquid_height / P_ATM) / efficiency


@dataclass
class AerationDesign:
    """Optimum operating point of ``size_aeration`` (``ok`` False when no point meets every requirement)."""

    ok: bool
    status: str
    message: str
    N: float = math.nan  # 1/s
    Qg: float = math.nan  # m^3/s
    objective: float = math.nan  # W
    kla_required: float = math.nan  # 1/h
    operation: dict = field(default_factory=dict)  # describe_operation at the optimum
    active: list = field(default_factory=list)  # binding constraints and bounds

    @property
    def agitation_rpm(self) -> float:
        return to_magnitude({"value": self.N, "units": "1/s"}, "rpm")

    @property
    def gas_flow_L_per_min(self) -> float:
        return to_magnitude({"value": self.Qg, "units": "m^3/s"}, "L/min")

    def describe(self) -> str:
        """One line for people: the kLa needed, the operating point and the binding constraints."""
        if not self.ok:
            return f"aeration sizing failed ({self.status}): {self.message}"
        return (
            f"kLa ≥ {self.kla_required:.3g} 1/h at {self.agitation_rpm:.4g} rpm and "
            f"{self.gas_flow_L_per_min:.4g} L/min; binding: {', '.join(self.active) or 'none'}"
        )

    def to_dict(self) -> dict:
        """The fields (N in 1/s, Qg in m^3/s), the same operating point in rpm and L/min, and ``text``."""
        return asdict(self) | {
            "agitation_rpm": self.agitation_rpm,
            "gas_flow_L_per_min": self.gas_flow_L_per_min,
            "text": self.describe(),
        }


def closed_form_optimum(
    vessel: ag.Vessel,
    kla_required_per_h: float,
    gas_energy: float,
    rho: float = ag.RHO_WATER,
    correlation: str = "van_t_riet_coalescing",
) -> tuple[float, float]:
    """(N 1/s, Qg m^3/s) of the sizing problem when only the kLa constraint binds (module docstring)."""
    k = ag.find_kla_correlation(correlation)
    alpha, beta = k.alpha, k.beta
    V, A = vessel.volume, vessel.cross_section
    kla_req = to_si(kla_required_per_h, NLP_KLA_UNITS)  # 1/s
    x = (kla_req * V**alpha * A**beta * (alpha * gas_energy / beta) ** beta / k.a) ** (1 / (alpha + beta))
    y = beta * x / (alpha * gas_energy)
    D, n, Np = vessel.impeller_diameter, vessel.n_impellers, vessel.power_number
    N = (x * y**0.252 / (n * ag.MICHEL_MILLER_C_SI * (Np * rho) ** 0.9 * D**5.85)) ** (1 / 3.15)
    return N, y


def cyipopt_solver():
    """Pyomo's cyipopt solver; raises RuntimeError with the fix when PyNumero's ASL library is missing."""
    import pyomo.environ as pe
    from pyomo.contrib.pynumero.asl import AmplInterface

    if not AmplInterface.available():
        raise RuntimeError(
            "PyNumero's ASL library is missing: apt-get install libamplsolver-dev, then python -m "
            "pyomo.contrib.pynumero.build -DASL_INCLUDE_DIR=/usr/include/ampl-netlib-solvers "
            "-DASL_LIBRARY=/usr/lib/x86_64-linux-gnu/libamplsolver.so (bash .ci/bootstrap does this)"
        )
    return pe.SolverFactory("cyipopt")


def size_aeration(
    vessel: ag.Vessel,
    kla_required_per_h: float,
    *,
    rho: float = ag.RHO_WATER,
    mu: float = ag.MU_MEDIUM,
    correlation: str = "van_t_riet_coalescing",
    tip_speed_max: float = 2.0,
    power_per_volume_max: float = 100.0,
    power_per_volume_min: float = 0.0,
    mixing_time_max: float = math.inf,
    vvm_min: float = 0.002,
    vvm_max: float = 0.1,
    gas_energy: float | None = None,
    initial: tuple[float, float] | None = None,
) -> AerationDesign:
    """Cheapest (N, Qg) at the target that reaches ``kla_required_per_h`` within the shear and gas limits."""
    import pyomo.environ as pe
    from pyomo.opt import TerminationCondition

    k = ag.find_kla_correlation(correlation)
    w = sparging_energy(vessel.liquid_height, rho) if gas_energy is None else gas_energy
    V, T, D, n, Np = (
        vessel.volume,
        vessel.tank_diameter,
        vessel.impeller_diameter,
        vessel.n_impellers,
        vessel.power_number,
    )
    Qg_lo, Qg_hi = ag.gas_flow_from_vvm(vvm_min, V), ag.gas_flow_from_vvm(vvm_max, V)  # m^3/s
    q_lo, q_hi = from_si(Qg_lo, NLP_GAS_FLOW_UNITS), from_si(Qg_hi, NLP_GAS_FLOW_UNITS)
    if initial is None:
        initial = (0.5 * tip_speed_max / (math.pi * D), ag.gas_flow_from_vvm(math.sqrt(vvm_min * vvm_max), V))
    m = pe.ConcreteModel("aeration_sizing")
    m.N = pe.Var(bounds=(NLP_SPEED_FLOOR, None), initialize=initial[0])
    m.q = pe.Var(bounds=(q_lo, q_hi), initialize=min(max(from_si(initial[1], NLP_GAS_FLOW_UNITS), q_lo), q_hi))
    Qg = to_si(m.q, NLP_GAS_FLOW_UNITS)
    p_single = ag.ungassed_power(Np, rho, m.N, D)
    m.Pg = pe.Expression(expr=n * ag.gassed_power_michel_miller(p_single, m.N, D, Qg))
    m.cost = pe.Objective(expr=m.Pg + w * Qg)
    m.kla = pe.Constraint(
        expr=from_si(ag.kla(m.Pg / V, ag.superficial_gas_velocity(Qg, T), correlation), NLP_KLA_UNITS)
        >= kla_required_per_h
    )
    m.tip_speed = pe.Constraint(expr=ag.tip_speed(m.N, D) <= tip_speed_max)
    m.power_per_volume = pe.Constraint(expr=pe.inequality(power_per_volume_min, m.Pg / V, power_per_volume_max))
    if math.isfinite(mixing_time_max):
        m.mixing_time = pe.Constraint(expr=ag.mixing_time(m.N, D, T, vessel.liquid_height, Np) <= mixing_time_max)
    m.michel_miller_validity = pe.Constraint(expr=m.Pg <= n * p_single)
    solver = cyipopt_solver()
    solver.config.options.update({"tol": IPOPT_TOL, "print_level": 0, "sb": "yes", "max_iter": IPOPT_MAX_ITER})
    try:
        with _quiet_pyomo():
            res = solver.solve(m, tee=False)
        tc = res.solver.termination_condition
    except (RuntimeError, ValueError, ArithmeticError) as exc:
        return AerationDesign(False, "error", f"{type(exc).__name__}: {exc}", kla_required=kla_required_per_h)
    N_opt, Qg_opt = float(pe.value(m.N)), to_si(float(pe.value(m.q)), NLP_GAS_FLOW_UNITS)
    if tc != TerminationCondition.optimal:
        return AerationDesign(
            False,
            str(tc),
            _infeasible_reason(
                vessel, kla_required_per_h, rho, k, tip_speed_max, power_per_volume_max, Qg_hi, mixing_time_max
            ),
            kla_required=kla_required_per_h,
        )
    active = []
    kla_opt = ag.kla(pe.value(m.Pg) / V, ag.superficial_gas_velocity(Qg_opt, T), correlation)
    for name, body, bound in (
        ("kla >= required", from_si(kla_opt, NLP_KLA_UNITS), kla_required_per_h),
        ("tip_speed <= max", ag.tip_speed(N_opt, D), tip_speed_max),
        ("power_per_volume <= max", pe.value(m.Pg) / V, power_per_volume_max),
        ("power_per_volume >= min", pe.value(m.Pg) / V, power_per_volume_min),
        ("mixing_time <= max", ag.mixing_time(N_opt, D, T, vessel.liquid_height, Np), mixing_time_max),
        ("vvm >= min", ag.vvm(Qg_opt, V), vvm_min),
        ("vvm <= max", ag.vvm(Qg_opt, V), vvm_max),
        ("gassed power <= ungassed", pe.value(m.Pg), n * pe.value(p_single)),
    ):
        if math.isfinite(bound) and abs(body - bound) <= ACTIVE_TOL * max(1.0, abs(bound)):
            active.append(name)
    return AerationDesign(
        True,
        "optimal",
        "optimal",
        N_opt,
        Qg_opt,
        float(pe.value(m.cost)),
        kla_required_per_h,
        ag.describe_operation(vessel, N_opt, Qg_opt, rho, mu, correlation),
        active,
    )


@contextlib.contextmanager
def _quiet_pyomo():
    """Silence Pyomo's warning about the last (infeasible) iterate lying outside the variable bounds."""
    logger = logging.getLogger("pyomo.core")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _infeasible_reason(vessel, kla_req, rho, k, tip_speed_max, pv_max, Qg_max, mixing_time_max) -> str:
    """Which limits conflict: mixing time against tip speed or P/V, else the best kLa within the limits."""
    D, V = vessel.impeller_diameter, vessel.volume
    N_tip = tip_speed_max / (math.pi * D)
    N_mix = ag.mixing_time(1.0, D, vessel.tank_diameter, vessel.liquid_height, vessel.power_number) / mixing_time_max
    if N_mix > N_tip:
        return (
            f"the mixing-time limit {mixing_time_max:g} s needs N >= {from_si(N_mix, 'rpm'):.3g} rpm but the "
            f"tip-speed limit {tip_speed_max:g} m/s allows at most {from_si(N_tip, 'rpm'):.3g} rpm"
        )
    pv_mix = ag.describe_operation(vessel, N_mix, Qg_max, rho)["power_per_volume"]
    if pv_mix > pv_max:
        return (
            f"the mixing-time limit {mixing_time_max:g} s needs N >= {from_si(N_mix, 'rpm'):.3g} rpm, i.e. P/V >= "
            f"{pv_mix:.3g} W/m3, above the P/V limit {pv_max:g} W/m3"
        )
    pg = min(ag.describe_operation(vessel, N_tip, Qg_max, rho)["gassed_power"], pv_max * V)
    best = from_si(
        k.a * (pg / V) ** k.alpha * ag.superficial_gas_velocity(Qg_max, vessel.tank_diameter) ** k.beta, NLP_KLA_UNITS
    )
    return (
        f"no operating point reaches kLa {kla_req:.3g} 1/h: at most about {best:.3g} 1/h within tip speed "
        f"{tip_speed_max:g} m/s, P/V {pv_max:g} W/m3 and {ag.vvm(Qg_max, V):g} vvm; raise the O2 "
        "fraction of the sparge gas, the vvm limit or the shear limits"
    )
