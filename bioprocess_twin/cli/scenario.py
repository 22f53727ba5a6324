"""``bioprocess-twin scenario SPEC``: a design space, a Monte Carlo P(spec) or a global sensitivity analysis.

Exit codes: 0 ok; 1 internal error; 2 bad spec; 3 no estimate (every case failed, or a sensitivity run
failed). Cases run sequentially, on local processes or on Dask (``--backend dask``: a LocalCluster, or the
cluster at ``--scheduler``); with ``--store DIR`` results stream to Parquet and a rerun resumes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import typer

from .app import app
from .common import EXIT_CODES_HELP, JSON_OPTION, OUT_OPTION, outcome_result, run_and_report


@app.command(
    help="Run the scenario in SPEC (YAML or JSON scenario spec): the probability of meeting every "
    "specification over a grid of factors (design space and proven acceptable ranges), at the set point "
    "(Monte Carlo), or Sobol/Morris sensitivity indices, as the spec's `analysis` says. A progress bar "
    "shows on stderr.\n\n" + EXIT_CODES_HELP + " Exit 3 here: no estimate could be made (every case "
    "failed, or a sensitivity run failed)."
)
def scenario(
    spec: Path = typer.Argument(..., metavar="SPEC", help="scenario spec file (YAML or JSON)", show_default=False),
    as_json: bool = JSON_OPTION,
    out: Path | None = OUT_OPTION,
    backend: str = typer.Option("sequential", "--backend", help="sequential, processes or dask"),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="with --backend dask: a running scheduler (tcp://host:8786); else a LocalCluster"
    ),
    workers: int = typer.Option(2, "--workers", min=1, max=256, help="worker processes (processes, LocalCluster)"),
    store: Path | None = typer.Option(
        None, "--store", help="folder the case results stream to (Parquet); a rerun resumes the finished cases"
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar on stderr"),
):
    raise typer.Exit(run_scenario_command(spec, as_json, out, backend, scheduler, workers, store, progress))


def run_scenario_command(
    spec_path: Path,
    as_json: bool,
    out: Path | None,
    backend: str = "sequential",
    scheduler: str | None = None,
    workers: int = 2,
    store: Path | None = None,
    progress: bool = True,
) -> int:
    from ..core import ParameterError
    from ..core.spec import SpecError
    from ..records import kinds
    from ..scenarios import Execution, load_scenario_spec

    def work():
        spec, base = load_scenario_spec(spec_path)
        with _progress_bar(progress, spec.name) as report:
            execution = Execution(backend, scheduler, workers, store, report)
            try:
                return outcome_result(kinds.run("scenario", (spec, base), execution=execution))
            except SpecError as exc:
                if exc.source != "execution":
                    raise
                raise SpecError(str(spec_path), [("--backend/--scheduler/--store", m) for _, m in exc.errors]) from None

    return run_and_report(str(spec_path), as_json, out, work, _print_result, (SpecError, ParameterError), limit=False)


@contextlib.contextmanager
def _progress_bar(shown: bool, name: str):
    """A rich progress bar on stderr, advanced by the executor's (done, total) reports."""
    if not shown:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(f"{name}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(name, total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield report


def _print_result(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{escape(doc['name'])}[/bold]  {doc['analysis']}  status: {doc['status']}")
    console.print("specifications: " + escape("; ".join(doc["responses"])))
    if doc["analysis"] == "design_space":
        table = Table(*doc["factors"], "P(in spec)", "95 % interval", "failed")
        for p in doc["points"]:
            prob = p["probability"]
            table.add_row(
                *(f"{p['values'][f]:.4g}" for f in doc["factors"]),
                f"{prob['p']:.3f}",
                f"[{prob['low']:.3f}, {prob['high']:.3f}]",
                str(p["failed"]),
            )
        console.print(table)
        for factor, par in doc["par"].items():
            shown = f"[{par[0]:.4g}, {par[1]:.4g}]" if par else "none (the set point is below the target)"
            console.print(f"PAR of {escape(factor)} at P >= {doc['target']:g}: {shown}")
    elif doc["analysis"] == "monte_carlo":
        prob = doc["point"]["probability"]
        console.print(
            f"P(in spec) = {prob['p']:.3f}  95 % interval [{prob['low']:.3f}, {prob['high']:.3f}]  "
            f"({prob['k']} of {prob['n']}; {doc['point']['failed']} failed)"
        )
    else:
        for kpi, indices in doc["indices"].items():
            table = Table("input", *indices, title=escape(kpi))
            for i, name in enumerate(doc["inputs"]):
                table.add_row(escape(name), *(f"{indices[k][i]:.3g}" for k in indices))
            console.print(table)
