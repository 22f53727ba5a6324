"""Moments and particle-size statistics of a discretised population (NumPy).

``N`` is one state (length n) or a time series (times x n) of class number
concentrations (#/m^3); every class is represented by its pivot volume x_i and
pivot diameter d_i = (6 x_i / pi)^(1/3).
"""

from __future__ import annotations

import numpy as np

from .grid import Grid


def _as_2d(N, grid: Grid):
    arr = np.asarray(N, dtype=float)
    single = arr.ndim == 1
    arr = np.atleast_2d(arr)
    if arr.shape[-1] != grid.n:
        raise ValueError(f"N: last axis must have {grid.n} classes, got {arr.shape[-1]}")
    return arr, single


def moments(N, grid: Grid, k: float = 0):
    """Volume moments mu_k = sum_i N_i x_i^k (units (m^3)^k / m^3).

    mu_0 is the number concentration (#/m^3), mu_1 the volume fraction.
    """
    arr, single = _as_2d(N, grid)
    out = arr @ grid.pivots**k
    return out[0] if single else out


def diameter_moment(N, grid: Grid, k: float = 0):
    """Diameter moments m_k = sum_i N_i d_i^k (m^k / m^3)."""
    arr, single = _as_2d(N, grid)
    out = arr @ grid.diameters**k
    return out[0] if single else out


def _ratio(num, den):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def volume_quantiles(N, grid: Grid, q=(0.1, 0.5, 0.9)):
    """Diameters below which a fraction ``q`` of the particle volume lies.

    Cumulative volume distribution Q3 evaluated at the class edges (the volume
    x_i N_i of class i spread over the class), and linear interpolation of d
    within the class where Q3 crosses q, as for laser-diffraction size classes
    (ISO 9276-2).  A population in one class therefore reports d10..d90 spread
    over that class (d50 at its middle in d).
    """
    arr, single = _as_2d(N, grid)
    vol = np.clip(arr, 0.0, None) * grid.pivots
    total = vol.sum(axis=1, keepdims=True)
    cum = np.concatenate([np.zeros((arr.shape[0], 1)), np.cumsum(vol, axis=1)], axis=1)
    cum = _ratio(cum, total)
    de = grid.edge_diameters
    out = np.full((arr.shape[0], len(q)), np.nan)
    for t in range(arr.shape[0]):
        if not np.isfinite(cum[t, -1]):
            continue
        c = cum[t]
        for j, p in enumerate(q):
            i = int(np.searchsorted(c, p, side="left")) - 1  # class with c_i < p <= c_{i+1}
            i = min(max(i, 0), grid.n - 1)
            frac = (p - c[i]) / (c[i + 1] - c[i]) if c[i + 1] > c[i] else 0.5
            out[t, j] = de[i] + frac * (de[i + 1] - de[i])
    return out[0] if single else out


def size_stats(N, grid: Grid) -> dict:
    """Size statistics of one state (floats) or a time series (arrays).

    Keys (SI units):

    * ``number`` = sum N_i (#/m^3); ``volume_fraction`` = sum N_i x_i (m^3/m^3)
    * ``d10``, ``d50``, ``d90`` volume-weighted quantiles, see :func:`volume_quantiles`
    * ``span`` = (d90 - d10) / d50
    * ``d32`` = m3/m2 (Sauter), ``d43`` = m4/m3 (De Brouckere), ``d_mean`` = m1/m0
    * ``z_average``: DLS intensity-weighted harmonic mean, intensity I_i ∝ N_i d_i^6
      (Rayleigh scatterers), Z = sum I_i / sum (I_i / d_i) (ISO 22412 cumulant
      mean; equal to 1/mean decay rate).
    * ``pdi``: cumulant polydispersity index mu_2 / Gamma_bar^2 of the
      intensity-weighted distribution of decay rates Gamma_i ∝ 1/d_i
      (ISO 22412): Gamma_bar = sum I_i/d_i / sum I_i,
      mu_2 = sum I_i (1/d_i - Gamma_bar)^2 / sum I_i.
      Monodisperse: 0; lognormal with sigma_ln: exp(sigma_ln^2) - 1.
    """
    arr, single = _as_2d(N, grid)
    d = grid.diameters
    pos = np.clip(arr, 0.0, None)
    m = {k: pos @ d**k for k in (0, 1, 2, 3, 4)}
    q = volume_quantiles(pos, grid)
    q = np.atleast_2d(q)
    dn = d / d.max()  # scaled to avoid d^6 underflow
    intensity = pos * dn**6
    i_sum = intensity.sum(axis=1)
    gamma_bar = _ratio(intensity @ (1.0 / dn), i_sum)  # intensity-weighted mean 1/d
    spread = (1.0 / dn[None, :] - np.nan_to_num(gamma_bar)[:, None]) ** 2
    mu2 = _ratio((intensity * spread).sum(axis=1), i_sum)
    out = {
        "number": pos.sum(axis=1),
        "volume_fraction": pos @ grid.pivots,
        "d10": q[:, 0],
        "d50": q[:, 1],
        "d90": q[:, 2],
        "span": _ratio(q[:, 2] - q[:, 0], q[:, 1]),
        "d_mean": _ratio(m[1], m[0]),
        "d32": _ratio(m[3], m[2]),
        "d43": _ratio(m[4], m[3]),
        "z_average": _ratio(d.max(), gamma_bar),
        "pdi": _ratio(mu2, gamma_bar**2),
    }
    if single:
        return {k: float(v[0]) for k, v in out.items()}
    return out


#: units of the keys returned by :func:`size_stats`
STAT_UNITS = {
    "number": "1/m^3",
    "volume_fraction": "m^3/m^3",
    "d10": "m",
    "d50": "m",
    "d90": "m",
    "span": "1",
    "d_mean": "m",
    "d32": "m",
    "d43": "m",
    "z_average": "m",
    "pdi": "1",
}
