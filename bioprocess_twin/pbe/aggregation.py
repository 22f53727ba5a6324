"""Aggregation terms: fixed pivot and cell average, as precomputed sparse operators.

Both methods work with the pair rates of the upper triangle (j <= k)

    r_p = beta(x_j, x_k) N_j N_k,      p = (j, k),

where ``x`` are the pivots.  The collision-event rate of pair p is
``w_p r_p`` with ``w_p = 1 - delta_jk / 2``.  Every operator below is a constant
scipy.sparse matrix with at most a few entries per pair, so a symbolic RHS has
O(n^2) CasADi nodes (not O(n^3)).

Sources
-------
* Fixed pivot: Kumar & Ramkrishna (1996), Chem. Eng. Sci. 51:1311, eq. 27.
  A new particle of volume v = x_j + x_k with x_i <= v <= x_{i+1} is split
  a_i = (x_{i+1} - v)/(x_{i+1} - x_i) into class i and
  a_{i+1} = (v - x_i)/(x_{i+1} - x_i) into class i + 1 (number and volume kept).
* Cell average: Kumar, Peglow, Warnecke, Heinrich & Mörl (2006), Chem. Eng.
  Sci. 61:3327, eqs. 13-19.  Births into cell i are first counted (B_i) and
  their volume summed (V_i); the number B_i at the average volume
  vbar_i = V_i / B_i is then split between x_i and the neighbouring pivot on the
  side of vbar_i, which keeps number and volume.

Pairs whose new volume lies beyond the last pivot (fixed pivot) or beyond the
last edge (cell average, via the top cell) go to the last class as
``v / x_{n-1}`` particles: total volume is conserved exactly on any grid,
number is not (it is not an invariant of aggregation anyway).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import ops
from .grid import Grid


class _PairOperators:
    """Common pair bookkeeping for both methods."""

    def __init__(self, grid: Grid):
        self.grid = grid
        n = grid.n
        self.pair_j, self.pair_k = np.triu_indices(n)
        #: collision-event weight per pair, 1 - delta_jk / 2
        self.pair_weight = np.where(self.pair_j == self.pair_k, 0.5, 1.0)
        #: column-major linear index of (j, k) into an n x n matrix (CasADi indexing)
        self.pair_linear = self.pair_j + n * self.pair_k
        self.pair_volume = grid.pivots[self.pair_j] + grid.pivots[self.pair_k]
        p = np.arange(self.pair_j.size)
        # loss of one particle from each partner per event (2 x 1/2 for j == k)
        death = sp.coo_matrix(
            (np.r_[self.pair_weight, self.pair_weight], (np.r_[self.pair_j, self.pair_k], np.r_[p, p])),
            shape=(n, p.size),
        )
        #: death_op @ r = N_i sum_k beta_ik N_k
        self.death_op = death.tocsr()

    @property
    def n_pairs(self) -> int:
        return self.pair_j.size

    def pair_rates(self, N, beta):
        """r_p = beta_jk N_j N_k for j <= k (NumPy 1-D or CasADi column)."""
        if ops.is_casadi(N, beta):
            N = ops.to_casadi(N)
            if ops.is_casadi(beta):
                b = beta[self.pair_linear.tolist()]
            else:
                b = ops.to_casadi(np.asarray(beta)[self.pair_j, self.pair_k])
            return b * N[self.pair_j.tolist()] * N[self.pair_k.tolist()]
        N = np.asarray(N, dtype=float)
        return beta[self.pair_j, self.pair_k] * N[self.pair_j] * N[self.pair_k]

    def death(self, N, beta):
        return ops.matvec(self.death_op, self.pair_rates(N, beta))


class FixedPivotAggregation(_PairOperators):
    """Fixed-pivot aggregation (Kumar & Ramkrishna 1996).

    Attributes: ``birth_op`` and ``death_op`` (n x n_pairs, scipy CSR) and
    ``operator = birth_op - death_op`` so that dN/dt = operator @ r.
    """

    method = "fixed_pivot"

    def __init__(self, grid: Grid):
        super().__init__(grid)
        x = grid.pivots
        n = grid.n
        v = self.pair_volume
        w = self.pair_weight
        p = np.arange(v.size)
        i = np.clip(np.searchsorted(x, v, side="right") - 1, 0, n - 1)
        top = v >= x[-1]
        inner = ~top
        ii = i[inner]
        a_lo = (x[ii + 1] - v[inner]) / (x[ii + 1] - x[ii])
        a_hi = 1.0 - a_lo
        rows = np.r_[ii, ii + 1, np.full(top.sum(), n - 1)]
        cols = np.r_[p[inner], p[inner], p[top]]
        vals = np.r_[w[inner] * a_lo, w[inner] * a_hi, w[top] * v[top] / x[-1]]
        #: birth_op @ r = fixed-pivot birth term
        self.birth_op = sp.coo_matrix((vals, (rows, cols)), shape=(n, v.size)).tocsr()
        self.operator = (self.birth_op - self.death_op).tocsr()

    def birth(self, N, beta):
        return ops.matvec(self.birth_op, self.pair_rates(N, beta))

    def rhs(self, N, beta):
        """dN/dt from aggregation = (birth_op - death_op) @ r(N)."""
        return self.rhs_from_rates(self.pair_rates(N, beta))

    def rhs_from_rates(self, r):
        """dN/dt from the pair rates r."""
        return ops.matvec(self.operator, r)


class CellAverageAggregation(_PairOperators):
    """Cell-average aggregation (Kumar et al. 2006).

    The RHS is not one linear map of the pair rates (the average volume of the
    births in a cell decides where they go), but it can be written without any
    division as a linear map, an element-wise ramp, and another linear map:

        B = count_op @ r            births per cell (events)
        D = excess_op @ r = V - x * B   (V: volume of those births)
        birth = B + up_op @ max(D, 0) + down_op @ max(-D, 0)
        dN/dt = birth - death_op @ r

    For D_i >= 0 (vbar_i >= x_i) the number D_i/(x_{i+1}-x_i) moves from pivot
    i to i+1; for D_i < 0 the number -D_i/(x_i-x_{i-1}) moves to i-1.  This is
    exactly eqs. 17-19 of Kumar et al. (2006) with the lambda^{+-} weights
    multiplied out.  The ramp is continuous, so CVODES sees a Lipschitz RHS.
    """

    method = "cell_average"

    def __init__(self, grid: Grid):
        super().__init__(grid)
        x = grid.pivots
        n = grid.n
        v = self.pair_volume
        w = self.pair_weight
        p = np.arange(v.size)
        cell = np.clip(np.searchsorted(grid.edges, v, side="right") - 1, 0, n - 1)
        #: count_op @ r = B, number of births per cell
        self.count_op = sp.coo_matrix((w, (cell, p)), shape=(n, v.size)).tocsr()
        #: excess_op @ r = V - x * B
        self.excess_op = sp.coo_matrix((w * (v - x[cell]), (cell, p)), shape=(n, v.size)).tocsr()
        up_rows, up_cols, up_vals = [], [], []
        dn_rows, dn_cols, dn_vals = [], [], []
        for i in range(n):
            if i < n - 1:
                h = x[i + 1] - x[i]
                up_rows += [i, i + 1]
                up_cols += [i, i]
                up_vals += [-1.0 / h, 1.0 / h]
            else:  # top cell: keep volume, V/x particles at the last pivot
                up_rows.append(i)
                up_cols.append(i)
                up_vals.append(1.0 / x[i])
            if i > 0:
                h = x[i] - x[i - 1]
                dn_rows += [i, i - 1]
                dn_cols += [i, i]
                dn_vals += [-1.0 / h, 1.0 / h]
            else:  # vbar_0 >= 2 x_0 > x_0 always; kept for completeness
                dn_rows.append(0)
                dn_cols.append(0)
                dn_vals.append(-1.0 / x[0])
        #: up_op @ max(D, 0): share moved to the next pivot
        self.up_op = sp.csr_matrix((up_vals, (up_rows, up_cols)), shape=(n, n))
        #: down_op @ max(-D, 0): share moved to the previous pivot
        self.down_op = sp.csr_matrix((dn_vals, (dn_rows, dn_cols)), shape=(n, n))

    def birth(self, N, beta):
        r = self.pair_rates(N, beta)
        return self._birth_from_rates(r)

    def _birth_from_rates(self, r):
        B = ops.matvec(self.count_op, r)
        D = ops.matvec(self.excess_op, r)
        return B + ops.matvec(self.up_op, ops.fmax(D, 0.0)) + ops.matvec(self.down_op, ops.fmax(-D, 0.0))

    def rhs(self, N, beta):
        """dN/dt from aggregation (cell average)."""
        return self.rhs_from_rates(self.pair_rates(N, beta))

    def rhs_from_rates(self, r):
        """dN/dt from the pair rates r."""
        return self._birth_from_rates(r) - ops.matvec(self.death_op, r)


def make_aggregation(grid: Grid, method: str):
    """Factory: ``"fixed_pivot"`` or ``"cell_average"``."""
    if method == "fixed_pivot":
        return FixedPivotAggregation(grid)
    if method == "cell_average":
        return CellAverageAggregation(grid)
    raise ValueError(f"aggregation_method: expected 'fixed_pivot' or 'cell_average', got {method!r}")
