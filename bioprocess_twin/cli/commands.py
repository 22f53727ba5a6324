"""``simulate``, ``models`` and ``serve``: run a spec, describe the models, start the dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .app import app
from .common import (
    EXIT_CODES_HELP,
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_SOLVER,
    JSON_OPTION,
    OUT_OPTION,
    dumps,
    field_name,
    progress_printer,
    run_and_report,
    stdout_to_stderr,
    version,
)


# -- simulate ----------------------------------------------------------------------------------
@app.command(help="Run the simulation described by SPEC (YAML or JSON).\n\n" + EXIT_CODES_HELP)
def simulate(
    spec: Path = typer.Argument(..., metavar="SPEC", help="spec file (YAML or JSON)", show_default=False),
    as_json: bool = JSON_OPTION,
    out: Path | None = OUT_OPTION,
):
    raise typer.Exit(simulate_spec_file(spec, as_json, out))


def simulate_spec_file(spec_path: Path, as_json: bool, out: Path | None) -> int:
    from .. import catalogue
    from ..core import ParameterError, UnitsError
    from ..core.spec import SpecError, load_spec

    source = str(spec_path)

    def bad(spec, errors) -> SpecError:
        return SpecError(source, [(field_name(str(f), spec), str(m)) for f, m in errors])

    def work():
        spec = load_spec(spec_path)
        try:
            catalogue.get(spec.model)  # unknown model: a bad spec, before any work
        except KeyError as exc:
            raise bad(spec, [("model", exc.args[0])]) from None
        try:
            run = catalogue.run_spec(spec, progress=None if as_json else progress_printer())
        except ParameterError as exc:
            raise bad(spec, exc.errors) from None
        except UnitsError as exc:
            raise bad(spec, [("units", str(exc))]) from None
        doc = run.to_dict() | {"spec": spec.model_dump(mode="json")}
        return doc, EXIT_OK if run.ok else EXIT_SOLVER, f"solver failed: {run.result.message}"

    return run_and_report(source, as_json, out, work, _print_summary, (SpecError,))


def _print_summary(doc: dict[str, Any]):
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{doc['model']}[/bold] {doc['model_version']}  status: {doc['status']}"
        + escape(f"  ({doc['message']})" if doc.get("message") else "")
    )
    for w in doc.get("warnings") or []:
        console.print(escape(f"warning: {w}"))
    kpis = doc.get("kpis") or {}
    if kpis:
        table = Table("KPI", "value")
        for name, value in kpis.items():
            table.add_row(name, f"{value:.6g}" if isinstance(value, (int, float)) else "-")
        console.print(table)
    elif doc["status"] == "ok":
        console.print("(this model reports no KPIs; use --json for the full series)")


# -- models ------------------------------------------------------------------------------------
@app.command(
    help="List the registered models, or describe one: parameters with units, defaults, bounds "
    "and sources, operating parameters, inputs, states and outputs, and the versions a spec "
    "can run (the code's and its calibrated sets).\n\n"
    "Exit codes: 0 ok; 2 unknown model name."
)
def models(
    name: str | None = typer.Argument(None, help="show only this model"),
    as_json: bool = typer.Option(False, "--json", help="print JSON on stdout"),
    write_definitions: Path | None = typer.Option(
        None,
        "--write-definitions",
        help="write each model's definition to DIR/<name>/<version>.yaml (developers: bioprocess_twin/models)",
    ),
):
    from .. import catalogue

    if write_definitions is not None:
        from ..core.definitions import write_definition

        names = [name] if name is not None else catalogue.names()
        for n in names:
            typer.echo(str(write_definition(catalogue.get(n), write_definitions)))
        return
    try:
        with stdout_to_stderr():
            if name is not None:
                from ..core.definitions import model_versions

                process = catalogue.get(name)
                described = [process.describe() | {"versions": model_versions(process)}]
            else:
                described = [catalogue.get(n).describe() for n in catalogue.names()]
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        if as_json:
            typer.echo(dumps({"status": "invalid", "errors": [{"field": "model", "message": exc.args[0]}]}))
        raise typer.Exit(EXIT_INVALID) from None
    if as_json:
        typer.echo(
            dumps(described[0] if name is not None else {"models": described, "bioprocess_twin_version": version()})
        )
        return
    _print_models(described, detail=name is not None)


def _bounds(b) -> str:
    lo, hi = b
    return f"[{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]"


def _print_models(described: list[dict[str, Any]], detail: bool):
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if not described:
        console.print("no models registered")
        return
    if not detail:
        table = Table("model", "version", "description")
        for d in described:
            table.add_row(d["name"], d["version"], escape(d["description"]))
        console.print(table)
        console.print("`bioprocess-twin models NAME` shows one model's parameters.")
        return
    d = described[0]
    console.print(f"[bold]{d['name']}[/bold] {d['version']}  (time in {d['time_units']})")
    console.print(escape(d["description"]))
    console.print("versions: " + escape(", ".join(d["versions"])) + "  (run one with `version:` in the spec)")
    for title, rows in (
        ("parameters", d["parameters"]),
        ("operating parameters", d["operating"]),
        ("inputs", d["inputs"]),
    ):
        if not rows:
            continue
        table = Table(title=title)
        for col in ("name", "units", "default", "bounds"):
            table.add_column(col, no_wrap=True)
        table.add_column("description [source]")
        for p in rows:
            text = p["description"] + (f" [{p['source']}]" if p["source"] else "")
            table.add_row(p["name"], p["units"], f"{p['default']:g}", _bounds(p["bounds"]), escape(text))
        console.print(table)
    for title in ("states", "algebraics", "outputs"):
        if d.get(title):
            table = Table(title=title)
            for col in ("name", "units", "size"):
                table.add_column(col, no_wrap=True)
            table.add_column("description")
            for v in d[title]:
                table.add_row(v["name"], v["units"], str(v["size"]), escape(v["description"]))
            console.print(table)


# -- serve -------------------------------------------------------------------------------------
@app.command(
    help="Start the Dash dashboard on HOST:PORT (uvicorn; Ctrl-C stops it). The run database is --db, else "
    "the BIOPROCESS_TWIN_DB environment variable, else sqlite:///<cwd>/.bpt/runs.db. Exit code 2 when "
    "HOST:PORT cannot be used."
)
def serve(
    demo: bool = typer.Option(True, "--demo/--no-demo", help="load the demo data"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8050, "--port", min=1, max=65535),
    db: str | None = typer.Option(None, "--db", help="SQLAlchemy URL of the run database"),
):
    try:
        from dashboards.app import create_app
        from dashboards.server import ServeError, bind
        from dashboards.server import serve as serve_app
    except ImportError as exc:
        typer.echo(f"error: the dashboard is not available: {exc}", err=True)
        raise typer.Exit(EXIT_INTERNAL) from None
    try:
        sock = bind(host, port)  # before the app is built: a taken port fails at once
    except ServeError as exc:
        typer.echo(f"error: --host/--port: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    dash_app = create_app(db_url=db, demo=demo)

    def announce(url: str) -> None:
        typer.echo(f"bioprocess-twin {version()} dashboard on {url} (Ctrl-C stops it)", err=True)

    serve_app(dash_app, host=host, port=port, announce=announce, sock=sock)
    typer.echo("dashboard stopped", err=True)
