"""Limits that keep one bad or hostile spec from taking the machine: run time, output size, spec size.

Every limit has a default, an environment variable and a keyword of :func:`configure` (the CLI's
``--max-seconds`` and ``--max-points`` call it). Exceeding one is a named error: a spec too large or
an output grid too long is a :class:`~.parameters.ParameterError` on its field; a run that passes its
wall-clock limit raises :class:`WallClockLimit` (exit 3 in the CLI, like a solver failure).

The wall-clock limit interrupts a running SUNDIALS or IPOPT call: CasADi checks for Python signals
while it evaluates the model, so a timer signal (``SIGALRM``) that raises in the main thread makes
the integrator fail at once. Off the main thread, where Python delivers no signals, the limit is
checked between integration chunks and phases (:func:`check_deadline`).
"""

from __future__ import annotations

import functools
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any

from .parameters import ParameterError


@dataclass(frozen=True)
class RunLimits:
    """The limits in force; see :func:`current`."""

    max_seconds: float = 900.0  #: wall-clock time of one run (simulation, fit, plan, ...)
    max_output_points: int = 20_000  #: points of one output time grid
    max_spec_bytes: int = 1_000_000  #: size of one spec, tag map or definition file
    max_yaml_depth: int = 40  #: nesting of mappings and lists in one document
    max_yaml_nodes: int = 200_000  #: values in one document once its aliases are expanded


ENVIRONMENT = {
    "max_seconds": "BIOPROCESS_TWIN_MAX_SECONDS",
    "max_output_points": "BIOPROCESS_TWIN_MAX_OUTPUT_POINTS",
    "max_spec_bytes": "BIOPROCESS_TWIN_MAX_SPEC_BYTES",
    "max_yaml_depth": "BIOPROCESS_TWIN_MAX_YAML_DEPTH",
    "max_yaml_nodes": "BIOPROCESS_TWIN_MAX_YAML_NODES",
}
_configured: dict[str, float] = {}


def configure(**values: float | None) -> None:
    """Set limits for this process (``None`` leaves one as it is); unknown names or values <= 0 raise."""
    known = {f.name for f in fields(RunLimits)}
    errors = [(name, "unknown limit") for name in values if name not in known]
    errors += [
        (name, f"must be a positive number, got {value!r}")
        for name, value in values.items()
        if name in known and value is not None and not _positive(value)
    ]
    if errors:
        raise ParameterError(errors, "limits")
    _configured.update({k: v for k, v in values.items() if v is not None})


def reset() -> None:
    """Forget :func:`configure` (tests)."""
    _configured.clear()


def current() -> RunLimits:
    """The defaults, overridden by the environment, overridden by :func:`configure`."""
    limits = RunLimits()
    errors, values = [], {}
    for name, variable in ENVIRONMENT.items():
        text = os.environ.get(variable)
        if text is None or not text.strip():
            continue
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not _positive(value):
            errors.append((variable, f"must be a positive number, got {text!r}"))
        values[name] = value
    if errors:
        raise ParameterError(errors, "environment")
    values |= _configured
    typed: dict[str, Any] = {
        name: int(v) if isinstance(getattr(limits, name), int) else float(v) for name, v in values.items()
    }
    return replace(limits, **typed)


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def check_points(count: int, field: str) -> None:
    """Refuse an output grid longer than the limit, naming ``field``."""
    limit = current().max_output_points
    if count > limit:
        raise ParameterError(
            [(field, f"{count} output points exceed the limit of {limit} (BIOPROCESS_TWIN_MAX_OUTPUT_POINTS)")]
        )


# -- the wall-clock limit --------------------------------------------------------------------------
class WallClockLimit(RuntimeError):
    """A run went past its wall-clock limit."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(
            f"stopped at the wall-clock limit of {seconds:g} s (--max-seconds or BIOPROCESS_TWIN_MAX_SECONDS)"
        )


class _Deadline(threading.local):
    at: float | None = None
    seconds: float = 0.0
    fired: bool = False


_deadline = _Deadline()
#: after the deadline the timer keeps firing at this period, so that nothing the run tries next lasts
REPEAT_SECONDS = 0.2


def expired() -> bool:
    return _deadline.at is not None and (_deadline.fired or time.monotonic() >= _deadline.at)


def check_deadline() -> None:
    """Raise :class:`WallClockLimit` when the run in this thread has passed its limit."""
    if expired():
        raise WallClockLimit(_deadline.seconds)


def _on_alarm(signum, frame):
    _deadline.fired = True
    raise WallClockLimit(_deadline.seconds)


@contextmanager
def wall_clock_limit(seconds: float | None = None) -> Iterator[None]:
    """Run the body under the wall-clock limit (default: :func:`current`). Nested uses keep the outer one.

    Whatever the body raises after the deadline becomes :class:`WallClockLimit`, since a run
    interrupted inside CasADi surfaces as a solver error; a body that returns after the deadline
    raises it as well, because its result may have been cut short.
    """
    if _deadline.at is not None:
        yield
        return
    seconds = current().max_seconds if seconds is None else seconds
    in_main = threading.current_thread() is threading.main_thread()
    _deadline.at, _deadline.seconds, _deadline.fired = time.monotonic() + seconds, seconds, False
    previous = signal.signal(signal.SIGALRM, _on_alarm) if in_main else None
    if in_main:
        signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_SECONDS)
    try:
        try:
            yield
        except WallClockLimit:
            raise
        except Exception as exc:
            if expired():
                raise WallClockLimit(seconds) from exc
            raise
        check_deadline()
    finally:
        if in_main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
        _deadline.at, _deadline.fired = None, False


def limited(function: Callable) -> Callable:
    """Run ``function`` under the wall-clock limit: the entry points of a run (a simulation spec, a line, a
    plan, a scale-up, a calibration) are decorated, so every caller (CLI, dashboard, Python) has the limit."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        with wall_clock_limit():
            return function(*args, **kwargs)

    return run
