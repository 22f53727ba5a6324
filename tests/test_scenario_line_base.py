"""A production line as a scenario's base (scenarios/line_base.py): factors on unit parameters, the line's KPIs."""

import pytest

from bioprocess_twin.core.spec import SpecError
from bioprocess_twin.line.definition import load_line
from bioprocess_twin.scenarios.cases import CaseContext, simulate_case
from bioprocess_twin.scenarios.design_space import design_space
from bioprocess_twin.scenarios.executor import Case
from bioprocess_twin.scenarios.spec import parse_scenario_spec


def scenario(**changes) -> dict:
    doc = {
        "name": "line",
        "base": {"line": "adjuvant_only"},
        "factors": [
            {"path": "units.homogenizer.pressure", "range": [800, 1200], "units": "bar"},
            {"path": "units.homogenizer.parameters.passes", "levels": [2, 6], "integer": True},
        ],
        "responses": [{"kpi": "homogenizer.z_average_nm", "max": 180}],
        "samples": 1,
        "design_space": {"grid": 2, "target": 0.5},
    }
    return doc | changes


def test_line_cases_follow_the_homogenizer_physics():
    spec, base = parse_scenario_spec(scenario())
    assert base["name"] == "adjuvant_only" and "homogenizer" in base["units"]
    context = CaseContext.of(spec, base)
    z = {}
    for i, (pressure, passes) in enumerate([(800.0, 2.0), (1200.0, 2.0), (800.0, 6.0)]):
        values = {"units.homogenizer.pressure": pressure, "units.homogenizer.parameters.passes": passes}
        outcome = simulate_case(context, Case(i, values))
        assert outcome.status == "ok", outcome.message
        z[pressure, passes] = outcome.kpis["homogenizer.z_average_nm"]
    # Walstra 1993: the droplet size falls with the pressure and with the number of passes
    assert z[1200.0, 2.0] < z[800.0, 2.0] and z[800.0, 6.0] < z[800.0, 2.0]
    space = design_space(spec, base)
    p = {
        (pt.values["units.homogenizer.pressure"], pt.values["units.homogenizer.parameters.passes"]): pt.probability.p
        for pt in space.points
    }
    assert p[1200.0, 6.0] >= p[800.0, 6.0] >= p[800.0, 2.0]


def test_an_inline_line_definition_is_a_base_too():
    inline = load_line("adjuvant_only").model_dump(mode="json", by_alias=True)
    spec, base = parse_scenario_spec(scenario(base=inline))
    assert base["units"]["homogenizer"]["kind"] == "homogenizer"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"factors": [{"path": "units.mixer.pressure", "range": [1, 2]}]}, "factors.0.path", "no unit 'mixer'"),
        ({"factors": [{"path": "parameters.n_passes", "levels": [2]}]}, "factors.0.path", "unit parameter"),
        (
            {"uncertainty": {"parameters": {"C1": {"distribution": "lognormal", "median": 0.2, "gsd": 1.1}}}},
            "uncertainty.parameters.C1",
            "unit.parameter",
        ),
        ({"uncertainty": {"calibrated": True}}, "uncertainty.calibrated", "no calibrated set"),
        ({"base": {"line": "adjuvant_only", "model": "x"}}, "base.model", "takes nothing else"),
        ({"base": {"line": "no_such_line"}}, "base.line", "no line 'no_such_line'"),
        ({"base": {"line": "/etc/passwd.yaml"}}, "base.line", "not a file"),
        ({"base": {"line": "../lines/adjuvant_only/1.0.0.yaml"}}, "base.line", "not a file"),
        ({"base": {"line": ["adjuvant_only"]}}, "base.line", "not a file"),
    ],
)
def test_bad_line_scenarios_name_the_field(changes, field, words):
    with pytest.raises(SpecError) as info:
        spec, base = parse_scenario_spec(scenario(**changes))
        design_space(spec, base)
    assert any(f == field and words in m for f, m in info.value.errors), info.value.errors


def test_an_unknown_unit_parameter_is_the_case_error():
    spec, base = parse_scenario_spec(scenario())
    outcome = simulate_case(CaseContext.of(spec, base), Case(0, {"units.homogenizer.parameters.C1": 0.2}))
    assert outcome.status == "error" and "units.homogenizer.parameters.C1" in outcome.message
