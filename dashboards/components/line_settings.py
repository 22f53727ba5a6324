"""The line page's form of line settings (``bioprocess_twin.line.edits`` defines them and applies them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from bioprocess_twin.core.display import NumberError, display_units, format_bounds, format_value, parse_number
from bioprocess_twin.line.edits import LineSetting

from . import forms

SETTING = "line-setting"
SETTING_MESSAGE = "line-setting-message"


def read_settings(
    known: Mapping[str, LineSetting], entries: Mapping[str, Any]
) -> tuple[dict[str, float], list[tuple[str, str]]]:
    """The entries (path -> text) as numbers, and ``(path, message)`` for each one that is not a number, not a
    whole number where one is declared, or outside the declared bounds; unknown paths are errors too."""
    values, errors = {}, []
    for path, entry in entries.items():
        s = known.get(path)
        if s is None:
            errors.append((path, "not a setting of this line"))
            continue
        try:
            x = parse_number(entry, integer=s.integer)
        except NumberError as exc:
            errors.append((path, str(exc)))
            continue
        lo, hi = s.bounds
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            units = display_units(s.units)
            errors.append(
                (path, f"{format_value(x)} is outside {format_bounds(lo, hi)}" + (f" {units}" if units else ""))
            )
            continue
        values[path] = x
    return values, errors


# -- the form ------------------------------------------------------------------------------------------------------
def setting_id(path: str) -> dict[str, str]:
    return {"type": SETTING, "name": path}


def _field(s: LineSetting) -> html.Div:
    units = display_units(s.units)
    hint = f"bounds {format_bounds(*s.bounds)}" + (f" {units}" if units else "") if s.bounds != (None, None) else ""
    title = s.description or s.label
    return html.Div(
        [
            dbc.InputGroup(
                [
                    dbc.InputGroupText(s.label, className="setting-label"),
                    forms.number_box(setting_id(s.path), s.value, "form-control setting-input"),
                ]
                + ([dbc.InputGroupText(units)] if units else []),
                size="sm",
            ),
            html.Div(id={"type": SETTING_MESSAGE, "name": s.path}, className="param-message"),
            html.Div(hint, className="form-text mt-0 param-hint") if hint else None,
        ],
        className="mb-1 setting-field",
        title=title,
    )


def settings_form(items: list[LineSetting]) -> list:
    """The main settings of each unit and each feed in open groups; a unit's other parameters and a feed's
    composition folded under them."""
    groups: dict[str, list[LineSetting]] = {}
    for s in items:
        groups.setdefault(s.group, []).append(s)
    out: list = []
    for group, members in groups.items():
        main = [s for s in members if s.main]
        other = [s for s in members if not s.main]
        fold = "composition" if group.startswith("feed ") else "other parameters"
        out.append(html.H6(group, className="mt-2 mb-1 small fw-semibold text-secondary"))
        out.extend(_field(s) for s in main)
        if other:
            out.append(
                html.Details(
                    [html.Summary(f"{fold} ({len(other)})", className="small text-secondary")]
                    + [_field(s) for s in other],
                    className="mb-1",
                )
            )
    return out
