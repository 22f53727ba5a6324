"""Scenario specs, the probability of meeting spec and the design space, against closed forms.

The test model is first-order decay, x(T) = x0·exp(−k·T). With k lognormal (median m, geometric standard
deviation g) and the CQA x(T) ≥ c, a batch meets spec when k ≤ ln(x0/c)/T, so

    P(x0) = Φ( ln( ln(x0/c) / (T·m) ) / ln g ),

and P ≥ target holds for x0 ≥ x0* = c·exp(T·m·g^{z_target}), z_target the target's normal quantile.
"""

import math

import numpy as np
import pytest
import yaml
from decay_process import decay_fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from spec_fuzzing import mutated

from bioprocess_twin.core.spec import SpecError
from bioprocess_twin.scenarios.cases import CaseContext, Execution, set_path, simulate_case
from bioprocess_twin.scenarios.design_space import design_space, grid_values, monte_carlo
from bioprocess_twin.scenarios.executor import Case
from bioprocess_twin.scenarios.probability import probability_in_spec, wilson_interval
from bioprocess_twin.scenarios.sensitivity import sensitivity
from bioprocess_twin.scenarios.spec import Response, load_scenario_spec, parse_scenario_spec

MODEL = "scenario_decay"
registered = decay_fixture(MODEL, "1.0.0")
T, C, MEDIAN, GSD = 1.0, 0.5, 0.5, 1.3  # x(T) >= 0.5 needs k <= ln(2 x0)


def scenario(**changes) -> dict:
    doc = {
        "name": "decay",
        "base": {"model": MODEL, "times": [0.0, T], "solver": {"rtol": 1e-8, "atol": 1e-10}},
        "factors": [{"path": "initial.x", "range": [0.8, 2.0]}],
        "responses": [{"kpi": "x_final", "min": C}],
        "uncertainty": {"parameters": {"k": {"distribution": "lognormal", "median": MEDIAN, "gsd": GSD}}},
        "samples": 400,
        "seed": 7,
        "design_space": {"grid": 7, "target": 0.9},
    }
    return doc | changes


def exact_probability(x0: float) -> float:
    limit = math.log(x0 / C) / T
    return float(norm.cdf(math.log(limit / MEDIAN) / math.log(GSD))) if limit > 0 else 0.0


# -- the Wilson interval ---------------------------------------------------------------------------------------
def test_wilson_interval_matches_published_values():
    """Newcombe (1998), Stat. Med. 17:857, table I: 0/10 -> [0, 0.2775], 1/29 -> [0.0061, 0.1718];
    and the symmetric 5/10 -> [0.2366, 0.7634]."""
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(1, 29) == pytest.approx((0.0061, 0.1718), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)


@given(st.integers(0, 10_000), st.integers(1, 10_000), st.floats(0.5, 0.999))
def test_wilson_interval_holds_the_estimate_inside_zero_one(k, n, confidence):
    k = min(k, n)
    low, high = wilson_interval(k, n, confidence)
    assert 0.0 <= low <= k / n <= high <= 1.0
    assert high - low > 0


def test_wilson_interval_covers_the_truth_at_about_its_rate():
    rng = np.random.default_rng(3)
    p, n = 0.9, 200
    hits = [wilson_interval(int(k), n)[0] <= p <= wilson_interval(int(k), n)[1] for k in rng.binomial(n, p, 4000)]
    assert 0.93 <= np.mean(hits) <= 0.97


def test_a_failed_case_counts_as_out_of_spec():
    spec = [Response(kpi="z", max=1.0)]
    result = probability_in_spec([{"z": 0.5}, None, {"z": float("nan")}, {"z": 2.0}], spec)
    assert (result.k, result.n) == (1, 4)


# -- specs and paths -------------------------------------------------------------------------------------------
def test_set_path_writes_sections_and_refuses_a_recipe_path_that_is_not_there():
    base = {"model": "m", "recipe": {"phases": [{"name": "a", "duration": 1, "inputs": {"F": 1}}]}}
    doc = set_path(base, "recipe.phases.0.inputs.F", 2.0)
    assert doc["recipe"]["phases"][0]["inputs"]["F"] == 2.0 and base["recipe"]["phases"][0]["inputs"]["F"] == 1
    assert set_path(base, "inputs.pressure", 3.0)["inputs"] == {"pressure": 3.0}
    for bad, named in (("recipe.phases.3.duration", "no item 3"), ("recipe.steps.0", "recipe.steps")):
        with pytest.raises(KeyError, match=named):
            set_path(base, bad, 1.0)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"factors": [{"path": "initial.nope", "range": [0.8, 2.0]}]}, "factors.0.path"),
        ({"factors": [{"path": "outputs.x", "range": [0.8, 2.0]}]}, "factors.0.path"),
        ({"factors": [{"path": "initial.x", "range": [2.0, 0.8]}]}, "factors.0"),
        ({"factors": [{"path": "initial.x", "range": [1, 2], "levels": [1]}]}, "factors.0"),
        ({"responses": []}, "responses"),
        ({"responses": [{"kpi": "x_final"}]}, "responses.0"),
        ({"uncertainty": {"parameters": {"q": {"distribution": "normal", "mean": 1, "sd": 1}}}}, "uncertainty"),
        ({"uncertainty": {"parameters": {"k": {"distribution": "lognormal", "median": 1}}}}, "gsd"),
        ({"design_space": {"set_point": {"initial.x": 5.0}}}, "design_space.set_point.initial.x"),
        ({"base": {"model": "no_such_model"}}, "base.model"),
        ({"base": "../outside.yaml"}, "base"),
        ({"samples": 0}, "samples"),
        ({"samples": 1_000_000, "design_space": {"grid": 7}}, "samples"),  # 7 million cases
    ],
)
def test_a_bad_scenario_names_its_field(tmp_path, change, field):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario(**change)))
    with pytest.raises(SpecError) as info:
        spec, base = load_scenario_spec(path)
        design_space(spec, base)
    assert any(field in f for f, _ in info.value.errors), info.value.errors


def test_a_caller_can_cap_the_cases_of_one_analysis():
    spec, base = parse_scenario_spec(scenario(samples=10))
    with pytest.raises(SpecError) as info:
        design_space(spec, base, Execution(max_cases=69))  # 7 grid points x 10 samples
    assert info.value.errors[0][0] == "samples" and "70 cases exceed the 69" in info.value.errors[0][1]


def test_a_base_spec_file_is_read_from_the_scenario_folder(tmp_path):
    doc = scenario()
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(doc["base"]))
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(doc | {"base": "base.yaml"}))
    spec, base = load_scenario_spec(tmp_path / "scenario.yaml")
    assert base["model"] == MODEL and spec.samples == 400


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_a_mutated_scenario_is_refused_by_name_or_runs(data):
    """Hostile values anywhere in the spec: a SpecError naming fields, or a valid scenario (not run here)."""
    doc = data.draw(mutated(scenario() | {"samples": 3}))
    try:
        spec, base = parse_scenario_spec(doc)
    except SpecError as exc:
        assert exc.errors and all(f for f, _ in exc.errors)
        return
    assert spec.samples >= 1


# -- cases ------------------------------------------------------------------------------------------------------
def test_a_case_with_a_value_out_of_bounds_is_an_error_and_a_good_one_runs():
    spec, base = parse_scenario_spec(scenario())
    context = CaseContext.of(spec, base)
    good = simulate_case(context, Case(0, {"initial.x": 2.0, "parameters.k": 0.5}))
    assert good.status == "ok" and good.kpis["x_final"] == pytest.approx(2.0 * math.exp(-0.5), rel=1e-6)
    bad = simulate_case(context, Case(1, {"initial.x": 2.0, "parameters.k": 50.0}))  # k is bounded to [0, 10]
    assert bad.status == "error" and "k" in bad.message


# -- Monte Carlo and the design space against the closed form ----------------------------------------------------
def test_monte_carlo_probability_matches_the_closed_form():
    spec, base = parse_scenario_spec(scenario(samples=2000))
    point, curve = monte_carlo(spec, base, {"initial.x": 1.2})
    exact = exact_probability(1.2)
    p = point.probability
    assert p.n == 2000 and point.failed == 0
    assert p.low <= exact <= p.high, (p, exact)
    assert curve[-1]["n"] == 2000 and curve[-1]["p"] == p.p
    widths = [c["high"] - c["low"] for c in curve]
    assert widths[-1] < widths[0]  # the interval narrows as samples are added


def test_the_same_seed_gives_the_same_answer_and_another_seed_another():
    spec, base = parse_scenario_spec(scenario(samples=200))
    first = monte_carlo(spec, base, {"initial.x": 1.2})[0].probability.k
    again = monte_carlo(spec, base, {"initial.x": 1.2})[0].probability.k
    other_spec, _ = parse_scenario_spec(scenario(samples=200, seed=8))
    other = monte_carlo(other_spec, base, {"initial.x": 1.2})[0].probability.k
    assert first == again and other != first


def test_design_space_and_par_follow_the_closed_form_boundary():
    spec, base = parse_scenario_spec(scenario())
    space = design_space(spec, base)
    x0 = grid_values(spec)["initial.x"]
    assert len(space.points) == 7 and space.cases == 7 * 400
    for point in space.points:
        exact = exact_probability(point.values["initial.x"])
        assert abs(point.probability.p - exact) < 4 * math.sqrt(exact * (1 - exact) / 400) + 1e-9, (point, exact)
    # P rises with x0: the design space is x0 >= x0*, and the PAR runs from the first grid value above it
    boundary = C * math.exp(T * MEDIAN * GSD ** norm.ppf(0.9))
    inside = [p.values["initial.x"] for p in space.inside()]
    clear = [v for v in x0 if exact_probability(v) > 0.95 or exact_probability(v) < 0.85]  # away from the edge
    assert all((v in inside) == (v >= boundary) for v in clear)
    assert space.set_point == {"initial.x": x0[3]}
    low, high = space.par["initial.x"]
    assert (low, high) == (min(inside), max(inside)) and high == x0[-1]
    assert space.to_dict()["par"]["initial.x"] == [low, high]


def test_refinement_halves_the_spacing_where_p_crosses_the_target(tmp_path):
    boundary = C * math.exp(T * MEDIAN * GSD ** norm.ppf(0.9))
    coarse = design_space(*parse_scenario_spec(scenario()))
    spec, base = parse_scenario_spec(scenario(design_space={"grid": 7, "target": 0.9, "refine": 2}))
    fine = design_space(spec, base, Execution(store=tmp_path / "sweep"))
    values = [p.values["initial.x"] for p in fine.points]
    assert values == sorted(values) and len(values) == 9  # one midpoint per round, only at the crossing
    added = sorted(set(values) - {p.values["initial.x"] for p in coarse.points})
    assert len(added) == 2 and all(abs(v - boundary) < 0.2 for v in added)
    spacing = 0.2  # (2.0 - 0.8) / 6
    first = min(p.values["initial.x"] for p in fine.inside())
    first_coarse = min(p.values["initial.x"] for p in coarse.inside())
    assert abs(first - boundary) <= spacing / 4 + 0.03 < abs(first_coarse - boundary) + spacing / 4 + 0.03
    assert fine.par["initial.x"] == (first, 2.0)
    assert sorted(p.name for p in tmp_path.joinpath("sweep").iterdir() if p.is_dir()) == ["refine-1", "refine-2"]


def test_a_case_store_resumes_a_design_space_without_rerunning(tmp_path):
    spec, base = parse_scenario_spec(scenario(samples=20, design_space={"grid": 3, "target": 0.9}))
    first = design_space(spec, base, Execution(store=tmp_path / "sweep"))
    calls = []
    again = design_space(
        spec, base, Execution(store=tmp_path / "sweep", progress=lambda done, total: calls.append(done))
    )
    assert [p.probability.k for p in again.points] == [p.probability.k for p in first.points]
    assert calls and all(done == 60 for done in calls)  # every case read back from the store


# -- global sensitivity against the closed form ---------------------------------------------------------------
def test_sobol_indices_match_the_closed_form_of_a_product():
    """Y = x0·exp(−k) with x0 ~ U(0.5, 1.5) and k ~ U(0.1, 2): first-order indices E[e]²V(x0)/V(Y) and
    E[x0]²V(e)/V(Y); with two inputs each total index is 1 minus the other's first-order one."""
    a, b, c, d = 0.5, 1.5, 0.1, 2.0
    doc = scenario(
        factors=[{"path": "initial.x", "range": [a, b]}],
        uncertainty={"parameters": {"k": {"distribution": "uniform", "low": c, "high": d}}},
        sensitivity={"method": "sobol", "base_samples": 512, "resamples": 200},
    )
    spec, base = parse_scenario_spec(doc)
    result = sensitivity(spec, base)
    e1 = (math.exp(-c) - math.exp(-d)) / (d - c)
    e2 = (math.exp(-2 * c) - math.exp(-2 * d)) / (2 * (d - c))
    x1, vx = (a + b) / 2, (b - a) ** 2 / 12
    vy = (vx + x1**2) * e2 - x1**2 * e1**2
    s_x, s_k = e1**2 * vx / vy, x1**2 * (e2 - e1**2) / vy
    exact = {"S1": [s_x, s_k], "ST": [1 - s_k, 1 - s_x]}
    assert result.inputs == ["initial.x", "parameters.k"] and result.runs == 512 * 4 and result.failed == []
    found = result.indices["x_final"]
    for key, values in exact.items():
        for i, want in enumerate(values):
            assert abs(found[key][i] - want) < max(0.04, 2 * found[f"{key}_conf"][i]), (key, i, found, exact)


def test_morris_screening_ranks_an_input_without_effect_last():
    doc = scenario(
        factors=[{"path": "initial.x", "range": [0.999, 1.001]}, {"path": "parameters.k", "range": [0.1, 2.0]}],
        uncertainty={},
        sensitivity={"method": "morris", "trajectories": 20, "levels": 4},
    )
    spec, base = parse_scenario_spec(doc)
    result = sensitivity(spec, base)
    mu = dict(zip(result.inputs, result.indices["x_final"]["mu_star"], strict=True))
    assert mu["parameters.k"] > 100 * mu["initial.x"] > 0


# -- uncertainty from a calibrated set's covariance ---------------------------------------------------------------
def test_a_calibrated_set_is_sampled_jointly_from_its_covariance(tmp_path, monkeypatch):
    """The set fitted log(k) with centre log(0.4) and variance 0.04: the sampled k (read back from each case's
    x(T) = exp(-k T)) is lognormal with those log-moments."""
    monkeypatch.setenv("BIOPROCESS_TWIN_MODELS", str(tmp_path))
    folder = tmp_path / MODEL
    folder.mkdir()
    document = {
        "kind": "calibrated parameter set",
        "model": MODEL,
        "base_version": "1.0.0",
        "version": "1.0.0+cal.1",
        "parameters": {"k": 0.4},
        "covariance": {"names": ["k"], "space": {"k": "log"}, "centre": [math.log(0.4)], "matrix": [[0.04]]},
    }
    (folder / "1.0.0+cal.1.yaml").write_text(yaml.safe_dump(document))
    limit = math.exp(-0.45)  # x(1) >= limit when k <= 0.45: about 72 % of the draws
    doc = scenario(
        samples=1000,
        factors=[{"path": "initial.x", "levels": [1.0]}],
        responses=[{"kpi": "x_final", "min": limit}],
        uncertainty={"calibrated": True},
    )
    doc["base"] = doc["base"] | {"version": "1.0.0+cal.1"}
    spec, base = parse_scenario_spec(doc)
    point, _ = monte_carlo(spec, base, {"initial.x": 1.0}, Execution())
    assert point.failed == 0
    exact = float(norm.cdf((math.log(0.45) - math.log(0.4)) / 0.2))  # ln k ~ N(ln 0.4, 0.2^2)
    assert 0.6 < exact < 0.8
    assert abs(point.probability.p - exact) < 4 * math.sqrt(exact * (1 - exact) / 1000)  # four standard errors
    bad = dict(document, covariance={"names": ["k"], "space": {}, "centre": [0.0], "matrix": [[-1.0]]})
    (folder / "1.0.0+cal.2.yaml").write_text(yaml.safe_dump(bad | {"version": "1.0.0+cal.2"}))
    doc["base"]["version"] = "1.0.0+cal.2"
    spec, base = parse_scenario_spec(doc)
    with pytest.raises(SpecError) as info:
        monte_carlo(spec, base, {"initial.x": 1.0})
    assert info.value.errors[0][0] == "uncertainty.calibrated" and "positive semi-definite" in info.value.errors[0][1]
