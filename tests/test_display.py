"""Display-ready values (bioprocess_twin.core.display): KPI names and units, units as people write them, numbers.

The KPI units are checked on the KPIs of real runs of every shipped process model: each must be units pint
reads, of the dimension the key says, and a value in them must convert as pint converts it.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioprocess_twin import catalogue
from bioprocess_twin.core.display import (
    UNIT_WORDS,
    NumberError,
    describe_kpi,
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
    parse_number,
    percent,
    series_label,
    split_kpi_key,
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
        ("peak_vcd_1e6_per_mL", "peak VCD", "1e6/mL"),
        ("ivcd_1e6_cell_day_per_mL", "IVCD", "1e6*cell*day/mL"),
        ("bioreactor.peak_vcd_1e6_per_mL", "bioreactor: peak VCD", "1e6/mL"),
        ("bioreactor.kla_1_per_h", "bioreactor: kLa", "1/h"),
        ("max_o2_fraction", "max O₂ fraction", ""),
        ("capture.load_g_per_L_resin", "capture: load per resin volume", "g/L"),
        ("capture.pool_volume_cv", "capture: pool volume in column volumes", ""),
        ("average_flux_LMH", "average flux", "L/m^2/h"),
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


@pytest.fixture(scope="module")
def lines():
    from bioprocess_twin.line.definition import available_lines, load_line
    from bioprocess_twin.line.flowsheet import run_line

    out = {}
    for name in available_lines():
        result = run_line(load_line(name))
        assert result.ok, (name, result.message)
        out[name] = result
    return out


PREFIXES = ("peak", "max", "min", "final", "mean", "average")


def declared_units(process_name: str) -> dict[str, str]:
    """The units a process model declares for its outputs, by output name."""
    return {o["name"]: o["units"] for o in catalogue.get(process_name).describe().get("outputs", [])}


def declaration(name: str, outputs: dict[str, str]) -> str | None:
    """The declared units of the output a KPI is named after (``stem`` or ``stem_conc``), if there is one. (States
    are not used: a state can share a KPI's name and be another quantity, e.g. nuclei in mol and per mL.)"""
    base = stem(name)
    return outputs.get(base, outputs.get(f"{base}_conc"))


def stem(key: str) -> str:
    """The KPI's name without its units and without a leading peak/max/final...: ``peak_vcd_1e6_per_mL`` -> ``vcd``."""
    words = split_kpi_key(key)[0].split("_")
    while len(words) > 1 and words[0] in PREFIXES:
        words = words[1:]
    return "_".join(words)


def check_kpi(where: str, key: str, series_units: dict[str, str], outputs: dict[str, str]) -> str | None:
    """Check one KPI's label and units; returns how its units were checked against a declaration, if they were."""
    label, units = kpi_label(key.rpartition(".")[2])
    words = label.split()
    assert words, (where, key)
    assert words[-1] not in UNIT_WORDS and words[-1] != "per", (where, key, label)  # no unit word left in the name
    assert not any(w.startswith("1e") or w == "1" for w in words), (where, key, label)
    if units:
        quantity(units)  # pint reads it
        assert display_units(units), (where, key)
    name = key.rpartition(".")[2]
    if name in series_units:  # the KPI is a column of the run's series: the same units
        declared = series_units[name]
        assert quantity(units or "1").to(declared or "dimensionless").magnitude == pytest.approx(1.0), (where, key)
        return "series"
    declared = declaration(name, outputs)
    if declared is not None:  # named after a declared output: the same dimension
        assert quantity(units or "1").dimensionality == quantity(declared or "1").dimensionality, (where, key, units)
        return "output"
    return None


def test_every_kpi_of_every_shipped_model_and_line_has_the_declared_units(runs, lines):
    checked = {"series": 0, "output": 0}
    for name, run in runs.items():
        series_units = run.series.attrs.get("units", {}) if run.series is not None else {}
        for key in run.kpis:
            how = check_kpi(name, key, series_units, declared_units(name))
            if how:
                checked[how] += 1
    for line, result in lines.items():
        doc = result.to_dict(include_series=True)
        for key in result.summary_kpis():
            unit, _, _ = key.rpartition(".")
            kind = result.line.units[unit] if unit else None
            process = getattr(kind, "process", None)
            series_units = ((doc["units"].get(unit) or {}).get("series") or {}).get("units", {}) if unit else {}
            how = check_kpi(f"{line}.{unit}", key, series_units, declared_units(process.name) if process else {})
            if how:
                checked[how] += 1
    # the cross-checks are not vacuous: peak VCD, IVCD, titre, kLa, P/V, tip speed, sizes, yields ...
    assert checked["series"] >= 40 and checked["output"] >= 35, checked
    cho = runs["cho_fed_batch"].kpis
    for key, shown in (("peak_vcd_1e6_per_mL", "10⁶/mL"), ("kla_1_per_h", "1/h"), ("ivcd_1e6_cell_day_per_mL", None)):
        view = describe_kpi(key, cho[key])
        assert shown is None or view.display_units == shown, view
        shown_quantity = quantity(view.units) * view.value
        declared = declaration(key, declared_units("cho_fed_batch"))
        assert shown_quantity.dimensionality == quantity(declared).dimensionality, (key, view.units, declared)


def test_declared_kpi_units_win_over_the_key():
    (view,) = describe_kpis({"peak_vcd_1e6_per_mL": 18.26}, units={"peak_vcd_1e6_per_mL": "Mcount/mL"})
    assert (view.label, view.units, view.text) == ("peak VCD", "Mcount/mL", "18.26")
    (view,) = describe_kpis({"peak_vcd_1e6_per_mL": 18.26})
    assert (view.units, view.display_units) == ("1e6/mL", "10⁶/mL")


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


# -- numbers typed by people -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, value",
    [("1200", 1200.0), (" 1.2e3 ", 1200.0), ("-3", -3.0), ("+3", 3.0), (".5", 0.5), ("5.", 5.0), ("1E-3", 1e-3),
     (7, 7.0), (0.25, 0.25)],
)  # fmt: skip
def test_numbers_people_type_are_read(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize(
    "text, words",
    [("12x0", "not a number"), ("1e", "not a number"), ("--3", "not a number"), ("nan", "not a number"),
     ("inf", "not a number"), ("-inf", "not a number"), ("1e999", "not a finite number"), ("", "empty"),
     ("   ", "empty"), ("1,5", "not a number"), ("0x1A", "not a number"), ("1_000", "not a number"),
     ("١٢", "not a number"), ("12 bar", "not a number"), (float("nan"), "not a finite"), (True, "expected a number"),
     (None, "expected a number"), ([1], "expected a number")],
)  # fmt: skip
def test_malformed_numbers_are_refused_never_coerced(text, words):
    with pytest.raises(NumberError) as info:
        parse_number(text)
    assert words in str(info.value)
    if isinstance(text, str) and text.strip():
        assert repr(text.strip())[1:-1][:17] in str(info.value)  # the message quotes what was typed


def test_whole_numbers_where_counts_are_declared():
    assert parse_number("6", integer=True) == 6 and parse_number("6.0", integer=True) == 6
    with pytest.raises(NumberError, match="not a whole number"):
        parse_number("6.5", integer=True)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="0123456789+-.eEx ,nafi_", max_size=12) | st.floats(allow_nan=True, allow_infinity=True))
def test_a_typed_number_is_read_exactly_or_refused(text):
    """Property: the only outcomes are the float Python reads from the same text (finite) or NumberError."""
    try:
        x = parse_number(text)
    except NumberError:
        return
    assert math.isfinite(x)
    assert x == float(text.strip() if isinstance(text, str) else text)
    if isinstance(text, str):
        assert "x" not in text and "," not in text and "_" not in text and text.strip().count("-") <= 2
