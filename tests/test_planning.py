"""Campaign-planning MILP (line/planning.py) against optima worked out by hand, with HiGHS."""

from __future__ import annotations

from collections import defaultdict

import pytest

from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import SpecError
from bioprocess_twin.line.plan_spec import load_plan_spec, parse_plan_spec
from bioprocess_twin.line.planning import plan

PLANS = example_path("plans")


@pytest.fixture(scope="module")
def small():
    return load_plan_spec(PLANS / "two_step_small.yaml")


@pytest.fixture(scope="module")
def campaign():
    return plan(load_plan_spec(PLANS / "vaccine_campaign.yaml"))


def shared_line(
    changeover_h: float, changeover_cost: float = 1000.0, max_modules: int = 2, demand_a: float = 4, demand_b: float = 4
) -> dict:
    """One module type shared by two one-step products; 4 weeks of 100 h; 40 h per batch."""
    step = {
        "module": "line",
        "batch_h": 35,
        "cleaning_h": 5,
        "changeover_h": changeover_h,
        "changeover_cost": changeover_cost,
    }
    return {
        "name": "shared",
        "horizon_weeks": 4,
        "hours_per_week": 100,
        "module_types": [{"name": "line", "capex_per_module": 13000, "max_modules": max_modules}],
        "products": [
            {"name": "A", "demand_doses": demand_a, "doses_per_batch": 1, "steps": [step]},
            {"name": "B", "demand_doses": demand_b, "doses_per_batch": 1, "steps": [step]},
        ],
        "solver": {"mip_rel_gap": 0},
    }


# -- optimality on cases checked by hand ---------------------------------------------------------
def test_small_plan_hand_optimum(small):
    """10 batches; a reactor starts at most 6 in weeks 1-3 (10 h set-up + 6 x 50 h <= 300 h + spill),
    so 2 reactors; 1 filler. Cost 2 x 1000 + 500 + 10 x 150 + 2 x 200 = 4400."""
    r = plan(small)
    assert r.status == "optimal"
    assert r.modules == {"reactor": 2, "filler": 1}
    assert r.batches == {"vaccine_A": 10}
    assert r.cost_breakdown == pytest.approx({"capex": 2500, "fixed_opex": 0, "batches": 1500, "changeovers": 400})
    assert r.total_cost == pytest.approx(4400)
    assert r.doses["vaccine_A"] >= 10000
    assert r.solver["variables"] > 0 and r.solver["constraints"] > 0


@pytest.mark.parametrize(
    "demand, reactors, cost", [(6000, 1, 1000 + 500 + 6 * 150 + 200), (7000, 2, 2000 + 500 + 7 * 150 + 400)]
)
def test_one_reactor_holds_six_batches(small, demand, reactors, cost):
    """Week 1: 10 h set-up + 2 batches (110 h, 10 h spill); weeks 2 and 3 the same: 6 batches.
    Without the spill into the next week it would be 5."""
    r = plan(small.with_demand({"vaccine_A": demand}))
    assert r.status == "optimal"
    assert r.modules["reactor"] == reactors
    assert r.total_cost == pytest.approx(cost)


def test_changeover_cost_gives_campaigns():
    """8 batches x 40 h = 320 h + two 20 h set-ups fit one module's 400 h: one campaign per product."""
    r = plan(parse_plan_spec(shared_line(changeover_h=20)))
    assert r.status == "optimal"
    assert r.modules == {"line": 1}
    assert r.changeovers == 2
    assert r.total_cost == pytest.approx(1000 + 2 * 1000)
    products = [row["product"] for row in r.timeline if row["kind"] == "batch"]
    assert products.count("A") == 4 and products.count("B") == 4
    switches = sum(a != b for a, b in zip(products, products[1:]))
    assert switches == 1  # A...A B...B (or B then A)


def test_changeover_time_forces_a_second_module():
    """With 50 h set-ups one module needs 320 + 100 = 420 h > 400 h; two dedicated modules cost 4000."""
    assert plan(parse_plan_spec(shared_line(changeover_h=0, changeover_cost=0))).modules == {"line": 1}
    r = plan(parse_plan_spec(shared_line(changeover_h=50)))
    assert r.status == "optimal"
    assert r.modules == {"line": 2}
    assert r.total_cost == pytest.approx(2 * 1000 + 2 * 1000)
    on_module = defaultdict(set)
    for row in r.timeline:
        on_module[row["module"]].add(row["product"])
    assert sorted(map(sorted, on_module.values())) == [["A"], ["B"]]  # each module dedicated


# -- infeasible demand ---------------------------------------------------------------------------
def test_infeasible_demand_names_the_module_type(small):
    """20 batches need 20 x 50 + 3 x 10 = 1030 reactor hours; 3 reactors x 3 weeks x 100 h = 900."""
    r = plan(small.with_demand({"vaccine_A": 20000}))
    assert r.status == "infeasible" and not r.ok
    (entry,) = r.infeasibility["products"]
    assert entry["product"] == "vaccine_A" and entry["module_type"] == "reactor"
    assert entry["max_modules"] == 3
    assert entry["hours_needed"] == pytest.approx(1030) and entry["hours_available"] == pytest.approx(900)
    assert entry["max_doses"] == pytest.approx(18000)  # 3 reactors x 6 batches, from the shortfall model
    assert (
        "product vaccine_A: demand 20,000 doses, at most 18,000 doses possible: module type reactor "
        "(max 3 modules) limits, 1,030 h needed vs 900 h available"
    ) in r.message
    assert r.to_dict()["status"] == "infeasible"


def test_shared_module_infeasibility_names_both_products():
    """Each product alone fits one line, together 12 x 40 + 2 x 20 = 520 h > 400 h. The shortfall
    model keeps B (fraction missed counts per product) and makes 5 of A's 8 batches."""
    r = plan(parse_plan_spec(shared_line(changeover_h=20, max_modules=1, demand_a=8, demand_b=4)))
    assert r.status == "infeasible"
    (entry,) = r.infeasibility["products"]
    assert entry["product"] == "A" and entry["module_type"] == "line" and entry["shared_with"] == ["B"]
    assert entry["max_doses"] == 5 and entry["max_doses_alone"] >= 8
    assert entry["hours_needed"] == pytest.approx(520) and entry["hours_available"] == pytest.approx(400)
    assert "shared with B" in r.message


# -- bad specs -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change, field, words",
    [
        (
            lambda d: d["products"][0]["steps"][1].update(module="freezer"),
            "products.0.steps.1.module",
            "unknown module type 'freezer'",
        ),
        (lambda d: d["products"][0]["steps"][0].update(batch_h=-4), "products.0.steps.0.batch_h", "greater than 0"),
        (lambda d: d["module_types"][0].update(min_modules=5), "module_types.0", "min_modules"),
        (lambda d: d["module_types"][1].update(max_modules=0), "module_types.1.max_modules", "greater than or equal"),
        (lambda d: d["products"][0].pop("doses_per_batch"), "products.0.doses_per_batch", "required"),
        (lambda d: d.update(horizon_weeks=0), "horizon_weeks", "greater than or equal"),
        (
            lambda d: d["products"][0]["steps"][0].update(changeover_h=150),
            "products.0.steps.0.changeover_h",
            "longer than a week",
        ),
        (lambda d: d["module_types"][0].update(speed=3), "module_types.0.speed", "not permitted"),
    ],
)
def test_bad_spec_names_the_field(small, change, field, words):
    data = small.model_dump()
    change(data)
    with pytest.raises(SpecError) as err:
        parse_plan_spec(data)
    fields = dict(err.value.errors)
    assert field in fields, err.value.errors
    assert words in fields[field]


def test_unknown_product_in_demand_is_named(small):
    with pytest.raises(SpecError) as err:
        small.with_demand({"vaccine_Z": 1})
    assert err.value.errors == [("demand.vaccine_Z", "unknown product")]


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError) as err:
        load_plan_spec(tmp_path / "nope.yaml")
    assert err.value.errors == [("file", "not found")]


# -- the schedule and its Gantt timeline ---------------------------------------------------------
def test_demo_campaign_timeline_is_consistent(campaign):
    r, spec = campaign, campaign.spec
    H, N = spec.hours_per_week, spec.horizon_weeks
    assert r.ok and r.solver["mip_gap"] <= spec.solver.mip_rel_gap + 1e-9
    assert all(r.doses[p.name] >= p.demand_doses for p in spec.products)
    by_module = defaultdict(list)
    for row in r.timeline:
        by_module[row["module_type"], row["module"]].append(row)
    for (m, k), rows in by_module.items():
        assert 1 <= k <= r.modules[m], f"{m} module {k} used but only {r.modules[m]} installed"
        rows.sort(key=lambda row: row["start_h"])
        for a, b in zip(rows, rows[1:]):
            assert b["start_h"] >= a["end_h"] - 1e-9, f"{m} #{k} overbooked: {a} then {b}"
        for row in rows:
            assert row["end_h"] <= N * H + 1e-9
            if row["kind"] == "batch":  # starts in its MILP week; cleaning follows at once
                assert (row["week"] - 1) * H - 1e-9 <= row["start_h"] < row["week"] * H
                step = next(s for s in spec.product(row["product"]).steps if s.module == m)
                assert row["end_h"] - row["start_h"] == pytest.approx(step.batch_h)
                if step.cleaning_h:
                    cleaning = [c for c in rows if c["kind"] == "cleaning" and c["start_h"] == row["end_h"]]
                    assert len(cleaning) == 1
                    assert cleaning[0]["end_h"] - cleaning[0]["start_h"] == pytest.approx(step.cleaning_h)
    # every step of a product runs its batches; the timeline and the weekly schedule agree
    for p in spec.products:
        for s in p.steps:
            on_step = [
                row
                for row in r.timeline
                if row["kind"] == "batch" and row["product"] == p.name and row["module_type"] == s.module
            ]
            assert len(on_step) == r.batches[p.name]
            assert (
                sum(e["batches"] for e in r.schedule if e["product"] == p.name and e["module_type"] == s.module)
                == r.batches[p.name]
            )
    # utilisation from the timeline, and the bottleneck is the busiest type
    assert all(0 <= u <= 1 for u in r.utilisation.values())
    assert r.bottleneck["module_type"] == max(r.utilisation, key=r.utilisation.get)
    assert r.total_cost == pytest.approx(sum(r.cost_breakdown.values()))


def test_demo_week_precedence(campaign):
    """A batch's step j+1 week comes at least lag_j weeks after its step j week (cumulative counts)."""
    from bioprocess_twin.line.planning import step_lags

    spec = campaign.spec
    lags = step_lags(spec)
    for p in spec.products:
        for prev, nxt in zip(p.steps, p.steps[1:]):

            def upto(module, t, product=p.name):
                return sum(
                    e["batches"]
                    for e in campaign.schedule
                    if e["product"] == product and e["module_type"] == module and e["week"] <= t
                )

            for t in range(1, spec.horizon_weeks + 1):
                assert upto(nxt.module, t) <= upto(prev.module, t - lags[p.name, prev.module])
