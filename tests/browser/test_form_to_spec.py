"""The dashboard form -> SimulationSpec adapter, without a browser (fast checks of the same path)."""
from __future__ import annotations

import pytest

from bioprocess_twin.core.parameters import ParameterError
from dashboards.components import forms, kpis

MODEL = "emulsion_homogenizer"


@pytest.fixture(scope="module")
def description():
    import bioprocess_twin.units.emulsion_homogenizer  # noqa: F401
    from bioprocess_twin.core import registry

    return registry.get(MODEL).describe()


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
    assert MODEL in forms.particle_models()


def test_only_changed_values_go_into_the_spec(description):
    spec, errors = forms.spec_from_form(MODEL, description, *form_values(description))
    assert errors == [] and spec.inputs == {} and spec.parameters == {}

    spec, errors = forms.spec_from_form(MODEL, description, *form_values(description, pressure=500, n_passes=3))
    assert errors == []
    assert spec.inputs == {"pressure": 500.0}          # a model input
    assert spec.parameters == {"n_passes": 3.0}        # an operating parameter


def test_rejected_box_is_reported_by_name(description):
    # an HTML number box outside min/max reports no value at all
    spec, errors = forms.spec_from_form(MODEL, description, *form_values(description, pressure=None))
    assert spec is None
    assert [f for f, _ in errors] == ["pressure"] and "2000" in errors[0][1]


def test_out_of_bounds_value_that_reaches_the_server_names_the_field(description):
    spec, errors = forms.spec_from_form(MODEL, description, *form_values(description, pressure=5000))
    assert errors == []
    with pytest.raises(ParameterError) as info:
        spec.run()
    assert any(f.split(".")[-1] == "pressure" for f, _ in info.value.errors)


def test_kpi_keys_are_split_into_name_and_units():
    assert kpis.split_key("z_average_nm") == ("Z-average", "nm")
    assert kpis.split_key("T_out_C") == ("Outlet T", "°C")
    assert kpis.split_key("pdi") == ("PDI", "")
