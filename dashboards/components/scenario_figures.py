"""Figures of a scenario result (``ScenarioResult.to_dict()``): the probability map of a design space with its
target contour and set point, the proven acceptable ranges, the convergence of P with its Wilson band, and
Sobol or Morris bars; and, for results kept side by side, their key numbers and one figure each. They only draw
what the library computed."""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from bioprocess_twin.core.display import format_value

TEMPLATE = "plotly_white"


def _empty(title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, title=title, margin=dict(l=40, r=20, t=50, b=40))
    return fig


def probability_map(doc: dict[str, Any] | None) -> go.Figure:
    """P(every specification met) over the first two factors (a line over one factor), the target as a contour,
    the set point as a star. Further factors are held at their set points."""
    if not doc or doc.get("analysis") != "design_space":
        return _empty("P(in spec) over the factors: run a design space")
    factors, target, centre = doc["factors"], doc["target"], doc["set_point"]
    others = factors[2:]
    points = [p for p in doc["points"] if all(p["values"][f] == centre[f] for f in others)]
    if len(factors) == 1:
        f = factors[0]
        rows = sorted(points, key=lambda p: p["values"][f])
        fig = go.Figure(
            go.Scatter(
                x=[p["values"][f] for p in rows],
                y=[p["probability"]["p"] for p in rows],
                mode="lines+markers",
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=[p["probability"]["high"] - p["probability"]["p"] for p in rows],
                    arrayminus=[p["probability"]["p"] - p["probability"]["low"] for p in rows],
                ),
                name="P(in spec)",
            )
        )
        fig.add_hline(y=target, line_dash="dot", annotation_text=f"target {target:g}")
        fig.update_layout(template=TEMPLATE, title="P(in spec)", xaxis_title=f, yaxis_title="P", yaxis_range=[0, 1])
        return fig
    fx, fy = factors[0], factors[1]
    xs = sorted({p["values"][fx] for p in points})
    ys = sorted({p["values"][fy] for p in points})
    at = {(p["values"][fx], p["values"][fy]): p["probability"]["p"] for p in points}
    z = [[at.get((x, y)) for x in xs] for y in ys]
    fig = go.Figure(
        go.Heatmap(
            x=xs,
            y=ys,
            z=z,
            zmin=0,
            zmax=1,
            colorscale="RdYlGn",
            colorbar=dict(title="P"),
            hovertemplate=f"{fx} %{{x}}<br>{fy} %{{y}}<br>P = %{{z:.3f}}<extra></extra>",
            name="P(in spec)",
        )
    )
    fig.add_trace(
        go.Contour(
            x=xs,
            y=ys,
            z=z,
            contours=dict(start=target, end=target, size=1, coloring="lines", showlabels=True),
            line=dict(color="black", width=2),
            showscale=False,
            hoverinfo="skip",
            name=f"P = {target:g}",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[centre[fx]],
            y=[centre[fy]],
            mode="markers",
            marker=dict(symbol="star", size=16, color="black"),
            name="set point",
        )
    )
    title = f"P(in spec); design space: P ≥ {target:g}"
    if others:
        title += " (" + ", ".join(f"{f} = {format_value(centre[f])}" for f in others) + ")"
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title=fx, yaxis_title=fy, showlegend=False)
    return fig


def par_figure(doc: dict[str, Any] | None) -> go.Figure:
    """Each factor's grid span (grey) and its proven acceptable range through the set point (green)."""
    if not doc or doc.get("analysis") != "design_space":
        return _empty("Proven acceptable ranges: run a design space")
    fig = go.Figure()
    for i, factor in enumerate(doc["factors"]):
        values = [p["values"][factor] for p in doc["points"]]
        low, high = min(values), max(values)
        span = max(high - low, 1e-300)
        fig.add_trace(
            go.Bar(
                y=[factor],
                x=[1.0],
                base=[0.0],
                orientation="h",
                marker_color="#dee2e6",
                showlegend=i == 0,
                name="grid span",
                hovertemplate=f"{factor}: {low:g} to {high:g}<extra></extra>",
            )
        )
        par = doc["par"].get(factor)
        if par:
            fig.add_trace(
                go.Bar(
                    y=[factor],
                    x=[max((par[1] - par[0]) / span, 0.01)],
                    base=[(par[0] - low) / span],
                    orientation="h",
                    marker_color="#198754",
                    name="PAR",
                    showlegend=i == 0,
                    text=[f"{par[0]:g} – {par[1]:g}"],
                    textposition="inside",
                    hovertemplate=f"PAR of {factor}: {par[0]:g} to {par[1]:g}<extra></extra>",
                )
            )
    fig.update_layout(
        template=TEMPLATE,
        barmode="overlay",
        title=f"Proven acceptable ranges (P ≥ {doc['target']:g}, others at the set point)",
        xaxis=dict(range=[0, 1], title="share of the factor's grid span", tickformat=".0%"),
        margin=dict(l=10, r=20, t=50, b=40),
    )
    return fig


def convergence_figure(doc: dict[str, Any] | None) -> go.Figure:
    """P̂ at the set point after n samples, with its Wilson interval."""
    curve = (doc or {}).get("convergence") or []
    if not curve:
        return _empty("Convergence of P: run a design space or a Monte Carlo")
    n = [c["n"] for c in curve]
    fig = go.Figure(
        [
            go.Scatter(
                x=n + n[::-1],
                y=[c["high"] for c in curve] + [c["low"] for c in curve][::-1],
                fill="toself",
                line=dict(width=0),
                fillcolor="rgba(13,110,253,0.15)",
                hoverinfo="skip",
                name="95 % Wilson",
            ),
            go.Scatter(x=n, y=[c["p"] for c in curve], mode="lines+markers", name="P̂"),
        ]
    )
    target = doc.get("target") if doc else None
    if target is not None:
        fig.add_hline(y=target, line_dash="dot", annotation_text=f"target {target:g}")
    fig.update_layout(
        template=TEMPLATE,
        title="P(in spec) at the set point against samples",
        xaxis_title="samples",
        yaxis_title="P",
        yaxis_range=[0, 1],
        margin=dict(l=40, r=20, t=50, b=40),
    )
    return fig


def sensitivity_figure(doc: dict[str, Any] | None) -> go.Figure:
    """Sobol first-order and total indices (or Morris μ*) per input, one group of bars per response KPI."""
    if not doc or doc.get("analysis") != "sensitivity" or not doc.get("indices"):
        return _empty("Sensitivity indices: run a sensitivity analysis")
    fig = go.Figure()
    keys = ("S1", "ST") if doc["method"] == "sobol" else ("mu_star",)
    for kpi, indices in doc["indices"].items():
        for key in keys:
            fig.add_trace(
                go.Bar(
                    x=doc["inputs"],
                    y=indices[key],
                    error_y=dict(type="data", array=indices.get(f"{key}_conf")),
                    name=f"{kpi}: {key}",
                )
            )
    fig.update_layout(
        template=TEMPLATE,
        barmode="group",
        title=f"{doc['method'].capitalize()} indices",
        margin=dict(l=40, r=20, t=50, b=80),
    )
    return fig


def _probability_text(p: dict[str, Any] | None) -> str:
    if not p:
        return "—"
    return f"{p['p']:.3f} ({p['low']:.3f}–{p['high']:.3f}; n {p['n']})"


def key_numbers(doc: dict[str, Any]) -> dict[str, str]:
    """The numbers a kept result is compared by, as label -> text: P at the set point with its Wilson interval,
    the grid points in the design space, each factor's PAR, the input with the largest total Sobol index (or Morris
    μ*) per KPI, and the cases run."""
    out: dict[str, str] = {}
    analysis = doc.get("analysis")
    if analysis == "design_space":
        curve = doc.get("convergence") or []
        out["P(in spec) at the set point"] = _probability_text(curve[-1] if curve else None)
        inside = sum(p["probability"]["p"] >= doc["target"] for p in doc["points"])
        out[f"grid points with P ≥ {doc['target']:g}"] = f"{inside} of {len(doc['points'])}"
        for factor in doc["factors"]:
            par = (doc.get("par") or {}).get(factor)
            out[f"PAR of {factor}"] = f"{format_value(par[0])} – {format_value(par[1])}" if par else "none"
        out["cases"] = str(doc.get("cases", "—"))
    elif analysis == "monte_carlo":
        out["P(in spec) at the set point"] = _probability_text(doc["point"]["probability"])
        out["cases"] = str(doc["point"]["probability"]["n"])
    elif analysis == "sensitivity" and doc.get("indices"):
        key = "ST" if doc["method"] == "sobol" else "mu_star"
        for kpi, indices in doc["indices"].items():
            finite = [(v, j) for j, v in enumerate(indices.get(key) or []) if v is not None and math.isfinite(v)]
            if finite:
                value, i = max(finite)
                out[f"{kpi}: largest {key}"] = f"{doc['inputs'][i]} ({format_value(value, 3)})"
        out["cases"] = str(doc.get("runs", "—"))
    return out


def comparison_rows(docs: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The key numbers of several results side by side: (label, one text per result), "—" where a result has none."""
    numbers = [key_numbers(d) for d in docs]
    labels = list(dict.fromkeys(label for n in numbers for label in n))
    return [(label, [n.get(label, "—") for n in numbers]) for label in labels]


def comparison_figure(doc: dict[str, Any], title: str) -> go.Figure:
    """The figure a kept result is compared by: its design-space map, its Sobol or Morris bars, or (a Monte Carlo)
    the convergence of P; compact, under ``title``."""
    analysis = doc.get("analysis")
    if analysis == "design_space":
        fig = probability_map(doc)
    elif analysis == "sensitivity":
        fig = sensitivity_figure(doc)
    else:
        fig = convergence_figure(doc)
    fig.update_layout(title=dict(text=title, font=dict(size=13)), margin=dict(l=50, r=10, t=40, b=40))
    return fig
