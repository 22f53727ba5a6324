"""``bioprocess-twin calibrate SPEC``: fit a model to batch records and report how well it fits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .app import app
from .common import EXIT_CODES_HELP, EXIT_OK, EXIT_SOLVER, JSON_OPTION, OUT_OPTION, progress_printer, run_and_report

ALLOW_MODEL_CODE_OPTION = typer.Option(
    False,
    "--allow-model-code",
    help="run the Python file named by `model_file:` (trusted input: only for a spec and code you trust)",
)
ALLOW_OUTSIDE_PATHS_OPTION = typer.Option(
    False,
    "--allow-outside-paths",
    help="let the spec's `data:` and `model_file:` name files outside its own folder (absolute paths, '..'); "
    "only for a spec you trust",
)


@app.command(
    help="Calibrate the model named in SPEC (YAML or JSON calibration spec) against its batch records: "
    "estimates with 95 % intervals, identifiability, fit and held-out validation metrics, and "
    "with `save:` a new calibrated model version in the user models folder. Data problems in the batches used "
    "exit 2 with the file, row and column. The spec's files must lie in its folder and `model_file:` (Python "
    "code) is refused unless you pass the options below for a spec you trust.\n\n" + EXIT_CODES_HELP
)
def calibrate(
    spec: Path = typer.Argument(..., metavar="SPEC", help="calibration spec file (YAML or JSON)", show_default=False),
    as_json: bool = JSON_OPTION,
    out: Path | None = OUT_OPTION,
    allow_model_code: bool = ALLOW_MODEL_CODE_OPTION,
    allow_outside_paths: bool = ALLOW_OUTSIDE_PATHS_OPTION,
):
    raise typer.Exit(run_calibration(spec, as_json, out, allow_model_code, allow_outside_paths))


def run_calibration(
    spec_path: Path, as_json: bool, out: Path | None, allow_model_code: bool = False, allow_outside_paths: bool = False
) -> int:
    from ..calibration.run import calibrate as run
    from ..calibration.spec import load_calibration_spec
    from ..core import ParameterError
    from ..core.spec import SpecError

    opt_ins = {"allow_model_code": allow_model_code, "allow_outside_paths": allow_outside_paths}

    def work():
        spec, base = load_calibration_spec(spec_path, **opt_ins)
        result = run(spec, base, progress=None if as_json else progress_printer(), **opt_ins)
        doc = result.to_dict(include_points=True)
        if result.status == "ok":
            return doc, EXIT_OK, ""
        return doc, EXIT_SOLVER, f"estimation failed: {doc['message']}"

    return run_and_report(str(spec_path), as_json, out, work, _print_summary, (SpecError, ParameterError))


def _print_summary(doc: dict[str, Any]):
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    fit = doc["fit"]
    console.print(
        f"[bold]{escape(doc['name'])}[/bold]  model {doc['model']} {doc['model_version']}  "
        f"status: {doc['status']}  -2 log L {fit['neg2_log_likelihood']:.6g}  AIC {fit['aic']:.6g}  "
        f"({fit['observations']} observations, {fit['unknowns']} unknowns)"
    )
    table = Table("unknown", "estimate", "units", "std. error", "95 % interval", title="estimates")
    for r in doc["estimates"]:
        table.add_row(
            escape(r["label"]),
            f"{r['value']:.5g}",
            escape(r["units"]),
            f"{r['se']:.3g}",
            f"[{r['ci_low']:.4g}, {r['ci_high']:.4g}]",
        )
    console.print(table)
    metrics = Table("output", "n", "RMSE", "NRMSE", title="fit (all batches)")
    for m in doc["fit"]["metrics"]:
        if m["batch"] == "all":
            metrics.add_row(escape(m["output"]), str(m["n"]), f"{m['rmse']:.4g}", f"{m['nrmse']:.3g}")
    console.print(metrics)
    if doc["validation"]:
        val = Table(
            "output",
            "n",
            "RMSE",
            "naive RMSE",
            "skill",
            title="held-out batches " + ", ".join(doc["validation"]["batches"]),
        )
        for v in doc["validation"]["per_output"]:
            val.add_row(
                escape(v["output"]), str(v["n"]), f"{v['rmse']:.4g}", f"{v['naive_rmse']:.4g}", f"{v['skill']:.2f}"
            )
        console.print(val)
    ident = doc["identifiability"]["after"]
    console.print(
        f"identifiability: rank {ident['rank']} of {ident['unknowns']}, "
        f"condition number {ident['condition_number']:.3g}"
    )
    for w in doc["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")
    if doc["saved"]:
        console.print(f"saved: {escape(doc['saved'])}")
