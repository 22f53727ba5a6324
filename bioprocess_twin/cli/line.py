"""``bioprocess-twin line run | plan``: run a production line, plan a campaign."""
from __future__ import annotations

import typer

from .app import app

line_app = typer.Typer(help="Production lines: run a line model, plan module counts and campaigns.",
                       no_args_is_help=True)
app.add_typer(line_app, name="line")
