"""What to estimate and how: fitted parameters and initial states, error models, solver settings.

These pydantic objects are what the Python API, the CLI spec (``calibration/spec.py``) and the
dashboard all pass to :func:`bioprocess_twin.calibration.estimation.estimate`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..core.spec import StrictModel


class FitParameter(StrictModel):
    """A model parameter to estimate, shared by all batches or one value per batch."""

    name: str = Field(..., min_length=1, description="model parameter")
    scope: Literal["shared", "batch"] = Field("shared", description="one value for all batches, or one per batch")
    lower: float | None = Field(None, description="lower bound (model units); default: the declared bound")
    upper: float | None = Field(None, description="upper bound (model units); default: the declared bound")
    start: float | None = Field(None, description="starting value (model units); default: the current value")
    log: bool | None = Field(None, description="estimate log(value); default: yes when the lower bound is > 0")


class FitInitialState(StrictModel):
    """An initial state to estimate, one value per batch (e.g. the inoculum)."""

    state: str = Field(..., min_length=1, description="model state")
    lower: float = Field(..., description="lower bound (model units)")
    upper: float = Field(..., description="upper bound (model units)")
    start: float | None = Field(
        None, description="starting value; default: the batch record's initial value, else the model's"
    )
    log: bool | None = Field(None, description="estimate log(value); default: yes when lower > 0")

    @model_validator(mode="after")
    def _ordered(self):
        if not self.lower < self.upper:
            raise ValueError(f"lower ({self.lower:g}) must be below upper ({self.upper:g})")
        return self


class ErrorModel(StrictModel):
    """Measurement error of one output: sigma = sqrt(a^2 + (b |y|)^2).

    ``constant`` uses a only, ``proportional`` b only, ``combined`` both. Values left out are
    estimated by maximum likelihood (objective "ml"); for "wls" they must be given.
    """

    kind: Literal["constant", "proportional", "combined"] = "constant"
    a: float | None = Field(None, gt=0, description="absolute standard deviation (output units)")
    b: float | None = Field(None, gt=0, description="relative standard deviation (fraction of the value)")

    @property
    def free(self) -> list[str]:
        used = {"constant": ["a"], "proportional": ["b"], "combined": ["a", "b"]}[self.kind]
        return [k for k in used if getattr(self, k) is None]


StateValue = float | str | dict[str, Any]


class PhaseAction(StrictModel):
    """What happens to the model's states when a recorded ISA-88 phase starts (the batch records' phase
    markers): e.g. the product cooled back to the inlet temperature before every homogenizer pass.
    Values are numbers in the state's units or quantities such as ``"20 degC"``."""

    set_states: dict[str, StateValue] = Field(default_factory=dict, description="states replaced by these values")
    add_states: dict[str, StateValue] = Field(default_factory=dict, description="amounts added to states")

    @model_validator(mode="after")
    def _something(self):
        if not self.set_states and not self.add_states:
            raise ValueError("give set_states or add_states")
        return self


class FitSettings(StrictModel):
    """Estimation settings. See docs/calibration.md for the method."""

    parameters: list[FitParameter] = Field(default_factory=list)
    initial_states: list[FitInitialState] = Field(default_factory=list)
    outputs: list[str] | None = Field(None, description="outputs/states fitted; default: every one with data")
    error_models: dict[str, ErrorModel] = Field(
        default_factory=dict, description="output -> error model (default: constant, sigma estimated)"
    )
    objective: Literal["ml", "wls"] = Field(
        "ml",
        description="ml: maximum likelihood with the unknown error-model "
        "values estimated; wls: weighted least squares with given sigmas",
    )
    fixed: dict[str, float] = Field(default_factory=dict, description="model parameters held at these values")
    phase_actions: dict[str, PhaseAction] = Field(
        default_factory=dict,
        description="recorded phase name or shell pattern ('*', 'pass *') -> state changes at its start",
    )
    starts: int = Field(
        1,
        ge=1,
        le=64,
        description="fits from this many starting points (the first is `start`, "
        "the rest a scrambled Sobol sample of the transformed bounds); the best is kept",
    )
    seed: int = Field(0, description="seed of the extra starting points")
    max_iterations: int = Field(100, ge=1, le=10_000, description="Gauss-Newton (trust-region) iterations per fit")
    rtol: float = Field(1e-8, gt=0, lt=1e-2, description="integrator relative tolerance")
    atol: float = Field(1e-10, gt=0, description="integrator absolute tolerance")

    @model_validator(mode="after")
    def _unique(self):
        errors = []
        names = [p.name for p in self.parameters]
        errors += [f"parameters: {n} is listed twice" for n in sorted({n for n in names if names.count(n) > 1})]
        states = [s.state for s in self.initial_states]
        errors += [f"initial_states: {n} is listed twice" for n in sorted({n for n in states if states.count(n) > 1})]
        errors += [f"fixed.{n}: also listed as fitted" for n in self.fixed if n in names]
        if not names and not states:
            errors.append("parameters: nothing to estimate (give parameters or initial_states)")
        if self.objective == "wls":
            errors += [
                f"error_models.{o}: wls needs {', '.join(e.free)} given" for o, e in self.error_models.items() if e.free
            ]
        if errors:
            raise ValueError("; ".join(errors))
        return self
