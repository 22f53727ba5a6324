"""``bioprocess-twin scaleup SPEC``: translate a lab-scale scenario to the target scale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .app import app
from .common import EXIT_CODES_HELP, JSON_OPTION, OUT_OPTION, outcome_result, run_and_report


@app.command(
    help="Translate the lab-scale scenario in SPEC (YAML or JSON scale-up spec) to the target scale: "
    "lab vs target table, warnings outside typical ranges and, with an oxygen demand, the "
    "NLP-sized agitation and gas flow.\n\n" + EXIT_CODES_HELP
)
def scaleup(
    spec: Path = typer.Argument(..., metavar="SPEC", help="scale-up spec file (YAML or JSON)", show_default=False),
    as_json: bool = JSON_OPTION,
    out: Path | None = OUT_OPTION,
):
    raise typer.Exit(run_scaleup(spec, as_json, out))


def run_scaleup(spec_path: Path, as_json: bool, out: Path | None) -> int:
    from ..core import ParameterError
    from ..records import kinds
    from ..scaleup import ScaleUpSpecError, load_scaleup_spec

    def work():
        return outcome_result(kinds.run("scaleup", load_scaleup_spec(spec_path)))

    return run_and_report(str(spec_path), as_json, out, work, _print_result, (ScaleUpSpecError, ParameterError))


def _print_result(doc: dict[str, Any]):
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{escape(doc.get('title') or doc['kind'])}[/bold]  criterion: {doc['criterion']}")
    console.print(escape(doc["basis"]))
    optimized = any("optimized" in r for r in doc["rows"])
    table = Table("quantity", "units", "lab", "target", "target/lab", *(["optimized"] if optimized else []))
    for r in doc["rows"]:
        cells = [escape(r["label"]), escape(r["units"]), _fmt(r["lab"]), _fmt(r["target"]), _fmt(r["ratio"])]
        if optimized:
            cells.append(_fmt(r.get("optimized")))
        table.add_row(*cells)
    console.print(table)
    design = doc.get("design")
    if design and design.get("ok"):
        console.print("aeration sizing (Pyomo + cyipopt): " + escape(design["text"]))
    for w in doc.get("warnings") or []:
        console.print(escape(f"warning: {w['message']}"))


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"
