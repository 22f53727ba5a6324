"""``bioprocess-twin optimize SPEC``: the best time-varying policy of a process model (multiple shooting, IPOPT),
or its ε-constraint Pareto front; or, for a scenario spec with ``analysis: optimize``, the best static design over
its factors (or its front).

Exit codes: 0 optimal; 1 internal error; 2 bad spec; 3 the solver stopped without an optimum; 4 the
constraints cannot be met together (the JSON names them).

While IPOPT runs, a live line on stderr (a terminal's) shows the stage, the iteration, the objective and the
constraint violation (``--quiet`` hides it); the JSON is the same either way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from .app import app
from .common import EXIT_OK, EXIT_SOLVER, JSON_OPTION, OUT_OPTION, run_and_report

EXIT_INFEASIBLE = 4
OPTIMIZE_EXIT_HELP = (
    "Exit codes: 0 optimal; 1 internal error; 2 bad spec (a field, model, control or constraint named); "
    "3 the solver stopped without an optimum; 4 the constraints cannot be met together (the JSON names them)."
)


@app.command(
    help="Find the piecewise-constant policy of the controls in SPEC (YAML or JSON optimisation spec) that "
    "maximises or minimises a state or output at the end of the horizon under path and final bounds, by "
    "multiple shooting with CVODES and IPOPT; with `pareto:` the ε-constraint front of two objectives. The "
    "result gives the optimum, the policy, each constraint's activity and price, and IPOPT's status. A scenario "
    "spec with `analysis: optimize` (it has `base:`) gives instead the factor values that optimise a KPI under its "
    "responses' limits: continuous factors by IPOPT with CVODES sensitivities, the others enumerated. While "
    "IPOPT runs, a live line on stderr shows the stage, the iteration, the objective and the constraint violation "
    "(on a terminal; --quiet hides it).\n\n" + OPTIMIZE_EXIT_HELP
)
def optimize(
    spec: Path = typer.Argument(
        ..., metavar="SPEC", help="optimisation or scenario spec file (YAML or JSON)", show_default=False
    ),
    as_json: bool = JSON_OPTION,
    out: Path | None = OUT_OPTION,
    quiet: bool = typer.Option(
        False, "--quiet", "-q", "--no-progress", help="no live progress line (iteration, objective) on stderr"
    ),
):
    raise typer.Exit(run_optimize(spec, as_json, out, not quiet))


def run_optimize(spec_path: Path, as_json: bool, out: Path | None, progress: bool = True) -> int:
    from ..core import ParameterError
    from ..core.spec import SpecError
    from ..scenarios.optimize import load_optimization_spec, run_optimization

    def work():
        spec = load_optimization_spec(spec_path)
        with _progress_line(progress) as report:
            doc = run_optimization(spec, report)
        code = {"optimal": EXIT_OK, "infeasible": EXIT_INFEASIBLE}.get(doc["status"], EXIT_SOLVER)
        return doc, code, doc.get("message") or doc["status"]

    return run_and_report(str(spec_path), as_json, out, work, _print_result, (SpecError, ParameterError))


@contextlib.contextmanager
def _progress_line(shown: bool) -> Iterator[Any]:
    """A rich progress line on stderr (drawn on a terminal only, and gone when the run ends), updated by the
    optimisation's reports: their text, and a bar where the share of the work done is known."""
    if not shown:
        yield None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(bar_width=20), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as line:
        task = line.add_task("optimising", total=None)

        def report(p) -> None:
            total = None if p.done is None else 1.0
            line.update(task, description=escape(p.text()), completed=p.done or 0.0, total=total)

        yield report


def _print_result(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    console.print(f"[bold]{escape(doc['model'])}[/bold] {doc['model_version']}  {doc['kind']}  status: {doc['status']}")
    if doc["kind"] == "design":
        _print_design(console, doc)
    elif doc["kind"] == "design_pareto":
        units = doc["kpi_units"]
        first, second = doc["objective"]["kpi"], doc["second"]["kpi"]
        console.print(f"{escape(first)} {escape('[' + units.get(first, '') + ']')} against {escape(second)}")
        for p in doc["points"]:
            shown = ", ".join(f"{escape(k)} {v:.6g}" for k, v in (p["factors"] or {}).items())
            value = "-" if p["first"] is None else f"{p['first']:.6g}"
            console.print(f"ε {p['epsilon']:g}: {value} ({p['status']}; {shown}; price {p['price']:.4g})")
    elif doc["kind"] == "policy":
        console.print(f"objective {doc['objective']:.6g}  ({doc['solver_status']}, {doc['iterations']} iterations)")
        for name, values in doc["controls"].items():
            console.print(f"{escape(name)}: " + ", ".join(f"{v:.4g}" for v in values))
        for c in doc["constraints"]:
            if c["active_at"]:
                console.print(
                    f"active: {c['kind']} {escape(c['name'])} {c['side']} {c['bound']:g} at {len(c['active_at'])} "
                    f"point(s), price {c['multiplier']:.4g}"
                )
    else:
        for p in doc["points"]:
            console.print(f"ε {p['epsilon']:g}: {p['first']:.6g} with {p['second']:.6g} (price {p['price']:.4g})")
    if doc.get("message"):
        console.print(escape(doc["message"]))


def _print_design(console, doc: dict[str, Any]) -> None:
    from rich.markup import escape

    units = doc["kpi_units"]
    if doc["status"] != "optimal":
        console.print("least-infeasible point:" if doc["status"] == "infeasible" else "no optimum")
    elif doc["objective"] is not None:
        kpi = doc["objective_kpi"]
        console.print(
            f"{escape(kpi)} ({doc['sense']}): {doc['objective']:.6g} {escape(units.get(kpi, ''))}"
            f"  ({doc['solver_status']}, {doc['iterations']} iterations)"
        )
    for path, value in (doc["factors"] or {}).items():
        console.print(f"  {escape(path)} = {value:.6g} {escape(doc['factor_units'].get(path, ''))}")
    for c in doc["constraints"] or []:
        if c["active"] and doc["status"] == "optimal":
            console.print(
                f"active: {escape(c['name'])} {c['side']} {c['bound']:g} {escape(c['units'])}, "
                f"price {c['multiplier']:.4g} {escape(c['price_units'])}"
            )
    for row in doc["combinations"]:
        if row["levels"]:
            levels = ", ".join(f"{escape(k)}={v:g}" for k, v in row["levels"].items())
            shown = f"{row['objective']:.6g}" if row["status"] == "optimal" else escape(row["message"])
            console.print(f"  {levels}: {row['status']} {shown}")
