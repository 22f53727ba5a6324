"""Plotly figures from ``ProcessRun.to_dict()`` data (plain JSON, as kept in a dcc.Store)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from bioprocess_twin.core.display import display_units, headline_series, is_length, series_label

#: the layout every figure starts from
LAYOUT = dict(
    template="plotly_white",
    margin=dict(l=60, r=20, t=50, b=50),
    legend=dict(orientation="v", x=1.01, y=1, font=dict(size=11)),
)


def empty(title: str, note: str = "Run the model to see results.") -> go.Figure:
    fig = go.Figure(layout=LAYOUT | {"title": title})
    fig.add_annotation(
        text=note, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5, font=dict(color="#6c757d", size=14)
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def distribution_figure(data: dict[str, Any] | None) -> go.Figure:
    """One trace per labelled time (pass or sampling time), diameter on a log axis."""
    dist = (data or {}).get("distribution")
    if not dist:
        return empty("Size distribution")
    labels = dist["labels"]
    n = len(labels)
    colours = sample_colorscale("Viridis", [0.9 * i / max(n - 1, 1) for i in range(n)])
    fig = go.Figure(layout=LAYOUT)
    for i, (label, row) in enumerate(zip(labels, dist["density"])):
        last = i == n - 1
        fig.add_trace(
            go.Scatter(
                x=dist["diameter_nm"],
                y=row,
                mode="lines",
                name=str(label),
                line=dict(color=colours[i], width=3 if last else 1.6),
                hovertemplate="d = %{x:.4g} nm<br>q = %{y:.4g}<extra>" + str(label) + "</extra>",
            )
        )
    fig.update_layout(title=f"Size distribution — {dist.get('kind', '')}")
    fig.update_xaxes(type="log", title="diameter (nm)", showgrid=True, dtick="D2", tickformat="~s")
    fig.update_yaxes(title=dist.get("kind", "density"), rangemode="tozero")
    return fig


def numeric_columns(data: dict[str, Any] | None) -> list[str]:
    series = (data or {}).get("series") or {}
    return [
        c
        for c, v in series.get("columns", {}).items()
        if v and all((isinstance(x, (int, float)) and not isinstance(x, bool)) or x is None for x in v)
    ]


def default_columns(columns: Sequence[str], n: int = 2) -> list[str]:
    """One size column (Z-average, d32, d50 ...) and one spread column (PDI, span), else the first ones."""
    return headline_series(columns, n)


def column_label(data: dict[str, Any] | None, col: str) -> str:
    """``"z_average_nm"`` with units nm -> ``"Z-average (nm)"``."""
    return series_label(col, (((data or {}).get("series") or {}).get("units") or {}).get(col, ""))


def series_figure(data: dict[str, Any] | None, columns: Sequence[str] | None) -> go.Figure:
    """Selected series columns against time, one stacked panel each (their units differ)."""
    series = (data or {}).get("series")
    columns = [c for c in (columns or []) if series and c in series["columns"]]
    if not columns:
        return empty(
            "Evolution", "Run the model, then pick quantities to plot." if data else "Run the model to see results."
        )
    units = series.get("units", {})
    t_units = display_units(units.get("time") or series.get("time_units", ""))
    t_name = series.get("time_label", "time")
    t_label = f"{t_name} ({t_units})" if t_units else t_name
    phase = series["columns"].get("phase")
    fig = make_subplots(rows=len(columns), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for i, col in enumerate(columns, start=1):
        u = units.get(col, "")
        label = column_label(data, col)
        fig.add_trace(
            go.Scatter(
                x=series["time"],
                y=series["columns"][col],
                mode="lines",
                name=label,
                customdata=phase,
                line=dict(width=2),
                hovertemplate=f"t = %{{x:.4g}} {t_units}<br>{col} = %{{y:.4g}}"
                + ("<br>%{customdata}" if phase else "")
                + "<extra></extra>",
            ),
            row=i,
            col=1,
        )
        values = [v for v in series["columns"][col] if v is not None]
        log = is_length(u) and values and min(values) > 0 and max(values) / min(values) > 5
        fig.update_yaxes(
            title_text=label, row=i, col=1, **(dict(type="log", dtick="D2", tickformat="~g") if log else {})
        )
    fig.update_xaxes(title_text=t_label, row=len(columns), col=1)
    fig.update_layout(
        LAYOUT | {"title": "Evolution over the run", "showlegend": False, "height": 200 + 170 * len(columns)}
    )
    return fig
