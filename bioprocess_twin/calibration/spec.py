"""The calibration spec: model, batch records, what to fit, held-out batches, profiles, whether to save.

One :class:`CalibrationSpec` is read by ``bioprocess-twin calibrate SPEC`` and by the dashboard's
calibration page, and run by :func:`bioprocess_twin.calibration.run.calibrate`. It extends
:class:`~.settings.FitSettings` (parameters, initial_states, outputs, error_models, objective, ...).

A spec is data that may come from someone else (docs/security.md):

- its paths (``data``, ``model_file``) are confined to the spec's folder: no absolute path outside it,
  no ``..``, no symbolic link out; ``allow_outside_paths=True`` is the caller's opt-in;
- ``model_file`` runs Python, so it is trusted input: it works only with ``allow_model_code=True``
  (``--allow-model-code`` on the command line); the dashboard never passes it;
- calibrated sets are written only in the user models folder (``save`` takes a version, not a folder).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from ..core.model import Model
from ..core.parameters import ParameterError
from ..core.paths import confined_path, inside
from ..core.simulation import SolverOptions
from ..core.spec import VERSION_PATTERN, SpecError, StrictModel, field_errors, read_spec_file
from .settings import FitSettings

#: longest label, batch name or model name accepted in a spec
MAX_NAME_CHARS = 200
MODEL_CODE_REFUSED = (
    "runs the Python code of this file, so it is trusted input: it is refused unless the caller opts in "
    "(--allow-model-code on the command line, allow_model_code=True in Python)"
)


class SaveSettings(StrictModel):
    """Save the estimates as a new version of the model, in the user models folder."""

    version: str | None = Field(
        None,
        pattern=VERSION_PATTERN,
        max_length=100,
        description="version of the calibrated parameter set (letters, digits and . + _ -, so that it names a "
        "file in the model's folder and nothing else); default '<model version>+cal.<n>' with the next free n",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_root(cls, data):
        if isinstance(data, dict) and "root" in data:
            raise ValueError(
                "root: not accepted: calibrated sets are written only in the user models folder "
                "($BIOPROCESS_TWIN_MODELS, else ~/.local/share/bioprocess-twin/models), set that variable "
                "to choose the folder"
            )
        return data


class CalibrationSpec(FitSettings):
    name: str = Field("calibration", max_length=MAX_NAME_CHARS, description="label shown in reports")
    model: str | None = Field(
        None, min_length=1, max_length=MAX_NAME_CHARS, description="registered model (process) name, e.g. cho_fed_batch"
    )
    model_file: str | None = Field(
        None,
        description="Python file (relative to the spec) defining build_model() that returns a core Model; it runs "
        "code, so it needs the caller's opt-in (--allow-model-code)",
    )
    data: str = Field(..., description="tag map YAML of the batch records (relative to the spec)")
    exclude: list[str] = Field(default_factory=list, description="batches left out entirely (e.g. faulty runs)")
    held_out: list[str] = Field(default_factory=list, description="batches predicted, not fitted (validation)")
    profiles: list[str] = Field(default_factory=list, description="unknowns (labels) to profile, e.g. mu_max")
    save: SaveSettings | None = Field(None, description="save the estimates as a new model version")
    seed: int = Field(0, ge=0, lt=2**32, description="seed of the extra starting points")

    @model_validator(mode="after")
    def _one_model(self):
        errors = []
        if (self.model is None) == (self.model_file is None):
            errors.append("model: give either model (a registered name) or model_file")
        clash = sorted(set(self.exclude) & set(self.held_out))
        if clash:
            errors.append(f"held_out: {', '.join(clash)} also excluded")
        for field in ("exclude", "held_out", "profiles"):
            errors += [
                f"{field}.{i}: longer than {MAX_NAME_CHARS} characters"
                for i, text in enumerate(getattr(self, field))
                if len(text) > MAX_NAME_CHARS
            ]
        try:
            SolverOptions(rtol=self.rtol, atol=self.atol)
        except ValidationError as exc:
            errors += [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        if errors:
            raise ValueError("; ".join(errors))
        return self


def parse_calibration_spec(data: Any, source: str = "calibration spec") -> CalibrationSpec:
    """A validated spec; nothing is read or run (paths are checked by :func:`spec_paths`)."""
    if not isinstance(data, dict):
        raise SpecError(source, [("(top level)", "expected a mapping with model, data and parameters")])
    try:
        return CalibrationSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, field_errors(exc)) from None


def load_calibration_spec(
    path: str | Path, *, allow_model_code: bool = False, allow_outside_paths: bool = False
) -> tuple[CalibrationSpec, Path]:
    """The spec and the folder its relative paths start from. Its paths are checked here (and again when it
    runs), and a ``model_file`` without ``allow_model_code`` is refused, so that a bad spec fails before any
    file is read. Raises SpecError naming the field."""
    source = str(path)
    spec = parse_calibration_spec(read_spec_file(path), source)
    base = Path(path).resolve().parent
    try:
        spec_paths(spec, base, allow_model_code=allow_model_code, allow_outside_paths=allow_outside_paths)
    except ParameterError as exc:
        raise SpecError(source, exc.errors) from None
    return spec, base


@dataclass(frozen=True)
class SpecPaths:
    """The files a spec names, resolved: the tag map and the model file (None for a registered model)."""

    data: Path
    model_file: Path | None


def spec_path(value: str, base: Path, field: str, allow_outside: bool = False) -> Path:
    """``value`` from ``base``, confined to it unless ``allow_outside``: relative, or absolute inside ``base``
    (the form :func:`~.choices.with_choices` writes). ParameterError on ``field``."""
    text = str(value)
    try:
        if not allow_outside and Path(text).is_absolute() and "\x00" not in text and inside(text, base):
            return Path(text).resolve()
        return confined_path(text, base, field, allow_outside=allow_outside)
    except ParameterError:
        raise
    except (ValueError, RuntimeError, OSError) as exc:  # NUL bytes, unknown ~user, names too long
        raise ParameterError([(field, f"is not a usable path: {exc}")]) from None


def spec_paths(
    spec: CalibrationSpec, base: Path, *, allow_model_code: bool = False, allow_outside_paths: bool = False
) -> SpecPaths:
    """The spec's files, confined to ``base`` unless ``allow_outside_paths``; a ``model_file`` needs
    ``allow_model_code``. Nothing is read. Raises ParameterError naming ``data`` and ``model_file``."""
    errors, found = [], {}
    for field in ("data", "model_file"):
        value = getattr(spec, field)
        if value is None:
            found[field] = None
            continue
        if field == "model_file" and not allow_model_code:
            errors.append((field, MODEL_CODE_REFUSED))
            continue
        try:
            found[field] = spec_path(value, Path(base), field, allow_outside_paths)
        except ParameterError as exc:
            errors += exc.errors
    if errors:
        raise ParameterError(errors, "calibration spec")
    return SpecPaths(found["data"], found["model_file"])


def resolve_model(
    spec: CalibrationSpec, base: Path, *, allow_model_code: bool = False, allow_outside_paths: bool = False
) -> Model:
    """The spec's model: a registered one by name, or the ``build_model()`` of its ``model_file``, which is run
    only when the caller passes ``allow_model_code=True``. Raises ParameterError naming ``model`` or
    ``model_file``."""
    if spec.model is not None:
        from .. import catalogue

        try:
            return catalogue.get(spec.model).model
        except KeyError as exc:
            raise ParameterError([("model", exc.args[0])]) from None
    path = spec_paths(spec, base, allow_model_code=allow_model_code, allow_outside_paths=allow_outside_paths).model_file
    return _model_from_file(path)


def _model_from_file(path: Path) -> Model:
    try:
        found = path.is_file()
    except OSError as exc:
        raise ParameterError([("model_file", f"cannot be read: {exc.strerror}")]) from None
    if not found:
        raise ParameterError([("model_file", f"{path} does not exist")])
    module_spec = importlib.util.spec_from_file_location(f"user_model_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        raise ParameterError([("model_file", f"{path.name} is not a Python file")])
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report whatever it raised
        raise ParameterError([("model_file", f"{path.name} failed to import: {type(exc).__name__}: {exc}")]) from None
    build = getattr(module, "build_model", None)
    if not callable(build):
        raise ParameterError([("model_file", f"{path.name} defines no build_model() function")])
    try:
        model = build()
    except Exception as exc:  # the user's code
        raise ParameterError([("model_file", f"build_model() raised {type(exc).__name__}: {exc}")]) from None
    if not isinstance(model, Model):
        raise ParameterError([("model_file", f"build_model() returned {type(model).__name__}, not a core Model")])
    return model
