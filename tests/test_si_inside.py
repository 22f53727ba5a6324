"""SI inside: equations see SI values converted by pint, and hold no hand-written unit factors.

``unit_factors`` finds a numeric literal that multiplies or divides by a usual unit-conversion
constant (1e-3, 1e6, 60, 3600, 24, 100, ...) or adds 273.15, in every module of the library (process
models, production units, correlations, scale-up, calibration, line, core, adapters). A numeric guard
(a tiny floor, a tolerance, a finite-difference step) is a named constant with a comment, not a literal
in an expression, so it is not counted; display code converts with pint (``core.display.percent``).
"""

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioprocess_twin import catalogue
from bioprocess_twin.core import ModelBuilder, Parameter, ParameterError, SolverOptions, simulate
from bioprocess_twin.core.units import from_si, si_scale, to_si, ureg

ROOT = Path(__file__).resolve().parents[1] / "bioprocess_twin"
EQUATION_FILES = sorted(p for p in ROOT.rglob("*.py") if p.name != "__init__.py")
FACTORS = {
    1e-3,
    1e3,
    1e-6,
    1e6,
    1e-9,
    1e9,
    1e-12,
    1e12,
    1e-15,
    1e15,
    1e-18,
    1e18,
    1e-24,
    1e5,
    1e-5,
    1e-2,
    1e2,
    1e4,
    1e-4,
    60.0,
    3600.0,
    24.0,
    86400.0,
    3.6e6,
    1e-21,
    1e21,
}


def unit_factors(path: Path) -> list[str]:
    """'line: expression' for every hand-written unit factor in ``path``."""
    tree = ast.parse(path.read_text())
    hits = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div, ast.Add, ast.Sub))):
            continue
        for side in (node.left, node.right):
            value = side.operand if isinstance(side, ast.UnaryOp) and isinstance(side.op, ast.USub) else side
            if not (
                isinstance(value, ast.Constant)
                and isinstance(value.value, (int, float))
                and not isinstance(value.value, bool)
            ):
                continue
            number = float(value.value)
            if (isinstance(node.op, (ast.Add, ast.Sub)) and number == 273.15) or (
                isinstance(node.op, (ast.Mult, ast.Div)) and number in FACTORS
            ):
                hits.append(f"{node.lineno}: {ast.unparse(node)}")
    return hits


@pytest.mark.parametrize("path", EQUATION_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_equation_code_holds_no_unit_factors(path):
    hits = unit_factors(path)
    assert not hits, f"{path.name}: {len(hits)} hand-written unit factors:\n" + "\n".join(hits)


def test_the_counter_finds_factors(tmp_path):
    code = tmp_path / "m.py"
    code.write_text("a = p * 1e-3\nb = T + 273.15\nc = q / 60.0\nd = 2.0 * x + 1.0\ne = -1e6 * y\n")
    assert [h.split(":")[0] for h in unit_factors(code)] == ["1", "2", "3", "5"]


@pytest.mark.parametrize(
    "units, factor, offset",
    [
        ("bar", 1e5, 0.0),
        ("mL/min", 1e-6 / 60, 0.0),
        ("g/L", 1.0, 0.0),
        ("degC", 1.0, 273.15),
        ("percent", 0.01, 0.0),
        ("rpm", 1 / 60, 0.0),
        ("Mcount/mL", 1e12, 0.0),
        ("mmol/L/h", 1 / 3600, 0.0),
        ("nL", 1e-12, 0.0),
    ],
)
def test_si_scales_come_from_pint(units, factor, offset):
    f, o = si_scale(units)
    assert f == pytest.approx(factor, rel=1e-14) and o == pytest.approx(offset, abs=1e-12)
    q = ureg.Quantity(3.7, units).to_base_units().magnitude
    assert to_si(3.7, units) == pytest.approx(q, rel=1e-14)
    assert from_si(to_si(3.7, units), units) == pytest.approx(3.7, rel=1e-14)


def test_equations_see_si_and_report_declared_units():
    """dX/dt = mu X written in SI; mu declared in 1/h, X in mg/L, time in h, T in degC."""
    m = ModelBuilder("si_check", version="1", time_units="h")
    mu = m.parameter(Parameter(name="mu", units="1/h", default=0.5, description="growth rate"))
    X = m.state("X", "mg/L", initial=100.0)
    T = m.state("T", "degC", initial=37.0)
    m.ode(X, mu * X)
    m.ode(T, 0 * T)
    m.output("mu_seen", mu, "1/s")  # what the equation received
    m.output("T_seen", T, "K")
    m.output("X_g_per_L", X, "g/L")
    m.output("time_seen", m.t, "s")
    model = m.build()
    times = [0.0, 1.0, 2.0]
    r = simulate(model, times, options=SolverOptions(rtol=1e-10, atol=1e-10))
    assert r.output("mu_seen")[0] == pytest.approx(0.5 / 3600, rel=1e-14)
    assert r.output("T_seen")[0] == pytest.approx(310.15, rel=1e-14)
    assert np.allclose(r.output("time_seen"), [0, 3600, 7200])
    assert np.allclose(r.state("X"), 100 * np.exp(0.5 * np.array(times)), rtol=1e-8)  # analytical, in mg/L
    assert np.allclose(r.output("X_g_per_L"), r.state("X") * 1e-3, rtol=1e-14)


@pytest.mark.parametrize("name", catalogue.names())
def test_every_process_model_declares_convertible_units(name):
    model = catalogue.get(name).model
    for table in (model.parameters, model.inputs):
        for p in table:
            factor, offset = si_scale(p.units)
            assert math.isfinite(factor) and factor > 0 and math.isfinite(offset), (name, p.name, p.units)
            assert p.si(p.default) == pytest.approx(
                ureg.Quantity(p.default, p.units).to_base_units().magnitude, rel=1e-12, abs=1e-300
            ), (name, p.name)
    for v in (*model.states, *model.outputs, *model.algebraics):
        assert si_scale(v.units)[0] > 0, (name, v.name, v.units)


UNITS = [
    "bar",
    "mL/min",
    "g/L",
    "degC",
    "percent",
    "rpm",
    "Mcount/mL",
    "mmol/L/h",
    "nL",
    "h",
    "day",
    "W/m^3",
    "mN/m",
    "cP",
    "kJ/mol",
    "pg",
    "1/percent",
    "L/h",
    "1",
]


@settings(max_examples=300, deadline=None)
@given(units=st.sampled_from(UNITS), value=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_to_si_agrees_with_pint_and_round_trips(units, value):
    expected = ureg.Quantity(value, units).to_base_units().magnitude
    assert to_si(value, units) == pytest.approx(expected, rel=1e-12, abs=1e-300 + 1e-12 * abs(si_scale(units)[1]))
    assert from_si(to_si(value, units), units) == pytest.approx(value, rel=1e-12, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.text(max_size=30),
        st.floats(),
        st.integers(),
        st.none(),
        st.booleans(),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    )
)
def test_a_bad_value_is_an_error_that_names_the_parameter(value):
    """Whatever a user types, Parameter.si gives a number in bounds or a ParameterError naming the field."""
    p = Parameter(name="pressure", units="bar", default=1000.0, bounds=(100, 2000), description="homogenizing pressure")
    try:
        out = p.si(value)
    except ParameterError as exc:
        assert exc.errors and exc.errors[0][0] == "pressure"
    else:
        assert 1e7 <= out <= 2e8 and math.isfinite(out)
