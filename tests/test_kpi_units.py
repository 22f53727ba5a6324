"""Every KPI a process or unit reports has units declared by the library, and results carry them."""

import json
import re
from pathlib import Path

import pytest

from bioprocess_twin import catalogue
from bioprocess_twin.core.display import describe_kpis, kpi_label
from bioprocess_twin.core.kpi_units import declared_units, units_of
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import load_spec
from bioprocess_twin.core.units import si_scale
from bioprocess_twin.line.definition import load_line
from bioprocess_twin.line.flowsheet import LINE_KPI_UNITS, run_line

RECORDED = json.loads((Path(__file__).with_name("data") / "demo_kpis.json").read_text())
_FACTOR = re.compile(r"^1e([-+]?\d+)\s*\*?\s*")

DECLARING = [(f"model {n}", catalogue.kpi_units(n)) for n in catalogue.names()] + [
    (f"unit {k}", catalogue.unit_class(k).kpi_units) for k in catalogue.unit_kinds()
]


def scale(units: str) -> tuple[float, float]:
    """The SI factor and offset of KPI units, with a leading power of ten (``1e6*cell/mL``) folded in."""
    m = _FACTOR.match(units)
    power = 10.0 ** int(m.group(1)) if m else 1.0
    rest = units[m.end() :] if m else units
    factor, offset = si_scale("1" + rest if rest.startswith("/") else rest or "dimensionless")
    return power * factor, offset


def test_a_pattern_declares_keys_the_run_names():
    declared = {"process_time_h": "h", "*_time_h": "h", "c_*_g_per_L": "g/L", "yield": ""}
    assert declared_units("yield", declared) == ""
    assert declared_units("UF1_time_h", declared) == "h"
    assert declared_units("c_squalene_g_per_L", declared) == "g/L"
    assert declared_units("titre", declared) is None
    assert units_of({"DF_time_h": 1.0, "titre": 2.0}, declared, prefix="ufdf.") == {"ufdf.DF_time_h": "h"}


@pytest.mark.parametrize("name, declared", DECLARING, ids=[d[0] for d in DECLARING])
def test_declared_units_are_units_and_agree_with_the_key(name, declared):
    """Each declared unit is one pint reads; where the key's last words name units too, they are the same."""
    assert declared, f"{name} declares no KPI units"
    for key, units in declared.items():
        factor, offset = scale(units)  # raises on text that is not units
        named = kpi_label(key.replace("*", "x"))[1]
        if named:
            assert scale(named) == pytest.approx((factor, offset), rel=1e-12), f"{name}: {key} declared {units}"


@pytest.mark.parametrize("demo", sorted(d for d in RECORDED if d.startswith(("simulate:", "line:"))))
def test_every_kpi_of_every_shipped_demo_is_declared(demo):
    kind, _, stem = demo.partition(":")
    keys = {k.split("/")[2] for k in RECORDED[demo] if k.startswith("/kpis/")}
    assert keys
    if kind == "simulate":
        model = load_spec(example_path("specs", f"{stem}.yaml")).model
        declared = catalogue.kpi_units(model)
        assert [k for k in sorted(keys) if declared_units(k, declared) is None] == []
        return
    units = load_line(stem).units
    for key in keys:
        unit, dot, kpi = key.rpartition(".")
        declared = catalogue.unit_class(units[unit].kind).kpi_units if dot else LINE_KPI_UNITS
        assert declared_units(kpi, declared) is not None, f"{demo}: {key} has no declared units"


def test_a_process_run_and_a_line_run_carry_their_kpi_units():
    run = catalogue.run_spec(load_spec(example_path("specs", "emulsion_homogenizer.yaml")))
    doc = run.to_dict(include_series=False)
    assert set(doc["kpi_units"]) == set(doc["kpis"])
    assert doc["kpi_units"]["T_out_C"] == "degC"

    line = run_line(load_line("adjuvant_only"))
    units = line.kpi_units()
    assert set(units) == set(line.summary_kpis())
    assert units["homogenizer.energy_density_MJ_per_m3"] == "MJ/m^3"
    assert line.to_dict(include_series=False)["units"]["fill"]["kpi_units"]["fill_volume_mL"] == "mL"


def test_declared_units_win_over_the_key_words_when_shown():
    """The CHO VCD is in 10⁶ cells per mL: declared units show the cells the key's words leave out."""
    (view,) = describe_kpis({"peak_vcd_1e6_per_mL": 18.26}, units=catalogue.kpi_units("cho_fed_batch"))
    assert view.display_units == "10⁶ cell/mL"
