"""Production line: pick a shipped line, run one batch, see the module diagram, streams and trajectories.

The page loads a :class:`LineDefinition`, runs it with ``run_line`` (in a background worker, with
a progress bar) and shows ``LineResult.to_dict()``: the same calls ``bioprocess-twin line run``
makes. No science lives here.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dash_table, dcc, html, no_update

from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.line.definition import available_lines, load_line
from bioprocess_twin.line.flowsheet import run_line
from dashboards.components import flowsheet, kpis
from dashboards.components.common import GRAPH_CONFIG, error_alert, progress_bar, progress_reporter, status_badge

dash.register_page(__name__, path="/line", name="Production line", order=1, title="Production line · bioprocess-twin")


def _definition(name: str | None) -> dict | None:
    if not name:
        return None
    return load_line(name).model_dump(mode="json", by_alias=True)


def layout(**_):
    lines = list(available_lines())
    selected = lines[0] if lines else None
    definition = _definition(selected)
    controls = dbc.Card(
        dbc.CardBody(
            [
                html.H5("Line", className="card-title"),
                dcc.Dropdown(
                    id="line-picker",
                    options=[{"label": n, "value": n} for n in lines],
                    value=selected,
                    clearable=False,
                    className="mb-2",
                ),
                html.Div(
                    definition["description"] if definition else "No lines are shipped.",
                    id="line-description",
                    className="small text-secondary mb-2",
                ),
                dbc.Button(
                    "Run one batch",
                    id="line-run",
                    color="primary",
                    n_clicks=0,
                    className="w-100",
                    disabled=not selected,
                ),
                progress_bar("line-progress", "line-progress-wrap"),
                html.Div(id="line-alert"),
            ]
        ),
        className="shadow-sm",
    )
    return html.Div(
        [
            dcc.Store(id="line-definition", data=definition),
            dcc.Store(id="line-result"),
            html.H3("Production line", className="mb-1"),
            html.P(
                "Modules joined by streams, one batch through the ISA-88 recipe: what each unit receives and "
                "delivers, how long it takes, and whether the mass balances close.",
                className="text-secondary",
            ),
            dbc.Row(
                [
                    dbc.Col(controls, md=4, xxl=3, className="mb-3"),
                    dbc.Col(
                        [
                            html.Div("Not run yet.", id="line-status", className="small text-secondary mb-2"),
                            dbc.Row(kpis.kpi_cards(None), id="line-kpis", className="g-2 mb-1"),
                            dbc.Card(
                                dbc.CardBody(
                                    dcc.Graph(
                                        id="line-diagram",
                                        figure=flowsheet.diagram_figure(definition),
                                        config=GRAPH_CONFIG,
                                        style={"height": "380px"},
                                    )
                                ),
                                className="shadow-sm mb-3",
                            ),
                        ],
                        md=8,
                        xxl=9,
                    ),
                ],
                className="g-3",
            ),
            dbc.Card(
                dbc.CardBody(
                    [
                        html.H5("Streams", className="card-title"),
                        dash_table.DataTable(
                            id="stream-table",
                            data=[],
                            page_size=20,
                            sort_action="native",
                            columns=[
                                {"name": c, "id": c}
                                for c in ("from", "to", "volume_L", "T_C", "main solutes (g/L)", "d50_nm")
                            ],
                            style_table={"overflowX": "auto"},
                            style_cell={"fontSize": 12, "textAlign": "left"},
                        ),
                    ]
                ),
                className="shadow-sm mb-3",
            ),
            dbc.Card(
                dbc.CardBody(
                    [
                        dbc.Row(
                            [
                                dbc.Col(
                                    dbc.Label("Unit", html_for="unit-picker", className="small fw-semibold mt-1"),
                                    width="auto",
                                ),
                                dbc.Col(dcc.Dropdown(id="unit-picker", options=[], value=None)),
                            ],
                            className="g-2 mb-1",
                        ),
                        dcc.Graph(
                            id="unit-series", figure=flowsheet.unit_series_figure(None, None), config=GRAPH_CONFIG
                        ),
                    ]
                ),
                className="shadow-sm",
            ),
        ]
    )


@callback(
    Output("line-definition", "data"),
    Output("line-description", "children"),
    Output("line-result", "data", allow_duplicate=True),
    Input("line-picker", "value"),
    prevent_initial_call=True,
)
def pick_line(name):
    definition = _definition(name)
    return definition, (definition or {}).get("description", ""), None


@callback(
    Output("line-result", "data"),
    Output("line-alert", "children"),
    Input("line-run", "n_clicks"),
    State("line-picker", "value"),
    background=True,
    prevent_initial_call=True,
    running=[
        (Output("line-run", "disabled"), True, False),
        (Output("line-progress-wrap", "className"), "mt-2", "mt-2 invisible"),
    ],
    progress=[Output("line-progress", "value"), Output("line-progress", "label")],
)
def run_batch(set_progress, n_clicks, name):
    set_progress((0, "loading"))
    try:
        result = run_line(load_line(name), progress=progress_reporter(set_progress))
    except ParameterError as exc:
        return no_update, error_alert("The line definition has problems", exc.errors, "line-error")
    except Exception as exc:  # noqa: BLE001 - report, never crash the worker silently
        return no_update, error_alert("The run could not be completed", [(type(exc).__name__, str(exc))], "line-error")
    data = result.to_dict() | {"summary_kpis": result.summary_kpis(), "stream_table": result.stream_table()}
    alert = None if result.ok else error_alert("A unit failed", [("line", result.message)], "line-failed")
    return data, alert


@callback(
    Output("line-diagram", "figure"),
    Output("line-kpis", "children"),
    Output("stream-table", "data"),
    Output("unit-picker", "options"),
    Output("unit-picker", "value"),
    Output("line-status", "children"),
    Input("line-result", "data"),
    Input("line-definition", "data"),
)
def show_result(result, definition):
    if not result:
        return flowsheet.diagram_figure(definition), kpis.kpi_cards(None), [], [], None, "Not run yet."
    units = list(result["units"])
    status = [
        status_badge(result["status"], "line-status-badge"),
        f"{result['line']} {result['line_version']}: batch of {result['duration_h']:.1f} h",
    ]
    return (
        flowsheet.diagram_figure(definition, result),
        kpis.kpi_cards(result["summary_kpis"]),
        result["stream_table"],
        [{"label": u, "value": u} for u in units],
        units[0] if units else None,
        status,
    )


@callback(Output("unit-series", "figure"), Input("unit-picker", "value"), State("line-result", "data"))
def show_unit(unit, result):
    return flowsheet.unit_series_figure(result, unit)
