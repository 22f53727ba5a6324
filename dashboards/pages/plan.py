"""Plan: module counts and a campaign schedule for a plan spec, shown as a Gantt chart.

The page loads a demo plan spec from the shipped ``examples/plans``, lets the user change each product's demand,
and calls the same ``plan(spec: PlanSpec)`` as ``bioprocess-twin line plan``. No science lives here.

The solve runs in a background worker: its progress bar counts the seconds while HiGHS works, and the status line
gives the wall time of the whole call (spec, model build, solve and, when infeasible, the elastic solve and its
analysis), measured on the server. Results keep the demand they were computed for; while the form differs they are
greyed out under a note. Demand boxes are text read strictly: ``"12x0"`` is refused naming the product.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dcc, html, no_update

from bioprocess_twin.core.display import NumberError, parse_number
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import SpecError
from bioprocess_twin.line.plan_from_line import resolve_line_products
from bioprocess_twin.line.plan_spec import load_plan_spec
from bioprocess_twin.line.planning import plan
from dashboards.components import forms, gantt
from dashboards.components.common import (
    GRAPH_CONFIG,
    elapsed_progress,
    elapsed_text,
    error_alert,
    progress_bar,
    results_class,
    stale_note,
    status_badge,
)
from dashboards.components.kpis import card

dash.register_page(__name__, path="/plan", name="Plan", order=30, title="Plan · bioprocess-twin")

PLANS = example_path("plans")
PREFERRED = "vaccine_campaign.yaml"
DEMAND = "plan-demand"
DEMAND_MESSAGE = "plan-demand-message"
DEMAND_UNITS = "Mdose"  # the demand is entered in millions of doses


def plan_files() -> list[str]:
    return sorted(p.name for p in PLANS.glob("*.yaml"))


def load_spec(name: str):
    """The named demo spec; specs whose products come from a simulated line run it once per file version.
    Only the listed files are read: a name sent by the browser is checked against :func:`plan_files`."""
    if name not in plan_files():
        raise SpecError("plan", [("plan", f"not one of the listed plan specs: {name!r}")])
    path = PLANS / name
    return _load_spec(path, path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=16)
def _load_spec(path: Path, mtime_ns: int):
    return resolve_line_products(load_plan_spec(path))


def _demand_inputs(name: str | None) -> list:
    if not name:
        return []
    try:
        spec = load_spec(name)
    except SpecError as exc:
        return [error_alert("This plan spec is not valid", exc.errors, "plan-error")]
    rows = [
        html.Div(
            f"{spec.horizon_weeks} weeks × {spec.hours_per_week:g} h · {len(spec.module_types)} module "
            f"types · {len(spec.products)} products",
            className="small text-secondary mb-2",
        )
    ]
    for name, demand in spec.demand(DEMAND_UNITS).items():
        rows += [
            dbc.Label(f"{name} demand", className="small mb-0"),
            dbc.InputGroup(
                [
                    forms.number_box({"type": DEMAND, "name": name}, demand, "form-control text-end"),
                    dbc.InputGroupText("M doses", className="small"),
                ],
                size="sm",
                className="mb-1",
            ),
            html.Div(id={"type": DEMAND_MESSAGE, "name": name}, className="param-message mb-1"),
        ]
    return rows


def _kpi(key: str, label: str, value: str) -> dbc.Col:
    return card(label, value, f"plan-kpi-{key}", xs=6, md=3, xl=None)


def _kpis(doc: dict | None) -> list:
    if not doc or doc.get("total_cost") is None:
        return [
            dbc.Col(
                html.Div(
                    "No plan yet: pick a spec, set the demand and press Run.", className="text-secondary small py-2"
                )
            )
        ]
    b = doc.get("bottleneck") or {}
    return [
        _kpi("total_cost", f"total cost ({doc['currency']})", f"{doc['total_cost']:,.0f}"),
        _kpi("modules", "modules installed", str(sum(doc["modules"].values()))),
        _kpi("changeovers", "set-ups / changeovers", str(doc["changeovers"])),
        _kpi("bottleneck", "bottleneck", f"{b.get('module_type', '—')} ({b.get('utilisation', 0):.0%})"),
    ]


def _modules_table(doc: dict) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th("module type"), html.Th("modules"), html.Th("busy")]))
    body = html.Tbody(
        [html.Tr([html.Td(m), html.Td(n), html.Td(f"{doc['utilisation'][m]:.0%}")]) for m, n in doc["modules"].items()]
    )
    return dbc.Table([head, body], size="sm", className="small mb-0", id="plan-modules-table")


def _infeasible(doc: dict) -> dbc.Alert:
    return dbc.Alert(
        [
            html.Strong("The demand cannot be met"),
            html.Ul([html.Li(m) for m in doc["infeasibility"]["messages"]], className="mb-0 mt-1"),
        ],
        color="warning",
        id="plan-infeasible",
        className="small",
    )


def layout(**_):
    files = plan_files()
    selected = PREFERRED if PREFERRED in files else (files[0] if files else None)
    return html.Div(
        [
            dcc.Store(id="plan-data"),
            html.H3("Line configuration and campaign plan", className="mb-1"),
            html.P(
                "How many parallel modules of each type, and which product runs where each week, to meet "
                "the demand at least cost (Pyomo MILP solved by HiGHS; see docs/planning.md).",
                className="text-secondary",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Card(
                            dbc.CardBody(
                                [
                                    html.H5("Plan spec and demand", className="card-title"),
                                    dbc.Label("Plan spec", html_for="plan-picker", className="small fw-semibold mb-0"),
                                    dcc.Dropdown(
                                        id="plan-picker",
                                        options=[{"label": f, "value": f} for f in files],
                                        value=selected,
                                        clearable=False,
                                        className="mb-2",
                                    ),
                                    html.Div(_demand_inputs(selected), id="plan-demand-form"),
                                    dbc.Button(
                                        "Run",
                                        id="plan-run",
                                        color="primary",
                                        n_clicks=0,
                                        className="w-100 mt-2",
                                        disabled=not selected,
                                    ),
                                    progress_bar("plan-progress", "plan-progress-wrap"),
                                    html.Div(id="plan-alert"),
                                ]
                            ),
                            className="shadow-sm",
                        ),
                        md=5,
                        lg=4,
                        xxl=3,
                        className="mb-3",
                    ),
                    dbc.Col(
                        [
                            html.Div(id="plan-stale-note"),
                            html.Div(
                                [
                                    html.Div(id="plan-status", className="small text-secondary mb-2"),
                                    html.Div(id="plan-report"),
                                    dbc.Row(_kpis(None), id="plan-kpis", className="g-2 mb-1"),
                                    dbc.Card(
                                        dbc.CardBody(
                                            dcc.Graph(
                                                id="plan-gantt", figure=gantt.gantt_figure(None), config=GRAPH_CONFIG
                                            )
                                        ),
                                        className="shadow-sm mb-3",
                                    ),
                                    dbc.Row(
                                        [
                                            dbc.Col(
                                                dbc.Card(
                                                    dbc.CardBody(
                                                        dcc.Graph(
                                                            id="plan-util",
                                                            figure=gantt.utilisation_figure(None),
                                                            config=GRAPH_CONFIG,
                                                        )
                                                    ),
                                                    className="shadow-sm",
                                                ),
                                                lg=7,
                                            ),
                                            dbc.Col(
                                                dbc.Card(
                                                    dbc.CardBody(
                                                        [
                                                            dcc.Graph(
                                                                id="plan-costs",
                                                                figure=gantt.cost_figure(None),
                                                                config=GRAPH_CONFIG,
                                                            ),
                                                            html.Div(id="plan-modules"),
                                                        ]
                                                    ),
                                                    className="shadow-sm",
                                                ),
                                                lg=5,
                                            ),
                                        ],
                                        className="g-3",
                                    ),
                                ],
                                id="plan-results",
                                className=results_class(False),
                            ),
                        ],
                        md=7,
                        lg=8,
                        xxl=9,
                    ),
                ],
                className="g-3",
            ),
        ]
    )


@callback(Output("plan-demand-form", "children"), Input("plan-picker", "value"), prevent_initial_call=True)
def pick_plan(name):
    return _demand_inputs(name)


def read_demand(typed: dict) -> tuple[dict[str, float], list[tuple[str, str]]]:
    """The demand boxes (product -> text) as numbers of million doses, and ``(demand.<product>, message)`` for
    each box whose text is not a number of 0 or more."""
    demand, errors = {}, []
    for name, v in typed.items():
        try:
            x = parse_number(v)
        except NumberError as exc:
            errors.append((f"demand.{name}", f"{exc}; enter a number of million doses, 0 or more"))
            continue
        if x < 0:
            errors.append((f"demand.{name}", f"{x:g} is negative; enter a number of million doses, 0 or more"))
            continue
        demand[name] = x
    return demand, errors


@callback(
    Output("plan-data", "data"),
    Output("plan-alert", "children"),
    Input("plan-run", "n_clicks"),
    State("plan-picker", "value"),
    State({"type": DEMAND, "name": ALL}, "value"),
    State({"type": DEMAND, "name": ALL}, "id"),
    background=True,
    prevent_initial_call=True,
    running=[
        (Output("plan-run", "disabled"), True, False),
        (Output("plan-progress-wrap", "className"), "mt-2", "mt-2 invisible"),
    ],
    progress=[Output("plan-progress", "value"), Output("plan-progress", "label")],
)
def run_plan(set_progress, _, name, values, ids):
    """Solve the plan in a background worker; ``elapsed_s`` is the wall time of the whole call on the server."""
    if not name:
        return no_update, error_alert("Nothing to run", [("plan", "pick a plan spec")], "plan-error")
    if name not in plan_files():
        return no_update, error_alert(
            "Check the inputs", [("plan", f"not one of the listed plan specs: {name!r}")], "plan-error"
        )
    demand, bad = read_demand(forms.entries(ids, values))
    if bad:
        return no_update, error_alert("Check the demand", bad, "plan-error")
    with elapsed_progress(set_progress, "solving") as watch:
        try:
            spec = load_spec(name).with_demand(demand, DEMAND_UNITS)
            result = plan(spec)
            failure = None
        except SpecError as exc:
            failure = error_alert("Check the inputs", exc.errors, "plan-error")
        except Exception as exc:  # noqa: BLE001 - report, never crash the page
            failure = error_alert("The plan could not be computed", [(type(exc).__name__, str(exc))], "plan-error")
    if failure is not None:
        return no_update, failure
    return result.to_dict() | {
        "spec": spec.model_dump(mode="json"),
        "elapsed_s": watch.seconds,
        "inputs_shown": {"plan": name, "values": demand},
    }, None


@callback(
    Output({"type": DEMAND, "name": ALL}, "className"),
    Output({"type": DEMAND_MESSAGE, "name": ALL}, "children"),
    Output("plan-results", "className"),
    Output("plan-stale-note", "children"),
    Input({"type": DEMAND, "name": ALL}, "value"),
    Input("plan-picker", "value"),
    Input("plan-data", "data"),
    State({"type": DEMAND, "name": ALL}, "id"),
)
def check_form(values, name, doc, ids):
    """Demand boxes whose text cannot be used are marked with the reason; results computed for another spec or
    demand are greyed out under a note naming what changed."""
    current = forms.entries(ids, values)
    _, errors = read_demand(current)
    problems = {field.removeprefix("demand."): message for field, message in errors}
    classes = [
        "form-control text-end is-invalid" if n in problems else "form-control text-end" for n in forms.output_names(0)
    ]
    messages = [problems.get(n) for n in forms.output_names(1)]
    if not doc:
        return classes, messages, results_class(False), None
    shown = doc.get("inputs_shown") or {}
    if shown.get("plan") != name:
        changed = ["plan spec"]
    else:
        changed = [f"demand.{n}" for n in forms.changed_fields(current, shown.get("values"))]
    note = stale_note(changed, [f"demand.{n}" for n in sorted(problems)], "plan-stale-alert") if changed else None
    return classes, messages, results_class(bool(changed)), note


@callback(
    Output("plan-gantt", "figure"),
    Output("plan-util", "figure"),
    Output("plan-costs", "figure"),
    Output("plan-kpis", "children"),
    Output("plan-status", "children"),
    Output("plan-report", "children"),
    Output("plan-modules", "children"),
    Input("plan-data", "data"),
)
def show_plan(doc):
    if not doc:
        return (
            gantt.gantt_figure(None),
            gantt.utilisation_figure(None),
            gantt.cost_figure(None),
            _kpis(None),
            "No plan yet.",
            None,
            None,
        )
    status = doc["status"]
    s = doc["solver"]
    solver_s = s.get("solve_s", 0) + s.get("elastic_solve_s", 0)
    note = [
        status_badge(status, "plan-status-badge"),
        f"{doc['name']} · {s.get('variables', 0):,} variables, {s.get('constraints', 0):,} constraints · ",
        html.Span(
            f"computed in {elapsed_text(doc['elapsed_s'])} (wall time)",
            id="plan-elapsed",
            title="measured on the server around the whole call: spec, model build, solve and, when the demand "
            "cannot be met, the elastic solve and its analysis",
        ),
        html.Span(
            f", of which HiGHS {elapsed_text(solver_s)}",
            id="plan-solver-time",
            **{"data-seconds": f"{solver_s!r}", "data-elapsed": f"{doc['elapsed_s']!r}"},
        ),
        f" · gap {s['mip_gap']:.2%}" if s.get("mip_gap") is not None else "",
    ]
    report = (
        _infeasible(doc)
        if status == "infeasible"
        else (
            dbc.Alert(doc["message"], color="danger", id="plan-failed", className="small")
            if status == "failed"
            else None
        )
    )
    modules = _modules_table(doc) if doc.get("modules") else None
    return (
        gantt.gantt_figure(doc),
        gantt.utilisation_figure(doc),
        gantt.cost_figure(doc),
        _kpis(doc),
        note,
        report,
        modules,
    )
