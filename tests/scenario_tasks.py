"""Tasks for tests/test_scenario_executor.py, in a module the worker processes of a sweep can import."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

from bioprocess_twin.scenarios.executor import Case, CaseOutcome


def mixed(case: Case) -> CaseOutcome:
    """y = x^2 + seed; every fifth case (index % 5 == 1) fails, and index % 5 == 2 raises."""
    if case.index % 5 == 1:
        return CaseOutcome(case.index, "failed", "CVODES: too much work before tout", {"y": None})
    if case.index % 5 == 2:
        raise ValueError(f"bad value ü at case {case.index}")
    return CaseOutcome(case.index, "ok", kpis={"y": case.values["x"] ** 2 + (case.seed or 0)})


def counted(case: Case, folder: str) -> CaseOutcome:
    """Leave one file per run in ``folder`` (runs happen in other processes), then y = 2 x."""
    (Path(folder) / f"{case.index}-{uuid.uuid4().hex}").touch()
    return CaseOutcome(case.index, "ok", kpis={"y": 2 * case.values["x"]})


def indices_run(folder: str | Path) -> list[int]:
    """The case indices :func:`counted` ran in ``folder``, once per run."""
    return sorted(int(p.name.split("-")[0]) for p in Path(folder).iterdir())


def sleepy(case: Case, seconds: float, victim: int, marker: str) -> CaseOutcome:
    """Sleep; case ``victim`` kills its own worker process the first time it runs (``marker`` records it)."""
    time.sleep(seconds)
    if case.index == victim and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return CaseOutcome(case.index, "ok", kpis={"pid": float(os.getpid())})


def exits_once(case: Case, victim: int, marker: str) -> CaseOutcome:
    """Case ``victim`` ends its process abruptly the first time it runs."""
    if case.index == victim and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return CaseOutcome(case.index, "ok", kpis={"y": case.values["x"]})


def wrong(case: Case) -> CaseOutcome:
    """Returns what a task must not: another type, another index, a bad status or a KPI that is not a number."""
    kind = case.index % 4
    if kind == 0:
        return {"y": 1.0}  # type: ignore[return-value]
    if kind == 1:
        return CaseOutcome(case.index + 1000, "ok")
    if kind == 2:
        return CaseOutcome(case.index, "done")
    return CaseOutcome(case.index, "ok", kpis={"y": "large"})  # type: ignore[dict-item]


def empty(case: Case) -> CaseOutcome:
    """Does nothing: the executor's own overhead per case."""
    return CaseOutcome(case.index, "ok")


class Abort(BaseException):
    """Not an Exception, as some libraries raise."""


def aborts(case: Case, victim: int) -> CaseOutcome:
    """Case ``victim`` raises :class:`Abort`; the others give y = x."""
    if case.index == victim:
        raise Abort(f"case {case.index} pulled the plug")
    return CaseOutcome(case.index, "ok", kpis={"y": case.values["x"]})


def takes_down_its_worker(case: Case, victim: int) -> CaseOutcome:
    """Case ``victim`` ends its worker every time: SystemExit (a pool process sends it back) or SIGKILL (Dask)."""
    if case.index == victim:
        if _on_dask_worker():
            os.kill(os.getpid(), signal.SIGKILL)
        raise SystemExit(3)
    return CaseOutcome(case.index, "ok", kpis={"y": case.values["x"]})


def _on_dask_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True
