"""Processes: a model plus the defaults and KPIs that make it runnable from a spec.

A :class:`Process` is what the CLI and the dashboard run (through ``catalogue.run_spec``). It owns a built
:class:`~.model.Model`, may declare *operating* parameters that shape its recipe (number of
passes, say), and turns a result into KPIs and, for particle processes, size distributions.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .ensemble import Ensemble, EnsembleResult
from .kpi_units import KpiUnits, units_of
from .model import Model
from .parameters import ParameterError, ParameterTable
from .phased import run_phases
from .recipe import Recipe
from .results import SimulationResult
from .simulation import SolverOptions, simulate
from .units import from_si


@dataclass
class Distribution:
    """Size distributions over time for plotting: one row of ``density`` per labelled time."""

    diameter: np.ndarray  # class diameters, nm
    density: np.ndarray  # (n_times, n_classes) volume-weighted density q3 in 1/ln(d) (sums to 1 over ln d)
    labels: list[str]  # e.g. "pass 3" or "t = 12 s"
    kind: str = "volume density q3(ln d)"


@dataclass
class ProcessRun:
    process: Process
    result: SimulationResult
    kpis: dict[str, float] = field(default_factory=dict)
    distribution: Distribution | None = None
    series: Any = None  # pandas DataFrame of KPI-like quantities over time (no class columns)

    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def kpi_units(self) -> dict[str, str]:
        """The units of each KPI, as the process declares them."""
        return units_of(self.kpis, self.process.kpi_units)

    def to_dict(self, include_series: bool = True) -> dict[str, Any]:
        out = self.result.summary() | {"kpis": self.kpis, "kpi_units": self.kpi_units}
        if include_series and self.series is not None:
            df = self.series
            out["series"] = {
                "time": df.index.to_list(),
                "time_units": self.result.model.time_units,
                "time_label": self.result.model.time_label,
                "units": df.attrs.get("units", {}),
                "columns": {c: df[c].tolist() for c in df.columns},
            }
        if self.distribution is not None:
            d = self.distribution
            out["distribution"] = {
                "diameter_nm": d.diameter.tolist(),
                "labels": d.labels,
                "kind": d.kind,
                "density": d.density.tolist(),
            }
        return out


class Process(ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: parameters that shape the recipe or grid rather than enter the equations
    operating: ClassVar[ParameterTable] = ParameterTable()
    #: solver settings of a run that gives none (None: the SolverOptions defaults)
    solver_options: ClassVar[SolverOptions | None] = None
    #: units of each KPI ``kpis`` reports (see :mod:`.kpi_units`)
    kpi_units: ClassVar[KpiUnits] = {}

    def __init__(self):
        self._model: Model | None = None

    @classmethod
    def shared(cls) -> Process:
        """The one shared instance of this process model (its CasADi model is built once per interpreter)."""
        if cls not in _SHARED:
            _SHARED[cls] = cls()
        return _SHARED[cls]

    @classmethod
    def forget_shared(cls) -> None:
        _SHARED.pop(cls, None)

    @classmethod
    def reports_distribution(cls) -> bool:
        """True for a particle process: one that reports size distributions (it overrides ``distribution``)."""
        return cls.distribution is not Process.distribution

    @abstractmethod
    def build(self) -> Model:
        """Declare and build the CasADi model (called once, then cached)."""

    @property
    def model(self) -> Model:
        if self._model is None:
            self._model = self.build()
        return self._model

    @property
    def version(self) -> str:
        return self.model.version

    def default_recipe(self, operating: Mapping[str, float]) -> Recipe | None:
        """The recipe of a run given none, from the operating values (SI)."""
        return None

    def recipe_for(self, operating: Mapping[str, float], parameters: Mapping[str, float]) -> Recipe | None:
        """The recipe of a run given none: :meth:`default_recipe`. A process whose recipe also depends on
        its model parameters (``parameters``, in SI: a phase timed by a flux or a column volume)
        overrides this instead."""
        return self.default_recipe(operating)

    def default_times(self, operating: Mapping[str, float], recipe: Recipe | None) -> np.ndarray:
        if recipe is None:
            raise ParameterError([("times", f"process '{self.name}' needs output times")])
        return recipe.time_grid()

    def kpis(self, result: SimulationResult, operating: Mapping[str, float]) -> dict[str, float]:
        return {}

    def ensemble_kpis(self, runs: EnsembleResult, operating: Mapping[str, float]) -> dict[str, np.ndarray]:
        """The KPIs of every sample of an ensemble of runs, one array each (NaN where a sample did not run).

        This default calls :meth:`kpis` sample by sample; a process whose KPIs are array arithmetic over
        its trajectories computes them for all samples at once instead."""
        rows = [self.kpis(runs.result(i), operating) if ok else {} for i, ok in enumerate(runs.ok)]
        names = list(dict.fromkeys(k for row in rows for k in row))
        return {k: np.array([_number(row.get(k)) for row in rows]) for k in names}

    def distribution(self, result: SimulationResult, operating: Mapping[str, float]) -> Distribution | None:
        return None

    def series(self, result: SimulationResult, operating: Mapping[str, float]):
        return result.frame(include_vectors=False)

    def split_parameters(self, given: Mapping[str, Any] | None) -> tuple[dict[str, float], dict[str, float]]:
        """Model parameter values (declared units, as the integrator takes them) and operating values (SI,
        as ``default_recipe``, ``kpis`` etc. take them), resolved and validated; every bad name or value
        of either is reported at once."""
        given = dict(given or {})
        op_given = {k: given.pop(k) for k in list(given) if k in self.operating}
        errors: list[tuple[str, str]] = []

        def resolve(table: ParameterTable, values: dict[str, Any], si: bool = False) -> dict[str, float]:
            try:
                return table.resolve_si(values) if si else table.resolve(values)
            except ParameterError as exc:
                errors.extend(exc.errors)
                return {}

        operating = resolve(self.operating, op_given, si=True)
        model_values = resolve(self.model.parameters, given)
        if errors:
            known = self.operating.names + self.model.parameters.names
            errors = [(f, _unknown_hint(f, m, known, self.model.inputs.names)) for f, m in errors]
            raise ParameterError(errors, f"process '{self.name}' parameters")
        return model_values, operating

    def from_si(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Model and operating parameter values in SI, by name, in their declared units: what :meth:`run`
        takes from code that computes in SI (a production unit, say)."""
        known = {p.name: p.units for p in self.operating} | {p.name: p.units for p in self.model.parameters}
        unknown = [(name, f"unknown parameter of process '{self.name}'") for name in values if name not in known]
        if unknown:
            raise ParameterError(unknown, f"process '{self.name}' parameters")
        return {name: from_si(value, known[name]) for name, value in values.items()}

    def describe(self) -> dict[str, Any]:
        return self.model.describe() | {
            "name": self.name,
            "description": self.description or self.model.description,
            "operating": self.operating.describe(),
        }

    def run(
        self,
        parameters: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        recipe: Recipe | None = None,
        initial: Mapping[str, Any] | None = None,
        times=None,
        options: SolverOptions | None = None,
        sensitivities=False,
        progress: Callable[[float, str], None] | None = None,
    ) -> ProcessRun:
        model_params, operating, recipe, times = self._setup(parameters, recipe, times)
        options = options if options is not None else self.solver_options
        if recipe is not None and recipe.conditional:
            result = self._run_conditional(
                recipe, times, model_params, inputs, initial, options, sensitivities, progress
            )
        else:
            result = simulate(
                self.model,
                times,
                parameters=model_params,
                inputs=inputs,
                recipe=recipe,
                initial=initial,
                options=options,
                sensitivities=sensitivities,
                progress=progress,
            )
        if not result.ok or len(result.t) == 0:
            return ProcessRun(self, result)
        kpis = self.kpis(result, operating)
        undefined = [name for name, value in kpis.items() if not _finite(value)]
        if undefined:
            result.status = "failed"
            result.message = f"KPIs not finite (no physical result): {', '.join(undefined)}"
            return ProcessRun(self, result, kpis=kpis)
        return ProcessRun(
            self,
            result,
            kpis=kpis,
            distribution=self.distribution(result, operating),
            series=self.series(result, operating),
        )

    def ensemble(
        self,
        parameters: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        recipe: Recipe | None = None,
        initial: Mapping[str, Any] | None = None,
        times=None,
        options: SolverOptions | None = None,
        *,
        free_parameters: Sequence[str] = (),
        free_states: Sequence[str] = (),
        free_inputs: Sequence[str] = (),
        threads: int = 1,
    ) -> tuple[Ensemble, dict[str, float]]:
        """The runs :meth:`run` would make with these arguments, as an :class:`~.ensemble.Ensemble` over the
        ``free_parameters`` (model parameters), ``free_states`` (initial values) and ``free_inputs`` (constant inputs), with the operating values
        its KPIs take (:meth:`ensemble_kpis`). Raises ParameterError where runs could differ in more than those
        values: a recipe with phase transitions, or a recipe made from the free parameters."""
        operating_free = [n for n in free_parameters if n in self.operating]
        if operating_free:
            raise ParameterError(
                [
                    (n, "an operating parameter shapes the recipe; it cannot vary within an ensemble")
                    for n in operating_free
                ]
            )
        depends = recipe is None and free_parameters and type(self).recipe_for is not Process.recipe_for
        model_params, operating, recipe, times = self._setup(parameters, recipe, times)
        if recipe is not None and recipe.conditional:
            raise ParameterError([("recipe", "a recipe with phase transitions ends each run at its own time")])
        if depends:
            raise ParameterError([("parameters", f"the recipe of process '{self.name}' is made from its parameters")])
        ensemble = Ensemble(
            self.model,
            times,
            parameters=model_params,
            inputs=inputs,
            recipe=recipe,
            initial=initial,
            options=options if options is not None else self.solver_options,
            free_parameters=free_parameters,
            free_states=free_states,
            free_inputs=free_inputs,
            threads=threads,
        )
        return ensemble, operating

    def _setup(self, parameters, recipe, times) -> tuple[dict[str, float], dict[str, float], Recipe | None, Any]:
        """Model parameter values, operating values (SI), the recipe and the output times of a run."""
        model_params, operating = self.split_parameters(parameters)
        if recipe is None:
            recipe = self.recipe_for(operating, self.model.to_si(model_params))
        if times is not None:
            times = np.asarray(times, dtype=float)
        elif recipe is not None and not recipe.phases:
            raise ParameterError([("times", "give output times: the recipe has no phases to place default ones in")])
        elif recipe is None or not recipe.conditional:
            times = self.default_times(operating, recipe)
        return model_params, operating, recipe, times

    def _run_conditional(
        self, recipe, times, parameters, inputs, initial, options, sensitivities, progress
    ) -> SimulationResult:
        """A recipe whose phases have transitions: run phase by phase, each on its own ``points`` grid."""
        errors = [
            (field, "a recipe with phase transitions " + why)
            for field, why, bad in (
                ("recipe.events", "takes no events: give their changes to the phases", recipe.events),
                ("times", "takes no output times: each phase has 'points'", times is not None),
                ("sensitivities", "has no sensitivities", sensitivities),
            )
            if bad
        ]
        if errors:
            raise ParameterError(errors, f"process '{self.name}' recipe")
        return run_phases(
            self.model,
            recipe.phases,
            parameters=parameters,
            inputs=inputs,
            initial=initial,
            start=recipe.start,
            options=options,
            progress=progress,
        ).result


_SHARED: dict[type[Process], Process] = {}


def _number(value) -> float:
    """A KPI as a float; NaN for a missing or non-numeric one."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _finite(value) -> bool:
    """False for NaN and infinities; None (a KPI that does not apply, such as sizes with no solid) is fine."""
    if value is None:
        return True
    try:
        return bool(np.all(np.isfinite(np.asarray(value, dtype=float))))
    except (TypeError, ValueError):
        return True  # a text or category KPI


def _unknown_hint(field: str, message: str, known: list[str], inputs: list[str]) -> str:
    if "unknown name" not in message:
        return message
    if field in inputs:
        return "is an input, not a parameter: give it under 'inputs'"
    return message.split("; known:")[0] + f"; known: {', '.join(known)}"
