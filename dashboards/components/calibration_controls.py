"""The calibration page's layout: the controls on the left, the validation report and the results on the right."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dash_table, dcc, html

from bioprocess_twin.calibration.tagmap import FILE_SUFFIXES
from dashboards.components import figures, kpis
from dashboards.components.common import GRAPH_CONFIG, progress_bar

ISSUE_COLUMNS = ("severity", "file", "row", "column", "batch", "message")
SHIPPED = "Using the shipped files."


def _label(text: str, target: str) -> dbc.Label:
    return dbc.Label(text, html_for=target, className="small fw-semibold mb-0 mt-2")


def controls(options: list[dict], selected: str | None, c: dict) -> dbc.Card:
    """The left column: the spec picker, the upload, the fit choices, the Calibrate button and its alert."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.H5("Batch records", className="card-title"),
                dcc.Dropdown(
                    id="calibration-spec",
                    options=options,
                    value=selected,
                    clearable=False,
                ),
                html.Div(c["about"], id="calibration-about", className="small text-secondary mb-2"),
                dcc.Upload(
                    html.Div(["Drop or ", html.A("select"), " a batch-record file (CSV, XLSX, Parquet)"]),
                    id="calibration-upload",
                    multiple=False,
                    accept=",".join(FILE_SUFFIXES),
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
                    id="calibration-profiles", options=profile_options(c["profiles"]), value=[], className="small mt-2"
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


def profile_options(profiles: list[str]) -> list[dict]:
    """The one check box that runs the spec's profiles, if it has any."""
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


def issues_table() -> dash_table.DataTable:
    """The validation report's issues, one row each, errors in red."""
    return dash_table.DataTable(
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


def page_layout(options: list[dict], selected: str | None, c: dict) -> html.Div:
    """The whole page: ``options`` of the spec picker, the ``selected`` key and its choices ``c``."""
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
                    dbc.Col(controls(options, selected, c), md=4, xxl=3, className="mb-3"),
                    dbc.Col(
                        [
                            _card(
                                "Validation report",
                                [dcc.Loading(html.Div(id="calibration-report"), delay_show=300), issues_table()],
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
