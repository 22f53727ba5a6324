"""Declarative parameters: name, units, bounds, default, source and description, validated on entry."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .units import UnitsError, parse_units, to_magnitude, to_si


class ParameterError(ValueError):
    """One or more values failed validation. ``errors`` lists ``(field, message)`` pairs."""

    def __init__(self, errors: Sequence[tuple[str, str]], context: str = ""):
        self.errors = list(errors)
        head = f"{context}: " if context else ""
        super().__init__(head + "; ".join(f"{name}: {msg}" for name, msg in self.errors))


@dataclass(frozen=True, kw_only=True)
class Parameter:
    """A named scalar with units and bounds: the one way to declare a model parameter, an input, an
    operating parameter or a unit parameter, always by keyword::

        Parameter(name="mu_max", units="1/h", default=0.5, bounds=(0, 3), source="Monod 1949",
                  description="maximum specific growth rate")

    ``bounds`` are inclusive and in ``units``. ``integer`` marks counts such as passes. Users give
    values in any compatible units; equations receive them in SI (:meth:`si`).
    """

    name: str
    units: str
    default: float
    bounds: tuple[float, float] = (-math.inf, math.inf)
    source: str = ""
    description: str = ""
    integer: bool = False

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"parameter name '{self.name}' must be a Python identifier")
        parse_units(self.units)
        lo, hi = self.bounds
        if not lo <= hi:
            raise ValueError(f"{self.name}: lower bound {lo} exceeds upper bound {hi}")
        self.check(self.default)

    def check(self, value: Any) -> float:
        """Convert ``value`` to this parameter's units and check it; raise ParameterError naming it."""
        try:
            x = to_magnitude(value, self.units)
        except UnitsError as exc:
            raise ParameterError([(self.name, str(exc))]) from None
        lo, hi = self.bounds
        if not math.isfinite(x):
            raise ParameterError([(self.name, f"must be finite, got {x}")])
        if not lo <= x <= hi:
            raise ParameterError(
                [(self.name, f"{x:g} {self.units} is outside the bounds [{lo:g}, {hi:g}] {self.units}")]
            )
        if self.integer and x != int(x):
            raise ParameterError([(self.name, f"must be a whole number, got {x:g}")])
        return x

    def si(self, value: Any) -> float:
        """``value`` checked (:meth:`check`) and converted to SI base units."""
        return float(to_si(self.check(value), self.units))

    def describe(self) -> dict[str, Any]:
        lo, hi = self.bounds
        return {
            "name": self.name,
            "units": self.units,
            "default": self.default,
            "bounds": [None if math.isinf(lo) else lo, None if math.isinf(hi) else hi],
            "source": self.source,
            "description": self.description,
            "integer": self.integer,
        }


@dataclass(frozen=True)
class ParameterTable:
    """An ordered, name-indexed collection of parameters with whole-set validation."""

    items: tuple[Parameter, ...] = field(default_factory=tuple)

    def __post_init__(self):
        names = [p.name for p in self.items]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate parameter names: {', '.join(dupes)}")

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, name: str) -> Parameter:
        for p in self.items:
            if p.name == name:
                return p
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(p.name == name for p in self.items)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.items]

    def defaults(self) -> dict[str, float]:
        return {p.name: float(p.default) for p in self.items}

    def resolve(self, given: Mapping[str, Any] | None, context: str = "parameters") -> dict[str, float]:
        """Defaults overridden by ``given``; every unknown name and bad value is reported at once."""
        values = self.defaults()
        errors: list[tuple[str, str]] = []
        for name, value in (given or {}).items():
            if name not in self:
                hint = difflib.get_close_matches(name, self.names, n=1)
                errors.append(
                    (
                        name,
                        "unknown name"
                        + (f" (did you mean '{hint[0]}'?)" if hint else "")
                        + f"; known: {', '.join(self.names) or 'none'}",
                    )
                )
                continue
            try:
                values[name] = self[name].check(value)
            except ParameterError as exc:
                errors.extend(exc.errors)
        if errors:
            raise ParameterError(errors, context)
        return values

    def resolve_si(self, given: Mapping[str, Any] | None, context: str = "parameters") -> dict[str, float]:
        """As :meth:`resolve`, in SI base units: what equations receive."""
        return {name: float(to_si(value, self[name].units)) for name, value in self.resolve(given, context).items()}

    def describe(self) -> list[dict[str, Any]]:
        return [p.describe() for p in self.items]


def table(params: Iterable[Parameter]) -> ParameterTable:
    return ParameterTable(tuple(params))
