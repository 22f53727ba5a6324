"""What every page shares: the graph configuration, the error alert, the status badge, the progress reporter."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
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


def timestamp(value: Any) -> str:
    """A stored ISO date-time as ``2024-05-01 12:34:56`` (to the second)."""
    return str(value)[:19].replace("T", " ")
