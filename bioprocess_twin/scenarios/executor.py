"""One API that runs the independent cases of a sweep sequentially, on local processes or on Dask distributed.

``run_cases(task, cases, backend=...)`` cuts the cases into chunks; each chunk is one call on a worker,
which runs its cases one after the other (:func:`run_chunk`), so a case pays no scheduling or pickling of
its own, and the worker processes live for the whole sweep, so a task that caches its compiled model at
module level builds it once per worker. Chunks finish in any order; each finished chunk goes to the
:class:`CaseStore` at once, and a second call with the same store runs only the cases it lacks.

An exception of the task is the ``error`` outcome of its case. A chunk lost with its worker is run again:
Dask reschedules it by itself, then this module runs its cases one by one; the process pool is started
again. A case that still cannot run is an ``error`` outcome that is not stored, so a resume tries it again.
"""

from __future__ import annotations

import math
import multiprocessing
import pickle
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .store import STATUSES, Case, CaseOutcome, CaseStore, ExecutorError

__all__ = ["Case", "CaseOutcome", "CaseStore", "ExecutorError", "run_cases", "run_chunk", "default_chunk_size"]

BACKENDS = ("sequential", "processes", "dask")
CHUNKS_PER_WORKER = 4
MAX_CHUNK = 256
POOL_RESTARTS = 2
CONNECT_TIMEOUT = "20s"
SCHEDULER_ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9._-]*):(\d{1,5})")

Task = Callable[[Case], CaseOutcome]
Chunk = tuple[Case, ...]
Finish = Callable[[Sequence[CaseOutcome], bool], None]


def run_case(task: Task, case: Case) -> CaseOutcome:
    """Run one case; whatever the task raises or returns wrong becomes the case's ``error`` outcome."""
    start = time.perf_counter()
    try:
        outcome = task(case)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        return _of(case, CaseOutcome(case.index, "error", f"{type(exc).__name__}: {exc}"), time.perf_counter() - start)
    return _checked(case, outcome, time.perf_counter() - start)


def _checked(case: Case, outcome: object, seconds: float) -> CaseOutcome:
    """The task's outcome of ``case`` as the store keeps it, or an ``error`` outcome saying what is wrong with it."""
    problem = _check_outcome(outcome, case)
    if problem:
        return _of(case, CaseOutcome(case.index, "error", problem), seconds)
    assert isinstance(outcome, CaseOutcome)
    kpis = {str(name): None if value is None else float(value) for name, value in outcome.kpis.items()}
    return _of(case, CaseOutcome(case.index, outcome.status, str(outcome.message), kpis), seconds)


def _of(case: Case, outcome: CaseOutcome, seconds: float = 0.0) -> CaseOutcome:
    """``outcome`` with the wall time and the case's own values and seed, which the store records."""
    outcome.seconds, outcome.values, outcome.seed = seconds, dict(case.values), case.seed
    return outcome


def _check_outcome(outcome: object, case: Case) -> str:
    if not isinstance(outcome, CaseOutcome):
        return f"the task returned {type(outcome).__name__}, not a CaseOutcome"
    if outcome.index != case.index:
        return f"the task returned the outcome of case {outcome.index!r} for case {case.index}"
    if outcome.status not in STATUSES:
        return f"the task returned status {outcome.status!r}; a status is one of {', '.join(STATUSES)}"
    if not isinstance(outcome.kpis, dict):
        return f"the task returned KPIs as {type(outcome.kpis).__name__}, not a dict"
    for name, value in outcome.kpis.items():
        if value is None:
            continue
        try:
            if isinstance(value, (str, bytes)):
                raise TypeError
            float(value)
        except (TypeError, ValueError):
            return f"the task returned KPI {name!r} = {value!r}, which is not a number or None"
    return ""


def run_chunk(task: Task, cases: Sequence[Case]) -> list[CaseOutcome]:
    """Run the cases of one chunk in this process: all at once when the task has a ``batch(cases)`` method
    (each outcome checked as :func:`run_case` checks it), else, or when the batch raises, one after the other."""
    batch = getattr(task, "batch", None)
    if batch is None or len(cases) < 2:
        return [run_case(task, case) for case in cases]
    start = time.perf_counter()
    try:
        outcomes = list(batch(cases))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception:
        return [run_case(task, case) for case in cases]
    if len(outcomes) != len(cases):
        return [run_case(task, case) for case in cases]
    share = (time.perf_counter() - start) / len(cases)
    return [
        _checked(case, outcome, getattr(outcome, "seconds", 0.0) or share) for case, outcome in zip(cases, outcomes)
    ]


def default_chunk_size(cases: int, workers: int) -> int:
    """Cases per chunk: about four chunks per worker, at most ``MAX_CHUNK`` cases, at least one."""
    return max(1, min(MAX_CHUNK, math.ceil(cases / (CHUNKS_PER_WORKER * max(1, workers)))))


def run_cases(
    task: Task,
    cases: Sequence[Case],
    *,
    backend: str = "sequential",
    scheduler: str | None = None,
    workers: int = 2,
    chunk_size: int | None = None,
    store: CaseStore | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[CaseOutcome]:
    """Run ``task`` on every case and give every case's outcome, ordered by index.

    ``backend`` is ``"sequential"``, ``"processes"`` (a pool of ``workers`` spawned processes) or
    ``"dask"`` (a LocalCluster of ``workers`` one-thread processes, closed on return, or the existing
    cluster whose scheduler is at ``scheduler``, e.g. ``"tcp://host:8786"``, left running). Cases whose
    outcome ``store`` holds are read from it, not run; every finished chunk is appended to it at once.
    ``progress(done, total)`` is called at the start and after every chunk; ``done`` counts resumed cases.
    """
    _check_arguments(task, cases, backend, scheduler, workers, chunk_size)
    ordered = sorted(cases, key=lambda case: case.index)
    total = len(ordered)
    results: dict[int, CaseOutcome] = {}
    if store is not None:
        wanted = {case.index for case in ordered}
        if store.finished() & wanted:
            results.update((o.index, o) for o in store.outcomes() if o.index in wanted)
    pending = [case for case in ordered if case.index not in results]
    size = chunk_size or default_chunk_size(len(pending), 1 if backend == "sequential" else workers)
    chunks = [tuple(pending[i : i + size]) for i in range(0, len(pending), size)]

    def finish(outcomes: Sequence[CaseOutcome], keep: bool) -> None:
        if store is not None and keep:
            store.append(outcomes)
        results.update((outcome.index, outcome) for outcome in outcomes)
        if progress is not None:
            progress(len(results), total)

    if progress is not None:
        progress(len(results), total)
    if chunks:
        if backend == "sequential":
            for chunk in chunks:
                finish(run_chunk(task, chunk), True)
        elif backend == "processes":
            _run_processes(task, chunks, finish, workers)
        else:
            _run_dask(task, chunks, finish, workers, scheduler)
    return [results[case.index] for case in ordered]


def _check_arguments(
    task: Task, cases: Sequence[Case], backend: str, scheduler: str | None, workers: int, chunk_size: int | None
) -> None:
    if backend not in BACKENDS:
        raise ExecutorError(f"unknown backend {backend!r}; the backends are {', '.join(BACKENDS)}")
    if scheduler is not None:
        if backend != "dask":
            raise ExecutorError(f"a scheduler address is for backend 'dask', not {backend!r}")
        match = SCHEDULER_ADDRESS.fullmatch(scheduler) if isinstance(scheduler, str) else None
        if match is None or not 0 < int(match.group(3)) < 65536:
            raise ExecutorError(
                f"malformed Dask scheduler address {scheduler!r}; write it as tcp://host:port, e.g. tcp://host:8786"
            )
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ExecutorError(f"workers must be a whole number of at least 1, got {workers!r}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ExecutorError(f"chunk_size must be a whole number of at least 1 or None, got {chunk_size!r}")
    seen: set[int] = set()
    for case in cases:
        if not isinstance(case, Case):
            raise ExecutorError(f"a case must be a Case, got {type(case).__name__}")
        if isinstance(case.index, bool) or not isinstance(case.index, int) or case.index < 0:
            raise ExecutorError(f"a case index must be a whole number >= 0, got {case.index!r}")
        if case.index in seen:
            raise ExecutorError(f"case index {case.index} appears twice")
        seen.add(case.index)
    if backend != "sequential":
        try:
            pickle.dumps(task)
        except Exception as exc:
            raise ExecutorError(
                f"backend {backend!r} sends the task to other processes, so it must be picklable "
                f"(a top-level function or a functools.partial of one): {exc}"
            ) from exc


def _lost(chunk: Chunk, exc: BaseException) -> list[CaseOutcome]:
    message = f"lost: its worker failed ({type(exc).__name__}: {exc})"
    return [_of(case, CaseOutcome(case.index, "error", message)) for case in chunk]


def _split_or_lose(chunk: Chunk, exc: BaseException, submit: Callable[[Chunk], None], finish: Finish) -> None:
    """A chunk whose call failed runs again case by case, so one bad case loses only itself."""
    if len(chunk) > 1:
        for case in chunk:
            submit((case,))
    else:
        finish(_lost(chunk, exc), False)


def _run_processes(task: Task, chunks: list[Chunk], finish: Finish, workers: int) -> None:
    pending = chunks
    for attempt in range(POOL_RESTARTS + 1):
        pending, broken = _run_pool(task, pending, finish, workers)
        if not pending:
            return
        if attempt == POOL_RESTARTS:
            for chunk in pending:
                finish(_lost(chunk, broken), False)


def _run_pool(task: Task, chunks: list[Chunk], finish: Finish, workers: int) -> tuple[list[Chunk], BaseException]:
    """Run chunks on a new pool of spawned processes; give the chunks left when the pool broke, and why."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    running: dict[Future, Chunk] = {}
    left: list[Chunk] = []
    broken: BaseException = BrokenProcessPool()

    def submit(chunk: Chunk) -> None:
        try:
            running[pool.submit(run_chunk, task, chunk)] = chunk
        except BrokenProcessPool:
            left.append(chunk)

    try:
        for chunk in chunks:
            submit(chunk)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                chunk = running.pop(future)
                try:
                    outcomes = future.result()
                except BrokenProcessPool as exc:
                    broken = exc
                    left.append(chunk)
                    continue
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    _split_or_lose(chunk, exc, submit, finish)
                    continue
                finish(outcomes, True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return left, broken


def _run_dask(task: Task, chunks: list[Chunk], finish: Finish, workers: int, scheduler: str | None) -> None:
    from distributed import Client, LocalCluster, as_completed

    cluster: Any = None
    try:
        if scheduler is None:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                scheduler_kwargs={"dashboard_address": ":0"},  # no dashboard; its HTTP server on a free port
            )
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                raise ExecutorError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        try:
            owners: dict[Any, Chunk] = {}
            running = as_completed()

            def submit(chunk: Chunk) -> None:
                future = client.submit(run_chunk, task, chunk, pure=False)
                owners[future.key] = chunk
                running.add(future)

            for chunk in chunks:
                submit(chunk)
            for future in running:
                chunk = owners.pop(future.key)
                try:
                    outcomes = future.result()
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    _split_or_lose(chunk, exc, submit, finish)
                    continue
                finally:
                    future.release()
                finish(outcomes, True)
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
