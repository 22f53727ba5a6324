"""Scale-up: a lab scenario and a target scale in, lab vs target side by side with warnings out.

The page edits a copy of an example ``ScaleUpSpec`` (shipped examples/specs/scaleup_*.yaml) with the form values and
calls ``bioprocess_twin.scaleup.translate`` on it, exactly as ``bioprocess-twin scaleup SPEC`` does. It runs in a
background worker whose progress bar counts the seconds, and the status line gives the wall time of the whole call.

Number boxes are text read strictly (``"12x0"`` is refused naming the field). Results keep the entries they were
computed from; while the form differs from them they are greyed out under a note, and the green "all within
ranges" line is hidden with them.
"""

from __future__ import annotations

import json

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
import yaml
from dash import Input, Output, State, callback, dcc, html

from bioprocess_twin.core.display import NumberError, display_units, parse_number
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.scaleup import CRITERIA, GAS_BASES, ScaleUpSpecError, translate
from bioprocess_twin.scaleup.edits import FIELDS, SpecField, field_values, fields, with_field_values
from dashboards.components import forms, tables
from dashboards.components.common import (
    GRAPH_CONFIG,
    elapsed_progress,
    error_alert,
    progress_bar,
    results_class,
    stale_note,
)

dash.register_page(__name__, path="/scaleup", name="Scale-up", order=2, title="Scale-up · bioprocess-twin")

SPECS = example_path("specs")
EXAMPLES = {"stirred_tank": SPECS / "scaleup_cho_2000L.yaml", "homogenizer": SPECS / "scaleup_homogenizer.yaml"}
CASE_LABELS = {
    "stirred_tank": "Stirred bioreactor (CHO 50 L → 2000 L)",
    "homogenizer": "Homogenizer (squalene emulsion 5 L → 100 L)",
}
#: element id of each editable spec field (bioprocess_twin.scaleup.edits.FIELDS)
IDS = {
    "stirred_tank.criterion": "scaleup-criterion",
    "stirred_tank.gas_basis": "scaleup-gas-basis",
    "stirred_tank.target_volume": "scaleup-target-volume",
    "stirred_tank.agitation": "scaleup-lab-rpm",
    "stirred_tank.vvm": "scaleup-lab-vvm",
    "stirred_tank.oxygen.our": "scaleup-our",
    "homogenizer.target.flow_rate": "scaleup-hom-flow",
    "homogenizer.target.batch_volume": "scaleup-hom-batch",
    "homogenizer.lab.pressure": "scaleup-hom-pressure",
    "homogenizer.lab.n_passes": "scaleup-hom-passes",
}
CHOICES = {
    "stirred_tank.criterion": {k: f"constant {held}" for k, (held, _) in CRITERIA.items()},
    "stirred_tank.gas_basis": {k: f"constant {text}" for k, text in GAS_BASES.items()},
}
#: the number boxes: field path -> field
NUMBERS = {f.path: f for kind in FIELDS.values() for f in kind if f.path not in CHOICES}


def message_id(path: str) -> str:
    """The element under a number box that says why its entry cannot be used."""
    return f"{IDS[path]}-message"


def _example(kind: str) -> dict:
    return yaml.safe_load(EXAMPLES[kind].read_text())


def _control(f: SpecField, value) -> list:
    """A dropdown for a choice, else a number box in the field's units."""
    if f.path in CHOICES:
        return [
            dbc.Label(f.label.capitalize(), html_for=IDS[f.path], className="small fw-semibold mb-0"),
            dcc.Dropdown(
                id=IDS[f.path],
                value=value,
                clearable=False,
                className="mb-2",
                options=[{"label": text, "value": k} for k, text in CHOICES[f.path].items()],
            ),
        ]
    return forms.number_row(IDS[f.path], f.label, value, f.display_units)


def _controls(spec: dict, controls_id: str, note: str | None = None) -> html.Div:
    values = field_values(spec)
    out = [c for f in fields(spec["kind"]) for c in _control(f, values[f.path])]
    return html.Div(out + ([html.Div(note, className="small text-secondary")] if note else []), id=controls_id)


def layout(**_):
    tank, hom = _example("stirred_tank"), _example("homogenizer")
    controls = dbc.Card(
        dbc.CardBody(
            [
                html.H5("Lab scenario and target", className="card-title"),
                dbc.Label("Case", html_for="scaleup-case", className="small fw-semibold mb-0"),
                dcc.Dropdown(
                    id="scaleup-case",
                    value="stirred_tank",
                    clearable=False,
                    className="mb-2",
                    options=[{"label": text, "value": k} for k, text in CASE_LABELS.items()],
                ),
                html.Div(
                    _controls(tank, "scaleup-tank-controls", "Empty OUR: no aeration sizing."), id="scaleup-tank-wrap"
                ),
                html.Div(_controls(hom, "scaleup-hom-controls"), id="scaleup-hom-wrap", style={"display": "none"}),
                dbc.Button("Run scale-up", id="scaleup-run", color="primary", n_clicks=0, className="w-100 mt-2"),
                progress_bar("scaleup-progress", "scaleup-progress-wrap"),
                html.Div(id="scaleup-error"),
            ]
        ),
        className="shadow-sm",
    )
    return html.Div(
        [
            dcc.Store(id="scaleup-shown"),
            html.H3("Scale-up", className="mb-1"),
            html.P(
                "Lab against target at the chosen criterion: agitation, tip speed, power, kLa, mixing time, "
                "Reynolds number and shear, with warnings outside typical ranges.",
                className="text-secondary",
            ),
            dbc.Row(
                [
                    dbc.Col(controls, md=5, lg=4, xxl=3, className="mb-3"),
                    dbc.Col(
                        [
                            html.Div(id="scaleup-stale-note"),
                            html.Div(
                                [
                                    html.Div(id="scaleup-basis", className="small text-secondary mb-2"),
                                    html.Div(id="scaleup-warnings", className="mb-2"),
                                    dbc.Card(
                                        dbc.CardBody(
                                            dcc.Graph(
                                                id="scaleup-ratios", config=GRAPH_CONFIG, style={"height": "360px"}
                                            )
                                        ),
                                        className="shadow-sm mb-3",
                                    ),
                                    dbc.Card(
                                        dbc.CardBody(html.Div(id="scaleup-table-wrap")), className="shadow-sm mb-3"
                                    ),
                                    html.Details(
                                        [
                                            html.Summary(
                                                "Spec of the results shown (use it with `bioprocess-twin scaleup`)",
                                                className="small",
                                            ),
                                            html.Pre(id="scaleup-spec", className="small bg-light p-2 border rounded"),
                                        ]
                                    ),
                                ],
                                id="scaleup-results",
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


@callback(Output("scaleup-tank-wrap", "style"), Output("scaleup-hom-wrap", "style"), Input("scaleup-case", "value"))
def show_case_controls(kind):
    hidden = {"display": "none"}
    return ({}, hidden) if kind == "stirred_tank" else (hidden, {})


def build_spec(kind: str, values: dict) -> dict:
    """The example spec of ``kind`` with the form values (field path -> value) put in."""
    return with_field_values(_example(kind), {path: v for path, v in values.items() if path.startswith(f"{kind}.")})


def read_entries(kind: str, entries: dict) -> tuple[dict, list[tuple[str, str]]]:
    """The entries of case ``kind`` (field path -> text or choice) as numbers, and ``(field path, message)`` for
    each box whose text is not a number (an empty box stays empty: the spec's validation names it)."""
    values, errors = {}, []
    for path, entry in entries.items():
        if not path.startswith(f"{kind}."):
            continue
        if path in NUMBERS and not forms.is_blank(entry):
            try:
                entry = parse_number(entry, integer=NUMBERS[path].integer)
            except NumberError as exc:
                errors.append((path, str(exc)))
            else:
                entry = int(entry) if entry.is_integer() and abs(entry) < 1e15 else entry  # "5000 L", not "5000.0 L"
        values[path] = None if forms.is_blank(entry) else entry
    return values, errors


def ratio_figure(shown: list[dict]) -> go.Figure:
    """Bars of target/lab for the rows ``ScaleUpResult.ratio_rows()`` picks."""
    labels = [f"{r['label']} ({display_units(r['units'])})" if display_units(r["units"]) else r["label"] for r in shown]
    ratios = [r["ratio"] for r in shown]
    colours = ["#6c757d" if abs(x - 1) < 1e-6 else ("#0d6efd" if x > 1 else "#fd7e14") for x in ratios]
    fig = go.Figure(
        go.Bar(
            x=ratios,
            y=labels,
            orientation="h",
            marker_color=colours,
            text=[f"{x:.3g}×" for x in ratios],
            textposition="outside",
            hovertemplate="%{y}: target/lab = %{x:.4g}<extra></extra>",
        )
    )
    fig.update_layout(
        template="plotly_white",
        margin=dict(l=10, r=40, t=40, b=40),
        title="target / lab",
        yaxis=dict(autorange="reversed"),
    )
    fig.update_xaxes(type="log", title="ratio (log scale)")
    fig.add_vline(x=1, line_dash="dot", line_color="#6c757d")
    return fig


@callback(
    Output("scaleup-table-wrap", "children"),
    Output("scaleup-warnings", "children"),
    Output("scaleup-ratios", "figure"),
    Output("scaleup-basis", "children"),
    Output("scaleup-spec", "children"),
    Output("scaleup-shown", "data"),
    Output("scaleup-error", "children"),
    Input("scaleup-run", "n_clicks"),
    Input("scaleup-case", "value"),
    *[State(element_id, "value") for element_id in IDS.values()],
    background=True,
    running=[
        (Output("scaleup-run", "disabled"), True, False),
        (Output("scaleup-progress-wrap", "className"), "mt-2", "mt-2 invisible"),
    ],
    progress=[Output("scaleup-progress", "value"), Output("scaleup-progress", "label")],
)
def run_scaleup(set_progress, _clicks, kind, *entries):
    """Read the form, translate the spec (in a background worker) and show lab against target, with the wall
    time of the whole call; an entry that cannot be used leaves the results as they were, greyed out."""
    if not isinstance(kind, str) or kind not in EXAMPLES:  # a value the dropdown does not offer
        return (dash.no_update,) * 6 + (
            error_alert("Check the inputs", [("case", "unknown case")], "scaleup-error-alert"),
        )
    entries_by_path = dict(zip(IDS, entries))
    values, errors = read_entries(kind, entries_by_path)
    if errors:
        return (dash.no_update,) * 6 + (error_alert("Check the inputs", errors, "scaleup-error-alert"),)
    with elapsed_progress(set_progress, "computing") as watch:
        try:
            spec = build_spec(kind, values)
            result = translate(spec)
            failure = None
        except (ScaleUpSpecError, ParameterError) as exc:
            failure = error_alert("Check the inputs", exc.errors, "scaleup-error-alert")
        except Exception as exc:  # noqa: BLE001 - e.g. the NLP solver library missing: explain, never crash the page
            failure = error_alert(
                "The scale-up could not be computed", [(type(exc).__name__, str(exc))], "scaleup-error-alert"
            )
    if failure is not None:
        return (dash.no_update,) * 6 + (failure,)
    doc = result.to_dict()
    columns = [("lab", "lab"), ("target", "target"), ("ratio", "target/lab")]
    if any("optimized" in r for r in doc["rows"]):
        columns.append(("optimized", "target, NLP-sized"))
    table = tables.comparison_table(doc["rows"], "scaleup-table", columns)
    warnings = tables.warning_list(doc["warnings"], "scaleup-warning-list", "All values are within the typical ranges.")
    basis = [
        html.Span(f"criterion: {doc['criterion']}", id="scaleup-criterion-shown", className="fw-semibold me-2"),
        doc["basis"],
        html.Span(f" · computed in {watch.text} (wall time)", id="scaleup-elapsed"),
    ]
    design = doc.get("design")
    if design and design.get("ok"):
        basis += [html.Br(), f"Aeration sizing (Pyomo + cyipopt): {design['text']}"]
    shown = {"case": kind, "values": {path: values.get(path) for path in IDS if path.startswith(f"{kind}.")}}
    return table, warnings, ratio_figure(result.ratio_rows()), basis, json.dumps(doc["spec"], indent=2), shown, None


@callback(
    *[Output(IDS[path], "className") for path in NUMBERS],
    *[Output(message_id(path), "children") for path in NUMBERS],
    Output("scaleup-results", "className"),
    Output("scaleup-stale-note", "children"),
    Input("scaleup-case", "value"),
    Input("scaleup-shown", "data"),
    *[Input(element_id, "value") for element_id in IDS.values()],
)
def check_form(kind, shown, *entries):
    """Boxes whose text is not a number are marked with the reason; results whose entries are not the form's
    (another case, a changed or unreadable box) are greyed out under a note naming the fields."""
    entries_by_path = dict(zip(IDS, entries))
    _, errors = read_entries(kind, entries_by_path) if isinstance(kind, str) and kind in EXAMPLES else ({}, [])
    problems = dict(errors)
    classes = ["form-control is-invalid" if path in problems else "form-control" for path in NUMBERS]
    messages = [problems.get(path) for path in NUMBERS]
    if not shown:
        return *classes, *messages, results_class(False), None
    current = {path: v for path, v in entries_by_path.items() if path.startswith(f"{kind}.")}
    changed = ["case"] if shown.get("case") != kind else forms.changed_fields(current, shown.get("values"))
    note = stale_note(changed, sorted(problems), "scaleup-stale-alert", "press Run scale-up") if changed else None
    return *classes, *messages, results_class(bool(changed)), note
