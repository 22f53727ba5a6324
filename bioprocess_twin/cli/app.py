"""The typer application every command module adds itself to."""

import typer

from .common import EXIT_CODES_HELP

app = typer.Typer(
    name="bioprocess-twin",
    help="Process digital twin for vaccine manufacturing: run simulation specs headlessly, list the "
    "models, or start the dashboard.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def limits(
    max_seconds: float | None = typer.Option(
        None,
        "--max-seconds",
        min=0.001,
        help="wall-clock limit of one run, in seconds (default 900, or $BIOPROCESS_TWIN_MAX_SECONDS)",
    ),
    max_points: int | None = typer.Option(
        None,
        "--max-points",
        min=2,
        help="most points of one output time grid (default 20000, or $BIOPROCESS_TWIN_MAX_OUTPUT_POINTS)",
    ),
):
    """Limits that apply to every command (docs/reliability.md)."""
    from ..core import limits as run_limits

    run_limits.configure(max_seconds=max_seconds, max_output_points=max_points)
