"""Modelling kernel: analytical solutions, sensitivities, recipes, DAEs and failure reporting."""

import numpy as np
import pytest

from bioprocess_twin.core import Event, ModelBuilder, Parameter, ParameterError, Phase, Recipe, SolverOptions, simulate
from bioprocess_twin.core.model import UNBOUNDED

TIGHT = SolverOptions(rtol=1e-10, atol=1e-12)


def decay_model():
    m = ModelBuilder("decay", version="1.0", time_units="s")
    k = m.parameter(
        Parameter(name="k", units="1/s", default=0.5, bounds=(0, 100), source="test", description="rate constant")
    )
    x0 = m.parameter(Parameter(name="x0", units="mol/L", default=2.0, bounds=(0, 10)))
    u = m.input(Parameter(name="feed", units="mol/L/s", default=0.0, bounds=(-10, 10)))
    x = m.state("x", "mol/L", initial=x0)
    m.ode(x, -k * x + u)
    m.output("rate", k * x, "mol/L/s")
    return m.build()


def test_exponential_decay_matches_analytical_solution():
    model = decay_model()
    t = np.linspace(0, 4, 41)
    r = simulate(model, t, options=TIGHT)
    assert r.ok
    np.testing.assert_allclose(r.state("x"), 2.0 * np.exp(-0.5 * t), rtol=1e-8)
    np.testing.assert_allclose(r.output("rate"), 0.5 * 2.0 * np.exp(-0.5 * t), rtol=1e-8)


def test_forward_sensitivities_match_analytical_derivatives():
    model = decay_model()
    t = np.linspace(0, 4, 9)
    r = simulate(model, t, options=TIGHT, sensitivities=["k", "x0"])
    dk = r.sensitivity_frame("k")["x"].to_numpy()
    dx0 = r.sensitivity_frame("x0")["x"].to_numpy()
    np.testing.assert_allclose(dk, -t * 2.0 * np.exp(-0.5 * t), atol=1e-8)
    np.testing.assert_allclose(dx0, np.exp(-0.5 * t), rtol=1e-8)
    # output rate = k x: d/dk = x + k dx/dk
    drate = r.sensitivity_frame("k")["rate"].to_numpy()
    np.testing.assert_allclose(drate, 2 * np.exp(-0.5 * t) + 0.5 * dk, atol=1e-8)


def test_piecewise_constant_input_gives_exact_ramps():
    m = ModelBuilder("integrator", version="1.0")
    u = m.input(Parameter(name="u", units="1/s", default=0.0, bounds=(-5, 5)))
    x = m.state("x", "1", initial=0.0)
    m.ode(x, u)
    model = m.build()
    t = np.linspace(0, 3, 7)
    r = simulate(model, t, inputs={"u": [[0, 1.0], [1, 3.0], [2, -2.0]]}, options=TIGHT)
    expected = np.interp(t, [0, 1, 2, 3], [0, 1, 4, 2])
    np.testing.assert_allclose(r.state("x"), expected, atol=1e-9)
    np.testing.assert_allclose(r.frame()["u"].to_numpy(), [1, 1, 3, 3, -2, -2, -2])


def test_recipe_phases_and_events_change_inputs_and_states():
    model = decay_model()
    recipe = Recipe(
        phases=[
            Phase(name="hold", duration=2.0),
            Phase(name="feed", duration=2.0, inputs={"feed": 1.0}, add_states={"x": 1.0}),
        ],
        events=[Event(time=3.0, name="reset", set_states={"x": 0.0})],
    )
    t = recipe.time_grid(4)
    r = simulate(model, t, recipe=recipe, options=TIGHT)
    k = 0.5
    x2 = 2 * np.exp(-k * 2) + 1.0  # after the shot at t=2

    def x_at(s, xa, ta):
        return 1 / k + (xa - 1 / k) * np.exp(-k * (s - ta))  # feed = 1 from ta

    expected = np.where(t <= 2, 2 * np.exp(-k * np.minimum(t, 2)), np.where(t < 3, x_at(t, x2, 2), x_at(t, 0.0, 3)))
    expected[np.isclose(t, 2)] = x2  # values at event times are after the event
    np.testing.assert_allclose(r.state("x"), expected, rtol=1e-8, atol=1e-10)
    df = r.frame()
    assert df.loc[1.0, "phase"] == "hold" and df.loc[3.5, "phase"] == "feed"
    assert df.attrs["units"]["x"] == "mol/L" and df.attrs["units"]["time"] == "s"


def test_dae_uses_idas_and_matches_analytical_solution():
    m = ModelBuilder("dae", version="1.0")
    k = m.parameter(Parameter(name="k", units="1/s", default=2.0, bounds=(0, 10)))
    x = m.state("x", "1", initial=1.0)
    z = m.algebraic("z", "1/s", guess=0.0)
    m.ode(x, -z)
    m.alg(z - k * x)
    m.output("z_out", z, "1/s")
    model = m.build()
    t = np.linspace(0, 1, 11)
    r = simulate(model, t, options=TIGHT, sensitivities=["k"])
    assert r.stats["solver"] == "idas"
    np.testing.assert_allclose(r.state("x"), np.exp(-2 * t), rtol=1e-6)
    np.testing.assert_allclose(r.output("z_out"), 2 * np.exp(-2 * t), rtol=1e-6)
    np.testing.assert_allclose(r.sensitivity_frame("k")["x"], -t * np.exp(-2 * t), atol=1e-6)


def test_solver_failure_is_a_status_with_the_solver_message_not_nan():
    m = ModelBuilder("blowup", version="1.0")
    x = m.state("x", "1", initial=1.0)
    m.ode(x, x**2)  # x = 1/(1-t): finite-time blow-up at t = 1
    model = m.build()
    r = simulate(model, np.linspace(0, 2, 21))
    assert r.status == "failed"
    assert "CV_" in r.message and "t=" in r.message
    assert len(r.t) > 0 and r.t[-1] < 1.0
    assert np.all(np.isfinite(r.x))
    with pytest.raises(RuntimeError, match="blowup"):
        r.raise_for_status()


def test_parameter_errors_name_every_bad_field():
    model = decay_model()
    with pytest.raises(ParameterError) as info:
        simulate(model, [0, 1], parameters={"kk": 1, "x0": "3 mol", "k": 1000})
    fields = [f for f, _ in info.value.errors]
    assert fields == ["kk", "x0", "k"]
    text = str(info.value)
    assert "did you mean 'k'" in text and "cannot be converted" in text and "outside the bounds" in text
    with pytest.raises(ParameterError, match="inputs.flow"):
        simulate(model, [0, 1], inputs={"flow": 1})
    with pytest.raises(ParameterError, match="times"):
        simulate(model, [1, 0])
    with pytest.raises(ParameterError, match="inputs.feed: step 1"):
        simulate(model, [0, 1], inputs={"feed": [[0, 1.0], ["soon", 2.0]]})


def test_values_with_units_are_converted():
    model = decay_model()
    t = np.linspace(0, 2, 5)
    r = simulate(model, t, parameters={"k": "30 1/min", "x0": {"value": 2000, "units": "mmol/L"}}, options=TIGHT)
    np.testing.assert_allclose(r.state("x"), 2 * np.exp(-0.5 * t), rtol=1e-8)


def test_integrator_is_reused_across_calls():
    model = decay_model()
    simulate(model, np.linspace(0, 1, 5))
    n_cached = len(model.integrator_cache)
    simulate(model, np.linspace(0, 3, 5), parameters={"k": 1.0})
    assert len(model.integrator_cache) == n_cached


def test_solver_restarts_where_an_input_steps():
    m = ModelBuilder("lag", version="1.0")
    u = m.input(Parameter(name="u", units="1", default=0.0, bounds=(-10, 10)))
    x = m.state("x", "1", initial=0.0, bounds=UNBOUNDED)  # follows u to -5
    m.ode(x, -1e4 * (x - u))  # stiff first-order lag
    model = m.build()
    t = np.linspace(0, 2, 21)
    r = simulate(model, t, inputs={"u": [[0, 0.0], [0.5, 5.0], [1.0, -5.0]]}, options=TIGHT)
    assert r.ok and r.stats["chunks"] == 3  # one fresh CVODES start per constant-input stretch

    def decay(t_step):
        return np.exp(-1e4 * np.clip(t - t_step, 0, None))

    expected = np.where(t < 0.5, 0.0, np.where(t < 1.0, 5 * (1 - decay(0.5)), -5 + 10 * decay(1.0)))
    np.testing.assert_allclose(r.state("x"), expected, atol=1e-7)


def test_geometric_output_grid_on_a_stiff_problem_is_accurate():
    m = ModelBuilder("stiff_relax", version="1.0")
    x = m.state("x", "1", initial=0.0)
    y = m.state("y", "1", initial=0.0)
    m.ode(x, -1e5 * (x - 1.0))  # fast mode
    m.ode(y, -(y - x))  # slow mode
    model = m.build()
    t = np.concatenate([[0.0], np.geomspace(1e-7, 10.0, 60)])  # interval lengths grow 1e8-fold
    r = simulate(model, t, options=TIGHT)
    assert r.ok and r.stats["chunks"] == 1
    k = 1e5
    y_exact = 1 - (k * np.exp(-t) - np.exp(-k * t)) / (k - 1)
    np.testing.assert_allclose(r.state("x"), 1 - np.exp(-k * t), atol=1e-9)
    np.testing.assert_allclose(r.state("y"), y_exact, atol=1e-9)
