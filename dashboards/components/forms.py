"""Input forms generated from a process's declared parameters, and the spec they turn into.

Every field comes from ``Process.describe()``: operating parameters, model inputs and model
parameters, each with its units, default and bounds. Field ids are pattern-matching dicts
``{"type": "param", "name": NAME}`` so one callback can read the whole form. For a calibrated
version (:func:`bioprocess_twin.catalogue.describe_version`) the model-parameter defaults are the
calibrated values, so the form shows what will run and the spec carries ``version`` plus only the
user's changes to it. Units and bounds are shown as :mod:`bioprocess_twin.core.display` writes them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from bioprocess_twin.core.display import display_units, format_bounds, format_value
from bioprocess_twin.core.spec import SimulationSpec

PARAM = "param"


def param_id(name: str) -> dict[str, str]:
    return {"type": PARAM, "name": name}


def param_dom_id(name: str) -> str:
    """The DOM id Dash gives a pattern-matching id (sorted keys, compact JSON)."""
    return json.dumps(param_id(name), sort_keys=True, separators=(",", ":"))


def fields(description: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The form's sections, in display order: (title, parameter descriptors)."""
    return [
        ("Conditions", list(description.get("inputs", []))),
        ("Recipe", list(description.get("operating", []))),
        ("Model parameters", list(description.get("parameters", []))),
    ]


def _field(p: dict[str, Any], value: Any = None) -> html.Div:
    value = p["default"] if value is None else value
    lo, hi = p["bounds"]
    units = display_units(p["units"])
    bounds = format_bounds(lo, hi)
    base = (
        f"calibrated {format_value(p['default'])} (code {format_value(p['code_default'])})"
        if "code_default" in p
        else f"default {format_value(p['default'])}"
    )
    hint = f"{base} · bounds {bounds}" + (f" {units}" if units else "")
    box = dcc.Input(
        id=param_id(p["name"]),
        type="number",
        value=value,
        min=lo,
        max=hi,
        step=1 if p.get("integer") else "any",
        debounce=True,
        required=True,
        className="param-input",
    )
    group = dbc.InputGroup([box] + ([dbc.InputGroupText(units)] if units else []), size="sm")
    title = p.get("description") or p["name"]
    if p.get("source"):
        title += f" (source: {p['source']})"
    return html.Div(
        [
            html.Label(
                p["name"], htmlFor=param_dom_id(p["name"]), className="form-label mb-0 small fw-semibold", title=title
            ),
            group,
            html.Div(hint, className="form-text mt-0 param-hint"),
        ],
        className="mb-2 param-field",
        title=title,
    )


def build_form(description: dict[str, Any], keep: Mapping[str, Any] | None = None) -> list:
    """Bootstrap form sections; model parameters sit in a collapsed accordion item. ``keep`` holds
    values to show instead of the defaults in the conditions and recipe sections."""
    out: list = []
    keep = keep or {}
    sections = fields(description)
    for title, params in sections[:2]:
        if params:
            out.append(html.H6(title, className="mt-2 text-secondary"))
            out.extend(_field(p, keep.get(p["name"])) for p in params)
    title, params = sections[2]
    if params:
        out.append(
            dbc.Accordion(
                [dbc.AccordionItem([_field(p) for p in params], title=f"{title} ({len(params)})")],
                start_collapsed=True,
                flush=True,
                className="mt-2",
            )
        )
    return out


def spec_from_form(
    model: str, description: dict[str, Any], ids: Sequence[dict], values: Sequence[Any]
) -> tuple[SimulationSpec | None, list[tuple[str, str]]]:
    """Build the spec from the form; only values that differ from the defaults are written (for a
    calibrated version, from its values; the spec then names the ``version``).

    Returns ``(spec, [])`` or ``(None, [(field, message), ...])`` for fields the browser could not
    turn into a number (an HTML number box reports an out-of-range or malformed entry as empty).
    """
    declared = {
        p["name"]: (section, p)
        for section, params in (
            ("operating", description.get("operating", [])),
            ("inputs", description.get("inputs", [])),
            ("parameters", description.get("parameters", [])),
        )
        for p in params
    }
    parameters: dict[str, float] = {}
    inputs: dict[str, float] = {}
    errors: list[tuple[str, str]] = []
    for pid, value in zip(ids, values):
        name = pid["name"]
        if name not in declared:
            errors.append((name, f"not a parameter of model '{model}'"))
            continue
        section, p = declared[name]
        if value is None or value == "":
            lo, hi = p["bounds"]
            what = "a whole number" if p.get("integer") else "a number"
            errors.append(
                (
                    name,
                    f"enter {what} within {format_bounds(lo, hi)} "
                    f"{display_units(p['units'])} (the box is empty or its entry is not valid)",
                )
            )
            continue
        value = float(value)
        default = float(p["default"])
        if math.isclose(value, default, rel_tol=1e-12, abs_tol=0.0):
            continue
        (inputs if section == "inputs" else parameters)[name] = value
    if errors:
        return None, errors
    return SimulationSpec(
        model=model, version=description.get("calibrated_version"), parameters=parameters, inputs=inputs
    ), []
