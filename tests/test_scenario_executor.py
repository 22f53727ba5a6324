"""The scenario executor: the same outcomes on every backend, failures kept per case, a killed worker,
resuming an interrupted sweep, and the Parquet case store."""

from __future__ import annotations

import functools
import math
import os
import random
import tempfile

import dask
import psutil
import pytest
import scenario_tasks as tasks
from distributed import Client, LocalCluster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bioprocess_twin.scenarios import executor
from bioprocess_twin.scenarios.executor import Case, CaseOutcome, CaseStore, ExecutorError, run_cases

SPEC = {"model": "emulsion_homogenizer", "factors": {"inputs.pressure": [500, 1500]}, "seed": 7}


def make_cases(n: int, shuffle: bool = False) -> list[Case]:
    cases = [Case(i, {"x": 0.5 * i - 3.0}, seed=100 + i) for i in range(n)]
    if shuffle:
        random.Random(1).shuffle(cases)
    return cases


def expected_mixed(case: Case) -> tuple[str, str, float | None]:
    if case.index % 5 == 1:
        return "failed", "CVODES: too much work before tout", None
    if case.index % 5 == 2:
        return "error", f"ValueError: bad value ü at case {case.index}", None
    return "ok", "", case.values["x"] ** 2 + (case.seed or 0)


def without_time(outcomes: list[CaseOutcome]) -> list[tuple]:
    return [(o.index, o.status, o.message, o.kpis.get("y")) for o in outcomes]


def children() -> set[int]:
    """Live child processes, without multiprocessing's resource tracker (one per test process, kept)."""
    found = psutil.Process().children(recursive=True)
    return {
        p.pid
        for p in found
        if p.status() != psutil.STATUS_ZOMBIE and not any("resource_tracker" in part for part in p.cmdline())
    }


@pytest.mark.parametrize("backend", ["sequential", "processes", "dask"])
def test_every_backend_gives_each_case_its_outcome(backend, tmp_path):
    cases = make_cases(23, shuffle=True)
    before = children()
    seen: list[tuple[int, int]] = []
    store = CaseStore(tmp_path / "sweep", SPEC)
    outcomes = run_cases(
        tasks.mixed, cases, backend=backend, workers=2, store=store, progress=lambda d, t: seen.append((d, t))
    )
    by_index = sorted(cases, key=lambda c: c.index)
    assert [o.index for o in outcomes] == list(range(23))
    for case, outcome in zip(by_index, outcomes):
        assert (outcome.status, outcome.message, outcome.kpis.get("y")) == expected_mixed(case)
        assert outcome.seconds >= 0
    assert seen[0] == (0, 23) and seen[-1] == (23, 23)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert without_time(store.outcomes()) == without_time(outcomes)
    assert children() <= before  # the pool or LocalCluster it started is gone


def test_a_failed_or_raising_case_keeps_the_rest_of_its_chunk(tmp_path):
    store = CaseStore(tmp_path, SPEC)
    outcomes = run_cases(tasks.mixed, make_cases(10), chunk_size=10, store=store)
    assert [o.status for o in outcomes] == ["ok", "failed", "error", "ok", "ok"] * 2
    assert outcomes[2].message == "ValueError: bad value ü at case 2"
    frame = store.frame()
    assert list(frame["status"]) == ["ok", "failed", "error", "ok", "ok"] * 2
    assert frame["kpi.y"].isna().tolist() == [False, True, True, False, False] * 2
    assert frame.loc[3, "kpi.y"] == pytest.approx((0.5 * 3 - 3.0) ** 2 + 103)


def test_the_store_records_each_case_values_and_seed_with_its_outcome(tmp_path):
    store = CaseStore(tmp_path, SPEC)
    cases = make_cases(6)
    run_cases(tasks.mixed, cases, chunk_size=4, store=store)
    frame = store.frame()
    assert list(frame["value.x"]) == [c.values["x"] for c in cases]
    assert list(frame["seed"]) == [c.seed for c in cases]  # the failed and raising cases too
    back = {o.index: o for o in store.outcomes()}
    assert all(back[c.index].values == c.values and back[c.index].seed == c.seed for c in cases)


def test_a_task_returning_something_else_than_an_outcome_is_an_error_of_its_case():
    outcomes = run_cases(tasks.wrong, make_cases(4))
    assert [o.status for o in outcomes] == ["error"] * 4
    assert "returned dict, not a CaseOutcome" in outcomes[0].message
    assert "outcome of case 1001 for case 1" in outcomes[1].message
    assert "status 'done'" in outcomes[2].message
    assert "KPI 'y' = 'large'" in outcomes[3].message


@pytest.mark.slow
def test_a_killed_dask_worker_loses_no_case(tmp_path):
    marker = tmp_path / "killed"
    task = functools.partial(tasks.sleepy, seconds=0.2, victim=7, marker=str(marker))
    store = CaseStore(tmp_path / "sweep", SPEC)
    before = children()
    outcomes = run_cases(task, make_cases(24), backend="dask", workers=2, chunk_size=3, store=store)
    killed = int(marker.read_text())
    assert not psutil.pid_exists(killed) or psutil.Process(killed).status() == psutil.STATUS_ZOMBIE
    assert [o.index for o in outcomes] == list(range(24))
    assert {o.status for o in outcomes} == {"ok"}
    assert outcomes[7].kpis["pid"] != killed  # case 7 ran again on another worker
    frame = store.frame()
    assert list(frame["index"]) == list(range(24))
    assert sorted(store.finished()) == list(range(24))
    assert children() <= before


def test_an_existing_dask_cluster_runs_the_sweep_and_keeps_running(tmp_path):
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            pids = set(client.run(os.getpid).values())
            clients = len(cluster.scheduler.clients)
            task = functools.partial(tasks.sleepy, seconds=0.0, victim=-1, marker=str(tmp_path / "unused"))
            outcomes = run_cases(task, make_cases(8), backend="dask", scheduler=cluster.scheduler_address)
            assert {o.status for o in outcomes} == {"ok"}
            assert {int(o.kpis["pid"] or 0) for o in outcomes} <= pids
            assert set(client.run(os.getpid).values()) == pids
            assert len(cluster.scheduler.clients) == clients


def test_a_process_that_dies_restarts_the_pool_and_loses_no_case(tmp_path):
    marker = tmp_path / "exited"
    task = functools.partial(tasks.exits_once, victim=5, marker=str(marker))
    store = CaseStore(tmp_path / "sweep", SPEC)
    outcomes = run_cases(task, make_cases(12), backend="processes", chunk_size=2, store=store)
    assert marker.exists()
    assert [(o.index, o.status) for o in outcomes] == [(i, "ok") for i in range(12)]
    assert list(store.frame()["index"]) == list(range(12))


def test_a_base_exception_of_a_task_is_an_error_of_its_case():
    outcomes = run_cases(functools.partial(tasks.aborts, victim=1), make_cases(3), chunk_size=3)
    assert [(o.status, o.message) for o in outcomes] == [
        ("ok", ""),
        ("error", "Abort: case 1 pulled the plug"),
        ("ok", ""),
    ]


@pytest.mark.parametrize("backend", ["processes", pytest.param("dask", marks=pytest.mark.slow)])
def test_a_chunk_whose_worker_fails_runs_again_case_by_case(backend, tmp_path):
    store = CaseStore(tmp_path, SPEC)
    task = functools.partial(tasks.takes_down_its_worker, victim=4)
    # Dask: the first loss of a task is final, and a worker holds one task at a time, so only case 4 is hit
    config = {"distributed.scheduler.allowed-failures": 0, "distributed.scheduler.worker-saturation": 1.0}
    with dask.config.set(config):
        outcomes = run_cases(task, make_cases(9), backend=backend, chunk_size=3, store=store)
    assert [o.status for o in outcomes] == ["ok"] * 4 + ["error"] + ["ok"] * 4
    assert outcomes[4].message.startswith("lost: its worker failed (")
    assert ("KilledWorker" if backend == "dask" else "SystemExit") in outcomes[4].message
    assert [o.kpis["y"] for o in outcomes if o.index != 4] == [0.5 * i - 3.0 for i in range(9) if i != 4]
    assert store.finished() == set(range(9)) - {4}  # a resume tries the lost case again


@pytest.mark.parametrize("backend", ["sequential", "processes", pytest.param("dask", marks=pytest.mark.slow)])
def test_an_interrupted_sweep_resumes_without_redoing_finished_cases(backend, tmp_path):
    cases = make_cases(12)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()

    def interrupt(done: int, total: int) -> None:
        if done >= 4:
            raise KeyboardInterrupt

    store = CaseStore(tmp_path / "sweep", SPEC)
    before = children()
    with pytest.raises(KeyboardInterrupt):
        run_cases(
            functools.partial(tasks.counted, folder=str(first)),
            cases,
            backend=backend,
            chunk_size=2,
            store=store,
            progress=interrupt,
        )
    assert children() <= before  # the pool or LocalCluster is closed when run_cases raises
    finished = store.finished()
    assert 4 <= len(finished) < 12
    assert finished <= set(tasks.indices_run(first))

    seen: list[int] = []
    again = CaseStore(tmp_path / "sweep", SPEC)
    outcomes = run_cases(
        functools.partial(tasks.counted, folder=str(second)),
        cases,
        backend=backend,
        chunk_size=2,
        store=again,
        progress=lambda d, t: seen.append(d),
    )
    assert tasks.indices_run(second) == sorted(set(range(12)) - finished)
    assert seen[0] == len(finished) and seen[-1] == 12
    assert [(o.index, o.status, o.kpis["y"]) for o in outcomes] == [(c.index, "ok", 2 * c.values["x"]) for c in cases]
    assert list(again.frame()["index"]) == list(range(12))


def test_the_store_refuses_a_sweep_of_another_spec(tmp_path):
    CaseStore(tmp_path, SPEC).append([CaseOutcome(0, "ok", kpis={"y": 1.0})])
    reordered = dict(reversed(list(SPEC.items())))
    assert CaseStore(tmp_path, reordered).finished() == {0}
    with pytest.raises(ExecutorError, match="another spec") as error:
        CaseStore(tmp_path, {**SPEC, "seed": 8})
    assert str(tmp_path) in str(error.value)


def test_the_store_keeps_one_outcome_per_case(tmp_path):
    store = CaseStore(tmp_path, SPEC)
    store.append([CaseOutcome(3, "ok", kpis={"y": 1.0}), CaseOutcome(1, "failed", "no")])
    store.append([CaseOutcome(3, "ok", kpis={"y": 2.0}), CaseOutcome(2, "ok", kpis={"z": 5.0})])
    assert sorted(p.name for p in tmp_path.glob("part-*")) == ["part-1-2.parquet", "part-2-1.parquet"]
    assert [(o.index, o.kpis) for o in CaseStore(tmp_path, SPEC).outcomes()] == [
        (1, {"y": None, "z": None}),
        (2, {"y": None, "z": 5.0}),
        (3, {"y": 1.0, "z": None}),
    ]


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"backend": "threads"}, "unknown backend 'threads'; the backends are sequential, processes, dask"),
        ({"backend": "dask", "scheduler": "localhost:8786"}, "malformed Dask scheduler address 'localhost:8786'"),
        ({"backend": "dask", "scheduler": "tcp://host"}, "malformed Dask scheduler address 'tcp://host'"),
        ({"backend": "dask", "scheduler": "tcp://host:99999"}, "'tcp://host:99999'"),
        ({"backend": "processes", "scheduler": "tcp://host:8786"}, "for backend 'dask', not 'processes'"),
        ({"workers": 0}, "workers must be a whole number of at least 1, got 0"),
        ({"chunk_size": 0}, "chunk_size must be"),
    ],
)
def test_bad_arguments_are_named(arguments, words):
    with pytest.raises(ExecutorError) as error:
        run_cases(tasks.mixed, make_cases(3), **arguments)
    assert words in str(error.value)


def test_bad_cases_and_unpicklable_tasks_are_named():
    with pytest.raises(ExecutorError, match="case index 1 appears twice"):
        run_cases(tasks.mixed, [Case(1, {}), Case(1, {})])
    with pytest.raises(ExecutorError, match="must be picklable"):
        run_cases(lambda case: CaseOutcome(case.index, "ok"), make_cases(2), backend="processes")


def test_an_unreachable_scheduler_is_named(monkeypatch):
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_cases(tasks.mixed, make_cases(2), backend="dask", scheduler="tcp://127.0.0.1:9")


def test_default_chunks_are_about_four_per_worker_and_at_most_256_cases():
    assert executor.default_chunk_size(100, 2) == 13
    assert executor.default_chunk_size(3, 2) == 1
    assert executor.default_chunk_size(100_000, 8) == 256


kpi_values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
outcome_lists = st.lists(
    st.builds(
        CaseOutcome,
        index=st.integers(0, 10**9),
        status=st.sampled_from(["ok", "failed", "error"]),
        message=st.text(max_size=30),
        kpis=st.fixed_dictionaries({"d50": kpi_values, "PDI µ": kpi_values, "yield %": kpi_values}),
        seconds=st.floats(0, 1e6),
    ),
    max_size=12,
    unique_by=lambda o: o.index,
)


def same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outcomes=outcome_lists, cut=st.integers(0, 12))
def test_the_store_gives_back_what_it_was_given(outcomes, cut):
    with tempfile.TemporaryDirectory() as folder:
        store = CaseStore(folder, SPEC)
        store.append(outcomes[:cut])
        store.append(outcomes[cut:])
        expected = sorted(outcomes, key=lambda o: o.index)
        back = CaseStore(folder, SPEC).outcomes()
        assert [(o.index, o.status, o.message, o.seconds) for o in back] == [
            (o.index, o.status, o.message, o.seconds) for o in expected
        ]
        for old, new in zip(expected, back):
            assert new.kpis.keys() == old.kpis.keys()
            assert all(same_number(old.kpis[name], new.kpis[name]) for name in old.kpis)
        frame = store.frame()
        assert list(frame["index"]) == [o.index for o in expected]
        assert list(frame["message"]) == [o.message for o in expected]
        for name in ("d50", "PDI µ", "yield %") if expected else ():
            column = frame["kpi." + name].tolist()
            for old, value in zip(expected, column):
                wanted = old.kpis[name]
                assert math.isnan(value) if wanted is None or math.isnan(wanted) else value == wanted
