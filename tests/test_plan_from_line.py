"""Plan durations come from a simulated line batch, and the MILP plans with them."""

import math

import pytest
import yaml

from bioprocess_twin.core import ParameterError
from bioprocess_twin.core.resources import example_path, shipped_models
from bioprocess_twin.core.spec import SpecError
from bioprocess_twin.line import plan_from_line
from bioprocess_twin.line.definition import load_line
from bioprocess_twin.line.flowsheet import run_line
from bioprocess_twin.line.plan_from_line import product_from_line, resolve_line_products
from bioprocess_twin.line.plan_spec import ModuleType, PlanSpec, load_plan_spec, parse_plan_spec
from bioprocess_twin.line.planning import plan


@pytest.fixture(scope="module")
def batch():
    return run_line(load_line("adjuvant_only"))


UNITS = {"premix": "emulsion_skid", "homogenizer": "emulsion_skid", "sterile_filter": "filling", "fill": "filling"}


def test_steps_take_the_simulated_unit_durations(batch):
    product = product_from_line("adjuvant", 2e6, batch, UNITS, step_settings={"filling": {"cleaning_h": 4}})
    skid, filling = product.steps
    r, s = batch.results, batch.starts
    assert skid.module == "emulsion_skid" and filling.module == "filling"
    assert skid.batch_h == pytest.approx(s["homogenizer"] + r["homogenizer"].duration - s["premix"])
    assert filling.batch_h == pytest.approx(s["fill"] + r["fill"].duration - s["sterile_filter"])
    assert filling.cleaning_h == 4
    assert product.doses_per_batch == r["fill"].kpis["doses"]


def test_the_milp_plans_with_line_durations(batch):
    product = product_from_line("adjuvant", 2e6, batch, UNITS)
    spec = PlanSpec(
        name="from line",
        horizon_weeks=8,
        hours_per_week=160,
        module_types=[
            ModuleType(name="emulsion_skid", capex_per_module=52000, max_modules=3),
            ModuleType(name="filling", capex_per_module=104000, max_modules=3),
        ],
        products=[product],
    )
    result = plan(spec)
    assert result.ok, result.message
    need = math.ceil(2e6 / product.doses_per_batch)  # 13 batches of ~161 k doses
    doc = result.to_dict()
    assert doc["batches"]["adjuvant"] == need
    # 13 x ~11 h of filling and 13 x ~6 h of emulsion fit one module of each in 8 x 160 h
    assert doc["modules"] == {"emulsion_skid": 1, "filling": 1}


def test_unknown_units_are_named(batch):
    with pytest.raises(ParameterError) as err:
        product_from_line("adjuvant", 1e6, batch, {"homogeniser": "skid"})
    assert err.value.errors[0][0] == "unit_modules.homogeniser"


# -- plan specs that name a line (products[].from_line) ---------------------------------------------------------
LINE_PLAN = example_path("plans", "line_products.yaml")


def adjuvant_spec(**from_line) -> dict:
    return {
        "horizon_weeks": 8,
        "hours_per_week": 160,
        "module_types": [{"name": "emulsion_skid", "max_modules": 2}, {"name": "filling", "max_modules": 2}],
        "products": [
            {
                "name": "adjuvant",
                "demand_doses": 1e6,
                "from_line": {"line": "adjuvant_only", "unit_modules": dict(UNITS)} | from_line,
            }
        ],
    }


def test_a_spec_naming_a_line_plans_with_its_simulated_batch(batch, monkeypatch):
    runs, batches = [], {}

    def recording(definition):
        runs.append(definition.name)
        batches[definition.name] = run_line(definition)
        return batches[definition.name]

    monkeypatch.setattr(plan_from_line, "run_line", recording)
    given = load_plan_spec(LINE_PLAN)
    assert runs == []  # parsing a spec runs nothing
    spec = resolve_line_products(given)
    assert sorted(runs) == ["adjuvant_only", "adjuvanted_vaccine"]  # each line simulated once
    adjuvant = spec.product("adjuvant_only")
    expected = product_from_line("x", 1, batch, UNITS)
    assert [s.batch_h for s in adjuvant.steps] == pytest.approx([s.batch_h for s in expected.steps])
    assert adjuvant.doses_per_batch == expected.doses_per_batch
    assert adjuvant.steps[1].cleaning_h == 6 and adjuvant.steps[1].changeover_cost == 8000
    assert adjuvant.source.startswith("simulated batch of line adjuvant_only@1.0.0")
    vaccine = spec.product("adjuvanted_vaccine")
    assert [s.module for s in vaccine.steps] == [
        "bioreactor",
        "purification",
        "emulsion_skid",
        "formulation",
        "filling",
    ]
    # the bioreactor module is held for the whole fed-batch, which the viability trigger ends (harvest)
    bioreactor = batches["adjuvanted_vaccine"].results["bioreactor"]
    assert vaccine.steps[0].batch_h == pytest.approx(bioreactor.duration, rel=1e-12)
    assert bioreactor.phases[-1].ended_by == "condition"
    result = plan(spec)
    assert result.ok, result.message
    assert result.to_dict()["batches"] == {
        "adjuvanted_vaccine": math.ceil(8e6 / vaccine.doses_per_batch),
        "adjuvant_only": math.ceil(2e6 / adjuvant.doses_per_batch),
    }


def test_relative_line_files_start_from_the_spec_folder(tmp_path, batch):
    line = yaml.safe_load((shipped_models() / "lines" / "adjuvant_only" / "1.0.0.yaml").read_text())
    (tmp_path / "my_line.yaml").write_text(yaml.safe_dump(line))
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(adjuvant_spec(line="my_line.yaml")))
    product = resolve_line_products(load_plan_spec(tmp_path / "plan.yaml")).products[0]
    assert product.doses_per_batch == batch.kpis()["fill.doses"]


@pytest.mark.parametrize(
    "change, field, words",
    [
        (
            lambda p: p["from_line"]["unit_modules"].update(premix="mixer"),
            "products.0.from_line.unit_modules.premix",
            "unknown module type 'mixer'",
        ),
        (
            lambda p: p["from_line"]["unit_modules"].update(homogeniser="emulsion_skid"),
            "products.0.from_line.unit_modules.homogeniser",
            "not a unit of line 'adjuvant_only'",
        ),
        (lambda p: p["from_line"].update(line="adjuvant_only@9"), "products.0.from_line.line", "no version 9"),
        (
            lambda p: p["from_line"].update(doses_kpi="fill.potency"),
            "products.0.from_line.doses_kpi",
            "no KPI 'fill.potency'",
        ),
        (
            lambda p: p["from_line"].update(step_settings={"bioreactor": {"cleaning_h": 1}}),
            "products.0.from_line.step_settings.bioreactor",
            "no unit of the line runs on",
        ),
        (lambda p: p.update(doses_per_batch=1000), "products.0.from_line", "either from_line or doses_per_batch"),
        (lambda p: p.pop("from_line"), "products.0.steps", "required (or from_line"),
    ],
)
def test_bad_line_sources_name_the_field(change, field, words):
    data = adjuvant_spec()
    change(data["products"][0])
    with pytest.raises(SpecError) as err:
        resolve_line_products(parse_plan_spec(data))
    fields = dict(err.value.errors)
    assert field in fields and words in fields[field], err.value.errors
