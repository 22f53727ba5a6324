"""Scale-up: a lab scenario and a target scale in, lab vs target side by side with warnings out.

The page edits a copy of an example ``ScaleUpSpec`` (data/specs/scaleup_*.yaml) with the form values and
calls ``bioprocess_twin.scaleup.translate`` on it, exactly as ``bioprocess-twin scaleup SPEC`` does.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
import yaml
from dash import Input, Output, State, callback, dcc, html

from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.units import to_magnitude
from bioprocess_twin.scaleup import CRITERIA, GAS_BASES, ScaleUpSpecError, translate
from dashboards.components import tables

dash.register_page(__name__, path="/scaleup", name="Scale-up", order=2, title="Scale-up · bioprocess-twin")

SPECS = Path(__file__).resolve().parents[2] / "data" / "specs"
EXAMPLES = {"stirred_tank": SPECS / "scaleup_cho_2000L.yaml", "homogenizer": SPECS / "scaleup_homogenizer.yaml"}
CASE_LABELS = {"stirred_tank": "Stirred bioreactor (CHO 50 L → 2000 L)",
               "homogenizer": "Homogenizer (squalene emulsion 5 L → 100 L)"}
GRAPH_CONFIG = {"displaylogo": False, "showSendToCloud": False, "modeBarButtonsToRemove": ["sendDataToCloud"]}
# bar chart: the quantities whose target/lab ratio tells the scale-up story
RATIO_KEYS = ("agitation_rpm", "tip_speed", "power_per_volume", "kla", "mixing_time", "reynolds", "vvm",
              "superficial_gas_velocity", "eps_max", "kolmogorov_length", "flow_rate", "chamber_volume",
              "residence_time", "dissipation_rate", "processing_time", "cooling_duty", "temperature_rise")


def _example(kind: str) -> dict:
    return yaml.safe_load(EXAMPLES[kind].read_text())


def _value(text, units: str) -> float:
    """A spec value ("2000 L", 1.5) as a number in ``units`` for a form box."""
    return round(to_magnitude(text, units), 10)


def _number(element_id: str, label: str, value, units: str, step="any") -> dbc.InputGroup:
    return dbc.InputGroup([dbc.InputGroupText(label, style={"minWidth": "8.5rem"}),
                           dbc.Input(id=element_id, type="number", value=value, step=step),
                           dbc.InputGroupText(units)], size="sm", className="mb-1")


def _tank_controls(case: dict) -> html.Div:
    ox = case.get("oxygen") or {}
    return html.Div([
        dbc.Label("Criterion", html_for="scaleup-criterion", className="small fw-semibold mb-0"),
        dcc.Dropdown(id="scaleup-criterion", value=case["criterion"], clearable=False, className="mb-2",
                     options=[{"label": f"constant {held}", "value": k} for k, (held, _) in CRITERIA.items()]),
        dbc.Label("Gas flow basis", html_for="scaleup-gas-basis", className="small fw-semibold mb-0"),
        dcc.Dropdown(id="scaleup-gas-basis", value=case.get("gas_basis", "vvm"), clearable=False, className="mb-2",
                     options=[{"label": f"constant {text}", "value": k} for k, text in GAS_BASES.items()]),
        _number("scaleup-target-volume", "target volume", _value(case["target_volume"], "L"), "L"),
        _number("scaleup-lab-rpm", "lab agitation", _value(case["agitation"], "rpm"), "rpm"),
        _number("scaleup-lab-vvm", "lab gas flow", case.get("vvm"), "vvm"),
        _number("scaleup-our", "peak OUR", _value(ox["our"], "mmol/L/h") if "our" in ox else None, "mmol/L/h"),
        html.Div("Empty OUR: no aeration sizing.", className="small text-secondary"),
    ], id="scaleup-tank-controls")


def _homogenizer_controls(case: dict) -> html.Div:
    return html.Div([
        _number("scaleup-hom-flow", "target flow", _value(case["target"]["flow_rate"], "L/h"), "L/h"),
        _number("scaleup-hom-batch", "target batch", _value(case["target"]["batch_volume"], "L"), "L"),
        _number("scaleup-hom-pressure", "pressure", _value(case["lab"]["pressure"], "bar"), "bar"),
        _number("scaleup-hom-passes", "passes", case["lab"]["n_passes"], "", step=1),
    ], id="scaleup-hom-controls")


def layout(**_):
    tank, hom = _example("stirred_tank"), _example("homogenizer")
    controls = dbc.Card(dbc.CardBody([
        html.H5("Lab scenario and target", className="card-title"),
        dbc.Label("Case", html_for="scaleup-case", className="small fw-semibold mb-0"),
        dcc.Dropdown(id="scaleup-case", value="stirred_tank", clearable=False, className="mb-2",
                     options=[{"label": text, "value": k} for k, text in CASE_LABELS.items()]),
        html.Div(_tank_controls(tank["stirred_tank"]), id="scaleup-tank-wrap"),
        html.Div(_homogenizer_controls(hom["homogenizer"]), id="scaleup-hom-wrap", style={"display": "none"}),
        dbc.Button("Run scale-up", id="scaleup-run", color="primary", n_clicks=0, className="w-100 mt-2"),
        html.Div(id="scaleup-error"),
    ]), className="shadow-sm")
    return html.Div([
        html.H3("Scale-up", className="mb-1"),
        html.P("Lab against target at the chosen criterion: agitation, tip speed, power, kLa, mixing time, "
               "Reynolds number and shear, with warnings outside typical ranges.", className="text-secondary"),
        dbc.Row([
            dbc.Col(controls, md=5, lg=4, xxl=3, className="mb-3"),
            dbc.Col([
                html.Div(id="scaleup-basis", className="small text-secondary mb-2"),
                html.Div(id="scaleup-warnings", className="mb-2"),
                dbc.Card(dbc.CardBody(dcc.Graph(id="scaleup-ratios", config=GRAPH_CONFIG,
                                                style={"height": "360px"})), className="shadow-sm mb-3"),
                dbc.Card(dbc.CardBody(html.Div(id="scaleup-table-wrap")), className="shadow-sm mb-3"),
                html.Details([html.Summary("Spec of the results shown (use it with `bioprocess-twin scaleup`)",
                                           className="small"),
                              html.Pre(id="scaleup-spec", className="small bg-light p-2 border rounded")]),
            ], md=7, lg=8, xxl=9),
        ], className="g-3"),
    ])


@callback(Output("scaleup-tank-wrap", "style"), Output("scaleup-hom-wrap", "style"), Input("scaleup-case", "value"))
def show_case_controls(kind):
    hidden = {"display": "none"}
    return ({}, hidden) if kind == "stirred_tank" else (hidden, {})


def build_spec(kind, criterion, gas_basis, target_l, lab_rpm, lab_vvm, our, flow, batch, pressure, passes) -> dict:
    """The example spec of ``kind`` with the form values put in (None leaves the field for validation)."""
    spec = copy.deepcopy(_example(kind))
    if kind == "stirred_tank":
        case = spec["stirred_tank"]
        case.update(criterion=criterion, gas_basis=gas_basis, target_volume=_with_units(target_l, "L"),
                    agitation=_with_units(lab_rpm, "rpm"), vvm=lab_vvm)
        if our in (None, ""):
            case.pop("oxygen", None)
        else:
            case.setdefault("oxygen", {})["our"] = _with_units(our, "mmol/L/h")
        spec["title"] = f"{spec['stirred_tank']['lab']['volume']} -> {target_l} L at constant {criterion}"
    else:
        case = spec["homogenizer"]
        case["target"].update(flow_rate=_with_units(flow, "L/h"), batch_volume=_with_units(batch, "L"))
        case["lab"].update(pressure=_with_units(pressure, "bar"), n_passes=passes)
    return spec


def _with_units(value, units: str):
    return None if value in (None, "") else f"{value} {units}"


def ratio_figure(rows: list[dict]) -> go.Figure:
    shown = [r for r in rows if r["quantity"] in RATIO_KEYS and r.get("ratio") and r["ratio"] > 0]
    labels = [f"{r['label']} ({r['units']})" for r in shown]
    ratios = [r["ratio"] for r in shown]
    colours = ["#6c757d" if abs(x - 1) < 1e-6 else ("#0d6efd" if x > 1 else "#fd7e14") for x in ratios]
    fig = go.Figure(go.Bar(x=ratios, y=labels, orientation="h", marker_color=colours,
                           text=[f"{x:.3g}×" for x in ratios], textposition="outside",
                           hovertemplate="%{y}: target/lab = %{x:.4g}<extra></extra>"))
    fig.update_layout(template="plotly_white", margin=dict(l=10, r=40, t=40, b=40), title="target / lab",
                      yaxis=dict(autorange="reversed"))
    fig.update_xaxes(type="log", title="ratio (log scale)")
    fig.add_vline(x=1, line_dash="dot", line_color="#6c757d")
    return fig


@callback(Output("scaleup-table-wrap", "children"), Output("scaleup-warnings", "children"),
          Output("scaleup-ratios", "figure"), Output("scaleup-basis", "children"), Output("scaleup-spec", "children"),
          Output("scaleup-error", "children"),
          Input("scaleup-run", "n_clicks"), Input("scaleup-case", "value"),
          State("scaleup-criterion", "value"), State("scaleup-gas-basis", "value"),
          State("scaleup-target-volume", "value"), State("scaleup-lab-rpm", "value"),
          State("scaleup-lab-vvm", "value"), State("scaleup-our", "value"),
          State("scaleup-hom-flow", "value"), State("scaleup-hom-batch", "value"),
          State("scaleup-hom-pressure", "value"), State("scaleup-hom-passes", "value"))
def run_scaleup(_clicks, kind, *values):
    spec = build_spec(kind, *values)
    try:
        result = translate(spec)
    except (ScaleUpSpecError, ParameterError) as exc:
        return (dash.no_update,) * 5 + (tables.error_alert("Check the inputs", exc.errors, "scaleup-error-alert"),)
    except Exception as exc:  # noqa: BLE001 - e.g. the NLP solver library missing: explain, never crash the page
        return (dash.no_update,) * 5 + (tables.error_alert("The scale-up could not be computed",
                                                           [(type(exc).__name__, str(exc))], "scaleup-error-alert"),)
    doc = result.to_dict()
    columns = [("lab", "lab"), ("target", "target"), ("ratio", "target/lab")]
    if any("optimized" in r for r in doc["rows"]):
        columns.append(("optimized", "target, NLP-sized"))
    table = tables.comparison_table(doc["rows"], "scaleup-table", columns)
    warnings = tables.warning_list(doc["warnings"], "scaleup-warning-list", "All values are within the typical ranges.")
    basis = [html.Span(f"criterion: {doc['criterion']}", id="scaleup-criterion-shown", className="fw-semibold me-2"),
             doc["basis"]]
    design = doc.get("design")
    if design and design.get("ok"):
        basis += [html.Br(), f"Aeration sizing (Pyomo + cyipopt): kLa ≥ {design['kla_required']:.3g} 1/h at "
                             f"{60 * design['N']:.4g} rpm and {design['Qg'] * 6e4:.4g} L/min; binding: "
                             + (", ".join(design["active"]) or "none")]
    return table, warnings, ratio_figure(doc["rows"]), basis, json.dumps(doc["spec"], indent=2), None
