"""States have physical bounds (non-negative amounts, temperatures above absolute zero). Initial values and
recipe set/add actions are checked where they enter; a solution that leaves its bounds beyond the solver
tolerance, or KPIs that are NaN or infinite, make the run fail with the reason, never report ok."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioprocess_twin import catalogue
from bioprocess_twin.core import Event, ModelBuilder, Parameter, ParameterError, Phase, Recipe, simulate
from bioprocess_twin.core.model import BOUND_TOLERANCES, UNBOUNDED
from bioprocess_twin.core.process import Process
from bioprocess_twin.core.simulation import SolverOptions


def drain(rate_units: str = "g/h") -> object:
    """x drains at a constant rate: dx/dt = -r, so x crosses zero at t = x0 / r (1 h at the defaults)."""
    m = ModelBuilder("drain", version="1", time_units="h")
    r = m.parameter(Parameter(name="r", units=rate_units, default=1.0, bounds=(0, 10)))
    x = m.state("x", "g", initial=1.0)
    net = m.state("net", "g", initial=0.0, bounds=UNBOUNDED)
    m.ode(x, -r)
    m.ode(net, -r)
    return m.build()


def test_default_bounds_follow_the_units():
    model = catalogue.get("emulsion_homogenizer").model
    assert model.bounds_of("T") == (0.0, math.inf)  # K
    assert model.bounds_of("T_C") == (-273.15, math.inf)  # an output in degC
    assert model.bounds_of("y") == (0.0, math.inf)
    assert model.bounds_of("pressure") == catalogue.get("emulsion_homogenizer").model.inputs["pressure"].bounds
    cho = catalogue.get("cho_fed_batch").model
    assert cho.bounds_of("glucose") == (0.0, math.inf)
    assert cho.bounds_of("gen_glucose") == UNBOUNDED  # consumed glucose is a negative amount formed
    with pytest.raises(KeyError):
        cho.bounds_of("nothing")


def test_negative_biomass_is_refused_where_it_enters():
    with pytest.raises(ParameterError) as info:
        catalogue.get("microbial_fed_batch").run(initial={"X": -1})
    assert info.value.errors == [("X", "X = -1 g is below its lower bound 0 g")]


def test_initial_values_take_units():
    run = catalogue.get("microbial_fed_batch").run(initial={"X": "500 mg"}, times=[0, 1])
    assert run.result.state("X")[0] == pytest.approx(0.5)


def test_a_negative_initial_solid_is_refused():
    process = catalogue.get("alum_alooh")
    with pytest.raises(ParameterError, match="solid"):
        process.run(initial={"solid": -1e-3})


def test_a_temperature_below_absolute_zero_is_refused_in_a_recipe():
    process = catalogue.get("emulsion_homogenizer")
    recipe = Recipe(phases=[Phase(name="p1", duration=1.0, set_states={"T": -294.15})])
    with pytest.raises(ParameterError) as info:
        process.run(recipe=recipe)
    field, message = info.value.errors[0]
    assert "set_states.T" in field and "physical bounds" in message


def test_an_addition_that_empties_a_state_below_zero_fails_the_run_with_the_reason():
    recipe = Recipe(events=[Event(time=0.5, name="sample", add_states={"x": -0.8})])
    result = simulate(drain(), np.linspace(0, 0.9, 10), recipe=recipe)
    assert result.status == "failed"
    assert (
        "after the state changes of sample at t=0.5 h" in result.message and "below its lower bound" in result.message
    )
    assert result.t[-1] <= 0.5


def test_a_solution_that_leaves_its_bounds_fails_and_one_that_stays_is_ok():
    model = drain()
    ok = simulate(model, np.linspace(0, 0.99, 12))
    assert ok.ok and ok.state("x")[-1] == pytest.approx(0.01)
    assert ok.state("net")[-1] == pytest.approx(-0.99)  # declared unbounded: no failure
    gone = simulate(model, np.linspace(0, 2, 12))
    assert gone.status == "failed"
    assert "a state left its physical bounds at t=1.09091 h" in gone.message and gone.message.count("x =") == 1


def test_round_off_below_a_bound_within_the_solver_tolerance_is_not_a_failure():
    model = drain()
    options = SolverOptions()
    tiny = -0.5 * BOUND_TOLERANCES * options.atol
    result = simulate(model, [0, 0.1], initial={"x": tiny, "net": 0.0}, parameters={"r": 0.0}, options=options)
    assert result.ok


class NaNKPI(Process):
    name = "nan_kpi_test"
    description = "a process whose KPI is not finite"

    def build(self):
        return drain()

    def kpis(self, result, operating):
        return {"finite": 1.0, "ratio": float("nan"), "big": float("inf")}


def test_kpis_that_are_not_finite_fail_the_run():
    run = NaNKPI().run(times=[0, 0.5])
    assert not run.ok and run.result.status == "failed"
    assert run.result.message == "KPIs not finite (no physical result): ratio, big"


@settings(max_examples=60, deadline=None)
@given(
    x0=st.floats(-1e6, 1e6, allow_nan=False),
    removed=st.floats(-10, 10, allow_nan=False),
)
def test_any_start_and_removal_is_refused_failed_or_physical(x0, removed):
    """Whatever the start and the removal, the outcome is a named refusal, a failed run, or a solution
    that stays within its bounds (to the tolerance)."""
    model = drain()
    recipe = Recipe(events=[Event(time=0.2, name="take", add_states={"x": -removed})])
    try:
        result = simulate(model, np.linspace(0, 0.5, 6), initial={"x": x0}, recipe=recipe)
    except ParameterError as exc:
        assert exc.errors and x0 < 0
        return
    if result.ok:
        margin = model.bound_margin(result.x, 1e-8, 1e-6)
        assert np.all(result.state("x") >= -margin[0])
    else:
        assert "bound" in result.message
