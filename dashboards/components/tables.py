"""Side-by-side comparison tables and warning lists (plain JSON rows in, Dash components out)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from bioprocess_twin.core.display import display_units, format_value


def comparison_table(rows: Sequence[dict[str, Any]], table_id: str, columns: Sequence[tuple[str, str]]) -> dbc.Table:
    """One row per ``rows`` entry (``quantity``, ``label``, ``units`` and the keys of ``columns``).

    ``columns`` are (key, heading) pairs of numeric columns; a row's id is ``<table_id>-row-<quantity>``
    and each numeric cell has the class ``col-<key>``.
    """
    head = html.Thead(
        html.Tr(
            [html.Th("quantity"), html.Th("units")] + [html.Th(title, className="text-end") for _, title in columns]
        )
    )
    body = []
    for r in rows:
        cells = [
            html.Td(r.get("label", r["quantity"]), title=r["quantity"]),
            html.Td(display_units(r.get("units", "")), className="text-secondary"),
        ]
        cells += [
            html.Td(format_value(r.get(key)), className=f"col-{key} text-end font-monospace") for key, _ in columns
        ]
        body.append(html.Tr(cells, id=f"{table_id}-row-{r['quantity']}"))
    return dbc.Table([head, html.Tbody(body)], id=table_id, size="sm", striped=True, hover=True, className="small mb-0")


def warning_list(warnings: Sequence[dict[str, Any]], list_id: str, empty_text: str) -> html.Div:
    """Warnings as Bootstrap alerts (class ``range-warning``), or one quiet success line (class ``range-ok``,
    hidden by dashboard.css while the results it speaks for are stale)."""
    if not warnings:
        return html.Div(
            dbc.Alert(empty_text, color="success", className="py-2 mb-0 small"), id=list_id, className="range-ok"
        )
    return html.Div(
        [
            html.Div(
                dbc.Alert(w["message"], color="warning", className="py-2 mb-1 small"),
                className="range-warning",
                **{"data-scale": w.get("scale", ""), "data-quantity": w.get("quantity", "")},
            )
            for w in warnings
        ],
        id=list_id,
    )
