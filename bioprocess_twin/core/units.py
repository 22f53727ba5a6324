"""One pint registry for the whole project, and conversion of user values to declared units."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import pint

ureg: pint.UnitRegistry = pint.UnitRegistry(on_redefinition="ignore")
# Stirrer speeds: process correlations (P = Np rho N^3 D^5) take N in revolutions per time, so one
# rpm is 1/min here, not pint's 2*pi rad/min.
ureg.define("rpm = 1/minute")
ureg.define("rps = 1/second")
ureg.define("cell = count = _ = cells")  # plant cell counts: "1e6 cells/mL" == Mcount/mL
ureg.define("dose = count = _ = doses")  # vaccine doses: a demand of "12 Mdose" is 1.2e7 doses
Quantity = ureg.Quantity
_NUMBER_THEN_UNITS = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


class UnitsError(ValueError):
    """A value whose units are unknown or cannot be converted."""


@lru_cache(maxsize=512)
def parse_units(units: str) -> pint.Unit:
    """Parse a unit string once (``"1/h"``, ``"g/L"``, ``"W/kg"``, ``"1"`` for dimensionless)."""
    try:
        return ureg.Unit(units or "dimensionless")
    except (
        pint.UndefinedUnitError,
        pint.errors.DefinitionSyntaxError,
        AttributeError,
        TypeError,
        ValueError,
        AssertionError,
    ) as exc:
        raise UnitsError(f"unknown units '{units}'") from exc


@lru_cache(maxsize=512)
def si_scale(units: str) -> tuple[float, float]:
    """``(factor, offset)`` with value in SI base units = factor * value + offset, from pint.

    Rounded to 15 significant digits, so that g/L -> kg/m^3 is exactly 1 and mL/min -> m^3/s is
    1/6e7 without pint's last-digit noise. Offset units (degC) have an offset; the others 0.
    """
    unit = parse_units(units)
    zero = float(Quantity(0.0, unit).to_base_units().magnitude)
    one = float(Quantity(1.0, unit).to_base_units().magnitude)
    return float(f"{one - zero:.15g}"), float(f"{zero:.15g}")


def to_si(value: Any, units: str) -> Any:
    """``value`` in ``units`` (a number, array or CasADi expression) in SI base units."""
    factor, offset = si_scale(units)
    if factor == 1.0 and offset == 0.0:
        return value
    return value * factor + offset if offset else value * factor


def from_si(value: Any, units: str) -> Any:
    """``value`` in SI base units (a number, array or CasADi expression) in ``units``."""
    factor, offset = si_scale(units)
    if factor == 1.0 and offset == 0.0:
        return value
    return (value - offset) / factor if offset else value / factor


def to_magnitude(value: Any, units: str) -> float:
    """Return ``value`` as a float in ``units``.

    Accepts a plain number (taken to be in ``units`` already), a string such as ``"1000 bar"``,
    a mapping ``{"value": 1000, "units": "bar"}`` or a pint Quantity.
    """
    target = parse_units(units)
    if isinstance(value, dict):
        if set(value) - {"value", "units"} or "value" not in value:
            raise UnitsError("expected {'value': number, 'units': 'text'}")
        value = Quantity(value["value"], value.get("units", units))
    elif isinstance(value, str):
        match = _NUMBER_THEN_UNITS.match(value)
        try:
            # number and units apart, so offset units such as "25 degC" are accepted
            value = Quantity(float(match.group(1)), match.group(2) or "dimensionless") if match else Quantity(value)
        except Exception as exc:  # pint raises several unrelated types on bad text
            raise UnitsError(f"cannot read '{value}' as a quantity") from exc
    if isinstance(value, pint.Quantity):
        try:
            return float(value.to(target).magnitude)
        except pint.DimensionalityError as exc:
            raise UnitsError(f"'{value}' cannot be converted to {units}") from exc
    if isinstance(value, bool):
        raise UnitsError(f"expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise UnitsError(f"expected a number, got {value!r}") from exc
