import math

import pytest

from bioprocess_twin.core import ModelBuilder, Parameter, ParameterError
from bioprocess_twin.core.parameters import ParameterTable


def test_parameter_checks_bounds_units_and_integers():
    p = Parameter(name="passes", units="1", default=5, bounds=(1, 30), integer=True, source="s", description="d")
    assert p.check(7) == 7
    for bad, text in ((0, "outside the bounds"), (2.5, "whole number"), (math.nan, "finite"), ("abc", "cannot read")):
        with pytest.raises(ParameterError, match=text) as info:
            p.check(bad)
        assert info.value.errors[0][0] == "passes"


def test_declaration_errors_are_caught_at_build_time():
    with pytest.raises(ValueError, match="lower bound"):
        Parameter(name="k", units="1/s", default=1, bounds=(2, 1))
    with pytest.raises(ValueError, match="outside the bounds"):
        Parameter(name="k", units="1/s", default=5, bounds=(0, 1))
    with pytest.raises(ValueError, match="unknown units"):
        Parameter(name="k", units="furlongs_per_blorp", default=1)
    with pytest.raises(ValueError, match="duplicate"):
        ParameterTable((Parameter(name="a", units="1", default=1), Parameter(name="a", units="1", default=2)))
    m = ModelBuilder("bad", version="1")
    m.state("x", "1", initial=0.0)
    with pytest.raises(ValueError, match="without an equation"):
        m.build()
    with pytest.raises(ValueError, match="declared twice"):
        m.parameter(Parameter(name="x", units="1", default=0))


def test_describe_lists_units_bounds_and_sources():
    m = ModelBuilder("d", version="2.1", time_units="h")
    m.parameter(
        Parameter(
            name="mu", units="1/h", default=0.3, bounds=(0, 1), source="Monod 1949", description="max growth rate"
        )
    )
    x = m.state("X", "g/L", initial=1.0, description="biomass")
    m.ode(x, 0 * x)
    d = m.build().describe()
    assert d["version"] == "2.1" and d["time_units"] == "h"
    assert d["parameters"][0] == {
        "name": "mu",
        "units": "1/h",
        "default": 0.3,
        "bounds": [0, 1],
        "source": "Monod 1949",
        "description": "max growth rate",
        "integer": False,
    }
    assert d["states"][0]["units"] == "g/L"


def test_offset_units_and_stirrer_speeds_convert_as_engineers_expect():
    T = Parameter(name="T", units="K", default=298.15, bounds=(273.15, 373.15))
    assert T.check("25 degC") == pytest.approx(298.15)
    assert T.check({"value": 77, "units": "degF"}) == pytest.approx(298.15)
    N = Parameter(name="N", units="1/s", default=1.0, bounds=(0, 100))
    assert N.check("300 rpm") == pytest.approx(5.0)  # revolutions, not radians
    assert Parameter(name="Np", units="1/min", default=100, bounds=(0, 1e4)).check("2 rps") == pytest.approx(120)


def test_non_numeric_initial_state_is_a_parameter_error():
    m = ModelBuilder("init", version="1")
    x = m.state("x", "1", initial=1.0)
    m.ode(x, -x)
    model = m.build()
    with pytest.raises(ParameterError) as info:
        model.initial_state(model.parameter_vector(), {"x": "abc", "nope": 1})
    assert [f for f, _ in info.value.errors] == ["x", "nope"]
