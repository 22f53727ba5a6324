"""Scenarios: the design space with P(every specification met), its proven acceptable ranges and the convergence
of P, or Sobol/Morris indices, for a shipped scenario spec (examples/scenarios/*.yaml).

The page edits a copy of the chosen spec with the form's settings (analysis, samples per point, grid points,
target P, Sobol base samples) and calls ``bioprocess_twin.scenarios.run_scenario`` on it, as
``bioprocess-twin scenario SPEC`` does. The cases run one after the other in a background worker whose progress
bar counts them; the status line gives the wall time. Only the listed specs can be chosen: the callback refuses
any other name. Results keep the settings they were computed with and grey out when the form differs.

"Keep for comparison" puts the result shown, with its settings, into a store of the browser session (at most
:data:`MAX_KEPT`, the oldest goes first); the kept results are shown side by side under the page: a table of their
settings and key numbers (P at the set point, the design space's points and PARs, the largest Sobol indices) and
their design-space maps, Sobol bars or convergence curves next to each other.
"""

from __future__ import annotations

import functools
import json
import time

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

from bioprocess_twin.core.display import NumberError, format_value, parse_number
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import SpecError, read_spec_file
from bioprocess_twin.scenarios import Execution, ExecutorError, parse_scenario_spec, run_scenario
from bioprocess_twin.scenarios.spec import ANALYSES, ScenarioSpec
from dashboards.components import forms, scenario_figures
from dashboards.components.common import (
    GRAPH_CONFIG,
    Stopwatch,
    error_alert,
    progress_bar,
    results_class,
    stale_note,
    status_badge,
)

dash.register_page(__name__, path="/scenarios", name="Scenarios", order=50, title="Scenarios · bioprocess-twin")

FOLDER = example_path("scenarios")
#: most cases one analysis may run on this shared server (each is a simulation in a dashboard worker)
MAX_CASES = 20_000
#: most results kept side by side (in the browser session)
MAX_KEPT = 4
ANALYSIS_LABELS = {
    "design_space": "Design space and PAR",
    "monte_carlo": "Monte Carlo at the set point",
    "sensitivity": "Sobol sensitivity",
}
#: the settings the form edits: id -> (label, spec path, whole number)
SETTINGS = {
    "scenario-samples": ("samples per point", ("samples",), True),
    "scenario-grid": ("grid points per range", ("design_space", "grid"), True),
    "scenario-target": ("target P", ("design_space", "target"), False),
    "scenario-base-samples": ("Sobol base samples", ("sensitivity", "base_samples"), True),
}


def specs() -> dict[str, str]:
    """The shipped scenario specs: name -> file name."""
    return {path.stem: path.name for path in sorted(FOLDER.glob("*.yaml"))}


def _document(name: str) -> dict:
    return read_spec_file(FOLDER / specs()[name])


def _defaults(name: str) -> dict[str, str]:
    """The settings of shipped spec ``name`` as box texts (its defaults where it gives none)."""
    full = ScenarioSpec.model_validate(_document(name)).model_dump(mode="json")
    return {
        element: forms.box_text(functools.reduce(lambda node, key: node[key], path, full))
        for element, (_, path, _) in SETTINGS.items()
    }


def layout(**_):
    names = specs()
    first = next(iter(names), None)
    values = _defaults(first) if first else {}
    boxes = [
        c
        for element, (label, _, _) in SETTINGS.items()
        for c in forms.number_row(element, label, values.get(element), label_width="11rem")
    ]
    controls = dbc.Card(
        dbc.CardBody(
            [
                html.H5("Scenario", className="card-title"),
                dcc.Dropdown(
                    id="scenario-picker",
                    value=first,
                    clearable=False,
                    className="mb-2",
                    options=[{"label": n, "value": n} for n in names],
                ),
                dbc.Label("Analysis", html_for="scenario-analysis", className="small fw-semibold mb-0"),
                dcc.Dropdown(
                    id="scenario-analysis",
                    value="design_space",
                    clearable=False,
                    className="mb-2",
                    options=[{"label": ANALYSIS_LABELS[a], "value": a} for a in ANALYSES],
                ),
                *boxes,
                html.Div(
                    "Cases run one after the other here; for large sweeps use "
                    "`bioprocess-twin scenario SPEC --backend dask`.",
                    className="small text-secondary",
                ),
                dbc.Button("Run scenario", id="scenario-run", color="primary", n_clicks=0, className="w-100 mt-2"),
                progress_bar("scenario-progress", "scenario-progress-wrap"),
                html.Div(id="scenario-error"),
            ]
        ),
        className="shadow-sm",
    )

    def card(graph_id: str, figure) -> dbc.Card:
        return dbc.Card(
            dbc.CardBody(dcc.Graph(id=graph_id, figure=figure, config=GRAPH_CONFIG, style={"height": "380px"})),
            className="shadow-sm mb-3",
        )

    return html.Div(
        [
            dcc.Store(id="scenario-shown"),
            dcc.Store(id="scenario-result"),
            dcc.Store(id="scenario-kept", storage_type="session", data=[]),
            html.H3("Scenarios", className="mb-1"),
            html.P(
                "The probability that every specification is met, over the factors and under the uncertainty: "
                "the design space (P ≥ target), proven acceptable ranges, and what drives the spread.",
                className="text-secondary",
            ),
            dbc.Row(
                [
                    dbc.Col(controls, md=5, lg=4, xxl=3, className="mb-3"),
                    dbc.Col(
                        [
                            html.Div(id="scenario-stale-note"),
                            html.Div(
                                [
                                    dbc.Row(
                                        [
                                            dbc.Col(html.Div("Not run yet.", id="scenario-status", className="small")),
                                            dbc.Col(
                                                dbc.Button(
                                                    "Keep for comparison",
                                                    id="scenario-keep",
                                                    size="sm",
                                                    color="secondary",
                                                    outline=True,
                                                    n_clicks=0,
                                                    disabled=True,
                                                ),
                                                width="auto",
                                            ),
                                        ],
                                        className="g-2 mb-2 align-items-center",
                                    ),
                                    html.Div(id="scenario-summary", className="small mb-2"),
                                    dbc.Row(
                                        [
                                            dbc.Col(card("scenario-map", scenario_figures.probability_map(None)), xl=7),
                                            dbc.Col(card("scenario-par", scenario_figures.par_figure(None)), xl=5),
                                        ],
                                        className="g-2",
                                    ),
                                    dbc.Row(
                                        [
                                            dbc.Col(
                                                card("scenario-convergence", scenario_figures.convergence_figure(None)),
                                                xl=6,
                                            ),
                                            dbc.Col(
                                                card("scenario-sensitivity", scenario_figures.sensitivity_figure(None)),
                                                xl=6,
                                            ),
                                        ],
                                        className="g-2",
                                    ),
                                    html.Details(
                                        [
                                            html.Summary(
                                                "Spec of the results shown (use it with `bioprocess-twin scenario`)",
                                                className="small",
                                            ),
                                            html.Pre(id="scenario-spec", className="small bg-light p-2 border rounded"),
                                        ]
                                    ),
                                ],
                                id="scenario-results",
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
            dbc.Card(
                dbc.CardBody(
                    [
                        dbc.Row(
                            [
                                dbc.Col(html.H5("Kept for comparison", className="card-title mb-0")),
                                dbc.Col(
                                    dbc.Button("Clear", id="scenario-kept-clear", size="sm", color="link", n_clicks=0),
                                    width="auto",
                                ),
                            ],
                            className="align-items-center",
                        ),
                        html.Div(id="scenario-compare"),
                    ]
                ),
                className="shadow-sm mt-2",
            ),
        ]
    )


def read_settings(entries: dict[str, str]) -> tuple[dict[str, float], list[tuple[str, str]]]:
    """The number boxes as numbers, and ``(label, message)`` for each that is not one."""
    values, errors = {}, []
    for element, entry in entries.items():
        label, _, integer = SETTINGS[element]
        if forms.is_blank(entry):
            errors.append((label, "the box is empty"))
            continue
        try:
            x = parse_number(entry, integer=integer)
        except NumberError as exc:
            errors.append((label, str(exc)))
            continue
        values[element] = int(x) if integer else x
    return values, errors


def build_document(name: str, analysis: str, values: dict[str, float]) -> dict:
    """The shipped spec ``name`` with the analysis and the settings put in."""
    doc = _document(name)
    doc["analysis"] = analysis
    for element, value in values.items():
        *parents, last = SETTINGS[element][1]
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return doc


@callback(
    Output("scenario-samples", "value"),
    Output("scenario-grid", "value"),
    Output("scenario-target", "value"),
    Output("scenario-base-samples", "value"),
    Input("scenario-picker", "value"),
    prevent_initial_call=True,
)
def show_defaults(name):
    if name not in specs():
        return (dash.no_update,) * 4
    values = _defaults(name)
    return tuple(values[element] for element in SETTINGS)


@callback(
    Output("scenario-status", "children"),
    Output("scenario-summary", "children"),
    Output("scenario-map", "figure"),
    Output("scenario-par", "figure"),
    Output("scenario-convergence", "figure"),
    Output("scenario-sensitivity", "figure"),
    Output("scenario-spec", "children"),
    Output("scenario-shown", "data"),
    Output("scenario-result", "data"),
    Output("scenario-error", "children"),
    Input("scenario-run", "n_clicks"),
    State("scenario-picker", "value"),
    State("scenario-analysis", "value"),
    *[State(element, "value") for element in SETTINGS],
    background=True,
    prevent_initial_call=True,
    running=[
        (Output("scenario-run", "disabled"), True, False),
        (Output("scenario-progress-wrap", "className"), "mt-2", "mt-2 invisible"),
    ],
    progress=[Output("scenario-progress", "value"), Output("scenario-progress", "label")],
)
def run(set_progress, _clicks, name, analysis, *entries):
    """Run the chosen scenario with the form's settings in a background worker and draw its result."""
    unchanged = (dash.no_update,) * 9
    if name not in specs() or analysis not in ANALYSES:  # values the dropdowns do not offer
        return *unchanged, error_alert(
            "Check the inputs", [("scenario", "not one of the listed specs")], "scenario-error-alert"
        )
    values, errors = read_settings(dict(zip(SETTINGS, entries)))
    if errors:
        return *unchanged, error_alert("Check the inputs", errors, "scenario-error-alert")

    def report(done: int, total: int) -> None:
        set_progress((done / total if total else 1.0, f"{done} of {total} cases"))

    watch = Stopwatch(time.perf_counter())
    try:
        doc = build_document(name, analysis, values)
        spec, base = parse_scenario_spec(doc, name, FOLDER)
        result = run_scenario(spec, base, Execution(progress=report, max_cases=MAX_CASES)).to_dict()
        failure = None
    except (SpecError, ParameterError) as exc:
        failure = error_alert("Check the inputs", exc.errors, "scenario-error-alert")
    except ExecutorError as exc:
        failure = error_alert("The cases could not run", [("executor", str(exc))], "scenario-error-alert")
    except Exception as exc:  # noqa: BLE001 - explain, never crash the worker silently
        failure = error_alert("The scenario could not run", [(type(exc).__name__, str(exc))], "scenario-error-alert")
    watch.end = time.perf_counter()
    if failure is not None:
        return *unchanged, failure
    status = [
        status_badge(result["status"], "scenario-status-badge"),
        f"{result['name']} · {ANALYSIS_LABELS[result['analysis']]} · {result['message'] or 'done'} · "
        f"{watch.text} (wall time)",
    ]
    shown = {"name": name, "analysis": analysis, "values": {e: entries[i] for i, e in enumerate(SETTINGS)}}
    kept = {"key": f"{time.time_ns()}", "settings": shown, "wall_time": watch.text, "result": result}
    return (
        status,
        summary(result),
        scenario_figures.probability_map(result),
        scenario_figures.par_figure(result),
        scenario_figures.convergence_figure(result),
        scenario_figures.sensitivity_figure(result),
        json.dumps(doc, indent=2),
        shown,
        kept,
        None,
    )


def summary(result: dict) -> list:
    """One line per result: the specifications, then the design space's points or P at the set point."""
    out = [html.Div("Specifications: " + "; ".join(result["responses"]), id="scenario-responses")]
    if result["analysis"] == "design_space":
        inside = [p for p in result["points"] if p["probability"]["p"] >= result["target"]]
        text = (
            "; ".join(
                ", ".join(f"{k} {format_value(v)}" for k, v in p["values"].items())
                + f" (P {p['probability']['p']:.2f})"
                for p in inside
            )
            or "none"
        )
        out.append(html.Div(f"In the design space (P ≥ {result['target']:g}): {text}", id="scenario-inside"))
    elif result["analysis"] == "monte_carlo":
        p = result["point"]["probability"]
        out.append(
            html.Div(
                f"P(in spec) = {p['p']:.3f} (95 % Wilson interval {p['low']:.3f}–{p['high']:.3f}; {p['k']} of {p['n']})",
                id="scenario-probability",
            )
        )
    return out


@callback(
    *[Output(element, "className") for element in SETTINGS],
    *[Output(f"{element}-message", "children") for element in SETTINGS],
    Output("scenario-results", "className"),
    Output("scenario-stale-note", "children"),
    Input("scenario-picker", "value"),
    Input("scenario-analysis", "value"),
    Input("scenario-shown", "data"),
    *[Input(element, "value") for element in SETTINGS],
)
def check_form(name, analysis, shown, *entries):
    """Boxes that are not numbers are marked; results of other settings are greyed out under a note."""
    _, errors = read_settings(dict(zip(SETTINGS, entries)))
    problems = dict(errors)
    labels = [SETTINGS[e][0] for e in SETTINGS]
    classes = ["form-control is-invalid" if label in problems else "form-control" for label in labels]
    messages = [problems.get(label) for label in labels]
    if not shown:
        return *classes, *messages, results_class(False), None
    current = {"scenario": name, "analysis": analysis} | {SETTINGS[e][0]: v for e, v in zip(SETTINGS, entries)}
    before = {"scenario": shown.get("name"), "analysis": shown.get("analysis")} | {
        SETTINGS[e][0]: v for e, v in (shown.get("values") or {}).items() if e in SETTINGS
    }
    changed = forms.changed_fields(current, before)
    note = stale_note(changed, sorted(problems), "scenario-stale-alert", "press Run scenario") if changed else None
    return *classes, *messages, results_class(bool(changed)), note


# -- results kept side by side ----------------------------------------------------------------------------------


@callback(
    Output("scenario-kept", "data"),
    Input("scenario-keep", "n_clicks"),
    Input("scenario-kept-clear", "n_clicks"),
    Input({"type": "scenario-kept-remove", "key": ALL}, "n_clicks"),
    State("scenario-result", "data"),
    State("scenario-kept", "data"),
    prevent_initial_call=True,
)
def keep(_keep, _clear, _removes, shown, kept):
    """Keep the result shown (the oldest kept goes when there are :data:`MAX_KEPT`), remove one, or clear them."""
    kept = [k for k in kept or [] if isinstance(k, dict) and "key" in k]
    trigger = ctx.triggered_id
    if trigger == "scenario-kept-clear":
        return []
    if isinstance(trigger, dict):  # a remove button; a button that has just been drawn has not been clicked
        if not ctx.triggered[0]["value"]:
            return dash.no_update
        return [k for k in kept if k["key"] != trigger.get("key")]
    if not shown or any(k["key"] == shown.get("key") for k in kept):
        return dash.no_update
    number = max((k.get("number", 0) for k in kept), default=0) + 1
    return [*kept, shown | {"number": number}][-MAX_KEPT:]


@callback(
    Output("scenario-keep", "disabled"),
    Output("scenario-keep", "children"),
    Input("scenario-result", "data"),
    Input("scenario-kept", "data"),
)
def keep_button(shown, kept):
    if not shown:
        return True, "Keep for comparison"
    if any(k.get("key") == shown.get("key") for k in kept or []):
        return True, "Kept"
    return False, "Keep for comparison"


def _settings_text(entry: dict) -> dict[str, str]:
    settings = entry.get("settings") or {}
    values = settings.get("values") or {}
    return {
        "scenario": str(settings.get("name")),
        "analysis": ANALYSIS_LABELS.get(settings.get("analysis"), str(settings.get("analysis"))),
        **{label: str(values.get(element, "—")) for element, (label, _, _) in SETTINGS.items()},
    }


@callback(Output("scenario-compare", "children"), Input("scenario-kept", "data"))
def compare(kept):
    """The kept results side by side: their settings and key numbers in a table, and one figure each."""
    kept = [k for k in kept or [] if isinstance(k, dict) and isinstance(k.get("result"), dict)]
    if not kept:
        return html.Div(
            f"Nothing kept yet: run a scenario and press Keep for comparison (up to {MAX_KEPT} are kept in this "
            "browser session).",
            className="small text-secondary",
            id="scenario-compare-empty",
        )
    settings = [_settings_text(k) for k in kept]
    rows = [(label, [s[label] for s in settings]) for label in settings[0]]
    rows.append(("status", [k["result"].get("status", "—") for k in kept]))
    rows.append(("wall time", [k.get("wall_time", "—") for k in kept]))
    rows += scenario_figures.comparison_rows([k["result"] for k in kept])
    head = html.Tr(
        [
            html.Th(""),
            *[
                html.Th(
                    [
                        f"#{k['number']} ",
                        dbc.Button(
                            "×",
                            id={"type": "scenario-kept-remove", "key": k["key"]},
                            size="sm",
                            color="link",
                            className="p-0 ms-1 align-baseline",
                            title="remove",
                            n_clicks=0,
                        ),
                    ]
                )
                for k in kept
            ],
        ]
    )
    body = [
        html.Tr([html.Th(label, className="fw-normal text-secondary"), *[html.Td(v) for v in values]])
        for label, values in rows
    ]
    table = dbc.Table([html.Thead(head), html.Tbody(body)], id="scenario-compare-table", size="sm", className="small")
    graphs = dbc.Row(
        [
            dbc.Col(
                dcc.Graph(
                    id=f"scenario-compare-graph-{i}",
                    figure=scenario_figures.comparison_figure(
                        k["result"], f"#{k['number']} {_settings_text(k)['analysis']}"
                    ),
                    config=GRAPH_CONFIG,
                    style={"height": "320px"},
                ),
                md=12 // min(len(kept), 2),
                xl=12 // len(kept),
            )
            for i, k in enumerate(kept)
        ],
        className="g-2",
    )
    return [html.Div(table, style={"overflowX": "auto"}), graphs]
