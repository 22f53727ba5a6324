"""KPI cards: one per KPI of a result; the value element's id is ``kpi-<key>`` (dots as ``_``).

Names, units and number formatting come from :mod:`bioprocess_twin.core.display`; this module only
lays the cards out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from bioprocess_twin.core.display import KpiView, describe_kpis, headline_kpis

N_CARDS = 6


def element_id(key: str, prefix: str = "kpi") -> str:
    """The DOM id of a KPI's value: ``kpi-z_average_nm``; a line's ``fill.doses`` is ``kpi-fill_doses``."""
    return f"{prefix}-{key.replace('.', '_')}"


def card(label: str, text: str, value_id: str, units: str = "", title: str | None = None, **col) -> dbc.Col:
    """One card: a label, the value (element ``value_id``) and its units."""
    return dbc.Col(
        dbc.Card(
            dbc.CardBody(
                [
                    html.Div(label, className="kpi-name small text-secondary text-truncate", title=title or label),
                    html.Div(
                        [
                            html.Span(text, id=value_id, className="kpi-value"),
                            html.Span(f" {units}" if units else "", className="kpi-units text-secondary small"),
                        ]
                    ),
                ],
                className="py-2 px-3",
            ),
            className="kpi-card h-100 shadow-sm",
        ),
        **({"xs": 6, "md": 4, "xl": 2, "className": "mb-2"} | col),
    )


def _card(kpi: KpiView) -> dbc.Col:
    return card(kpi.label, kpi.text, element_id(kpi.key), kpi.display_units, title=kpi.key)


def kpi_cards(kpis: Mapping[str, Any] | None, n_cards: int = N_CARDS, units: Mapping[str, str] | None = None) -> list:
    """Headline KPI cards, then a collapsed table of the rest; each value element has id ``kpi-<key>``.
    ``units`` are units the library declares for some KPIs (by key); the others are read from the key."""
    if not kpis:
        return [
            dbc.Col(
                html.Div("No results yet: set the conditions and press Run.", className="text-secondary small py-2")
            )
        ]
    views = {k.key: k for k in describe_kpis(kpis, units)}
    keys = headline_kpis(views, n_cards)
    out = [_card(views[k]) for k in keys]
    rest = [views[k] for k in views if k not in keys]
    if rest:
        rows = [
            html.Tr(
                [
                    html.Td(k.label, title=k.key),
                    html.Td(html.Span(k.text, id=element_id(k.key))),
                    html.Td(k.display_units, className="text-secondary"),
                ]
            )
            for k in rest
        ]
        out.append(
            dbc.Col(
                html.Details(
                    [
                        html.Summary(f"All KPIs ({len(views)})", className="small text-secondary"),
                        dbc.Table(html.Tbody(rows), size="sm", className="small mb-0 mt-1 kpi-table"),
                    ]
                ),
                width=12,
                className="mb-2",
            )
        )
    return out
