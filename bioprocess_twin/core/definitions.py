"""Versioned model definitions in ``models/<name>/<version>.yaml``.

A definition is the declared interface of a process at one model version: parameters and
operating parameters (units, bounds, defaults, sources), inputs, states and outputs. The files
are written from the code and checked against it by the tests, so a changed default or bound
without a new model version is caught before a run record can cite the wrong version.
Calibrated parameter sets will be stored beside them as further versions.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .process import Process

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


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
