"""records.kinds: every kind of run from a spec document anyone may have written."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bioprocess_twin.core.resources import example_path, examples_dir
from bioprocess_twin.core.spec import SpecError, read_spec_file
from bioprocess_twin.records import kinds

CHO_RECORDS = examples_dir() / "batch_records" / "cho"


def test_every_kind_is_named_and_an_unknown_one_is_a_spec_error():
    assert set(kinds.KINDS) == {"simulation", "line", "scaleup", "plan", "calibration", "scenario", "optimisation"}
    with pytest.raises(SpecError) as info:
        kinds.parse("simulate", {})
    assert info.value.errors[0][0] == "kind"


def test_a_simulation_runs_from_its_document():
    doc = read_spec_file(example_path("specs", "cho_fed_batch.yaml"))
    outcome = kinds.run("simulation", kinds.parse("simulation", doc))
    assert outcome.status == "ok" and outcome.document["model"] == "cho_fed_batch"
    assert outcome.document["spec"]["model"] == "cho_fed_batch"


def test_a_parameter_out_of_bounds_names_its_section():
    doc = {"model": "cho_fed_batch", "parameters": {"mu_max": -1.0}}
    with pytest.raises(SpecError) as info:
        kinds.run("simulation", kinds.parse("simulation", doc))
    assert [f for f, _ in info.value.errors] == ["parameters.mu_max"]


def test_an_unknown_model_is_refused_before_it_runs():
    with pytest.raises(SpecError) as info:
        kinds.parse("simulation", {"model": "no_such_model"})
    assert info.value.errors[0][0] == "model"


def test_a_line_is_named_never_read_from_a_path():
    outcome = kinds.run("line", kinds.parse("line", {"line": "adjuvant_only"}))
    assert outcome.status == "ok" and outcome.document["line"] == "adjuvant_only"
    for ref in ("../models/lines/adjuvant_only/1.0.0.yaml", "/etc/passwd", "x.yaml", 3):
        with pytest.raises(SpecError) as info:
            kinds.parse("line", {"line": ref})
        assert info.value.errors[0][0] == "line"


def test_an_infeasible_plan_is_its_own_outcome():
    doc = read_spec_file(example_path("plans", "two_step_small.yaml"))
    assert kinds.run("plan", kinds.parse("plan", doc)).status == "ok"
    doc["products"][0]["demand_doses"] = 100_000  # 100 batches: more than 3 reactors can make in 4 weeks
    outcome = kinds.run("plan", kinds.parse("plan", doc))
    assert outcome.status == "infeasible" and outcome.message


def test_calibration_data_is_read_only_inside_the_allowed_folder():
    doc = read_spec_file(CHO_RECORDS / "calibration.yaml")
    with pytest.raises(SpecError) as info:
        kinds.parse("calibration", doc)  # no data folder at all
    assert info.value.errors[0][0] == "data"
    for bad in ("/etc/passwd", "../cho/tagmap.yaml"):
        with pytest.raises(SpecError) as info:
            kinds.parse("calibration", doc | {"data": bad}, "c", CHO_RECORDS)
        assert info.value.errors[0][0] == "data"
    with pytest.raises(SpecError) as info:
        own_model = {k: v for k, v in doc.items() if k != "model"} | {"model_file": "model.py"}
        kinds.parse("calibration", own_model, "c", CHO_RECORDS)  # would run the file's code
    assert info.value.errors[0][0] == "model_file"


def test_a_scenario_base_file_must_lie_in_the_allowed_folder():
    doc = read_spec_file(example_path("scenarios", "emulsion_100L_window.yaml"))
    for bad in ("/etc/passwd", "../specs/cho_fed_batch.yaml"):
        with pytest.raises(SpecError) as info:
            kinds.parse("scenario", doc | {"base": bad}, "s", example_path("scenarios"))
        assert info.value.errors[0][0] == "base"


def test_an_optimisation_scenario_is_submitted_as_an_optimisation():
    doc = read_spec_file(example_path("scenarios", "emulsion_100L_least_energy.yaml"))
    with pytest.raises(SpecError) as info:
        kinds.parse("scenario", doc)
    assert info.value.errors[0][0] == "analysis"
    kinds.parse("optimisation", doc)  # the same document is a valid optimisation


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
documents = st.one_of(
    json_values,
    st.dictionaries(
        st.sampled_from(["model", "line", "base", "data", "kind", "products", "controls", "parameters", "analysis"]),
        json_values,
        max_size=5,
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(kinds.KINDS)), doc=documents)
def test_any_document_is_parsed_or_refused_naming_a_field(name, doc):
    try:
        kinds.parse(name, doc, "request", CHO_RECORDS)
    except SpecError as exc:
        assert exc.errors and all(isinstance(f, str) and f for f, _ in exc.errors)
