"""Plotly figures of a campaign plan (``PlanResult.to_dict()``): Gantt chart, utilisation, costs."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

from .figures import empty

_LAYOUT = dict(
    template="plotly_white",
    margin=dict(l=10, r=20, t=60, b=50),
    title=dict(x=0.01, font=dict(size=15)),
    legend=dict(orientation="h", x=0, y=-0.12, yanchor="top", font=dict(size=11)),
)
CLEANING, CHANGEOVER = "#adb5bd", "#212529"


def product_colours(doc: dict[str, Any]) -> dict[str, str]:
    names = [p["name"] for p in doc["spec"]["products"]]
    return {n: qualitative.Plotly[i % len(qualitative.Plotly)] for i, n in enumerate(names)}


def _rows_label(doc: dict[str, Any]) -> list[str]:
    """One Gantt row per installed module, in the spec's module-type order (top to bottom)."""
    return [
        f"{m['name']} #{k}" for m in doc["spec"]["module_types"] for k in range(1, doc["modules"].get(m["name"], 0) + 1)
    ]


def _describe(row: dict[str, Any]) -> str:
    if row["kind"] == "batch":
        return f"{row['product']} batch {row.get('batch', '')}"
    if row["kind"] == "changeover":
        return f"changeover to {row['product']}"
    return f"cleaning after {row['product']}"


def gantt_figure(doc: dict[str, Any] | None) -> go.Figure:
    """Horizontal bars per module: batches coloured by product, cleaning grey, changeovers black.

    The x axis is in weeks of production time (``hours / hours_per_week``).
    """
    if not doc or not doc.get("timeline"):
        return empty(
            "Campaign Gantt chart",
            "Run the plan to see the campaign."
            if not doc or doc.get("status") != "infeasible"
            else "No plan: the demand cannot be met.",
        )
    H = doc["hours_per_week"]
    colours = product_colours(doc)
    fig = go.Figure(layout=_LAYOUT)
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in doc["timeline"]:
        key = ("batch", row["product"]) if row["kind"] == "batch" else (row["kind"], "")
        groups.setdefault(key, []).append(row)
    order = sorted(groups, key=lambda k: (k[0] != "batch", k[1]))
    for kind, product in order:
        rows = groups[kind, product]
        colour = colours.get(product) if kind == "batch" else (CLEANING if kind == "cleaning" else CHANGEOVER)
        name = product if kind == "batch" else kind
        text = [_describe(r) for r in rows]
        fig.add_trace(
            go.Bar(
                y=[f"{r['module_type']} #{r['module']}" for r in rows],
                x=[(r["end_h"] - r["start_h"]) / H for r in rows],
                base=[r["start_h"] / H for r in rows],
                orientation="h",
                name=name,
                marker=dict(color=colour, line=dict(width=0)),
                customdata=[[r["start_h"], r["end_h"], r["week"], t] for r, t in zip(rows, text)],
                hovertemplate="%{customdata[3]}<br>%{y}<br>week %{customdata[2]}: "
                "%{customdata[0]:.0f} h – %{customdata[1]:.0f} h<extra></extra>",
            )
        )
    labels = _rows_label(doc)
    fig.update_layout(
        barmode="overlay",
        title=f"Campaign Gantt chart — {doc['name']}",
        bargap=0.25,
        height=max(340, 150 + 26 * len(labels)),
    )
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(labels)), automargin=True)
    fig.update_xaxes(
        title="week", range=[0, doc["horizon_weeks"]], dtick=4 if doc["horizon_weeks"] > 12 else 1, showgrid=True
    )
    return fig


def utilisation_figure(doc: dict[str, Any] | None) -> go.Figure:
    """Busy fraction of the installed modules per type; the bottleneck is highlighted."""
    if not doc or not doc.get("utilisation"):
        return empty("Utilisation", "Run the plan to see it.")
    names = list(doc["utilisation"])
    bottleneck = (doc.get("bottleneck") or {}).get("module_type")
    fig = go.Figure(
        go.Bar(
            x=[doc["utilisation"][m] for m in names],
            y=names,
            orientation="h",
            marker=dict(color=["#dc3545" if m == bottleneck else "#0d6efd" for m in names]),
            text=[f"{doc['utilisation'][m]:.0%} · {doc['modules'][m]} mod." for m in names],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%} busy<extra></extra>",
        ),
        layout=_LAYOUT,
    )
    fig.update_layout(title="Utilisation of installed modules", height=max(260, 80 + 26 * len(names)), showlegend=False)
    fig.update_xaxes(title="busy (share of hours)", range=[0, 1], tickformat=".0%")
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(names)), automargin=True)
    return fig


def cost_figure(doc: dict[str, Any] | None) -> go.Figure:
    if not doc or not doc.get("cost_breakdown"):
        return empty("Cost breakdown", "Run the plan to see it.")
    items = doc["cost_breakdown"]
    labels = {
        "capex": "capex (annualised)",
        "fixed_opex": "fixed opex",
        "batches": "batch costs",
        "changeovers": "changeovers",
    }
    fig = go.Figure(
        go.Bar(
            x=[labels.get(k, k) for k in items],
            y=list(items.values()),
            marker=dict(color=["#6610f2", "#6f42c1", "#0d6efd", "#212529"][: len(items)]),
            hovertemplate="%{x}: %{y:,.0f} " + doc["currency"] + "<extra></extra>",
        ),
        layout=_LAYOUT,
    )
    fig.update_layout(title=f"Cost over {doc['horizon_weeks']} weeks", showlegend=False, height=300)
    fig.update_yaxes(title=doc["currency"], tickformat="~s")
    return fig
