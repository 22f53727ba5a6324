"""Calibration: pick or upload batch records, see their validation report, fit, and judge the fit.

The page builds a :class:`CalibrationSpec` from a shipped spec (``examples/batch_records/*/calibration.yaml``)
and the user's choices, imports the records with ``load_batch_records`` and runs
``calibration.run.calibrate`` in a background worker, exactly as ``bioprocess-twin calibrate SPEC``
does. An uploaded file replaces one file of the spec's tag map in a temporary folder (a copy of the
tag map and of its other files); nothing is written into the shipped examples. No science lives here.
"""

from __future__ import annotations

import base64
import math
import shutil
import tempfile
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, callback, ctx, dash_table, dcc, html
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from bioprocess_twin.calibration.choices import fit_choices, with_choices
from bioprocess_twin.calibration.dataset import load_batch_records
from bioprocess_twin.calibration.run import calibrate
from bioprocess_twin.calibration.spec import load_calibration_spec, resolve_model
from bioprocess_twin.calibration.tagmap import FILE_SUFFIXES
from bioprocess_twin.calibration.uploads import replace_tag_map_file
from bioprocess_twin.core.display import display_units, format_value
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import SpecError
from dashboards.components import figures, kpis, tables
from dashboards.components.common import GRAPH_CONFIG, error_alert, progress_bar, progress_reporter, status_badge

dash.register_page(__name__, path="/calibration", name="Calibration", order=40, title="Calibration · bioprocess-twin")

RECORDS = example_path("batch_records")
UPLOAD_SUFFIXES = FILE_SUFFIXES
SESSION_PREFIX = "bpt-calibration-"
LAYOUT = figures.LAYOUT | {"margin": dict(l=60, r=20, t=60, b=40)}
ISSUE_COLUMNS = ("severity", "file", "row", "column", "batch", "message")
SHIPPED = "Using the shipped files."


# -- specs and sessions ---------------------------------------------------------------------------
def spec_files() -> list[str]:
    """Shipped calibration specs, relative to the examples' batch_records folder."""
    return sorted(p.relative_to(RECORDS).as_posix() for p in RECORDS.glob("*/calibration.yaml"))


def load_spec(spec_file: str):
    return load_calibration_spec(RECORDS / spec_file)


def tag_map_path(spec_file: str, session: dict | None) -> Path:
    """The session's copy of the tag map after an upload, else the spec's own."""
    if session and session.get("spec") == spec_file:
        return Path(session["tag_map"])
    spec, base = load_spec(spec_file)
    return (base / spec.data).resolve()


def write_session(spec_file: str, replaces: str, filename: str, contents: str) -> dict:
    """A temporary folder with a copy of the tag map in which the upload replaces the file ``replaces``."""
    try:
        data = base64.b64decode(contents.split(",", 1)[1])
    except (IndexError, ValueError):
        raise ParameterError([(filename, "the upload could not be decoded")]) from None
    folder = Path(tempfile.mkdtemp(prefix=SESSION_PREFIX))
    try:
        copy = replace_tag_map_file(tag_map_path(spec_file, None), replaces, filename, data, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return {
        "spec": spec_file,
        "dir": str(folder),
        "tag_map": str(copy.tag_map),
        "upload": copy.file,
        "replaces": replaces,
    }


def remove_session(session: dict | None) -> None:
    folder = Path((session or {}).get("dir") or "")
    if folder.name.startswith(SESSION_PREFIX) and folder.parent == Path(tempfile.gettempdir()):
        shutil.rmtree(folder, ignore_errors=True)


def build_spec(spec_file: str, session: dict | None, chosen, extra, held_out, exclude, with_profiles: bool):
    """The shipped spec with the page's choices; validated again like a spec file (SpecError names the field)."""
    spec, base = load_spec(spec_file)
    return with_choices(
        spec,
        base,
        chosen,
        extra,
        held_out,
        exclude,
        with_profiles,
        tag_map_path(spec_file, session),
        f"{spec_file} with the page's choices",
    ), base


# -- controls -------------------------------------------------------------------------------------
def choices(spec_file: str | None) -> dict:
    """Options and starting values of the controls, from the spec (and its model's parameters)."""
    if not spec_file:
        return {"params": [], "checked": [], "extra": [], "files": [], "profiles": [], "about": "No specs shipped."}
    c = fit_choices(*load_spec(spec_file))
    return {
        "params": [{"label": label, "value": name} for name, label in c.unknowns],
        "checked": [name for name, _ in c.unknowns],
        "extra": c.other_parameters,
        "files": c.files,
        "profiles": c.profiles,
        "about": c.about,
    }


def _label(text: str, target: str) -> dbc.Label:
    return dbc.Label(text, html_for=target, className="small fw-semibold mb-0 mt-2")


def _controls(files: list[str], selected: str | None, c: dict) -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H5("Batch records", className="card-title"),
                dcc.Dropdown(
                    id="calibration-spec",
                    options=[{"label": f, "value": f} for f in files],
                    value=selected,
                    clearable=False,
                ),
                html.Div(c["about"], id="calibration-about", className="small text-secondary mb-2"),
                dcc.Upload(
                    html.Div(["Drop or ", html.A("select"), " a batch-record file (CSV, XLSX, Parquet)"]),
                    id="calibration-upload",
                    multiple=False,
                    accept=",".join(UPLOAD_SUFFIXES),
                    className="border rounded text-center small py-2 bg-light",
                ),
                dbc.Row(
                    [
                        dbc.Col(_label("It replaces", "calibration-upload-target"), width="auto"),
                        dbc.Col(
                            dcc.Dropdown(
                                id="calibration-upload-target",
                                options=c["files"],
                                clearable=False,
                                value=c["files"][0] if c["files"] else None,
                            )
                        ),
                    ],
                    className="g-2 align-items-end",
                ),
                html.Div(
                    [
                        html.Span(SHIPPED, id="calibration-upload-note"),
                        dbc.Button(
                            "use the shipped files",
                            id="calibration-upload-clear",
                            color="link",
                            size="sm",
                            className="p-0 ms-2 align-baseline",
                        ),
                    ],
                    className="small text-secondary",
                ),
                html.H5("Fit", className="card-title mt-3"),
                _label("Parameters to estimate", "calibration-parameters"),
                dbc.Checklist(id="calibration-parameters", options=c["params"], value=c["checked"], className="small"),
                _label("Other model parameters to estimate", "calibration-extra"),
                dcc.Dropdown(id="calibration-extra", options=c["extra"], value=[], multi=True, placeholder="none"),
                _label("Held out (predicted, not fitted)", "calibration-held-out"),
                dcc.Dropdown(id="calibration-held-out", options=[], value=[], multi=True, placeholder="none"),
                _label("Excluded (left out entirely)", "calibration-exclude"),
                dcc.Dropdown(id="calibration-exclude", options=[], value=[], multi=True, placeholder="none"),
                dbc.Checklist(
                    id="calibration-profiles", options=_profile_options(c["profiles"]), value=[], className="small mt-2"
                ),
                dbc.Button(
                    "Calibrate",
                    id="calibration-run",
                    color="primary",
                    n_clicks=0,
                    className="w-100 mt-2",
                    disabled=not selected,
                ),
                progress_bar("calibration-progress", "calibration-progress-wrap"),
                html.Div(id="calibration-alert"),
            ]
        ),
        className="shadow-sm",
    )


def _profile_options(profiles: list[str]) -> list[dict]:
    if not profiles:
        return []
    return [{"label": f"profile likelihood of {', '.join(profiles)} (slower)", "value": "on"}]


def _card(title: str, body) -> dbc.Card:
    return dbc.Card(dbc.CardBody([html.H5(title, className="card-title")] + list(body)), className="shadow-sm mb-3")


def _graph(graph_id: str, title: str, height: int | None = None) -> dcc.Graph:
    """A figure placeholder; without ``height`` the figure's own layout height is used (panel grids)."""
    return dcc.Graph(
        id=graph_id,
        figure=figures.empty(title, "Run the calibration to see it."),
        config=GRAPH_CONFIG,
        style={"height": f"{height}px"} if height else {},
    )


def _picker(picker_id: str) -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(_label("Batch", picker_id), width="auto"),
            dbc.Col(dcc.Dropdown(id=picker_id, options=[], value=None, clearable=False)),
        ],
        className="g-2 mb-1 align-items-end",
    )


def layout(**_):
    files = spec_files()
    selected = files[0] if files else None
    try:
        c = choices(selected)
    except (SpecError, ParameterError) as exc:
        c = choices(None) | {
            "about": error_alert("This calibration spec is not valid", exc.errors, "calibration-spec-error")
        }
    issues = dash_table.DataTable(
        id="calibration-issues",
        data=[],
        page_size=15,
        sort_action="native",
        filter_action="native",
        columns=[{"name": col, "id": col} for col in ISSUE_COLUMNS],
        style_table={"overflowX": "auto"},
        style_cell={"fontSize": 12, "textAlign": "left", "whiteSpace": "normal", "height": "auto"},
        style_data_conditional=[{"if": {"filter_query": '{severity} = "error"'}, "color": "#b02a37"}],
    )
    return html.Div(
        [
            dcc.Store(id="calibration-session"),
            dcc.Store(id="calibration-result"),
            html.H3("Calibration against batch records", className="mb-1"),
            html.P(
                "Fit the chosen parameters to many batches at once, with 95 % intervals, identifiability and "
                "held-out validation: the same call as `bioprocess-twin calibrate SPEC` (see docs/calibration.md).",
                className="text-secondary",
            ),
            dbc.Row(
                [
                    dbc.Col(_controls(files, selected, c), md=4, xxl=3, className="mb-3"),
                    dbc.Col(
                        [
                            _card(
                                "Validation report",
                                [dcc.Loading(html.Div(id="calibration-report"), delay_show=300), issues],
                            ),
                            html.Div("Not run yet.", id="calibration-status", className="small text-secondary mb-2"),
                            dbc.Row(kpis.kpi_cards(None), id="calibration-kpis", className="g-2 mb-1"),
                            _card(
                                "Estimates with 95 % intervals",
                                [html.Div(id="calibration-estimates-wrap", style={"overflowX": "auto"})],
                            ),
                            dbc.Row(
                                [
                                    dbc.Col(
                                        _card("Correlation", [_graph("calibration-correlation", "Correlation", 420)]),
                                        xxl=6,
                                    ),
                                    dbc.Col(
                                        _card(
                                            "Identifiability and warnings",
                                            [
                                                html.Div(id="calibration-identifiability", className="small mb-2"),
                                                html.Div(id="calibration-warnings"),
                                            ],
                                        ),
                                        xxl=6,
                                    ),
                                ],
                                className="g-3",
                            ),
                            _card(
                                "Fitted against measured",
                                [
                                    _picker("calibration-fit-batch"),
                                    _graph("calibration-fit", "Fitted against measured"),
                                ],
                            ),
                            _card(
                                "Held-out batches",
                                [
                                    _picker("calibration-heldout-batch"),
                                    _graph("calibration-heldout", "Held-out predictions"),
                                    html.Div(id="calibration-validation-wrap"),
                                ],
                            ),
                            _card(
                                "Residuals",
                                [
                                    _graph("calibration-residuals", "Standardised residuals"),
                                    html.Div(id="calibration-metrics-wrap"),
                                ],
                            ),
                        ],
                        md=8,
                        xxl=9,
                    ),
                ],
                className="g-3",
            ),
        ]
    )


# -- callbacks: records ---------------------------------------------------------------------------
@callback(
    Output("calibration-about", "children"),
    Output("calibration-parameters", "options"),
    Output("calibration-parameters", "value"),
    Output("calibration-extra", "options"),
    Output("calibration-extra", "value"),
    Output("calibration-upload-target", "options"),
    Output("calibration-upload-target", "value"),
    Output("calibration-profiles", "options"),
    Output("calibration-session", "data", allow_duplicate=True),
    Output("calibration-upload-note", "children", allow_duplicate=True),
    Input("calibration-spec", "value"),
    State("calibration-session", "data"),
    prevent_initial_call=True,
)
def pick_spec(spec_file, session):
    remove_session(session)
    try:
        c = choices(spec_file)
    except (SpecError, ParameterError) as exc:
        return (
            error_alert("This calibration spec is not valid", exc.errors, "calibration-spec-error"),
            [],
            [],
            [],
            [],
            [],
            None,
            [],
            None,
            SHIPPED,
        )
    return (
        c["about"],
        c["params"],
        c["checked"],
        c["extra"],
        [],
        c["files"],
        c["files"][0] if c["files"] else None,
        _profile_options(c["profiles"]),
        None,
        SHIPPED,
    )


@callback(
    Output("calibration-session", "data"),
    Output("calibration-upload-note", "children"),
    Output("calibration-upload", "contents"),
    Input("calibration-upload", "contents"),
    Input("calibration-upload-clear", "n_clicks"),
    State("calibration-upload", "filename"),
    State("calibration-upload-target", "value"),
    State("calibration-spec", "value"),
    State("calibration-session", "data"),
    prevent_initial_call=True,
)
def upload_records(contents, _clear, filename, replaces, spec_file, session):
    remove_session(session)
    if ctx.triggered_id == "calibration-upload-clear" or not contents:
        return None, SHIPPED, None
    try:
        session = write_session(spec_file, replaces, filename, contents)
    except (SpecError, ParameterError) as exc:
        return None, error_alert("The upload cannot be used", exc.errors, "calibration-upload-error"), None
    note = html.Span(
        [html.Code(session["upload"]), f" replaces {replaces} for this session."], id="calibration-upload-active"
    )
    return session, note, None


@callback(
    Output("calibration-report", "children"),
    Output("calibration-issues", "data"),
    Output("calibration-held-out", "options"),
    Output("calibration-held-out", "value"),
    Output("calibration-exclude", "options"),
    Output("calibration-exclude", "value"),
    Input("calibration-spec", "value"),
    Input("calibration-session", "data"),
    State("calibration-held-out", "value"),
    State("calibration-exclude", "value"),
)
def show_records(spec_file, session, held_out, exclude):
    """The import report of the chosen records; batch choices from the spec, kept across uploads."""
    if not spec_file:
        return "No calibration spec is shipped.", [], [], [], [], []
    try:
        spec, base = load_spec(spec_file)
        records = load_batch_records(tag_map_path(spec_file, session), model=resolve_model(spec, base))
    except (SpecError, ParameterError) as exc:
        return (
            error_alert("The tag map or spec has problems", exc.errors, "calibration-records-error"),
            [],
            [],
            [],
            [],
            [],
        )
    except Exception as exc:  # noqa: BLE001 - report, never crash the page
        return (
            error_alert("The records could not be read", [(type(exc).__name__, str(exc))], "calibration-records-error"),
            [],
            [],
            [],
            [],
            [],
        )
    batches = list(records.batches)
    if ctx.triggered_id != "calibration-session":
        held_out, exclude = spec.held_out, spec.exclude
    report = records.report.to_dict()
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
        dbc.Row(kpis.kpi_cards(cards), className="g-2"),
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
    rows = [{c: i[c] for c in ISSUE_COLUMNS} for i in report["issues"]]
    return (
        summary,
        rows,
        batches,
        [b for b in held_out or [] if b in batches],
        batches,
        [b for b in exclude or [] if b in batches],
    )


# -- callbacks: run -------------------------------------------------------------------------------
@callback(
    Output("calibration-result", "data"),
    Output("calibration-alert", "children"),
    Input("calibration-run", "n_clicks"),
    State("calibration-spec", "value"),
    State("calibration-session", "data"),
    State("calibration-parameters", "value"),
    State("calibration-extra", "value"),
    State("calibration-held-out", "value"),
    State("calibration-exclude", "value"),
    State("calibration-profiles", "value"),
    background=True,
    prevent_initial_call=True,
    running=[
        (Output("calibration-run", "disabled"), True, False),
        (Output("calibration-progress-wrap", "className"), "mt-2", "mt-2 invisible"),
    ],
    progress=[Output("calibration-progress", "value"), Output("calibration-progress", "label")],
)
def run_calibration(set_progress, _n, spec_file, session, chosen, extra, held_out, exclude, profiles):
    # calibrate reports a few times per fit (per start, error-model stage and profile): no throttling needed
    report = progress_reporter(set_progress, interval=0.0)

    report(0, "importing")
    try:
        spec, base = build_spec(spec_file, session, chosen, extra, held_out, exclude, bool(profiles))
        result = calibrate(spec, base, progress=report)
    except (SpecError, ParameterError) as exc:
        return None, error_alert("The calibration cannot run", exc.errors, "calibration-error")
    except Exception as exc:  # noqa: BLE001 - report, never crash the worker silently
        return None, error_alert(
            "The calibration could not be completed", [(type(exc).__name__, str(exc))], "calibration-error"
        )
    doc = result.to_json(include_points=True)  # unbounded intervals stay visible as "inf"
    alert = (
        None
        if result.status == "ok"
        else error_alert("The estimation failed", [("estimation", doc["message"])], "calibration-failed")
    )
    return doc, alert


# -- callbacks: results ---------------------------------------------------------------------------
@callback(
    Output("calibration-status", "children"),
    Output("calibration-kpis", "children"),
    Output("calibration-estimates-wrap", "children"),
    Output("calibration-correlation", "figure"),
    Output("calibration-fit-batch", "options"),
    Output("calibration-fit-batch", "value"),
    Output("calibration-heldout-batch", "options"),
    Output("calibration-heldout-batch", "value"),
    Output("calibration-validation-wrap", "children"),
    Output("calibration-residuals", "figure"),
    Output("calibration-metrics-wrap", "children"),
    Output("calibration-identifiability", "children"),
    Output("calibration-warnings", "children"),
    Input("calibration-result", "data"),
)
def show_result(doc):
    if not doc:
        return (
            "Not run yet.",
            kpis.kpi_cards(None),
            None,
            figures.empty("Correlation"),
            [],
            None,
            [],
            None,
            None,
            figures.empty("Standardised residuals"),
            None,
            None,
            None,
        )
    fit, after = doc["fit"], doc["identifiability"]["after"]
    badge = status_badge(doc["status"], "calibration-status-badge")
    took = sum(v for v in doc["seconds"].values() if v)
    status = [
        badge,
        f"{doc['name']} · {doc['model']} {doc['model_version']} · fitted "
        f"{', '.join(doc['batches']['fitted'])} · {fit['iterations']} iterations · {took:.0f} s",
    ]
    cards = {
        "observations": fit["observations"],
        "unknowns": fit["unknowns"],
        "fim_rank": f"{after['rank']} of {after['unknowns']}",
        "condition_number": after["condition_number"],
        "neg2_log_likelihood": fit["neg2_log_likelihood"],
        "aic": fit["aic"],
    }
    estimates = tables.comparison_table(
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
    fitted = doc["batches"]["fitted"]
    held = (doc.get("validation") or {}).get("batches") or []
    metrics = [m | {"quantity": m["output"]} for m in fit["metrics"] if m["batch"] == "all"]
    metrics_table = [
        html.Div(
            "Fit over all fitted batches (NRMSE: RMSE over the range of the measured values; "
            "bias: mean of fitted − measured).",
            className="small text-secondary mt-2",
        ),
        tables.comparison_table(
            metrics, "calibration-metrics", [("n", "n"), ("rmse", "RMSE"), ("nrmse", "NRMSE"), ("bias", "bias")]
        ),
    ]
    warnings = tables.warning_list(
        [{"message": w} for w in doc["warnings"]], "calibration-warning-list", "No warnings."
    )
    return (
        status,
        kpis.kpi_cards(cards),
        estimates,
        correlation_figure(doc),
        fitted,
        fitted[0] if fitted else None,
        held,
        held[0] if held else None,
        validation_tables(doc),
        residual_figure(doc),
        metrics_table,
        identifiability_text(doc),
        warnings,
    )


@callback(
    Output("calibration-fit", "figure"), Input("calibration-fit-batch", "value"), State("calibration-result", "data")
)
def show_fit(batch, doc):
    if not doc or not batch:
        return figures.empty("Fitted against measured", "Run the calibration to see it.")
    points = pd.DataFrame(doc["points"])
    return curves_figure(
        points[points["batch"] == batch],
        doc["units"],
        f"Fitted against measured: {batch}",
        [("measured", "measured", "markers", None), ("fitted", "fitted", "lines", None)],
    )


@callback(
    Output("calibration-heldout", "figure"),
    Input("calibration-heldout-batch", "value"),
    State("calibration-result", "data"),
)
def show_heldout(batch, doc):
    if not doc or not batch:
        return figures.empty(
            "Held-out predictions", "No batch is held out." if doc else "Run the calibration to see it."
        )
    points = pd.DataFrame(doc["validation"]["points"])
    return curves_figure(
        points[points["batch"] == batch],
        doc["units"],
        f"Held-out batch {batch}, not fitted",
        [
            ("value", "measured", "markers", None),
            ("pred", "model prediction", "lines", None),
            ("naive", "mean of training batches", "lines", "dot"),
        ],
    )


# -- figures and tables ---------------------------------------------------------------------------
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
