"""``bioprocess-twin examples [--copy DIR]``: list the shipped example files, or copy them to a folder."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app
from .common import EXIT_INVALID, dumps, version


@app.command(
    help="List the example files shipped with the package (simulation, scale-up, plan and scenario specs, "
    "demo batch records with their calibration specs), or copy them all to DIR with --copy. "
    "The copy keeps the folder layout, so the relative paths inside the specs still work; "
    "existing files are never overwritten.\n\n"
    "Exit codes: 0 ok; 2 the copy would overwrite a file, or DIR is not a folder."
)
def examples(
    copy: Path | None = typer.Option(None, "--copy", metavar="DIR", help="copy the examples into DIR"),
    as_json: bool = typer.Option(False, "--json", help="print JSON on stdout"),
):
    from ..core.resources import copy_examples, example_files, examples_dir

    if copy is None:
        names = example_files()
        if as_json:
            typer.echo(
                dumps({"examples_dir": str(examples_dir()), "files": names, "bioprocess_twin_version": version()})
            )
            return
        typer.echo(f"shipped examples in {examples_dir()}:")
        for name in names:
            typer.echo(f"  {name}")
        typer.echo("copy them with: bioprocess-twin examples --copy DIR")
        return
    try:
        copied = copy_examples(copy)
    except (FileExistsError, NotADirectoryError) as exc:
        typer.echo(f"error: --copy: {exc}", err=True)
        if as_json:
            typer.echo(
                dumps(
                    {
                        "status": "invalid",
                        "errors": [{"field": "copy", "message": str(exc)}],
                        "bioprocess_twin_version": version(),
                    }
                )
            )
        raise typer.Exit(EXIT_INVALID) from None
    names = [path.relative_to(copy.expanduser()).as_posix() for path in copied]
    if as_json:
        typer.echo(
            dumps({"status": "ok", "copied_to": str(copy), "files": names, "bioprocess_twin_version": version()})
        )
        return
    typer.echo(
        f"copied {len(names)} files to {copy}; try: bioprocess-twin simulate "
        f"{copy / 'specs' / 'emulsion_homogenizer.yaml'}"
    )
