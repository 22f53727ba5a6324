"""Versioned model definitions in ``<models>/<name>/<version>.yaml`` (shipped: ``bioprocess_twin/models``).

A definition is the declared interface of a process at one model version: parameters and
operating parameters (units, bounds, defaults, sources), inputs, states and outputs. The files
are written from the code and checked against it by the tests, so a changed default or bound
without a new model version is caught before a run record can cite the wrong version.

Calibrated parameter sets (``bioprocess-twin calibrate``) are further versions of a model:
``<root>/<name>/<code version>+cal.<n>.yaml`` with ``kind: calibrated parameter set``, the
``base_version`` of the code they were fitted with and the fitted ``parameters`` in model units.
They are read from the user models folder, then the shipped models, and written to the user
models folder (:mod:`~bioprocess_twin.core.resources`). :func:`model_versions` lists what can run;
:func:`calibrated_parameters` checks a set against the code and returns its values, which a spec's
``version`` makes the parameter defaults of a run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .parameters import ParameterError
from .process import Process
from .resources import model_roots, shipped_models

CALIBRATED_KIND = "calibrated parameter set"


def definition(process: Process) -> dict[str, Any]:
    return {
        "kind": "model definition",
        "provenance": {
            "origin": "literature defaults declared in code",
            "generated_by": "bioprocess-twin models --write-definitions",
        },
        **process.describe(),
    }


def definition_path(process: Process, root: str | Path | None = None) -> Path:
    """``<root>/<name>/<version>.yaml``; the root defaults to the shipped models."""
    return (shipped_models() if root is None else Path(root)) / process.name / f"{process.version}.yaml"


def write_definition(process: Process, root: str | Path) -> Path:
    """Write the definition under ``root`` (developers pass ``bioprocess_twin/models``)."""
    path = definition_path(process, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(definition(process), sort_keys=False, allow_unicode=True, width=110))
    tmp.replace(path)
    return path


def read_definition(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def definition_drift(process: Process, root: str | Path | None = None) -> str | None:
    """Why the shipped definition of ``process`` does not match the code, or None when it does."""
    path = definition_path(process, root)
    if not path.exists():
        return f"{path} missing: run `bioprocess-twin models --write-definitions {path.parent.parent}`"
    current = yaml.safe_load(yaml.safe_dump(definition(process), sort_keys=False))
    if read_definition(path) != current:
        return (
            f"{process.name} {process.version}: the declared interface differs from {path}; "
            "bump the model version and write a new definition"
        )
    return None


# -- calibrated versions ------------------------------------------------------------------------------
def _roots(root: str | Path | None) -> list[Path]:
    return model_roots() if root is None else [Path(root)]


def read_parameter_set(path: str | Path, field: str = "kind") -> dict[str, Any]:
    """The document of a calibrated set at ``path``; anything else raises ParameterError on ``field``."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ParameterError([(field, f"{path} cannot be read: {exc}")]) from None
    if not isinstance(doc, dict) or doc.get("kind") != CALIBRATED_KIND:
        what = doc.get("kind") if isinstance(doc, dict) else None
        raise ParameterError(
            [
                (
                    field,
                    f"{path} is not a calibrated parameter set"
                    + (f" (it is a {what})" if isinstance(what, str) else ""),
                )
            ]
        )
    return doc


def _natural(text: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def model_versions(process: Process, root: str | Path | None = None) -> list[str]:
    """The code's version first, then the calibrated sets of ``process`` made for that code version, in
    natural order (+cal.2 before +cal.10), from ``root`` or else the user and shipped models. Unreadable
    files are not listed."""
    calibrated = set()
    for folder in _roots(root):
        for path in (folder / process.name).glob("*.yaml"):
            try:
                doc = read_parameter_set(path)
            except ParameterError:
                continue
            if doc.get("model") == process.name and str(doc.get("base_version")) == process.version:
                calibrated.add(path.stem)
    return [process.version] + sorted(calibrated, key=_natural)


def calibrated_parameters(process: Process, version: str, root: str | Path | None = None) -> dict[str, float]:
    """The model-parameter values of calibrated set ``version`` of ``process``, checked against the code.

    The code's own version gives ``{}`` (its defaults apply). Every problem raises
    ``ParameterError`` on the field ``version``.
    """
    if version == process.version:
        return {}
    doc = calibrated_set(process, version, root)
    values = doc.get("parameters") or {}
    if not isinstance(values, dict):
        raise ParameterError([("version", f"{version}: 'parameters' must map parameter names to values")])
    try:
        resolved = process.model.parameters.resolve(values)
    except ParameterError as exc:
        raise ParameterError(
            [
                (
                    "version",
                    f"{version} does not fit model {process.name} {process.version}: "
                    + "; ".join(f"{name}: {message}" for name, message in exc.errors),
                )
            ]
        ) from None
    return {name: resolved[name] for name in values}


def calibrated_set(process: Process, version: str, root: str | Path | None = None) -> dict[str, Any]:
    """The document of calibrated set ``version`` of ``process`` (its values, estimates, covariance and
    provenance), found in the models roots and checked to belong to this model and code version. Every
    problem raises ``ParameterError`` on the field ``version``."""
    roots = _roots(root)

    def problem(message: str) -> ParameterError:
        return ParameterError([("version", message)])

    found = [folder / process.name / f"{version}.yaml" for folder in roots]
    found = [path for path in found if path.is_file()]
    if not version or Path(version).name != version or not found:
        raise problem(
            f"unknown version '{version}' of model '{process.name}'; available: "
            + ", ".join(model_versions(process, root))
            + " (calibrated sets are read from "
            + ", ".join(str(folder) for folder in roots)
            + ")"
        )
    path = found[0]
    doc = read_parameter_set(path, field="version")
    if doc.get("model") != process.name:
        raise problem(f"{path} was calibrated for model '{doc.get('model')}', not '{process.name}'")
    if str(doc.get("base_version")) != process.version:
        raise problem(
            f"{version} was calibrated on model version {doc.get('base_version')}, but the code is "
            f"at version {process.version}: recalibrate, or run version {process.version}"
        )
    return doc
