"""Unit-operation models, one per file. Importing this package registers their processes."""
from . import (alum_precipitation, bioreactor, bioreactor_unit, chromatography, emulsion_homogenizer,  # noqa: F401
               fill, homogenizer, liposome_microfluidic, microbial_bioreactor, mixing_tank, sterile_filtration,
               tff)
