"""The scale-up spec fields a person usually changes, read and written in the units they are edited in.

A scale-up spec keeps quantities as numbers or text with units (``"2000 L"``, ``"150 rpm"``). The
dashboard edits a few of them as plain numbers in fixed units; :func:`field_values` reads those numbers
from a spec (pint converts, e.g. ``"2 m^3"`` -> 2000 for a field in L) and :func:`with_field_values`
writes edited numbers back as text with their units, so the spec, and the JSON shown for it, keeps its
units. Validation stays with :func:`~.spec.parse_scaleup_spec`: an emptied box leaves the field None and
the error names it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.parameters import ParameterError
from ..core.units import UnitsError, to_magnitude


@dataclass(frozen=True)
class SpecField:
    """One editable field: its dotted ``path`` in the spec, a ``label``, the ``units`` it is edited in (None: a
    plain number such as a count or vvm, written as is; ``display_units`` is what to show next to it),
    ``integer`` for counts, and ``optional`` when an empty value leaves out the section that holds it."""

    path: str
    label: str
    units: str | None
    display_units: str = ""
    integer: bool = False
    optional: bool = False


#: editable fields of each kind of scale-up, in the order a form shows them
FIELDS: dict[str, tuple[SpecField, ...]] = {
    "stirred_tank": (
        SpecField("stirred_tank.criterion", "criterion", None),
        SpecField("stirred_tank.gas_basis", "gas flow basis", None),
        SpecField("stirred_tank.target_volume", "target volume", "L", "L"),
        SpecField("stirred_tank.agitation", "lab agitation", "rpm", "rpm"),
        SpecField("stirred_tank.vvm", "lab gas flow", None, "vvm"),
        SpecField("stirred_tank.oxygen.our", "peak OUR", "mmol/L/h", "mmol/L/h", optional=True),
    ),
    "homogenizer": (
        SpecField("homogenizer.target.flow_rate", "target flow", "L/h", "L/h"),
        SpecField("homogenizer.target.batch_volume", "target batch", "L", "L"),
        SpecField("homogenizer.lab.pressure", "pressure", "bar", "bar"),
        SpecField("homogenizer.lab.n_passes", "passes", None, integer=True),
    ),
}


def fields(kind: str) -> tuple[SpecField, ...]:
    return FIELDS[kind]


def _get(spec: Mapping[str, Any], path: str) -> Any:
    node: Any = spec
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def field_values(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The editable fields of ``spec`` (a spec mapping with ``kind``) as numbers in each field's units;
    a field the spec leaves out is None."""
    out: dict[str, Any] = {}
    errors = []
    for f in _fields(spec):
        value = _get(spec, f.path)
        if f.units is not None and value is not None:
            try:
                value = round(to_magnitude(value, f.units), 10)
            except UnitsError as exc:
                errors.append((f.path, str(exc)))
        out[f.path] = value
    if errors:
        raise ParameterError(errors, "scale-up spec")
    return out


def _fields(spec: Mapping[str, Any]) -> tuple[Any, ...]:
    kind = spec.get("kind", "stirred_tank")
    if kind not in FIELDS:
        raise ParameterError([("kind", f"unknown kind {kind!r}; known: {', '.join(FIELDS)}")], "scale-up spec")
    return FIELDS[kind]


def _empty(value: Any) -> bool:
    return value is None or value == ""


def with_field_values(spec: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``spec`` with the edited ``values`` (field path -> number in the field's units) written in.

    Numbers with units are written as text (``"10000 L"``); an empty value of a required field becomes None
    (the spec's validation then names the field); an empty optional field removes its section (no peak OUR:
    no aeration sizing). An edited stirred-tank spec's title follows its volumes and criterion.
    """
    out = copy.deepcopy(dict(spec))
    for f in _fields(out):
        if f.path not in values:
            continue
        value = values[f.path]
        *parents, leaf = f.path.split(".")
        if f.optional and _empty(value):
            node = _get(out, ".".join(parents[:-1])) if len(parents) > 1 else out
            if isinstance(node, dict):
                node.pop(parents[-1], None)
            continue
        node = out
        for depth, key in enumerate(parents):
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                where = ".".join(parents[: depth + 1])
                raise ParameterError([(where, f"must be a mapping, got {node!r}")], "scale-up spec")
        node[leaf] = None if _empty(value) else (f"{value} {f.units}" if f.units is not None else value)
    if values and out.get("kind", "stirred_tank") == "stirred_tank" and isinstance(out.get("stirred_tank"), dict):
        case = out["stirred_tank"]
        lab = (case.get("lab") or {}).get("volume")
        out["title"] = f"{lab} -> {case.get('target_volume')} at constant {case.get('criterion')}"
    return out
