"""The scenario spec: a base simulation spec, the factors that vary it, the KPIs with their specifications,
and the uncertainty a Monte Carlo samples (YAML, validated by pydantic; every error names its field).

```yaml
name: emulsion_size_window
base: emulsion_homogenizer.yaml      # a simulation spec beside this file, or the spec itself as a mapping
factors:
  - {path: inputs.pressure, range: [600, 1400], units: bar}
  - {path: parameters.n_passes, levels: [4, 6, 8]}
responses:
  - {kpi: z_average_nm, min: 140, max: 180}
  - {kpi: pdi, max: 0.2}
uncertainty:
  parameters:
    breakage_rate_scale: {distribution: lognormal, median: 1.0, gsd: 1.2}
  factors:
    inputs.pressure: {sd: 15}        # process noise about the set value, in the factor's units
samples: 200                         # Monte Carlo samples per point
seed: 1
```

A factor's ``path`` addresses a field of the base spec by dotted path: ``inputs.pressure``,
``parameters.n_passes``, ``initial.X``, or a recipe value such as ``recipe.phases.1.inputs.feed_rate``
(list positions count from 0). ``parameters``, ``inputs`` and ``initial`` take any name of the model;
a recipe path must exist in the base spec.

``analysis: optimize`` with an ``optimize:`` section (``objective: {kpi: energy_density_MJ_per_m3, sense:
minimize}``, optional ``pareto: {second: {kpi: ...}, epsilons: [...]}``) asks for the best design under the
responses' limits instead (:mod:`.design`, ``bioprocess-twin optimize``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from ..core.parameters import ParameterError
from ..core.paths import confined_path
from ..core.spec import SpecError, StrictModel, field_errors, parse_spec, read_spec_file
from . import line_base

#: the first part of a factor path, and what it addresses
SECTIONS = {
    "parameters": "a model or operating parameter",
    "inputs": "a model input",
    "initial": "an initial state",
    "recipe": "a value of the base spec's recipe",
    "units": "a parameter of a unit of the base line",
}
MAX_FACTORS = 8
MAX_LEVELS = 1000
MAX_SAMPLES = 1_000_000


class Factor(StrictModel):
    """One varied field of the base spec: a range (continuous, or whole numbers when ``integer``) or levels."""

    path: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$", max_length=200)
    range: tuple[float, float] | None = None
    levels: list[float] | None = Field(None, min_length=1, max_length=MAX_LEVELS)
    integer: bool = False
    units: str = Field("", max_length=100)

    @field_validator("path")
    @classmethod
    def _section(cls, value: str) -> str:
        section = value.split(".", 1)[0]
        if section not in SECTIONS:
            raise ValueError(f"a factor path starts with one of {', '.join(SECTIONS)}, not '{section}'")
        return value

    @model_validator(mode="after")
    def _one_domain(self):
        if (self.range is None) == (self.levels is None):
            raise ValueError("give either range: [low, high] or levels: [...]")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError("range: the low end must be below the high end")
        if self.integer:
            values = self.levels if self.levels is not None else list(self.range or ())
            if any(v != math.floor(v) for v in values):
                raise ValueError("an integer factor takes whole numbers")
        return self

    @property
    def name(self) -> str:
        return self.path

    def bounds(self) -> tuple[float, float]:
        if self.range is not None:
            return self.range
        levels = self.levels or []
        return min(levels), max(levels)


class Limits(StrictModel):
    """``min`` and/or ``max``, both inclusive."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _a_limit(self):
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and not self.min <= self.max:
            raise ValueError("min must not exceed max")
        return self

    def met(self, value: float | None) -> bool:
        """True when ``value`` is a number within the limits (None and NaN never are)."""
        if value is None or not math.isfinite(value):
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class Response(Limits):
    """A KPI with its specification (a CQA)."""

    kpi: str = Field(max_length=200)

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.kpi} in [{self.min:g}, {self.max:g}]"
        return f"{self.kpi} >= {self.min:g}" if self.min is not None else f"{self.kpi} <= {self.max:g}"


class Distribution(StrictModel):
    """An uncertain value: normal (``mean``, ``sd``), lognormal (``median``, ``gsd`` the geometric standard
    deviation, > 1) or uniform (``low``, ``high``), in ``units`` (default: the parameter's declared units)."""

    distribution: Literal["normal", "lognormal", "uniform"]
    mean: float | None = None
    sd: float | None = Field(None, ge=0)
    median: float | None = Field(None, gt=0)
    gsd: float | None = Field(None, ge=1)
    low: float | None = None
    high: float | None = None
    units: str | None = Field(None, max_length=100)

    @model_validator(mode="after")
    def _complete(self):
        needed = {"normal": ("mean", "sd"), "lognormal": ("median", "gsd"), "uniform": ("low", "high")}
        wanted = needed[self.distribution]
        missing = [k for k in wanted if getattr(self, k) is None]
        extra = [k for v in needed.values() for k in v if k not in wanted and getattr(self, k) is not None]
        errors = [f"{k}: a {self.distribution} distribution needs it" for k in missing]
        errors += [f"{k}: not used by a {self.distribution} distribution" for k in extra]
        if not errors and self.distribution == "uniform" and not self.low < self.high:  # type: ignore[operator]
            errors.append("high: must be above low")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def pair(self) -> tuple[float, float]:
        """The distribution's two numbers: (mean, sd), (median, gsd) or (low, high)."""
        first, second = {"normal": ("mean", "sd"), "lognormal": ("median", "gsd"), "uniform": ("low", "high")}[
            self.distribution
        ]
        return float(getattr(self, first)), float(getattr(self, second))


class Noise(StrictModel):
    """Process noise on a factor: normal about its set value with standard deviation ``sd`` (factor units)."""

    sd: float = Field(ge=0)


class Uncertainty(StrictModel):
    """Given distributions of parameters; ``calibrated``: also sample the shared parameters of the base spec's
    calibrated set (its ``version``) jointly from their covariance; and process noise on factors."""

    parameters: dict[str, Distribution] = Field(default_factory=dict)
    calibrated: bool = False
    factors: dict[str, Noise] = Field(default_factory=dict)


class DesignSpaceSettings(StrictModel):
    """The grid of a design space: ``grid`` points per factor with a range (levels are taken as given), the
    probability ``target`` that defines the region, the ``set_point`` (default: the grid's centre), and
    ``refine`` rounds that halve the grid spacing of a continuous factor where P crosses the target."""

    grid: int = Field(5, ge=2, le=50)
    refine: int = Field(0, ge=0, le=4)
    target: float = Field(0.9, gt=0, lt=1)
    confidence: float = Field(0.95, gt=0, lt=1)
    set_point: dict[str, float] = Field(default_factory=dict)


class SensitivitySettings(StrictModel):
    """Global sensitivity: Sobol indices from ``base_samples`` (N, a power of two: N·(k+2) runs for k inputs)
    or Morris screening with ``trajectories`` on a grid of ``levels``; intervals from ``resamples`` bootstrap
    resamples at ``confidence``."""

    method: Literal["sobol", "morris"] = "sobol"
    base_samples: int = Field(256, ge=8, le=2**16)
    trajectories: int = Field(10, ge=2, le=1000)
    levels: int = Field(4, ge=2, le=20)
    resamples: int = Field(100, ge=10, le=10_000)
    confidence: float = Field(0.95, gt=0, lt=1)

    @field_validator("base_samples")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError(
                f"must be a power of two (Sobol sequences balance only then), e.g. {1 << value.bit_length()}"
            )
        return value


class KpiObjective(StrictModel):
    """A KPI to minimise or maximise (a key the base spec's model reports, e.g. ``energy_density_MJ_per_m3``)."""

    kpi: str = Field(min_length=1, max_length=200)
    sense: Literal["minimize", "maximize"] = "minimize"


class DesignPareto(StrictModel):
    """The ε-constraint front: the objective optimised with ``second`` held to each ε in turn (KPI units)."""

    second: KpiObjective
    epsilons: list[float] = Field(min_length=1, max_length=200)


class OptimizeSettings(StrictModel):
    """Static design optimisation (``analysis: optimize``, ``bioprocess-twin optimize``): the objective KPI under
    every response's limits, over the factors (continuous ones by IPOPT, the others enumerated: see
    :mod:`.design`); optionally the Pareto front against a second KPI. ``tolerance`` and ``max_iterations``
    are IPOPT's, per combination of the enumerated factors."""

    objective: KpiObjective
    pareto: DesignPareto | None = None
    tolerance: float = Field(1e-7, gt=0, lt=1)
    max_iterations: int = Field(200, ge=1, le=10_000)


#: the analyses :func:`.run.run_scenario` computes (``analysis`` of the spec); ``optimize`` specs run through
#: ``bioprocess-twin optimize`` (:func:`.optimize.run_optimization`), so it is not listed here
ANALYSES = ("design_space", "monte_carlo", "sensitivity")


class ScenarioSpec(StrictModel):
    name: str = Field("scenario", pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]*$", max_length=100)
    base: str | dict[str, Any]
    analysis: Literal["design_space", "monte_carlo", "sensitivity", "optimize"] = "design_space"
    factors: list[Factor] = Field(default_factory=list, max_length=MAX_FACTORS)
    responses: list[Response] = Field(min_length=1)
    uncertainty: Uncertainty = Field(default_factory=Uncertainty)
    samples: int = Field(100, ge=1, le=MAX_SAMPLES)
    seed: int = Field(0, ge=0, lt=2**63)
    design_space: DesignSpaceSettings = Field(default_factory=DesignSpaceSettings)
    sensitivity: SensitivitySettings = Field(default_factory=SensitivitySettings)
    optimize: OptimizeSettings | None = None

    @model_validator(mode="after")
    def _names(self):
        errors = []
        if self.analysis == "optimize" and self.optimize is None:
            errors.append("optimize: analysis 'optimize' needs this section, e.g. {objective: {kpi: ..., sense: ...}}")
        paths = [f.path for f in self.factors]
        errors += [f"factors: '{p}' is given twice" for p in sorted({p for p in paths if paths.count(p) > 1})]
        kpis = [r.kpi for r in self.responses]
        errors += [f"responses: '{k}' is given twice" for k in sorted({k for k in kpis if kpis.count(k) > 1})]
        errors += [
            f"uncertainty.factors.{p}: not a factor (factors: {', '.join(paths) or 'none'})"
            for p in self.uncertainty.factors
            if p not in paths
        ]
        errors += [
            f"design_space.set_point.{p}: not a factor (factors: {', '.join(paths) or 'none'})"
            for p in self.design_space.set_point
            if p not in paths
        ]
        if errors:
            raise ValueError("; ".join(errors))
        return self


def parse_scenario_spec(
    data: Any, source: str = "scenario", folder: str | Path | None = None
) -> tuple[ScenarioSpec, dict]:
    """The validated scenario spec and its base simulation spec document (read from ``folder`` when ``base``
    names a file; the file must lie inside that folder). Raises SpecError naming each bad field."""
    if not isinstance(data, dict):
        raise SpecError(source, [("(top level)", "expected a mapping with 'base' and 'responses'")])
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, field_errors(exc)) from None
    if isinstance(spec.base, str):
        if folder is None:
            raise SpecError(source, [("base", "a base spec file needs the scenario's folder; give the spec inline")])
        try:
            path = confined_path(spec.base, folder, "base")
        except ParameterError as exc:
            raise SpecError(source, exc.errors) from None
        try:
            base = read_spec_file(path)
        except SpecError as exc:
            raise SpecError(source, [("base", f"{spec.base}: {m}") for _, m in exc.errors]) from None
    else:
        base = spec.base
    if line_base.is_line(base):
        try:
            return spec, line_base.resolve(base)
        except ParameterError as exc:
            raise SpecError(source, [(f"base.{f}", m) for f, m in exc.errors]) from None
    try:
        parse_spec(base, "base")
    except SpecError as exc:
        raise SpecError(source, [(f"base.{f}" if f != "file" else "base", m) for f, m in exc.errors]) from None
    return spec, base


def load_scenario_spec(path: str | Path) -> tuple[ScenarioSpec, dict]:
    """Read a scenario spec file and its base spec (see :func:`parse_scenario_spec`)."""
    path = Path(path)
    return parse_scenario_spec(read_spec_file(path), str(path), path.parent)
