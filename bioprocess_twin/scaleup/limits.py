"""Typical operating ranges that scale-up results are checked against, as declarative parameters.

Each limit is a ``Parameter`` with units and a source; a spec overrides any of them by name
(``limits: {tip_speed_max: "1.5 m/s"}``). ``check_limits`` turns a breach into a readable warning.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..core.parameters import Parameter, ParameterTable

#: stirred, sparged cell-culture vessel (CHO); keys ending in _max/_min compare with a table quantity
STIRRED_TANK_LIMITS = ParameterTable((
    Parameter("tip_speed_max", "m/s", 2.0, (0.1, 10), "DESIGN.md 4; Nienow 2006, Cytotechnology 50:9 (CHO 1.5-2 m/s)",
              "highest impeller tip speed for CHO suspension culture"),
    Parameter("power_per_volume_min", "W/m^3", 10.0, (0, 1e4), "DESIGN.md 4 (CHO 10-100 W/m3)",
              "lowest gassed power per volume that still suspends and mixes"),
    Parameter("power_per_volume_max", "W/m^3", 100.0, (0, 1e5), "DESIGN.md 4 (CHO 10-100 W/m3); Nienow 2006",
              "highest gassed power per volume for CHO culture"),
    Parameter("kla_min", "1/h", 2.0, (0, 1e3), "DESIGN.md 4 (CHO kLa 2-15 1/h)", "lowest typical kLa"),
    Parameter("kla_max", "1/h", 15.0, (0, 1e3), "DESIGN.md 4 (CHO kLa 2-15 1/h)", "highest typical kLa"),
    Parameter("mixing_time_max", "s", 120.0, (1, 3600), "Nienow 2006 (theta_95 up to ~100 s at 10 m3; pH and "
              "substrate gradients beyond)", "longest acceptable 95 % mixing time"),
    Parameter("vvm_max", "1/min", 0.1, (0, 5), "Nienow 2006 (CHO sparging 0.01-0.1 vvm; foam and bubble-burst "
              "damage above)", "highest gas flow per volume"),
    Parameter("kolmogorov_length_min", "um", 15.0, (0, 1000), "CHO cell diameter 12-18 um; Croughan, Hamel & Wang "
              "1987 (damage when eddies are smaller than the cell carrier); conservative for suspension cells",
              "smallest acceptable Kolmogorov length at the impeller"),
))

HOMOGENIZER_LIMITS = ParameterTable((
    Parameter("outlet_temperature_max", "degC", 40.0, (0, 100), "squalene emulsion practice: keep the product "
              "below ~40 C (surfactant cloud point, oxidation)", "highest product temperature after a pass"),
    Parameter("processing_time_max", "h", 8.0, (0.01, 240), "one production shift", "longest processing time"),
    Parameter("dissipation_mismatch_max", "1", 0.1, (0, 10), "eps sets the drop size (Hinze 1955; Walstra 1993)",
              "largest relative difference of the dissipation rate from the lab"),
))


@dataclass(frozen=True)
class LimitCheck:
    """A limit name ``<quantity>_max`` / ``<quantity>_min`` tested against ``values[quantity]``."""

    limit: str
    quantity: str
    bound: float
    value: float
    units: str
    message: str

    def to_dict(self) -> dict:
        return {"limit": self.limit, "quantity": self.quantity, "bound": self.bound, "value": self.value,
                "units": self.units, "message": self.message}


def check_limits(values: Mapping[str, float], limits: Mapping[str, float], table: ParameterTable,
                 labels: Mapping[str, str], scale: str = "target") -> list[LimitCheck]:
    """Every limit of ``table`` (values in ``limits``) that ``values`` breaks, as warnings."""
    out = []
    for p in table:
        quantity, side = p.name.rsplit("_", 1)
        if quantity not in values:
            continue
        value, bound = float(values[quantity]), float(limits[p.name])
        broken = value > bound if side == "max" else value < bound
        if broken:
            word = "above" if side == "max" else "below"
            label = labels.get(quantity, quantity)
            out.append(LimitCheck(p.name, quantity, bound, value, p.units,
                                  f"{scale}: {label} {value:.3g} {p.units} is {word} the {side}imum {bound:g} "
                                  f"{p.units} ({p.description}; {p.source})"))
    return out
