"""The feed profile of the shipped CHO example (examples/optimisation/cho_feed_policy.yaml), and what
``optimize_policy`` does to solve it: scaled NLP variables and rows, and states the problem does not need left out
of the NLP (docs/optimisation.md, "CHO feed profile").

The CHO test solves the shipped problem on 10 intervals instead of 20 to stay fast. Its checks do not use the
optimiser's own answers as the reference: a constant feed of the same volume, an independent simulation of the
policy by the core, conservation of the fed volume, and the envelope theorem for the price of V <= V_max.
"""

import numpy as np
import pytest

from bioprocess_twin import catalogue
from bioprocess_twin.core import ModelBuilder, Parameter, Phase, Recipe, SolverOptions, simulate
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.scenarios.optimize import load_optimization_spec, run_optimization
from bioprocess_twin.scenarios.policy import PolicyProblem, optimize_policy

DO_TOLERANCE = 1e-4  # % air saturation: IPOPT meets a scaled row to its tolerance


@pytest.fixture(scope="module")
def spec():
    return load_optimization_spec(example_path("optimisation", "cho_feed_policy.yaml")).model_copy(
        update={"intervals": 10}
    )


@pytest.fixture(scope="module")
def solved(spec):
    return run_optimization(spec)


def constraint(doc, kind, name):
    return next(c for c in doc["constraints"] if c["kind"] == kind and c["name"] == name)


def core_run(spec, inputs, recipe=None):
    model = catalogue.get(spec.model).model
    times = np.linspace(0.0, spec.horizon, spec.intervals + 1)
    run = simulate(model, times, inputs=inputs, recipe=recipe, options=SolverOptions(rtol=spec.rtol, atol=spec.atol))
    assert run.ok, run.message
    return run


@pytest.mark.slow
def test_the_optimum_is_reported_with_its_status_iterations_and_prices(solved):
    assert solved["status"] == "optimal" and solved["solver_status"] == "Solve_Succeeded", solved["message"]
    assert solved["iterations"] > 0 and solved["seconds"] > 0
    assert {(c["kind"], c["name"], c["side"]) for c in solved["constraints"]} == {
        ("path", "DO", "min"),
        ("final", "V", "max"),
        ("control", "feed_rate", "min"),
        ("control", "feed_rate", "max"),
    }
    for c in solved["constraints"]:  # a price only where the bound is active, and never against the objective
        assert c["multiplier"] >= 0.0 and (c["multiplier"] == 0.0 or c["active_at"])
    do = constraint(solved, "path", "DO")
    assert do["active_at"] and do["multiplier"] > 0  # the O2 the vessel transfers caps the cells


@pytest.mark.slow
def test_the_optimum_beats_a_constant_feed_of_the_same_volume(spec, solved):
    feed = np.array(solved["controls"]["feed_rate"])
    constant = core_run(spec, spec.inputs | {"feed_rate": float(feed.mean())})
    assert constant.state("V")[-1] == pytest.approx(solved["states"]["V"][-1], rel=1e-6)  # the same feed volume
    assert solved["objective"] > 1.05 * constant.output("titre")[-1]


@pytest.mark.slow
def test_do_holds_at_every_boundary_in_an_independent_simulation(spec, solved):
    assert min(solved["states"]["DO"]) >= 30.0 - DO_TOLERANCE
    phases = [
        Phase(name=f"interval {k + 1}", duration=spec.horizon / spec.intervals, inputs={"feed_rate": v})
        for k, v in enumerate(solved["controls"]["feed_rate"])
    ]
    run = core_run(spec, spec.inputs, Recipe(phases=phases))
    # the two integrations differ by their tolerances (rtol 1e-6) over two weeks of growth
    assert run.state("DO") == pytest.approx(solved["states"]["DO"], rel=1e-4, abs=0.01)
    assert run.output("titre")[-1] == pytest.approx(solved["objective"], rel=1e-5)
    assert min(run.state("DO")) >= 30.0 - 0.01


@pytest.mark.slow
def test_states_outside_the_nlp_are_reported_consistently(solved):
    """fed_volume and the cumulative amounts do not feed back: they are computed after the solve, from the nodes."""
    states = solved["states"]
    assert states["fed_volume"][-1] == pytest.approx(states["V"][-1] - states["V"][0], rel=1e-5)  # to rtol
    assert states["gen_antigen"][-1] == pytest.approx(states["antigen"][-1], rel=1e-5)  # no antigen in the feed
    assert all(np.isfinite(v).all() for v in states.values())


@pytest.mark.slow
def test_the_price_of_the_volume_limit_is_the_slope_of_the_optimum(spec, solved):
    """Envelope theorem: relaxing V <= V_max by δ gains the integral of the price over [V_max, V_max + δ]; the gain
    per litre lies between the two end prices (the optimum is concave in V_max here) or both are 0 when inactive."""
    volume = constraint(solved, "final", "V")
    V_max = spec.final[0].max
    assert solved["states"]["V"][-1] <= V_max * (1 + 1e-6)
    if not volume["active_at"]:
        assert volume["multiplier"] == 0.0 and solved["states"]["V"][-1] < V_max
        return
    assert solved["states"]["V"][-1] == pytest.approx(V_max, rel=1e-6) and volume["multiplier"] > 0
    delta = 0.01
    wider = spec.model_copy(update={"final": [spec.final[0].model_copy(update={"max": V_max + delta})]})
    process = catalogue.get(spec.model)
    problem = PolicyProblem.model_validate(wider.model_dump(exclude={"model", "version", "pareto"}))
    relaxed = optimize_policy(process.model, problem, start=solved["controls"])
    assert relaxed.status == "optimal"
    price = next(c.multiplier for c in relaxed.constraints if c.kind == "final")
    slope = (relaxed.objective - solved["objective"]) / delta
    assert price <= slope <= volume["multiplier"]


# -- what the CHO problem relies on, on problems with known answers -------------------------------------------------
def tank_model():
    """V' = k u from V0, with k = 1e6 (a badly scaled state), and an integral W' = V the objective does not need."""
    m = ModelBuilder("scaled_tank", version="1.0.0", time_units="h")
    k = m.parameter(Parameter(name="k", units="1", default=1e6, bounds=(0, 1e9)))
    u = m.inputs(Parameter(name="u", units="L/h", default=0.0, bounds=(0, 10)))["u"]
    V = m.state("V", "L", initial=1.0)
    W = m.state("W", "L*h", initial=0.0)
    m.ode(V, k * u)
    m.ode(W, V)
    m.output("V_out", V, "L")
    return m.build()


def test_prices_come_back_in_the_problems_units_when_the_nlp_is_scaled():
    """Maximise V(2) <= 5e5 with V' = 1e6 u: one litre more of the bound gives one litre more, whatever the scales."""
    problem = PolicyProblem(
        horizon=2.0,
        intervals=4,
        controls={"u": {"min": 0.0, "max": 1.0, "initial": 0.01}},
        objective={"name": "V"},
        final=[{"name": "V_out", "max": 5e5}],
    )
    result = optimize_policy(tank_model(), problem)
    assert result.status == "optimal" and result.objective == pytest.approx(5e5, rel=1e-7)
    (final,) = [c for c in result.constraints if c.kind == "final"]
    assert final.active_at == [2.0] and final.multiplier == pytest.approx(1.0, rel=1e-4)


def test_a_state_left_out_of_the_nlp_still_follows_the_policy():
    """W = ∫V dt is not needed for V(2): it is integrated after the solve, and matches the closed form."""
    problem = PolicyProblem(
        horizon=2.0,
        intervals=4,
        controls={"u": {"min": 0.0, "max": 1e-6, "initial": 5e-7}},
        objective={"name": "V"},
        final=[{"name": "V_out", "max": 2.0}],
    )
    result = optimize_policy(tank_model(), problem)
    assert result.status == "optimal" and result.objective == pytest.approx(2.0, rel=1e-7)
    times, V, W = result.times, np.array(result.states["V"]), np.array(result.states["W"])
    exact = np.concatenate([[0.0], np.cumsum((V[:-1] + V[1:]) / 2 * np.diff(times))])  # V is linear on each interval
    assert W == pytest.approx(exact, rel=1e-6, abs=1e-9)
