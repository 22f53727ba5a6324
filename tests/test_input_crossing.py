"""Crossing piecewise-constant input steps in one CVODES run (core.crossing) against the restarting path.

dx/dt = -k x + u with u piecewise constant has the exact solution x = u/k + (x_i - u/k) exp(-k (t - t_i))
on each interval; its derivatives are taken by central differences of that formula. The CHO model with an
hourly feed is compared path against path.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioprocess_twin import catalogue
from bioprocess_twin.calibration.batches import BatchData
from bioprocess_twin.calibration.problem import Problem
from bioprocess_twin.calibration.settings import ErrorModel, FitParameter, FitSettings
from bioprocess_twin.core import ModelBuilder, Parameter
from bioprocess_twin.core.crossing import StepOptions, block_lengths, restart_points, step_options
from bioprocess_twin.core.integration import SolverOptions, plan_run
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.trajectory import trajectory

TIGHT = SolverOptions(rtol=1e-8, atol=1e-10)


@pytest.fixture(scope="module")
def relaxation():
    m = ModelBuilder("relaxation_crossing", version="1.0.0", time_units="h")
    k = m.parameter(Parameter(name="k", units="1/h", default=0.3, bounds=(1e-3, 10)))
    u = m.input(Parameter(name="u", units="1/h", default=0.0, bounds=(0, 100)))
    x = m.state("x", "1", initial=2.0)
    m.ode(x, -k * x + u)
    return m.build()


def hourly_steps(seed: int = 1, hours: int = 40, start: int = 5) -> list[list[float]]:
    """u = 0 until ``start`` h, then a random walk around 1 with a step every hour."""
    rng = np.random.default_rng(seed)
    rate = 1.0 + np.cumsum(rng.normal(0.0, 0.03, hours - start))
    return [[0.0, 0.0]] + [[float(t), float(r)] for t, r in zip(range(start, hours), rate)]


def exact(k: float, x0: float, steps: list[list[float]], times: np.ndarray) -> np.ndarray:
    """x at ``times`` for dx/dt = -k x + u, u piecewise constant from ``steps``."""
    switch = [s[0] for s in steps] + [math.inf]
    out, x, t = [], x0, 0.0
    for target in times:
        while t < target:
            i = max(j for j, s in enumerate(switch[:-1]) if s <= t)
            end = min(switch[i + 1], target)
            u = steps[i][1]
            x = u / k + (x - u / k) * math.exp(-k * (end - t))
            t = end
        out.append(x)
    return np.array(out)


def test_restart_points_restart_at_a_start_from_zero_and_cross_small_steps(relaxation):
    steps = hourly_steps()
    plan = plan_run(relaxation, np.arange(0.0, 41.0, 4.0), {"u": steps}, None)
    cuts = restart_points(plan, 0.5)
    assert list(plan.grid[cuts]) == [0.0, 5.0, 40.0]  # the ends and the start of u from zero
    assert len(restart_points(plan, 1e-6)) == len(plan.chunks) + 1  # every step restarts


@pytest.mark.parametrize("steps", [None, {}, {"compiled": False}, {"block": 4}])
def test_trajectory_and_sensitivities_match_the_exact_solution(relaxation, steps):
    u = hourly_steps()
    times = np.arange(0.0, 41.0, 2.0)
    traj = trajectory(
        relaxation,
        times,
        inputs={"u": u},
        options=TIGHT,
        free_parameters=["k"],
        free_states=["x"],
        columns=["x"],
        steps=steps,
    )
    values, jac = traj.jacobian([0.3, 2.0])
    # measured at rtol 1e-8: restarting 1.8e-7 relative; crossing up to 2.3e-5 (the error estimate right after a
    # crossed step comes from the history before it), so crossing is held to 1e-4
    rtol = 1e-6 if steps is None else 1e-4
    np.testing.assert_allclose(values[:, 0], exact(0.3, 2.0, u, times), rtol=rtol, atol=1e-8)
    h = 1e-6
    d_k = (exact(0.3 + h, 2.0, u, times) - exact(0.3 - h, 2.0, u, times)) / (2 * h)
    d_x0 = (exact(0.3, 2.0 + h, u, times) - exact(0.3, 2.0 - h, u, times)) / (2 * h)
    np.testing.assert_allclose(jac[:, 0, 0], d_k, rtol=100 * rtol, atol=1e-6)
    np.testing.assert_allclose(jac[:, 0, 1], d_x0, rtol=100 * rtol, atol=1e-6)
    assert traj.fallbacks == 0


@pytest.fixture(scope="module")
def cho():
    return catalogue.get("cho_fed_batch").model


def cho_feed(seed: int = 3) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    rate = np.clip(2.5 + np.cumsum(rng.normal(0.0, 0.08, 72)), 0.5, 5.0)
    return [[0.0, 0.0]] + [[float(t), float(r)] for t, r in zip(range(72, 144), rate)]


def test_cho_with_an_hourly_feed_crosses_like_it_restarts(cho):
    times = np.arange(0.0, 145.0, 24.0)
    kw = dict(
        inputs={"feed_rate": cho_feed()},
        free_parameters=["mu_max", "Y_x_glc", "kd_amm"],
        columns=["vcd", "glucose_conc", "ammonia_conc", "titre"],
    )
    restarted = trajectory(cho, times, **kw)
    crossed = trajectory(cho, times, steps={}, **kw)
    v_r, j_r = restarted.jacobian()
    v_c, j_c = crossed.jacobian()
    assert crossed.fallbacks == 0
    np.testing.assert_allclose(v_c, v_r, rtol=1e-3)
    scale = np.abs(j_r).max(axis=0, keepdims=True)  # per column and parameter
    assert np.all(np.abs(j_c - j_r) <= 2e-3 * scale + 1e-12)
    np.testing.assert_allclose(crossed(), v_c, rtol=1e-12)  # values alone are the same run


def test_a_crossing_that_fails_falls_back_to_restarts(cho):
    """With restart_above = 1 the start of the feed from zero is crossed: CVODES fails there
    (CV_ERR_FAILURE), and the restarting path answers."""
    times = np.arange(0.0, 97.0, 24.0)
    kw = dict(inputs={"feed_rate": cho_feed()[:25]}, free_parameters=["mu_max"], columns=["vcd", "glucose_conc"])
    restarted = trajectory(cho, times, **kw)
    crossed = trajectory(cho, times, steps={"restart_above": 1.0}, **kw)
    values = crossed()
    assert crossed.fallbacks == 1
    np.testing.assert_array_equal(values, restarted())
    v, j = crossed.jacobian()
    assert crossed.fallbacks == 2
    np.testing.assert_array_equal(j, restarted.jacobian()[1])


@pytest.mark.parametrize(
    "given, field",
    [
        ({"input_steps": "sometimes"}, "steps.input_steps"),
        ({"restart_above": 0.0}, "steps.restart_above"),
        ({"restart_above": 1.5}, "steps.restart_above"),
        ({"block": 0}, "steps.block"),
        ({"jit": True}, "steps.jit"),
    ],
)
def test_bad_step_options_name_the_field(given, field):
    with pytest.raises(ParameterError) as err:
        step_options(given)
    assert field in str(err.value)


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0, exclude_min=True), st.just(float("nan"))))
def test_restart_above_outside_its_range_is_rejected(value):
    with pytest.raises(ParameterError, match="steps.restart_above"):
        step_options({"restart_above": value})


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 5000), st.integers(1, 1024))
def test_block_lengths_cover_the_segment_with_few_sizes(n, block):
    lengths = block_lengths(n, block)
    assert sum(lengths) == n
    assert all(1 <= size <= block for size in lengths)
    assert lengths == sorted(lengths, reverse=True)


def batches(model, n: int = 3) -> dict[str, BatchData]:
    out = {}
    for b in range(n):
        u = hourly_steps(seed=b)
        times = np.arange(2.0, 41.0, 2.0)
        clean = exact(0.3, 2.0, u, times)
        noise = 1 + 0.02 * np.random.default_rng(10 + b).standard_normal(len(times))
        obs = pd.DataFrame({"output": "x", "time": times, "value": clean * noise, "tag": "x", "source": "test"})
        out[f"B{b}"] = BatchData(
            batch=f"B{b}", observations=obs, inputs={"u": [tuple(s) for s in u]}, initial={}, phases=[], end=40.0
        )
    return out


def test_threads_and_kept_evaluations_give_the_same_numbers(relaxation):
    data = batches(relaxation)
    fit = FitSettings(parameters=[FitParameter(name="k", start=0.5)], error_models={"x": ErrorModel(kind="constant")})
    one = Problem(relaxation, data, fit, workers=1)
    two = Problem(relaxation, data, fit, workers=2)
    u = one.start()
    p1, j1 = one.predict_with_jacobian(u)
    p2, j2 = two.predict_with_jacobian(u)
    np.testing.assert_array_equal(p2, p1)
    np.testing.assert_array_equal(j2, j1)
    np.testing.assert_array_equal(np.concatenate(two.predict(u)), p2)  # kept from the Jacobian call
    p2[:] = -1.0  # callers get copies
    np.testing.assert_array_equal(two.predict_with_jacobian(u)[0], np.concatenate(two.predict(u)))


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_bad_workers_are_rejected(relaxation, workers):
    fit = FitSettings(parameters=[FitParameter(name="k")], error_models={"x": ErrorModel(kind="constant")})
    with pytest.raises(ParameterError, match="workers"):
        Problem(relaxation, batches(relaxation, 2), fit, workers=workers)


def test_step_options_default_crosses():
    assert StepOptions().input_steps == "cross"
