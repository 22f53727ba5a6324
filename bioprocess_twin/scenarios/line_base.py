"""A production line as the base of a scenario.

``base: {line: adjuvant_only}`` (a line of the models folders, ``name`` or ``name@version``) or a whole line
definition inline (``kind: line definition``) makes every case a run of the line (``line.flowsheet.run_line``).
Factors address a unit's parameters, ``units.homogenizer.parameters.pressure`` or for short
``units.homogenizer.pressure``; uncertain parameters are named ``unit.parameter`` (``homogenizer.C1``). The
responses are the line's KPIs: ``batch_duration_h`` and each unit's as ``unit.kpi``
(``homogenizer.z_average_nm``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..core.parameters import ParameterError
from ..line.definition import LINE_FILE_SUFFIXES, LINE_NAME_PATTERN, load_line, parse_line
from ..line.flowsheet import run_line

#: the fields of a unit in a line definition; any other third part of ``units.<unit>.<name>`` is a parameter
UNIT_FIELDS = frozenset({"kind", "description", "parameters", "config"})


def is_line(base: Mapping[str, Any]) -> bool:
    """True when the base document is a line (by reference or inline), not a simulation spec."""
    return "line" in base or base.get("kind") == "line definition"


def resolve(base: Mapping[str, Any]) -> dict[str, Any]:
    """The line definition document of a base: loaded by name, or checked inline. Raises ParameterError."""
    if "line" in base:
        extra = sorted(set(base) - {"line"})
        if extra:
            raise ParameterError(
                [(k, "a base that names a line takes nothing else; edit the line by factors") for k in extra]
            )
        ref = base["line"]
        name, _, version = str(ref).partition("@")
        by_name = isinstance(ref, str) and not ref.lower().endswith(LINE_FILE_SUFFIXES)
        if not (
            by_name
            and re.fullmatch(LINE_NAME_PATTERN, name)
            and (not version or re.fullmatch(LINE_NAME_PATTERN, version))
        ):
            # a spec names a line of the models folders; a file path would read outside the spec's place
            raise ParameterError([("line", "name a line of the models folders, as name or name@version, not a file")])
        definition = load_line(ref)
    else:
        definition = parse_line(dict(base), "base")
    return definition.model_dump(mode="json", by_alias=True)


def unit_path(path: str) -> str:
    """``units.<unit>.<name>`` written out as ``units.<unit>.parameters.<name>``; any other path as it is."""
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "units" and parts[2] not in UNIT_FIELDS:
        return f"units.{parts[1]}.parameters.{parts[2]}"
    return path


def parameter_path(name: str) -> str | None:
    """The path of an uncertain parameter ``unit.parameter`` of a line; None if the name is not of that form."""
    unit, _, parameter = name.partition(".")
    return f"units.{unit}.parameters.{parameter}" if unit and parameter and "." not in parameter else None


def check(
    base: Mapping[str, Any], factor_paths: list[str], uncertain: list[str], calibrated: bool
) -> list[tuple[str, str]]:
    """Named errors for factor paths and uncertain parameters that do not address a unit of the line."""
    units = base.get("units") or {}
    errors = []
    for i, path in enumerate(factor_paths):
        parts = unit_path(path).split(".")
        if parts[0] != "units" or len(parts) != 4 or parts[2] != "parameters":
            errors.append((f"factors.{i}.path", "a line's factor is a unit parameter: units.<unit>.<parameter>"))
        elif parts[1] not in units:
            errors.append((f"factors.{i}.path", f"the line has no unit '{parts[1]}' (units: {', '.join(units)})"))
    for name in uncertain:
        where = f"uncertainty.parameters.{name}"
        found = parameter_path(name)
        if found is None:
            errors.append((where, "name a line's parameter as unit.parameter, e.g. homogenizer.C1"))
        elif found.split(".")[1] not in units:
            errors.append((where, f"the line has no unit '{name.partition('.')[0]}'"))
    if calibrated:
        errors.append(("uncertainty.calibrated", "a line has no calibrated set to sample; give distributions"))
    return errors


def run(document: Mapping[str, Any]) -> tuple[bool, str, dict[str, float]]:
    """Run the line a case's document defines: (ok, message, KPIs). Raises ParameterError for a bad definition."""
    result = run_line(parse_line(dict(document), "case"))
    return result.ok, result.message, result.kpis()
