"""Headless command line: ``bioprocess-twin simulate | models | serve | ...``.

A thin adapter over the library: each command module reads a spec, calls the same core
functions as the dashboard and prints JSON or a short table. It holds no science. Exit codes:
0 ok, 1 internal error, 2 bad spec or input, 3 solver failure (a scenario: no estimate), 4 infeasible plan
or policy (line plan, optimize).
"""

from . import calibrate, commands, examples, line, line_plan, optimize, scaleup, scenario  # noqa: F401  (each registers its commands on the app)
from .app import app
from .common import EXIT_INTERNAL, EXIT_INVALID, EXIT_OK, EXIT_SOLVER

__all__ = ["app", "EXIT_OK", "EXIT_INTERNAL", "EXIT_INVALID", "EXIT_SOLVER"]


def main():  # pragma: no cover - console-script convenience
    app()
