"""The calibration spec: model, batch records, what to fit, held-out batches, profiles, where to save.

One :class:`CalibrationSpec` is read by ``bioprocess-twin calibrate SPEC`` and by the dashboard's
calibration page, and run by :func:`bioprocess_twin.calibration.run.calibrate`. It extends
:class:`~.settings.FitSettings` (parameters, initial_states, outputs, error_models, objective, ...).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from ..core.model import Model
from ..core.parameters import ParameterError
from ..core.spec import SpecError, StrictModel, field_errors, read_spec_file
from .settings import FitSettings


class SaveSettings(StrictModel):
    version: str | None = Field(
        None,
        pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$",
        max_length=100,
        description="version of the calibrated parameter set (letters, digits and . + _ -, so that it names a "
        "file in the model's folder and nothing else); default '<model version>+cal.<n>' with the next free n",
    )
    root: str | None = Field(
        None,
        description="models folder (relative to the spec); default the user "
        "models folder ($BIOPROCESS_TWIN_MODELS, else "
        "~/.local/share/bioprocess-twin/models)",
    )


class CalibrationSpec(FitSettings):
    name: str = Field("calibration", description="label shown in reports")
    model: str | None = Field(None, description="registered model (process) name, e.g. cho_fed_batch")
    model_file: str | None = Field(
        None, description="Python file (relative to the spec) defining build_model() that returns a core Model"
    )
    data: str = Field(..., description="tag map YAML of the batch records (relative to the spec)")
    exclude: list[str] = Field(default_factory=list, description="batches left out entirely (e.g. faulty runs)")
    held_out: list[str] = Field(default_factory=list, description="batches predicted, not fitted (validation)")
    profiles: list[str] = Field(default_factory=list, description="unknowns (labels) to profile, e.g. mu_max")
    save: SaveSettings | None = Field(None, description="save the estimates as a new model version")

    @model_validator(mode="after")
    def _one_model(self):
        if (self.model is None) == (self.model_file is None):
            raise ValueError("model: give either model (a registered name) or model_file")
        clash = sorted(set(self.exclude) & set(self.held_out))
        if clash:
            raise ValueError(f"held_out: {', '.join(clash)} also excluded")
        return self


def parse_calibration_spec(data: Any, source: str = "calibration spec") -> CalibrationSpec:
    if not isinstance(data, dict):
        raise SpecError(source, [("(top level)", "expected a mapping with model, data and parameters")])
    try:
        return CalibrationSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, field_errors(exc)) from None


def load_calibration_spec(path: str | Path) -> tuple[CalibrationSpec, Path]:
    """The spec and the folder its relative paths start from."""
    return parse_calibration_spec(read_spec_file(path), str(path)), Path(path).resolve().parent


def resolve_model(spec: CalibrationSpec, base: Path) -> Model:
    if spec.model is not None:
        from .. import catalogue

        try:
            return catalogue.get(spec.model).model
        except KeyError as exc:
            raise ParameterError([("model", exc.args[0])]) from None
    path = (base / spec.model_file).resolve()
    if not path.is_file():
        raise ParameterError([("model_file", f"{path} does not exist")])
    module_spec = importlib.util.spec_from_file_location(f"user_model_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report whatever it raised
        raise ParameterError([("model_file", f"{path.name} failed to import: {type(exc).__name__}: {exc}")]) from None
    build = getattr(module, "build_model", None)
    if not callable(build):
        raise ParameterError([("model_file", f"{path.name} defines no build_model() function")])
    model = build()
    if not isinstance(model, Model):
        raise ParameterError([("model_file", f"build_model() returned {type(model).__name__}, not a core Model")])
    return model
