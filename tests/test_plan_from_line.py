"""Plan durations come from a simulated line batch, and the MILP plans with them."""
import math

import pytest

from bioprocess_twin.core import ParameterError
from bioprocess_twin.line.definition import load_line
from bioprocess_twin.line.flowsheet import run_line
from bioprocess_twin.line.plan_from_line import product_from_line
from bioprocess_twin.line.plan_spec import ModuleType, PlanSpec
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
    spec = PlanSpec(name="from line", horizon_weeks=8, hours_per_week=160,
                    module_types=[ModuleType(name="emulsion_skid", capex_per_module=52000, max_modules=3),
                                  ModuleType(name="filling", capex_per_module=104000, max_modules=3)],
                    products=[product])
    result = plan(spec)
    assert result.ok, result.message
    need = math.ceil(2e6 / product.doses_per_batch)               # 13 batches of ~161 k doses
    doc = result.to_dict()
    assert doc["batches"]["adjuvant"] == need
    # 13 x ~11 h of filling and 13 x ~6 h of emulsion fit one module of each in 8 x 160 h
    assert doc["modules"] == {"emulsion_skid": 1, "filling": 1}


def test_unknown_units_are_named(batch):
    with pytest.raises(ParameterError) as err:
        product_from_line("adjuvant", 1e6, batch, {"homogeniser": "skid"})
    assert err.value.errors[0][0] == "unit_modules.homogeniser"
