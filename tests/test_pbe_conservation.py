"""Exact conservation properties of the discretised PBE terms (NumPy RHS)."""

from __future__ import annotations

import numpy as np
import pytest

from bioprocess_twin.pbe import Grid, PopulationBalance, daughter, kernels
from bioprocess_twin.pbe.breakage import FixedPivotBreakage


def random_grid(seed=0, n=35):
    """Irregular edges and off-centre pivots: no geometric structure to lean on."""
    rng = np.random.default_rng(seed)
    edges = 1e-21 * np.cumprod(np.r_[1.0, rng.uniform(1.15, 3.0, n)])
    pivots = edges[:-1] + rng.uniform(0.05, 0.95, n) * np.diff(edges)
    return Grid.from_edges(edges, pivots)


def random_state(grid, seed=1):
    rng = np.random.default_rng(seed)
    return 1e15 * rng.uniform(0.0, 1.0, grid.n) ** 3


def rel_volume_rate(grid, N, dN):
    return abs(grid.pivots @ dN) / (grid.pivots @ np.abs(dN))


GRIDS = [random_grid(0), random_grid(3), Grid.geometric(1e-24, 1e-15, 50), Grid.from_ratio(1e-24, 2.0, 30)]


@pytest.mark.parametrize("method", ["fixed_pivot", "cell_average"])
@pytest.mark.parametrize("gi", range(len(GRIDS)))
def test_aggregation_conserves_volume(method, gi):
    grid = GRIDS[gi]
    pb = PopulationBalance(grid, aggregation_method=method)
    N = random_state(grid)
    rng = np.random.default_rng(7)
    B = rng.uniform(0.1, 1.0, (grid.n, grid.n)) * 1e-17
    for kern in (B + B.T, kernels.sum_kernel(1e4), kernels.shear(50.0), kernels.brownian(298.15, 1e-3)):
        dN = pb.rhs(N, aggregation=kern)
        assert rel_volume_rate(grid, N, dN) < 1e-13
        # aggregation never creates particles
        assert dN.sum() < 0.0
    ops = pb.aggregation_operators
    # column by column: each pair keeps its volume exactly
    if method == "fixed_pivot":
        col = grid.pivots @ ops.operator.toarray()
        assert np.max(np.abs(col) / ops.pair_volume) < 1e-14


def test_cell_average_uses_both_redistribution_directions():
    grid = GRIDS[0]
    pb = PopulationBalance(grid, aggregation_method="cell_average")
    ops = pb.aggregation_operators
    r = np.ones(ops.n_pairs)
    D = ops.excess_op @ r
    assert (D > 0).any() and (D < 0).any()


def test_fixed_pivot_aggregation_number_per_event():
    """Inside the grid each collision removes exactly one particle."""
    grid = Grid.geometric(1e-24, 1e-15, 40)
    ops = PopulationBalance(grid).aggregation_operators
    inner = ops.pair_volume < grid.pivots[-1]
    per_pair = ops.operator.toarray().sum(axis=0)
    assert np.allclose(per_pair[inner], -ops.pair_weight[inner], rtol=0, atol=1e-14)


@pytest.mark.parametrize("gi", range(len(GRIDS)))
@pytest.mark.parametrize("dname", ["binary_uniform", "binary_equal"])
def test_breakage_conserves_volume(gi, dname):
    grid = GRIDS[gi]
    pb = PopulationBalance(grid)
    N = random_state(grid)
    for sel in (
        kernels.power_law(1e18, 1.0),
        kernels.power_law(3.0, 0.0),
        np.random.default_rng(2).uniform(0, 1, grid.n),
    ):
        dN = pb.rhs(N, selection=sel, daughter=dname)
        assert rel_volume_rate(grid, N, dN) < 1e-13


def test_breakage_number_per_event_binary_equal():
    """Ratio-2 grid: halves of x_k land on x_{k-1}; each event adds exactly one particle."""
    grid = Grid.from_ratio(1e-21, 2.0, 30)
    pb = PopulationBalance(grid)
    N = random_state(grid)
    S = kernels.power_law(1e21, 1.0)(grid.pivots)
    dN = pb.rhs(N, selection=S, daughter="binary_equal")
    events = (S * N)[1:].sum()  # class 0 cannot break on the grid
    assert abs(dN.sum() - events) / events < 1e-13


def test_breakage_number_per_event_binary_uniform():
    """Uniform binary: +1 per event less the sub-grid share x_0 / x_k (documented defect)."""
    grid = Grid.geometric(1e-21, 1e-15, 40)
    op = FixedPivotBreakage(grid, "binary_uniform")
    assert np.allclose(op.number_defect, grid.pivots[0] / grid.pivots, rtol=1e-12, atol=1e-14)
    N = random_state(grid)
    S = kernels.power_law(1e21, 1.0)(grid.pivots)
    dN = op.rhs(N, S)
    expected = ((1.0 - grid.pivots[0] / grid.pivots) * S * N).sum()
    assert abs(dN.sum() - expected) / expected < 1e-13
    # and the volume of every parent is kept
    assert np.allclose(grid.pivots @ op.matrix, grid.pivots, rtol=1e-14, atol=0)


def test_custom_daughter_matches_uniform_and_keeps_volume():
    grid = random_grid(5)
    uni = FixedPivotBreakage(grid, "binary_uniform").matrix
    cus = FixedPivotBreakage(grid, daughter(lambda v, vp: 2.0 / vp + 0 * v)).matrix
    assert np.allclose(cus, uni, rtol=1e-12, atol=1e-14)
    # parabolic daughter b = 12 v (v' - v) / v'^3 (binary, symmetric)
    par = FixedPivotBreakage(grid, daughter(lambda v, vp: 12 * v * (vp - v) / vp**3)).matrix
    assert np.allclose(grid.pivots @ par, grid.pivots, rtol=1e-13, atol=0)
    assert np.all(par.sum(axis=0)[1:] > 1.5) and np.all(par.sum(axis=0) <= 2.0 + 1e-9)


def test_growth_is_conservative_and_reports_outflow():
    grid = Grid.from_diameters(1e-6, 1e-4, 40)
    pb = PopulationBalance(grid)
    N = random_state(grid)
    from bioprocess_twin.pbe import length_growth_to_edges

    Gv = length_growth_to_edges(grid, 1e-8)
    dN = pb.rhs(N, growth=Gv)
    out_number, out_volume = pb.growth_outflow(N, Gv)
    assert out_number > 0.0
    assert abs(dN.sum() + out_number) / np.abs(dN).sum() < 1e-14
    assert out_volume == pytest.approx(out_number * grid.edges[-1], rel=1e-15)
    # nucleation adds exactly B0 to the number
    dN2 = pb.rhs(N, growth=Gv, nucleation=1e9)
    assert (dN2 - dN).sum() == pytest.approx(1e9, rel=1e-14)
