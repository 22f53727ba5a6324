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
#: longest unit text accepted
MAX_UNITS_CHARS = 100
_POWER = r"(?:\*\*|\^)"
#: powers pint would evaluate in integer arithmetic without bound ("10**10**10", "(9)**(9)**(9)", "m**2**99"):
#: a number or a group of numbers raised to a power, and a power of a power
_UNBOUNDED_POWER = re.compile(
    rf"(?:^|[^A-Za-z_\d.])[\d.]+(?:[eE][-+]?\d+)?\s*{_POWER}"
    rf"|\([\s\d.eE+\-*/^]*\)\s*{_POWER}"
    rf"|{_POWER}[\s\d.eE+\-()]*{_POWER}"
)
_NUMBER_THEN_UNITS = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


class UnitsError(ValueError):
    """A value whose units are unknown or cannot be converted."""


@lru_cache(maxsize=512)
def parse_units(units: str) -> pint.Unit:
    """Parse a unit string once (``"1/h"``, ``"g/L"``, ``"W/kg"``, ``"1"`` for dimensionless)."""
    text = str(units)
    if len(text) > MAX_UNITS_CHARS or _UNBOUNDED_POWER.search(text):
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise UnitsError(f"unknown units '{shown}': at most {MAX_UNITS_CHARS} characters, and no power of a number")
    try:
        return ureg.Unit(units or "dimensionless")
    except Exception as exc:  # pint raises many unrelated types on bad text (and OverflowError on huge powers)
        shown = units if len(str(units)) <= 60 else str(units)[:57] + "..."
        raise UnitsError(f"unknown units '{shown}'") from exc


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

    Accepts a plain number (taken to be in ``units`` already), a string such as ``"1000 bar"`` (a number,
    then units), a mapping ``{"value": 1000, "units": "bar"}`` or a pint Quantity. Anything else, and
    text that is not a number followed by units, raises UnitsError: free text is never handed to pint's
    expression parser, which evaluates arithmetic such as ``10**10**10`` without bound.
    """
    target = parse_units(units)
    if isinstance(value, dict):
        if set(value) - {"value", "units"} or "value" not in value:
            raise UnitsError("expected {'value': number, 'units': 'text'}")
        magnitude, given = value["value"], value.get("units", units)
        if not isinstance(given, str):
            raise UnitsError(f"units must be text, got {_shown(given)}")
        value = Quantity(_number(magnitude), parse_units(given))
    elif isinstance(value, str):
        match = _NUMBER_THEN_UNITS.match(value)
        if not match:
            raise UnitsError(f"cannot read {_shown(value)} as a number followed by units, e.g. '1000 bar'")
        try:  # number and units apart, so offset units such as "25 degC" are accepted
            value = Quantity(_number(match.group(1)), parse_units(match.group(2)))
        except UnitsError as exc:
            raise UnitsError(f"cannot read {_shown(value)}: {exc}") from None
    if isinstance(value, pint.Quantity):
        try:
            return float(value.to(target).magnitude)
        except pint.DimensionalityError:
            raise UnitsError(f"{_shown(value)} cannot be converted to {units}") from None
        except (pint.PintError, ArithmeticError, ValueError, TypeError) as exc:
            raise UnitsError(f"{_shown(value)} cannot be converted to {units}: {exc}") from None
    return _number(value)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) and not hasattr(value, "__float__"):
        raise UnitsError(f"expected a number, got {_shown(value)}")
    try:
        return float(value)
    except OverflowError:
        raise UnitsError(f"{_shown(value)} is beyond the range of a floating-point number") from None
    except (TypeError, ValueError):
        raise UnitsError(f"expected a number, got {_shown(value)}") from None


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, pint.Quantity) else f"'{value:~}'"
    return text if len(text) <= limit else text[: limit - 3] + "..."
