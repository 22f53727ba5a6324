"""``bioprocess-twin line run | plan``: run a production line, plan a campaign."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .app import app
from .common import EXIT_CODES_HELP, EXIT_OK, EXIT_SOLVER, JSON_OPTION, OUT_OPTION, progress_printer, run_and_report

line_app = typer.Typer(
    help="Production lines: run a line model, plan module counts and campaigns.", no_args_is_help=True
)
app.add_typer(line_app, name="line")


@line_app.command(
    "run",
    help="Run one batch through a production line. MODEL is a shipped line name "
    "(newest version), NAME@VERSION, or a line definition file (YAML).\n\n" + EXIT_CODES_HELP,
)
def run(
    model: str = typer.Argument(..., metavar="MODEL", help="line name, NAME@VERSION or a YAML file"),
    as_json: bool = JSON_OPTION,
    out: Path | None = OUT_OPTION,
    series: bool = typer.Option(True, "--series/--no-series", help="include each unit's time series"),
):
    raise typer.Exit(run_line_command(model, as_json, out, series))


def run_line_command(model: str, as_json: bool, out: Path | None, series: bool = True) -> int:
    from ..core.parameters import ParameterError
    from ..core.spec import SpecError
    from ..line.definition import load_line
    from ..line.flowsheet import run_line

    def work():
        result = run_line(load_line(model), progress=None if as_json else progress_printer())
        return result.to_dict(include_series=series), EXIT_OK if result.ok else EXIT_SOLVER, result.message

    return run_and_report(model, as_json, out, work, _print_line, (ParameterError, SpecError))


def _print_line(doc: dict[str, Any]):
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{doc['line']}[/bold] {doc['line_version']}  status: {doc['status']}  "
        f"batch {doc['duration_h']:.1f} h" + escape(f"  ({doc['message']})" if doc["message"] else "")
    )
    table = Table("unit", "kind", "start h", "duration h", "key results")
    for uid, u in doc["units"].items():
        kpis = ", ".join(f"{k}={v:.4g}" for k, v in list(u["kpis"].items())[:4] if isinstance(v, (int, float)))
        table.add_row(uid, u["kind"], f"{u['start_h']:.1f}", f"{u['duration_h']:.2f}", escape(kpis))
    console.print(table)
    line_balance = doc["balance"]["line_kg"] or {}
    if line_balance:
        worst = max(line_balance, key=lambda c: abs(line_balance[c]))
        console.print(f"line mass balance: largest residual {line_balance[worst]:.3g} kg ({worst})")
