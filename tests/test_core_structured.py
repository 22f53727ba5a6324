"""Structured ODEs (ModelBuilder.structured): compiled and VM forms against analytic solutions, cache, fallback."""

import platform

import casadi as ca
import numpy as np
import pytest
from scipy.linalg import expm

from bioprocess_twin.core import ModelBuilder, Parameter, ParameterError, SolverOptions, compiled, simulate
from bioprocess_twin.core import simulation as core_sim

# dx/dt = k M x + u e_0: a stiff linear chain with an analytic solution (matrix exponential)
M = np.array([[-1.0, 0.0, 0.0], [1.0, -30.0, 0.0], [0.0, 30.0, -0.5]])
X0 = np.array([1.0, 0.0, 0.0])


def chain_model(structured=True, wrong=False):
    m = ModelBuilder("chain", version="1.0")
    k = m.parameter(Parameter(name="k", units="1/s", default=2.0, bounds=(0, 10)))
    u = m.input(Parameter(name="feed", units="1/s", default=0.0))
    x = m.state("x", "1", initial=X0, shape=3)
    m.ode(x, k * ca.mtimes(ca.DM(M), x) + ca.vertcat(u, 0, 0))
    if structured:
        xs, ps, us = ca.MX.sym("x", 3), ca.MX.sym("p", 1), ca.MX.sym("u", 1)
        factor = 1.01 if wrong else 1.0
        rhs = factor * ps[0] * ca.mtimes(ca.DM(M), xs) + ca.vertcat(us, 0, 0)
        m.structured(
            ca.Function("chain_rhs", [xs, ps, us], [rhs]), ca.Function("chain_jac", [xs, ps, us], [ps[0] * ca.DM(M)])
        )
    return m.build()


def exact(t, k=2.0):
    return np.array([expm(k * M * ti) @ X0 for ti in t])


TIMES = np.linspace(0.0, 3.0, 7)


@pytest.mark.parametrize("form", ["compiled", "structured", "symbolic"])
def test_every_form_matches_the_matrix_exponential(form):
    model = chain_model()
    r = simulate(model, TIMES, parameters={"k": 2.0}, options=SolverOptions(rhs=form, rtol=1e-9, atol=1e-12))
    assert r.ok, r.message
    np.testing.assert_allclose(r.state("x"), exact(TIMES), rtol=1e-6, atol=1e-9)


def test_auto_uses_the_compiled_form_and_sensitivities_stay_exact():
    model = chain_model()
    F = core_sim.integrator(model, (1.0,), "cvodes", SolverOptions())
    assert F.name().endswith("_compiled")
    jac = F.get_function("jacF")
    assert jac.class_name() == "External"  # the library's own Jacobian, no AD graph
    span, k = 0.7, 2.0  # normalised time: d(span f)/d[x, clock]
    J = np.array(jac(0.0, [0.3, 0.2, 0.1, 0.0], [], [k, 0.0, span], [])[0])
    np.testing.assert_allclose(J, np.block([[span * k * M, np.zeros((3, 1))], [np.zeros((1, 4))]]), rtol=1e-14)
    r = simulate(
        model, TIMES, parameters={"k": 2.0}, sensitivities=["k"], options=SolverOptions(rtol=1e-10, atol=1e-12)
    )
    h = 1e-6
    fd = (exact(TIMES, 2.0 + h) - exact(TIMES, 2.0 - h)) / (2 * h)
    np.testing.assert_allclose(r.sensitivities["k"][:, :3], fd, rtol=1e-5, atol=1e-8)


def test_a_structured_rhs_that_differs_from_the_equations_is_refused():
    with pytest.raises(ValueError, match="chain.*differs from the declared equations"):
        chain_model(wrong=True)


def test_structured_form_needs_a_structured_model():
    with pytest.raises(ParameterError, match="solver.rhs"):
        simulate(chain_model(structured=False), TIMES, options=SolverOptions(rhs="structured"))


def test_compiled_form_of_a_model_without_one_compiles_its_declared_equations():
    model = chain_model(structured=False)
    symbolic = simulate(model, TIMES, options=SolverOptions(rhs="symbolic", rtol=1e-10, atol=1e-12))
    compiled = simulate(model, TIMES, options=SolverOptions(rhs="compiled", rtol=1e-10, atol=1e-12))
    assert compiled.ok and model.structured_oracles[True] is not None
    np.testing.assert_allclose(compiled.x, symbolic.x, rtol=1e-7, atol=1e-10)


def test_compiled_library_is_cached_by_source(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOPROCESS_TWIN_CACHE", str(tmp_path))
    simulate(chain_model(), TIMES, options=SolverOptions(rhs="compiled"))
    libs = list((tmp_path / "compiled").glob("*.so"))
    assert len(libs) == 1
    stamp = libs[0].stat().st_mtime_ns
    simulate(chain_model(), TIMES, options=SolverOptions(rhs="compiled"))  # a new model object, same source
    assert list((tmp_path / "compiled").glob("*.so")) == libs and libs[0].stat().st_mtime_ns == stamp


def test_without_a_compiler_auto_falls_back_to_the_virtual_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOPROCESS_TWIN_CACHE", str(tmp_path))  # empty cache: must compile
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    assert compiled.compiler() is None
    model = chain_model()
    with pytest.warns(RuntimeWarning, match="no C compiler"):
        r = simulate(model, TIMES, options=SolverOptions(rtol=1e-9, atol=1e-12))
    assert r.ok
    np.testing.assert_allclose(r.state("x"), exact(TIMES), rtol=1e-6, atol=1e-9)
    assert core_sim.integrator(model, (1.0,), "cvodes", SolverOptions()).name().endswith("_structured")
    with pytest.raises(ParameterError, match="solver.rhs"):
        simulate(model, TIMES, options=SolverOptions(rhs="compiled"))


def _exp_function():
    v = ca.MX.sym("v", 64)
    return ca.Function("vexp", [v], [ca.exp(v)])


def _libraries(tmp_path):
    return sorted((tmp_path / "compiled").glob("*.so"))


@pytest.mark.skipif(
    not compiled.compiler() or platform.machine() != "x86_64", reason="vector maths is built with GCC on x86-64"
)
def test_element_wise_exp_is_compiled_with_vector_maths_and_stays_accurate(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOPROCESS_TWIN_CACHE", str(tmp_path))
    f = compiled.compile_functions("vexp", [_exp_function()])["vexp"]
    assert b"libmvec" in _libraries(tmp_path)[0].read_bytes()  # linked against glibc's vector maths
    v = np.linspace(-720.0, 700.0, 64)  # includes the underflow range
    np.testing.assert_allclose(np.array(f(v)).ravel(), np.exp(v), rtol=1e-14, atol=0)


@pytest.mark.skipif(not compiled.compiler(), reason="needs a C compiler")
def test_a_failing_vector_build_falls_back_to_the_portable_build(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOPROCESS_TWIN_CACHE", str(tmp_path))
    monkeypatch.setattr(compiled, "VECTOR_FLAGS", ("-fno-such-flag-bioprocess-twin",) + compiled.VECTOR_FLAGS)
    f = compiled.compile_functions("vexp", [_exp_function()])
    assert f is not None  # not the "no compiler" fallback to the VM
    assert b"libmvec" not in _libraries(tmp_path)[0].read_bytes()
    v = np.linspace(-5.0, 5.0, 64)
    np.testing.assert_allclose(np.array(f["vexp"](v)).ravel(), np.exp(v), rtol=1e-15)


def exact_dk(t, k=2.0):
    """d/dk of expm(k M t) x0 = t M expm(k M t) x0."""
    return np.array([ti * M @ expm(k * M * ti) @ X0 for ti in t])


@pytest.mark.parametrize("rhs", ["auto", "compiled", "structured", "symbolic"])
def test_sensitivities_match_the_analytic_derivative_in_every_form(rhs):
    model = chain_model()
    r = simulate(
        model, TIMES, parameters={"k": 2.0}, sensitivities=["k"], options=SolverOptions(rhs=rhs, rtol=1e-10, atol=1e-13)
    )
    dk = r.sensitivity_frame("k")[[f"x[{i}]" for i in range(3)]].to_numpy()
    np.testing.assert_allclose(dk, exact_dk(TIMES), rtol=1e-6, atol=1e-9)
    # the compiled library carries forward derivatives; the VM form's custom Jacobian has no parameter
    # columns, so 'structured' runs its sensitivities on the declared equations
    sens_form = {"auto": "compiled", "compiled": "compiled"}.get(rhs, "symbolic")
    assert any(
        key[-1] == sens_form and "second_order_correction" in key[-2]
        for key in model.integrator_cache
        if isinstance(key, tuple)
    )


def test_sensitivities_without_a_compiler_use_the_declared_equations(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOPROCESS_TWIN_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    model = chain_model()
    with pytest.warns(RuntimeWarning, match="no C compiler"):
        r = simulate(model, TIMES, sensitivities=["k"], options=SolverOptions(rtol=1e-10, atol=1e-13))
    np.testing.assert_allclose(r.sensitivity_frame("k")["x[2]"], exact_dk(TIMES)[:, 2], rtol=1e-6, atol=1e-9)
    assert [key[-1] for key in model.integrator_cache if isinstance(key, tuple) and "second_order" in key[-2]] == [
        "symbolic"
    ]
