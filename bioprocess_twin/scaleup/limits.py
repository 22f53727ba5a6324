"""Typical operating ranges that scale-up results are checked against, as declarative parameters.

Each limit is a ``Parameter`` with units and a source; a spec overrides any of them by name
(``limits: {tip_speed_max: "1.5 m/s"}``). ``check_limits`` turns a breach into a readable warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..core.parameters import Parameter, ParameterTable

#: stirred, sparged cell-culture vessel (CHO); keys ending in _max/_min compare with a table quantity
STIRRED_TANK_LIMITS = ParameterTable(
    (
        Parameter(
            name="tip_speed_max",
            units="m/s",
            default=2.0,
            bounds=(0.1, 10),
            source="Nienow 2006, Cytotechnology 50:9 (CHO 1.5-2 m/s)",
            description="highest impeller tip speed for CHO suspension culture",
        ),
        Parameter(
            name="power_per_volume_min",
            units="W/m^3",
            default=10.0,
            bounds=(0, 1e4),
            source="typical CHO culture practice (10-100 W/m3)",
            description="lowest gassed power per volume that still suspends and mixes",
        ),
        Parameter(
            name="power_per_volume_max",
            units="W/m^3",
            default=100.0,
            bounds=(0, 1e5),
            source="typical CHO culture practice (10-100 W/m3); Nienow 2006",
            description="highest gassed power per volume for CHO culture",
        ),
        Parameter(
            name="kla_min",
            units="1/h",
            default=2.0,
            bounds=(0, 1e3),
            source="typical CHO culture practice (kLa 2-15 1/h)",
            description="lowest typical kLa",
        ),
        Parameter(
            name="kla_max",
            units="1/h",
            default=15.0,
            bounds=(0, 1e3),
            source="typical CHO culture practice (kLa 2-15 1/h)",
            description="highest typical kLa",
        ),
        Parameter(
            name="mixing_time_max",
            units="s",
            default=120.0,
            bounds=(1, 3600),
            source="Nienow 2006 (theta_95 up to ~100 s at 10 m3; pH and substrate gradients beyond)",
            description="longest acceptable 95 % mixing time",
        ),
        Parameter(
            name="vvm_max",
            units="1/min",
            default=0.1,
            bounds=(0, 5),
            source="Nienow 2006 (CHO sparging 0.01-0.1 vvm; foam and bubble-burst damage above)",
            description="highest gas flow per volume",
        ),
        Parameter(
            name="kolmogorov_length_min",
            units="um",
            default=15.0,
            bounds=(0, 1000),
            source="CHO cell diameter 12-18 um; Croughan, Hamel & Wang "
            "1987 (damage when eddies are smaller than the cell carrier); conservative for suspension cells",
            description="smallest acceptable Kolmogorov length at the impeller",
        ),
    )
)

HOMOGENIZER_LIMITS = ParameterTable(
    (
        Parameter(
            name="outlet_temperature_max",
            units="degC",
            default=40.0,
            bounds=(0, 100),
            source="squalene emulsion practice: keep the product below ~40 C (surfactant cloud point, oxidation)",
            description="highest product temperature after a pass",
        ),
        Parameter(
            name="processing_time_max",
            units="h",
            default=8.0,
            bounds=(0.01, 240),
            source="one production shift",
            description="longest processing time",
        ),
        Parameter(
            name="dissipation_mismatch_max",
            units="1",
            default=0.1,
            bounds=(0, 10),
            source="eps sets the drop size (Hinze 1955; Walstra 1993)",
            description="largest relative difference of the dissipation rate from the lab",
        ),
    )
)


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
        return {
            "limit": self.limit,
            "quantity": self.quantity,
            "bound": self.bound,
            "value": self.value,
            "units": self.units,
            "message": self.message,
        }


def check_limits(
    values: Mapping[str, float],
    limits: Mapping[str, float],
    table: ParameterTable,
    labels: Mapping[str, str],
    scale: str = "target",
) -> list[LimitCheck]:
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
            out.append(
                LimitCheck(
                    p.name,
                    quantity,
                    bound,
                    value,
                    p.units,
                    f"{scale}: {label} {value:.3g} {p.units} is {word} the {side}imum {bound:g} "
                    f"{p.units} ({p.description}; {p.source})",
                )
            )
    return out
