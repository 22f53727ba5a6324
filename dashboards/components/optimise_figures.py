"""Figures and table rows of an optimisation result (``run_optimization``'s document): the policy as a step plot
per control, the states and outputs at the interval boundaries with their bounds, the constraint activity with
the price of each bound, and a Pareto front. They only draw what the library computed; ``units`` maps a control,
state or output name to its display units."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bioprocess_twin.core.display import format_value

TEMPLATE = "plotly_white"
MARGIN = dict(l=60, r=20, t=50, b=40)
#: colours of the points of a front by status
STATUS_MARKERS = {"optimal": ("circle", "#0d6efd"), "infeasible": ("x", "#dc3545"), "failed": ("x", "#6c757d")}


def _empty(title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, title=title, margin=MARGIN)
    return fig


def _label(name: str, units: Mapping[str, str]) -> str:
    u = units.get(name, "")
    return f"{name} ({u})" if u else name


def boundaries(doc: Mapping[str, Any], horizon: float | None = None) -> list[float]:
    """The interval boundaries of a result: its ``times``, else N + 1 equal steps over ``horizon`` (a front's
    points carry their policies but not the times)."""
    if doc.get("times"):
        return list(doc["times"])
    controls = doc.get("controls") or next((p["controls"] for p in doc.get("points") or []), {})
    n = len(next(iter(controls.values()), []))
    if not n or horizon is None:
        return []
    return [horizon * k / n for k in range(n + 1)]


def _steps(times: Sequence[float], values: Sequence[float]) -> tuple[list[float], list[float]]:
    """x and y of a piecewise-constant policy drawn with ``line_shape="hv"``: the last value repeated at the end."""
    return list(times), [*values, values[-1]] if values else []


def policy_figure(
    doc: Mapping[str, Any] | None, units: Mapping[str, str] | None = None, horizon: float | None = None
) -> go.Figure:
    """Each control against time, constant on each interval (one panel per control); for a Pareto front, one
    step line per ε."""
    units = units or {}
    if not doc:
        return _empty("Policy: run an optimisation")
    times = boundaries(doc, horizon)
    if doc.get("kind") == "pareto":
        policies = [(f"ε {format_value(p['epsilon'])}", p["controls"]) for p in doc["points"]]
    else:
        policies = [("optimum", doc.get("controls") or {})]
    names = list(policies[0][1]) if policies else []
    if not names or not times:
        return _empty("Policy: no controls in the result")
    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for row, name in enumerate(names, start=1):
        for label, controls in policies:
            x, y = _steps(times, controls[name])
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    line_shape="hv",
                    name=f"{name}: {label}" if len(policies) > 1 else name,
                    hovertemplate=f"{name} %{{y:.4g}}<extra>{label}</extra>",
                ),
                row=row,
                col=1,
            )
        fig.update_yaxes(title_text=_label(name, units), tickformat="~g", row=row, col=1)
    fig.update_xaxes(title_text=_label("time", units), row=len(names), col=1)
    fig.update_layout(
        template=TEMPLATE,
        title="Policy (constant on each interval)",
        margin=MARGIN,
        showlegend=len(policies) > 1,
    )
    return fig


def trajectory_names(doc: Mapping[str, Any] | None) -> list[str]:
    """The states and outputs a policy result carries (empty for a front: its points carry no trajectories)."""
    if not doc or doc.get("kind") == "pareto":
        return []
    return [*(doc.get("states") or {}), *(doc.get("outputs") or {})]


def _series(doc: Mapping[str, Any], name: str) -> list[float] | None:
    return (doc.get("states") or {}).get(name) or (doc.get("outputs") or {}).get(name)


def trajectory_figure(
    doc: Mapping[str, Any] | None, names: Sequence[str], units: Mapping[str, str] | None = None
) -> go.Figure:
    """The picked states and outputs at the interval boundaries (one panel each), with the path bounds as dashed
    lines and the final bounds as marks at the end."""
    units = units or {}
    names = [n for n in names or [] if doc and _series(doc, n) is not None]
    if not doc or not names:
        return _empty("States and outputs at the interval boundaries: run an optimisation")
    times = doc["times"]
    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.06)
    for row, name in enumerate(names, start=1):
        fig.add_trace(
            go.Scatter(x=times, y=_series(doc, name), mode="lines+markers", name=name),
            row=row,
            col=1,
        )
        for c in doc.get("constraints") or []:
            if c["name"] != name or c["kind"] not in ("path", "final"):
                continue
            text = f"{c['kind']} {'≥' if c['side'] == 'min' else '≤'} {format_value(c['bound'])}"
            if c["kind"] == "path":
                fig.add_hline(y=c["bound"], line_dash="dot", line_color="#dc3545", row=row, col=1)
            fig.add_trace(
                go.Scatter(
                    x=[times[-1]],
                    y=[c["bound"]],
                    mode="markers",
                    marker=dict(symbol="triangle-up" if c["side"] == "min" else "triangle-down", color="#dc3545"),
                    name=text,
                    hovertemplate=f"{name} {text}<extra></extra>",
                ),
                row=row,
                col=1,
            )
        fig.update_yaxes(title_text=_label(name, units), tickformat="~g", row=row, col=1)
    fig.update_xaxes(title_text=_label("time", units), row=len(names), col=1)
    fig.update_layout(
        template=TEMPLATE,
        title="At the interval boundaries",
        margin=MARGIN,
        showlegend=False,
        height=max(320, 220 * len(names)),
    )
    return fig


def _reached(doc: Mapping[str, Any], c: Mapping[str, Any]) -> float | None:
    """The value a constraint's side is judged on: the final value, or the closest approach to the bound over the
    boundaries (a path bound) or the intervals (a control bound)."""
    if c["kind"] == "control":
        values = (doc.get("controls") or {}).get(c["name"])
    else:
        values = _series(doc, c["name"])
    if not values:
        return None
    if c["kind"] == "final":
        return float(values[-1])
    return float(min(values) if c["side"] == "min" else max(values))


def constraint_rows(doc: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per bound side of every constraint of a policy result: name, kind, side, bound, the value reached,
    where it is active, its price (the gain in the objective per unit the bound is relaxed) and its violation."""
    if not doc or doc.get("kind") == "pareto":
        return []
    rows = []
    for c in doc.get("constraints") or []:
        rows.append(
            {
                "name": c["name"],
                "kind": c["kind"],
                "side": c["side"],
                "bound": c["bound"],
                "value": _reached(doc, c),
                "active_at": list(c["active_at"]),
                "price": c["multiplier"],
                "violation": c["violation"],
            }
        )
    return rows


def pareto_figure(doc: Mapping[str, Any] | None, units: Mapping[str, str] | None = None) -> go.Figure:
    """The front: the first objective against the second at each ε, the price of the ε bound in the hover text;
    points that are not optimal are crosses."""
    units = units or {}
    if not doc or doc.get("kind") != "pareto":
        return _empty("Pareto front: tick 'Trace a Pareto front' and run")
    first, second = doc["objective"], doc["second"]
    points = sorted(doc["points"], key=lambda p: p["second"])
    fig = go.Figure(
        go.Scatter(
            x=[p["second"] for p in points],
            y=[p["first"] for p in points],
            mode="lines",
            line=dict(color="#adb5bd"),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    for status, (symbol, colour) in STATUS_MARKERS.items():
        chosen = [p for p in points if p["status"] == status]
        if not chosen:
            continue
        fig.add_trace(
            go.Scatter(
                x=[p["second"] for p in chosen],
                y=[p["first"] for p in chosen],
                mode="markers",
                marker=dict(symbol=symbol, size=11, color=colour),
                name=status,
                customdata=[[p["epsilon"], p["price"]] for p in chosen],
                hovertemplate=(
                    f"ε %{{customdata[0]:.4g}}<br>{first['name']} %{{y:.4g}}<br>{second['name']} %{{x:.4g}}"
                    "<br>price %{customdata[1]:.4g}<extra>" + status + "</extra>"
                ),
            )
        )
    fig.update_layout(
        template=TEMPLATE,
        title=f"Pareto front: {first['sense']} {first['name']}, {second['sense']} {second['name']}",
        xaxis_title=_label(second["name"], units),
        yaxis_title=_label(first["name"], units),
        margin=MARGIN,
    )
    return fig
