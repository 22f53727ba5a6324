"""What every page shares: the graph configuration, the error alert, the status badge, the progress reporter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

#: every dcc.Graph: offline plant networks, so no plotly logo link and no cloud "share" button
GRAPH_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "showSendToCloud": False,
    "modeBarButtonsToRemove": ["sendDataToCloud"],
}
#: status -> Bootstrap colour of its badge
STATUS_COLOURS = {"ok": "success", "optimal": "success", "time_limit": "info", "infeasible": "warning"}


def error_alert(title: str, errors: Sequence[tuple[str, str]], alert_id: str, color: str = "danger") -> dbc.Alert:
    """Errors that name their field: a title, then ``field: message`` per line."""
    return dbc.Alert(
        [html.Strong(title), html.Ul([html.Li([html.Code(f), f": {m}"]) for f, m in errors], className="mb-0 mt-1")],
        color=color,
        id=alert_id,
        className="mt-2 mb-0 small",
    )


def status_badge(status: str, badge_id: str, colours: Mapping[str, str] = STATUS_COLOURS) -> dbc.Badge:
    """The status of a result as a coloured badge (unknown statuses are red)."""
    return dbc.Badge(status, color=colours.get(status, "danger"), className="me-2", id=badge_id)


def progress_bar(bar_id: str, wrap_id: str) -> html.Div:
    """A progress bar for a background callback, hidden until it runs; its value is a fraction (0 to 1)."""
    return html.Div(
        dbc.Progress(id=bar_id, value=0, max=1, label="", striped=True, animated=True, style={"height": "1.2rem"}),
        id=wrap_id,
        className="mt-2 invisible",
    )


def progress_reporter(
    set_progress: Callable[[tuple[float, str]], None], interval: float = 0.2
) -> Callable[[float, str], None]:
    """A library ``progress(fraction, message)`` callback that updates a background callback's progress bar
    at most every ``interval`` seconds (and always at the end)."""
    last = [-float("inf")]

    def report(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= interval or fraction >= 1:
            last[0] = now
            set_progress((max(0.0, min(1.0, float(fraction))), message))

    return report


#: class of a results panel whose results are not those of the inputs in the form (greyed out by dashboard.css)
STALE_CLASS = "results-stale"


def results_class(stale: bool, base: str = "results-panel") -> str:
    """The class of a results panel: ``base``, plus :data:`STALE_CLASS` when its results are stale."""
    return f"{base} {STALE_CLASS}" if stale else base


def stale_note(
    changed: Sequence[str], invalid: Sequence[str], note_id: str, action: str = "press Run"
) -> dbc.Alert | None:
    """The note over stale results: which inputs differ from those of the results, which entries cannot be used."""
    if not changed and not invalid:
        return None
    lines = [
        html.Strong("The results below are not those of the inputs in the form. "),
        f"Changed since they were computed: {', '.join(changed)}. " if changed else "",
        f"Not valid: {', '.join(invalid)}; correct it, then {action}." if invalid else f"To update them, {action}.",
    ]
    return dbc.Alert(lines, color="secondary", id=note_id, className="stale-note small py-2 mb-2")


@dataclass
class Stopwatch:
    """Wall time of a block, measured on the server: ``seconds`` so far while it runs, the total after it."""

    start: float
    end: float | None = None

    @property
    def seconds(self) -> float:
        return (self.end if self.end is not None else time.perf_counter()) - self.start

    @property
    def text(self) -> str:
        return elapsed_text(self.seconds)


def elapsed_text(seconds: float) -> str:
    """``0.0226`` -> ``"0.023 s"``, ``70.31`` -> ``"70.3 s"``, ``312.4`` -> ``"312 s"``."""
    return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.3g} s" if seconds < 1000 else f"{seconds:.0f} s"


@contextmanager
def elapsed_progress(
    set_progress: Callable[[tuple[float, str]], None], what: str = "solving", interval: float = 0.5
) -> Iterator[Stopwatch]:
    """Time the block on the server and, while it runs, report ``"<what>… 12 s"`` to a background callback's
    progress bar every ``interval`` seconds (a solver that reports no fraction of its work still shows that it
    is working, and for how long). The block gets the :class:`Stopwatch`; after it, ``seconds`` is the total."""
    watch = Stopwatch(time.perf_counter())
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(interval):
            set_progress((1.0, f"{what}… {watch.seconds:.0f} s"))

    set_progress((1.0, f"{what}…"))
    ticker = threading.Thread(target=tick, name="elapsed-progress", daemon=True)
    ticker.start()
    try:
        yield watch
    finally:
        watch.end = time.perf_counter()
        stop.set()
        ticker.join()


def timestamp(value: Any) -> str:
    """A stored ISO date-time as ``2024-05-01 12:34:56`` (to the second)."""
    return str(value)[:19].replace("T", " ")
