"""Versioned model definitions in ``models/<name>/<version>.yaml``.

A definition is the declared interface of a process at one model version: parameters and
operating parameters (units, bounds, defaults, sources), inputs, states and outputs. The files
are written from the code and checked against it by the tests, so a changed default or bound
without a new model version is caught before a run record can cite the wrong version.

Calibrated parameter sets (``bioprocess-twin calibrate``) are further versions of a model:
``<root>/<name>/<code version>+cal.<n>.yaml`` with ``kind: calibrated parameter set``, the
``base_version`` of the code they were fitted with and the fitted ``parameters`` in model units.
The root is ``$BIOPROCESS_TWIN_MODELS`` when set, else the project's ``models/``
(:func:`models_root`). :func:`model_versions` lists what can run; :func:`calibrated_parameters`
checks a set against the code and returns its values, which a spec's ``version`` makes the
parameter defaults of a run.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from .parameters import ParameterError
from .process import Process

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
MODELS_ENV = "BIOPROCESS_TWIN_MODELS"
CALIBRATED_KIND = "calibrated parameter set"


def definition(process: Process) -> dict[str, Any]:
    return {"kind": "model definition", "provenance": {"origin": "literature defaults declared in code",
                                                       "generated_by": "bioprocess-twin models --write-definitions"},
            **process.describe()}


def definition_path(process: Process, root: Path = MODELS_DIR) -> Path:
    return root / process.name / f"{process.version}.yaml"


def write_definition(process: Process, root: Path = MODELS_DIR) -> Path:
    path = definition_path(process, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(definition(process), sort_keys=False, allow_unicode=True, width=110))
    tmp.replace(path)
    return path


def read_definition(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def definition_drift(process: Process, root: Path = MODELS_DIR) -> str | None:
    """Why the shipped definition of ``process`` does not match the code, or None when it does."""
    path = definition_path(process, root)
    if not path.exists():
        return f"{path} missing: run `bioprocess-twin models --write-definitions {root}`"
    current = yaml.safe_load(yaml.safe_dump(definition(process), sort_keys=False))
    if read_definition(path) != current:
        return (f"{process.name} {process.version}: the declared interface differs from {path}; "
                "bump the model version and write a new definition")
    return None


# -- calibrated versions ------------------------------------------------------------------------------
def models_root() -> Path:
    """Where calibrated sets are read and written: ``$BIOPROCESS_TWIN_MODELS``, else the project's models/."""
    env = os.environ.get(MODELS_ENV)
    return Path(env).expanduser() if env else MODELS_DIR


def read_parameter_set(path: str | Path, field: str = "kind") -> dict[str, Any]:
    """The document of a calibrated set at ``path``; anything else raises ParameterError on ``field``."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ParameterError([(field, f"{path} cannot be read: {exc}")]) from None
    if not isinstance(doc, dict) or doc.get("kind") != CALIBRATED_KIND:
        what = doc.get("kind") if isinstance(doc, dict) else None
        raise ParameterError([(field, f"{path} is not a calibrated parameter set"
                                      + (f" (it is a {what})" if isinstance(what, str) else ""))])
    return doc


def _natural(text: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def model_versions(process: Process, root: str | Path | None = None) -> list[str]:
    """The code's version first, then the calibrated sets of ``process`` in ``root`` made for that code
    version, in natural order (+cal.2 before +cal.10). Unreadable files are not listed."""
    root = models_root() if root is None else Path(root)
    calibrated = []
    for path in (root / process.name).glob("*.yaml"):
        try:
            doc = read_parameter_set(path)
        except ParameterError:
            continue
        if doc.get("model") == process.name and str(doc.get("base_version")) == process.version:
            calibrated.append(path.stem)
    return [process.version] + sorted(calibrated, key=_natural)


def calibrated_parameters(process: Process, version: str, root: str | Path | None = None) -> dict[str, float]:
    """The model-parameter values of calibrated set ``version`` of ``process``, checked against the code.

    The code's own version gives ``{}`` (its defaults apply). Every problem raises
    ``ParameterError`` on the field ``version``.
    """
    if version == process.version:
        return {}
    root = models_root() if root is None else Path(root)
    path = root / process.name / f"{version}.yaml"

    def problem(message: str) -> ParameterError:
        return ParameterError([("version", message)])
    if not version or Path(version).name != version or not path.is_file():
        raise problem(f"unknown version '{version}' of model '{process.name}'; available: "
                      + ", ".join(model_versions(process, root)) + f" (calibrated sets are read from {root})")
    doc = read_parameter_set(path, field="version")
    if doc.get("model") != process.name:
        raise problem(f"{path} was calibrated for model '{doc.get('model')}', not '{process.name}'")
    if str(doc.get("base_version")) != process.version:
        raise problem(f"{version} was calibrated on model version {doc.get('base_version')}, but the code is "
                      f"at version {process.version}: recalibrate, or run version {process.version}")
    values = doc.get("parameters") or {}
    if not isinstance(values, dict):
        raise problem(f"{path}: 'parameters' must map parameter names to values")
    try:
        resolved = process.model.parameters.resolve(values)
    except ParameterError as exc:
        raise problem(f"{version} does not fit model {process.name} {process.version}: "
                      + "; ".join(f"{name}: {message}" for name, message in exc.errors)) from None
    return {name: resolved[name] for name in values}
