"""``bioprocess-twin line plan SPEC``: module counts and a campaign schedule from a plan spec (MILP).

Exit codes: 0 a plan was found (optimal, or the best found when the time limit stopped HiGHS);
1 internal error; 2 bad spec; 3 HiGHS stopped without any plan; 4 the demand cannot be met
(the JSON carries ``infeasibility`` with the binding module type per product).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .common import JSON_OPTION, OUT_OPTION, outcome_result, run_and_report
from .line import line_app

PLAN_EXIT_HELP = (
    "Exit codes: 0 plan found (optimal, or best within the time limit); 1 internal error;\n"
    "2 bad spec (missing file, invalid YAML, unknown or out-of-range field, a line file outside the spec's "
    "folder);\n"
    "3 HiGHS stopped without a plan; 4 demand cannot be met (the report names the limiting "
    "module type)."
)


ALLOW_OUTSIDE_PATHS_OPTION = typer.Option(
    False,
    "--allow-outside-paths",
    help="let `from_line:` name line files outside the spec's own folder (absolute paths, '..'); only for a spec "
    "you trust",
)


@line_app.command(
    "plan",
    help="Choose how many modules of each type to install and a weekly campaign "
    "schedule that meets the demand in SPEC at least cost (Pyomo MILP, HiGHS).\n\n" + PLAN_EXIT_HELP,
)
def plan_command(
    spec: Path = typer.Argument(..., metavar="SPEC", help="plan spec file (YAML or JSON)", show_default=False),
    as_json: bool = JSON_OPTION,
    out: Path | None = OUT_OPTION,
    allow_outside_paths: bool = ALLOW_OUTSIDE_PATHS_OPTION,
):
    raise typer.Exit(run_plan(spec, as_json, out, allow_outside_paths))


def run_plan(spec_path: Path, as_json: bool, out: Path | None, allow_outside_paths: bool = False) -> int:
    from ..core.parameters import ParameterError
    from ..core.spec import SpecError
    from ..line.plan_spec import load_plan_spec
    from ..records import kinds

    def work():
        return outcome_result(kinds.run("plan", load_plan_spec(spec_path, allow_outside_paths=allow_outside_paths)))

    return run_and_report(str(spec_path), as_json, out, work, _print_summary, (SpecError, ParameterError))


def _print_summary(doc: dict[str, Any]):
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..core.display import format_percent

    console = Console()
    console.print(f"[bold]{escape(doc['name'])}[/bold]  status: {doc['status']}  " + escape(doc["message"]))
    if doc["status"] == "infeasible":
        table = Table(
            "product",
            "demand (doses)",
            "at most (doses)",
            "limiting module type",
            "h needed",
            "h available",
            title="infeasible demand",
        )
        for e in doc["infeasibility"]["products"]:
            table.add_row(
                e["product"],
                f"{e['demand_doses']:,.0f}",
                f"{e['max_doses']:,.0f}",
                f"{e['module_type']} (max {e['max_modules']})",
                f"{e['hours_needed']:,.0f}",
                f"{e['hours_available']:,.0f}",
            )
        console.print(table)
        return
    if doc["total_cost"] is None:
        return
    table = Table("module type", "modules", "utilisation", title="line configuration")
    for m, n in doc["modules"].items():
        table.add_row(m, str(n), format_percent(doc["utilisation"][m]))
    console.print(table)
    costs = Table("cost item", doc["currency"], title="cost over the horizon")
    for item, value in doc["cost_breakdown"].items():
        costs.add_row(item, f"{value:,.0f}")
    costs.add_row("[bold]total[/bold]", f"{doc['total_cost']:,.0f}")
    console.print(costs)
    console.print(f"batches: {doc['batches']}  changeovers: {doc['changeovers']}")
    if doc["bottleneck"]:
        console.print("bottleneck: " + escape(doc["bottleneck"]["note"]))
    s = doc["solver"]
    console.print(
        f"solver: {s['termination']}, gap {s['mip_gap']}, {s['variables']} variables, "
        f"{s['constraints']} constraints, build {s['build_s']:.2f} s, solve {s['solve_s']:.2f} s"
    )
