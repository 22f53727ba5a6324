"""High-pressure homogenizer / microfluidizer scale-up: the same energy density at another flow and chamber.

The drop size depends on the pressure drop (energy density E_V = dp per pass), the number of passes
and the dissipation rate in the interaction zone (units/emulsion_homogenizer.py; Walstra 1993, Chem
Eng Sci 48:333; Hakansson 2015). Keeping dp, passes and eps = dp / (rho_e t_res) keeps the size
distribution; with t_res = V_zone / Q that means the dissipation zone grows in proportion to the flow
(parallel or wider channels: the Microfluidics scale-up principle of fixed channel dimensions).
    rho_e = (1 - phi) rho_c + phi rho_d,   t_res = V_zone / Q,   eps = dp / (rho_e t_res)
    E_V = n_passes dp,   processing time = n_passes V_batch / Q
    temperature rise per pass dT = dp / (rho_e c_p)   (~2.4 K per 100 bar in water)
    cooling duty to return the product to T_inlet = Q dp   (all pressure energy ends as heat)
    Kolmogorov length eta = (nu_c^3 / eps)^(1/4)
"""
from __future__ import annotations

from ..units import agitation as ag


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


def describe_homogenizer(pressure_bar: float, n_passes: int, flow_L_h: float, batch_L: float, chamber_nL: float,
                         T_inlet_C: float, rho_e: float, cp: float, mu_c: float = 1e-3,
                         rho_c: float = 1000.0) -> dict[str, float]:
    """Operating quantities of one homogenizer scale in the units of ``HOMOGENIZER_QUANTITIES``."""
    dp = pressure_bar * 1e5
    Q = flow_L_h / 3.6e6                      # m^3/s
    t_res = chamber_nL * 1e-12 / Q
    eps = ag.energy_dissipation(dp, rho_e, 1.0) / t_res       # dp / (rho_e t_res)
    rise = dp / (rho_e * cp)
    return {
        "pressure": pressure_bar, "n_passes": float(n_passes), "flow_rate": flow_L_h, "batch_volume": batch_L,
        "chamber_volume": chamber_nL, "residence_time": t_res * 1e6, "dissipation_rate": eps,
        "energy_density": n_passes * dp / 1e6, "processing_time": n_passes * batch_L / flow_L_h,
        "temperature_rise": rise, "outlet_temperature": T_inlet_C + rise, "cooling_duty": Q * dp / 1e3,
        "kolmogorov_length": ag.kolmogorov_length(eps, mu_c / rho_c) * 1e9,
    }


def target_chamber_volume(lab_chamber_nL: float, lab_flow: float, target_flow: float) -> float:
    """Dissipation-zone volume that keeps the lab residence time (and so eps) at the target flow."""
    return lab_chamber_nL * target_flow / lab_flow


def emulsion_scenario(pressure_bar: float, n_passes: int, flow_L_h: float, chamber_nL: float, T_inlet_C: float,
                      cooling: bool, fluid: dict) -> dict:
    """A ``SimulationSpec`` document for the emulsion_homogenizer model at this operating point.

    The flow is given at the operating pressure, so the reference pressure is set to it.
    """
    return {
        "model": "emulsion_homogenizer",
        "parameters": {"n_passes": int(n_passes), "T_inlet": T_inlet_C, "cooling": int(bool(cooling)),
                       "flow_rate": f"{flow_L_h:.10g} L/h", "reference_pressure": pressure_bar,
                       "chamber_volume": chamber_nL, **fluid},
        "inputs": {"pressure": pressure_bar},
    }
