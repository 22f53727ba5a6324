"""The dashboard form -> SimulationSpec adapter, without a browser (fast checks of the same path)."""

from __future__ import annotations

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
