"""Calibrated parameter sets: new versions of a model definition in ``<models>/<model>/``, with provenance.

A calibrated set is ``<models root>/<model>/<model version>+cal.<n>.yaml`` (root: ``save.root`` of the
spec, else the user models folder, :func:`~bioprocess_twin.core.resources.user_models`; never the
installed package): the estimates (shared parameter values
as the new ``parameters``, shared initial states under ``initial_states``, per-batch values listed
separately), their standard errors and
intervals, and a provenance block with the data files and their SHA-256, the spec that was run,
the fit and validation statistics, the software versions and the time. Files are written once,
atomically, and never overwritten. A spec's ``version: <model version>+cal.<n>`` runs the model with
them (:func:`~bioprocess_twin.core.definitions.calibrated_parameters`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import casadi
import yaml

from ..core.definitions import read_parameter_set
from ..core.parameters import ParameterError
from ..core.resources import user_models
from ..core.results import json_safe

if TYPE_CHECKING:
    from .run import CalibrationResult


def next_version(model_dir: Path, base: str) -> str:
    taken = [
        int(m.group(1))
        for p in model_dir.glob(f"{base}+cal.*.yaml")
        if (m := re.fullmatch(re.escape(base) + r"\+cal\.(\d+)", p.stem))
    ]
    return f"{base}+cal.{max(taken, default=0) + 1}"


def _software() -> dict[str, str]:
    try:
        own = metadata.version("bioprocess-twin")
    except metadata.PackageNotFoundError:
        own = "unknown"
    return {"bioprocess-twin": own, "casadi": casadi.__version__}


def parameter_set_document(result: CalibrationResult, version: str) -> dict[str, Any]:
    est = result.estimate
    spec = result.spec
    shared, shared_initial, per_batch = {}, {}, {}
    for row, unknown in zip(result.table, est.problem.unknowns):
        entry = {
            "value": row.value,
            "se": row.se,
            "ci95": [row.ci_low, row.ci_high],
            "units": (
                result.model.parameters[unknown.name].units
                if unknown.kind == "parameter"
                else result.model.state(unknown.name).units
            ),
        }
        if unknown.batch is None:
            (shared if unknown.kind == "parameter" else shared_initial)[unknown.name] = entry
        else:
            per_batch.setdefault(unknown.batch, {})[unknown.label.split("[")[0]] = entry
    tag_map = Path(spec.data)
    validation = None
    if result.validation is not None:
        validation = {"held_out": result.validation["batches"], "per_output": result.validation["per_output"]}
    return json_safe(
        {
            "kind": "calibrated parameter set",
            "model": result.model.name,
            "base_version": result.model.version,
            "version": version,
            "parameters": {n: e["value"] for n, e in shared.items()} | dict(spec.fixed),
            "initial_states": {n: e["value"] for n, e in shared_initial.items()},
            "estimates": shared | shared_initial,
            "per_batch": per_batch,
            "error_models": {o: {"a": a, "b": b} for o, (a, b) in est.error_params.items()},
            "provenance": {
                "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "software": _software(),
                "data": {"tag_map": str(tag_map), "files": result.records.files},
                "spec": spec.model_dump(mode="json"),
                "fit": {
                    "batches": [b.name for b in est.problem.batches],
                    "observations": est.problem.n_obs,
                    "neg2_log_likelihood": est.neg2_log_likelihood,
                    "aic": est.aic,
                    "bic": est.bic,
                    "status": est.status,
                    "metrics": result.metrics[result.metrics.batch == "all"].to_dict("records"),
                },
                "validation": validation,
                "warnings": result.warnings,
            },
        }
    )


def save_parameter_set(result: CalibrationResult, base: Path) -> Path:
    spec = result.spec
    root = (base / spec.save.root).resolve() if spec.save and spec.save.root else user_models()
    model_dir = root / result.model.name
    version = spec.save.version if spec.save and spec.save.version else next_version(model_dir, result.model.version)
    path = model_dir / f"{version}.yaml"
    if path.exists():
        raise ParameterError([("save.version", f"{path} exists; calibrated sets are never overwritten")])
    doc = parameter_set_document(result, version)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    model_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=model_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # fails if the file appeared meanwhile: no overwrite
    finally:
        os.unlink(tmp)
    return path


def load_parameter_set(path: str | Path) -> dict[str, Any]:
    """A saved calibrated set; ``doc["parameters"]`` are the model parameter values to simulate with."""
    return read_parameter_set(path)
