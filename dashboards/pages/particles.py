"""Particle formation: pick a particle model, set its conditions, run it, see the size distribution.

A "Model version" picker lists the code's version and the calibrated sets saved for it
(``<model>/`` in the user or shipped models folder); a calibrated version fills the model-parameter
fields with its values.
The page only builds a :class:`SimulationSpec` from the form, runs it (in a background worker,
with a progress bar), saves the run, and plots ``ProcessRun`` data. No science lives here.

The form and the results stay in step: results carry the inputs they were computed from
(``inputs_shown``: model, version and every field's value). A saved run is shown only with its inputs in
the form, and results whose inputs differ from the form's are greyed out with a note naming the fields.
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
from bioprocess_twin.core.display import display_units, parse_number
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.spec import SpecError
from dashboards.components import figures, forms, kpis, runs
from dashboards.components.common import (
    GRAPH_CONFIG,
    error_alert,
    progress_bar,
    progress_reporter,
    results_class,
    stale_note,
    status_badge,
    timestamp,
)

dash.register_page(__name__, path="/", name="Particle formation", order=0, title="Particle formation · bioprocess-twin")

PREFERRED = "emulsion_homogenizer"


def _listed(name) -> bool:
    """Whether ``name`` (sent by the browser) is one of the particle models the picker offers."""
    return isinstance(name, str) and name in catalogue.particle_processes()


def _describe(name: str, version) -> dict:
    """The form of ``name`` at ``version`` (sent by the browser: text or nothing); ParameterError on a bad one."""
    if version is not None and not isinstance(version, str):
        raise ParameterError([("version", "must be text")])
    return catalogue.describe_version(name, version)


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


#: saved runs looked at for one the form can show
SAVED_RUNS_SEARCHED = 20


def _inputs_shown(name: str, version: str | None, values: dict) -> dict:
    return {"model": name, "version": version, "values": values}


def _latest_saved(name: str) -> dict | None:
    """Results of the newest saved successful run of ``name`` that the form can show, with its inputs
    (``inputs_shown``), to show before anything is run. A run whose spec sets more than the form has (a
    recipe, initial states, output times, solver settings) or whose calibrated version is gone is skipped."""
    try:
        st = runs.store()
        for row in st.list_runs(limit=SAVED_RUNS_SEARCHED, model=name, status="ok"):
            rec = st.get_run(row["id"])
            version = rec["spec"].get("version") or _versions(name)[1]
            try:
                values = forms.form_values(catalogue.describe_version(name, version), rec["spec"])
            except ParameterError:
                continue
            if values is None:
                continue
            return rec["results"] | {
                "run_id": rec["id"],
                "spec": rec["spec"],
                "note": f"saved run #{rec['id']} by {rec['author']}, {timestamp(rec['created_at'])} UTC",
                "inputs_shown": _inputs_shown(name, version, values),
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


def _controls(names: list[str], selected: str | None, saved: dict | None) -> dbc.Card:
    """The form; with a saved run to show, its version and inputs."""
    version_options, version = _versions(selected)
    shown = (saved or {}).get("inputs_shown") or {}
    version = shown.get("version") or version
    form = forms.build_form(catalogue.describe_version(selected, version), shown.get("values")) if selected else []
    info = _model_info(selected) if selected else []
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
                    dbc.Col(_controls(names, selected, saved), md=5, lg=4, xxl=3, className="mb-3"),
                    dbc.Col(
                        [
                            html.Div(id="results-stale-note"),
                            html.Div(id="results-panel", className=results_class(False), children=_results_panel()),
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


def _results_panel() -> list:
    return [
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
                            dbc.Col(dcc.Dropdown(id="series-columns", multi=True, options=[], value=[])),
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
    ]


@callback(
    Output("version-picker", "options"),
    Output("version-picker", "value"),
    Output("model-info", "children"),
    Output("saved-data", "data"),
    Output("param-form", "children"),
    Output("version-alert", "children"),
    Input("model-picker", "value"),
    Input("version-picker", "value"),
    State({"type": forms.PARAM, "name": ALL}, "value"),
    State({"type": forms.PARAM, "name": ALL}, "id"),
    prevent_initial_call=True,
)
def pick_model_or_version(name, version, values, ids):
    """Another model: its newest saved run the form can show, with that run's version and inputs in the form
    (or the code's version, the defaults and no results). Another version: the form at that version's
    model-parameter values, keeping the conditions and recipe the user set."""
    if not _listed(name):
        return [], None, [], None, [], None
    if ctx.triggered_id == "model-picker":
        options, version = _versions(name)
        saved = _latest_saved(name)
        shown = (saved or {}).get("inputs_shown") or {}
        version = shown.get("version") or version
        form = forms.build_form(catalogue.describe_version(name, version), shown.get("values"))
        return options, version, _model_info(name), saved, form, None
    model_fields = {p["name"] for p in catalogue.get(name).describe().get("parameters", [])}
    keep = {k: v for k, v in forms.entries(ids, values).items() if k not in model_fields}
    try:
        form, alert = forms.build_form(_describe(name, version), keep), None
    except ParameterError as exc:
        form = forms.build_form(catalogue.describe_version(name), keep)
        alert = error_alert("This version cannot be used", exc.errors, "version-error")
    return no_update, no_update, no_update, no_update, form, alert


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
    if not _listed(name):
        return no_update, error_alert("Nothing to run", [("model", "pick a particle model")], "run-error"), no_update
    set_progress((0, "validating"))
    typed = forms.entries(ids, values)
    try:
        spec, errors = forms.spec_from_form(
            name, _describe(name, version), [forms.param_id(k) for k in typed], list(typed.values())
        )
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

    shown_values = {k: parse_number(v) for k, v in typed.items()}
    data = run.to_dict() | {
        "spec": spec.model_dump(mode="json", exclude_defaults=True),
        "inputs_shown": _inputs_shown(name, version, shown_values),
    }
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
    Output({"type": forms.PARAM, "name": ALL}, "className"),
    Output({"type": forms.PARAM_MESSAGE, "name": ALL}, "children"),
    Output("results-panel", "className"),
    Output("results-stale-note", "children"),
    Input({"type": forms.PARAM, "name": ALL}, "value"),
    Input("model-picker", "value"),
    Input("version-picker", "value"),
    Input("shown-data", "data"),
    State({"type": forms.PARAM, "name": ALL}, "id"),
)
def check_form(values, name, version, shown, ids):
    """Every box whose entry cannot be used is marked with the reason; results whose inputs are not the
    form's are greyed out, with a note naming the inputs that differ."""
    by_name = forms.entries(ids, values)
    problems: dict[str, str] = {}
    if _listed(name):
        try:
            description = _describe(name, version)
        except ParameterError:
            description = catalogue.describe_version(name)
        for field, (_, p) in forms.declared(description).items():
            if field in by_name and (problem := forms.field_problem(p, by_name[field])):
                problems[field] = problem
    classes = ["param-input is-invalid" if n in problems else "param-input" for n in forms.output_names(0)]
    messages = [problems.get(n) for n in forms.output_names(1)]
    if not shown:
        return classes, messages, results_class(False), None
    inputs_shown = shown.get("inputs_shown") or {}
    current = {"model": name, "version": version}
    changed = [k for k, v in current.items() if inputs_shown.get(k) != v]
    changed += forms.changed_fields(by_name, inputs_shown.get("values"))
    stale = bool(changed)
    note = stale_note(changed, sorted(problems), "results-stale-alert") if stale else None
    return classes, messages, results_class(stale), note


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
        kpis.kpi_cards(data.get("kpis"), units=data.get("kpi_units")),
        options,
        figures.default_columns(cols),
        note,
        json.dumps(data.get("spec", {}), indent=2),
    )


@callback(Output("series-graph", "figure"), Input("series-columns", "value"), Input("shown-data", "data"))
def show_series(columns, data):
    return figures.series_figure(data, columns)
