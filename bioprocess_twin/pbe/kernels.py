"""Aggregation kernels and breakage selection functions.

An aggregation kernel is any callable ``beta(v_i, v_j)`` (m^3/s) that
broadcasts over arrays of particle volumes (m^3), or a ready n x n matrix.
A selection (breakage-rate) function is any callable ``S(v)`` (1/s).

The factories below take their rate parameters as plain floats *or* CasADi
scalars (e.g. a dissipation rate ``eps`` that is a model input).  The
volume-dependent part is evaluated numerically on the pivots and multiplied by
the (possibly symbolic) parameter group, so an n x n kernel costs O(n^2) SX
nodes.

Sources: Smoluchowski (1917) for the shear and Brownian kernels in the forms
given by Elimelech et al., *Particle Deposition and Aggregation* (1995);
Coulaloglou & Tavlarides (1977), Chem. Eng. Sci. 32:1289 for the liquid-liquid
breakage and coalescence rates.
"""

from __future__ import annotations

import numpy as np

from . import ops
from .grid import volume_to_diameter

BOLTZMANN = 1.380649e-23  # J/K

_RADIUS = 3.0 / (4.0 * np.pi)


def _radius(v):
    return np.cbrt(_RADIUS * np.asarray(v, dtype=float))


def _named(fn, text):
    fn.__name__ = fn.__qualname__ = text.split("(")[0]
    fn.__doc__ = text
    return fn


# -- aggregation kernels ------------------------------------------------------
def constant(beta0):
    """beta = beta0 (Smoluchowski constant kernel; Scott 1968 solution)."""

    def beta(vi, vj):
        return ops.scale(beta0, np.ones(np.broadcast(vi, vj).shape))

    return _named(beta, f"constant(beta0={beta0})")


def sum_kernel(beta0):
    """beta = beta0 (v_i + v_j) (Golovin sum kernel)."""

    def beta(vi, vj):
        return ops.scale(beta0, np.add(vi, vj))

    return _named(beta, f"sum_kernel(beta0={beta0})")


def product(beta0):
    """beta = beta0 v_i v_j (product kernel; gels in finite time)."""

    def beta(vi, vj):
        return ops.scale(beta0, np.multiply(vi, vj))

    return _named(beta, f"product(beta0={beta0})")


def shear(G, alpha=1.0):
    """Orthokinetic kernel beta = (4/3) G (r_i + r_j)^3 alpha.

    ``G`` is the shear rate (1/s), ``alpha`` the collision efficiency; radii
    from volumes r = (3 v / 4 pi)^(1/3) (Smoluchowski 1917).
    """

    def beta(vi, vj):
        return ops.scale(G * alpha, 4.0 / 3.0 * (_radius(vi) + _radius(vj)) ** 3)

    return _named(beta, f"shear(G={G}, alpha={alpha})")


def brownian(T, mu, alpha=1.0):
    """Perikinetic kernel beta = 2 k T / (3 mu) (r_i + r_j)(1/r_i + 1/r_j) alpha.

    ``T`` temperature (K), ``mu`` continuous-phase viscosity (Pa s).
    """

    def beta(vi, vj):
        ri, rj = _radius(vi), _radius(vj)
        return ops.scale(2.0 * BOLTZMANN * T / (3.0 * mu) * alpha, (ri + rj) * (1.0 / ri + 1.0 / rj))

    return _named(beta, f"brownian(T={T}, mu={mu}, alpha={alpha})")


def ct_coalescence(eps, sigma, rho_c, mu_c, phi, C3, C4):
    """Coulaloglou & Tavlarides (1977) coalescence kernel beta = h * lambda.

    Collision frequency (eq. 25)
        h = C3 eps^(1/3) / (1 + phi) (d_i + d_j)^2 (d_i^(2/3) + d_j^(2/3))^(1/2)
    film-drainage efficiency (eq. 29)
        lambda = exp(-C4 mu_c rho_c eps / (sigma^2 (1 + phi)^3)
                     (d_i d_j / (d_i + d_j))^4)
    with eps (W/kg), sigma (N/m), rho_c (kg/m^3), mu_c (Pa s), phi the
    dispersed-phase hold-up and d the sphere diameters (m).
    """

    def beta(vi, vj):
        di, dj = volume_to_diameter(vi), volume_to_diameter(vj)
        freq = (di + dj) ** 2 * np.sqrt(di ** (2.0 / 3.0) + dj ** (2.0 / 3.0))
        drain = (di * dj / (di + dj)) ** 4
        a = C3 * ops.power(eps, 1.0 / 3.0) / (1.0 + phi)
        b = C4 * mu_c * rho_c * eps / (sigma**2 * (1.0 + phi) ** 3)
        if ops.is_casadi(a, b):
            return ops.scale(a, freq) * ops.exp(ops.scale(-b, drain))
        return a * freq * np.exp(-b * drain)

    return _named(
        beta, f"ct_coalescence(eps={eps}, sigma={sigma}, rho_c={rho_c}, mu_c={mu_c}, phi={phi}, C3={C3}, C4={C4})"
    )


# -- breakage selection functions ---------------------------------------------
def power_law(S0, a=1.0):
    """Selection S(v) = S0 v^a (a = 1: linear, Ziff & McGrady 1985)."""

    def selection(v):
        return ops.scale(S0, np.asarray(v, dtype=float) ** a)

    return _named(selection, f"power_law(S0={S0}, a={a})")


def ct_breakage(eps, sigma, rho_d, phi, C1, C2):
    """Coulaloglou & Tavlarides (1977) breakage frequency (eq. 12)

        g(d) = C1 d^(-2/3) eps^(1/3) / (1 + phi)
               * exp(-C2 sigma (1 + phi)^2 / (rho_d d^(5/3) eps^(2/3)))

    eps (W/kg), sigma (N/m), rho_d dispersed density (kg/m^3), d (m).
    """

    def selection(v):
        d = volume_to_diameter(v)
        a = C1 * ops.power(eps, 1.0 / 3.0) / (1.0 + phi)
        b = C2 * sigma * (1.0 + phi) ** 2 / (rho_d * ops.power(eps, 2.0 / 3.0))
        if ops.is_casadi(a, b):
            return ops.scale(a, d ** (-2.0 / 3.0)) * ops.exp(ops.scale(-b, d ** (-5.0 / 3.0)))
        return a * d ** (-2.0 / 3.0) * np.exp(-b * d ** (-5.0 / 3.0))

    return _named(selection, f"ct_breakage(eps={eps}, sigma={sigma}, rho_d={rho_d}, phi={phi}, C1={C1}, C2={C2})")


def kernel_matrix(kernel, pivots):
    """Evaluate an aggregation kernel on all pivot pairs -> n x n (NumPy or CasADi).

    ``kernel`` may be a callable, a scalar (constant kernel) or an n x n matrix.
    """
    n = len(pivots)
    if callable(kernel):
        vi, vj = np.meshgrid(pivots, pivots, indexing="ij")
        out = kernel(vi, vj)
    else:
        out = kernel
    if ops.is_casadi(out):
        if out.shape == (1, 1):
            return ops.scale(out, np.ones((n, n)))
        if out.shape != (n, n):
            raise ValueError(f"aggregation: kernel matrix must be {n}x{n}, got {out.shape}")
        return out
    out = np.asarray(out, dtype=float)
    if out.ndim == 0:
        return np.full((n, n), float(out))
    if out.shape != (n, n):
        raise ValueError(f"aggregation: kernel matrix must be {n}x{n}, got {out.shape}")
    return out


def selection_vector(selection, pivots):
    """Evaluate a selection function on the pivots -> length-n vector (NumPy or CasADi)."""
    n = len(pivots)
    out = selection(np.asarray(pivots, dtype=float)) if callable(selection) else selection
    if ops.is_casadi(out):
        if out.shape == (1, 1):
            return ops.scale(out, np.ones(n))
        if out.shape == (1, n):
            out = out.T
        if out.shape != (n, 1):
            raise ValueError(f"selection: must give {n} values, got shape {out.shape}")
        return out
    out = np.asarray(out, dtype=float)
    if out.ndim == 0:
        return np.full(n, float(out))
    out = out.reshape(-1)
    if out.size != n:
        raise ValueError(f"selection: must give {n} values, got {out.size}")
    return out
