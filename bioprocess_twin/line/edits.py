"""The settings of a production line an engineer may change, and the line definition they give.

The counterpart of ``scaleup.edits`` for lines. A setting is a dotted path into a line definition
(``LineDefinition.model_dump(by_alias=True)``) and a number in fixed units:

- ``units.<unit>.parameters.<name>``: every parameter the unit declares (``UnitOperation.parameters``), in its
  declared units and bounds; the ones the line sets itself (homogenizer pressure and passes, flow rates, tank
  volumes, ...) are its main settings, the others keep the unit's defaults unless changed;
- ``feeds.<feed>.volume`` (L; together the batch size), ``feeds.<feed>.temperature`` (degC) and
  ``feeds.<feed>.concentrations.<component>`` (g/L).

:func:`with_line_settings` writes edited numbers back as text with their units (``"1200 bar"``); ``parse_line``
and ``build_line`` then validate the result and name any bad field by the same path.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import catalogue
from ..core.parameters import ParameterError
from ..core.units import UnitsError, to_magnitude

#: units feed quantities are edited in, and the units a bare number in a line definition means (``FeedSpec``)
FEED_UNITS = {"volume": "L", "temperature": "degC", "concentrations": "g/L"}
FEED_BARE_UNITS = {"volume": "m^3", "temperature": "K", "concentrations": "kg/m^3"}
#: volumes and concentrations are not negative; a temperature is checked by the library
FEED_BOUNDS = {"volume": (0.0, None), "temperature": (None, None), "concentrations": (0.0, None)}


@dataclass(frozen=True)
class LineSetting:
    """One editable number of a line: its ``path``, the ``group`` it is shown in, a ``label``, the pint ``units``
    it is edited in, its current ``value``, ``bounds`` (None: open), ``integer`` for counts, a ``description``,
    and ``main`` when the line definition sets it (a unit parameter) or it is a feed's volume or temperature."""

    path: str
    group: str
    label: str
    units: str
    value: float
    bounds: tuple[float | None, float | None] = (None, None)
    integer: bool = False
    description: str = ""
    main: bool = True


def line_settings(definition: Mapping[str, Any]) -> list[LineSetting]:
    """The editable settings of a line definition (a mapping as dumped), main ones first within each unit."""
    out: list[LineSetting] = []
    errors: list[tuple[str, str]] = []
    for uid, spec in definition["units"].items():
        try:
            declared = catalogue.unit_class(spec["kind"]).parameters.describe()
        except KeyError:
            continue
        given = spec.get("parameters") or {}
        for p in sorted(declared, key=lambda p: p["name"] not in given):
            path = f"units.{uid}.parameters.{p['name']}"
            try:
                value = to_magnitude(given[p["name"]], p["units"]) if p["name"] in given else float(p["default"])
            except UnitsError as exc:
                errors.append((path, str(exc)))
                continue
            lo, hi = p["bounds"]
            out.append(
                LineSetting(path, f"{uid} ({spec['kind']})", p["name"], p["units"], value, (lo, hi), bool(p["integer"]),
                        p.get("description", ""), p["name"] in given)
            )  # fmt: skip
    for name, feed in (definition.get("feeds") or {}).items():
        entries = [("volume", feed.get("volume")), ("temperature", feed.get("temperature", "20 degC"))]
        entries += [(f"concentrations.{c}", v) for c, v in (feed.get("concentrations") or {}).items()]
        for key, given in entries:
            kind = key.split(".", 1)[0]
            path = f"feeds.{name}.{key}"
            if not isinstance(given, str):
                given = f"{given!r} {FEED_BARE_UNITS[kind]}"
            try:
                value = to_magnitude(given, FEED_UNITS[kind])
            except UnitsError as exc:
                errors.append((path, str(exc)))
                continue
            label = key.split(".", 1)[1] if kind == "concentrations" else key
            main = kind != "concentrations"  # volume and temperature; the composition is folded
            out.append(LineSetting(path, f"feed {name}", label, FEED_UNITS[kind], value, FEED_BOUNDS[kind], main=main))
    if errors:
        raise ParameterError(errors, f"line '{definition.get('name', '')}' settings")
    return out


def with_line_settings(
    definition: Mapping[str, Any], values: Mapping[str, float], known: Mapping[str, LineSetting]
) -> dict:
    """A copy of the definition (a mapping as dumped) with the values that differ from the current ones written
    in as text with their units (``"1200 bar"``); the library's ``parse_line`` then validates it."""
    out = copy.deepcopy(dict(definition))
    for path, value in values.items():
        s = known[path]
        if math.isclose(value, s.value, rel_tol=1e-12, abs_tol=0.0):
            continue
        *parents, leaf = path.split(".")
        node = out
        for key in parents:
            if node.get(key) is None:
                node[key] = {}
            node = node[key]
            if not isinstance(node, dict):
                raise ParameterError([(path, "cannot be set in this line definition")], "line settings")
        number = int(value) if s.integer else value
        node[leaf] = f"{number!r} {s.units}" if s.units not in ("", "1") else number
    return out
