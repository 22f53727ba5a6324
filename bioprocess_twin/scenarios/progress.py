"""Progress of an optimisation: one report per IPOPT iteration, and one as each part of the work ends.

The optimisations (:func:`.policy.optimize_policy`, :func:`.design.optimize_design`, :func:`.optimize.design_front`,
:func:`.optimize.run_optimization`) take an optional ``progress`` callable and call it with an
:class:`OptimisationProgress`:

- at every IPOPT iteration, iteration 0 (the starting point) included, so one solve of n iterations gives n + 1
  reports (IPOPT repeats the iteration where its restoration phase starts); the objective is in the problem's own
  sense and units (IPOPT minimises the negated objective of a maximisation; the reports undo that);
- when the work has parts (the points of a Pareto front, the combinations of the enumerated factors of a design),
  once more as each part ends, with its result's ``status`` and ``done`` = the share of the parts finished.

``done`` is None where no honest fraction exists (a single IPOPT solve: its iteration limit is no measure of the
work left). A progress callable that raises stops the run: IPOPT is asked to stop at that iteration and the
exception propagates to the caller unchanged (there is no partial result).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..core.display import format_value


@dataclass(frozen=True)
class OptimisationProgress:
    """One report. ``infeasibility``: for a policy, the largest violation of the NLP's constraint rows computed
    from their values and bounds (continuity gaps as shares of the node states' scales, path and final rows as
    shares of their bounds); for a design, IPOPT's own ``inf_pr``. In a part's closing report it is the part's
    result: the largest violation of a policy's constraints, the total of a design combination's, each relative
    to its bound (at least 1)."""

    stage: str  # "policy", "quasi-Newton warm-up", "ε 1.2 (2 of 3) · policy", "combination 2 of 4 (stages=3)", ...
    iteration: int  # IPOPT's; the solves of one policy or one design combination count on from each other
    objective: float  # the objective's value in its own sense and units (NaN where none)
    infeasibility: float
    done: float | None = None  # share of the parts finished, where the work has parts
    objective_name: str = ""
    status: str = ""  # "" while IPOPT iterates; the part's status ("optimal", ...) in its closing report

    def text(self, units: str = "") -> str:
        """``policy · iteration 37 · titre 2.48 g/L · violation 3e-05`` (``units``: the objective's, for display);
        a closing report ends with its status."""
        name = self.objective_name or "objective"
        value = f"{name} {format_value(self.objective, 4)}" + (f" {units}" if units else "")
        parts = [self.stage, f"iteration {self.iteration}", value, f"violation {format_value(self.infeasibility, 1)}"]
        return " · ".join([p for p in parts if p] + ([self.status] if self.status else []))


Progress = Callable[[OptimisationProgress], None]


class Relay:
    """Passes reports to ``progress`` and keeps the first exception it raises; the solver is then asked to stop
    (``__call__`` returns False) and :meth:`reraise`, called after the solve, raises it."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.error: BaseException | None = None

    def __call__(self, report: OptimisationProgress) -> bool:
        if self.error is not None:
            return False
        if self.progress is None:
            return True
        try:
            self.progress(report)
        except BaseException as exc:  # noqa: BLE001 - kept and raised after the solver has stopped
            self.error = exc
            return False
        return True

    def reraise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def part(progress: Progress | None, label: str, index: int, count: int) -> Progress | None:
    """``progress`` as seen by part ``index`` (from 0) of ``count``: its stage prefixed by ``label``, its ``done``
    (its own share, None read as 0) mapped into [index / count, (index + 1) / count]."""
    if progress is None:
        return None

    def report(p: OptimisationProgress) -> None:
        stage = f"{label} · {p.stage}" if p.stage else label
        progress(replace(p, stage=stage, done=(index + (p.done or 0.0)) / count))

    return report


def close_part(
    progress: Progress | None,
    label: str,
    index: int,
    count: int,
    status: str,
    iterations: int,
    objective: float | None,
    violation: float,
    name: str,
) -> None:
    """The report that ends part ``index`` of ``count``: its result, with ``done`` = (index + 1) / count."""
    if progress is not None:
        value = math.nan if objective is None else float(objective)
        progress(OptimisationProgress(label, iterations, value, violation, (index + 1) / count, name, status))
