"""The Optimise page's form: the problem of a catalogue process model as boxes, and the optimisation spec they
describe (``bioprocess_twin.scenarios.optimize``). The form holds no science: it lists the model's inputs, scalar
states and outputs from ``Process.describe()``, reads every box strictly (``display.parse_number``) and names a box
that cannot be read by the spec field it fills (``horizon``, ``controls.feed_rate.max``, ``path.0.min``,
``pareto.epsilons``); the library validates the rest."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import dash_bootstrap_components as dbc
from dash import ALL, Input, State, dcc, html

from bioprocess_twin import catalogue
from bioprocess_twin.core.display import NumberError, display_units, parse_number
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import SpecError, read_spec_file
from bioprocess_twin.core.units import UnitsError, to_magnitude
from bioprocess_twin.scenarios.policy import PolicyProblem
from dashboards.components import forms

PREFERRED = "cho_fed_batch"
#: constraint rows of each kind the form offers
ROWS = 3
#: limits of one run on this shared server (each interval integrates the model with its sensitivities)
MAX_INTERVALS = 60
MAX_ITERATIONS = 1000
MAX_POINTS = 10
#: intervals a shipped example opens with at most: a first run takes seconds (the CLI runs the example as written)
DEFAULT_INTERVALS = 8
#: fields of a shipped example the form has no box for; they are carried into the spec as they are
CARRIED = ("parameters", "version")
#: solver settings: element id -> (spec field, label, whole number)
SOLVER_BOXES = {
    "optimise-max-iterations": ("max_iterations", "max iterations", True),
    "optimise-tolerance": ("tolerance", "tolerance", False),
    "optimise-qn": ("quasi_newton_iterations", "L-BFGS iterations first", True),
    "optimise-rtol": ("rtol", "integrator rtol", False),
    "optimise-atol": ("atol", "integrator atol", False),
}
#: the boxes of a control's row: pattern type -> spec field (``value``: the value an input is held at when not a control)
CONTROL_BOXES = {"optimise-min": "min", "optimise-max": "max", "optimise-initial": "initial", "optimise-value": "value"}
USE = "optimise-use"
KINDS = ("path", "final")


def row_id(kind: str, i: int, part: str) -> str:
    return f"optimise-{kind}-{i}-{part}"


#: the fixed fields of the form, in the order the callbacks take them
FIELDS = [
    "optimise-model",
    "optimise-horizon",
    "optimise-intervals",
    "optimise-objective",
    "optimise-sense",
    *[row_id(k, i, p) for k in KINDS for i in range(ROWS) for p in ("name", "min", "max")],
    "optimise-pareto",
    "optimise-second",
    "optimise-second-sense",
    "optimise-epsilons",
    "optimise-hessian",
    *SOLVER_BOXES,
]
#: the number boxes among them (marked when their entry cannot be read)
BOXES = [
    "optimise-horizon",
    "optimise-intervals",
    *[row_id(k, i, p) for k in KINDS for i in range(ROWS) for p in ("min", "max")],
    "optimise-epsilons",
    *SOLVER_BOXES,
]
PATTERN_TYPES = (USE, *CONTROL_BOXES)


def form_states() -> list[State]:
    """States of every field: the fixed ones, then each control box's values and ids (see :func:`read_form`)."""
    return [
        *[State(f, "value") for f in FIELDS],
        *[State({"type": t, "name": ALL}, "value") for t in PATTERN_TYPES],
        *[State({"type": t, "name": ALL}, "id") for t in PATTERN_TYPES],
    ]


def form_inputs() -> list:
    """The same as Inputs (the control boxes' ids stay States, after every Input)."""
    return [
        *[Input(f, "value") for f in FIELDS],
        *[Input({"type": t, "name": ALL}, "value") for t in PATTERN_TYPES],
        *[State({"type": t, "name": ALL}, "id") for t in PATTERN_TYPES],
    ]


def read_form(values: tuple | list) -> dict[str, Any]:
    """The callback's field values as ``{field id: value}`` plus ``controls``: name -> {use, min, max, value}."""
    n = len(FIELDS)
    form = dict(zip(FIELDS, values[:n]))
    groups = values[n : n + len(PATTERN_TYPES)]
    ids = values[n + len(PATTERN_TYPES) : n + 2 * len(PATTERN_TYPES)]
    controls: dict[str, dict[str, Any]] = {}
    for kind, group, group_ids in zip(PATTERN_TYPES, groups, ids):
        for name, value in forms.entries(group_ids, group).items():
            controls.setdefault(name, {})[kind] = value
    form["controls"] = controls
    return form


# -- models and their descriptions --------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def description(name: str) -> dict[str, Any]:
    return catalogue.get(name).describe()


def models() -> list[str]:
    """Catalogue process models a policy can be optimised for: with inputs to control and no algebraic states."""
    out = []
    for name in catalogue.names():
        try:
            d = description(name)
        except Exception:  # noqa: BLE001 - a model that cannot describe itself is not offered
            continue
        if d.get("inputs") and not d.get("algebraics"):
            out.append(name)
    return out


def quantities(description: dict[str, Any]) -> list[dict[str, Any]]:
    """The scalar states and outputs: what an objective or a constraint can name."""
    return [
        {**v, "what": what}
        for what in ("states", "outputs")
        for v in description.get(what, [])
        if v.get("size", 1) == 1
    ]


def units_of(description: dict[str, Any]) -> dict[str, str]:
    """Display units of every input, state and output, and of ``time``."""
    out = {"time": display_units(description.get("time_units", ""))}
    for what in ("inputs", "states", "outputs"):
        out |= {v["name"]: display_units(v["units"]) for v in description.get(what, [])}
    return out


def _options(description: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "label": f"{q['name']} ({display_units(q['units'])})" if display_units(q["units"]) else q["name"],
            "value": q["name"],
        }
        for q in quantities(description)
    ]


def examples() -> dict[str, tuple[str, dict[str, Any]]]:
    """The shipped optimisation specs (``examples/optimisation/*.yaml``) by model: the first file of each model."""
    try:
        folder = example_path("optimisation")
    except FileNotFoundError:
        return {}
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            doc = read_spec_file(path)
        except SpecError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("model"), str):
            out.setdefault(doc["model"], (path.name, doc))
    return out


def problem_defaults(name: str) -> dict[str, Any]:
    """The problem the form opens with for model ``name``: its shipped example spec, on at most
    :data:`DEFAULT_INTERVALS` intervals (``source`` names the file); else the first input as the control between
    its declared bounds and the first state maximised over 10 time units on 4 intervals."""
    found = examples().get(name)
    if found:
        file, doc = found
        intervals = min(int(doc.get("intervals", PolicyProblem.model_fields["intervals"].default)), DEFAULT_INTERVALS)
        return {**doc, "intervals": intervals, "source": file}
    d = description(name)
    first = d["inputs"][0]
    lo, hi = first["bounds"]
    return {
        "horizon": 10.0,
        "intervals": 4,
        "controls": {first["name"]: {"min": lo, "max": hi}},
        "objective": {"name": quantities(d)[0]["name"], "sense": "maximize"},
    }


def held_value(value: Any, units: str) -> Any:
    """An input's value from a spec (a number in the declared units or text with units) as a number in the declared
    units; text that cannot be converted is shown as it is (and refused by the form, naming the input)."""
    try:
        return to_magnitude(value, units)
    except (UnitsError, TypeError, ValueError):
        return value


# -- layout ----------------------------------------------------------------------------------------------------


def _box(element_id: Any, value: Any, placeholder: str = "", min_width: str | None = None) -> dcc.Input:
    box = forms.number_box(element_id, value, "form-control form-control-sm")
    box.placeholder = placeholder
    if min_width:
        box.style = {"minWidth": min_width}
    return box


def _finite(x: Any) -> Any:
    return x if isinstance(x, int | float) and abs(x) != float("inf") else None


def _controls_table(d: dict[str, Any], problem: dict[str, Any]) -> html.Div:
    """One row per model input: ticked, it is a control between min and max (starting at ``start``, else the
    middle); unticked, it is held at its value all along."""
    chosen = problem.get("controls", {})
    held = problem.get("inputs", {})
    rows = []
    for p in d["inputs"]:
        name, units = p["name"], display_units(p["units"])
        c = chosen.get(name, {})
        lo, hi = p["bounds"]
        rows.append(
            html.Tr(
                [
                    html.Td(
                        dbc.Checkbox(
                            id={"type": USE, "name": name}, value=name in chosen, label=name, label_class_name="small"
                        ),
                        title=p.get("description") or name,
                    ),
                    html.Td(_box({"type": "optimise-min", "name": name}, c.get("min", _finite(lo)), "min", "4.5rem")),
                    html.Td(_box({"type": "optimise-max", "name": name}, c.get("max", _finite(hi)), "max", "4.5rem")),
                    html.Td(_box({"type": "optimise-initial", "name": name}, c.get("initial"), "mid", "4.5rem")),
                    html.Td(
                        _box(
                            {"type": "optimise-value", "name": name},
                            held_value(held.get(name, p["default"]), p["units"]),
                            "held at",
                            "4.5rem",
                        )
                    ),
                    html.Td(units, className="small text-secondary"),
                ]
            )
        )
    head = html.Thead(
        html.Tr([html.Th(t, className="small fw-semibold") for t in ("control", "min", "max", "start", "held at", "")])
    )
    table = html.Table([head, html.Tbody(rows)], className="table table-sm align-middle mb-1 optimise-controls")
    return html.Div(table, style={"overflowX": "auto"})


def _bound_rows(kind: str, options: list, bounds: list[dict[str, Any]]) -> list:
    out = []
    for i in range(ROWS):
        b = bounds[i] if i < len(bounds) else {}
        out.append(
            dbc.Row(
                [
                    dbc.Col(
                        dcc.Dropdown(
                            id=row_id(kind, i, "name"),
                            options=options,
                            value=b.get("name"),
                            placeholder="state or output",
                            clearable=True,
                        ),
                        width=6,
                    ),
                    dbc.Col(_box(row_id(kind, i, "min"), b.get("min"), "min"), width=3),
                    dbc.Col(_box(row_id(kind, i, "max"), b.get("max"), "max"), width=3),
                ],
                className="g-1 mb-1",
            )
        )
    return out


def _label(text: str, html_for: str | None = None) -> dbc.Label:
    return dbc.Label(text, html_for=html_for, className="small fw-semibold mb-0 mt-2")


def problem_form(name: str) -> list:
    """The form of model ``name`` at its default problem."""
    d = description(name)
    problem = problem_defaults(name)
    options = _options(d)
    pareto = problem.get("pareto") or {}
    second = pareto.get("second") or {}
    defaults = PolicyProblem.model_fields
    solver = {f: problem.get(f, defaults[f].default) for f, _, _ in SOLVER_BOXES.values()}
    solver["max_iterations"] = min(solver["max_iterations"], MAX_ITERATIONS)
    time_units = display_units(d["time_units"])

    def timed_row(element_id: str, label: str, value: Any, units: str = "") -> dbc.InputGroup:
        parts = [dbc.InputGroupText(label, style={"minWidth": "7rem"}), _box(element_id, value)]
        if units:
            parts.append(dbc.InputGroupText(units))
        return dbc.InputGroup(parts, size="sm", className="mb-1")

    source = []
    if problem.get("source"):
        given = examples()[name][1].get("intervals", defaults["intervals"].default)
        text = f"Opened from the shipped example examples/optimisation/{problem['source']}"
        if given != problem["intervals"]:
            text += f", on {problem['intervals']} intervals instead of its {given}"
        carried = [f"{k}: {json.dumps(problem[k])}" for k in CARRIED if problem.get(k)]
        text += (" (kept as in the example: " + "; ".join(carried) + ")" if carried else "") + "."
        source = [html.Div(text, className="form-text mt-0 mb-1", id="optimise-source")]
    return [
        *source,
        timed_row("optimise-horizon", "horizon", problem["horizon"], time_units),
        timed_row("optimise-intervals", "intervals", problem["intervals"]),
        html.Div(
            "Each control is constant on each of the equal intervals; path constraints hold at their boundaries.",
            className="form-text mt-0",
        ),
        _label("Controls (ticked) and held inputs"),
        _controls_table(d, problem),
        _label("Objective: at the end of the horizon", "optimise-objective"),
        dbc.Row(
            [
                dbc.Col(
                    dcc.Dropdown(
                        id="optimise-objective",
                        options=options,
                        value=problem["objective"]["name"],
                        clearable=False,
                    ),
                    width=7,
                ),
                dbc.Col(
                    dcc.Dropdown(
                        id="optimise-sense",
                        options=[{"label": s, "value": s} for s in ("maximize", "minimize")],
                        value=problem["objective"].get("sense", "maximize"),
                        clearable=False,
                    ),
                    width=5,
                ),
            ],
            className="g-1",
        ),
        _label("Path constraints: at every boundary (name, min, max)"),
        *_bound_rows("path", options, problem.get("path", [])),
        _label("Final constraints: at the end (name, min, max)"),
        *_bound_rows("final", options, problem.get("final", [])),
        dbc.Checkbox(
            id="optimise-pareto",
            value=False,
            label="Trace a Pareto front against a second objective",
            label_class_name="small fw-semibold",
            className="mt-2",
        ),
        dbc.Row(
            [
                dbc.Col(
                    dcc.Dropdown(id="optimise-second", options=options, value=second.get("name"), clearable=True),
                    width=7,
                ),
                dbc.Col(
                    dcc.Dropdown(
                        id="optimise-second-sense",
                        options=[{"label": s, "value": s} for s in ("minimize", "maximize")],
                        value=second.get("sense", "minimize"),
                        clearable=False,
                    ),
                    width=5,
                ),
            ],
            className="g-1 mb-1",
        ),
        timed_row("optimise-epsilons", "ε bounds", ", ".join(forms.box_text(e) for e in pareto.get("epsilons", []))),
        html.Div(
            f"One optimisation per ε (at most {MAX_POINTS}), separated by commas: the second objective is held "
            "at or below ε (minimised) or at or above it (maximised).",
            className="form-text mt-0",
        ),
        dbc.Accordion(
            [
                dbc.AccordionItem(
                    [
                        dbc.Label("Hessian", html_for="optimise-hessian", className="small fw-semibold mb-0"),
                        dcc.Dropdown(
                            id="optimise-hessian",
                            options=[
                                {"label": "exact (second-order sensitivities)", "value": "exact"},
                                {"label": "limited-memory (L-BFGS)", "value": "limited-memory"},
                            ],
                            value=problem.get("hessian", defaults["hessian"].default),
                            clearable=False,
                            className="mb-1",
                        ),
                        *[
                            timed_row(element, label, solver[field])
                            for element, (field, label, _) in SOLVER_BOXES.items()
                        ],
                    ],
                    title="Solver (IPOPT)",
                )
            ],
            start_collapsed=True,
            flush=True,
            className="mt-2",
        ),
    ]


# -- the spec from the form -------------------------------------------------------------------------------------


def _number(text: Any, integer: bool = False) -> float | int:
    x = parse_number(text, integer=integer)
    return int(x) if integer else x


def _numbers(text: Any) -> list[float]:
    """A list of numbers separated by commas, semicolons or blanks."""
    parts = [p for p in re.split(r"[,;\s]+", str(text or "").strip()) if p]
    if not parts:
        raise NumberError("the box is empty")
    return [parse_number(p) for p in parts]


def build_document(form: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The optimisation spec the form describes, and ``(spec field, message)`` for each entry that cannot be read
    or that this server does not allow. Entries that cannot be read are left out of the document."""
    name = form.get("optimise-model")
    errors: list[tuple[str, str]] = []
    if name not in models():
        return {}, [("model", f"not one of the listed process models: {name!r}")]
    d = description(name)
    problem = problem_defaults(name)
    doc: dict[str, Any] = {"model": name, **{k: problem[k] for k in CARRIED if problem.get(k)}}

    def read(field: str, text: Any, integer: bool = False, blank_ok: bool = False):
        if blank_ok and forms.is_blank(text):
            return None
        if forms.is_blank(text):
            errors.append((field, "the box is empty"))
            return None
        try:
            return _number(text, integer)
        except NumberError as exc:
            errors.append((field, str(exc)))
            return None

    for field, element, integer in (("horizon", "optimise-horizon", False), ("intervals", "optimise-intervals", True)):
        value = read(field, form.get(element), integer)
        if value is not None:
            doc[field] = value
    if isinstance(doc.get("intervals"), int) and doc["intervals"] > MAX_INTERVALS:
        errors.append(("intervals", f"at most {MAX_INTERVALS} on this server (the CLI takes more)"))

    controls, inputs = {}, {}
    typed = form.get("controls") or {}
    for p in d["inputs"]:
        row = typed.get(p["name"], {})
        if row.get(USE):
            bounds = {}
            for element, key in (("optimise-min", "min"), ("optimise-max", "max"), ("optimise-initial", "initial")):
                value = read(f"controls.{p['name']}.{key}", row.get(element), blank_ok=key == "initial")
                if value is not None:
                    bounds[key] = value
            controls[p["name"]] = bounds
        else:
            value = read(f"inputs.{p['name']}", row.get("optimise-value"))
            if value is not None and value != p["default"]:
                inputs[p["name"]] = value
    doc["controls"] = controls
    if inputs:
        doc["inputs"] = inputs
    doc["objective"] = {"name": form.get("optimise-objective"), "sense": form.get("optimise-sense")}
    for kind in KINDS:
        rows = []
        for i in range(ROWS):
            bound: dict[str, Any] = {"name": form.get(row_id(kind, i, "name"))}
            for side in ("min", "max"):
                value = read(f"{kind}.{len(rows)}.{side}", form.get(row_id(kind, i, side)), blank_ok=True)
                if value is not None:
                    bound[side] = value
            if bound["name"]:
                rows.append(bound)
            elif len(bound) > 1:
                errors.append((f"{kind}.{len(rows)}.name", "pick the state or output these limits bound"))
        if rows:
            doc[kind] = rows
    if form.get("optimise-pareto"):
        pareto: dict[str, Any] = {
            "second": {"name": form.get("optimise-second"), "sense": form.get("optimise-second-sense")}
        }
        try:
            pareto["epsilons"] = _numbers(form.get("optimise-epsilons"))
        except NumberError as exc:
            errors.append(("pareto.epsilons", str(exc)))
        else:
            if len(pareto["epsilons"]) > MAX_POINTS:
                errors.append(("pareto.epsilons", f"at most {MAX_POINTS} points on this server (the CLI takes more)"))
        doc["pareto"] = pareto
    doc["hessian"] = form.get("optimise-hessian")
    for element, (field, _, integer) in SOLVER_BOXES.items():
        value = read(field, form.get(element), integer)
        if value is not None:
            doc[field] = value
    if isinstance(doc.get("max_iterations"), int) and doc["max_iterations"] > MAX_ITERATIONS:
        errors.append(("max_iterations", f"at most {MAX_ITERATIONS} on this server (the CLI takes more)"))
    return doc, errors


#: spec field of each fixed number box, for marking the box of a refused entry
BOX_FIELDS = {
    "optimise-horizon": "horizon",
    "optimise-intervals": "intervals",
    "optimise-epsilons": "pareto.epsilons",
    **{element: field for element, (field, _, _) in SOLVER_BOXES.items()},
}


def box_field(element: str, doc_rows: dict[str, list[int]]) -> str:
    """The spec field of a fixed box; a constraint row is named by its place among the rows in use (an unused row
    by the place it would take)."""
    if element in BOX_FIELDS:
        return BOX_FIELDS[element]
    _, kind, i, side = element.split("-")
    return f"{kind}.{sum(j < int(i) for j in doc_rows[kind])}.{side}"


def rows_in_use(form: dict[str, Any]) -> dict[str, list[int]]:
    return {kind: [i for i in range(ROWS) if form.get(row_id(kind, i, "name"))] for kind in KINDS}


def flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    """A document as ``{dotted field: value}`` (lists by index), to name the fields two specs differ in."""
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            out |= flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(doc, list):
        out = {}
        for i, v in enumerate(doc):
            out |= flatten(v, f"{prefix}.{i}")
        return out
    return {prefix: doc}


def changed_fields(current: dict[str, Any], shown: dict[str, Any]) -> list[str]:
    a, b = flatten(current), flatten(shown)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
