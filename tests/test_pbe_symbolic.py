"""The CasADi path gives the same numbers as the NumPy path; solve() API."""

from __future__ import annotations

import casadi
import numpy as np
import pytest

from bioprocess_twin.pbe import (
    Grid,
    PBESolveError,
    PopulationBalance,
    daughter,
    kernels,
    length_growth_to_edges,
    volume_growth_from_length,
)


@pytest.fixture(scope="module")
def setup():
    grid = Grid.from_diameters(1e-7, 2e-5, 36)
    rng = np.random.default_rng(11)
    N = 1e14 * rng.uniform(0.0, 1.0, grid.n) ** 2
    return grid, N


TERMS = {
    "aggregation": dict(aggregation=kernels.shear(200.0)),
    "breakage_uniform": dict(selection=kernels.power_law(1e14, 1.0)),
    "breakage_equal": dict(selection=kernels.power_law(1e14, 1.0), daughter="binary_equal"),
    "breakage_custom": dict(
        selection=kernels.power_law(1e14, 1.0), daughter=daughter(lambda v, vp: 12 * v * (vp - v) / vp**3)
    ),
    "growth_callable": dict(growth=lambda v: 1e-22 * (v / 1e-18) ** (2 / 3)),
    "nucleation": dict(nucleation=1e9, nucleation_size=5e-18),
    "all": dict(
        aggregation=kernels.brownian(300.0, 1e-3), selection=kernels.power_law(1e13, 1.0), growth=1e-21, nucleation=1e9
    ),
}


CASES = [(m, "koren", t) for m in ("fixed_pivot", "cell_average") for t in sorted(TERMS)] + [
    ("fixed_pivot", lim, t) for lim in ("van_leer", "minmod", "superbee", "upwind") for t in ("growth_callable", "all")
]


@pytest.mark.parametrize("method, limiter, term", CASES)
def test_sx_rhs_equals_numpy(setup, method, limiter, term):
    grid, N = setup
    pb = PopulationBalance(grid, aggregation_method=method, limiter=limiter)
    x = casadi.SX.sym("N", grid.n)
    sym = pb.rhs(x, **TERMS[term])
    assert isinstance(sym, casadi.SX) and sym.shape == (grid.n, 1)
    got = np.asarray(casadi.Function("f", [x], [sym])(N), dtype=float).ravel()
    ref = pb.rhs(N, **TERMS[term])
    scale = np.abs(ref).max()
    assert np.max(np.abs(got - ref)) <= 1e-12 * scale


def test_symbolic_rate_parameters_match(setup):
    grid, N = setup
    pb = PopulationBalance(grid, aggregation_method="cell_average")
    eps, G, B0 = casadi.SX.sym("eps"), casadi.SX.sym("G"), casadi.SX.sym("B0")
    sym_terms = dict(
        aggregation=kernels.ct_coalescence(eps, 0.01, 1000, 1e-3, 0.1, 2e-3, 1e9),
        selection=kernels.ct_breakage(eps, 0.01, 900, 0.1, 0.5, 0.06),
        growth=length_growth_to_edges(grid, G),
        nucleation=B0,
    )
    values = (3e6, 1e-9, 1e8)
    num_terms = dict(
        aggregation=kernels.ct_coalescence(3e6, 0.01, 1000, 1e-3, 0.1, 2e-3, 1e9),
        selection=kernels.ct_breakage(3e6, 0.01, 900, 0.1, 0.5, 0.06),
        growth=length_growth_to_edges(grid, 1e-9),
        nucleation=1e8,
    )
    x = casadi.SX.sym("N", grid.n)
    f = casadi.Function("f", [x, eps, G, B0], [pb.rhs(x, **sym_terms)])
    got = np.asarray(f(N, *values), dtype=float).ravel()
    ref = pb.rhs(N, **num_terms)
    assert np.max(np.abs(got - ref)) <= 1e-12 * np.abs(ref).max()
    # numeric N with a symbolic parameter also returns CasADi
    mixed = pb.rhs(N, nucleation=B0)
    assert isinstance(mixed, casadi.SX)
    got = np.asarray(casadi.Function("m", [B0], [mixed])(1e8), dtype=float).ravel()
    ref = pb.rhs(N, nucleation=1e8)
    assert np.max(np.abs(got - ref)) <= 1e-12 * np.abs(ref).max()


def test_volume_growth_from_length():
    d = np.array([1e-6, 2e-6])
    assert np.allclose(volume_growth_from_length(1e-8, d), 0.5 * np.pi * d**2 * 1e-8)
    G = casadi.SX.sym("G")
    expr = volume_growth_from_length(G, d)
    assert np.allclose(np.asarray(casadi.Function("f", [G], [expr])(1e-8)).ravel(), 0.5 * np.pi * d**2 * 1e-8)


def test_solve_with_symbolic_parameters_matches_numeric():
    grid = Grid.from_diameters(1e-7, 1e-5, 30)
    N0 = 1e15 * np.exp(-((np.log(grid.diameters / 3e-7)) ** 2) / 0.1)
    pb = PopulationBalance(grid)
    Gs = casadi.SX.sym("Gs")
    t = np.linspace(0.0, 60.0, 4)
    a = pb.solve(N0, t, aggregation=kernels.shear(Gs, 0.5), parameters={Gs: 500.0})
    b = pb.solve(N0, t, aggregation=kernels.shear(500.0, 0.5))
    assert a.N.shape == (4, 30) and np.array_equal(a.t, t)
    assert np.allclose(a.N, b.N, rtol=1e-10, atol=1e-6 * N0.sum())
    assert a.moment(1)[-1] == pytest.approx(a.moment(1)[0], rel=1e-7)
    assert a.moment(0)[-1] < a.moment(0)[0]
    df = a.stats()
    assert list(df.columns[:2]) == ["t [s]", "number [1/m^3]"]
    assert df["d43 [m]"].is_monotonic_increasing
    assert np.allclose(a.density(), a.N / grid.widths)
    with pytest.raises(ValueError, match="^parameters:"):
        pb.solve(N0, t, aggregation=kernels.shear(Gs, 0.5))


def test_solve_reports_failure_and_bad_input():
    grid = Grid.geometric(1.0, 1e3, 10)
    pb = PopulationBalance(grid)
    N0 = np.ones(grid.n)
    with pytest.raises(PBESolveError, match="CVODES"):
        pb.solve(N0, [0.0, 1e3], aggregation=kernels.constant(1.0), options={"max_num_steps": 2})
    with pytest.raises(ValueError, match="^times:"):
        pb.solve(N0, [1.0, 0.0], aggregation=kernels.constant(1.0))
    with pytest.raises(ValueError, match="^N0:"):
        pb.solve(np.ones(3), [0.0, 1.0], aggregation=kernels.constant(1.0))
    with pytest.raises(ValueError, match="^growth:"):
        pb.rhs(N0, growth=-np.ones(grid.n + 1))
    with pytest.raises(ValueError, match="^daughter:"):
        pb.rhs(N0, selection=1.0, daughter="thirds")
    assert np.array_equal(pb.rhs(N0), np.zeros(grid.n))


def test_solve_mx_matches_sx():
    grid = Grid.geometric(1e-4, 1e3, 40)
    pb = PopulationBalance(grid, aggregation_method="cell_average")
    N0 = np.exp(-grid.edges[:-1]) - np.exp(-grid.edges[1:])
    terms = dict(aggregation=kernels.constant(1.0), selection=kernels.power_law(0.1, 1.0))
    a = pb.solve(N0, [0.0, 1.0, 5.0], rhs="symbolic", **terms)
    b = pb.solve(N0, [0.0, 1.0, 5.0], rhs="symbolic", symbolic="MX", **terms)
    assert np.allclose(a.N, b.N, rtol=1e-6, atol=1e-12)
    G = casadi.MX.sym("G")
    c = pb.solve(
        N0,
        [0.0, 1.0, 5.0],
        symbolic="MX",
        parameters={G: 1.0},
        aggregation=kernels.constant(G),
        selection=kernels.power_law(0.1, 1.0),
    )
    assert np.allclose(c.N, b.N, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="^symbolic:"):
        pb.solve(N0, [0.0, 1.0], symbolic="XX", **terms)
    with pytest.raises(ValueError, match="^symbolic:"):
        pb.solve(N0, [0.0, 1.0], symbolic="MX", aggregation=kernels.constant(casadi.SX.sym("s")))


def test_solve_reuses_its_integrator_for_the_same_equations():
    grid = Grid.geometric(1e-3, 1e2, 30)
    pb = PopulationBalance(grid)
    N0 = np.exp(-grid.pivots) * grid.widths
    G = casadi.SX.sym("G")
    a = pb.solve(N0, [0.0, 1.0], aggregation=kernels.shear(G, 0.5), parameters={G: 1.0})
    b = pb.solve(N0, [0.0, 1.0], aggregation=kernels.shear(G, 0.5), parameters={G: 2.0})
    assert len(pb.integrator_cache) == 1
    assert not np.allclose(a.N[-1], b.N[-1])  # the parameter value still reaches the solve
    pb.solve(N0, [0.0, 1.0], aggregation=kernels.constant(1.0), rhs="symbolic")
    assert len(pb.integrator_cache) == 2  # other equations, other integrator
