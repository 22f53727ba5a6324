"""Every kind of run, one way: a spec document in, a result document and an outcome out.

The command line, the HTTP API and the dashboard take the same spec objects and call the same library
functions. :data:`KINDS` names each kind of run and holds how its spec document is read and
how it runs:

- ``parse(doc, source, root)`` validates a spec document that may come from anyone (an HTTP body): it
  runs no code and reads nothing outside ``root``, the folder the caller allows data files in (a
  calibration's batch records, a scenario's base spec file). Lines are named, never read from a path.
- ``run(spec, progress, execution)`` runs it and gives an :class:`Outcome`: the result document and its
  status, ``ok``, ``failed`` (a solver failure) or ``infeasible`` (an optimisation or plan that cannot
  meet its constraints). Adapters map these to exit codes 0, 3 and 4 and to HTTP statuses.

Bad input raises :class:`~bioprocess_twin.core.spec.SpecError` naming the field (exit 2, HTTP 422).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import catalogue
from ..calibration.run import calibrate
from ..calibration.spec import parse_calibration_spec, spec_paths
from ..core.parameters import ParameterError
from ..core.spec import SpecError, parse_spec
from ..core.units import UnitsError
from ..line.definition import load_line, parse_line
from ..line.plan_spec import is_line_file, parse_plan_spec
from ..line.planning import plan
from ..scaleup import ScaleUpSpecError, parse_scaleup_spec, translate
from ..scenarios import Execution, ExecutorError, parse_scenario_spec, run_scenario
from ..scenarios.optimize import parse_optimization_spec, run_optimization

OK, FAILED, INFEASIBLE = "ok", "failed", "infeasible"
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Outcome:
    """A finished run: its result document, ``ok``/``failed``/``infeasible``, and why when not ok."""

    kind: str
    status: str
    document: dict[str, Any]
    message: str = ""


@dataclass(frozen=True)
class RunKind:
    name: str
    description: str
    parse: Callable[[Any, str, Path | None], Any]
    run: Callable[..., Outcome]


def _mapping(doc: Any, source: str, expected: str) -> dict[str, Any]:
    if not isinstance(doc, Mapping):
        raise SpecError(source, [("(top level)", f"expected a mapping with {expected}")])
    return dict(doc)


# -- simulation -------------------------------------------------------------------------------------------------------
def _parse_simulation(doc: Any, source: str, root: Path | None):
    spec = parse_spec(_mapping(doc, source, "model and its values"), source)
    try:
        catalogue.get(spec.model)
    except KeyError as exc:
        raise SpecError(source, [("model", exc.args[0])]) from None
    return spec


def _run_simulation(spec, progress: Progress | None = None, execution: Execution | None = None) -> Outcome:
    try:
        run = catalogue.run_spec(spec, progress=progress)
    except ParameterError as exc:
        raise SpecError("spec", [(_qualified(str(f), spec), str(m)) for f, m in exc.errors]) from None
    except UnitsError as exc:
        raise SpecError("spec", [("units", str(exc))]) from None
    doc = run.to_dict() | {"spec": spec.model_dump(mode="json")}
    return Outcome(
        "simulation", OK if run.ok else FAILED, doc, "" if run.ok else f"solver failed: {run.result.message}"
    )


def _qualified(name: str, spec) -> str:
    """A bare parameter or state name, qualified with the spec section it came from."""
    if "." in name or name in ("model", "file", "times", "recipe", "(top level)"):
        return name
    for section in ("parameters", "initial"):
        if name in getattr(spec, section):
            return f"{section}.{name}"
    return name


# -- production line --------------------------------------------------------------------------------------------------
def _parse_line(doc: Any, source: str, root: Path | None):
    """``{line: NAME[@VERSION]}`` for a line in the models folders, or a whole line definition."""
    data = _mapping(doc, source, "'line' (a line name) or a line definition")
    if set(data) == {"line"}:
        ref = data["line"]
        if not isinstance(ref, str) or is_line_file(ref):
            raise SpecError(source, [("line", "give a line name or name@version; files are not read from a spec")])
        try:
            return load_line(ref)
        except ParameterError as exc:
            raise SpecError(source, exc.errors) from None
    try:
        return parse_line(data, source)
    except ParameterError as exc:
        raise SpecError(source, exc.errors) from None


def _run_line(definition, progress: Progress | None = None, execution: Execution | None = None) -> Outcome:
    from ..line.flowsheet import run_line

    result = run_line(definition, progress=progress)
    return Outcome("line", OK if result.ok else FAILED, result.to_dict(include_series=True), result.message)


# -- scale-up ---------------------------------------------------------------------------------------------------------
def _parse_scaleup(doc: Any, source: str, root: Path | None):
    try:
        return parse_scaleup_spec(_mapping(doc, source, "kind and the lab and target scales"), source)
    except (ScaleUpSpecError, ParameterError) as exc:
        raise SpecError(source, exc.errors) from None


def _run_scaleup(spec, progress: Progress | None = None, execution: Execution | None = None) -> Outcome:
    doc = {"status": OK, **translate(spec).to_dict()}
    design = doc.get("design")
    if design is not None and design.get("status") == "error":
        return Outcome("scaleup", FAILED, doc, f"aeration sizing failed: {design.get('message')}")
    return Outcome("scaleup", OK, doc)


# -- plan -------------------------------------------------------------------------------------------------------------
def _parse_plan(doc: Any, source: str, root: Path | None):
    return parse_plan_spec(_mapping(doc, source, "module_types and products"), source, None)  # line names only


def _run_plan(spec, progress: Progress | None = None, execution: Execution | None = None) -> Outcome:
    result = plan(spec)
    doc = result.to_dict() | {"spec": result.spec.model_dump(mode="json")}
    status = OK if result.ok else (INFEASIBLE if result.status == "infeasible" else FAILED)
    return Outcome("plan", status, doc, "" if result.ok else result.message)


# -- calibration ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CalibrationRequest:
    spec: Any
    root: Path


def _parse_calibration(doc: Any, source: str, root: Path | None):
    spec = parse_calibration_spec(_mapping(doc, source, "model, data and parameters"), source)
    if root is None:
        raise SpecError(source, [("data", "batch records are read only from a data folder, and none is set here")])
    try:
        spec_paths(spec, root)  # no model code, nothing outside root
    except ParameterError as exc:
        raise SpecError(source, exc.errors) from None
    return CalibrationRequest(spec, root)


def _run_calibration(request, progress: Progress | None = None, execution: Execution | None = None) -> Outcome:
    result = calibrate(request.spec, request.root, progress=progress)
    doc = result.to_dict(include_points=True)
    ok = result.status == "ok"
    return Outcome("calibration", OK if ok else FAILED, doc, "" if ok else f"estimation failed: {doc['message']}")


# -- scenario ---------------------------------------------------------------------------------------------------------
def _parse_scenario(doc: Any, source: str, root: Path | None):
    spec, base = parse_scenario_spec(_mapping(doc, source, "'base' and 'responses'"), source, root)
    if spec.analysis == "optimize":
        raise SpecError(source, [("analysis", "an 'optimize' scenario is an optimisation: submit it as one")])
    return spec, base


def _run_scenario(parsed, progress: Progress | None = None, execution: Execution | None = None) -> Outcome:
    spec, base = parsed
    try:
        result = run_scenario(spec, base, execution)
    except ExecutorError as exc:
        raise SpecError("execution", [("backend/scheduler/store", str(exc))]) from None
    return Outcome("scenario", OK if result.status == "ok" else FAILED, result.to_dict(), result.message)


# -- optimisation -----------------------------------------------------------------------------------------------------
def _parse_optimisation(doc: Any, source: str, root: Path | None):
    return parse_optimization_spec(_mapping(doc, source, "model, horizon, controls and objective"), source, root)


def _run_optimisation(spec, progress: Progress | None = None, execution: Execution | None = None) -> Outcome:
    doc = run_optimization(spec)
    status = {"optimal": OK, "infeasible": INFEASIBLE}.get(doc["status"], FAILED)
    return Outcome("optimisation", status, doc, "" if status == OK else doc.get("message") or doc["status"])


KINDS: dict[str, RunKind] = {
    k.name: k
    for k in (
        RunKind("simulation", "one process model run", _parse_simulation, _run_simulation),
        RunKind("line", "a production line run unit by unit", _parse_line, _run_line),
        RunKind("scaleup", "a scale translation", _parse_scaleup, _run_scaleup),
        RunKind("plan", "module counts and a campaign schedule (MILP)", _parse_plan, _run_plan),
        RunKind("calibration", "parameter estimation from batch records", _parse_calibration, _run_calibration),
        RunKind("scenario", "a design space, Monte Carlo or sensitivity analysis", _parse_scenario, _run_scenario),
        RunKind("optimisation", "a policy, static design or Pareto front", _parse_optimisation, _run_optimisation),
    )
}


def kind(name: str) -> RunKind:
    """The run kind ``name``; SpecError naming ``kind`` for an unknown one."""
    try:
        return KINDS[name]
    except KeyError:
        raise SpecError("request", [("kind", f"unknown kind '{name[:40]}'; known: {', '.join(KINDS)}")]) from None


def parse(name: str, doc: Any, source: str = "spec", root: Path | None = None) -> Any:
    """The spec of a run of kind ``name`` from a document anyone may have written (see the module docstring)."""
    return kind(name).parse(doc, source, root)


def run(name: str, spec: Any, progress: Progress | None = None, execution: Execution | None = None) -> Outcome:
    """Run a parsed spec of kind ``name``."""
    return kind(name).run(spec, progress=progress, execution=execution)
