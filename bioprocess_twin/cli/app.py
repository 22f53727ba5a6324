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
