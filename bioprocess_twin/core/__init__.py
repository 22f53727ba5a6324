"""Modelling kernel: declare a model once in CasADi, simulate it with SUNDIALS."""

from .model import Model, ModelBuilder, Variable
from .parameters import Parameter, ParameterError, ParameterTable
from .recipe import Event, Phase, Recipe
from .results import SimulationResult, SolverFailure
from .simulation import SolverOptions, simulate
from .units import Quantity, UnitsError, ureg

__all__ = [
    "Model",
    "ModelBuilder",
    "Variable",
    "Parameter",
    "ParameterError",
    "ParameterTable",
    "Event",
    "Phase",
    "Recipe",
    "SimulationResult",
    "SolverFailure",
    "SolverOptions",
    "simulate",
    "Quantity",
    "UnitsError",
    "ureg",
]
