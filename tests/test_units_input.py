"""Values with units from specs: a number, a number followed by units, or {value, units}. Anything else is a
UnitsError naming the value; nothing reaches pint's expression evaluator, and no text makes it work without
bound."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioprocess_twin.core.units import UnitsError, parse_units, to_magnitude


@pytest.mark.parametrize(
    "value, units, expected",
    [
        ("1000 bar", "bar", 1000.0),
        ("25 degC", "K", 298.15),
        ("1e3 degC", "K", 1273.15),
        ({"value": 2, "units": "L"}, "mL", 2000.0),
        ({"value": "1e3", "units": "degC"}, "K", 1273.15),
        (5, "bar", 5.0),
        ("3 W/m^3", "W/m**3", 3.0),
        ("1 (m/s)**2", "m^2/s^2", 1.0),
        ("1 kg*m**2*s**-3", "W", 1.0),
    ],
)
def test_good_values_convert(value, units, expected):
    assert to_magnitude(value, units) == pytest.approx(expected)


@pytest.mark.parametrize(
    "value, units, message",
    [
        ("5 furlongz", "bar", "unknown units 'furlongz'"),
        ({"value": {"a": 1}, "units": "bar"}, "bar", "expected a number"),
        ({"value": "abc", "units": "bar"}, "bar", "expected a number"),
        ({"value": 1, "units": 5}, "bar", "units must be text"),
        ({"value": 1, "units": "zzz"}, "bar", "unknown units 'zzz'"),
        ("1e3 degC", "bar", "cannot be converted to bar"),
        (10**400, "bar", "beyond the range of a floating-point number"),
        ({"value": 10**400, "units": "bar"}, "bar", "beyond the range"),
        ("12x0", "bar", "cannot read '12x0': unknown units 'x0'"),
        ("bar", "bar", "cannot read 'bar' as a number followed by units"),
        ("10**10**10", "bar", "no power of a number"),
        ("1 10**10**10", "bar", "no power of a number"),
        ("1 (9)**(9)**(9)", "bar", "no power of a number"),
        ("2 m**10**10", "m", "no power of a number"),
        ("1 " + "m*" * 80 + "m", "m", "at most 100 characters"),
        ("2 bar**1000000", "bar", "cannot be converted"),
        (True, "bar", "expected a number"),
        (None, "bar", "expected a number"),
        ([1, 2], "bar", "expected a number"),
    ],
)
def test_bad_values_are_named_units_errors(value, units, message):
    with pytest.raises(UnitsError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        to_magnitude(value, units)


UNIT_ALPHABET = "0123456789.eE+-*/^() abcdgklmsLPaKC%_"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=UNIT_ALPHABET, max_size=40), st.sampled_from(["bar", "K", "1/h", "g/L", "1"]))
def test_any_text_is_a_number_or_a_units_error(text, units):
    try:
        value = to_magnitude(text, units)
    except UnitsError as exc:
        assert str(exc)
    else:
        assert isinstance(value, float) and not math.isnan(value) or "nan" in text.lower()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=UNIT_ALPHABET, max_size=40))
def test_any_unit_text_parses_or_is_refused(text):
    try:
        parse_units(text)
    except UnitsError as exc:
        assert "unknown units" in str(exc)
