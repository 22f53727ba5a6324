"""The calibration page's figures and tables: fitted against measured, held-out predictions, residuals,
correlation, validation and identifiability, and the result summary (status, KPI cards, estimates).

Each function turns the JSON document of ``CalibrationResult.to_json(include_points=True)`` into
Plotly figures or Dash components; no science lives here.
"""

from __future__ import annotations

import math

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import html
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from bioprocess_twin.core.display import display_units, format_value
from dashboards.components import figures, kpis, tables
from dashboards.components.common import status_badge

LAYOUT = figures.LAYOUT | {"margin": dict(l=60, r=20, t=60, b=40)}


def _grid(outputs: list[str], units: dict, title: str, row_height: int = 210):
    """Two columns of panels, one per output, with a fixed gap in pixels between the rows."""
    cols = 2 if len(outputs) > 1 else 1
    rows = max(1, math.ceil(len(outputs) / cols))
    height = 110 + (row_height + 70) * rows
    titles = [f"{o} ({display_units(units.get(o))})" if display_units(units.get(o)) else o for o in outputs]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, vertical_spacing=70 / height)
    fig.update_layout(LAYOUT | {"title": title, "height": height})
    fig.update_xaxes(title_text=f"time ({display_units(units.get('time'))})", row=rows)
    return fig, cols


def curves_figure(points: pd.DataFrame, units: dict, title: str, series) -> go.Figure:
    """One panel per output; ``series`` are (column, name, mode, dash) drawn against time."""
    outputs = list(dict.fromkeys(points["output"]))
    fig, cols = _grid(outputs, units, title)
    colours = ("#212529", "#0d6efd", "#fd7e14")
    for k, output in enumerate(outputs):
        g = points[points["output"] == output].sort_values("time")
        for j, (column, name, mode, line_dash) in enumerate(series):
            style = (
                dict(marker=dict(size=6, color=colours[j]))
                if mode == "markers"
                else dict(line=dict(color=colours[j], width=2, dash=line_dash))
            )
            fig.add_trace(
                go.Scatter(
                    x=g["time"].tolist(),
                    y=g[column].tolist(),
                    mode=mode,
                    name=name,
                    legendgroup=name,
                    showlegend=k == 0,
                    **style,
                ),
                row=k // cols + 1,
                col=k % cols + 1,
            )
    return fig


def residual_figure(doc: dict) -> go.Figure:
    """Standardised residual against time, one panel per output, one colour per fitted batch."""
    points = pd.DataFrame(doc["points"])
    outputs = list(dict.fromkeys(points["output"]))
    fig, cols = _grid(outputs, doc["units"], "Standardised residuals (fitted − measured)/σ")
    batches, colours = list(dict.fromkeys(points["batch"])), qualitative.Plotly
    for k, output in enumerate(outputs):
        where = dict(row=k // cols + 1, col=k % cols + 1)
        for batch, g in points[points["output"] == output].groupby("batch", sort=False):
            fig.add_trace(
                go.Scatter(
                    x=g["time"].tolist(),
                    y=g["residual"].tolist(),
                    mode="markers",
                    name=batch,
                    legendgroup=batch,
                    showlegend=k == 0,
                    marker=dict(size=5, color=colours[batches.index(batch) % len(colours)]),
                ),
                **where,
            )
        for y in (-2, 2):
            fig.add_hline(y=y, line_dash="dot", line_color="#adb5bd", **where)
    return fig


def correlation_figure(doc: dict) -> go.Figure:
    corr = doc["correlation"]
    labels = corr["labels"]
    fig = go.Figure(
        go.Heatmap(
            z=corr["matrix"],
            x=labels,
            y=labels,
            zmin=-1,
            zmax=1,
            colorscale="RdBu_r",
            hovertemplate="%{y} / %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(LAYOUT | {"title": "Correlation of the estimates", "margin": dict(l=10, r=10, t=50, b=10)})
    fig.update_yaxes(autorange="reversed")
    return fig


def validation_tables(doc: dict):
    validation = doc.get("validation")
    if not validation:
        return html.Div("No batch is held out.", className="small text-secondary")
    columns = [("n", "n"), ("rmse", "RMSE"), ("naive_rmse", "naive RMSE"), ("skill", "skill")]
    per_batch = [
        r | {"quantity": f"{r['batch']}-{r['output']}", "label": f"{r['batch']} · {r['output']}"}
        for r in validation["per_batch"]
    ]
    notes = [html.Div(w, className="small text-danger") for w in validation.get("warnings", [])]
    return [
        html.Div(
            "Prediction error without refitting, against the mean trajectory of the training batches "
            "(skill = 1 − RMSE/naive RMSE).",
            className="small text-secondary mt-2",
        ),
        tables.comparison_table(per_batch, "calibration-validation", columns),
    ] + notes


def identifiability_text(doc: dict) -> list:
    out = []
    for when in ("before", "after"):
        d = doc["identifiability"][when]
        weakest = [r["label"] for r in d["ranking"][-3:]]
        out.append(
            html.Div(
                f"{when} the fit: rank {d['rank']} of {d['unknowns']}, condition number "
                f"{format_value(d['condition_number'])}; least estimable: {', '.join(weakest)}",
                id=f"calibration-identifiability-{when}",
            )
        )
    for p in doc.get("profiles") or []:
        out.append(
            html.Div(
                f"profile of {p.get('label')}: 95 % interval {format_value(p.get('ci_low'))} – "
                f"{format_value(p.get('ci_high'))}"
            )
        )
    return out


def status_line(doc: dict) -> list:
    """The status badge and one line: name, model and version, fitted batches, iterations, seconds."""
    took = sum(v for v in doc["seconds"].values() if v)
    return [
        status_badge(doc["status"], "calibration-status-badge"),
        f"{doc['name']} · {doc['model']} {doc['model_version']} · fitted "
        f"{', '.join(doc['batches']['fitted'])} · {doc['fit']['iterations']} iterations · {took:.0f} s",
    ]


def summary_cards(doc: dict) -> list:
    fit, after = doc["fit"], doc["identifiability"]["after"]
    return _counts(
        {
            "observations": fit["observations"],
            "unknowns": fit["unknowns"],
            "fim_rank": f"{after['rank']} of {after['unknowns']}",
            "condition_number": after["condition_number"],
            "neg2_log_likelihood": fit["neg2_log_likelihood"],
            "aic": fit["aic"],
        }
    )


def _counts(cards: dict) -> list:
    """Cards of counts and statistics: pure numbers."""
    return kpis.kpi_cards(cards, units=dict.fromkeys(cards, ""))


def estimates_table(doc: dict):
    return tables.comparison_table(
        [r | {"quantity": r["label"]} for r in doc["estimates"]],
        "calibration-estimates",
        [
            ("value", "estimate"),
            ("se", "std. error"),
            ("ci_low", "95 % low"),
            ("ci_high", "95 % high"),
            ("rel_se", "rel. s.e."),
        ],
    )


def metrics_tables(doc: dict) -> list:
    metrics = [m | {"quantity": m["output"]} for m in doc["fit"]["metrics"] if m["batch"] == "all"]
    return [
        html.Div(
            "Fit over all fitted batches (NRMSE: RMSE over the range of the measured values; "
            "bias: mean of fitted − measured).",
            className="small text-secondary mt-2",
        ),
        tables.comparison_table(
            metrics, "calibration-metrics", [("n", "n"), ("rmse", "RMSE"), ("nrmse", "NRMSE"), ("bias", "bias")]
        ),
    ]


def warning_list(doc: dict):
    return tables.warning_list([{"message": w} for w in doc["warnings"]], "calibration-warning-list", "No warnings.")


def records_summary(report: dict, batches: list[str]) -> list:
    """The import report (``ImportReport.to_dict()``) as KPI cards, the batches, dropped values and faulty batches."""
    counts = report["counts"]
    cards = {
        k: f"{n:,}"
        for k, n in (
            ("rows_read", report["rows_read"]),
            ("values_used", report["values_used"]),
            ("values_dropped", report["values_dropped"]),
            ("errors", counts["error"]),
            ("warnings", counts["warning"]),
        )
    }
    dropped = ", ".join(f"{why} {n}" for why, n in report["dropped"].items()) or "none"
    bad = report["batches_with_errors"]
    summary = [
        dbc.Row(_counts(cards), className="g-2"),
        html.Div(f"{len(batches)} batches: {', '.join(batches)}", className="small"),
        html.Div(f"Dropped values by reason: {dropped}", id="calibration-dropped", className="small"),
    ]
    if bad:
        summary.append(
            html.Div(
                f"Errors in {', '.join(bad)}: a calibration that uses these batches stops; exclude them to go on.",
                id="calibration-bad-batches",
                className="small text-danger",
            )
        )
    return summary
