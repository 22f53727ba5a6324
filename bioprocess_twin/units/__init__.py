"""Unit-operation models, one per file. Importing this package registers their processes."""
from . import (alum_precipitation, bioreactor, bioreactor_unit, emulsion_homogenizer, fill,  # noqa: F401
               homogenizer, liposome_microfluidic, mixing_tank, sterile_filtration)
