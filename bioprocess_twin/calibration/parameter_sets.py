"""Calibrated parameter sets: new versions of a model definition in ``<models>/<model>/``, with provenance.

A calibrated set is ``<user models>/<model>/<model version>+cal.<n>.yaml``, or ``<save.version>.yaml``
(:func:`~bioprocess_twin.core.resources.user_models`; never the installed package, and never anywhere
else: the file is checked to lie strictly inside ``<user models>/<model>/``): the estimates (shared parameter values
as the new ``parameters``, shared initial states under ``initial_states``, per-batch values listed
separately), their standard errors and
intervals, and a provenance block with the data files and their SHA-256, the spec that was run,
the fit and validation statistics, the software versions and the time. Files are written once,
atomically, and never overwritten. A spec's ``version: <model version>+cal.<n>`` runs the model with
them (:func:`~bioprocess_twin.core.definitions.calibrated_parameters`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import tempfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import casadi
import numpy as np
import yaml

from ..core.definitions import read_parameter_set
from ..core.model import Model
from ..core.parameters import ParameterError
from ..core.paths import inside
from ..core.resources import user_models
from ..core.results import json_safe
from ..core.spec import VERSION_PATTERN
from .uncertainty import covariance

if TYPE_CHECKING:
    from .run import CalibrationResult
    from .spec import SaveSettings

#: a model name that can be a folder of the models root (and nothing else)
MODEL_NAME_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]*$"
#: longest model name or version (they name a folder and a file)
MAX_NAME_CHARS = 100


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
    cov, _ = covariance(est)
    joint = [k for k, u in enumerate(est.problem.unknowns) if u.kind == "parameter" and u.batch is None]
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
            "covariance": {
                "about": "of the shared parameters as fitted: natural log of the value in its units where "
                "space is 'log'; a Monte Carlo samples a multivariate normal with it",
                "names": [est.problem.unknowns[k].name for k in joint],
                "space": {
                    est.problem.unknowns[k].name: "log" if est.problem.unknowns[k].log else "linear" for k in joint
                },
                "centre": [float(est.u[k]) for k in joint],
                "matrix": cov[np.ix_(joint, joint)].tolist(),
            },
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


def saved_set_path(model: Model, save: SaveSettings | None) -> Path:
    """Where the calibrated set of ``model`` goes: ``<user models>/<model>/<version>.yaml``, strictly inside
    ``<user models>/<model>/`` (a model name or version that would lead elsewhere is refused), not yet
    taken. Raises ParameterError on ``save.version`` (or ``model`` for a name that cannot be a folder)."""
    if not re.fullmatch(MODEL_NAME_PATTERN, model.name) or len(model.name) > MAX_NAME_CHARS:
        raise ParameterError([("model", f"the model name {model.name[:60]!r} cannot name a folder of the models root")])
    root = user_models()
    model_dir = root / model.name
    _check_writable(model_dir)
    version = save.version if save is not None and save.version else None
    if version is None:
        if not _names_a_file(model.version + "+cal.1"):
            raise ParameterError(
                [("save.version", f"the model version {model.version[:60]!r} cannot name a file; give save.version")]
            )
        try:
            version = next_version(model_dir, model.version)
        except OSError as exc:
            raise ParameterError([("save", f"cannot read {model_dir}: {exc.strerror}")]) from None
    if not _names_a_file(version):
        raise ParameterError([("save.version", f"{version[:60]!r} cannot name a file (letters, digits and . + _ -)")])
    path = model_dir / f"{version}.yaml"
    if path.parent != model_dir or not inside(path, model_dir) or not inside(model_dir, root):
        raise ParameterError([("save.version", f"{path} would not lie inside {model_dir}")])
    try:
        taken = path.exists()
    except OSError as exc:
        raise ParameterError([("save", f"cannot check {path}: {exc.strerror}")]) from None
    if taken:
        raise ParameterError([("save.version", f"{path} exists; calibrated sets are never overwritten")])
    return path


def _check_writable(folder: Path):
    """Refuse (ParameterError on ``save``) a folder that cannot be made or written, before any work is done."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ParameterError([("save", f"cannot write in {folder}: {existing} is not a folder")])
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError([("save", f"cannot write in {folder}: {existing} is not writable")])


def _names_a_file(version: str) -> bool:
    return len(version) <= MAX_NAME_CHARS and re.fullmatch(VERSION_PATTERN, version) is not None


def save_parameter_set(result: CalibrationResult) -> Path:
    """Write the calibrated set of ``result`` (:func:`saved_set_path`) atomically: a temporary file in the same
    folder, linked into place only when complete, so there is never a half-written or overwritten set.
    Raises ParameterError on ``save`` when the folder cannot be written."""
    path = saved_set_path(result.model, result.spec.save)
    version = path.name.removesuffix(".yaml")
    doc = parameter_set_document(result, version)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".calibrated.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if the file appeared meanwhile: no overwrite
        except FileExistsError:
            raise ParameterError([("save.version", f"{path} exists; calibrated sets are never overwritten")]) from None
    except OSError as exc:
        raise ParameterError([("save", f"cannot write {path}: {exc.strerror or exc}")]) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return path


def load_parameter_set(path: str | Path) -> dict[str, Any]:
    """A saved calibrated set; ``doc["parameters"]`` are the model parameter values to simulate with."""
    return read_parameter_set(path)
