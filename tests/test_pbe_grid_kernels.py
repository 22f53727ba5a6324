"""Grid construction/validation and kernel factories (numeric and CasADi)."""

from __future__ import annotations

import casadi
import numpy as np
import pytest

from bioprocess_twin.pbe import Grid, PopulationBalance, kernels
from bioprocess_twin.pbe.kernels import BOLTZMANN, kernel_matrix, selection_vector


def sphere(d):
    return np.pi / 6 * d**3


def test_geometric_grid_properties():
    g = Grid.geometric(1e-3, 1e3, 12)
    assert g.n == len(g) == 12
    assert g.edges.size == 13 and g.pivots.size == 12
    assert np.allclose(g.edges[1:] / g.edges[:-1], 10**0.5)
    assert np.allclose(g.pivots, np.sqrt(g.edges[:-1] * g.edges[1:]))
    assert np.allclose(g.widths, np.diff(g.edges))
    assert np.allclose(sphere(g.diameters), g.pivots)
    assert np.allclose(sphere(g.edge_diameters), g.edges)
    with pytest.raises(ValueError):
        g.edges[0] = 1.0  # immutable
    assert g == Grid.geometric(1e-3, 1e3, 12) and hash(g) == hash(Grid.geometric(1e-3, 1e3, 12))


def test_from_diameters_and_ratio():
    g = Grid.from_diameters(100e-9, 1e-6, 30)
    assert g.edge_diameters[0] == pytest.approx(100e-9, rel=1e-12)
    assert g.edge_diameters[-1] == pytest.approx(1e-6, rel=1e-12)
    assert np.allclose(np.diff(np.log(g.edges)), np.log(1000.0) / 30)
    r = Grid.from_ratio(1.0, 2.0, 5)
    assert np.allclose(r.edges, [1, 2, 4, 8, 16, 32])
    assert r.locate(3.0) == 1 and r.locate(0.1) == 0 and r.locate(1e9) == 4


def test_from_edges_user_pivots():
    g = Grid.from_edges([1.0, 2.0, 5.0], pivots=[1.5, 3.5])
    assert np.array_equal(g.pivots, [1.5, 3.5])
    assert np.allclose(g.bin_density(lambda v: 1 - np.exp(-v)), np.diff(1 - np.exp(-g.edges)))


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: Grid.geometric(0.0, 1.0, 5), "v_min"),
        (lambda: Grid.geometric(1.0, 1.0, 5), "v_max"),
        (lambda: Grid.geometric(1.0, 2.0, 0), "n"),
        (lambda: Grid.geometric(1.0, 2.0, 2.5), "n"),
        (lambda: Grid.from_diameters(-1.0, 1.0, 5), "d_min"),
        (lambda: Grid.from_diameters(1.0, 0.5, 5), "d_max"),
        (lambda: Grid.from_edges([1.0, 3.0, 2.0]), "edges"),
        (lambda: Grid.from_edges([0.0, 1.0]), "edges"),
        (lambda: Grid.from_edges([1.0]), "edges"),
        (lambda: Grid.from_edges([1.0, 2.0, 3.0], pivots=[1.5]), "pivots"),
        (lambda: Grid.from_edges([1.0, 2.0, 3.0], pivots=[1.5, 3.5]), "pivots"),
        (lambda: Grid.from_ratio(1.0, 1.0, 3), "ratio"),
        (lambda: PopulationBalance(Grid.geometric(1, 2, 3), aggregation_method="x"), "aggregation_method"),
        (lambda: PopulationBalance(Grid.geometric(1, 2, 3), limiter="nope"), "limiter"),
    ],
)
def test_validation_names_the_argument(call, arg):
    with pytest.raises(ValueError, match=f"^{arg}:"):
        call()


def test_kernel_values():
    d1, d2 = 2e-6, 4e-6
    v1, v2 = sphere(d1), sphere(d2)
    assert kernels.constant(3.0)(v1, v2) == pytest.approx(3.0)
    assert kernels.sum_kernel(2.0)(v1, v2) == pytest.approx(2.0 * (v1 + v2))
    assert kernels.product(2.0)(v1, v2) == pytest.approx(2.0 * v1 * v2)
    assert kernels.shear(100.0, 0.5)(v1, v2) == pytest.approx(4 / 3 * 100 * 3e-6**3 * 0.5)
    T, mu = 300.0, 1e-3
    assert kernels.brownian(T, mu)(v1, v1) == pytest.approx(8 * BOLTZMANN * T / (3 * mu))
    assert kernels.brownian(T, mu, 0.2)(v1, v2) == pytest.approx(
        2 * BOLTZMANN * T / (3 * mu) * (1e-6 + 2e-6) * (1 / 1e-6 + 1 / 2e-6) * 0.2
    )
    eps, sig, rc, muc, phi, C3, C4 = 1e6, 0.01, 1000.0, 1e-3, 0.1, 2e-3, 1e9
    h = C3 * eps ** (1 / 3) / (1 + phi) * (d1 + d2) ** 2 * (d1 ** (2 / 3) + d2 ** (2 / 3)) ** 0.5
    lam = np.exp(-C4 * muc * rc * eps / (sig**2 * (1 + phi) ** 3) * (d1 * d2 / (d1 + d2)) ** 4)
    assert kernels.ct_coalescence(eps, sig, rc, muc, phi, C3, C4)(v1, v2) == pytest.approx(h * lam)
    assert kernels.power_law(2.0, 1.0)(v1) == pytest.approx(2.0 * v1)
    C1, C2, rd = 0.5, 0.06, 900.0
    g = (
        C1
        * d1 ** (-2 / 3)
        * eps ** (1 / 3)
        / (1 + phi)
        * np.exp(-C2 * sig * (1 + phi) ** 2 / (rd * d1 ** (5 / 3) * eps ** (2 / 3)))
    )
    assert kernels.ct_breakage(eps, sig, rd, phi, C1, C2)(v1) == pytest.approx(g)


def _eval(expr, sym, val):
    return np.asarray(casadi.Function("f", [sym], [expr])(val), dtype=float)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: kernels.constant(p),
        lambda p: kernels.sum_kernel(p),
        lambda p: kernels.product(p),
        lambda p: kernels.shear(p, 0.7),
        lambda p: kernels.brownian(p, 1e-3),
        lambda p: kernels.ct_coalescence(p, 0.01, 1000.0, 1e-3, 0.1, 2e-3, 1e9),
    ],
)
def test_symbolic_kernel_parameters_match_numeric(make):
    grid = Grid.from_diameters(1e-7, 1e-5, 25)
    p = casadi.SX.sym("p")
    value = 1e6 if "ct" in make(1.0).__name__ else 300.0
    sym = kernel_matrix(make(p), grid.pivots)
    num = kernel_matrix(make(value), grid.pivots)
    assert isinstance(sym, casadi.SX) and sym.shape == (25, 25)
    assert np.allclose(_eval(sym, p, value), num, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "make, value",
    [
        (lambda p: kernels.power_law(p, 1.0), 2.0),
        (lambda p: kernels.ct_breakage(p, 0.01, 900.0, 0.1, 0.5, 0.06), 1e7),
    ],
)
def test_symbolic_selection_parameters_match_numeric(make, value):
    grid = Grid.from_diameters(1e-7, 1e-5, 25)
    p = casadi.SX.sym("p")
    sym = selection_vector(make(p), grid.pivots)
    num = selection_vector(make(value), grid.pivots)
    assert sym.shape == (25, 1)
    assert np.allclose(_eval(sym, p, value).ravel(), num, rtol=1e-12, atol=0)


def test_symbolic_rhs_is_quadratic_in_size():
    """Symbolic eps in every term: SX nodes grow like n^2, not n^3."""
    counts = {}
    for n in (40, 80, 160):
        grid = Grid.from_diameters(1e-7, 1e-5, n)
        pb = PopulationBalance(grid, aggregation_method="cell_average")
        eps, x = casadi.SX.sym("eps"), casadi.SX.sym("N", n)
        rhs = pb.rhs(
            x,
            aggregation=kernels.ct_coalescence(eps, 0.01, 1000, 1e-3, 0.1, 2e-3, 1e9),
            selection=kernels.ct_breakage(eps, 0.01, 900, 0.1, 0.5, 0.06),
            growth=1e-22 * eps,
            nucleation=eps,
        )
        counts[n] = casadi.Function("f", [x, eps], [rhs]).n_nodes()
    assert counts[160] / counts[80] < 4.4 and counts[80] / counts[40] < 4.4
    assert counts[160] < 12 * 160**2


def test_kernel_matrix_shapes_are_checked():
    grid = Grid.geometric(1.0, 10.0, 4)
    assert np.array_equal(kernel_matrix(2.0, grid.pivots), np.full((4, 4), 2.0))
    with pytest.raises(ValueError, match="aggregation"):
        kernel_matrix(np.ones((3, 3)), grid.pivots)
    with pytest.raises(ValueError, match="selection"):
        selection_vector(np.ones(3), grid.pivots)
