"""The dashboard form -> SimulationSpec adapter, without a browser (fast checks of the same path)."""

from __future__ import annotations

import re

import pytest

from bioprocess_twin import catalogue
from bioprocess_twin.core.parameters import ParameterError
from dashboards.components import forms, kpis

MODEL = "emulsion_homogenizer"


@pytest.fixture(scope="module")
def description():
    from bioprocess_twin import catalogue

    return catalogue.get(MODEL).describe()


def form_values(description, **changes):
    ids, values = [], []
    for _, params in forms.fields(description):
        for p in params:
            ids.append(forms.param_id(p["name"]))
            values.append(changes.get(p["name"], p["default"]))
    return ids, values


def test_form_lists_every_declared_field_once(description):
    names = [p["name"] for _, params in forms.fields(description) for p in params]
    declared = [p["name"] for key in ("inputs", "operating", "parameters") for p in description[key]]
    assert sorted(names) == sorted(declared) and len(set(names)) == len(names)
    assert "pressure" in names and "n_passes" in names
    assert MODEL in catalogue.particle_processes()


def test_only_changed_values_go_into_the_spec(description):
    spec, errors = forms.spec_from_form(MODEL, description, *form_values(description))
    assert errors == [] and spec.inputs == {} and spec.parameters == {}

    spec, errors = forms.spec_from_form(MODEL, description, *form_values(description, pressure=500, n_passes=3))
    assert errors == []
    assert spec.inputs == {"pressure": 500.0}  # a model input
    assert spec.parameters == {"n_passes": 3.0}  # an operating parameter


def test_rejected_box_is_reported_by_name(description):
    # an HTML number box outside min/max reports no value at all
    spec, errors = forms.spec_from_form(MODEL, description, *form_values(description, pressure=None))
    assert spec is None
    assert [f for f, _ in errors] == ["pressure"] and "2000" in errors[0][1]


def test_out_of_bounds_value_that_reaches_the_server_names_the_field(description):
    spec, errors = forms.spec_from_form(MODEL, description, *form_values(description, pressure=5000))
    assert errors == []
    with pytest.raises(ParameterError) as info:
        catalogue.run_spec(spec)
    assert any(f.split(".")[-1] == "pressure" for f, _ in info.value.errors)


def test_kpi_cards_show_the_library_units():
    text = str(kpis.kpi_cards({"z_average_nm": 153.7, "T_out_C": 44.5, "pdi": 0.08, "kla_1_per_h": 9.0}))
    for shown in ("'153.7'", "' nm'", "'44.5'", "' °C'", "'kLa'", "' 1/h'", "kpi-z_average_nm"):
        assert shown in text, shown


@pytest.mark.parametrize("text", ["12x0", "1e", "--3", "nan", "inf", "", "1,5"])
def test_malformed_text_in_a_box_is_refused_by_name(description, text):
    """A text box hands the server what was typed; "12x0" is never read as 120."""
    spec, errors = forms.spec_from_form(MODEL, description, *form_values(description, pressure=text))
    assert spec is None
    assert [f for f, _ in errors] == ["pressure"]
    assert (f"'{text}'" if text else "empty") in errors[0][1] and "[100, 2000] bar" in errors[0][1]
    p = forms.declared(description)["pressure"][1]
    assert forms.field_problem(p, text) is not None
    assert forms.field_problem(p, "1e3") is None and "outside [100, 2000] bar" in forms.field_problem(p, "5000")


def test_typed_text_becomes_the_numbers_of_the_spec(description):
    spec, errors = forms.spec_from_form(MODEL, description, *form_values(description, pressure=" 1.2e3 ", n_passes="4"))
    assert errors == [] and spec.inputs == {"pressure": 1200.0} and spec.parameters == {"n_passes": 4.0}
    _, errors = forms.spec_from_form(MODEL, description, *form_values(description, n_passes="4.5"))
    assert errors and errors[0][0] == "n_passes" and "whole number" in errors[0][1]


def test_a_saved_spec_fills_the_form_only_when_the_form_can_show_all_of_it(description):
    from bioprocess_twin.core.spec import SimulationSpec

    def stored(**fields):
        return SimulationSpec(model=MODEL, **fields).model_dump(mode="json")

    values = forms.form_values(description, stored(inputs={"pressure": "700 bar"}, parameters={"n_passes": 4}))
    assert values["pressure"] == 700 and values["n_passes"] == 4
    assert values["C1"] == forms.declared(description)["C1"][1]["default"]  # the rest at the defaults
    assert forms.form_values(description, stored(inputs={"pressure": "10 MPa"}))["pressure"] == pytest.approx(100)
    for extra in (
        {"solver": {"rtol": 1e-7}},
        {"times": [0, 1, 2]},
        {"initial": {"T": 300}},
        {"inputs": {"n_passes": 4}},  # an operating parameter given as an input
        {"parameters": {"no_such_field": 1}},
    ):
        assert forms.form_values(description, stored(**extra)) is None, extra


def test_results_are_stale_when_an_entry_differs_from_their_inputs():
    shown = {"pressure": 700.0, "n_passes": 4.0}
    assert forms.changed_fields({"pressure": "7e2", "n_passes": "4"}, shown) == []
    assert forms.changed_fields({"pressure": "800", "n_passes": "4"}, shown) == ["pressure"]
    assert forms.changed_fields({"pressure": "70O", "n_passes": "4"}, shown) == ["pressure"]  # unreadable: differs
    assert forms.changed_fields({"pressure": "700"}, shown) == ["n_passes"]
    assert forms.same_entry("", None) and forms.same_entry("power_per_volume", "power_per_volume")
    assert not forms.same_entry("", 0.0) and not forms.same_entry("tip_speed", "power_per_volume")


def test_line_kpi_cards_show_the_library_units():
    text = str(kpis.kpi_cards({"bioreactor.peak_vcd_1e6_per_mL": 18.2595, "bioreactor.kla_1_per_h": 4.33538}, 2))
    for shown in ("'bioreactor: peak VCD'", "'18.26'", "' 10⁶/mL'", "'bioreactor: kLa'", "'4.335'", "' 1/h'"):
        assert shown in text, shown
    assert "kla 1 per" not in text and "vcd 1e6" not in text.lower()


def test_elapsed_progress_counts_seconds_until_the_work_ends():
    """The progress reporter of the plan and scale-up pages: a label with the seconds so far while the block
    runs (waited for, not timed), and the whole block's wall time after it."""
    import threading

    from dashboards.components.common import Stopwatch, elapsed_progress, elapsed_text

    reports: list[tuple[float, str]] = []
    ticked = threading.Event()

    def report(update):
        reports.append(update)
        if re.fullmatch(r"solving… \d+ s", update[1]):
            ticked.set()

    with elapsed_progress(report, "solving", interval=0.01) as watch:
        assert ticked.wait(timeout=60), reports
        inside = watch.seconds
    assert reports[0] == (1.0, "solving…") and all(r[0] == 1.0 for r in reports)
    assert watch.end is not None and watch.seconds >= inside > 0
    assert not any(t.name == "elapsed-progress" for t in threading.enumerate())  # the ticker has stopped
    assert elapsed_text(0.0226) == "0.023 s" and elapsed_text(70.31) == "70.3 s" and elapsed_text(1234.4) == "1234 s"
    assert Stopwatch(10.0, 12.5).text == "2.5 s"
