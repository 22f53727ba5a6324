"""Growth and nucleation terms.

Growth: high-resolution finite-volume scheme with a flux limiter (Gunawan,
Fusman & Braatz 2004, AIChE J. 50:2738; limiter of Koren 1993, in *Numerical
Methods for Advection-Diffusion Problems*, Vieweg, pp. 117-138).

The state is the class number N_i, so the scheme is conservative by
construction:

    dN_i/dt = F_i - F_{i+1},      F_j = G_v(v_j) n(v_j)   (edge j = v_j)

with F_0 = 0 (no inflow at the bottom edge) and F_n the outflow through the
top edge.  The face density is reconstructed in u = ln v, where a geometric
grid is uniform: q_i = N_i / (u_{i+1} - u_i) (number per unit ln v), and

    q_face(i+1/2) = q_i + (u_{i+1} - c_i) * L(s-, s+)

with cell centres c_i, backward/forward slopes s-, s+ and the limited slope
L(a, b) = phi(b/a) a (division-free forms below).  On a uniform grid this is
the classical q_i + 1/2 phi(r) (q_i - q_{i-1}); Koren's limiter then gives the
third-order kappa = 1/3 scheme in smooth regions.  Then n(v_j) = q_face / v_j.
Ghost cells copy the end cells (zero gradient), so the first interior face and
the outflow face are first order and the scheme keeps N >= 0 at both ends.
Only growth (G_v >= 0) is upwinded.

Nucleation into class 0 is the same as an inflow flux B0 through the lowest
edge, i.e. nuclei are born at size v_0 = ``grid.edges[0]``; the moments of
nucleation + growth then close with L0 = ``grid.edge_diameters[0]``.
"""

from __future__ import annotations

import casadi
import numpy as np

from . import ops
from .breakage import hat_weights
from .grid import Grid, volume_to_diameter


# -- limiters in slope form: L(a, b) = phi(b / a) * a ---------------------------
def _same_sign(a, b):
    return 0.5 * (ops.sign(a) + ops.sign(b))


def koren(a, b):
    """phi(r) = max(0, min(2r, (1 + 2r)/3, 2)) (Koren 1993)."""
    aa, bb = ops.fabs(a), ops.fabs(b)
    return _same_sign(a, b) * ops.fmin(ops.fmin(2.0 * bb, (aa + 2.0 * bb) / 3.0), 2.0 * aa)


def van_leer(a, b):
    """phi(r) = (r + |r|)/(1 + |r|) (van Leer 1974)."""
    aa, bb = ops.fabs(a), ops.fabs(b)
    return _same_sign(a, b) * 2.0 * aa * bb / ops.fmax(aa + bb, 1e-300)


def minmod(a, b):
    """phi(r) = max(0, min(1, r)) (Roe 1986)."""
    return _same_sign(a, b) * ops.fmin(ops.fabs(a), ops.fabs(b))


def superbee(a, b):
    """phi(r) = max(0, min(2r, 1), min(r, 2)) (Roe 1986)."""
    aa, bb = ops.fabs(a), ops.fabs(b)
    return _same_sign(a, b) * ops.fmax(ops.fmin(2.0 * bb, aa), ops.fmin(bb, 2.0 * aa))


def upwind(a, b):
    """phi = 0: first-order upwind."""
    return 0.0 * a


LIMITERS = {"koren": koren, "van_leer": van_leer, "minmod": minmod, "superbee": superbee, "upwind": upwind}


def volume_growth_from_length(G_L, d):
    """G_v = dv/dt = (pi/2) d^2 G_L for spheres, from G_L = dd/dt (m/s).

    ``d`` numeric diameters (m), ``G_L`` a number, array or CasADi scalar.
    """
    return ops.scale(G_L, 0.5 * np.pi * np.asarray(d, dtype=float) ** 2)


class FiniteVolumeGrowth:
    """Limited finite-volume growth operator on one grid (see module docstring)."""

    def __init__(self, grid: Grid, limiter: str = "koren"):
        if limiter is None:
            limiter = "upwind"
        if limiter not in LIMITERS:
            raise ValueError(f"limiter: expected one of {sorted(LIMITERS)}, got {limiter!r}")
        self.grid = grid
        self.limiter = limiter
        self._limit = LIMITERS[limiter]
        ue = np.log(grid.edges)
        self.du = np.diff(ue)  # cell sizes in ln v
        c = 0.5 * (ue[:-1] + ue[1:])  # cell centres in ln v
        c_ext = np.r_[c[0] - self.du[0], c, c[-1] + self.du[-1]]
        self.inv_back = 1.0 / (c_ext[1:-1] - c_ext[:-2])  # 1/(c_i - c_{i-1})
        self.inv_fwd = 1.0 / (c_ext[2:] - c_ext[1:-1])  # 1/(c_{i+1} - c_i)
        self.face_offset = ue[1:] - c  # u_{i+1} - c_i

    def edge_rates(self, growth):
        """G_v at the n+1 edges from a callable, a scalar or n+1 values."""
        n = self.grid.n
        g = growth(self.grid.edges) if callable(growth) else growth
        if ops.is_casadi(g):
            if g.shape == (1, 1):
                return ops.scale(g, np.ones(n + 1))
            if g.shape == (1, n + 1):
                g = g.T
            if g.shape != (n + 1, 1):
                raise ValueError(f"growth: need {n + 1} edge values, got shape {g.shape}")
            return g
        g = np.asarray(g, dtype=float)
        if g.ndim == 0:
            g = np.full(n + 1, float(g))
        g = g.reshape(-1)
        if g.size != n + 1:
            raise ValueError(f"growth: need {n + 1} edge values (G_v at cell edges), got {g.size}")
        if np.any(g < 0.0):
            raise ValueError("growth: G_v must be >= 0 (dissolution is not supported)")
        return g

    def fluxes(self, N, growth):
        """Number fluxes F_0..F_n through the edges (#/m^3/s); F_0 = 0, F_n = outflow."""
        g = self.edge_rates(growth)
        inv_edges = 1.0 / self.grid.edges
        gu = g * casadi.DM(inv_edges) if ops.is_casadi(g) else g * inv_edges
        if ops.is_casadi(N, g):
            q = ops.to_casadi(N) * casadi.DM(1.0 / self.du)
            zero = type(q).zeros(1, 1)
            q_ext = casadi.vertcat(q[0], q, q[-1])
            n = self.grid.n
            a = (q_ext[1 : n + 1] - q_ext[0:n]) * casadi.DM(self.inv_back)
            b = (q_ext[2 : n + 2] - q_ext[1 : n + 1]) * casadi.DM(self.inv_fwd)
            face = q + casadi.DM(self.face_offset) * self._limit(a, b)
            return casadi.vertcat(zero, ops.to_casadi(gu)[1:] * face)
        q = np.asarray(N, dtype=float) / self.du
        q_ext = np.r_[q[0], q, q[-1]]
        a = np.diff(q_ext)[:-1] * self.inv_back
        b = np.diff(q_ext)[1:] * self.inv_fwd
        face = q + self.face_offset * self._limit(a, b)
        return np.r_[0.0, gu[1:] * face]

    def rhs(self, N, growth):
        """dN_i/dt = F_i - F_{i+1}."""
        F = self.fluxes(N, growth)
        n = self.grid.n
        return F[0:n] - F[1 : n + 1]

    def outflow(self, N, growth):
        """(number, volume) leaving through the top edge per unit time."""
        F = self.fluxes(N, growth)
        top = F[self.grid.n]
        return top, top * self.grid.edges[-1]


def nucleation_weights(grid: Grid, size=None) -> np.ndarray:
    """Where nuclei go: class 0 by default, else fixed-pivot split at volume ``size``.

    Between two pivots the split keeps number and volume; below the first
    (above the last) pivot all nuclei go to the first (last) class, keeping number.
    """
    w = np.zeros(grid.n)
    if size is None or size <= grid.pivots[0]:
        w[0] = 1.0
        return w
    if size > grid.edges[-1]:
        raise ValueError(f"nucleation_size: {size!r} m^3 lies above the grid")
    if size >= grid.pivots[-1]:
        w[-1] = 1.0
        return w
    return hat_weights(grid.pivots, float(size))


def nucleation_rhs(grid: Grid, B0, size=None):
    """dN/dt = B0 * w (B0 in #/m^3/s, NumPy or CasADi scalar)."""
    return ops.scale(B0, nucleation_weights(grid, size))


def length_growth_to_edges(grid: Grid, G_L):
    """Edge values of G_v for a size-independent length growth rate G_L (m/s)."""
    return volume_growth_from_length(G_L, volume_to_diameter(grid.edges))
