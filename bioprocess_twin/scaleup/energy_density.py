"""High-pressure homogenizer / microfluidizer scale-up: the same energy density at another flow and chamber.

The drop size depends on the pressure drop (energy density E_V = dp per pass), the number of passes
and the dissipation rate in the interaction zone (processes/emulsion_homogenizer.py; Walstra 1993, Chem
Eng Sci 48:333; Hakansson 2015). Keeping dp, passes and eps = dp / (rho_e t_res) keeps the size
distribution; with t_res = V_zone / Q that means the dissipation zone grows in proportion to the flow
(parallel or wider channels: the Microfluidics scale-up principle of fixed channel dimensions).
    rho_e = (1 - phi) rho_c + phi rho_d,   t_res = V_zone / Q,   eps = dp / (rho_e t_res)
    E_V = n_passes dp,   processing time = n_passes V_batch / Q
    temperature rise per pass dT = dp / (rho_e c_p)   (~2.4 K per 100 bar in water)
    cooling duty to return the product to T_inlet = Q dp   (all pressure energy ends as heat)
    Kolmogorov length eta = (nu_c^3 / eps)^(1/4)
The equations are evaluated in SI (Pa, m^3/s, m^3, s, K, W); ``describe_homogenizer`` takes and returns its
values in the units of ``HOMOGENIZER_QUANTITIES`` (bar, L/h, nL, ...), converted by pint where they enter and leave.
"""

from __future__ import annotations

from ..core.units import from_si, to_si
from ..correlations import agitation as ag


def emulsion_density(oil_fraction: float, rho_c: float, rho_d: float) -> float:
    """Emulsion density (kg/m^3), volume-weighted as in the emulsion model."""
    return (1 - oil_fraction) * rho_c + oil_fraction * rho_d


#: key -> (label, units) of ``describe_homogenizer``
HOMOGENIZER_QUANTITIES: dict[str, tuple[str, str]] = {
    "pressure": ("homogenizing pressure dp", "bar"),
    "n_passes": ("passes", "1"),
    "flow_rate": ("flow rate Q", "L/h"),
    "batch_volume": ("batch volume", "L"),
    "chamber_volume": ("dissipation-zone volume V_zone", "nL"),
    "residence_time": ("residence time in the zone t_res", "us"),
    "dissipation_rate": ("dissipation rate eps", "W/kg"),
    "energy_density": ("energy density over all passes n dp", "MJ/m^3"),
    "processing_time": ("processing time n V / Q", "h"),
    "temperature_rise": ("temperature rise per pass", "K"),
    "outlet_temperature": ("outlet temperature", "degC"),
    "cooling_duty": ("cooling duty Q dp", "kW"),
    "kolmogorov_length": ("Kolmogorov length", "nm"),
}


def describe_homogenizer(
    pressure_bar: float,
    n_passes: int,
    flow_L_h: float,
    batch_L: float,
    chamber_nL: float,
    T_inlet_C: float,
    rho_e: float,
    cp: float,
    mu_c: float = 1e-3,
    rho_c: float = 1000.0,
) -> dict[str, float]:
    """Operating quantities of one homogenizer scale in the units of ``HOMOGENIZER_QUANTITIES``.

    The arguments are in those units too (rho_e, rho_c kg/m^3, cp J/kg/K, mu_c Pa s); pint converts them to SI,
    the equations of the module docstring are evaluated in SI, and the results are converted back.
    """
    units = {key: u for key, (_, u) in HOMOGENIZER_QUANTITIES.items()}
    dp = to_si(pressure_bar, units["pressure"])  # Pa
    Q = to_si(flow_L_h, units["flow_rate"])  # m^3/s
    t_res = to_si(chamber_nL, units["chamber_volume"]) / Q  # s
    eps = ag.energy_dissipation(dp, rho_e, 1.0) / t_res  # dp / (rho_e t_res), W/kg
    rise = dp / (rho_e * cp)  # K
    si = {
        "residence_time": t_res,
        "dissipation_rate": eps,
        "energy_density": n_passes * dp,
        "processing_time": n_passes * to_si(batch_L, units["batch_volume"]) / Q,
        "temperature_rise": rise,
        "outlet_temperature": to_si(T_inlet_C, units["outlet_temperature"]) + rise,
        "cooling_duty": Q * dp,
        "kolmogorov_length": ag.kolmogorov_length(eps, mu_c / rho_c),
    }
    given = {
        "pressure": pressure_bar,
        "n_passes": float(n_passes),
        "flow_rate": flow_L_h,
        "batch_volume": batch_L,
        "chamber_volume": chamber_nL,
    }
    return {key: given[key] if key in given else from_si(si[key], units[key]) for key in HOMOGENIZER_QUANTITIES}


def target_chamber_volume(lab_chamber_nL: float, lab_flow: float, target_flow: float) -> float:
    """Dissipation-zone volume that keeps the lab residence time (and so eps) at the target flow."""
    return lab_chamber_nL * target_flow / lab_flow


def emulsion_scenario(
    pressure_bar: float, n_passes: int, flow_L_h: float, chamber_nL: float, T_inlet_C: float, cooling: bool, fluid: dict
) -> dict:
    """A ``SimulationSpec`` document for the emulsion_homogenizer model at this operating point.

    The flow is given at the operating pressure, so the reference pressure is set to it.
    """
    return {
        "model": "emulsion_homogenizer",
        "parameters": {
            "n_passes": int(n_passes),
            "T_inlet": T_inlet_C,
            "cooling": int(bool(cooling)),
            "flow_rate": f"{flow_L_h:.10g} L/h",
            "reference_pressure": pressure_bar,
            "chamber_volume": chamber_nL,
            **fluid,
        },
        "inputs": {"pressure": pressure_bar},
    }
