"""One calibration from a spec: import, identifiability, estimation, uncertainty, fit, validation, save.

:func:`calibrate` is what the CLI (``bioprocess-twin calibrate SPEC``) and the dashboard call;
:func:`prepare_calibration` is its first part, every check before the estimation.
Data problems in the batches it uses stop it with a ParameterError that lists each one with its
file, row and column; excluded batches may be faulty. The spec's paths are confined to its folder and
its ``model_file`` is refused unless the caller opts in (``allow_outside_paths``, ``allow_model_code``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.display import infinities_as_text
from ..core.limits import limited
from ..core.model import Model
from ..core.parameters import ParameterError
from ..core.results import json_safe
from ..core.trajectory import TrajectoryError
from .dataset import BatchRecords, load_batch_records
from .estimation import Estimate, estimate
from .goodness import fit_metrics, residual_checks, validate
from .parameter_sets import save_parameter_set, saved_set_path
from .problem import Problem
from .spec import CalibrationSpec, resolve_model, spec_paths
from .uncertainty import identifiability, parameter_table, profile, standardised_jacobian


@dataclass
class CalibrationResult:
    spec: CalibrationSpec
    model: Model
    records: BatchRecords
    estimate: Estimate
    table: list
    correlation: np.ndarray
    identifiability_before: dict[str, Any]
    identifiability_after: dict[str, Any]
    profiles: list[dict[str, Any]]
    metrics: Any
    residuals: dict[str, Any]
    validation: dict[str, Any] | None
    saved: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "ok" if self.estimate.ok else "failed"

    @property
    def warnings(self) -> list[str]:
        out = [
            f"{i.file}:{i.row}:{i.column}: {i.message}" if i.row else f"{i.file}: {i.message}"
            for i in self.records.report.issues
            if i.severity == "warning" and i.batch in self.used_batches
        ]
        out += self.identifiability_after["warnings"] + self.residuals["warnings"]
        out += [w for p in self.profiles for w in p["warnings"]]
        out += [
            f"{r.label}: relative standard error {r.rel_se:.0%}"
            for r in self.table
            if math.isfinite(r.rel_se) and r.rel_se > 0.5
        ]
        if self.estimate.status == "max_iterations":
            out.append(f"the fit stopped at max_iterations ({self.spec.max_iterations})")
        return out

    @property
    def used_batches(self) -> list[str]:
        return [b.name for b in self.estimate.problem.batches] + list(self.spec.held_out)

    def to_dict(self, include_points: bool = True) -> dict[str, Any]:
        est, labels = self.estimate, [u.label for u in self.estimate.problem.unknowns]
        units = {u.label: _units(self.model, u) for u in est.problem.unknowns}
        doc = {
            "status": self.status,
            "name": self.spec.name,
            "model": self.model.name,
            "model_version": self.model.version,
            "message": est.message,
            "batches": {
                "fitted": [b.name for b in est.problem.batches],
                "held_out": list(self.spec.held_out),
                "excluded": list(self.spec.exclude),
            },
            "estimates": [r.to_dict() | {"units": units[r.label]} for r in self.table],
            "correlation": {"labels": labels, "matrix": self.correlation.tolist()},
            "error_models": {
                o: {
                    "kind": est.problem.error_models[o].kind,
                    "a": a,
                    "b": b,
                    "estimated": est.error_estimated.get(o, []),
                }
                for o, (a, b) in est.error_params.items()
            },
            "fit": {
                "neg2_log_likelihood": est.neg2_log_likelihood,
                "aic": est.aic,
                "bic": est.bic,
                "observations": est.problem.n_obs,
                "unknowns": len(est.u),
                "status": est.status,
                "iterations": est.iterations,
                "evaluations": est.evaluations,
                "starts": est.starts,
                "metrics": self.metrics.to_dict("records"),
            },
            "identifiability": {"before": self.identifiability_before, "after": self.identifiability_after},
            "profiles": self.profiles,
            "residual_checks": self.residuals,
            "validation": None,
            "import": self.records.report.to_dict(),
            "files": self.records.files,
            "warnings": self.warnings,
            "saved": self.saved,
            "seconds": self.seconds,
            "units": self.units(),
        }
        if self.validation is not None:
            v = {k: val for k, val in self.validation.items() if k != "points"}
            if include_points:
                v["points"] = self.validation["points"].to_dict("records")
            doc["validation"] = v
        if include_points:
            p = est.problem
            doc["points"] = {
                "batch": p.batch_of.tolist(),
                "output": p.output_of.tolist(),
                "time": p.time_of.tolist(),
                "measured": p.y.tolist(),
                "fitted": est.predictions.tolist(),
                "residual": est.residuals.tolist(),
            }
        return doc

    def units(self) -> dict[str, str]:
        """The units of every output and state of the model, and of ``time``."""
        m = self.model
        return {v.name: v.units for v in (*m.outputs, *m.states)} | {"time": m.time_units}

    def to_json(self, include_points: bool = True) -> dict[str, Any]:
        """:meth:`to_dict` as plain JSON data. In the estimates table an infinity (the unbounded interval of an
        unknown that cannot be identified) is kept as the text ``"inf"`` / ``"-inf"``; elsewhere NaN and
        infinities become None, as JSON has neither."""
        doc = self.to_dict(include_points=include_points)
        doc["estimates"] = infinities_as_text(doc["estimates"])
        return json_safe(doc)


def _units(model: Model, unknown) -> str:
    if unknown.kind == "parameter":
        return model.parameters[unknown.name].units
    return model.state(unknown.name).units


@dataclass
class PreparedCalibration:
    """Everything :func:`calibrate` sets up before it estimates: the model, the records, the batches fitted
    and held out, and the estimation problem."""

    spec: CalibrationSpec
    model: Model
    records: BatchRecords
    train: dict[str, Any]
    held: dict[str, Any]
    problem: Problem
    seconds: dict[str, float]


def prepare_calibration(
    spec: CalibrationSpec,
    base: Path,
    model: Model | None = None,
    *,
    allow_model_code: bool = False,
    allow_outside_paths: bool = False,
) -> PreparedCalibration:
    """Check ``spec`` against its model and records and set up the estimation, without estimating.

    The spec's paths are confined to ``base`` unless ``allow_outside_paths``; its ``model_file`` runs only with
    ``allow_model_code`` (a ``model`` given by the calling program is used as it is). When the spec saves, the
    file it would write is checked now, not after the fit. Raises ParameterError naming the field, or the
    file, row and column of bad data in the batches used."""
    tick = time.perf_counter()
    paths = spec_paths(
        spec, base, allow_model_code=allow_model_code or model is not None, allow_outside_paths=allow_outside_paths
    )
    model = model or resolve_model(
        spec, base, allow_model_code=allow_model_code, allow_outside_paths=allow_outside_paths
    )
    if spec.save is not None:
        saved_set_path(model, spec.save)
    records = load_batch_records(paths.data, model=model, allow_outside=allow_outside_paths)
    known = set(records.batches)
    unknown = [
        (f"{f}.{b}", "no such batch in the records")
        for f in ("exclude", "held_out")
        for b in getattr(spec, f)
        if b not in known
    ]
    if unknown:
        raise ParameterError(unknown, "calibration spec")
    used = [b for b in records.batches if b not in spec.exclude]
    fitted = [b for b in used if b not in spec.held_out]
    if not fitted:
        raise ParameterError([("held_out", "no batch is left to fit")])
    data_errors = [i for i in records.report.issues if i.severity == "error" and (i.batch is None or i.batch in used)]
    outputs = spec.outputs or sorted({o for b in fitted for o in records.batches[b].outputs()})
    data_errors += [i for i in records.coverage(outputs) if i.batch in fitted]
    if data_errors:
        raise ParameterError(
            [
                (
                    f"{i.file}:{i.row}:{i.column}" if i.row else i.file,
                    (f"batch {i.batch}: " if i.batch else "") + i.message,
                )
                for i in data_errors
            ],
            "batch records (exclude faulty batches in the spec)",
        )
    train = {b: records.batches[b] for b in fitted}
    held = {b: records.batches[b] for b in spec.held_out}
    problem = Problem(model, train, spec)
    seconds = {"import": time.perf_counter() - tick}
    return PreparedCalibration(spec, model, records, train, held, problem, seconds)


@limited
def calibrate(
    spec: CalibrationSpec,
    base: Path,
    progress: Callable[[float, str], None] | None = None,
    model: Model | None = None,
    *,
    allow_model_code: bool = False,
    allow_outside_paths: bool = False,
) -> CalibrationResult:
    """Run ``spec`` (relative paths from ``base``, confined to it unless ``allow_outside_paths``; a
    ``model_file`` runs only with ``allow_model_code``). Raises ParameterError for bad specs or data."""
    ready = prepare_calibration(
        spec, base, model, allow_model_code=allow_model_code, allow_outside_paths=allow_outside_paths
    )
    model, problem, seconds = ready.model, ready.problem, dict(ready.seconds)
    before = _identifiability_at_start(problem)
    tick = time.perf_counter()
    est = estimate(model, ready.train, spec, progress=_scaled(progress, 0.0, 0.8), problem=problem)
    seconds["estimation"] = time.perf_counter() - tick
    table, corr = parameter_table(est)
    after = identifiability(standardised_jacobian(est), [u.label for u in est.problem.unknowns])
    tick = time.perf_counter()
    profiles = []
    for k, label in enumerate(spec.profiles):
        if progress:
            progress(0.8 + 0.15 * k / len(spec.profiles), f"profile of {label}")
        try:
            profiles.append(profile(est, label))
        except KeyError as exc:
            raise ParameterError([(f"profiles.{label}", exc.args[0])]) from None
    seconds["profiles"] = time.perf_counter() - tick
    validation = validate(est, ready.held, ready.train) if ready.held else None
    result = CalibrationResult(
        spec,
        model,
        ready.records,
        est,
        table,
        corr,
        before,
        after,
        profiles,
        fit_metrics(est),
        residual_checks(est),
        validation,
        seconds=seconds,
    )
    if spec.save is not None and est.ok:
        result.saved = str(save_parameter_set(result))
    if progress:
        progress(1.0, "done")
    return result


def _identifiability_at_start(problem: Problem) -> dict[str, Any]:
    """Identifiability at the starting values, each output weighted by its given sigma or else 10 % of its
    typical measured value (the error model is not known before the fit)."""
    u = problem.start()
    problem.check_start(u)
    try:
        pred, jac = problem.predict_with_jacobian(u)
    except TrajectoryError as exc:
        raise ParameterError(
            [("parameters", f"the model's sensitivities fail at the starting values: {exc}")]
        ) from None
    sigma = np.empty(problem.n_obs)
    outputs, y = problem.output_of, problem.y
    for o, em in problem.error_models.items():
        m = outputs == o
        typical = float(np.sqrt(np.mean(y[m] ** 2))) or 1.0
        a = em.a if em.a is not None else 0.1 * typical
        b = em.b or 0.0
        sigma[m] = np.sqrt(a * a + (b * np.abs(y[m])) ** 2)
    return identifiability(jac / sigma[:, None], [k.label for k in problem.unknowns])


def _scaled(progress, lo: float, hi: float):
    if progress is None:
        return None
    return lambda f, msg: progress(lo + (hi - lo) * f, msg)
