"""Stirred-vessel correlations: power, gassed power, kLa, mixing time, dissipation and shear.

Plain functions written with arithmetic and ``**`` only, so one function serves floats, NumPy
arrays, CasADi SX/MX and Pyomo expressions alike. SI units throughout: N in 1/s (rev/s), lengths in
m, power in W, gas flow Qg in m^3/s, density kg/m^3, viscosity Pa s; kLa is returned in 1/s.

Geometry (geometric similarity keeps H/T and D/T fixed)
    V = pi T^2 H / 4,   A = pi T^2 / 4
Tip speed and Reynolds number
    u_tip = pi N D,   Re = rho N D^2 / mu          (turbulent for Re > ~1e4)
Ungassed power (turbulent; Rushton, Costich & Everett 1950; Nienow 1997)
    P0 = n_imp Np rho N^3 D^5
Gassed power (Michel & Miller 1962, AIChE J 8:262; per impeller, each sees the full gas flow)
    Pg = c (P0^2 N D^3 / Qg^0.56)^0.45,   c = 0.08 in the published units (hp, rpm, ft, ft^3/min),
    converted by pint to W, 1/s, m, m^3/s: c = 0.08 hp (hp^-2 rpm^-1 ft^-3 (ft^3/min)^0.56)^0.45 = 0.706
    (1 hp = 745.7 W, the handbook value)
    ``describe_operation`` caps Pg at P0: the correlation overshoots P0 at very low gas flow.
Gas flow
    v_s = Qg / A  (superficial gas velocity, m/s),   vvm = Qg / V  (gas volumes per liquid volume and
    time; 1/s inside, reported per minute by pint)
Volumetric mass transfer (van 't Riet 1979, Ind Eng Chem Process Des Dev 18:357 and others)
    kLa = a (Pg/V)^alpha v_s^beta            (kLa in 1/s, Pg/V in W/m^3, v_s in m/s)
    OTR = kLa (c* - c)
Mixing time, turbulent regime (Grenville 1992 PhD thesis; Nienow 1997, Chem Eng Sci 52:2557);
taller vessels with several impellers after Nienow 2006 (Cytotechnology 50:9), (H/T)^2.5
    theta_95 = 5.20 / (N Np^(1/3)) (T/D)^2 (H/T)^2.5
Dissipation and shear (Kolmogorov 1941; impeller swept-volume estimate of the local maximum,
Zhou & Kresta 1996, AIChE J 42:2476)
    eps = P / (rho V)  (W/kg),   eps_max = (P / n_imp) / (rho pi D^3 / 4)
    eta_K = (nu^3 / eps)^(1/4),   shear rate of the smallest eddies  G = (eps / nu)^(1/2)
Only ``vvm``, ``gas_flow_from_vvm`` and ``describe_operation`` give or take values in other units
(vvm per minute; the reading units of ``OPERATION_QUANTITIES``), converted by pint.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..core.parameters import ParameterError
from ..core.units import Quantity, from_si, to_si

PI = math.pi
#: Michel & Miller 1962: Pg = 0.08 (P0^2 N D^3 / Qg^0.56)^0.45 with Pg, P0 in hp, N in rpm, D in ft, Qg in ft^3/min
MICHEL_MILLER_C_PUBLISHED = 0.08
#: the horsepower of that conversion: 745.7 W, the four-figure value engineering handbooks use (pint's
#: mechanical hp, 745.69987 W, would lower c by 1.7e-8 relative; kept so recorded results do not move)
MICHEL_MILLER_HP = Quantity(745.7, "W")
#: the units of that constant: Pg / (P0^2 N D^3 / Qg^0.56)^0.45 = hp (hp^-2 rpm^-1 ft^-3 (ft^3/min)^0.56)^0.45
MICHEL_MILLER_C_UNITS = (
    MICHEL_MILLER_HP
    * (
        MICHEL_MILLER_HP**-2
        * Quantity(1.0, "rpm") ** -1
        * Quantity(1.0, "ft") ** -3
        * Quantity(1.0, "ft^3/min") ** 0.56
    )
    ** 0.45
)
#: the same constant in SI (W, 1/s, m, m^3/s), the rpm, ft and ft^3/min converted by pint: 0.706
MICHEL_MILLER_C_SI = float((MICHEL_MILLER_C_PUBLISHED * MICHEL_MILLER_C_UNITS).to_base_units().magnitude)
#: gas flow per liquid volume is quoted per minute (vvm)
VVM_UNITS = "1/min"
MIXING_TIME_CONSTANT = 5.20  # Grenville 1992; Nienow 1997 (theta_95, H = T, single impeller)
MIXING_ASPECT_EXPONENT = 2.5  # Nienow 2006 for multi-impeller vessels with H > T
RHO_WATER = 1000.0  # kg/m^3
MU_MEDIUM = 0.9e-3  # Pa s, aqueous culture medium at 37 C


# -- impellers -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Impeller:
    """An impeller type: turbulent power number Np = P/(rho N^3 D^5) and flow number Nq = Q_pump/(N D^3)."""

    name: str
    power_number: float
    flow_number: float
    source: str
    description: str = ""


IMPELLERS: dict[str, Impeller] = {
    i.name: i
    for i in (
        Impeller(
            "rushton",
            5.0,
            0.72,
            "Rushton, Costich & Everett 1950; Nienow 1997 (Np 5.0, Nq 0.72)",
            "six-blade Rushton disc turbine, radial flow",
        ),
        Impeller(
            "pitched_blade",
            1.3,
            0.79,
            "Chapple et al. 2002, Chem Eng Res Des 80:364 (4 blades, 45 deg)",
            "four-blade 45 degree pitched-blade turbine, axial down-pumping",
        ),
        Impeller(
            "marine",
            0.35,
            0.5,
            "Paul, Atiemo-Obeng & Kresta 2004, Handbook of Industrial Mixing, ch. 6",
            "three-blade marine propeller, axial flow",
        ),
        Impeller(
            "hydrofoil",
            0.3,
            0.56,
            "Paul, Atiemo-Obeng & Kresta 2004, Handbook of Industrial Mixing, ch. 6 (Lightnin A310)",
            "narrow-blade hydrofoil, axial flow, low shear",
        ),
        Impeller(
            "elephant_ear",
            0.6,
            0.7,
            "Zhu, Nienow, Bujalski & Simmons 2009, Chem Eng Res Des 87:307 "
            "(order of magnitude; measured Np depends on pumping direction)",
            "wide-blade 'elephant ear' hydrofoil of cell-culture vessels",
        ),
    )
}


def find_impeller(name: str) -> Impeller:
    """The impeller called ``name``; ParameterError naming the field ``impeller`` otherwise."""
    try:
        return IMPELLERS[name]
    except (KeyError, TypeError):
        raise ParameterError([("impeller", f"unknown impeller '{name}'; known: {', '.join(IMPELLERS)}")]) from None


# -- kLa correlations ------------------------------------------------------------------------------
@dataclass(frozen=True)
class KlaCorrelation:
    """kLa = a (P/V)^alpha v_s^beta, kLa in 1/s, P/V in W/m^3, v_s in m/s."""

    a: float
    alpha: float
    beta: float
    source: str
    medium: str


KLA_CORRELATIONS: dict[str, KlaCorrelation] = {
    "van_t_riet_coalescing": KlaCorrelation(
        0.026, 0.4, 0.5, "van 't Riet 1979, Ind Eng Chem Process Des Dev 18:357", "coalescing (water, clean media)"
    ),
    "van_t_riet_non_coalescing": KlaCorrelation(
        0.002, 0.7, 0.2, "van 't Riet 1979, Ind Eng Chem Process Des Dev 18:357", "non-coalescing (electrolytes)"
    ),
    "linek_coalescing": KlaCorrelation(
        0.00495,
        0.593,
        0.4,
        "Linek, Vacek & Benes 1987, Chem Eng J 34:11 (as tabulated by Garcia-Ochoa & "
        "Gomez 2009, Biotechnol Adv 27:153)",
        "coalescing (water)",
    ),
    "smith_coalescing": KlaCorrelation(
        0.01,
        0.475,
        0.4,
        "Smith, Middleton & Edwards 1977, Proc 2nd Eur Conf Mixing F4 (as tabulated by Garcia-Ochoa & Gomez 2009)",
        "coalescing (water)",
    ),
}


def find_kla_correlation(name: str) -> KlaCorrelation:
    """The kLa correlation called ``name``; ParameterError naming ``kla_correlation`` otherwise."""
    try:
        return KLA_CORRELATIONS[name]
    except (KeyError, TypeError):
        raise ParameterError(
            [("kla_correlation", f"unknown correlation '{name}'; known: {', '.join(KLA_CORRELATIONS)}")]
        ) from None


# -- vessel ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Vessel:
    """A stirred tank: working volume (m^3), tank diameter T, liquid height H and impeller diameter D (m).

    ``volume`` must match pi T^2 H / 4 within 5 % (dished bottoms make it differ a little).
    """

    volume: float
    tank_diameter: float
    liquid_height: float
    impeller_diameter: float
    impeller: str = "rushton"
    n_impellers: int = 1

    def __post_init__(self):
        errors = []
        for name in ("volume", "tank_diameter", "liquid_height", "impeller_diameter"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                errors.append((name, f"must be a positive number, got {value!r}"))
        if self.impeller not in IMPELLERS:
            errors.append(("impeller", f"unknown impeller '{self.impeller}'; known: {', '.join(IMPELLERS)}"))
        if not isinstance(self.n_impellers, int) or not 1 <= self.n_impellers <= 6:
            errors.append(("n_impellers", f"must be a whole number from 1 to 6, got {self.n_impellers!r}"))
        if errors:
            raise ParameterError(errors, "vessel")
        if not 0.15 <= self.impeller_diameter / self.tank_diameter <= 0.7:
            errors.append(
                ("impeller_diameter", f"D/T = {self.impeller_diameter / self.tank_diameter:.3g} is outside 0.15-0.7")
            )
        cylinder = PI * self.tank_diameter**2 * self.liquid_height / 4
        if abs(cylinder / self.volume - 1) > 0.05:
            errors.append(
                ("volume", f"{self.volume:g} m3 differs by more than 5 % from pi T^2 H / 4 = {cylinder:g} m3")
            )
        if errors:
            raise ParameterError(errors, "vessel")

    @classmethod
    def from_volume(
        cls,
        volume: float,
        aspect_ratio: float = 1.0,
        d_over_t: float = 1 / 3,
        impeller: str = "rushton",
        n_impellers: int = 1,
    ) -> Vessel:
        """Vessel of working ``volume`` (m^3) with H/T = ``aspect_ratio`` and D/T = ``d_over_t``."""
        errors = [
            (name, f"must be a positive number, got {value!r}")
            for name, value in (("volume", volume), ("aspect_ratio", aspect_ratio), ("d_over_t", d_over_t))
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0
        ]
        if errors:
            raise ParameterError(errors, "vessel")
        T = (4 * volume / (PI * aspect_ratio)) ** (1 / 3)
        return cls(volume, T, aspect_ratio * T, d_over_t * T, impeller, n_impellers)

    def scaled(self, volume: float) -> Vessel:
        """A geometrically similar vessel of working ``volume`` (same H/T, D/T, impellers)."""
        return Vessel.from_volume(volume, self.aspect_ratio, self.d_over_t, self.impeller, self.n_impellers)

    @property
    def aspect_ratio(self) -> float:
        return self.liquid_height / self.tank_diameter

    @property
    def d_over_t(self) -> float:
        return self.impeller_diameter / self.tank_diameter

    @property
    def cross_section(self) -> float:
        return PI * self.tank_diameter**2 / 4

    @property
    def power_number(self) -> float:
        return IMPELLERS[self.impeller].power_number

    def to_dict(self) -> dict:
        return asdict(self)


# -- correlations (arithmetic only: floats, arrays, CasADi, Pyomo) ---------------------------------
def tip_speed(N, D):
    """Impeller tip speed (m/s) from N (1/s) and D (m)."""
    return PI * N * D


def reynolds(N, D, rho=RHO_WATER, mu=MU_MEDIUM):
    """Impeller Reynolds number rho N D^2 / mu (N 1/s, D m, rho kg/m^3, mu Pa s)."""
    return rho * N * D**2 / mu


def ungassed_power(Np, rho, N, D, n_impellers=1):
    """Turbulent ungassed power (W): n Np rho N^3 D^5."""
    return n_impellers * Np * rho * N**3 * D**5


def speed_for_power(P, Np, rho, D, n_impellers=1):
    """Impeller speed N (1/s) that draws the turbulent ungassed power P (W): ungassed_power solved for N."""
    return (P / (n_impellers * Np * rho * D**5)) ** (1 / 3)


def gassed_power_michel_miller(P0, N, D, Qg, c=MICHEL_MILLER_C_SI):
    """Gassed power (W) of one impeller, Michel & Miller 1962: c (P0^2 N D^3 / Qg^0.56)^0.45.

    P0 ungassed power of that impeller (W), N (1/s), D (m), Qg (m^3/s). Valid while Pg < P0.
    """
    return c * (P0**2 * N * D**3 / Qg**0.56) ** 0.45


def superficial_gas_velocity(Qg, T):
    """Superficial gas velocity (m/s): Qg (m^3/s) over the tank cross-section pi T^2/4 (T in m)."""
    return 4 * Qg / (PI * T**2)


def kla(P_per_V, v_s, correlation: str = "van_t_riet_coalescing"):
    """kLa (1/s) = a (P/V)^alpha v_s^beta with P/V in W/m^3 (gassed power) and v_s in m/s."""
    k = find_kla_correlation(correlation)
    return k.a * P_per_V**k.alpha * v_s**k.beta


def mixing_time(N, D, T, H, Np, constant=MIXING_TIME_CONSTANT, aspect_exponent=MIXING_ASPECT_EXPONENT):
    """95 % mixing time (s), turbulent: constant / (N Np^(1/3)) (T/D)^2 (H/T)^aspect_exponent.

    N in 1/s, D, T, H in m, Np of one impeller. Grenville 1992 / Nienow 1997 for H = T;
    (H/T)^2.5 for taller multi-impeller vessels (Nienow 2006).
    """
    return constant / (N * Np ** (1 / 3)) * (T / D) ** 2 * (H / T) ** aspect_exponent


def energy_dissipation(P, rho, V):
    """Mean specific energy dissipation rate eps = P / (rho V) (W/kg)."""
    return P / (rho * V)


def max_energy_dissipation(P_per_impeller, rho, D):
    """Dissipation in the impeller swept volume pi D^3/4 (W/kg), an estimate of the local maximum."""
    return P_per_impeller / (rho * PI * D**3 / 4)


def kolmogorov_length(eps, nu):
    """Kolmogorov microscale (m): (nu^3 / eps)^(1/4), nu in m^2/s, eps in W/kg."""
    return (nu**3 / eps) ** 0.25


def kolmogorov_shear_rate(eps, nu):
    """Shear rate of the smallest eddies (1/s): (eps / nu)^(1/2)."""
    return (eps / nu) ** 0.5


def otr(kla_value, c_star, c):
    """Oxygen transfer rate kLa (c* - c), in the concentration units of c per unit of time of kLa."""
    return kla_value * (c_star - c)


def vvm(Qg, V):
    """Gas volumes per liquid volume per minute from Qg (m^3/s) and V (m^3): Qg/V (1/s) read per minute."""
    return from_si(Qg / V, VVM_UNITS)


def gas_flow_from_vvm(vvm_value, V):
    """Gas flow (m^3/s) for a given vvm (1/min) and liquid volume V (m^3)."""
    return to_si(vvm_value, VVM_UNITS) * V


# -- one operating point ---------------------------------------------------------------------------
#: key -> (label, units) of the quantities ``describe_operation`` returns (values in these units)
OPERATION_QUANTITIES: dict[str, tuple[str, str]] = {
    "volume": ("working volume", "m^3"),
    "tank_diameter": ("tank diameter T", "m"),
    "impeller_diameter": ("impeller diameter D", "m"),
    "agitation_rpm": ("agitation N", "rpm"),
    "tip_speed": ("tip speed", "m/s"),
    "reynolds": ("Reynolds number", "1"),
    "ungassed_power": ("ungassed power P0", "W"),
    "gassed_power": ("gassed power Pg", "W"),
    "ungassed_power_per_volume": ("ungassed power per volume P0/V", "W/m^3"),
    "power_per_volume": ("gassed power per volume Pg/V", "W/m^3"),
    "gas_flow": ("gas flow Qg", "L/min"),
    "vvm": ("gas flow per volume", VVM_UNITS),
    "superficial_gas_velocity": ("superficial gas velocity v_s", "mm/s"),
    "kla": ("kLa", "1/h"),
    "mixing_time": ("mixing time theta_95", "s"),
    "eps_mean": ("mean dissipation eps", "W/kg"),
    "eps_max": ("impeller-zone dissipation eps_max", "W/kg"),
    "kolmogorov_length": ("Kolmogorov length (at eps_max)", "um"),
    "max_shear_rate": ("Kolmogorov shear rate (at eps_max)", "1/s"),
}


def describe_operation(
    vessel: Vessel,
    N: float,
    Qg: float,
    rho: float = RHO_WATER,
    mu: float = MU_MEDIUM,
    kla_correlation: str = "van_t_riet_coalescing",
) -> dict[str, float]:
    """Everything a scale-up table shows for ``vessel`` at N (1/s) and gas flow Qg (m^3/s).

    Computed in SI and returned in the units of ``OPERATION_QUANTITIES`` (rpm, L/min, 1/h, ... for
    reading), converted by pint.
    """
    errors = [
        (name, f"must be a finite number >= 0, got {value!r}")
        for name, value in (("N", N), ("Qg", Qg))
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0)
    ]
    errors += [
        (name, f"must be a positive number, got {value!r}")
        for name, value in (("rho", rho), ("mu", mu))
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0)
    ]
    if errors:
        raise ParameterError(errors, "operating point")
    find_kla_correlation(kla_correlation)
    D, T, H, V = vessel.impeller_diameter, vessel.tank_diameter, vessel.liquid_height, vessel.volume
    Np, n = vessel.power_number, vessel.n_impellers
    p_single = ungassed_power(Np, rho, N, D)
    pg_single = p_single if Qg == 0 or N == 0 else min(p_single, gassed_power_michel_miller(p_single, N, D, Qg))
    P0, Pg = n * p_single, n * pg_single
    v_s = superficial_gas_velocity(Qg, T)
    nu = mu / rho
    eps_max = max_energy_dissipation(pg_single, rho, D)
    k = kla(Pg / V, v_s, kla_correlation) if Pg > 0 and v_s > 0 else 0.0
    si = {
        "volume": V,
        "tank_diameter": T,
        "impeller_diameter": D,
        "agitation_rpm": N,
        "tip_speed": tip_speed(N, D),
        "reynolds": reynolds(N, D, rho, mu),
        "ungassed_power": P0,
        "gassed_power": Pg,
        "ungassed_power_per_volume": P0 / V,
        "power_per_volume": Pg / V,
        "gas_flow": Qg,
        "vvm": Qg / V,
        "superficial_gas_velocity": v_s,
        "kla": k,
        "mixing_time": mixing_time(N, D, T, H, Np) if N > 0 else math.inf,
        "eps_mean": energy_dissipation(Pg, rho, V),
        "eps_max": eps_max,
        "kolmogorov_length": kolmogorov_length(eps_max, nu) if eps_max > 0 else math.inf,
        "max_shear_rate": kolmogorov_shear_rate(eps_max, nu),
    }
    return {key: from_si(value, OPERATION_QUANTITIES[key][1]) for key, value in si.items()}
