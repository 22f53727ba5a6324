"""Progress of the optimisations (scenarios/progress.py): one report per IPOPT iteration with the objective in the
problem's own sense and units, done fractions over a front or an enumeration, a raising callable that stops the
run, the CLI's live line and the dashboard's label."""

import json
import math
import threading

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from test_cli_optimize import MODEL as TANK
from test_cli_optimize import FilledTank
from test_design_optimization import MODEL as DECAY
from test_design_optimization import StagedDecay, scenario
from test_policy_optimization import integrator_model
from typer.testing import CliRunner

from bioprocess_twin import catalogue
from bioprocess_twin.cli import app
from bioprocess_twin.scenarios import design_nlp
from bioprocess_twin.scenarios import policy as policy_module
from bioprocess_twin.scenarios.design import DesignProblem, optimize_design
from bioprocess_twin.scenarios.optimize import design_front, parse_optimization_spec, run_optimization
from bioprocess_twin.scenarios.policy import PolicyProblem, optimize_policy
from bioprocess_twin.scenarios.progress import OptimisationProgress, part
from bioprocess_twin.scenarios.spec import parse_scenario_spec
from dashboards.components.optimise_progress import optimisation_progress, progress_label

runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def registered():
    catalogue.register(FilledTank)
    catalogue.register(StagedDecay)
    yield
    catalogue.unregister(TANK)
    catalogue.unregister(DECAY)


class Stop(Exception):
    """What a caller raises to stop a run (a cancel button, say)."""


def bounded(sense="maximize", **changes) -> PolicyProblem:
    """x' = u, 0 <= u <= 1 on [0, 2], starting at u = 0.1 (x(2) = 0.2), with x(2) <= 0.5 (maximised) or
    >= 0.5 (minimised): the optimum is 0.5 either way."""
    final = {"name": "x_out", ("max" if sense == "maximize" else "min"): 0.5}
    doc = {
        "horizon": 2.0,
        "intervals": 4,
        "controls": {"u": {"min": 0.0, "max": 1.0, "initial": 0.1}},
        "objective": {"name": "x", "sense": sense},
        "final": [final],
    }
    return PolicyProblem.model_validate(doc | changes)


def iterations_of(reports):
    return [p.iteration for p in reports if not p.status]


# -- a policy: one report per IPOPT iteration -------------------------------------------------------------------
@pytest.mark.parametrize("sense", ["maximize", "minimize"])
def test_a_policy_reports_each_iteration_in_the_objectives_own_sense(sense):
    """IPOPT minimises -x(2) for a maximisation; the reports undo that: the first is x(2) under the first guess
    (0.1 * 2 = 0.2), the last the result's optimum; one report per iteration, 0 to ``iterations``."""
    reports: list[OptimisationProgress] = []
    result = optimize_policy(integrator_model(), bounded(sense), progress=reports.append)
    assert result.status == "optimal"
    assert [p.iteration for p in reports] == list(range(result.iterations + 1))
    assert reports[0].objective == pytest.approx(0.2, rel=1e-9)
    assert reports[-1].objective == pytest.approx(result.objective, rel=1e-12)
    assert reports[-1].objective == pytest.approx(0.5, abs=1e-6)
    assert all(p.done is None and p.objective_name == "x" and p.stage == "policy" for p in reports)


def test_a_policys_violation_is_computed_from_the_rows_and_their_bounds():
    """Start at u = 1 (x(2) = 2 against x(2) <= 0.5): the row x(2)/0.5 is 4 against its bound 1, a violation of 3
    in the row's scale; the optimum meets it."""
    reports: list[OptimisationProgress] = []
    problem = bounded(controls={"u": {"min": 0.0, "max": 1.0, "initial": 1.0}})
    result = optimize_policy(integrator_model(), problem, progress=reports.append)
    assert reports[0].objective == pytest.approx(2.0, rel=1e-9)
    assert reports[0].infeasibility == pytest.approx((2.0 - 0.5) / 0.5, rel=1e-6)
    assert result.status == "optimal" and reports[-1].infeasibility < 1e-6


def test_an_infeasible_policy_numbers_the_restoration_phase_as_ipopt_does():
    """x(1) >= 2 is out of reach (x(1) <= 1): IPOPT enters its restoration phase, where it calls back twice at the
    same point; the numbers still run 0, 1, ... up to the result's iterations."""
    reports: list[OptimisationProgress] = []
    problem = bounded(horizon=1.0, final=[{"name": "x_out", "min": 2.0}])
    result = optimize_policy(integrator_model(), problem, progress=reports.append)
    assert result.status == "infeasible"
    numbers = [p.iteration for p in reports]
    assert numbers[0] == 0 and numbers[-1] == result.iterations
    assert {b - a for a, b in zip(numbers, numbers[1:])} <= {0, 1}
    assert reports[-1].infeasibility == pytest.approx((2.0 - 1.0) / 2.0, rel=1e-4)  # x(1) = 1 at best: half short


def test_a_warm_up_and_the_exact_hessian_count_on():
    """Two IPOPT solves: the second starts where the first stopped, at the same iteration number."""
    reports: list[OptimisationProgress] = []
    result = optimize_policy(integrator_model(), bounded(quasi_newton_iterations=3), progress=reports.append)
    stages = [p.stage for p in reports]
    warm = stages.count("quasi-Newton warm-up")
    assert warm >= 2 and stages[warm:] == ["exact Hessian"] * (len(reports) - warm)
    numbers = iterations_of(reports)
    assert numbers[:warm] == list(range(warm)) and numbers[warm] == warm - 1  # the exact solve's starting point
    assert numbers[warm:] == list(range(warm - 1, result.iterations + 1))
    assert reports[-1].objective == pytest.approx(result.objective, rel=1e-12)


def test_a_raising_callable_stops_ipopt_and_its_exception_propagates(monkeypatch):
    made = []
    solver = policy_module._solver
    monkeypatch.setattr(policy_module, "_solver", lambda *a, **k: made.append(solver(*a, **k)) or made[-1])
    seen: list[int] = []

    def cancel(p: OptimisationProgress) -> None:
        seen.append(p.iteration)
        if p.iteration == 2:
            raise Stop("cancelled")

    with pytest.raises(Stop, match="cancelled"):
        optimize_policy(integrator_model(), bounded(), progress=cancel)
    stats = made[-1].stats()
    assert seen == [0, 1, 2]
    assert stats["return_status"] == "User_Requested_Stop" and stats["iter_count"] == 2
    # nothing is left behind: the next run reports and solves as before
    again: list[OptimisationProgress] = []
    assert optimize_policy(integrator_model(), bounded(), progress=again.append).status == "optimal"
    assert again[0].iteration == 0


# -- fronts and enumerations: done rises to 1 ---------------------------------------------------------------------
def tank_spec(**changes):
    doc = {
        "model": TANK,
        "parameters": {"V0": "500 mL"},
        "horizon": 2.0,
        "intervals": 4,
        "controls": {"u": {"min": 0.0, "max": 1.0, "initial": 0.2}},
        "objective": {"name": "V", "sense": "maximize"},
        "pareto": {"second": {"name": "V_out", "sense": "minimize"}, "epsilons": [1.0, 1.2, 3.0]},
    }
    return parse_optimization_spec(doc | changes)


def without_seconds(doc):
    if isinstance(doc, dict):
        return {k: without_seconds(v) for k, v in doc.items() if k != "seconds"}
    if isinstance(doc, list):
        return [without_seconds(v) for v in doc]
    return doc


def test_a_policy_front_reports_each_point_and_its_share_and_keeps_its_result():
    reports: list[OptimisationProgress] = []
    doc = run_optimization(tank_spec(), reports.append)
    assert without_seconds(doc) == without_seconds(run_optimization(tank_spec()))  # the same front either way
    done = [p.done for p in reports]
    assert all(d is not None and 0.0 <= d <= 1.0 for d in done) and done == sorted(done) and done[-1] == 1.0
    closing = [p for p in reports if p.status]
    assert [p.done for p in closing] == pytest.approx([1 / 3, 2 / 3, 1.0], rel=1e-15)
    assert [p.status for p in closing] == [q["status"] for q in doc["points"]]
    assert [p.objective for p in closing] == pytest.approx([q["first"] for q in doc["points"]], rel=1e-12)
    for i, point in enumerate(doc["points"]):
        label = f"ε {point['epsilon']:g} ({i + 1} of 3)"
        inner = [p for p in reports if p.stage.startswith(label + " · ")]
        assert [p.iteration for p in inner] == list(range(len(inner)))  # one per iteration of that point's solve
        assert inner[-1].objective == pytest.approx(point["first"], rel=1e-12)
        assert all(p.done == pytest.approx(i / 3) for p in inner)


def enumeration():
    """x0 = 1, x(n) = exp(-k n) <= exp(-2) over n = 1 to 4 stages (test_design_optimization)."""
    doc = scenario(
        factors=[
            {"path": "parameters.k", "range": [0.01, 5]},
            {"path": "parameters.stages", "range": [1, 4], "integer": True},
        ],
        responses=[{"kpi": "x_final", "max": math.exp(-2)}],
    )
    return parse_scenario_spec(doc)


def test_a_design_enumeration_reports_every_iteration_and_each_combination():
    reports: list[OptimisationProgress] = []
    spec, base = enumeration()
    result = optimize_design(spec, base, progress=reports.append)
    assert result.status == "optimal" and len(result.combinations) == 4
    closing = [p for p in reports if p.status]
    assert [p.done for p in closing] == [0.25, 0.5, 0.75, 1.0]
    done = [p.done for p in reports]
    assert done == sorted(done) and done[-1] == 1.0
    for j, (c, end) in enumerate(zip(result.combinations, closing, strict=True)):
        label = f"combination {j + 1} of 4 (parameters.stages={j + 1})"
        inner = [p for p in reports if p.stage == label and not p.status]
        assert [p.iteration for p in inner] == list(range(c.iterations + 1))  # the one NLP of a feasible case
        assert inner[-1].objective == pytest.approx(c.objective, rel=1e-9)  # cost, minimised, in 1/s
        assert end.stage == label and end.objective == c.objective and end.iteration == c.iterations
        assert all(p.done == j / 4 and p.objective_name == "cost" for p in inner)
    assert without_seconds(result.to_dict()) == without_seconds(optimize_design(*enumeration()).to_dict())


def test_a_design_front_rises_to_one_over_its_points_and_their_combinations():
    doc = scenario(responses=[{"kpi": "x_final", "max": 0.9}])
    doc["optimize"]["pareto"] = {"second": {"kpi": "x_final", "sense": "minimize"}, "epsilons": [0.2, 0.3, 0.5]}
    spec, base = parse_scenario_spec(doc)
    reports: list[OptimisationProgress] = []
    points = design_front(DesignProblem(spec, base), reports.append)
    done = [p.done for p in reports]
    assert done == sorted(done) and done[-1] == 1.0
    ends = [p for p in reports if p.status and p.stage.endswith(" of 3)")]  # each point's closing report
    assert [p.done for p in ends] == pytest.approx([1 / 3, 2 / 3, 1.0], rel=1e-15)
    assert [p.objective for p in ends] == [p.first for p in points]


def test_a_raising_callable_stops_a_design_in_its_first_combination(monkeypatch):
    statuses = []

    class Recording(design_nlp.cyipopt.Problem):
        def solve(self, *args, **kwargs):
            x, info = super().solve(*args, **kwargs)
            statuses.append(info["status"])
            return x, info

    monkeypatch.setattr(design_nlp.cyipopt, "Problem", Recording)
    seen: list[OptimisationProgress] = []

    def cancel(p: OptimisationProgress) -> None:
        seen.append(p)
        if p.iteration == 1:
            raise Stop("cancelled")

    with pytest.raises(Stop):
        optimize_design(*enumeration(), progress=cancel)
    assert statuses == [5]  # IPOPT's User_Requested_Stop, and no other combination started
    assert [p.iteration for p in seen] == [0, 1] and all(p.stage.startswith("combination 1 of 4") for p in seen)


@given(
    st.integers(1, 50).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))),
    st.lists(st.one_of(st.none(), st.floats(0.0, 1.0)), min_size=1, max_size=20),
)
def test_a_parts_reports_stay_within_its_share(n_and_index, inner):
    count, index = n_and_index
    seen: list[OptimisationProgress] = []
    report = part(seen.append, "part", index, count)
    assert report is not None
    for d in inner:
        report(OptimisationProgress("inner", 0, 1.0, 0.0, d))
    assert all(index / count <= p.done <= (index + 1) / count for p in seen if p.done is not None)
    assert all(p.stage == "part · inner" for p in seen)


# -- the command line -----------------------------------------------------------------------------------------------
def tank_file(tmp_path):
    doc = {
        "model": TANK,
        "parameters": {"V0": "500 mL"},
        "horizon": 2.0,
        "intervals": 4,
        "controls": {"u": {"min": 0.0, "max": 1.0, "initial": 0.2}},
        "objective": {"name": "V", "sense": "maximize"},
        "final": [{"name": "V_out", "max": 1.5}],
    }
    path = tmp_path / "optimize.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_the_cli_shows_a_live_line_on_a_terminal_and_keeps_its_json(tmp_path):
    """FORCE_COLOR makes rich treat the captured stderr as a terminal."""
    spec = tank_file(tmp_path)
    plain = runner.invoke(app, ["optimize", spec, "--json"])
    live = runner.invoke(app, ["optimize", spec, "--json"], env={"FORCE_COLOR": "1"})
    quiet = runner.invoke(app, ["optimize", spec, "--json", "--quiet"], env={"FORCE_COLOR": "1"})
    assert plain.exit_code == live.exit_code == quiet.exit_code == 0, live.output
    doc = json.loads(live.stdout)
    assert (
        without_seconds(doc) == without_seconds(json.loads(plain.stdout)) == without_seconds(json.loads(quiet.stdout))
    )
    assert f"iteration {doc['iterations']} · V 1.5 · violation" in live.stderr  # the last iteration's line
    assert "iteration" not in plain.stderr and "iteration" not in quiet.stderr
    human = runner.invoke(app, ["optimize", spec], env={"FORCE_COLOR": "1"})
    assert human.exit_code == 0 and "policy · iteration" in human.stderr and "status: optimal" in human.stdout


# -- the dashboard's label ------------------------------------------------------------------------------------------
def test_the_dashboard_label_shows_the_iteration_objective_and_violation():
    report = OptimisationProgress("policy", 37, 2.4812, 3.2e-5, None, "titre")
    assert progress_label(report, 12.3, {"titre": "g/L"}) == (
        1.0,
        "policy · iteration 37 · titre 2.481 g/L · violation 3e-05 · 12 s",
        "",
    )
    front = OptimisationProgress("ε 0.1 (1 of 4) · policy", 3, 1.0, 0.0, 0.25, "V")
    assert progress_label(front, 2.0, {}) == (
        0.25,
        "25 %",
        "ε 0.1 (1 of 4) · policy · iteration 3 · V 1 · violation 0 · 2 s",
    )
    assert progress_label(None, 4.2, {}) == (1.0, "optimising… 4 s", "")


def test_the_dashboard_bar_follows_a_real_run():
    """The timer thread writes the latest report of a real optimisation; waited for, never slept on."""
    shown: list[tuple[float, str, str]] = []
    changed = threading.Condition()

    def set_progress(value):
        with changed:
            shown.append(value)
            changed.notify_all()

    with optimisation_progress(set_progress, {"x": "1"}, interval=0.01) as (watch, report):
        result = optimize_policy(integrator_model(), bounded(), progress=report)
        last = f"policy · iteration {result.iterations} · x "
        with changed:
            assert changed.wait_for(lambda: any(label.startswith(last) for _, label, _ in shown), timeout=60), shown
    assert shown[0] == (1.0, "optimising… 0 s", "")
    assert watch.end is not None and watch.seconds > 0
