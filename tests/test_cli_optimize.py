"""``bioprocess-twin optimize``: a policy and a Pareto front of a catalogue process, with the exit codes."""

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_fuzzing import mutated
from typer.testing import CliRunner

from bioprocess_twin import catalogue
from bioprocess_twin.cli import app
from bioprocess_twin.core import ModelBuilder, Parameter
from bioprocess_twin.core.process import Process

runner = CliRunner()
MODEL = "optimize_test_tank"


class FilledTank(Process):
    """A tank filled at rate u (L/h) from an initial volume V0: V' = u."""

    name = MODEL
    description = "a tank filled at a controlled rate (optimisation tests)"

    def build(self):
        m = ModelBuilder(self.name, version="1.0.0", time_units="h")
        v0 = m.parameter(Parameter(name="V0", units="L", default=1.0, bounds=(0, 100)))
        u = m.inputs(Parameter(name="u", units="L/h", default=0.0, bounds=(0, 10)))["u"]
        V = m.state("V", "L", initial=v0)
        m.ode(V, u)
        m.output("V_out", V, "L")
        return m.build()


@pytest.fixture(autouse=True, scope="module")
def registered():
    catalogue.register(FilledTank)
    yield
    catalogue.unregister(MODEL)


def spec_file(tmp_path, **changes):
    doc = {
        "model": MODEL,
        "parameters": {"V0": "500 mL"},  # units convert where they enter
        "horizon": 2.0,
        "intervals": 4,
        "controls": {"u": {"min": 0.0, "max": 1.0, "initial": 0.2}},
        "objective": {"name": "V", "sense": "maximize"},
        "final": [{"name": "V_out", "max": 1.5}],
    } | changes
    path = tmp_path / "optimize.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_policy_is_optimal_with_its_active_bound_and_price(tmp_path):
    res = runner.invoke(app, ["optimize", str(spec_file(tmp_path)), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "optimal" and doc["objective"] == pytest.approx(1.5, abs=1e-6)  # 0.5 L + 1 L fed
    (final,) = [c for c in doc["constraints"] if c["kind"] == "final"]
    assert final["active_at"] == [2.0] and final["multiplier"] == pytest.approx(1.0, rel=1e-4)


def test_constraints_that_cannot_hold_exit_4_naming_them(tmp_path):
    res = runner.invoke(app, ["optimize", str(spec_file(tmp_path, final=[{"name": "V_out", "min": 5.0}])), "--json"])
    assert res.exit_code == 4, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "infeasible" and "final V_out >= 5" in doc["message"]


def test_a_front_traces_the_trade_off(tmp_path):
    pareto = {"second": {"name": "V_out", "sense": "minimize"}, "epsilons": [1.0, 1.2, 3.0]}
    res = runner.invoke(app, ["optimize", str(spec_file(tmp_path, final=[], pareto=pareto)), "--json"])
    assert res.exit_code == 0, res.output
    points = json.loads(res.stdout)["points"]
    assert [p["first"] for p in points] == pytest.approx([1.0, 1.2, 2.5], abs=1e-6)  # 2.5 L at full rate
    assert [p["price"] for p in points][:2] == pytest.approx([1.0, 1.0], rel=1e-4) and points[2]["price"] == 0.0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"model": "no_such_model"}, "model"),
        ({"controls": {"F": {"min": 0, "max": 1}}}, "controls.F"),
        ({"objective": {"name": "titre"}}, "objective.name"),
        ({"parameters": {"V0": "5 bar"}}, "V0"),
        ({"horizon": -1}, "horizon"),
        ({"controls": {"u": {"min": 1, "max": 0}}}, "controls.u"),
        ({"model": "microbial_fed_batch", "parameters": {"batch_hours": 8}}, "parameters.batch_hours"),
    ],
)
def test_a_bad_spec_exits_2_naming_the_field(tmp_path, change, field):
    res = runner.invoke(app, ["optimize", str(spec_file(tmp_path, **change)), "--json"])
    assert res.exit_code == 2, res.output
    assert any(field in e["field"] for e in json.loads(res.stdout)["errors"]), res.stdout


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_a_mutated_spec_never_exits_1(tmp_path_factory, data):
    """Hostile values anywhere in the spec: a result, a named error, a solver failure or infeasibility."""
    base = yaml.safe_load(spec_file(tmp_path_factory.mktemp("base")).read_text())
    doc = data.draw(mutated(base))
    path = tmp_path_factory.mktemp("case") / "optimize.yaml"
    path.write_text(yaml.safe_dump(doc))
    res = runner.invoke(app, ["optimize", str(path), "--json"])
    assert res.exit_code in (0, 2, 3, 4), res.output
    if res.exit_code == 2:
        assert all(e["field"] for e in json.loads(res.stdout)["errors"])
