"""Unit-operation models, one per file. Importing this package registers their processes."""
from . import alum_precipitation, emulsion_homogenizer, liposome_microfluidic  # noqa: F401
