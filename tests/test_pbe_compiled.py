"""The compiled form of PopulationBalance.solve: analytic Jacobian, same solutions, one integrator per structure."""

from __future__ import annotations

import casadi
import numpy as np
import pytest

from bioprocess_twin.pbe import Grid, PopulationBalance, kernels
from bioprocess_twin.pbe.compiled import CompiledPBE, Terms


def _all_terms(grid):
    return dict(
        nucleation=3.0,
        nucleation_size=1.3 * grid.pivots[3],
        growth=lambda v: 1e-3 * v**0.7,
        aggregation=lambda a, b: a + b,
        selection=kernels.power_law(0.1, 1.0),
        daughter="binary_uniform",
    )


def _compiled_used(pb) -> bool:
    return any(key[0] == "compiled" for key in pb.integrator_cache)


@pytest.mark.parametrize("method", ["fixed_pivot", "cell_average"])
@pytest.mark.parametrize("limiter", ["koren", "van_leer", "upwind"])
def test_rhs_and_analytic_jacobian_match_numpy_and_ad(method, limiter):
    grid = Grid.geometric(1e-4, 1e3, 30)
    pb = PopulationBalance(grid, aggregation_method=method, limiter=limiter)
    terms = _all_terms(grid)
    ode = CompiledPBE(pb, Terms.of(terms, "binary_uniform"), "binary_uniform")
    p = ode.parameters(terms)
    (_, N, _, P, _), f, J = ode.functions()
    fun = casadi.Function("f", [N, P], [f, J, casadi.jacobian(f, N)])
    rng = np.random.default_rng(1)
    for _ in range(3):
        Nv = rng.random(grid.n) * np.exp(-grid.pivots / 10)
        fv, Jv, Jad = (np.array(a) for a in fun(Nv, p))
        expected = pb.rhs(Nv, **terms)
        assert np.allclose(fv.ravel(), expected, rtol=1e-13, atol=1e-13 * np.abs(expected).max())
        assert np.abs(Jv - Jad).max() <= 1e-13 * np.abs(Jad).max()
        assert np.abs(Jv).max() > 0


@pytest.mark.parametrize("method", ["fixed_pivot", "cell_average"])
def test_compiled_solve_matches_symbolic_and_conserves_volume(method):
    grid = Grid.geometric(1e-4, 1e3, 40)
    pb = PopulationBalance(grid, aggregation_method=method)
    N0 = np.exp(-grid.edges[:-1]) - np.exp(-grid.edges[1:])
    terms = dict(aggregation=kernels.constant(1.0), selection=kernels.power_law(0.1, 1.0))
    a = pb.solve(N0, [0.0, 1.0, 5.0], rtol=1e-10, **terms)
    assert _compiled_used(pb)
    b = pb.solve(N0, [0.0, 1.0, 5.0], rtol=1e-10, rhs="symbolic", **terms)
    assert np.abs(a.N - b.N).max() <= 1e-7 * np.abs(b.N).max()
    volume = a.moment(1)
    assert abs(volume[-1] / volume[0] - 1.0) < 1e-8
    assert a.moment(0)[-1] != pytest.approx(a.moment(0)[0], rel=1e-3)  # the terms did act


def test_growth_and_nucleation_compiled_match_symbolic():
    grid = Grid.from_diameters(1e-6, 40e-6, 40)
    pb = PopulationBalance(grid)
    terms = dict(growth=1e-17, nucleation=1e10)
    a = pb.solve(np.zeros(grid.n), [0.0, 500.0, 1000.0], rhs="compiled", **terms)
    b = pb.solve(np.zeros(grid.n), [0.0, 500.0, 1000.0], rhs="symbolic", **terms)
    assert _compiled_used(pb)
    assert np.abs(a.N - b.N).max() <= 1e-6 * np.abs(b.N).max()
    assert a.moment(0)[-1] == pytest.approx(1e10 * 1000.0, rel=1e-6)  # number = B0 t (no outflow yet)


def test_other_kernel_values_reuse_the_compiled_integrator():
    grid = Grid.from_diameters(0.1e-6, 50e-6, 50)
    pb = PopulationBalance(grid)
    N0 = np.exp(-0.5 * np.log(grid.diameters / 2e-6) ** 2 / 0.16) * 1e12
    times = [0.0, 10.0, 20.0]
    results = []
    for k in (1e-12, 2e-12, 4e-12):
        terms = dict(aggregation=kernels.constant(k), selection=kernels.power_law(1.0 / grid.pivots[50 // 2], 1.0))
        results.append(pb.solve(N0, times, rtol=1e-10, atol=1e-2, **terms))
        ref = pb.solve(N0, times, rtol=1e-10, atol=1e-2, rhs="symbolic", **terms)
        assert np.abs(results[-1].N - ref.N).max() <= 1e-7 * np.abs(ref.N).max()
    assert len(pb._compiled) == 1
    assert sum(key[0] == "compiled" for key in pb.integrator_cache) == 1
    counts = [r.moment(0)[-1] for r in results]
    assert counts[0] > counts[1] > counts[2]  # faster aggregation, fewer particles


def test_choice_of_form_and_its_errors(monkeypatch):
    grid = Grid.geometric(1e-3, 1e2, 20)
    pb = PopulationBalance(grid)
    N0 = np.exp(-grid.pivots) * grid.widths
    s = casadi.SX.sym("s")
    with pytest.raises(ValueError, match="^rhs: 'compiled'.*'aggregation' holds CasADi symbols"):
        pb.solve(N0, [0.0, 1.0], rhs="compiled", aggregation=kernels.constant(s))
    with pytest.raises(ValueError, match="^rhs: 'compiled'.*parameters"):
        pb.solve(N0, [0.0, 1.0], rhs="compiled", aggregation=kernels.constant(s), parameters={s: 1.0})
    with pytest.raises(ValueError, match="^rhs: expected"):
        pb.solve(N0, [0.0, 1.0], rhs="fast", aggregation=1.0)
    with pytest.raises(ValueError, match=r"^rate terms: unknown \['agregation'\]"):
        pb.solve(N0, [0.0, 1.0], agregation=1.0)
    pb.solve(N0, [0.0, 1.0], growth=1e-3)  # growth alone: symbolic (cheap to build)
    assert not _compiled_used(pb)
    monkeypatch.setenv("CC", "/nonexistent/cc")
    fresh = PopulationBalance(grid)
    with (
        pytest.raises(ValueError, match="^rhs: 'compiled'.*no working C compiler"),
        pytest.warns(RuntimeWarning, match="no C compiler"),
    ):
        fresh.solve(N0, [0.0, 1.0], rhs="compiled", aggregation=1.0)
    auto = fresh.solve(N0, [0.0, 1.0], aggregation=1.0)  # falls back to the symbolic form (warned once)
    assert not _compiled_used(fresh) and len(fresh.integrator_cache) == 1
    assert auto.moment(0)[-1] < auto.moment(0)[0]
