"""Headless command line: ``bioprocess-twin simulate | models | serve``.

A thin adapter over :mod:`bioprocess_twin.core`: it reads a spec, runs the named process and
prints JSON or a short table. It holds no science. Exit codes: 0 ok, 1 internal error,
2 bad spec or input, 3 solver failure.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

import typer

EXIT_OK, EXIT_INTERNAL, EXIT_INVALID, EXIT_SOLVER = 0, 1, 2, 3

EXIT_CODES_HELP = ("Exit codes: 0 ok; 1 unexpected internal error;\n"
                   "2 bad spec or input (missing file, invalid YAML, unknown model, field or parameter, "
                   "out-of-range value, wrong units);\n"
                   "3 solver failure (JSON still printed, with status \"failed\" and the solver message).")

app = typer.Typer(
    name="bioprocess-twin",
    help="Process digital twin for vaccine manufacturing: run simulation specs headlessly, list the "
         "models, or start the dashboard.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def version() -> str:
    try:
        return metadata.version("bioprocess-twin")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


# -- JSON helpers ------------------------------------------------------------------------------
def dumps(doc: dict[str, Any]) -> str:
    from .core.results import json_safe
    return json.dumps(json_safe(doc), indent=2, allow_nan=False)


def write_atomic(path: Path, text: str):
    """Write ``text`` to a temporary file next to ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to stdout, from Python or from C (SUNDIALS, CasADi), to stderr."""
    sys.stdout.flush()
    saved = None
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no usable file descriptors (embedded use); Python-level redirect still applies
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.__stdout__.flush()
            os.dup2(saved, 1)
            os.close(saved)


def emit(doc: dict[str, Any], as_json: bool, out: Optional[Path], text: str | None = None):
    text = text if text is not None else dumps(doc)
    if out is not None:
        write_atomic(out, text)
    if as_json:
        typer.echo(text)


def _field_name(field: str, spec) -> str:
    """Qualify a bare parameter or state name with the spec section it came from."""
    if spec is None or "." in field or field in ("model", "file", "times", "recipe", "(top level)"):
        return field
    for section in ("parameters", "initial"):
        if field in getattr(spec, section):
            return f"{section}.{field}"
    return field


def invalid(exc, source: str, as_json: bool, out: Optional[Path], spec=None) -> int:
    errors = [{"field": _field_name(str(f), spec), "message": str(m)} for f, m in exc.errors]
    for e in errors:
        typer.echo(f"error: {source}: {e['field']}: {e['message']}", err=True)
    if as_json or out is not None:
        emit({"status": "invalid", "errors": errors, "source": source,
              "bioprocess_twin_version": version()}, as_json, out)
    return EXIT_INVALID


# -- simulate ----------------------------------------------------------------------------------
@app.command(help="Run the simulation described by SPEC (YAML or JSON).\n\n" + EXIT_CODES_HELP)
def simulate(
    spec: Path = typer.Argument(..., metavar="SPEC", help="spec file (YAML or JSON)", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object on stdout and nothing else"),
    out: Optional[Path] = typer.Option(None, "--out", help="also write the JSON result to this file (atomically)"),
):
    raise typer.Exit(run_spec(spec, as_json, out))


def run_spec(spec_path: Path, as_json: bool, out: Optional[Path]) -> int:
    from .core import ParameterError, UnitsError, registry
    from .core.spec import SpecError, load_spec, spec_error_from

    source = str(spec_path)
    spec = None
    try:
        spec = load_spec(spec_path)
        registry.get(spec.model)                  # unknown model -> KeyError, before any work
        progress = None if as_json else _progress_printer()
        with stdout_to_stderr() if as_json else contextlib.nullcontext():
            run = spec.run(progress=progress)
            doc = run.to_dict() | {"spec": spec.model_dump(mode="json"), "source": source,
                                   "bioprocess_twin_version": version()}
            text = dumps(doc)
    except SpecError as exc:
        return invalid(exc, source, as_json, out)
    except KeyError as exc:
        if spec is None or spec.model in registry.names():
            return internal_error(exc, source, as_json, out)
        return invalid(spec_error_from(exc, source), source, as_json, out, spec)
    except (ParameterError, UnitsError) as exc:
        errors = exc if isinstance(exc, ParameterError) else ParameterError([("units", str(exc))])
        return invalid(spec_error_from(errors, source), source, as_json, out, spec)
    except Exception as exc:  # noqa: BLE001 - the contract is exit 1 with a message, never a bare traceback on stdout
        return internal_error(exc, source, as_json, out)

    try:
        emit(doc, as_json, out, text)
    except OSError as exc:
        typer.echo(f"error: cannot write {out}: {exc}", err=True)
        return EXIT_INTERNAL
    if not as_json:
        _print_summary(doc)
        if out is not None:
            typer.echo(f"wrote {out}", err=True)
    if run.ok:
        return EXIT_OK
    typer.echo(f"error: solver failed: {run.result.message}", err=True)
    return EXIT_SOLVER


def internal_error(exc: Exception, source: str, as_json: bool, out: Optional[Path]) -> int:
    traceback.print_exception(exc, file=sys.stderr)
    message = f"{type(exc).__name__}: {exc}"
    typer.echo(f"internal error: {message}", err=True)
    if as_json or out is not None:
        with contextlib.suppress(OSError):
            emit({"status": "error", "errors": [{"field": None, "message": message}], "source": source,
                  "bioprocess_twin_version": version()}, as_json, out)
    return EXIT_INTERNAL


def _progress_printer():
    last = [-1]

    def show(fraction: float, message: str):
        pct = int(100 * fraction)
        if pct // 10 != last[0] // 10 or pct == 100:
            last[0] = pct
            typer.echo(f"  {pct:3d}%  {message}", err=True)
    return show


def _print_summary(doc: dict[str, Any]):
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{doc['model']}[/bold] {doc['model_version']}  status: {doc['status']}"
                  + escape(f"  ({doc['message']})" if doc.get("message") else ""))
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
@app.command(help="List the registered models, or describe one: parameters with units, defaults, bounds "
                  "and sources, operating parameters, inputs, states and outputs.\n\n"
                  "Exit codes: 0 ok; 2 unknown model name.")
def models(
    name: Optional[str] = typer.Argument(None, help="show only this model"),
    as_json: bool = typer.Option(False, "--json", help="print JSON on stdout"),
    write_definitions: Optional[Path] = typer.Option(
        None, "--write-definitions", help="write each model's definition to DIR/<name>/<version>.yaml (e.g. models/)"),
):
    from .core import registry

    if write_definitions is not None:
        from .core.definitions import write_definition
        names = [name] if name is not None else registry.names()
        for n in names:
            typer.echo(str(write_definition(registry.get(n), write_definitions)))
        return
    try:
        with stdout_to_stderr():
            if name is not None:
                described = [registry.get(name).describe()]
            else:
                described = [registry.get(n).describe() for n in registry.names()]
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        if as_json:
            typer.echo(dumps({"status": "invalid", "errors": [{"field": "model", "message": exc.args[0]}]}))
        raise typer.Exit(EXIT_INVALID)
    if as_json:
        typer.echo(dumps(described[0] if name is not None else {"models": described,
                                                                 "bioprocess_twin_version": version()}))
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
    for title, rows in (("parameters", d["parameters"]), ("operating parameters", d["operating"]),
                        ("inputs", d["inputs"])):
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
@app.command(help="Start the Dash dashboard on HOST:PORT. The run database is --db, else the "
                  "BIOPROCESS_TWIN_DB environment variable, else sqlite:///<cwd>/.bpt/runs.db.")
def serve(
    demo: bool = typer.Option(True, "--demo/--no-demo", help="load the demo data"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8050, "--port", min=1, max=65535),
    db: Optional[str] = typer.Option(None, "--db", help="SQLAlchemy URL of the run database"),
):
    try:
        from dashboards.app import create_app
    except ImportError as exc:
        typer.echo(f"error: the dashboard is not available: {exc}", err=True)
        raise typer.Exit(EXIT_INTERNAL)
    dash_app = create_app(db_url=db, demo=demo)
    typer.echo(f"bioprocess-twin {version()} dashboard on http://{host}:{port}/", err=True)
    dash_app.run(host=host, port=port, debug=False)


def main():  # pragma: no cover - console-script convenience
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
