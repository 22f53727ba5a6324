"""Population-balance engine: grids, kernels, discretisations, moments, size statistics.

A 1-D number population balance in particle volume, discretised into classes
(fixed pivot / cell average aggregation, fixed-pivot breakage, limited
finite-volume growth, nucleation).  Works on NumPy arrays and CasADi symbols.
See docs/pbe.md.
"""

from . import kernels, statistics
from .aggregation import CellAverageAggregation, FixedPivotAggregation
from .breakage import (
    BinaryEqual,
    BinaryUniform,
    CustomDaughter,
    Daughter,
    FixedPivotBreakage,
    binary_equal,
    binary_uniform,
    daughter,
)
from .grid import Grid, diameter_to_volume, volume_to_diameter
from .growth import FiniteVolumeGrowth, length_growth_to_edges, volume_growth_from_length
from .population import PBESolution, PBESolveError, PopulationBalance
from .statistics import diameter_moment, moments, size_stats, volume_quantiles

__all__ = [
    "Grid",
    "PopulationBalance",
    "PBESolution",
    "PBESolveError",
    "kernels",
    "statistics",
    "moments",
    "diameter_moment",
    "size_stats",
    "volume_quantiles",
    "FixedPivotAggregation",
    "CellAverageAggregation",
    "FixedPivotBreakage",
    "FiniteVolumeGrowth",
    "Daughter",
    "BinaryUniform",
    "BinaryEqual",
    "CustomDaughter",
    "binary_uniform",
    "binary_equal",
    "daughter",
    "volume_growth_from_length",
    "length_growth_to_edges",
    "volume_to_diameter",
    "diameter_to_volume",
]
