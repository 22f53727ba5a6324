"""Shared pieces of the command line: exit codes, JSON output, error reports, progress."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import typer

EXIT_OK, EXIT_INTERNAL, EXIT_INVALID, EXIT_SOLVER, EXIT_INFEASIBLE = 0, 1, 2, 3, 4

#: the exit code of each outcome of a run (``records.kinds``)
EXIT_OF_STATUS = {"ok": EXIT_OK, "failed": EXIT_SOLVER, "infeasible": EXIT_INFEASIBLE}


def outcome_result(outcome) -> tuple[dict[str, Any], int, str]:
    """What ``run_and_report``'s ``work()`` returns for a run's outcome."""
    return outcome.document, EXIT_OF_STATUS[outcome.status], outcome.message


EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 unexpected internal error;\n"
    "2 bad spec or input (missing file, invalid YAML, unknown model, field or parameter, "
    "out-of-range value, wrong units);\n"
    '3 solver failure or a run stopped at its wall-clock limit (JSON still printed, with status "failed" '
    "and the message)."
)


#: the --json and --out options of every command that runs a spec
JSON_OPTION = typer.Option(False, "--json", help="print one JSON object on stdout and nothing else")
OUT_OPTION = typer.Option(None, "--out", help="also write the JSON result to this file (atomically)")


def version() -> str:
    try:
        return metadata.version("bioprocess-twin")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


# -- JSON helpers ------------------------------------------------------------------------------
def dumps(doc: dict[str, Any]) -> str:
    from ..core.results import json_safe

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


def emit(doc: dict[str, Any], as_json: bool, out: Path | None, text: str | None = None):
    text = text if text is not None else dumps(doc)
    if out is not None:
        write_atomic(out, text)
    if as_json:
        typer.echo(text)


def field_name(field: str, spec) -> str:
    """Qualify a bare parameter or state name with the spec section it came from."""
    if spec is None or "." in field or field in ("model", "file", "times", "recipe", "(top level)"):
        return field
    for section in ("parameters", "initial"):
        if field in getattr(spec, section):
            return f"{section}.{field}"
    return field


def invalid(exc, source: str, as_json: bool, out: Path | None) -> int:
    errors = [{"field": str(f), "message": str(m)} for f, m in exc.errors]
    for e in errors:
        typer.echo(f"error: {source}: {e['field']}: {e['message']}", err=True)
    if as_json or out is not None:
        emit(
            {"status": "invalid", "errors": errors, "source": source, "bioprocess_twin_version": version()},
            as_json,
            out,
        )
    return EXIT_INVALID


def stopped(exc: Exception, source: str, as_json: bool, out: Path | None) -> int:
    """A run stopped by a limit: exit 3 like a solver failure, with the limit named."""
    typer.echo(f"error: {source}: {exc}", err=True)
    if as_json or out is not None:
        with contextlib.suppress(OSError):
            emit(
                {"status": "failed", "message": str(exc), "source": source, "bioprocess_twin_version": version()},
                as_json,
                out,
            )
    return EXIT_SOLVER


def internal_error(exc: Exception, source: str, as_json: bool, out: Path | None) -> int:
    traceback.print_exception(exc, file=sys.stderr)
    message = f"{type(exc).__name__}: {exc}"
    typer.echo(f"internal error: {message}", err=True)
    if as_json or out is not None:
        with contextlib.suppress(OSError):
            emit(
                {
                    "status": "error",
                    "errors": [{"field": None, "message": message}],
                    "source": source,
                    "bioprocess_twin_version": version(),
                },
                as_json,
                out,
            )
    return EXIT_INTERNAL


def progress_printer():
    from ..core.display import percent

    last = [-1]

    def show(fraction: float, message: str):
        pct = int(percent(fraction))
        if pct // 10 != last[0] // 10 or pct == 100:
            last[0] = pct
            typer.echo(f"  {pct:3d}%  {message}", err=True)

    return show


def run_and_report(
    source: str,
    as_json: bool,
    out: Path | None,
    work: Callable[[], tuple[dict[str, Any], int, str]],
    show: Callable[[dict[str, Any]], None],
    invalid_errors: tuple[type[Exception], ...],
    limit: bool = True,
) -> int:
    """The shape every command shares. ``work()`` returns the JSON document, the exit code and, for a
    non-zero code, the message; ``invalid_errors`` are the bad-input exceptions (exit 2, fields named).
    With ``--json`` nothing but the document reaches stdout (solver chatter goes to stderr). ``limit``: the
    whole work runs under the wall-clock limit (a sweep passes False: the limit applies to each of its runs)."""
    from ..core.limits import WallClockLimit, wall_clock_limit

    try:
        with (
            stdout_to_stderr() if as_json else contextlib.nullcontext(),
            wall_clock_limit() if limit else contextlib.nullcontext(),
        ):
            doc, code, failure = work()
            text = dumps(doc | {"source": source, "bioprocess_twin_version": version()})
    except WallClockLimit as exc:
        return stopped(exc, source, as_json, out)
    except invalid_errors as exc:
        return invalid(exc, source, as_json, out)
    except Exception as exc:  # noqa: BLE001 - the contract is exit 1 with a message, never a bare traceback on stdout
        return internal_error(exc, source, as_json, out)
    try:
        emit(doc, as_json, out, text)
    except OSError as exc:
        typer.echo(f"error: cannot write {out}: {exc}", err=True)
        return EXIT_INTERNAL
    if not as_json:
        show(doc)
        if out is not None:
            typer.echo(f"wrote {out}", err=True)
    if code != EXIT_OK:
        typer.echo(f"error: {failure}", err=True)
    return code
