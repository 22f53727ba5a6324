"""Scale-up values in the units people edit them in (scaleup/edits.py), the sized operating point in rpm and
L/min, and the ratio rows: every conversion is checked against pint, every spec runs through ``translate``."""

from __future__ import annotations

import math

import pytest
import yaml

from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.units import ureg
from bioprocess_twin.scaleup import ScaleUpSpecError, translate
from bioprocess_twin.scaleup.edits import FIELDS, field_values, with_field_values
from bioprocess_twin.scaleup.translate import RATIO_QUANTITIES


def example(name: str) -> dict:
    return yaml.safe_load(example_path("specs", name).read_text())


@pytest.fixture(scope="module")
def tank():
    return example("scaleup_cho_2000L.yaml")


@pytest.fixture(scope="module")
def homogenizer():
    return example("scaleup_homogenizer.yaml")


def test_field_values_are_the_specs_values_in_the_fields_units(tank, homogenizer):
    values = field_values(tank)
    assert list(values) == [f.path for f in FIELDS["stirred_tank"]]
    assert values["stirred_tank.target_volume"] == 2000 and values["stirred_tank.agitation"] == 150
    assert values["stirred_tank.oxygen.our"] == 1.0 and values["stirred_tank.vvm"] == 0.04
    assert values["stirred_tank.criterion"] == "power_per_volume"
    hom = field_values(homogenizer)
    assert hom["homogenizer.target.flow_rate"] == 100 and hom["homogenizer.target.batch_volume"] == 100
    assert hom["homogenizer.lab.pressure"] == 1000 and hom["homogenizer.lab.n_passes"] == 6


@pytest.mark.parametrize(
    "path, text, units",
    [
        ("stirred_tank.target_volume", "2.5 m^3", "L"),
        ("stirred_tank.agitation", "2.5 rps", "rpm"),
        ("stirred_tank.oxygen.our", "0.5 mol/m^3/h", "mmol/L/h"),
        ("stirred_tank.target_volume", "80 gallon", "L"),
    ],
)
def test_field_values_convert_as_pint_converts(tank, path, text, units):
    spec = with_field_values(tank, {})
    *parents, leaf = path.split(".")
    node = spec
    for key in parents:
        node = node[key]
    node[leaf] = text
    number, unit = text.split(" ", 1)
    assert field_values(spec)[path] == pytest.approx(ureg.Quantity(float(number), unit).to(units).magnitude, rel=1e-9)


def test_edited_values_are_written_with_their_units_and_run(tank):
    spec = with_field_values(
        tank,
        {
            "stirred_tank.criterion": "speed",
            "stirred_tank.target_volume": 10000,
            "stirred_tank.agitation": 150,
            "stirred_tank.vvm": 0.04,
            "stirred_tank.oxygen.our": "",
        },
    )
    case = spec["stirred_tank"]
    assert case["target_volume"] == "10000 L" and case["agitation"] == "150 rpm" and case["vvm"] == 0.04
    assert "oxygen" not in case and "oxygen" in tank["stirred_tank"]  # the original is not changed
    assert spec["title"] == "50 L -> 10000 L at constant speed"
    result = translate(spec)
    assert result.design is None and result.criterion == "speed"
    assert result.row("volume")["target"] == pytest.approx(ureg.Quantity(10000, "L").to("m^3").magnitude)
    assert result.row("agitation_rpm")["ratio"] == pytest.approx(1.0)
    assert field_values(spec)["stirred_tank.target_volume"] == 10000


def test_an_emptied_field_is_named_by_the_spec_error(tank, homogenizer):
    with pytest.raises(ScaleUpSpecError) as info:
        translate(with_field_values(tank, {"stirred_tank.target_volume": None}))
    assert "stirred_tank.target_volume" in [f for f, _ in info.value.errors]
    spec = with_field_values(homogenizer, {"homogenizer.target.batch_volume": 1000, "homogenizer.lab.n_passes": 6})
    assert spec["homogenizer"]["target"]["batch_volume"] == "1000 L" and spec["title"] == homogenizer["title"]
    assert translate(spec).row("processing_time")["target"] == pytest.approx(60.0)  # 6 x 1000 L at 100 L/h


def test_the_sized_operating_point_in_rpm_and_L_per_min_matches_pint(tank):
    result = translate(tank)
    design = result.design
    assert design["ok"]
    rpm = ureg.Quantity(design["N"], "1/s").to("1/min").magnitude
    l_per_min = ureg.Quantity(design["Qg"], "m^3/s").to("L/min").magnitude
    assert design["agitation_rpm"] == pytest.approx(rpm, rel=1e-12)
    assert design["gas_flow_L_per_min"] == pytest.approx(l_per_min, rel=1e-12)
    assert design["agitation_rpm"] == pytest.approx(result.row("agitation_rpm")["optimized"], rel=1e-9)
    assert design["gas_flow_L_per_min"] == pytest.approx(result.row("gas_flow")["optimized"], rel=1e-9)
    assert f"{rpm:.4g} rpm" in design["text"] and f"{l_per_min:.4g} L/min" in design["text"]
    assert "kla >= required" in design["text"]


def test_ratio_rows_are_the_story_quantities_with_a_positive_ratio(tank, homogenizer):
    for spec in (tank, homogenizer):
        result = translate(spec)
        shown = result.ratio_rows()
        assert shown and all(r["quantity"] in RATIO_QUANTITIES for r in shown)
        assert all(math.isfinite(r["ratio"]) and r["ratio"] > 0 for r in shown)
        expected = [
            r["quantity"]
            for r in result.rows
            if r["quantity"] in RATIO_QUANTITIES and r["lab"] != 0 and r["target"] / r["lab"] > 0
        ]
        assert [r["quantity"] for r in shown] == expected


def test_bad_edits_name_their_field():
    with pytest.raises(ParameterError) as err:
        field_values({"kind": "stirred_tank", "stirred_tank": {"target_volume": "12 parsecs"}})
    assert [f for f, _ in err.value.errors] == ["stirred_tank.target_volume"]
    with pytest.raises(ParameterError, match="kind"):
        field_values({"kind": "centrifuge"})
    with pytest.raises(ParameterError) as err:
        with_field_values({"kind": "stirred_tank", "stirred_tank": 5}, {"stirred_tank.target_volume": 100})
    assert [f for f, _ in err.value.errors] == ["stirred_tank"]
