"""Input forms generated from a process's declared parameters, and the spec they turn into.

Every field comes from ``Process.describe()``: operating parameters, model inputs and model
parameters, each with its units, default and bounds. Field ids are pattern-matching dicts
``{"type": "param", "name": NAME}`` so one callback can read the whole form. For a calibrated
version (:func:`bioprocess_twin.catalogue.describe_version`) the model-parameter defaults are the
calibrated values, so the form shows what will run and the spec carries ``version`` plus only the
user's changes to it. Units and bounds are shown as :mod:`bioprocess_twin.core.display` writes them.

The boxes are text boxes read by :func:`~bioprocess_twin.core.display.parse_number`: a browser number box
drops what it cannot read (``"12x0"`` would arrive as 120), a text box hands the server what was typed,
and the server names the field it cannot read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html
from pydantic import ValidationError

from bioprocess_twin.core.display import NumberError, display_units, format_bounds, format_value, parse_number
from bioprocess_twin.core.spec import SimulationSpec
from bioprocess_twin.core.units import UnitsError, to_magnitude

PARAM = "param"
PARAM_MESSAGE = "param-message"
#: spec fields a form can show: a saved run whose spec sets anything else cannot be shown beside the form
FORM_SPEC_FIELDS = {"model", "version", "parameters", "inputs"}


def param_id(name: str) -> dict[str, str]:
    return {"type": PARAM, "name": name}


def message_id(name: str) -> dict[str, str]:
    """The element under a box that says why its entry cannot be used."""
    return {"type": PARAM_MESSAGE, "name": name}


def param_dom_id(name: str) -> str:
    """The DOM id Dash gives a pattern-matching id (sorted keys, compact JSON)."""
    return json.dumps(param_id(name), sort_keys=True, separators=(",", ":"))


def entries(ids: Any, values: Any) -> dict[str, Any]:
    """The boxes of a pattern-matching group as a callback receives them (``ids``, ``values``) as name -> value.
    A request is not trusted: anything but lists, and ids without a text ``name``, are left out."""
    if not isinstance(ids, list) or not isinstance(values, list):
        return {}
    return {i["name"]: v for i, v in zip(ids, values) if isinstance(i, dict) and isinstance(i.get("name"), str)}


def output_names(group: int) -> list[str]:
    """The names of the pattern-matching outputs of a callback's output ``group`` (in the order Dash expects)."""
    from dash import ctx

    return [o["id"]["name"] for o in ctx.outputs_list[group]]


def fields(description: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The form's sections, in display order: (title, parameter descriptors)."""
    return [
        ("Conditions", list(description.get("inputs", []))),
        ("Recipe", list(description.get("operating", []))),
        ("Model parameters", list(description.get("parameters", []))),
    ]


def declared(description: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Field name -> (spec section: ``inputs`` or ``parameters``, descriptor)."""
    return {
        p["name"]: ("inputs" if key == "inputs" else "parameters", p)
        for key in ("inputs", "operating", "parameters")
        for p in description.get(key, [])
    }


def box_text(value: Any) -> str:
    """A number as the text a box shows (up to 15 significant digits: ``1000.0`` -> ``"1000"``)."""
    if isinstance(value, str):
        return value
    return format_value(value, 15) if value is not None else ""


def number_box(element_id: Any, value: Any, class_name: str = "param-input") -> dcc.Input:
    """A text box for one number: what is typed reaches the server as typed (sent on leaving the box)."""
    return dcc.Input(
        id=element_id,
        type="text",
        inputMode="decimal",
        value=box_text(value),
        debounce=True,
        autoComplete="off",
        spellCheck=False,
        className=class_name,
    )


def number_row(element_id: str, label: str, value: Any, units: str = "", label_width: str = "8.5rem") -> list:
    """A labelled number box (with its units, if any) and, under it, ``<element_id>-message`` for why its entry
    cannot be used."""
    parts = [dbc.InputGroupText(label, style={"minWidth": label_width}), number_box(element_id, value, "form-control")]
    if units:
        parts.append(dbc.InputGroupText(units))
    return [
        dbc.InputGroup(parts, size="sm", className="mb-1"),
        html.Div(id=f"{element_id}-message", className="param-message mb-1"),
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
    box = number_box(param_id(p["name"]), value)
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
            html.Div(id=message_id(p["name"]), className="param-message"),
            html.Div(hint, className="form-text mt-0 param-hint"),
        ],
        className="mb-2 param-field",
        title=title,
    )


def build_form(description: dict[str, Any], values: Mapping[str, Any] | None = None) -> list:
    """Bootstrap form sections; model parameters sit in a collapsed accordion item. ``values`` holds
    values (numbers or the text typed) to show instead of the defaults, in any section."""
    out: list = []
    values = values or {}
    sections = fields(description)
    for title, params in sections[:2]:
        if params:
            out.append(html.H6(title, className="mt-2 text-secondary"))
            out.extend(_field(p, values.get(p["name"])) for p in params)
    title, params = sections[2]
    if params:
        out.append(
            dbc.Accordion(
                [
                    dbc.AccordionItem(
                        [_field(p, values.get(p["name"])) for p in params], title=f"{title} ({len(params)})"
                    )
                ],
                start_collapsed=True,
                flush=True,
                className="mt-2",
            )
        )
    return out


def field_problem(p: dict[str, Any], value: Any) -> str | None:
    """Why the entry ``value`` of field ``p`` cannot be used (not a number, not whole, outside the declared
    bounds), or None. Shown under the box as the user types; the run itself is checked by the library."""
    try:
        x = parse_number(value, integer=bool(p.get("integer")))
    except NumberError as exc:
        return str(exc)
    lo, hi = p["bounds"]
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        units = display_units(p["units"])
        return f"{format_value(x)} is outside {format_bounds(lo, hi)}" + (f" {units}" if units else "")
    return None


def spec_from_form(
    model: str, description: dict[str, Any], ids: Sequence[dict], values: Sequence[Any]
) -> tuple[SimulationSpec | None, list[tuple[str, str]]]:
    """Build the spec from the form; only values that differ from the defaults are written (for a
    calibrated version, from its values; the spec then names the ``version``).

    Returns ``(spec, [])`` or ``(None, [(field, message), ...])`` for every box whose text is not a number
    (``"12x0"``, ``"1e"``, ``"nan"``, an empty box) or not a whole number where one is declared. Bounds are
    left to the library, whose ParameterError names the field.
    """
    fields_by_name = declared(description)
    parameters: dict[str, float] = {}
    inputs: dict[str, float] = {}
    errors: list[tuple[str, str]] = []
    for pid, value in zip(ids, values):
        name = pid["name"]
        if name not in fields_by_name:
            errors.append((name, f"not a parameter of model '{model}'"))
            continue
        section, p = fields_by_name[name]
        try:
            x = parse_number(value, integer=bool(p.get("integer")))
        except NumberError as exc:
            lo, hi = p["bounds"]
            what = "a whole number" if p.get("integer") else "a number"
            units = display_units(p["units"])
            errors.append(
                (name, f"{exc}; enter {what} within {format_bounds(lo, hi)}" + (f" {units}" if units else ""))
            )
            continue
        if math.isclose(x, float(p["default"]), rel_tol=1e-12, abs_tol=0.0):
            continue
        (inputs if section == "inputs" else parameters)[name] = x
    if errors:
        return None, errors
    return SimulationSpec(
        model=model, version=description.get("calibrated_version"), parameters=parameters, inputs=inputs
    ), []


def form_values(description: dict[str, Any], spec: Mapping[str, Any]) -> dict[str, float] | None:
    """Every field's value (in its declared units) for the saved ``spec`` (a spec as stored), or None when the
    form cannot show that spec: it sets more than model, version, parameters and inputs (a recipe, initial
    states, output times, solver settings), names something the form has no field for, or a value cannot be read."""
    try:
        parsed = SimulationSpec.model_validate(dict(spec))
    except (ValidationError, TypeError):
        return None
    if set(parsed.model_dump(exclude_defaults=True)) - FORM_SPEC_FIELDS:
        return None
    fields_by_name = declared(description)
    given = {**{("inputs", k): v for k, v in parsed.inputs.items()}}
    given |= {("parameters", k): v for k, v in parsed.parameters.items()}
    out = {name: float(p["default"]) for name, (_, p) in fields_by_name.items()}
    for (section, name), value in given.items():
        if name not in fields_by_name or fields_by_name[name][0] != section:
            return None
        try:
            out[name] = float(to_magnitude(value, fields_by_name[name][1]["units"]))
        except (UnitsError, TypeError, ValueError):
            return None
    return out


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def same_entry(entry: Any, shown: Any) -> bool:
    """Whether a box's entry is the value behind the results shown: equal numbers however written
    (``"1000"``, ``"1e3"``, ``1000.0``), equal choices, or both empty."""
    if is_blank(entry) or is_blank(shown):
        return is_blank(entry) and is_blank(shown)
    try:
        return math.isclose(parse_number(entry), parse_number(shown), rel_tol=1e-12, abs_tol=0.0)
    except NumberError:
        return isinstance(entry, str) and isinstance(shown, str) and entry.strip() == shown.strip()


def changed_fields(values: Mapping[str, Any], shown: Mapping[str, Any] | None) -> list[str]:
    """Names of the boxes whose entry (``values``: name -> text) differs from the inputs of the results shown
    (``shown``: name -> value); an entry that is not a number differs from every number."""
    shown = shown or {}
    return [
        name
        for name in sorted(set(values) | set(shown))
        if name not in values or name not in shown or not same_entry(values[name], shown[name])
    ]
