"""Static design optimisation of scenario factors (scenarios/design.py): closed-form optima, multipliers and
their signs, integer enumeration, infeasibility, the emulsion's least-energy design, bad specs, and the CLI."""

import copy
import json
import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_fuzzing import mutated
from typer.testing import CliRunner

from bioprocess_twin import catalogue
from bioprocess_twin.cli import app
from bioprocess_twin.core import ModelBuilder, Parameter, ParameterTable, Phase, Recipe
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.process import Process
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import SpecError, parse_spec
from bioprocess_twin.scenarios.design import DesignProblem, optimize_design
from bioprocess_twin.scenarios.optimize import design_front
from bioprocess_twin.scenarios.spec import load_scenario_spec, parse_scenario_spec

MODEL = "design_test_decay"
runner = CliRunner()


class StagedDecay(Process):
    """x' = -k x over ``stages`` phases of 1 s each, so x(T) = x0 exp(-k T) with T = stages (seconds)."""

    name = MODEL
    kpi_units = {"x_final": "", "log_reduction": "", "cost": "1/s", "margin": "1/s"}
    operating = ParameterTable((Parameter(name="stages", units="1", default=2, bounds=(1, 10), integer=True),))

    def build(self):
        m = ModelBuilder(self.name, version="1.0.0", time_units="s")
        k = m.parameter(Parameter(name="k", units="1/s", default=1.0, bounds=(0, 10)))
        x = m.state("x", "1", initial=1.0)
        m.ode(x, -k * x)
        return m.build()

    def default_recipe(self, operating):
        return Recipe(phases=[Phase(name=f"stage {i + 1}", duration=1.0) for i in range(int(operating["stages"]))])

    def kpis(self, result, operating):
        x = result.state("x")
        cost = result.parameters["k"] + float(x[0]) + 0.25 * operating["stages"]  # a rate, a charge, a stage fee
        return {
            "x_final": float(x[-1]),
            "log_reduction": math.log(x[0] / x[-1]),
            "cost": cost,
            "margin": 10.0 - cost,
        }


@pytest.fixture(autouse=True, scope="module")
def registered():
    catalogue.register(StagedDecay)
    yield
    catalogue.unregister(MODEL)


BASE = {"model": MODEL, "parameters": {"stages": 2}, "solver": {"rtol": 1e-10, "atol": 1e-12}}
K_PER_MIN = {"path": "parameters.k", "range": [0.6, 300], "units": "1/min"}  # 0.01 to 5 1/s
X0 = {"path": "initial.x", "range": [0.5, 2.0]}


def scenario(**changes) -> dict:
    doc = {
        "name": "decay_design",
        "analysis": "optimize",
        "base": copy.deepcopy(BASE),
        "factors": [K_PER_MIN, X0],
        "responses": [{"kpi": "x_final", "max": 0.25}],
        "optimize": {"objective": {"kpi": "cost", "sense": "minimize"}},
    }
    return doc | changes


def solve(doc: dict):
    spec, base = parse_scenario_spec(doc)
    return optimize_design(spec, base).to_dict()


def constraint(doc: dict, name: str, side: str) -> dict:
    return next(c for c in doc["constraints"] if c["name"] == name and c["side"] == side)


# -- (a) closed-form optima -------------------------------------------------------------------------------------
def test_the_optimum_its_active_constraints_and_prices_match_the_closed_form():
    """min k + x0 s.t. x0 exp(-2k) <= b: x0 sits at its lower bound 0.5 and k = ln(x0/b)/2. The envelope theorem
    gives the prices: -d cost*/db = 1/(2b) per unit of x_final, and d cost*/d x0 = 1/(2 x0) + 1 per unit of x0."""
    b, x0, T = 0.25, 0.5, 2.0
    res = solve(scenario())
    assert res["status"] == "optimal" and res["solver_status"] == "Solve_Succeeded" and res["iterations"] > 0
    k = math.log(x0 / b) / T
    assert res["factors"]["parameters.k"] == pytest.approx(60 * k, rel=1e-6)  # reported in the factor's 1/min
    assert res["factors"]["initial.x"] == pytest.approx(x0, abs=1e-7)
    assert res["objective"] == pytest.approx(k + x0 + 0.5, rel=1e-7)
    bound = constraint(res, "x_final", "max")
    assert bound["active"] and bound["value"] == pytest.approx(b, rel=1e-6)
    assert bound["multiplier"] == pytest.approx(1 / (T * b), rel=1e-5) and bound["price_units"] == "1/s per 1"
    low = constraint(res, "initial.x", "min")
    assert low["kind"] == "factor" and low["active"] and low["multiplier"] == pytest.approx(1 / (T * x0) + 1, rel=1e-5)
    inactive = [c for c in res["constraints"] if not c["active"]]
    assert {(c["name"], c["side"]) for c in inactive} == {
        ("parameters.k", "min"),
        ("parameters.k", "max"),
        ("initial.x", "max"),
    }
    assert all(c["multiplier"] == 0.0 for c in inactive)


def test_prices_keep_their_meaning_for_a_maximised_objective_and_a_lower_limit():
    """max 10 - (k + x0 + 0.5) s.t. k T >= ln 4: k = ln 4 / 2, x0 = 0.5. Relaxing (lowering) the limit by one unit
    gains 1/T; lowering x0's bound gains 1 per unit: both prices are positive gains."""
    doc = scenario(
        responses=[{"kpi": "log_reduction", "min": math.log(4)}],
        optimize={"objective": {"kpi": "margin", "sense": "maximize"}},
    )
    res = solve(doc)
    assert res["status"] == "optimal"
    assert res["factors"]["parameters.k"] == pytest.approx(60 * math.log(4) / 2, rel=1e-6)
    assert res["objective"] == pytest.approx(10 - (math.log(4) / 2 + 0.5 + 0.5), rel=1e-7)
    limit = constraint(res, "log_reduction", "min")
    assert limit["active"] and limit["multiplier"] == pytest.approx(0.5, rel=1e-5)
    assert constraint(res, "initial.x", "min")["multiplier"] == pytest.approx(1.0, rel=1e-5)


def test_a_front_follows_the_closed_form_and_its_slope():
    """ε-constraint front of cost against x_final <= ε: cost*(ε) = ln(0.5/ε)/2 + 1, price 1/(2ε); at ε = 0.5 the
    rate's lower bound (0.01 1/s) keeps x_final below ε, so the bound is inactive and its price 0."""
    doc = scenario(responses=[{"kpi": "x_final", "max": 0.9}])
    doc["optimize"]["pareto"] = {"second": {"kpi": "x_final", "sense": "minimize"}, "epsilons": [0.2, 0.3, 0.5]}
    spec, base = parse_scenario_spec(doc)
    points = design_front(DesignProblem(spec, base))
    assert [p.result.status for p in points] == ["optimal"] * 3
    for p, eps in zip(points[:2], (0.2, 0.3)):
        assert p.first == pytest.approx(math.log(0.5 / eps) / 2 + 1.0, rel=1e-6)
        assert p.second == pytest.approx(eps, rel=1e-6) and p.price == pytest.approx(1 / (2 * eps), rel=1e-5)
    assert points[2].price == 0.0 and points[2].second == pytest.approx(0.5 * math.exp(-0.02), rel=1e-6)


# -- (b) integer enumeration ------------------------------------------------------------------------------------
def test_enumeration_picks_the_best_number_of_stages():
    """x0 = 1, x(n) = exp(-k n) <= exp(-2): k = 2/n and cost(n) = 2/n + 1 + n/4, least at n = 3 (1 - 4: 3.25, 2.5,
    2.4167, 2.5)."""
    doc = scenario(
        factors=[
            {"path": "parameters.k", "range": [0.01, 5]},
            {"path": "parameters.stages", "range": [1, 4], "integer": True},
        ],
        responses=[{"kpi": "x_final", "max": math.exp(-2)}],
    )
    res = solve(doc)
    assert res["status"] == "optimal" and res["factors"]["parameters.stages"] == 3
    assert res["factors"]["parameters.k"] == pytest.approx(2 / 3, rel=1e-6)
    table = {row["levels"]["parameters.stages"]: row["objective"] for row in res["combinations"]}
    assert table == pytest.approx({n: 2 / n + 1 + n / 4 for n in (1.0, 2.0, 3.0, 4.0)}, rel=1e-6)
    assert res["total_iterations"] > res["iterations"] > 0


def test_levels_alone_are_enumerated_and_checked_without_an_nlp():
    """No continuous factor: each level is one run. One stage leaves exp(-1) > 0.25 (infeasible); two or more
    meet it, and two cost least."""
    doc = scenario(
        factors=[{"path": "parameters.stages", "levels": [1, 2, 3]}],
        base=BASE | {"parameters": {"stages": 2, "k": 1.0}},
    )
    res = solve(doc)
    assert res["status"] == "optimal" and res["factors"] == {"parameters.stages": 2.0}
    assert [r["status"] for r in res["combinations"]] == ["infeasible", "optimal", "optimal"]
    assert "x_final <= 0.25 (short by 0.1179)" in res["combinations"][0]["message"]


# -- (c) infeasibility --------------------------------------------------------------------------------------------
def test_an_infeasible_problem_names_the_constraints_that_cannot_be_met_together():
    """k <= 0.5 1/s leaves x_final >= exp(-1) = 0.368 > 0.25: the limit and the factor's upper bound conflict."""
    res = solve(scenario(factors=[{"path": "parameters.k", "range": [0.01, 0.5]}]))
    assert res["status"] == "infeasible" and res["factors"]["parameters.k"] == pytest.approx(0.5, abs=1e-6)
    assert res["message"].startswith("cannot be met together: ")
    assert f"x_final <= 0.25 (short by {math.exp(-1) - 0.25:.4g})" in res["message"]
    assert "factor parameters.k <= 0.5 1/s (at its bound)" in res["message"]
    assert constraint(res, "x_final", "max")["violation"] == pytest.approx(math.exp(-1) - 0.25, rel=1e-5)


def test_two_responses_in_conflict_are_both_named():
    """x_final <= 0.25 needs k >= ln 2 (x0 = 1, T = 2) while cost <= 1.9 needs k <= 0.4."""
    res = solve(
        scenario(
            factors=[{"path": "parameters.k", "range": [0.01, 5]}],
            responses=[{"kpi": "x_final", "max": 0.25}, {"kpi": "cost", "max": 1.9}],
        )
    )
    assert res["status"] == "infeasible"
    assert "x_final <= 0.25" in res["message"] and "cost <= 1.9" in res["message"]


def test_the_least_infeasible_combination_is_reported():
    """With k <= 0.3, x(n) = exp(-0.3 n) > 0.05 for n <= 9: more stages come closer; 4 is the nearest of 2 - 4."""
    doc = scenario(
        factors=[{"path": "parameters.k", "range": [0.01, 0.3]}, {"path": "parameters.stages", "levels": [2, 3, 4]}],
        responses=[{"kpi": "x_final", "max": 0.05}],
    )
    res = solve(doc)
    assert res["status"] == "infeasible" and res["factors"]["parameters.stages"] == 4
    assert [r["status"] for r in res["combinations"]] == ["infeasible"] * 3
    assert "least infeasible at parameters.stages=4" in res["message"]


# -- (d) the emulsion: least energy where the size limit binds ---------------------------------------------------
def test_the_emulsion_least_energy_design_sits_on_the_size_limit():
    """The shipped example with 3 and 4 passes. Energy density is the sum of the pass pressures, and size falls
    with pressure: the least energy is the least pressure that reaches 180 nm, so the size limit is active and
    the temperature limit is not. Checked against plain runs: 1 bar less leaves the droplets above 180 nm, and
    the price equals n/10 MJ/m3 per bar over the size's slope (envelope theorem)."""
    spec, base = load_scenario_spec(example_path("scenarios", "emulsion_100L_least_energy.yaml"))
    doc = spec.model_dump(mode="json") | {"base": base}
    doc["factors"][1]["levels"] = [3, 4]
    res = solve(doc)
    assert res["status"] == "optimal"
    rows = {r["levels"]["parameters.n_passes"]: r for r in res["combinations"]}
    assert rows[3.0]["objective"] < rows[4.0]["objective"]  # fewer passes at more pressure take less energy
    assert rows[3.0]["factors"]["inputs.pressure"] > rows[4.0]["factors"]["inputs.pressure"]
    n, p = res["factors"]["parameters.n_passes"], res["factors"]["inputs.pressure"]
    assert n == 3 and res["objective"] == pytest.approx(n * p / 10, rel=1e-9)  # 1 bar = 0.1 MJ/m3
    size = constraint(res, "z_average_nm", "max")
    assert size["active"] and not constraint(res, "T_max_C", "max")["active"]

    def z(pressure):
        case = copy.deepcopy(base)
        case["parameters"]["n_passes"], case["inputs"]["pressure"] = 3, f"{pressure} bar"
        return catalogue.run_spec(parse_spec(case)).kpis["z_average_nm"]

    assert z(p) == pytest.approx(180.0, abs=1e-3) and z(p - 1.0) > 180.0
    slope = (z(p + 1.0) - z(p - 1.0)) / 2.0  # nm per bar
    assert size["multiplier"] == pytest.approx(-(n / 10) / slope, rel=1e-3)


# -- (e) bad specs ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes, field",
    [
        ({"optimize": {"objective": {"kpi": "titre"}}}, "optimize.objective.kpi"),
        ({"responses": [{"kpi": "purity", "min": 0.9}]}, "responses.0.kpi"),
        ({"factors": [{"path": "parameters.stages", "range": [1, 4]}]}, "factors.0.path"),
        ({"factors": [{"path": "parameters.k", "range": [0.1, 1], "units": "bar"}]}, "factors.0.units"),
        ({"factors": [{"path": "parameters.k", "range": [1, 20]}]}, "factors.0.range"),
        ({"factors": [{"path": "parameters.kk", "range": [1, 2]}]}, "factors.0.path"),
        ({"factors": [{"path": "parameters.stages", "levels": [2, 30]}]}, "factors.0.levels"),
        (
            {
                "factors": [{"path": "parameters.stages", "range": [1, 2], "integer": True}]
                + [{"path": "parameters.k", "levels": list(range(1, 80))}]
            },
            "factors",
        ),
        ({"optimize": None}, "optimize"),
        ({"base": {"line": "adjuvant_only"}}, "base"),
    ],
)
def test_a_bad_problem_is_a_named_spec_error(changes, field):
    with pytest.raises(SpecError) as info:
        solve(scenario(**changes))
    assert any(f == field for f, _ in info.value.errors), info.value.errors


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_a_mutated_optimize_section_gives_a_result_or_a_named_error(data):
    doc = scenario(factors=[{"path": "parameters.k", "range": [0.01, 5]}])
    doc["optimize"] |= {"pareto": {"second": {"kpi": "x_final", "sense": "minimize"}, "epsilons": [0.2, 0.4]}}
    # the factors and responses ride along, so that the mutated mapping never runs out of places to change
    parts = data.draw(mutated({k: doc[k] for k in ("optimize", "factors", "responses")}))
    doc = {k: v for k, v in doc.items() if k not in ("optimize", "factors", "responses")} | parts
    try:
        spec, base = parse_scenario_spec(doc)
        problem = DesignProblem(spec, base)
        results = [p.result for p in design_front(problem)] if problem.settings.pareto else [problem.solve()]
    except (SpecError, ParameterError) as exc:
        assert exc.errors and all(f for f, _ in exc.errors)
        return
    assert all(r.status in ("optimal", "infeasible", "failed") for r in results)
    json.dumps([r.to_dict() for r in results], allow_nan=True)


# -- (f) the command line -----------------------------------------------------------------------------------------
def run_cli(tmp_path, doc):
    path = tmp_path / "design.yaml"
    path.write_text(yaml.safe_dump(doc))
    return runner.invoke(app, ["optimize", str(path), "--json"])


def test_the_cli_exits_0_with_the_optimum(tmp_path):
    res = run_cli(tmp_path, scenario())
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["kind"] == "design" and doc["status"] == "optimal" and doc["model"] == MODEL
    assert doc["factors"]["parameters.k"] == pytest.approx(60 * math.log(2) / 2, rel=1e-6)


def test_the_cli_exits_4_naming_what_cannot_be_met(tmp_path):
    res = run_cli(tmp_path, scenario(factors=[{"path": "parameters.k", "range": [0.01, 0.5]}]))
    assert res.exit_code == 4, res.output
    assert "x_final <= 0.25" in json.loads(res.stdout)["message"]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"optimize": {"objective": {"kpi": "titre"}}}, "optimize.objective.kpi"),
        ({"analysis": "design_space"}, "analysis"),
    ],
)
def test_the_cli_exits_2_naming_the_field(tmp_path, changes, field):
    res = run_cli(tmp_path, scenario(**changes))
    assert res.exit_code == 2, res.output
    assert [e["field"] for e in json.loads(res.stdout)["errors"]] == [field]


def test_the_cli_exits_3_when_ipopt_stops_without_an_optimum(tmp_path):
    doc = scenario()
    doc["optimize"]["max_iterations"] = 1
    res = run_cli(tmp_path, doc)
    assert res.exit_code == 3, res.output
    out = json.loads(res.stdout)
    assert out["status"] == "failed" and "IPOPT stopped: Maximum_Iterations_Exceeded" in out["message"]
    human = runner.invoke(app, ["optimize", str(tmp_path / "design.yaml")])
    assert human.exit_code == 3 and "no optimum" in human.output


def test_the_scenario_entry_point_refuses_an_optimisation_and_names_the_command():
    from bioprocess_twin.scenarios.run import run_scenario

    spec, base = load_scenario_spec(example_path("scenarios", "emulsion_100L_least_energy.yaml"))
    with pytest.raises(SpecError) as info:
        run_scenario(spec, base)
    assert info.value.errors[0][0] == "analysis" and "bioprocess-twin optimize" in info.value.errors[0][1]
