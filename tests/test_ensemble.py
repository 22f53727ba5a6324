"""Ensembles (core/ensemble.py): many runs of one recipe in one CasADi call, against analytical solutions, against
``simulate`` and ``Process.kpis`` run by run, with failing and out-of-bounds samples kept apart."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bioprocess_twin import catalogue
from bioprocess_twin.core import ModelBuilder, Parameter
from bioprocess_twin.core.ensemble import ERROR, FAILED, OK, Ensemble
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.simulation import SolverOptions, simulate

TIMES = np.linspace(0.0, 1.0, 11)
TIGHT = SolverOptions(rtol=1e-10, atol=1e-12)


def blow_up_model():
    """dx/dt = k x^2 + u, x(0) = x0: with u = 0, x = x0 / (1 - k x0 t), which blows up at t = 1/(k x0)."""
    m = ModelBuilder("blow_up", version="1.0.0")
    k = m.parameter(Parameter(name="k", units="1/s", default=0.5, bounds=(0, 100)))
    x0 = m.parameter(Parameter(name="x0", units="1", default=1.0, bounds=(0.1, 10)))
    u = m.input(Parameter(name="u", units="1/s", default=0.0, bounds=(-1, 1)))
    x = m.state("x", "1", initial=x0)
    m.ode(x, k * x**2 + u)
    m.output("inverse", 1 / x, "1", "1/x")
    return m.build()


MODEL = blow_up_model()


def test_samples_match_the_analytical_solution():
    ensemble = Ensemble(MODEL, TIMES, options=TIGHT, free_parameters=["k", "x0"], threads=2)
    theta = np.array([[0.1, 1.0], [0.5, 1.0], [0.9, 0.5], [0.0, 2.0], [0.3, 3.0]])
    runs = ensemble.run(theta)
    assert runs.status == [OK] * 5
    k, x0 = theta[:, :1], theta[:, 1:]
    exact = x0 / (1 - k * x0 * TIMES[None, :])
    np.testing.assert_allclose(runs.state("x"), exact, rtol=1e-6)
    np.testing.assert_allclose(runs.output("inverse"), 1 / exact, rtol=1e-6)
    np.testing.assert_allclose(runs.parameter("k"), theta[:, 0])


def test_a_sample_that_blows_up_fails_alone():
    ensemble = Ensemble(MODEL, TIMES, options=TIGHT, free_parameters=["k"])
    theta = np.array([[0.2], [0.5], [2.0], [0.7], [5.0], [0.1]])  # k x0 >= 1: blows up before t = 1
    runs = ensemble.run(theta)
    assert runs.status == [OK, OK, FAILED, OK, FAILED, OK]
    assert all(runs.message[i] for i in (2, 4))
    ok = runs.ok
    exact = 1.0 / (1 - theta[ok] * TIMES[None, :])
    np.testing.assert_allclose(runs.state("x")[ok], exact, rtol=1e-7)
    assert np.all(np.isnan(runs.x[~ok]))


def test_a_free_input_is_constant_and_matches_simulate():
    ensemble = Ensemble(MODEL, TIMES, options=TIGHT, free_parameters=["k"], free_inputs=["u"])
    assert ensemble.names == ["k", "u"]
    theta = np.array([[0.3, 0.2], [0.1, -0.5], [0.0, 0.7]])
    runs = ensemble.run(theta)
    for i, (k, u) in enumerate(theta):
        alone = simulate(MODEL, TIMES, parameters={"k": k}, inputs={"u": u}, options=TIGHT)
        np.testing.assert_allclose(runs.x[i], alone.x, rtol=1e-8)
        np.testing.assert_allclose(runs.u[i, :, 0], u)
    exact = 1.0 + theta[2, 1] * TIMES  # k = 0: x = x0 + u t
    np.testing.assert_allclose(runs.state("x")[2], exact, rtol=1e-9)


def test_a_stepped_input_cannot_be_free():
    with pytest.raises(ParameterError, match="free_inputs.u"):
        Ensemble(MODEL, TIMES, inputs={"u": [[0.0, 0.0], [0.5, 0.3]]}, free_inputs=["u"])


def test_samples_outside_the_bounds_are_not_run_and_name_the_parameter():
    ensemble = Ensemble(MODEL, TIMES, free_parameters=["k"], free_inputs=["u"])
    runs = ensemble.run([[0.1, 0.0], [-1.0, 0.0], [0.1, 3.0], [np.nan, 0.0]])
    assert runs.status == [OK, ERROR, ERROR, ERROR]
    assert "k" in runs.message[1] and "u" in runs.message[2] and "k" in runs.message[3]


def test_a_wrong_number_of_columns_is_a_named_error():
    ensemble = Ensemble(MODEL, TIMES, free_parameters=["k"])
    with pytest.raises(ParameterError, match="theta"):
        ensemble.run(np.zeros((3, 2)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=True, allow_infinity=True, width=32),
            st.floats(allow_nan=True, allow_infinity=True, width=32),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_any_samples_get_a_status_each_and_never_raise(rows):
    ensemble = _ENSEMBLE
    runs = ensemble.run(np.array(rows, dtype=float))
    assert len(runs) == len(rows)
    for (k, u), status in zip(rows, runs.status):
        inside = 0 <= k <= 100 and -1 <= u <= 1
        assert (status == ERROR) == (not inside)
        assert status in (OK, FAILED, ERROR)
    for i in np.flatnonzero(runs.ok):
        assert np.all(np.isfinite(runs.x[i]))


_ENSEMBLE = Ensemble(MODEL, TIMES, free_parameters=["k"], free_inputs=["u"], threads=2)


@pytest.mark.parametrize(
    ("model", "given", "free", "inputs", "spread"),
    [
        ("cho_fed_batch", {}, ["mu_max", "q_p", "Y_x_glc"], ["agitation"], 0.1),
        ("emulsion_homogenizer", {"n_passes": 3}, ["C1", "Cc"], ["pressure"], 0.15),
    ],
)
def test_ensemble_runs_and_kpis_equal_runs_one_by_one(model, given, free, inputs, spread):
    process = catalogue.get(model)
    ensemble, operating = process.ensemble(parameters=given, free_parameters=free, free_inputs=inputs, threads=2)
    rng = np.random.default_rng(7)
    theta = ensemble.theta0[None, :] * np.exp(spread * rng.standard_normal((5, len(ensemble.names))))
    runs = ensemble.run(theta)
    assert runs.status == [OK] * 5
    batch = process.ensemble_kpis(runs, operating)
    for i, row in enumerate(theta):
        values = dict(zip(ensemble.names, row))
        alone = process.run(parameters=given | {n: values[n] for n in free}, inputs={n: values[n] for n in inputs})
        np.testing.assert_allclose(runs.x[i], alone.result.x, rtol=1e-4, atol=1e-8)
        for name, value in alone.kpis.items():
            if value is None:
                assert np.isnan(batch[name][i])
            else:
                assert batch[name][i] == pytest.approx(value, rel=1e-4, abs=1e-9), name


def test_an_operating_parameter_cannot_vary_within_an_ensemble():
    with pytest.raises(ParameterError, match="n_passes"):
        catalogue.get("emulsion_homogenizer").ensemble(free_parameters=["n_passes"])
