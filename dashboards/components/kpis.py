"""KPI cards: one per entry of ``ProcessRun.kpis``; the value element's id is ``kpi-<key>``."""
from __future__ import annotations

import math

import dash_bootstrap_components as dbc
from dash import html

# unit suffixes that KPI keys carry ("z_average_nm", "T_out_C", "yield_pct")
_SUFFIXES = {"nm": "nm", "um": "µm", "us": "µs", "mm": "mm", "m": "m", "s": "s", "min": "min", "h": "h",
             "C": "°C", "K": "K", "bar": "bar", "Pa": "Pa", "pct": "%", "percent": "%", "mL": "mL", "L": "L",
             "g_L": "g/L", "g_per_L": "g/L", "mg_mL": "mg/mL", "mg_per_mL": "mg/mL", "W_kg": "W/kg",
             "W_per_kg": "W/kg", "mN_per_m": "mN/m", "J": "J", "kJ": "kJ", "kg": "kg"}
#: shown as cards, in this order, when present; every other KPI goes in the table below them
HEADLINE = ("z_average_nm", "pdi", "span", "d50_nm", "d50_um", "d32_nm", "d90_nm", "d90_um", "yield_pct", "T_out_C")
N_CARDS = 6
_NAMES = {"z_average": "Z-average", "pdi": "PDI", "span": "Span", "d50": "d50", "d10": "d10", "d90": "d90",
          "d32": "d32 (Sauter)", "d43": "d43", "T_out": "Outlet T", "T_max": "Max T"}


def split_key(key: str) -> tuple[str, str]:
    """``"z_average_nm"`` -> ``("Z-average", "nm")``; keys without a known unit suffix keep no units."""
    for n in (3, 2, 1):
        parts = key.split("_")
        if len(parts) > n:
            suffix = "_".join(parts[-n:])
            if suffix in _SUFFIXES:
                base = "_".join(parts[:-n])
                return _NAMES.get(base, base.replace("_", " ")), _SUFFIXES[suffix]
    return _NAMES.get(key, key.replace("_", " ")), ""


def fmt(value) -> str:
    if value is None:
        return "—"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return str(x)
    return f"{x:.4g}"


def _card(key: str, value) -> dbc.Col:
    name, units = split_key(key)
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(name, className="kpi-name small text-secondary text-truncate", title=key),
        html.Div([html.Span(fmt(value), id=f"kpi-{key}", className="kpi-value"),
                  html.Span(f" {units}" if units else "", className="kpi-units text-secondary small")]),
    ], className="py-2 px-3"), className="kpi-card h-100 shadow-sm"), xs=6, md=4, xl=2, className="mb-2")


def kpi_cards(kpis: dict[str, float] | None) -> list:
    """Headline KPI cards, then a collapsed table of the rest; each value element has id ``kpi-<key>``."""
    if not kpis:
        return [dbc.Col(html.Div("No results yet: set the conditions and press Run.",
                                 className="text-secondary small py-2"))]
    keys = [k for k in HEADLINE if k in kpis]
    keys += [k for k in kpis if k not in keys][:max(0, N_CARDS - len(keys))]
    keys = keys[:N_CARDS]
    out = [_card(k, kpis[k]) for k in keys]
    rest = [k for k in kpis if k not in keys]
    if rest:
        rows = []
        for k in rest:
            name, units = split_key(k)
            rows.append(html.Tr([html.Td(name, title=k), html.Td(html.Span(fmt(kpis[k]), id=f"kpi-{k}")),
                                 html.Td(units, className="text-secondary")]))
        out.append(dbc.Col(html.Details([
            html.Summary(f"All KPIs ({len(kpis)})", className="small text-secondary"),
            dbc.Table(html.Tbody(rows), size="sm", className="small mb-0 mt-1 kpi-table"),
        ]), width=12, className="mb-2"))
    return out
