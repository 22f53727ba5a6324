"""Scenario cases run in batches (scenarios/batch.py) give the outcomes the same cases give one by one."""

import numpy as np
import pytest
from decay_process import decay_fixture

from bioprocess_twin.scenarios import batch
from bioprocess_twin.scenarios.cases import CaseContext, ScenarioTask, noisy, sampled_values, simulate_case
from bioprocess_twin.scenarios.executor import Case, run_chunk
from bioprocess_twin.scenarios.spec import parse_scenario_spec

MODEL = "batch_decay"
registered = decay_fixture(MODEL, "1.0.0")


def cases_of(doc: dict, points: list[dict], n: int, seed: int = 3) -> tuple[ScenarioTask, list[Case]]:
    spec, base = parse_scenario_spec(doc)
    rng = np.random.default_rng(seed)
    values = []
    for point in points:
        for draws, factors in zip(sampled_values(spec, base, n, rng), noisy(spec, point, rng, n)):
            values.append(draws | factors)
    return ScenarioTask(CaseContext.of(spec, base), threads=2), [Case(i, v) for i, v in enumerate(values)]


def assert_same(task: ScenarioTask, cases: list[Case]) -> list:
    together = task.batch(cases)
    for case, got in zip(cases, together):
        alone = simulate_case(task.context, case)
        assert got.index == case.index and got.status == alone.status, (case, got.message, alone.message)
        for name, value in alone.kpis.items():
            if value is None:
                assert got.kpis[name] is None
            else:
                assert got.kpis[name] == pytest.approx(value, rel=1e-5, abs=1e-9), name
    return together


def test_decay_cases_with_free_initial_states_and_parameters():
    doc = {
        "name": "decay",
        "base": {"model": MODEL, "times": [0.0, 0.5, 1.0], "solver": {"rtol": 1e-9, "atol": 1e-11}},
        "factors": [{"path": "initial.x", "range": [0.8, 2.0]}],
        "responses": [{"kpi": "x_final", "min": 0.5}],
        "uncertainty": {
            "parameters": {"k": {"distribution": "lognormal", "median": 0.5, "gsd": 1.3}},
            "factors": {"initial.x": {"sd": 0.05}},
        },
    }
    task, cases = cases_of(doc, [{"initial.x": 1.0}, {"initial.x": 1.8}], 20)
    outcomes = assert_same(task, cases)
    for case, outcome in zip(cases, outcomes):  # x(T) = x0 exp(-k T)
        exact = case.values["initial.x"] * np.exp(-case.values["parameters.k"])
        assert outcome.kpis["x_final"] == pytest.approx(exact, rel=1e-7)


def test_a_sample_outside_its_bounds_is_an_error_in_a_batch_too():
    doc = {
        "name": "decay",
        "base": {"model": MODEL, "times": [0.0, 1.0]},
        "factors": [{"path": "initial.x", "range": [0.8, 2.0]}],
        "responses": [{"kpi": "x_final", "min": 0.5}],
        "uncertainty": {"parameters": {"k": {"distribution": "normal", "mean": 0.5, "sd": 3.0}}},  # k < 0 at times
    }
    task, cases = cases_of(doc, [{"initial.x": 1.0}], 30)
    outcomes = assert_same(task, cases)
    bad = [o for o, c in zip(outcomes, cases) if c.values["parameters.k"] < 0]
    assert bad and all(o.status == "error" and "k" in o.message for o in bad)


def test_emulsion_cases_group_by_passes_and_batch_pressure_and_constants():
    doc = {
        "name": "emulsion",
        "base": {"model": "emulsion_homogenizer", "parameters": {"n_passes": 2}, "inputs": {"pressure": "900 bar"}},
        "factors": [
            {"path": "inputs.pressure", "range": [700, 1300], "units": "bar"},
            {"path": "parameters.n_passes", "levels": [1, 2, 3], "integer": True},
        ],
        "responses": [{"kpi": "z_average_nm", "max": 200}, {"kpi": "T_max_C", "max": 40}],
        "uncertainty": {
            "parameters": {"C1": {"distribution": "lognormal", "median": 0.2, "gsd": 1.15}},
            "factors": {"inputs.pressure": {"sd": 15}},
        },
    }
    points = [
        {"inputs.pressure": 1000.0, "parameters.n_passes": 1.0},
        {"inputs.pressure": 1200.0, "parameters.n_passes": 3.0},
    ]
    task, cases = cases_of(doc, points, 6)
    built = len(batch._ENSEMBLES)
    outcomes = assert_same(task, cases)
    assert all(o.status == "ok" for o in outcomes)
    assert len(batch._ENSEMBLES) > built  # the groups ran as ensembles, not case by case
    energy = {o.kpis.get("energy_density_MJ_per_m3") for o in outcomes}
    assert energy == {None}  # the scenario keeps only its responses' KPIs


def test_run_chunk_checks_every_batched_outcome():
    class Wrong:
        def __call__(self, case):
            return simulate_case(context, case)

        def batch(self, cases):
            return [simulate_case(context, cases[0])] * len(cases)  # every outcome says it is the first case's

    spec, base = parse_scenario_spec(
        {
            "name": "decay",
            "base": {"model": MODEL, "times": [0.0, 1.0]},
            "factors": [{"path": "initial.x", "range": [0.8, 2.0]}],
            "responses": [{"kpi": "x_final", "min": 0.5}],
        }
    )
    context = CaseContext.of(spec, base)
    outcomes = run_chunk(Wrong(), [Case(0, {"initial.x": 1.0}), Case(1, {"initial.x": 1.5})])
    assert outcomes[0].status == "ok" and outcomes[1].status == "error" and "outcome of case 0" in outcomes[1].message
