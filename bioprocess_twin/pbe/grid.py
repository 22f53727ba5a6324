"""Classes (bins) of particle volume for a discretised number PBE.

A grid holds n classes with edges ``v_0 < v_1 < ... < v_n`` (m^3) and one
pivot ``x_i`` (representative volume) per class.  The PBE state is the number
concentration ``N_i`` of particles in class i (#/m^3), i.e. the integral of the
number density n(v) over ``[v_i, v_{i+1})``; the fixed-pivot and cell-average
methods place all of it at ``x_i`` (Kumar & Ramkrishna 1996, Chem. Eng. Sci.
51:1311).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_SPHERE = np.pi / 6.0


def volume_to_diameter(v):
    """Equivalent-sphere diameter d = (6 v / pi)^(1/3)."""
    return np.cbrt(np.asarray(v, dtype=float) / _SPHERE)


def diameter_to_volume(d):
    """Sphere volume v = pi d^3 / 6."""
    return _SPHERE * np.asarray(d, dtype=float) ** 3


@dataclass(frozen=True)
class Grid:
    """Volume classes: ``edges`` (n+1, m^3) and ``pivots`` (n, m^3).

    Build with :meth:`geometric`, :meth:`from_diameters` or
    :meth:`from_edges`.  Pivots default to the geometric mean of the edges.
    """

    edges: np.ndarray
    pivots: np.ndarray = field(default=None)  # type: ignore[arg-type]  # None: computed in __post_init__

    def __post_init__(self):
        edges = np.array(self.edges, dtype=float).reshape(-1)
        if edges.size < 2:
            raise ValueError("edges: need at least 2 edges (1 class)")
        if not np.all(np.isfinite(edges)):
            raise ValueError("edges: must be finite")
        if edges[0] <= 0.0:
            raise ValueError(f"edges: first edge must be > 0 m^3, got {edges[0]!r}")
        if np.any(np.diff(edges) <= 0.0):
            raise ValueError("edges: must be strictly increasing")
        if self.pivots is None:
            pivots = np.sqrt(edges[:-1] * edges[1:])
        else:
            pivots = np.array(self.pivots, dtype=float).reshape(-1)
            if pivots.size != edges.size - 1:
                raise ValueError(f"pivots: need {edges.size - 1} values (one per class), got {pivots.size}")
            if np.any(pivots < edges[:-1]) or np.any(pivots > edges[1:]):
                raise ValueError("pivots: each pivot must lie within its class edges")
            if np.any(np.diff(pivots) <= 0.0):
                raise ValueError("pivots: must be strictly increasing")
        edges.flags.writeable = False
        pivots.flags.writeable = False
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "pivots", pivots)

    # -- constructors -------------------------------------------------------
    @classmethod
    def geometric(cls, v_min: float, v_max: float, n: int) -> Grid:
        """n classes with geometrically spaced edges from ``v_min`` to ``v_max`` (m^3)."""
        n = _check_n(n)
        if not v_min > 0.0:
            raise ValueError(f"v_min: must be > 0, got {v_min!r}")
        if not v_max > v_min:
            raise ValueError(f"v_max: must be > v_min, got {v_max!r}")
        return cls(np.geomspace(v_min, v_max, n + 1))

    @classmethod
    def from_diameters(cls, d_min: float, d_max: float, n: int) -> Grid:
        """Geometric volume grid between sphere diameters ``d_min`` and ``d_max`` (m)."""
        n = _check_n(n)
        if not d_min > 0.0:
            raise ValueError(f"d_min: must be > 0, got {d_min!r}")
        if not d_max > d_min:
            raise ValueError(f"d_max: must be > d_min, got {d_max!r}")
        return cls.geometric(float(diameter_to_volume(d_min)), float(diameter_to_volume(d_max)), n)

    @classmethod
    def from_edges(cls, edges, pivots=None) -> Grid:
        """User-chosen edges (m^3) and optional pivots (m^3)."""
        return cls(edges, pivots)

    @classmethod
    def from_ratio(cls, v_min: float, ratio: float, n: int) -> Grid:
        """Geometric grid with ``v_{i+1}/v_i = ratio`` (e.g. 2, 2**0.5)."""
        if not ratio > 1.0:
            raise ValueError(f"ratio: must be > 1, got {ratio!r}")
        n = _check_n(n)
        if not v_min > 0.0:
            raise ValueError(f"v_min: must be > 0, got {v_min!r}")
        return cls(v_min * ratio ** np.arange(n + 1))

    # -- derived quantities -------------------------------------------------
    @property
    def n(self) -> int:
        return self.pivots.size

    @property
    def widths(self) -> np.ndarray:
        """Class widths v_{i+1} - v_i (m^3)."""
        return np.diff(self.edges)

    @property
    def diameters(self) -> np.ndarray:
        """Equivalent-sphere diameters of the pivots (m)."""
        return volume_to_diameter(self.pivots)

    @property
    def edge_diameters(self) -> np.ndarray:
        """Equivalent-sphere diameters of the edges (m)."""
        return volume_to_diameter(self.edges)

    def locate(self, v: float) -> int:
        """Index of the class whose edges contain volume ``v`` (clipped to the grid)."""
        i = int(np.searchsorted(self.edges, v, side="right")) - 1
        return min(max(i, 0), self.n - 1)

    def bin_density(self, cdf) -> np.ndarray:
        """Class numbers N_i = F(v_{i+1}) - F(v_i) from a cumulative number ``cdf(v)``."""
        return np.diff(np.asarray(cdf(self.edges), dtype=float))

    def __len__(self) -> int:
        return self.n

    def __eq__(self, other):
        return (
            isinstance(other, Grid)
            and np.array_equal(self.edges, other.edges)
            and np.array_equal(self.pivots, other.pivots)
        )

    def __hash__(self):
        return hash((self.edges.tobytes(), self.pivots.tobytes()))

    def __repr__(self):
        return (
            f"Grid(n={self.n}, v=[{self.edges[0]:.3g}, {self.edges[-1]:.3g}] m^3, "
            f"d=[{self.edge_diameters[0]:.3g}, {self.edge_diameters[-1]:.3g}] m)"
        )


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: must be a positive integer, got {n!r}")
    return int(n)
