"""The population balance with numeric rate terms as a compiled ODE with an analytic Jacobian.

When every rate term of :meth:`PopulationBalance.solve` is numeric, its values (nucleation rate B0,
edge growth rates G_v, pair kernel values beta_jk for j <= k, selection rates S) become the
parameter vector p of one ODE per grid and choice of terms, dN/dt = f(N, p). That ODE is written
once as CasADi MX vector and matrix operations (the same term code as ``rhs``), compiled to C with
its Jacobian (``core.structured.compile_ode``: cached on disk, see docs/core.md), and integrated by
CVODES. Solves with other kernel values reuse the integrator.

The Jacobian is analytic for the terms that couple all classes:

* aggregation, r_p = beta_p N_j N_k:  dr_p/dN = beta_p (N_k e_j + N_j e_k), so d(A r)/dN is one
  constant sparse map applied to [beta N_k; beta N_j] (:func:`pair_jacobian_entries`); for the cell
  average, d/dN [up max(D, 0) + down max(-D, 0)] = (up H(D) - down H(-D)) dD/dN with D = excess r;
* breakage, (n_ik - delta_ik) S_k N_k: the operator's entries times S of their column;
* nucleation: no dependence on N;
* growth: CasADi's AD of the limited fluxes (a banded Jacobian, a few directions).
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca
import numpy as np
import scipy.sparse as sp

from . import ops
from .aggregation import CellAverageAggregation
from .growth import nucleation_weights
from .kernels import kernel_matrix, selection_vector


class NotNumeric(Exception):
    """A rate term holds CasADi symbols: the compiled form does not apply."""


def pair_jacobian_entries(A, pair_j, pair_k):
    """Entries of d/dN [A (c * N_j * N_k)] as arrays (row, col, src, val).

    The Jacobian is J[row, col] = sum val * v[src] with v = [c * N_k; c * N_j] (2 x n_pairs values):
    pair p adds column p of A times c_p N_k to column j_p, and times c_p N_j to column k_p.
    """
    A = sp.coo_matrix(A)
    m = len(pair_j)
    return (np.r_[A.row, A.row], np.r_[pair_j[A.col], pair_k[A.col]], np.r_[A.col, A.col + m], np.r_[A.data, A.data])


def scatter_map(shape, row, col, src, val, n_src):
    """The sparsity of J and the constant map K with nonzeros(J) = K @ v, from entries (row, col, src, val)."""
    linear = np.asarray(col) * shape[0] + np.asarray(row)  # column-major: CasADi's nonzero order
    unique, where = np.unique(linear, return_inverse=True)
    K = sp.csc_matrix((val, (where, src)), shape=(unique.size, n_src))
    pattern = ca.Sparsity.triplet(shape[0], shape[1], (unique % shape[0]).tolist(), (unique // shape[0]).tolist())
    return pattern, K


def _scattered(pattern, K, v):
    return ca.MX(pattern, ca.mtimes(ca.DM(K), v))


@dataclass(frozen=True)
class Terms:
    """Which rate terms an ODE has (its structure); their values are the parameters."""

    nucleation: bool
    nucleation_size: float | None
    growth: bool
    aggregation: bool
    selection: bool
    daughter: object

    @classmethod
    def of(cls, rate_terms: dict, daughter_key) -> Terms:
        size = rate_terms.get("nucleation_size")
        if ops.is_symbolic(size):
            raise NotNumeric("nucleation_size")
        return cls(
            rate_terms.get("nucleation") is not None,
            None if size is None else float(size),
            rate_terms.get("growth") is not None,
            rate_terms.get("aggregation") is not None,
            rate_terms.get("selection") is not None,
            daughter_key,
        )


class CompiledPBE:
    """The ODE dN/dt = f(N, p) of one population balance and one :class:`Terms`, and its parameters."""

    def __init__(self, pb, terms: Terms, daughter):
        self.pb, self.terms, self.daughter = pb, terms, daughter

    def parameters(self, rate_terms: dict) -> np.ndarray:
        """p for these rate terms: [B0, G_v at the n+1 edges, beta_jk (j <= k), S]; NotNumeric if symbolic."""
        pb, t, x = self.pb, self.terms, self.pb.grid.pivots
        parts = []
        if t.nucleation:
            parts.append(_numeric(rate_terms["nucleation"], "nucleation").reshape(-1))
            if parts[-1].size != 1:
                raise ValueError(f"nucleation: expected one rate B0 (#/m^3/s), got {parts[-1].size} values")
        if t.growth:
            parts.append(_numeric(pb.growth_operator.edge_rates(rate_terms["growth"]), "growth"))
        if t.aggregation:
            agg = pb.aggregation_operators
            parts.append(_numeric(kernel_matrix(rate_terms["aggregation"], x), "aggregation")[agg.pair_j, agg.pair_k])
        if t.selection:
            parts.append(_numeric(selection_vector(rate_terms["selection"], x), "selection"))
        return np.concatenate([np.ravel(a) for a in parts]) if parts else np.zeros(0)

    def functions(self):
        """MX symbols (t, N, z, p, u), f(N, p) and df/dN."""
        pb, t, n = self.pb, self.terms, self.pb.grid.n
        N, sizes = (
            ca.MX.sym("N", n),
            [
                1 if t.nucleation else 0,
                n + 1 if t.growth else 0,
                pb.aggregation_operators.n_pairs if t.aggregation else 0,
                n if t.selection else 0,
            ],
        )
        p = ca.MX.sym("p", sum(sizes))
        B0, G, beta, S = ca.vertsplit(p, np.cumsum([0, *sizes]).tolist())
        rhs, jac = ca.MX(n, 1), ca.MX(n, n)
        if t.nucleation:
            rhs += B0 * ca.DM(nucleation_weights(pb.grid, t.nucleation_size))
        if t.growth:
            grow = pb.growth_operator.rhs(N, G)
            rhs, jac = rhs + grow, jac + ca.jacobian(grow, N)
        if t.aggregation:
            f, J = _aggregation(pb.aggregation_operators, N, beta)
            rhs, jac = rhs + f, jac + J
        if t.selection:
            brk = pb.breakage_operator(self.daughter)
            op = sp.csc_matrix(brk.operator)
            column = np.repeat(np.arange(n), np.diff(op.indptr))
            rhs += brk.rhs(N, S)
            jac += ca.MX(ca.DM(op).sparsity(), S[column.tolist()] * ca.DM(op.data))
        return (ca.MX.sym("t"), N, ca.MX.sym("z", 0), p, ca.MX.sym("u", 0)), rhs, jac


def _aggregation(agg, N, beta):
    """Aggregation rhs and its Jacobian on MX (fixed pivot or cell average)."""
    n, j, k = agg.grid.n, agg.pair_j, agg.pair_k
    r = beta * N[j.tolist()] * N[k.tolist()]
    v = ca.vertcat(beta * N[k.tolist()], beta * N[j.tolist()])

    def jacobian(A):
        row, col, src, val = pair_jacobian_entries(A, j, k)
        pattern, K = scatter_map((n, n), row, col, src, val, 2 * agg.n_pairs)
        return _scattered(pattern, K, v)

    if not isinstance(agg, CellAverageAggregation):
        return agg.rhs_from_rates(r), jacobian(agg.operator)
    D = ca.mtimes(ca.DM(agg.excess_op), r)
    dD = jacobian(agg.excess_op)
    J = (
        jacobian(agg.count_op - agg.death_op)
        + ca.mtimes(ca.DM(agg.up_op), ca.mtimes(ca.diag(D > 0), dD))
        - ca.mtimes(ca.DM(agg.down_op), ca.mtimes(ca.diag(D < 0), dD))
    )
    return agg.rhs_from_rates(r), J


def _numeric(value, name: str) -> np.ndarray:
    if ops.is_symbolic(value):
        raise NotNumeric(name)
    return np.asarray(value, dtype=float)  # NumPy, numbers or a CasADi DM
