"""Hostile mutations of the shipped example specs and what running each one gives.

Shared by tests/test_fuzz_specs.py (a few dozen cases per area, in CI) and bench/fuzz_specs.py (thousands).
A case copies one shipped spec, with the files it names, into a fresh folder, replaces values at random
places of it with hostile ones (wrong types, wrong or unknown or offset units, huge, negative, infinite and
NaN numbers, long strings, nested lists and maps, absolute and ``..`` paths), writes it back and runs the
library entry point the command line calls. The only acceptable outcomes are:

- ``ok``: it ran (a scale-up table, a plan, a calibration set up to the estimation);
- ``named``: a SpecError or ParameterError whose every entry names a field;
- ``solver``: a solver failure, an infeasible plan or the wall-clock limit.

Anything else is ``unhandled``: an exception of another type, an error without a field name, a result that
cannot be written as JSON, or a spec that named a file outside its folder and still ran (``escaped``).
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.paths import escape_reason
from bioprocess_twin.core.resources import example_path, shipped_models
from bioprocess_twin.core.results import json_safe
from bioprocess_twin.core.spec import SpecError

AREAS = ("simulation", "scaleup", "plan", "calibration", "line")
#: the shipped specs each area mutates (examples, and for lines a shipped line definition); calibration specs
#: come with their tag map and data files
SHIPPED = {
    "simulation": [
        ("specs", name)
        for name in (
            "alum_alooh.yaml",
            "alum_alpo4.yaml",
            "cho_fed_batch.yaml",
            "emulsion_homogenizer.yaml",
            "emulsion_pressure_ramp.yaml",
            "liposome_microfluidic.yaml",
            "microbial_fed_batch.yaml",
        )
    ],
    "scaleup": [("specs", "scaleup_cho_2000L.yaml"), ("specs", "scaleup_homogenizer.yaml")],
    "plan": [("plans", "two_step_small.yaml"), ("plans", "vaccine_campaign.yaml"), ("plans", "line_products.yaml")],
    "calibration": [("batch_records", "cho", "calibration.yaml"), ("batch_records", "emulsion", "calibration.yaml")],
    "line": [("lines", "adjuvant_only", "1.0.0.yaml")],
}
#: a file next to the case folder: a spec path that reaches it has escaped its folder
OUTSIDE = "outside.yaml"
#: fields that name files, per area, as dotted paths with * for any list index or key
PATH_FIELDS = {
    "simulation": [],
    "calibration": ["data", "model_file"],
    "plan": ["products.*.from_line.line"],
    "scaleup": [],
    "line": [],
}

# -- hostile values --------------------------------------------------------------------------------
NUMBERS = st.one_of(
    st.sampled_from(
        [0, -1, -0.0, 1e-320, -1e-300, 1e308, -1e308, 1e300, 10**30, -(10**30), 2**63, 2**64 + 1, 10**400]
        + [math.inf, -math.inf, math.nan, 0.5, 3, 7.25, 1e6]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**40), max_value=10**40),
)
UNIT_TEXT = st.one_of(
    st.sampled_from(
        [
            "1000 bar",
            "5 degC",
            "-300 degC",
            "1e3 degC",
            "10 degF",
            "100 delta_degC",
            "0 K",
            "-5 K",
            "50 furlongs",
            "12 parsec/fortnight",
            "2000 bar",
            "12 m/s",
            "1/0 L",
            "1 / 0",
            "10**10**10 L",
            "2**99999 m",
            "nan L",
            "inf rpm",
            "-inf L",
            "1e308 L",
            "1e400 m^3",
            "-5 L",
            "50 L/h",
            "3 mmol/L/h",
            "120 rpm",
            "5 kg",
            "50 %",
            "0.5",
            "abc",
            "",
            " ",
            "1,5 L",
            "12x0",
            "(",
            "L L L",
            "1 dimensionless",
            "5 Mdose",
        ]
    ),
    st.builds(lambda n, u: f"{n} {u}", NUMBERS, st.sampled_from(["L", "bar", "rpm", "degC", "m^3", "h", "kg"])),
)
TEXT = st.one_of(
    st.sampled_from(
        [
            "x" * 300,
            "a" * 5000,
            "\x00",
            "nul\x00byte",
            "é" * 50,
            "-1",
            "true",
            "null",
            "{",
            "*",
            "adjuvant_only@1.0.0",
            "adjuvant_only@9",
            "adjuvanted_vaccine",
            "mu_max",
            "B01",
            "1.0.0+cal.1",
            "../1.0.0",
        ]
    ),
    st.text(max_size=30),
)
PATHS = st.sampled_from(
    [
        "/etc/passwd",
        "/etc/hostname",
        f"../{OUTSIDE}",
        f"../../{OUTSIDE}",
        f"sub/../../{OUTSIDE}",
        f"./../{OUTSIDE}",
        "~/x.yaml",
        "~nosuchuser/x.yaml",
        "/tmp",
        ".",
        "..",
        "link_out.yaml",
        "nonexistent.yaml",
        "x" * 300 + ".yaml",
        "tagmap.yaml",
        "C:\\Windows\\win.ini",
        "..\\outside.yaml",
        "file:///etc/passwd",
    ]
)
WRONG_TYPES = st.sampled_from(
    [None, True, False, [], {}, [1, 2], {"a": 1}, {"value": "x", "units": 5}, {"value": 1, "units": "bar"}, [[[[]]]]]
)
NESTED = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)
HOSTILE = st.one_of(NUMBERS, UNIT_TEXT, TEXT, PATHS, WRONG_TYPES, NESTED)
HOSTILE_KEYS = st.one_of(TEXT, st.sampled_from(["root", "jit", "compiler", "model_file", "__class__"]))


def places(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in ``doc`` (a path of keys and list indices), the document itself included."""
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += places(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += places(value, (*prefix, i))
    return out


def _parent(doc: Any, place: tuple):
    node = doc
    for key in place[:-1]:
        node = node[key]
    return node


@st.composite
def mutated(draw, doc: Any, max_changes: int = 3) -> Any:
    """``doc`` (a copy) with one to ``max_changes`` places replaced by hostile values, removed, or given a hostile
    key beside them."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, max_changes))):
        place = draw(st.sampled_from([p for p in places(doc) if p]))
        parent = _parent(doc, place)
        action = draw(st.sampled_from(["replace"] * 6 + ["remove", "add"]))
        value = copy.deepcopy(draw(HOSTILE))  # sampled constants ([], {}) must never be changed in place
        if action == "replace":
            parent[place[-1]] = value
        elif action == "remove":
            del parent[place[-1]]
        elif isinstance(parent, dict):
            parent[draw(HOSTILE_KEYS)] = value
        else:
            parent.append(value)
    return doc


# -- cases -----------------------------------------------------------------------------------------
def shipped_path(area: str, index: int) -> Path:
    return shipped_models().joinpath(*SHIPPED[area][index]) if area == "line" else example_path(*SHIPPED[area][index])


def shipped_document(area: str, index: int) -> dict:
    return yaml.safe_load(shipped_path(area, index).read_text())


def case_folder(root: Path, area: str, index: int) -> Path:
    """A fresh folder ``root/case`` with the spec's neighbours (data files), a symbolic link leading out of
    it, and ``root/outside.yaml``, a valid file a confined spec must never reach. Returns the spec path."""
    source = shipped_path(area, index)
    folder = root / "case"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if area == "calibration":
        for f in source.parent.iterdir():
            if f.is_file() and f.name != source.name:
                shutil.copy(f, folder / f.name)
        shutil.copy(source.parent / "tagmap.yaml", root / OUTSIDE)
    else:
        shutil.copy(source, root / OUTSIDE)
    (folder / "link_out.yaml").symlink_to(root / OUTSIDE)
    return folder / source.name


def write_case(root: Path, area: str, index: int, doc: Any) -> Path:
    spec = case_folder(root, area, index)
    spec.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return spec


@dataclass
class Outcome:
    kind: str  # ok | named | solver | unhandled
    detail: str = ""


def run_simulation(spec_path: Path) -> str:
    """What ``bioprocess-twin simulate`` does: read the spec, run it, write the JSON document."""
    from bioprocess_twin import catalogue
    from bioprocess_twin.core.spec import load_spec

    spec = load_spec(spec_path)
    try:
        catalogue.get(spec.model)
    except KeyError as exc:  # the CLI reports an unknown model on the field 'model'
        raise SpecError(str(spec_path), [("model", exc.args[0])]) from None
    run = catalogue.run_spec(spec)
    as_json(run.to_dict() | {"spec": spec.model_dump(mode="json")})
    return "ok" if run.ok else "solver"


def run_scaleup(spec_path: Path) -> str:
    from bioprocess_twin.scaleup import load_scaleup_spec, translate

    doc = {"status": "ok", **translate(load_scaleup_spec(spec_path)).to_dict()}
    as_json(doc)
    design = doc.get("design")
    return "solver" if design is not None and design.get("status") == "error" else "ok"


def run_plan(spec_path: Path, solve: bool = True) -> str:
    from bioprocess_twin.line.plan_spec import load_plan_spec
    from bioprocess_twin.line.planning import plan

    spec = load_plan_spec(spec_path)
    if not solve:
        return "ok"
    result = plan(spec)
    as_json(result.to_dict() | {"spec": result.spec.model_dump(mode="json")})
    return "ok" if result.ok else "solver"


def run_calibration(spec_path: Path, prepare: bool = False) -> str:
    """The calibration up to the estimation: the spec read and checked, its model and, when saving, the file it
    would write; with ``prepare`` also the records imported and the estimation problem set up."""
    from bioprocess_twin.calibration.parameter_sets import saved_set_path
    from bioprocess_twin.calibration.run import prepare_calibration
    from bioprocess_twin.calibration.spec import load_calibration_spec, resolve_model

    spec, base = load_calibration_spec(spec_path)
    if prepare:
        prepare_calibration(spec, base)
    else:
        model = resolve_model(spec, base)
        if spec.save is not None:
            saved_set_path(model, spec.save)
    return "ok"


def run_line(spec_path: Path) -> str:
    from bioprocess_twin.line.definition import load_line
    from bioprocess_twin.line.flowsheet import run_line as run

    result = run(load_line(spec_path))
    as_json(result.to_dict(include_series=True))
    return "ok" if result.ok else "solver"


def as_json(doc: dict) -> str:
    """The document as the CLI writes it (NaN and infinities become null); raises if it cannot be."""
    return json.dumps(json_safe(doc), allow_nan=False)


def outcome(run: Callable[[], str]) -> Outcome:
    """Run a case and classify what happened."""
    from bioprocess_twin.core.limits import WallClockLimit

    try:
        return Outcome(run())
    except (SpecError, ParameterError) as exc:
        unnamed = [e for e in exc.errors if not (isinstance(e[0], str) and e[0].strip())]
        if unnamed or not exc.errors:
            return Outcome("unhandled", f"error without a field: {exc}")
        return Outcome("named", "; ".join(f"{f}: {m}" for f, m in exc.errors)[:300])
    except WallClockLimit as exc:
        return Outcome("solver", str(exc))
    except Exception as exc:  # noqa: BLE001 - the point: anything else is a finding
        return Outcome("unhandled", "".join(traceback.format_exception(exc))[-3000:])


def escaping_paths(area: str, doc: Any) -> list[str]:
    """The values of ``doc``'s path fields that would lead outside the spec's folder."""
    found = []
    for pattern in PATH_FIELDS[area]:
        for value in _values_at(doc, pattern.split(".")):
            if isinstance(value, str) and _leaves_folder(value):
                found.append(value)
    return found


def _leaves_folder(value: str) -> bool:
    reason = escape_reason(value)
    return value == "link_out.yaml" or (reason is not None and "empty" not in reason)


def _values_at(node: Any, keys: list[str]) -> list[Any]:
    if not keys:
        return [node]
    key, rest = keys[0], keys[1:]
    if key == "*":
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
        return [v for child in children for v in _values_at(child, rest)]
    if isinstance(node, dict) and key in node:
        return _values_at(node[key], rest)
    return []


def run_case(root: Path, area: str, index: int, doc: Any, full: bool = True) -> Outcome:
    """Write ``doc`` as the ``index``-th shipped spec of ``area`` under ``root`` and run it. ``full``: solve
    every plan and set up the calibration problem; otherwise only the small plan is solved and calibration
    stops after the spec and model checks."""
    spec = write_case(root, area, index, doc)
    if area == "simulation":
        result = outcome(lambda: run_simulation(spec))
    elif area == "scaleup":
        result = outcome(lambda: run_scaleup(spec))
    elif area == "plan":
        result = outcome(lambda: run_plan(spec, solve=full or index == 0))
    elif area == "line":
        result = outcome(lambda: run_line(spec))
    else:
        result = outcome(lambda: run_calibration(spec, prepare=full))
    if result.kind == "ok" and escaping_paths(area, doc):
        return Outcome("unhandled", f"escaped: ran with {escaping_paths(area, doc)}")
    return result
