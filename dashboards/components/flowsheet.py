"""Figures and tables for a production line: the module diagram, stream table, unit trajectories."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from bioprocess_twin.core.display import display_units

from .figures import LAYOUT, empty

STATUS_COLOURS = {"ok": "#198754", "failed": "#dc3545", None: "#0d6efd", "not run": "#adb5bd"}
FEED_COLOUR = "#6c757d"


def _layers(units: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Column of each unit: the length of the longest chain of units feeding it."""
    layer = {u: 0 for u in units}
    for _ in units:
        for a, b in edges:
            layer[b] = max(layer[b], layer[a] + 1)
    return layer


def positions(definition: dict[str, Any]) -> dict[str, tuple[float, float]]:
    units = list(definition["units"])
    edges = [(c["from"].split(".")[0], c["to"].split(".")[0]) for c in definition.get("connections", [])]
    layer = _layers(units, edges)
    pos: dict[str, tuple[float, float]] = {}
    for col in sorted(set(layer.values())):
        members = [u for u in units if layer[u] == col]
        for row, u in enumerate(members):
            pos[u] = (2.0 * col + 1.0, -(row - (len(members) - 1) / 2))
    for name, feed in definition.get("feeds", {}).items():
        x, y = pos[feed["to"].split(".")[0]]
        siblings = [n for n, f in definition["feeds"].items() if f["to"].split(".")[0] == feed["to"].split(".")[0]]
        pos[f"feed:{name}"] = (x - 1.0, y + 0.35 * (siblings.index(name) - (len(siblings) - 1) / 2))
    return pos


def diagram_figure(definition: dict[str, Any] | None, result: dict[str, Any] | None = None) -> go.Figure:
    """Units as boxes in flow order, feeds as grey dots, streams as arrows; after a run each unit is
    coloured by its status and labelled with its duration."""
    if not definition:
        return empty("Line diagram", "Pick a line.")
    pos = positions(definition)
    fig = go.Figure(
        layout=LAYOUT
        | {
            "title": f"{definition['name']} {definition['version']}",
            "showlegend": False,
            "margin": dict(l=20, r=20, t=50, b=20),
        }
    )
    arrows = [
        (c["from"].split(".")[0], c["to"].split(".")[0], c["from"].split(".", 1)[1])
        for c in definition.get("connections", [])
    ]
    arrows += [(f"feed:{n}", f["to"].split(".")[0], n) for n, f in definition.get("feeds", {}).items()]
    for a, b, label in arrows:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        fig.add_annotation(
            x=x1 - 0.35,
            y=y1,
            ax=x0 + (0.35 if not a.startswith("feed:") else 0.08),
            ay=y0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowwidth=1.4,
            arrowcolor="#495057",
            text="",
        )
        fig.add_annotation(
            x=(x0 + x1) / 2, y=(y0 + y1) / 2 + 0.09, text=label, showarrow=False, font=dict(size=9, color="#6c757d")
        )
    units_done = (result or {}).get("units", {})
    not_run = set((result or {}).get("not_run", []))
    for uid, spec in definition["units"].items():
        x, y = pos[uid]
        status = "not run" if uid in not_run else units_done.get(uid, {}).get("status")
        detail = f"<br>{units_done[uid]['duration_h']:.1f} h" if uid in units_done else ""
        fig.add_shape(
            type="rect",
            x0=x - 0.35,
            x1=x + 0.35,
            y0=y - 0.22,
            y1=y + 0.22,
            line=dict(color=STATUS_COLOURS.get(status, "#0d6efd"), width=2),
            fillcolor="rgba(13,110,253,0.06)",
        )
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="text",
                text=[f"<b>{uid}</b><br>{spec['kind']}{detail}"],
                textfont=dict(size=11),
                hovertext=f"{uid}: {spec['kind']} ({status or 'not yet run'})",
                hoverinfo="text",
                name=uid,
                customdata=[uid],
            )
        )
    feeds = [(n, pos[f"feed:{n}"]) for n in definition.get("feeds", {})]
    if feeds:
        fig.add_trace(
            go.Scatter(
                x=[p[0] for _, p in feeds],
                y=[p[1] for _, p in feeds],
                mode="markers+text",
                marker=dict(size=10, color=FEED_COLOUR),
                text=[n for n, _ in feeds],
                textposition="bottom center",
                textfont=dict(size=9),
                name="feeds",
                hoverinfo="text",
            )
        )
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    fig.update_xaxes(visible=False, range=[min(xs) - 0.6, max(xs) + 0.6])
    fig.update_yaxes(visible=False, range=[min(ys) - 0.6, max(ys) + 0.6])
    return fig


def unit_series_figure(result: dict[str, Any] | None, unit: str | None) -> go.Figure:
    """Every numeric series of one unit against time, one subplot row per quantity with units."""
    series = ((result or {}).get("units", {}).get(unit) or {}).get("series") if unit else None
    if not series:
        return empty("Unit trajectories", "Run the line, then pick a unit.")
    from plotly.subplots import make_subplots

    cols = [c for c, v in series["columns"].items() if v and all(isinstance(x, (int, float)) or x is None for x in v)]
    cols = cols[:8]
    fig = make_subplots(rows=len(cols), cols=1, shared_xaxes=True, vertical_spacing=0.03)
    for i, c in enumerate(cols, start=1):
        units = display_units(series.get("units", {}).get(c, ""))
        fig.add_trace(go.Scatter(x=series["time_h"], y=series["columns"][c], mode="lines", name=c), row=i, col=1)
        fig.update_yaxes(title_text=f"{c}<br>({units})" if units else c, title_font=dict(size=10), row=i, col=1)
    fig.update_xaxes(title_text="time (h)", row=len(cols), col=1)
    fig.update_layout(
        LAYOUT | {"title": f"{unit}: trajectories", "showlegend": False, "height": max(320, 150 * len(cols))}
    )
    return fig
