"""Breakage: daughter distributions and the fixed-pivot breakage operator.

Fixed-pivot breakage (Kumar & Ramkrishna 1996, Chem. Eng. Sci. 51:1311,
eqs. 21-23):

    dN_i/dt = sum_{k >= i} n_ik S_k N_k - S_i N_i

    n_ik = int_{x_i}^{x_{i+1}} (x_{i+1} - v)/(x_{i+1} - x_i) b(v|x_k) dv
         + int_{x_{i-1}}^{x_i} (v - x_{i-1})/(x_i - x_{i-1}) b(v|x_k) dv

(integrals cut at v = x_k).  The two weights are the "hat" functions h_i(v)
of the pivots, with sum_i h_i(v) = 1 and sum_i x_i h_i(v) = v, so number and
volume of every fragment landing in [x_0, x_k] are kept.  Fragments smaller
than the first pivot have only one pivot to go to: they are lumped with the
volume-conserving weight h_0(v) = v / x_0 (x_{-1} = 0).  Volume is therefore
conserved exactly; the number produced per event from parent k falls short of
nu by ``number_defect[k] = int_0^{x_0} (1 - v/x_0) b(v|x_k) dv`` (for uniform
binary breakage x_0/x_k; zero for equal halves above x_1 = 2 x_0).

Daughter distributions b(v|v') (number of fragments of volume v per unit v
from a parent v'): uniform binary b = 2/v' (Ziff & McGrady 1985, J. Phys. A
18:3027), equal halves b = 2 delta(v - v'/2), or any callable.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import ops
from .grid import Grid


class Daughter:
    """A daughter distribution: ``matrix(pivots)`` gives n_ik (column k = parent)."""

    name = "daughter"

    def matrix(self, pivots: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self):
        return self.name


def _left_nodes(x):
    """Pivots with x_{-1} = 0 prepended."""
    return np.r_[0.0, x]


class BinaryUniform(Daughter):
    """b(v|v') = 2/v' on (0, v'); n_ik in closed form (triangle areas)."""

    name = "binary_uniform"

    def matrix(self, pivots):
        x = np.asarray(pivots, dtype=float)
        xl = _left_nodes(x)
        n = x.size
        left = 0.5 * (xl[1:] - xl[:-1])  # area of rising half of h_i
        right = np.r_[0.5 * (x[1:] - x[:-1]), 0.0]  # area of falling half of h_i
        m = np.zeros((n, n))
        for k in range(n):
            m[:k, k] = left[:k] + right[:k]
            m[k, k] = left[k]
            m[:, k] *= 2.0 / x[k]
        return m


class BinaryEqual(Daughter):
    """b(v|v') = 2 delta(v - v'/2): two equal halves."""

    name = "binary_equal"

    def matrix(self, pivots):
        x = np.asarray(pivots, dtype=float)
        return 2.0 * np.column_stack([hat_weights(x, 0.5 * xk) for xk in x])


class CustomDaughter(Daughter):
    """Any b(v, v_parent) that broadcasts over NumPy arrays.

    n_ik is integrated with Gauss-Legendre (``order`` points) on each interval
    between consecutive pivots; each column is then rescaled so that
    sum_i x_i n_ik = x_k exactly (the daughters hold the parent's volume).
    """

    def __init__(self, b, order: int = 16, name: str | None = None):
        if not callable(b):
            raise ValueError("daughter: b must be callable b(v, v_parent)")
        self.b = b
        self.order = int(order)
        self.name = str(name or getattr(b, "__name__", "custom"))

    def matrix(self, pivots):
        x = np.asarray(pivots, dtype=float)
        n = x.size
        xl = _left_nodes(x)
        g, gw = np.polynomial.legendre.leggauss(self.order)
        a, h = xl[:-1], xl[1:] - xl[:-1]  # interval m = [x_{m-1}, x_m]
        v = a[:, None] + 0.5 * h[:, None] * (g + 1.0)  # (n, q)
        wq = 0.5 * h[:, None] * gw  # (n, q)
        rise = (v - a[:, None]) / h[:, None]  # h_m on interval m
        bv = np.asarray(self.b(v[None, :, :], x[:, None, None]), dtype=float)
        bv = np.broadcast_to(bv, (n, n, self.order))  # [k, m, q]
        up = np.einsum("kmq,mq->km", bv * rise, wq)  # -> class m
        down = np.einsum("kmq,mq->km", bv * (1.0 - rise), wq)  # -> class m-1
        m = np.zeros((n, n))
        for k in range(n):
            m[: k + 1, k] += up[k, : k + 1]
            m[:k, k] += down[k, 1 : k + 1]
        vol = x @ m
        with np.errstate(divide="ignore", invalid="ignore"):
            m *= np.where(vol > 0, x / vol, 1.0)
        return m


class MatrixDaughter(Daughter):
    """A ready n x n matrix n_ik (column k = parent class)."""

    name = "matrix"

    def __init__(self, m):
        self.m = np.asarray(m, dtype=float)

    def matrix(self, pivots):
        return self.m


binary_uniform = BinaryUniform()
binary_equal = BinaryEqual()


def daughter(b, order: int = 16, name: str | None = None) -> CustomDaughter:
    """Wrap a callable ``b(v, v_parent)`` as a daughter distribution."""
    return CustomDaughter(b, order=order, name=name)


def resolve_daughter(spec) -> Daughter:
    """Accept a name, a Daughter, a callable b(v, v') or an n x n matrix."""
    if isinstance(spec, Daughter):
        return spec
    if isinstance(spec, str):
        names = {"binary_uniform": binary_uniform, "binary_equal": binary_equal}
        if spec not in names:
            raise ValueError(f"daughter: expected one of {sorted(names)}, got {spec!r}")
        return names[spec]
    if callable(spec):
        return daughter(spec)
    if isinstance(spec, np.ndarray):
        return MatrixDaughter(spec)
    raise ValueError(f"daughter: expected a name, a Daughter or a callable, got {spec!r}")


def hat_weights(x: np.ndarray, v: float) -> np.ndarray:
    """Fixed-pivot weights h_i(v) of one particle of volume v (length n).

    Between pivots: two linear weights (number and volume kept).  Below x_0:
    v/x_0 in class 0 (volume kept).  Above x_{n-1}: v/x_{n-1} in the last class.
    """
    n = x.size
    w = np.zeros(n)
    if v <= x[0]:
        w[0] = v / x[0]
    elif v >= x[-1]:
        w[-1] = v / x[-1]
    else:
        i = int(np.searchsorted(x, v, side="right")) - 1
        a = (x[i + 1] - v) / (x[i + 1] - x[i])
        w[i], w[i + 1] = a, 1.0 - a
    return w


class FixedPivotBreakage:
    """Fixed-pivot breakage operator for one grid and daughter distribution.

    ``matrix`` holds n_ik; ``operator = matrix - I`` so that
    dN/dt = operator @ (S * N).  ``fragments[k] = sum_i n_ik`` and
    ``number_defect`` as in the module docstring.
    """

    def __init__(self, grid: Grid, daughter_spec="binary_uniform"):
        self.grid = grid
        self.daughter = resolve_daughter(daughter_spec)
        m = np.asarray(self.daughter.matrix(grid.pivots), dtype=float)
        if m.shape != (grid.n, grid.n):
            raise ValueError(f"daughter: matrix must be {grid.n}x{grid.n}, got {m.shape}")
        self.matrix = m
        self.fragments = m.sum(axis=0)
        self.operator = sp.csr_matrix(m - np.eye(grid.n))

    @property
    def number_defect(self) -> np.ndarray:
        """Per parent class: ideal fragment number minus the discrete one (binary: 2 - nu_k)."""
        return 2.0 - self.fragments

    def rhs(self, N, S):
        """dN/dt = (n_ik - delta_ik) S_k N_k (NumPy or CasADi)."""
        if ops.is_casadi(N, S):
            rate = ops.to_casadi(S) * ops.to_casadi(N)
        else:
            rate = np.asarray(S, dtype=float) * np.asarray(N, dtype=float)
        return ops.matvec(self.operator, rate)
