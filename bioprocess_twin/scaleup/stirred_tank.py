"""Stirred-tank scale translation: pick the target agitation and gas flow for a scale-up criterion.

The agitation criterion fixes N at the target; the gas basis fixes Qg (sections of docs/scaleup.md):
    power_per_volume   P0/V equal:   N_t = N_l (P0/V)_l^(1/3) (V_t / (n Np rho D_t^5))^(1/3) -> N ~ V^(-2/9)
    tip_speed          pi N D equal: N_t = N_l D_l / D_t                                    -> N ~ V^(-1/3)
    mixing_time        theta_95 equal (Grenville/Nienow): N_t = N_l theta_l / theta_t(N=1)   -> N ~ V^0 (similar)
    speed              N equal (reference case)
    kla                kLa equal at the gas flow of the gas basis: solve a (Pg/V)^alpha v_s^beta = kLa_l for N
    vvm                gas at constant vvm, agitation at constant P0/V (vvm alone does not fix N)
    gas basis: vvm (Qg ~ V) or superficial_velocity (Qg ~ T^2 ~ V^(2/3))
With geometric similarity (D ~ V^(1/3)) these give the textbook exponents (Oldshue 1983, Fluid Mixing
Technology ch. 8; Nienow 2006, Cytotechnology 50:9): constant P/V raises the tip speed ~V^(1/9) and the
mixing time ~V^(2/9); constant tip speed lowers P/V ~V^(-1/3); constant N raises P/V ~V^(2/3).
Everything here is SI (N and kLa in 1/s, Qg in m^3/s, lengths in m); only messages convert, by pint.
"""

from __future__ import annotations

import math

from scipy.optimize import brentq

from ..core.parameters import ParameterError
from ..core.units import from_si
from ..correlations import agitation as ag

#: criterion -> (what is held, one-line consequence at geometric similarity)
CRITERIA: dict[str, tuple[str, str]] = {
    "power_per_volume": (
        "ungassed power per volume P0/V",
        "N ~ V^-2/9; tip speed rises ~V^1/9; mixing time rises ~V^2/9",
    ),
    "tip_speed": ("impeller tip speed pi N D", "N ~ V^-1/3; P/V falls ~V^-1/3; mixing time rises ~V^1/3"),
    "kla": ("volumetric mass-transfer coefficient kLa", "N set so that kLa matches at the chosen gas basis"),
    "vvm": (
        "gas volumes per volume per minute (with constant P0/V for agitation)",
        "superficial gas velocity rises ~V^1/3; kLa rises",
    ),
    "mixing_time": ("95 % mixing time", "N constant at geometric similarity; P/V rises ~V^2/3; tip speed ~V^1/3"),
    "speed": ("agitation speed N (reference)", "P/V rises ~V^2/3; tip speed rises ~V^1/3"),
}
#: agitation range (1/s) searched for the kla criterion: 1e-3 to 100 rev/s, i.e. 0.06 to 6000 rpm
SPEED_BRACKET = (1e-3, 100.0)
#: absolute tolerance of the root in log N (a relative tolerance of N)
LOG_SPEED_TOL = 1e-12
GAS_BASES: dict[str, str] = {
    "vvm": "gas flow per liquid volume (Qg ~ V)",
    "superficial_velocity": "superficial gas velocity (Qg ~ T^2)",
}


def target_gas_flow(lab: ag.Vessel, Qg_lab: float, target: ag.Vessel, gas_basis: str) -> float:
    """Gas flow (m^3/s) at the target that keeps vvm or the superficial velocity of the lab."""
    if gas_basis == "vvm":
        return Qg_lab * target.volume / lab.volume
    if gas_basis == "superficial_velocity":
        return Qg_lab * target.cross_section / lab.cross_section
    raise ParameterError([("gas_basis", f"unknown gas basis '{gas_basis}'; known: {', '.join(GAS_BASES)}")])


def gassed_power_total(vessel: ag.Vessel, N: float, Qg: float, rho: float) -> float:
    """Gassed power of all impellers (W), Michel-Miller capped at the ungassed power (as describe_operation)."""
    return ag.describe_operation(vessel, N, Qg, rho)["gassed_power"]


def speed_for_kla(vessel: ag.Vessel, Qg: float, kla_target: float, rho: float, correlation: str) -> float:
    """Agitation N (1/s) that gives ``kla_target`` (1/s) at gas flow Qg (m^3/s); kLa rises monotonically with N."""
    v_s = ag.superficial_gas_velocity(Qg, vessel.tank_diameter)

    def gap(log_n):
        pv = gassed_power_total(vessel, math.exp(log_n), Qg, rho) / vessel.volume
        return math.log(ag.kla(pv, v_s, correlation)) - math.log(kla_target)

    lo, hi = (math.log(n) for n in SPEED_BRACKET)
    if gap(lo) > 0 or gap(hi) < 0:
        n_lo, n_hi = (from_si(n, "rpm") for n in SPEED_BRACKET)
        raise ParameterError(
            [
                (
                    "criterion",
                    f"no agitation between {n_lo:.3g} and {n_hi:.4g} rpm reaches kLa "
                    f"{from_si(kla_target, '1/h'):.3g} 1/h at this gas flow",
                )
            ]
        )
    return math.exp(brentq(gap, lo, hi, xtol=LOG_SPEED_TOL))


def target_speed(
    lab: ag.Vessel,
    N_lab: float,
    Qg_lab: float,
    target: ag.Vessel,
    Qg_target: float,
    criterion: str,
    rho: float,
    correlation: str,
) -> float:
    """Agitation N (1/s) at the target for ``criterion`` (see module docstring)."""
    if criterion in ("power_per_volume", "vvm"):
        pv = ag.ungassed_power(lab.power_number, rho, N_lab, lab.impeller_diameter, lab.n_impellers) / lab.volume
        return ag.speed_for_power(
            pv * target.volume, target.power_number, rho, target.impeller_diameter, target.n_impellers
        )
    if criterion == "tip_speed":
        return N_lab * lab.impeller_diameter / target.impeller_diameter
    if criterion == "mixing_time":
        theta_lab = ag.mixing_time(N_lab, lab.impeller_diameter, lab.tank_diameter, lab.liquid_height, lab.power_number)
        theta_unit = ag.mixing_time(
            1.0, target.impeller_diameter, target.tank_diameter, target.liquid_height, target.power_number
        )
        return theta_unit / theta_lab
    if criterion == "speed":
        return N_lab
    if criterion == "kla":
        if Qg_lab <= 0 or Qg_target <= 0:
            raise ParameterError([("vvm", "the kla criterion needs a gas flow at both scales")])
        pv = gassed_power_total(lab, N_lab, Qg_lab, rho) / lab.volume
        k_lab = ag.kla(pv, ag.superficial_gas_velocity(Qg_lab, lab.tank_diameter), correlation)
        return speed_for_kla(target, Qg_target, k_lab, rho, correlation)
    raise ParameterError([("criterion", f"unknown criterion '{criterion}'; known: {', '.join(CRITERIA)}")])


def scale_operation(
    lab: ag.Vessel,
    N_lab: float,
    Qg_lab: float,
    target: ag.Vessel,
    criterion: str,
    gas_basis: str = "vvm",
    rho: float = ag.RHO_WATER,
    correlation: str = "van_t_riet_coalescing",
) -> tuple[float, float]:
    """Target (N in 1/s, Qg in m^3/s) for ``criterion``; the ``vvm`` criterion forces the vvm gas basis."""
    Qg_target = target_gas_flow(lab, Qg_lab, target, "vvm" if criterion == "vvm" else gas_basis)
    return target_speed(lab, N_lab, Qg_lab, target, Qg_target, criterion, rho, correlation), Qg_target
