"""Phases with timed and conditional transitions, against closed-form crossing times."""

import math

import numpy as np
import pytest

from bioprocess_twin.core import ModelBuilder, Parameter, ParameterError, SolverOptions
from bioprocess_twin.core.phased import run_phases
from bioprocess_twin.core.recipe import Phase, Transition


@pytest.fixture(scope="module")
def tank():
    """A tank drained at a set flow F and fed at a set flow Fin; a tracer decays at rate k."""
    m = ModelBuilder("tank", "1.0", time_units="h")
    k = m.parameter(Parameter(name="k", units="1/h", default=0.5, bounds=(0, 10)))
    F = m.input(Parameter(name="F", units="m^3/h", default=0.0, bounds=(0, 10)))
    Fin = m.input(Parameter(name="Fin", units="m^3/h", default=0.0, bounds=(0, 10)))
    V = m.state("V", "m^3", initial=1.0)
    c = m.state("c", "kg", initial=2.0)
    m.ode(V, Fin - F)
    m.ode(c, -k * c)
    m.output("level", V / 2, "m")
    return m.build()


def test_condition_ends_phase_at_the_exact_crossing(tank):
    phases = [
        Phase(
            name="drain", duration=20, inputs={"F": 0.1}, until=Transition(variable="V", op="<=", value=0.3), points=7
        ),
        Phase(name="decay", duration=2.0, until=Transition(variable="c", op="<", value=0.03), points=5),
    ]
    out = run_phases(tank, phases, options=SolverOptions(rtol=1e-10, atol=1e-12))
    assert out.ok
    drain, decay = out.phases
    assert drain.ended_by == "condition" and decay.ended_by == "condition"
    assert drain.end == pytest.approx(7.0, abs=1e-8)  # 1 - 0.1 t = 0.3
    t_c = math.log(2 / 0.03) / 0.5  # 2 exp(-0.5 t) = 0.03
    assert decay.end == pytest.approx(t_c, abs=1e-8)
    assert np.interp(drain.end, out.result.t, out.result.state("V")) == pytest.approx(0.3, abs=1e-9)
    # inputs carry over: F stays 0.1 in the second phase, so V keeps falling
    assert out.final_state()["V"] == pytest.approx(0.3 - 0.1 * (t_c - 7.0), abs=1e-6)
    assert list(out.result.frame()["phase"].unique()) == ["drain", "decay"]


def test_condition_on_an_output_and_strict_ops(tank):
    out = run_phases(
        tank,
        [Phase(name="fill", duration=10, inputs={"Fin": 0.2}, until=Transition(variable="level", op=">", value=1.0))],
    )
    assert out.phases[0].end == pytest.approx(5.0, abs=1e-7)  # (1 + 0.2 t)/2 = 1


def test_timed_phases_with_state_changes_and_right_continuous_join(tank):
    phases = [
        Phase(name="hold", duration=1.0, points=4),
        Phase(name="shot", duration=1.0, add_states={"c": 3.0}, points=4),
        Phase(name="reset", duration=1.0, set_states={"V": 2.0}, points=4),
    ]
    out = run_phases(tank, phases, parameters={"k": 0.0})
    t = out.result.t
    assert np.all(np.diff(t) > 0) and t[-1] == pytest.approx(3.0)
    c, V = out.result.state("c"), out.result.state("V")
    assert c[0] == 2.0 and c[-1] == pytest.approx(5.0) and V[-1] == pytest.approx(2.0)
    assert out.result.frame().loc[1.0, "phase"] == "shot" and out.result.frame().loc[1.0, "c"] == pytest.approx(5.0)
    assert [p.ended_by for p in out.phases] == ["duration"] * 3


def test_a_condition_true_at_the_start_ends_the_phase_at_once(tank):
    out = run_phases(
        tank,
        [
            Phase(name="skip", duration=5, until=Transition(variable="V", op=">=", value=0.5)),
            Phase(name="run", duration=1, points=2),
        ],
    )
    assert out.phases[0].ended_by == "instant" and out.phases[0].end == 0.0
    assert out.phases[1].start == 0.0 and out.end == pytest.approx(1.0)


def test_bad_phases_name_the_field(tank):
    with pytest.raises(ParameterError) as err:
        run_phases(
            tank,
            [
                Phase(name="a", duration=1, inputs={"Q": 1}, until=Transition(variable="W", op="<", value=1)),
                Phase(name="a", duration=1, add_states={"X": 1}),
            ],
        )
    fields = [f for f, _ in err.value.errors]
    assert "phases.a.inputs.Q" in fields and "phases.a.until.variable" in fields
    assert "phases.a.add_states.X" in fields and "phases" in fields


def test_a_solver_failure_stops_the_recipe(tank):
    m = ModelBuilder("blowup", "1.0", time_units="h")
    x = m.state("x", "1", initial=1.0)
    m.ode(x, x**2)
    model = m.build()
    out = run_phases(model, [Phase(name="a", duration=2.0), Phase(name="b", duration=1.0)])
    assert not out.ok and len(out.phases) == 1 and out.phases[0].ended_by == "failed"
    assert np.all(np.isfinite(out.result.x))


def test_a_stop_condition_ends_the_whole_recipe(tank):
    phases = [
        Phase(
            name="drain",
            duration=20,
            inputs={"F": 0.1},
            until=Transition(variable="V", op="<=", value=0.5, then="stop"),
        ),
        Phase(name="never", duration=5),
    ]
    out = run_phases(tank, phases)
    assert [p.name for p in out.phases] == ["drain"] and out.phases[0].ended_by == "condition"
    assert out.end == pytest.approx(5.0, rel=1e-6)  # 1 - 0.1 t = 0.5
    goes_on = run_phases(
        tank, [phases[0].model_copy(update={"until": Transition(variable="V", op="<=", value=0.5)}), phases[1]]
    )
    assert [p.name for p in goes_on.phases] == ["drain", "never"]
