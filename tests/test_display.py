"""Display-ready values (bioprocess_twin.core.display): KPI names and units, units as people write them, numbers.

The KPI units are checked on the KPIs of real runs of every shipped process model: each must be units pint
reads, of the dimension the key says, and a value in them must convert as pint converts it.
"""

from __future__ import annotations

import math

import pytest

from bioprocess_twin import catalogue
from bioprocess_twin.core.display import (
    describe_kpis,
    display_units,
    format_bounds,
    format_percent,
    format_value,
    headline_kpis,
    headline_series,
    infinities_as_text,
    is_length,
    kpi_label,
    percent,
    series_label,
)
from bioprocess_twin.core.units import ureg


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name in catalogue.names():
        run = catalogue.get(name).run()
        assert run.ok, (name, run.result.message)
        out[name] = run
    return out


def quantity(units: str):
    """One of ``units`` as a pint quantity (a scale factor such as 1e6/mL is allowed)."""
    return ureg.parse_expression(units) * 1.0 if units[0].isdigit() else ureg.Quantity(1.0, units)


def test_every_kpi_of_every_shipped_process_has_units_pint_reads(runs):
    for name, run in runs.items():
        views = describe_kpis(run.kpis)
        assert [v.key for v in views] == list(run.kpis)
        for v in views:
            assert v.label and v.text, (name, v.key)
            if v.units:
                quantity(v.units)  # raises on units pint cannot read
                assert v.display_units, (name, v.key)


DIMENSIONS = {
    "nm": "[length]",
    "um": "[length]",
    "m": "[length]",
    "s": "[time]",
    "ms": "[time]",
    "h": "[time]",
    "day": "[time]",
    "L": "[length] ** 3",
    "g": "[mass]",
    "mM": "[substance] / [length] ** 3",
    "percent": "",
    "degC": "[temperature]",
}


@pytest.mark.parametrize(
    "key, label, units",
    [
        ("z_average_nm", "Z-average", "nm"),
        ("T_out_C", "Outlet T", "degC"),
        ("kla_1_per_h", "kLa", "1/h"),
        ("tip_speed_m_per_s", "tip speed", "m/s"),
        ("power_per_volume_W_per_m3", "power per volume", "W/m^3"),
        ("particles_per_mL", "particles", "1/mL"),
        ("vesicle_count_per_mL", "vesicle count", "1/mL"),
        ("peak_vcd_1e6_per_mL", "peak vcd", "1e6/mL"),
        ("ivcd_1e6_cell_day_per_mL", "ivcd", "1e6*cell*day/mL"),
        ("final_titre_g_per_L", "final titre", "g/L"),
        ("min_DO_pct", "min DO", "percent"),
        ("mixing_time_ms", "mixing time", "ms"),
        ("viscous_d_nm", "viscous d", "nm"),
        ("duration_days", "duration", "day"),
        ("energy_density_MJ_per_m3", "energy density", "MJ/m^3"),
        ("final_flux_L_per_m2_h", "final flux", "L/(m^2*h)"),
        ("pdi", "PDI", ""),
        ("breakage_per_pass", "breakage per pass", ""),
        ("S_max", "S max", ""),
        ("fill.doses", "fill: doses", ""),
        ("homogenizer.z_average_nm", "homogenizer: Z-average", "nm"),
    ],
)
def test_kpi_keys_give_their_name_and_units(key, label, units):
    assert kpi_label(key) == (label, units)


def test_kpi_units_convert_as_pint_converts(runs):
    cho = runs["cho_fed_batch"].kpis
    peak = ureg.Quantity(cho["peak_vcd_1e6_per_mL"], "1/mL") * 1e6
    shown = cho["peak_vcd_1e6_per_mL"] * quantity(kpi_label("peak_vcd_1e6_per_mL")[1])
    assert shown.to("1/mL").magnitude == pytest.approx(peak.magnitude, rel=1e-12)
    kla = cho["kla_1_per_h"] * quantity(kpi_label("kla_1_per_h")[1])
    assert kla.to("1/s").magnitude == pytest.approx(cho["kla_1_per_h"] / 3600, rel=1e-12)
    for name, run in runs.items():
        for key in run.kpis:
            units = kpi_label(key)[1]
            if units in DIMENSIONS:
                assert str(quantity(units).dimensionality) == (DIMENSIONS[units] or "dimensionless"), (name, key)


def test_headline_kpis_put_size_and_spread_first(runs):
    emulsion = runs["emulsion_homogenizer"].kpis
    assert headline_kpis(emulsion, 4) == ["z_average_nm", "pdi", "span", "d50_nm"]
    alum = runs["alum_alooh"].kpis
    assert headline_kpis(alum, 3) == ["span", "d50_um", "d90_um"]
    cho = runs["cho_fed_batch"].kpis
    assert headline_kpis(cho, 3) == list(cho)[:3]  # nothing to put first: the model's order


def test_headline_series_pick_one_size_and_one_spread_column(runs):
    series = runs["emulsion_homogenizer"].series
    assert headline_series(list(series.columns)) == ["z_average_nm", "pdi"]
    units = series.attrs["units"]
    assert series_label("z_average_nm", units["z_average_nm"]) == "Z-average (nm)"
    assert series_label("T_outlet_C", units["T_outlet_C"]) == "T outlet (°C)"
    assert series_label("pdi", units["pdi"]) == "PDI"
    assert is_length(units["z_average_nm"]) and not is_length(units["pdi"]) and not is_length("degC")


@pytest.mark.parametrize(
    "units, shown",
    [
        ("degC", "°C"),
        ("um", "µm"),
        ("us", "µs"),
        ("kg/m^3", "kg/m³"),
        ("m^3", "m³"),
        ("mPa*s", "mPa·s"),
        ("umol/m^2", "µmol/m²"),
        ("percent", "%"),
        ("1", ""),
        ("", ""),
        ("dimensionless", ""),
        ("1/h", "1/h"),
        ("1e6/mL", "10⁶/mL"),
        ("L/(m^2*h)", "L/(m²·h)"),
        ("W/kg", "W/kg"),
    ],
)
def test_units_are_shown_as_people_write_them(units, shown):
    assert display_units(units) == shown


def test_numbers_and_infinities_as_text():
    assert format_value(None) == "—"
    assert format_value(math.inf) == "inf" and format_value(-math.inf) == "-inf" and format_value(math.nan) == "nan"
    assert format_value("inf") == "inf" and format_value("-inf") == "-inf"
    assert format_value(123456.789) == "1.235e+05" and format_value(0.052) == "0.052" and format_value(7) == "7"
    assert format_value("10 of 10") == "10 of 10"
    assert format_bounds(100, 2000) == "[100, 2000]"
    assert format_bounds(None, 10) == "[−∞, 10]" and format_bounds(0, None) == "[0, ∞]"
    assert format_bounds(-math.inf, math.inf) == "[−∞, ∞]"
    doc = {"estimates": [{"value": 1.0, "ci_low": -math.inf, "ci_high": math.inf, "label": "k"}], "n": 3}
    assert infinities_as_text(doc) == {
        "estimates": [{"value": 1.0, "ci_low": "-inf", "ci_high": "inf", "label": "k"}],
        "n": 3,
    }
    assert doc["estimates"][0]["ci_high"] == math.inf  # a copy: the original keeps its floats


def test_fractions_are_shown_in_percent_converted_by_pint():
    assert percent(0.853) == pytest.approx(ureg.Quantity(0.853, "dimensionless").to("percent").magnitude, rel=1e-14)
    assert percent(1.0) == pytest.approx(100.0, rel=1e-14) and percent(0.0) == 0.0
    assert format_percent(0.853) == "85 %" and format_percent(1.0) == "100 %"
    assert format_percent(1.2e-4, ".3g") == "0.012 %"
