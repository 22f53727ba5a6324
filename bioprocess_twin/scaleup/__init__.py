"""Scale-up: geometric similarity, stirred-tank criteria, homogenizer energy density, aeration sizing NLP.

``translate(spec)`` takes a lab-scale scenario (``ScaleUpSpec``) and returns the target-scale scenario
with a lab-vs-target table and warnings (docs/scaleup.md).
"""

from .aeration import AerationDesign, closed_form_optimum, kla_required, size_aeration, sparging_energy
from .limits import HOMOGENIZER_LIMITS, STIRRED_TANK_LIMITS
from .spec import ScaleUpSpec, ScaleUpSpecError, load_scaleup_spec, parse_scaleup_spec
from .stirred_tank import CRITERIA, GAS_BASES, scale_operation
from .translate import ScaleUpResult, translate

__all__ = [
    "AerationDesign",
    "closed_form_optimum",
    "kla_required",
    "size_aeration",
    "sparging_energy",
    "HOMOGENIZER_LIMITS",
    "STIRRED_TANK_LIMITS",
    "ScaleUpSpec",
    "ScaleUpSpecError",
    "load_scaleup_spec",
    "parse_scaleup_spec",
    "CRITERIA",
    "GAS_BASES",
    "scale_operation",
    "ScaleUpResult",
    "translate",
]
