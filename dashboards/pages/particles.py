"""Particle formation: pick a particle model, set its conditions, run it, see the size distribution.

A "Model version" picker lists the code's version and the calibrated sets saved for it
(``<model>/`` in the user or shipped models folder); a calibrated version fills the model-parameter
fields with its values.
The page only builds a :class:`SimulationSpec` from the form, runs it (in a background worker,
with a progress bar), saves the run, and plots ``ProcessRun`` data. No science lives here.
"""

from __future__ import annotations

import getpass
import json
import time

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from bioprocess_twin import catalogue
from bioprocess_twin.core.definitions import model_versions
from bioprocess_twin.core.display import display_units
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.spec import SpecError
from dashboards.components import figures, forms, kpis, runs
from dashboards.components.common import (
    GRAPH_CONFIG,
    error_alert,
    progress_bar,
    progress_reporter,
    status_badge,
    timestamp,
)

dash.register_page(__name__, path="/", name="Particle formation", order=0, title="Particle formation · bioprocess-twin")

PREFERRED = "emulsion_homogenizer"


def _model_info(name: str) -> list:
    d = catalogue.get(name).describe()
    time_units = display_units(d["time_units"])
    return [
        html.Div(d.get("description", ""), className="small"),
        html.Div(
            f"{d['name']} · code version {d['version']}" + (f" · time in {time_units}" if time_units else ""),
            className="small text-secondary",
        ),
    ]


def _latest_saved(name: str) -> dict | None:
    """Results of the newest saved successful run of ``name``, to show before anything is run."""
    try:
        st = runs.store()
        for row in st.list_runs(limit=1, model=name, status="ok"):
            rec = st.get_run(row["id"])
            return rec["results"] | {
                "run_id": rec["id"],
                "spec": rec["spec"],
                "note": f"saved run #{rec['id']} by {rec['author']}, {timestamp(rec['created_at'])} UTC",
            }
    except Exception:  # noqa: BLE001 - showing nothing is fine when the database cannot be read
        return None
    return None


def _versions(name: str | None) -> tuple[list[dict], str | None]:
    """Options of the version picker and the code's version (selected first)."""
    if not name:
        return [], None
    versions = model_versions(catalogue.get(name))
    return [{"label": v + (" (code)" if i == 0 else ""), "value": v} for i, v in enumerate(versions)], versions[0]


def _controls(names: list[str], selected: str | None) -> dbc.Card:
    form = forms.build_form(catalogue.get(selected).describe()) if selected else []
    info = _model_info(selected) if selected else []
    version_options, version = _versions(selected)
    return dbc.Card(
        dbc.CardBody(
            [
                html.H5("Model and conditions", className="card-title"),
                dbc.Label("Particle model", html_for="model-picker", className="small fw-semibold mb-0"),
                dcc.Dropdown(
                    id="model-picker",
                    options=[{"label": n, "value": n} for n in names],
                    value=selected,
                    clearable=False,
                    className="mb-1",
                ),
                dbc.Label("Model version", html_for="version-picker", className="small fw-semibold mb-0"),
                dcc.Dropdown(
                    id="version-picker", options=version_options, value=version, clearable=False, className="mb-2"
                ),
                html.Div(info, id="model-info", className="mb-2"),
                html.Div(id="version-alert"),
                html.Div(form, id="param-form", className="param-scroll"),
                html.Hr(className="my-2"),
                dbc.Row(
                    [
                        dbc.Col(
                            dbc.InputGroup(
                                [
                                    dbc.InputGroupText("author"),
                                    dbc.Input(id="author", value=_default_author(), type="text"),
                                ],
                                size="sm",
                            )
                        ),
                        dbc.Col(
                            dbc.Button(
                                "Run",
                                id="run-button",
                                color="primary",
                                n_clicks=0,
                                className="w-100",
                                disabled=not selected,
                            ),
                            width=4,
                        ),
                    ],
                    className="g-2 align-items-center",
                ),
                progress_bar("run-progress", "progress-wrap"),
                html.Div(id="run-alert"),
            ]
        ),
        className="shadow-sm",
    )


def _default_author() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "engineer"


def layout(**_):
    try:
        names = catalogue.particle_processes()
        problem = None if names else "No particle models are registered."
    except Exception as exc:  # noqa: BLE001 - the page explains instead of failing
        names, problem = [], f"Models could not be loaded: {exc}"
    selected = PREFERRED if PREFERRED in names else (names[0] if names else None)
    saved = _latest_saved(selected) if selected else None
    return html.Div(
        [
            dcc.Store(id="run-data"),
            dcc.Store(id="saved-data", data=saved),
            dcc.Store(id="shown-data"),
            html.H3("Particle formation", className="mb-1"),
            html.P(
                "Size distributions from the population-balance unit models: homogenised emulsions, "
                "microfluidic liposomes and aluminium-salt adjuvants.",
                className="text-secondary",
            ),
            dbc.Alert(problem, color="danger") if problem else None,
            dbc.Row(
                [
                    dbc.Col(_controls(names, selected), md=5, lg=4, xxl=3, className="mb-3"),
                    dbc.Col(
                        [
                            html.Div(id="run-status", className="small text-secondary mb-2"),
                            dbc.Row(kpis.kpi_cards(None), id="kpi-row", className="g-2 mb-1"),
                            dbc.Card(
                                dbc.CardBody(
                                    dcc.Graph(
                                        id="dist-graph",
                                        figure=figures.distribution_figure(None),
                                        config=GRAPH_CONFIG,
                                        style={"height": "430px"},
                                    )
                                ),
                                className="shadow-sm mb-3",
                            ),
                            dbc.Card(
                                dbc.CardBody(
                                    [
                                        dbc.Row(
                                            [
                                                dbc.Col(
                                                    dbc.Label(
                                                        "Quantities",
                                                        html_for="series-columns",
                                                        className="small fw-semibold mt-1",
                                                    ),
                                                    width="auto",
                                                ),
                                                dbc.Col(
                                                    dcc.Dropdown(id="series-columns", multi=True, options=[], value=[])
                                                ),
                                            ],
                                            className="g-2 mb-1",
                                        ),
                                        dcc.Graph(
                                            id="series-graph",
                                            figure=figures.series_figure(None, None),
                                            config=GRAPH_CONFIG,
                                        ),
                                    ]
                                ),
                                className="shadow-sm mb-3",
                            ),
                            html.Details(
                                [
                                    html.Summary("Spec of the results shown (use it with the CLI)", className="small"),
                                    html.Pre(id="spec-json", className="small bg-light p-2 border rounded"),
                                ]
                            ),
                        ],
                        md=7,
                        lg=8,
                        xxl=9,
                    ),
                ],
                className="g-3",
            ),
            dbc.Card(
                dbc.CardBody(
                    [
                        html.H5("Recent runs", className="card-title"),
                        html.Div(runs.recent_runs_table(), id="recent-runs"),
                    ]
                ),
                className="shadow-sm mt-2",
            ),
        ]
    )


@callback(
    Output("version-picker", "options"),
    Output("version-picker", "value"),
    Output("model-info", "children"),
    Output("saved-data", "data"),
    Input("model-picker", "value"),
    prevent_initial_call=True,
)
def pick_model(name):
    if not name:
        return [], None, [], None
    return *_versions(name), _model_info(name), _latest_saved(name)


@callback(
    Output("param-form", "children"),
    Output("version-alert", "children"),
    Input("version-picker", "value"),
    Input("model-picker", "value"),
    State({"type": forms.PARAM, "name": ALL}, "value"),
    State({"type": forms.PARAM, "name": ALL}, "id"),
    prevent_initial_call=True,
)
def pick_version(version, name, values, ids):
    """The form of ``name`` at ``version``: model parameters at that version's values; the conditions
    and recipe the user set are kept when only the version changed."""
    if not name:
        return [], None
    keep = {} if "model-picker.value" in ctx.triggered_prop_ids else {i["name"]: v for i, v in zip(ids, values)}
    try:
        return forms.build_form(catalogue.describe_version(name, version), keep), None
    except ParameterError as exc:
        return (
            forms.build_form(catalogue.describe_version(name), keep),
            error_alert("This version cannot be used", exc.errors, "version-error"),
        )


@callback(
    Output("run-data", "data"),
    Output("run-alert", "children"),
    Output("recent-runs", "children"),
    Input("run-button", "n_clicks"),
    State("model-picker", "value"),
    State("version-picker", "value"),
    State({"type": forms.PARAM, "name": ALL}, "value"),
    State({"type": forms.PARAM, "name": ALL}, "id"),
    State("author", "value"),
    background=True,
    prevent_initial_call=True,
    running=[
        (Output("run-button", "disabled"), True, False),
        (Output("progress-wrap", "className"), "mt-2", "mt-2 invisible"),
    ],
    progress=[Output("run-progress", "value"), Output("run-progress", "label")],
)
def run_model(set_progress, n_clicks, name, version, values, ids, author):
    if not name:
        return no_update, error_alert("Nothing to run", [("model", "pick a particle model")], "run-error"), no_update
    set_progress((0, "validating"))
    try:
        spec, errors = forms.spec_from_form(name, catalogue.describe_version(name, version), ids, values)
    except ParameterError as exc:
        spec, errors = None, exc.errors
    except Exception as exc:  # noqa: BLE001 - e.g. a pydantic error from the spec
        spec, errors = None, [("spec", str(exc))]
    if errors:
        return no_update, error_alert("Check the inputs", errors, "run-error"), no_update

    t0 = time.perf_counter()
    try:
        run = catalogue.run_spec(spec, progress=progress_reporter(set_progress))
    except (ParameterError, SpecError) as exc:
        return no_update, error_alert("Check the inputs", exc.errors, "run-error"), no_update
    except KeyError as exc:
        return no_update, error_alert("Unknown model", [("model", str(exc.args[0]))], "run-error"), no_update
    except Exception as exc:  # noqa: BLE001 - report, never crash the worker silently
        return (
            no_update,
            error_alert("The run could not be completed", [(type(exc).__name__, str(exc))], "run-error"),
            no_update,
        )
    elapsed = time.perf_counter() - t0
    set_progress((1, "saving"))

    data = run.to_dict() | {"spec": spec.model_dump(mode="json", exclude_defaults=True)}
    alerts = []
    if not run.ok:
        alerts.append(
            error_alert(f"Solver {run.result.status}", [("solver", run.result.message or "no message")], "run-error")
        )
    try:
        run_id = runs.store().save_run(spec, run, author=author or "")
        data["run_id"] = run_id
        data["note"] = f"run #{run_id} by {author}, {elapsed:.1f} s"
    except Exception as exc:  # noqa: BLE001 - results are still shown when saving fails
        alerts.append(error_alert("Run not saved", [("records", str(exc))], "run-save-warning", color="warning"))
        data["note"] = f"unsaved run, {elapsed:.1f} s"
    return data, alerts or None, runs.recent_runs_table()


@callback(Output("shown-data", "data"), Input("run-data", "data"), Input("saved-data", "data"))
def pick_shown(run_data, saved_data):
    """A new run wins; picking another model shows that model's latest saved run (or nothing)."""
    return saved_data if ctx.triggered_id == "saved-data" or run_data is None else run_data


@callback(
    Output("dist-graph", "figure"),
    Output("kpi-row", "children"),
    Output("series-columns", "options"),
    Output("series-columns", "value"),
    Output("run-status", "children"),
    Output("spec-json", "children"),
    Input("shown-data", "data"),
)
def show_results(data):
    if not data:
        return (figures.distribution_figure(None), kpis.kpi_cards(None), [], [], "No results yet.", "")
    cols = figures.numeric_columns(data)
    status = data.get("status", "")
    badge = status_badge(status, "run-status-badge")
    note = [badge, f"{data.get('model', '')} {data.get('model_version', '')} · {data.get('note', '')}"]
    options = [{"label": figures.column_label(data, c), "value": c} for c in cols]
    return (
        figures.distribution_figure(data),
        kpis.kpi_cards(data.get("kpis")),
        options,
        figures.default_columns(cols),
        note,
        json.dumps(data.get("spec", {}), indent=2),
    )


@callback(Output("series-graph", "figure"), Input("series-columns", "value"), Input("shown-data", "data"))
def show_series(columns, data):
    return figures.series_figure(data, columns)
