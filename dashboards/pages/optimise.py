"""Optimise: the best time-varying policy of a catalogue process model (a feed profile, say), or a Pareto front of
two objectives, by direct multiple shooting (``bioprocess_twin.scenarios.optimize``, as ``bioprocess-twin optimize``).

The form (``components/optimise_form.py``) edits a problem: the model, the horizon and the number of intervals, the
inputs that are controls with their bounds (the others held at a value), the objective, path and final constraints
and an optional second objective with its ε bounds. The page writes the optimisation spec from it, validates it
with ``parse_optimization_spec`` (errors name the spec field) and calls ``run_optimization`` in a background
worker; its progress bar shows IPOPT's latest iteration, the objective and the constraint violation, and for a
front the share of its points done (``components/optimise_progress.py``); Cancel stops the worker.
Only the listed models can be picked; this shared server caps the intervals, the iterations and the Pareto points.
Results keep the spec they were computed from and grey out when the form differs.
"""

from __future__ import annotations

import json
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dcc, html, no_update

from bioprocess_twin.core.display import display_units, format_value
from bioprocess_twin.core.spec import SpecError
from bioprocess_twin.scenarios.optimize import parse_optimization_spec, run_optimization
from dashboards.components import forms, optimise_figures
from dashboards.components import optimise_form as of
from dashboards.components.common import (
    GRAPH_CONFIG,
    error_alert,
    progress_bar,
    results_class,
    stale_note,
    status_badge,
)
from dashboards.components.kpis import card
from dashboards.components.optimise_progress import optimisation_progress

dash.register_page(__name__, path="/optimise", name="Optimise", order=60, title="Optimise · bioprocess-twin")


def layout(**_):
    names = of.models()
    first = of.PREFERRED if of.PREFERRED in names else (names[0] if names else None)
    controls = dbc.Card(
        dbc.CardBody(
            [
                html.H5("Problem", className="card-title"),
                dbc.Label("Process model", html_for="optimise-model", className="small fw-semibold mb-0"),
                dcc.Dropdown(
                    id="optimise-model",
                    options=[{"label": n, "value": n} for n in names],
                    value=first,
                    clearable=False,
                    className="mb-2",
                ),
                html.Div(of.problem_form(first) if first else [], id="optimise-form", className="param-scroll"),
                html.Div(id="optimise-form-problems"),
                dbc.Row(
                    [
                        dbc.Col(
                            dbc.Button("Optimise", id="optimise-run", color="primary", n_clicks=0, className="w-100")
                        ),
                        dbc.Col(
                            dbc.Button(
                                "Cancel",
                                id="optimise-cancel",
                                color="secondary",
                                outline=True,
                                n_clicks=0,
                                disabled=True,
                                className="w-100",
                            ),
                            width=4,
                        ),
                    ],
                    className="g-2 mt-2",
                ),
                progress_bar("optimise-progress", "optimise-progress-wrap"),
                html.Div(id="optimise-progress-text", className="d-none"),
                html.Div(id="optimise-error"),
            ]
        ),
        className="shadow-sm",
    )

    def graph_card(graph_id: str, figure, height: str = "380px", extra: list | None = None, **kw) -> dbc.Card:
        return dbc.Card(
            dbc.CardBody(
                [*(extra or []), dcc.Graph(id=graph_id, figure=figure, config=GRAPH_CONFIG, style={"height": height})]
            ),
            className="shadow-sm mb-3",
            **kw,
        )

    results = html.Div(
        [
            html.Div("Not run yet.", id="optimise-status", className="small mb-2"),
            dbc.Row(_cards(None), id="optimise-cards", className="g-2 mb-1"),
            html.Div(id="optimise-message"),
            dbc.Row(
                [
                    dbc.Col(graph_card("optimise-policy", optimise_figures.policy_figure(None)), xl=6),
                    dbc.Col(
                        graph_card(
                            "optimise-trajectories",
                            optimise_figures.trajectory_figure(None, []),
                            height="auto",
                            extra=[
                                dcc.Dropdown(
                                    id="optimise-trajectory-names",
                                    multi=True,
                                    options=[],
                                    value=[],
                                    placeholder="states and outputs to plot",
                                )
                            ],
                        ),
                        xl=6,
                        id="optimise-trajectories-col",
                    ),
                ],
                className="g-2",
            ),
            dbc.Card(
                dbc.CardBody(
                    [
                        html.H6("Constraints: activity and price", className="card-title"),
                        html.Div(
                            "Price: the gain in the objective (in its own sense) per unit the bound is relaxed, "
                            "from the Lagrange multiplier; 0 where the bound is not active. Value: the final value, "
                            "or the closest approach to the bound over the boundaries.",
                            className="form-text mt-0 mb-1",
                        ),
                        html.Div(_constraint_table([], ""), id="optimise-constraints-wrap"),
                    ]
                ),
                id="optimise-constraints-card",
                className="shadow-sm mb-3",
            ),
            html.Div(
                [
                    graph_card("optimise-front", optimise_figures.pareto_figure(None)),
                    dbc.Card(dbc.CardBody(id="optimise-points-wrap"), className="shadow-sm mb-3"),
                ],
                id="optimise-front-section",
                className="d-none",
            ),
            html.Details(
                [
                    html.Summary(
                        "Spec of the results shown (use it with `bioprocess-twin optimize`)", className="small"
                    ),
                    html.Pre(id="optimise-spec", className="small bg-light p-2 border rounded"),
                ]
            ),
        ],
        id="optimise-results",
        className=results_class(False),
    )
    return html.Div(
        [
            dcc.Store(id="optimise-result"),
            dcc.Store(id="optimise-shown"),
            html.H3("Optimise", className="mb-1"),
            html.P(
                "The best time-varying policy of a process model's inputs (a feed profile, say) by direct multiple "
                "shooting with IPOPT, with the price of every constraint; or the Pareto front of two objectives.",
                className="text-secondary",
            ),
            dbc.Row(
                [
                    dbc.Col(controls, md=6, lg=5, xxl=4, className="mb-3"),
                    dbc.Col([html.Div(id="optimise-stale-note"), results], md=6, lg=7, xxl=8),
                ],
                className="g-3",
            ),
        ]
    )


# -- results ----------------------------------------------------------------------------------------------------


def _cards(store: dict[str, Any] | None) -> list:
    if not store:
        return [
            dbc.Col(html.Div("No results yet: set the problem and press Optimise.", className="text-secondary small"))
        ]
    doc, units = store["result"], store["units"]
    size = {"xs": 6, "md": 3, "xl": 3}
    if doc["kind"] == "pareto":
        optimal = sum(p["status"] == "optimal" for p in doc["points"])
        first = doc["objective"]["name"]
        return [
            card("points optimal", f"{optimal} of {len(doc['points'])}", "optimise-optimum", **size),
            card("first objective", f"{doc['objective']['sense']} {first}", "optimise-first", **size),
            card(
                "second objective", f"{doc['second']['sense']} {doc['second']['name']}", "optimise-second-name", **size
            ),
            card("wall time", store["elapsed"], "optimise-elapsed", **size),
        ]
    name = doc_objective(store)
    return [
        card(f"optimum: {name}", format_value(doc["objective"], 6), "optimise-optimum", units.get(name, ""), **size),
        card("IPOPT iterations", str(doc["iterations"]), "optimise-iterations", **size),
        card("IPOPT status", doc["solver_status"] or "—", "optimise-solver-status", **size),
        card("wall time", store["elapsed"], "optimise-elapsed", **size),
    ]


def doc_objective(store: dict[str, Any]) -> str:
    return store["spec"]["objective"]["name"]


def _active_text(times: list[float], time_units: str) -> str:
    if not times:
        return "no"
    shown = ", ".join(format_value(t) for t in times[:6]) + (", …" if len(times) > 6 else "")
    return f"yes, at {shown}" + (f" {time_units}" if time_units else "")


def _constraint_table(rows: list[dict[str, Any]], time_units: str, units: dict[str, str] | None = None) -> dbc.Table:
    units = units or {}
    head = ["name", "kind", "bound", "value", "active", "price", "violation"]
    body = []
    for r in rows:
        u = units.get(r["name"], "")
        cells = {
            "name": r["name"],
            "kind": r["kind"],
            "bound": f"{'≥' if r['side'] == 'min' else '≤'} {format_value(r['bound'])}" + (f" {u}" if u else ""),
            "value": format_value(r["value"], 6),
            "active": _active_text(r["active_at"], time_units),
            "price": format_value(r["price"], 4),
            "violation": format_value(r["violation"], 3),
        }
        body.append(
            html.Tr(
                [html.Td(cells[h], className=f"col-{h}") for h in head],
                id=f"optimise-constraint-{r['kind']}-{r['name']}-{r['side']}",
                className="table-warning" if r["active_at"] else "",
            )
        )
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
        id="optimise-constraints",
        size="sm",
        striped=False,
        className="small mb-0",
    )


def _points_table(doc: dict[str, Any], units: dict[str, str]) -> dbc.Table:
    first, second = doc["objective"]["name"], doc["second"]["name"]
    head = ["ε", first, second, "price", "status", "message"]
    body = [
        html.Tr(
            [
                html.Td(format_value(p["epsilon"]), className="col-epsilon"),
                html.Td(format_value(p["first"], 6), className="col-first"),
                html.Td(format_value(p["second"], 6), className="col-second"),
                html.Td(format_value(p["price"], 4), className="col-price"),
                html.Td(p["status"], className="col-status"),
                html.Td(p["message"], className="col-message"),
            ],
            id=f"optimise-point-{i}",
        )
        for i, p in enumerate(doc["points"])
    ]
    labels = {first: units.get(first, ""), second: units.get(second, "")}
    return dbc.Table(
        [
            html.Thead(html.Tr([html.Th(f"{h} ({labels[h]})" if labels.get(h) else h) for h in head])),
            html.Tbody(body),
        ],
        id="optimise-points",
        size="sm",
        className="small mb-0",
    )


# -- callbacks --------------------------------------------------------------------------------------------------


@callback(
    Output("optimise-form", "children"),
    Input("optimise-model", "value"),
    prevent_initial_call=True,
)
def pick_model(name):
    """Another model: its form at its default problem (a name that is not listed changes nothing)."""
    return of.problem_form(name) if name in of.models() else no_update


@callback(
    Output("optimise-status", "children"),
    Output("optimise-result", "data"),
    Output("optimise-spec", "children"),
    Output("optimise-shown", "data"),
    Output("optimise-error", "children"),
    Input("optimise-run", "n_clicks"),
    *of.form_states(),
    background=True,
    prevent_initial_call=True,
    running=[
        (Output("optimise-run", "disabled"), True, False),
        (Output("optimise-cancel", "disabled"), False, True),
        (Output("optimise-progress-wrap", "className"), "mt-2", "mt-2 invisible"),
        (Output("optimise-progress-text", "className"), "small text-secondary mt-1", "d-none"),
    ],
    cancel=[Input("optimise-cancel", "n_clicks")],
    progress=[
        Output("optimise-progress", "value"),
        Output("optimise-progress", "label"),
        Output("optimise-progress-text", "children"),
    ],
)
def run(set_progress, _clicks, *values):
    """Validate the spec the form describes and optimise it in a background worker."""
    unchanged = (no_update,) * 4
    form = of.read_form(values)
    doc, errors = of.build_document(form)
    if errors:
        return *unchanged, error_alert("Check the inputs", errors, "optimise-error-alert")
    try:
        spec = parse_optimization_spec(doc, "optimisation spec")
    except SpecError as exc:
        return *unchanged, error_alert("Check the inputs", exc.errors, "optimise-error-alert")
    d = of.description(doc["model"])
    try:
        with optimisation_progress(set_progress, of.units_of(d)) as (watch, report):
            result = run_optimization(spec, report)
    except SpecError as exc:
        return *unchanged, error_alert("Check the inputs", exc.errors, "optimise-error-alert")
    except Exception as exc:  # noqa: BLE001 - explain, never crash the worker silently
        return *unchanged, error_alert(
            "The optimisation could not run", [(type(exc).__name__, str(exc))], "optimise-error-alert"
        )
    store = {"result": result, "spec": doc, "units": of.units_of(d), "horizon": spec.horizon, "elapsed": watch.text}
    what = "Pareto front" if result["kind"] == "pareto" else "policy"
    status = [
        status_badge(result["status"], "optimise-status-badge"),
        f"{result['model']} {result['model_version']} · {what} · {spec.objective.sense} {spec.objective.name} · "
        f"{spec.intervals} intervals over {format_value(spec.horizon)} {display_units(d['time_units'])} · "
        f"{watch.text} (wall time)",
    ]
    return status, store, json.dumps(doc, indent=2), doc, None


@callback(
    Output("optimise-cards", "children"),
    Output("optimise-message", "children"),
    Output("optimise-policy", "figure"),
    Output("optimise-trajectory-names", "options"),
    Output("optimise-trajectory-names", "value"),
    Output("optimise-constraints-wrap", "children"),
    Output("optimise-front-section", "className"),
    Output("optimise-trajectories-col", "className"),
    Output("optimise-constraints-card", "className"),
    Output("optimise-front", "figure"),
    Output("optimise-points-wrap", "children"),
    Input("optimise-result", "data"),
)
def show(store):
    """Draw the result: the optimum, the policy, the constraint table and, for a front, the front."""
    if not store:
        return (
            _cards(None),
            None,
            optimise_figures.policy_figure(None),
            [],
            [],
            _constraint_table([], ""),
            "d-none",
            "",
            "shadow-sm mb-3",
            optimise_figures.pareto_figure(None),
            None,
        )
    doc, units, spec = store["result"], store["units"], store["spec"]
    message = (
        dbc.Alert(doc["message"], color="warning", id="optimise-message-alert", className="small py-2 mb-2")
        if doc.get("message")
        else None
    )
    names = optimise_figures.trajectory_names(doc)
    picked = [spec["objective"]["name"], *(b["name"] for k in of.KINDS for b in spec.get(k, []))]
    picked = [n for n in dict.fromkeys(picked) if n in names]
    pareto = doc["kind"] == "pareto"
    return (
        _cards(store),
        message,
        optimise_figures.policy_figure(doc, units, store["horizon"]),
        [{"label": f"{n} ({units[n]})" if units.get(n) else n, "value": n} for n in names],
        picked,
        _constraint_table(optimise_figures.constraint_rows(doc), units.get("time", ""), units),
        "" if pareto else "d-none",
        "d-none" if pareto else "",
        "shadow-sm mb-3" + (" d-none" if pareto else ""),
        optimise_figures.pareto_figure(doc, units),
        _points_table(doc, units) if pareto else None,
    )


@callback(
    Output("optimise-trajectories", "figure"),
    Input("optimise-trajectory-names", "value"),
    State("optimise-result", "data"),
)
def show_trajectories(names, store):
    if not store:
        return optimise_figures.trajectory_figure(None, [])
    return optimise_figures.trajectory_figure(store["result"], names or [], store["units"])


@callback(
    Output("optimise-horizon", "className"),
    Output("optimise-intervals", "className"),
    *[Output(of.row_id(k, i, p), "className") for k in of.KINDS for i in range(of.ROWS) for p in ("min", "max")],
    Output("optimise-epsilons", "className"),
    *[Output(element, "className") for element in of.SOLVER_BOXES],
    *[Output({"type": t, "name": ALL}, "className") for t in of.CONTROL_BOXES],
    Output("optimise-form-problems", "children"),
    Output("optimise-results", "className"),
    Output("optimise-stale-note", "children"),
    Input("optimise-shown", "data"),
    *of.form_inputs(),
)
def check_form(shown, *values):
    """Boxes whose entry cannot be read are marked, and listed with the spec field they fill; results of another
    spec are greyed out under a note naming the fields that differ."""
    form = of.read_form(values)
    doc, errors = of.build_document(form)
    problems = dict(errors)
    rows = of.rows_in_use(form)
    classes = [
        "form-control form-control-sm is-invalid"
        if of.box_field(b, rows) in problems
        else "form-control form-control-sm"
        for b in of.BOXES
    ]
    pattern = []
    for group, key in enumerate(of.CONTROL_BOXES.values()):
        names = forms.output_names(len(of.BOXES) + group)
        use = {n: bool((form["controls"].get(n) or {}).get(of.USE)) for n in names}
        fields = [f"controls.{n}.{key}" if key != "value" else f"inputs.{n}" for n in names]
        pattern.append(
            [
                "form-control form-control-sm is-invalid"
                if f in problems and (use[n] == (key != "value"))
                else "form-control form-control-sm"
                for n, f in zip(names, fields)
            ]
        )
    listed = (
        error_alert("These entries cannot be used", errors, "optimise-form-alert", color="warning") if errors else None
    )
    if not shown:
        return *classes, *pattern, listed, results_class(False), None
    changed = of.changed_fields(doc, shown)
    note = stale_note(changed, sorted(problems), "optimise-stale-alert", "press Optimise") if changed else None
    return *classes, *pattern, listed, results_class(bool(changed)), note
