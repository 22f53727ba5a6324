"""Size statistics against analytic values (monodisperse and lognormal)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from bioprocess_twin.pbe import Grid, diameter_moment, moments, size_stats, volume_quantiles

MU, S = np.log(150e-9), 0.25
Z90 = norm.ppf(0.9)
LOGNORMAL = {
    # number-weighted lognormal ln d ~ N(MU, S^2): E[d^k] = exp(k MU + k^2 S^2 / 2)
    "d_mean": np.exp(MU + 0.5 * S**2),
    "d32": np.exp(MU + 2.5 * S**2),
    "d43": np.exp(MU + 3.5 * S**2),
    "z_average": np.exp(MU + 5.5 * S**2),  # E[d^6] / E[d^5]
    "pdi": np.exp(S**2) - 1.0,  # E[d^4] E[d^6] / E[d^5]^2 - 1
    "d50": np.exp(MU + 3 * S**2),  # volume-weighted median
    "d10": np.exp(MU + 3 * S**2 - Z90 * S),
    "d90": np.exp(MU + 3 * S**2 + Z90 * S),
}
LOGNORMAL["span"] = (LOGNORMAL["d90"] - LOGNORMAL["d10"]) / LOGNORMAL["d50"]


def lognormal_state(n):
    grid = Grid.from_diameters(20e-9, 2e-6, n)
    N = 1e18 * np.diff(norm.cdf((np.log(grid.edge_diameters) - MU) / S))
    return grid, N


def rel_errors(n):
    grid, N = lognormal_state(n)
    st = size_stats(N, grid)
    return {k: abs(st[k] / v - 1.0) for k, v in LOGNORMAL.items()}


def test_lognormal_statistics_match_analytic():
    fine = rel_errors(400)
    for key in ("d_mean", "d32", "d43", "z_average", "d10", "d50", "d90"):
        assert fine[key] < 1e-4, (key, fine[key])
    assert fine["pdi"] < 3e-4 and fine["span"] < 3e-4
    coarse = rel_errors(100)
    for key in ("d32", "d43", "z_average", "pdi", "d50", "d90"):
        assert coarse[key] > 8.0 * fine[key], key  # second order in the class width
    assert max(coarse.values()) < 3e-3


def test_monodisperse_statistics():
    grid = Grid.from_diameters(20e-9, 2e-6, 100)
    N = np.zeros(grid.n)
    N[40] = 1e15
    d = grid.diameters[40]
    st = size_stats(N, grid)
    for key in ("d_mean", "d32", "d43", "z_average"):
        assert st[key] == pytest.approx(d, rel=1e-13)
    assert abs(st["pdi"]) < 1e-14
    assert st["number"] == pytest.approx(1e15)
    assert st["volume_fraction"] == pytest.approx(1e15 * grid.pivots[40])
    # quantiles interpolate inside the one occupied class (ISO 9276-2 style)
    lo, hi = grid.edge_diameters[40], grid.edge_diameters[41]
    assert st["d10"] == pytest.approx(lo + 0.1 * (hi - lo), rel=1e-12)
    assert st["d50"] == pytest.approx(0.5 * (lo + hi), rel=1e-12)
    assert st["d90"] == pytest.approx(lo + 0.9 * (hi - lo), rel=1e-12)
    assert st["span"] == pytest.approx(0.8 * (hi - lo) / st["d50"], rel=1e-12)
    # ... so the span of a monodisperse sample shrinks with the class width
    fine = Grid.from_diameters(20e-9, 2e-6, 1000)
    Nf = np.zeros(fine.n)
    Nf[400] = 1.0
    assert size_stats(Nf, fine)["span"] < 0.004


def test_two_dimensional_input_and_moments():
    grid, N = lognormal_state(120)
    series = np.vstack([N, 2 * N, np.zeros_like(N)])
    st = size_stats(series, grid)
    assert st["d32"].shape == (3,)
    assert st["d32"][0] == pytest.approx(st["d32"][1], rel=1e-14)
    assert np.isnan(st["d32"][2]) and np.isnan(st["d50"][2]) and st["number"][2] == 0.0
    assert np.allclose(moments(series, grid, 1), [N @ grid.pivots, 2 * N @ grid.pivots, 0])
    assert diameter_moment(N, grid, 3) == pytest.approx(N @ grid.diameters**3)
    q = volume_quantiles(series[:2], grid, q=(0.5,))
    assert q.shape == (2, 1) and q[0, 0] == pytest.approx(st["d50"][0])
    with pytest.raises(ValueError, match="^N:"):
        size_stats(np.ones(5), grid)
