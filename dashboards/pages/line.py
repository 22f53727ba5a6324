"""Production line: pick a shipped line, set its units and feeds, run one batch, see the module diagram, streams
and trajectories.

The page loads a :class:`LineDefinition`, shows its settings (each unit's declared parameters, the line's own
first; each feed's volume, temperature and composition: :mod:`dashboards.components.line_settings`), writes the
edited numbers into the definition, validates it with ``parse_line`` and runs it with ``run_line`` (in a background
worker, with a progress bar), then shows ``LineResult.to_dict()``: the same calls ``bioprocess-twin line run``
makes. No science lives here. Results keep the settings they were computed with; while the form differs they are
greyed out under a note.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dash_table, dcc, html, no_update

from bioprocess_twin.core.display import display_units, format_value
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.line.definition import available_lines, load_line, parse_line
from bioprocess_twin.line.edits import LineSetting, with_line_settings
from bioprocess_twin.line.edits import line_settings as line_settings_of
from bioprocess_twin.line.flowsheet import run_line
from dashboards.components import flowsheet, forms, kpis, line_settings
from dashboards.components.common import (
    GRAPH_CONFIG,
    error_alert,
    progress_bar,
    progress_reporter,
    results_class,
    stale_note,
    status_badge,
)

dash.register_page(__name__, path="/line", name="Production line", order=1, title="Production line · bioprocess-twin")


SETTINGS = {"type": line_settings.SETTING, "name": ALL}
SETTING_MESSAGES = {"type": line_settings.SETTING_MESSAGE, "name": ALL}
#: the diagram is drawn to its own size in px; the card scrolls sideways when it is wider
DIAGRAM_CONFIG = GRAPH_CONFIG | {"displayModeBar": False}


def _definition(name: str | None) -> dict | None:
    """The shipped (or user's) line ``name`` as a mapping; only listed lines are read: a name sent by the browser
    is checked against ``available_lines()``, never taken as a path."""
    if not name:
        return None
    if not isinstance(name, str) or name not in available_lines():
        raise ParameterError([("line", f"not one of the listed lines: {name!r}")])
    return load_line(name).model_dump(mode="json", by_alias=True)


def _safe_definition(name: str | None) -> dict | None:
    try:
        return _definition(name)
    except ParameterError:
        return None


def _known(definition: dict | None) -> dict[str, LineSetting]:
    return {s.path: s for s in line_settings_of(definition)} if definition else {}


def _settings_form(definition: dict | None) -> list:
    if not definition:
        return []
    try:
        return line_settings.settings_form(line_settings_of(definition))
    except ParameterError as exc:
        return [error_alert("This line's settings cannot be read", exc.errors, "line-settings-error")]


def _diagram(definition: dict | None, result: dict | None = None) -> dcc.Graph:
    fig = flowsheet.diagram_figure(definition, result)
    height = fig.layout.height or 380
    return dcc.Graph(id="line-diagram", figure=fig, config=DIAGRAM_CONFIG, style={"height": f"{height}px"})


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
                html.H6("Settings", className="mb-0"),
                html.Div(
                    "Unit parameters in their declared units (the line's own first; the others fold under each "
                    "unit), feed volumes (the batch size), temperatures and compositions.",
                    className="form-text mt-0 mb-1",
                ),
                html.Div(_settings_form(definition), id="line-settings", className="param-scroll mb-2"),
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
                            html.Div(id="line-stale-note"),
                            html.Div(_results(definition), id="line-results", className=results_class(False)),
                        ],
                        md=8,
                        xxl=9,
                    ),
                ],
                className="g-3",
            ),
        ]
    )


def _results(definition: dict | None) -> list:
    return [
        html.Div("Not run yet.", id="line-status", className="small text-secondary mb-2"),
        dbc.Row(kpis.kpi_cards(None), id="line-kpis", className="g-2 mb-1"),
        dbc.Card(
            dbc.CardBody(html.Div(_diagram(definition), id="line-diagram-wrap", className="diagram-scroll")),
            className="shadow-sm mb-3",
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
                    dcc.Graph(id="unit-series", figure=flowsheet.unit_series_figure(None, None), config=GRAPH_CONFIG),
                ]
            ),
            className="shadow-sm",
        ),
    ]


@callback(
    Output("line-definition", "data"),
    Output("line-description", "children"),
    Output("line-settings", "children"),
    Output("line-result", "data", allow_duplicate=True),
    Input("line-picker", "value"),
    prevent_initial_call=True,
)
def pick_line(name):
    """Another line: its definition and settings; the results of the last one are cleared."""
    try:
        definition = _definition(name)
    except ParameterError as exc:
        return None, error_alert("This line cannot be shown", exc.errors, "line-pick-error"), [], None
    return definition, (definition or {}).get("description", ""), _settings_form(definition), None


@callback(
    Output("line-result", "data"),
    Output("line-alert", "children"),
    Input("line-run", "n_clicks"),
    State("line-picker", "value"),
    State(SETTINGS, "value"),
    State(SETTINGS, "id"),
    background=True,
    prevent_initial_call=True,
    running=[
        (Output("line-run", "disabled"), True, False),
        (Output("line-progress-wrap", "className"), "mt-2", "mt-2 invisible"),
    ],
    progress=[Output("line-progress", "value"), Output("line-progress", "label")],
)
def run_batch(set_progress, n_clicks, name, values, ids):
    """The line with the settings of the form, validated by the library and run for one batch."""
    set_progress((0, "loading"))
    try:
        definition = _definition(name)
        known = _known(definition)
        settings, errors = line_settings.read_settings(known, forms.entries(ids, values))
        if errors:
            return no_update, error_alert("Check the settings", errors, "line-error")
        edited = parse_line(with_line_settings(definition, settings, known), f"line '{name}' with settings")
        result = run_line(edited, progress=progress_reporter(set_progress))
    except ParameterError as exc:
        return no_update, error_alert("The line cannot run with these settings", exc.errors, "line-error")
    except Exception as exc:  # noqa: BLE001 - report, never crash the worker silently
        return no_update, error_alert("The run could not be completed", [(type(exc).__name__, str(exc))], "line-error")
    changed = {p: v for p, v in settings.items() if not forms.same_entry(v, known[p].value)}
    data = result.to_dict() | {
        "summary_kpis": result.summary_kpis(),
        "stream_table": result.stream_table(),
        "inputs_shown": {"line": name, "values": settings, "changed": changed},
    }
    alert = None if result.ok else error_alert("A unit failed", [("line", result.message)], "line-failed")
    return data, alert


@callback(
    Output(SETTINGS, "className"),
    Output(SETTING_MESSAGES, "children"),
    Output("line-results", "className"),
    Output("line-stale-note", "children"),
    Input(SETTINGS, "value"),
    Input("line-result", "data"),
    State(SETTINGS, "id"),
    State("line-picker", "value"),
)
def check_form(values, result, ids, name):
    """Settings that cannot be used are marked with the reason; results run with other settings are greyed out
    under a note naming them."""
    entries = forms.entries(ids, values)
    _, errors = line_settings.read_settings(_known(_safe_definition(name)), entries)
    problems = dict(errors)
    classes = ["form-control setting-input is-invalid" if n in problems else "form-control setting-input"
               for n in forms.output_names(0)]  # fmt: skip
    messages = [problems.get(n) for n in forms.output_names(1)]
    if not result:
        return classes, messages, results_class(False), None
    shown = result.get("inputs_shown") or {}
    changed = ["line"] if shown.get("line") != name else forms.changed_fields(entries, shown.get("values"))
    note = stale_note(changed, sorted(problems), "line-stale-alert", "press Run one batch") if changed else None
    return classes, messages, results_class(bool(changed)), note


def _changed_text(result: dict) -> str:
    changed = (result.get("inputs_shown") or {}).get("changed") or {}
    if not changed:
        return " · the line's own settings"
    known = _known(_safe_definition(result.get("line")))
    parts = []
    for path, value in changed.items():
        units = display_units(known[path].units) if path in known else ""
        parts.append(f"{path.replace('.parameters.', '.')} {format_value(value)}" + (f" {units}" if units else ""))
    return " · settings changed: " + ", ".join(parts)


@callback(
    Output("line-diagram-wrap", "children"),
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
        return _diagram(definition), kpis.kpi_cards(None), [], [], None, "Not run yet."
    units = list(result["units"])
    status = [
        status_badge(result["status"], "line-status-badge"),
        f"{result['line']} {result['line_version']}: batch of {result['duration_h']:.1f} h",
        html.Span(_changed_text(result), id="line-settings-used"),
    ]
    return (
        _diagram(definition, result),
        kpis.kpi_cards(result["summary_kpis"], units=result["kpi_units"]),
        result["stream_table"],
        [{"label": u, "value": u} for u in units],
        units[0] if units else None,
        status,
    )


@callback(Output("unit-series", "figure"), Input("unit-picker", "value"), State("line-result", "data"))
def show_unit(unit, result):
    return flowsheet.unit_series_figure(result, unit)
