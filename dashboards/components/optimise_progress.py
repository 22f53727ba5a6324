"""The Optimise page's progress bar while the optimisation runs in its background worker.

It shows the library's latest report (``policy · iteration 37 · titre 2.48 g/L · violation 3e-05``, see
``bioprocess_twin.scenarios.progress``) and the seconds so far; before the first report, ``optimising… 3 s``. Where
the library knows the share of the work done (the points of a Pareto front), that is the bar's value, the bar's
label is the share and the report goes in the line under the bar (a label inside a short bar would be cut off);
else the bar stays full with the report as its label, as on the pages whose solvers report no fraction of their
work. The bar is written every ``interval`` seconds from a timer thread, never from IPOPT's iteration callback,
so a fast solver is not slowed by the page.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from bioprocess_twin.scenarios.progress import OptimisationProgress, Progress
from dashboards.components.common import Stopwatch


def progress_label(
    report: OptimisationProgress | None, seconds: float, units: Mapping[str, str]
) -> tuple[float, str, str]:
    """(bar value, bar label, line under the bar) for the latest report (None: none yet)."""
    if report is None:
        return 1.0, f"optimising… {seconds:.0f} s", ""
    text = f"{report.text(units.get(report.objective_name, ''))} · {seconds:.0f} s"
    if report.done is None:
        return 1.0, text, ""
    done = max(0.0, min(1.0, report.done))
    return done, f"{100 * done:.0f} %", text


@contextmanager
def optimisation_progress(
    set_progress: Callable[[tuple[float, str, str]], None], units: Mapping[str, str], interval: float = 0.5
) -> Iterator[tuple[Stopwatch, Progress]]:
    """Time the block and keep the bar up to date (see the module docstring). The block gets the stopwatch and the
    ``progress`` callable to give the library; after it, the stopwatch holds the total time."""
    watch = Stopwatch(time.perf_counter())
    latest: list[OptimisationProgress | None] = [None]
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(interval):
            set_progress(progress_label(latest[0], watch.seconds, units))

    def report(p: OptimisationProgress) -> None:
        latest[0] = p

    set_progress(progress_label(None, 0.0, units))
    ticker = threading.Thread(target=tick, name="optimise-progress", daemon=True)
    ticker.start()
    try:
        yield watch, report
    finally:
        watch.end = time.perf_counter()
        stop.set()
        ticker.join()
