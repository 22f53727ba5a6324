"""Scenarios: design spaces with the probability of meeting spec, Monte Carlo, global sensitivity, and the
executor that runs their cases sequentially, on local processes or on Dask (docs/scenarios.md)."""

from .cases import Execution
from .executor import CaseStore, ExecutorError, run_cases
from .run import ScenarioResult, run_scenario
from .spec import ScenarioSpec, load_scenario_spec, parse_scenario_spec

__all__ = [
    "CaseStore",
    "Execution",
    "ExecutorError",
    "ScenarioResult",
    "ScenarioSpec",
    "load_scenario_spec",
    "parse_scenario_spec",
    "run_cases",
    "run_scenario",
]
