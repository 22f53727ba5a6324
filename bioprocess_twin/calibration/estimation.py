"""Multi-batch parameter estimation: single shooting with exact CVODES sensitivities and Gauss–Newton.

Method (docs/calibration.md):

* Residuals r_i = (y_hat_i - y_i) / sigma_i over every observation of every batch. The model is
  integrated from each batch's start (single shooting); d(y_hat)/d(theta) comes from CVODES forward
  sensitivities through CasADi, so the Gauss–Newton matrix J^T J is exact, not finite-differenced.
* Steps: scipy's bounded trust-region Gauss–Newton (``least_squares(method="trf")``, Branch,
  Coleman & Li 1999) on the transformed unknowns (log for positive parameters), with our Jacobian.
* Error models sigma = sqrt(a^2 + (b |y|)^2) per output. ``wls``: a, b given, sigma evaluated at the
  measured values. ``ml``: generalised least squares with pseudo-likelihood (Carroll & Ruppert 1988;
  Davidian & Giltinan 1995, ch. 2): sigma is evaluated at the current predictions and held while
  Gauss–Newton fits theta, then the unknown a, b maximise the likelihood given those residuals;
  repeated until a round gains less than ``STAGE_GAIN`` in -2 log L (the estimates then move by less
  than sqrt(STAGE_GAIN) standard errors) or nothing moves. For a constant error this is exactly
  maximum likelihood.
* Robust starts: the given start plus ``starts - 1`` scrambled Sobol points of the transformed
  bounds; the fit with the lowest -2 log L is kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares, minimize_scalar
from scipy.stats import qmc

from ..core.model import Model
from ..core.parameters import ParameterError
from ..core.trajectory import TrajectoryError
from .dataset import BatchData
from .problem import Problem
from .settings import FitSettings

LOG_2PI = math.log(2 * math.pi)
STAGE_GAIN = 1e-3


@dataclass
class Estimate:
    problem: Problem
    u: np.ndarray  # transformed unknowns at the optimum
    values: dict[str, float]  # label -> estimate (model units)
    error_params: dict[str, tuple[float, float]]  # output -> (a, b)
    error_estimated: dict[str, list[str]]  # output -> which of a, b were estimated
    predictions: np.ndarray  # stacked, per observation
    sigma: np.ndarray  # per observation at the optimum
    jacobian: np.ndarray  # d(prediction)/d(u) at the optimum
    neg2_log_likelihood: float
    status: str  # "converged" | "max_iterations" | "failed"
    message: str
    iterations: int
    evaluations: dict[str, int]
    seconds: float
    starts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def residuals(self) -> np.ndarray:
        """Standardised residuals (y_hat - y) / sigma."""
        return (self.predictions - self.problem.y) / self.sigma

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    @property
    def n_error_params(self) -> int:
        return sum(len(v) for v in self.error_estimated.values())

    @property
    def aic(self) -> float:
        return self.neg2_log_likelihood + 2 * (len(self.u) + self.n_error_params)

    @property
    def bic(self) -> float:
        return self.neg2_log_likelihood + math.log(self.problem.n_obs) * (len(self.u) + self.n_error_params)

    def parameter_values(self, batch: str | None = None) -> dict[str, float]:
        """Model parameters of one batch (shared and that batch's own), model units."""
        return {
            k.name: v
            for k, v in zip(self.problem.unknowns, self.values.values())
            if k.kind == "parameter" and k.batch in (None, batch)
        }


def neg2_log_likelihood(residuals: np.ndarray, sigma: np.ndarray) -> float:
    return float(np.sum(residuals**2) + 2 * np.sum(np.log(sigma)) + len(sigma) * LOG_2PI)


def estimate(
    model: Model,
    batches: Mapping[str, BatchData],
    settings: FitSettings,
    progress: Callable[[float, str], None] | None = None,
    problem: Problem | None = None,
) -> Estimate:
    """Fit ``settings`` to ``batches``; raises ParameterError for a problem that cannot be set up.
    ``problem`` reuses the trajectories of an already built Problem for the same inputs."""
    t0 = time.perf_counter()
    problem = problem or Problem(model, batches, settings)
    check_settings(problem, settings)
    starts = [problem.start()] + _sobol_starts(problem, settings.starts - 1, settings.seed)
    best, tried = None, []
    for k, u0 in enumerate(starts):
        if progress:
            progress(k / len(starts), f"start {k + 1} of {len(starts)}")
        if k == 0:
            problem.check_start(u0)
        fit = _fit_from(problem, u0, settings, progress if len(starts) == 1 else None)
        tried.append({"start": k + 1, "status": fit.status, "neg2_log_likelihood": fit.neg2_log_likelihood})
        if best is None or (fit.ok and (not best.ok or fit.neg2_log_likelihood < best.neg2_log_likelihood)):
            best = fit
    best.starts, best.seconds = tried, time.perf_counter() - t0
    if progress:
        progress(1.0, f"done: -2 log L = {best.neg2_log_likelihood:.6g}")
    return best


def _sobol_starts(problem: Problem, n: int, seed: int) -> list[np.ndarray]:
    if n <= 0:
        return []
    lo, hi = problem.lower, problem.upper
    finite = np.isfinite(lo) & np.isfinite(hi)
    base = problem.start()
    width = np.where(finite, hi - lo, 0.0)
    sample = qmc.Sobol(len(base), scramble=True, seed=seed).random(n)
    return [np.where(finite, lo + 0.02 * width + 0.96 * width * s, base) for s in sample]


def _fit_from(problem: Problem, u0: np.ndarray, settings: FitSettings, progress) -> Estimate:
    errors = {o: (e.a or 0.0, e.b or 0.0) for o, e in problem.error_models.items()}
    free = {o: e.free for o, e in problem.error_models.items() if settings.objective == "ml" and e.free}
    y = problem.y
    counts = {"residuals": 0, "jacobians": 0}
    u = u0.copy()
    try:
        pred = np.concatenate(problem.predict(u))
    except TrajectoryError as exc:
        return _failed(problem, u, errors, free, f"model fails at this start: {exc}", counts)
    errors = _update_errors(problem, errors, free, y, pred) if free else errors
    status, message, iterations = "failed", "", 0
    last = math.inf
    for stage in range(20 if free else 1):
        sigma = problem.sigma(pred if settings.objective == "ml" else y, errors)
        sol = gauss_newton(problem, u, sigma, settings.max_iterations, counts)
        iterations += sol.nfev
        u_new = sol.x
        pred = np.concatenate(problem.predict(u_new))
        new_errors = _update_errors(problem, errors, free, y, pred) if free else errors
        moved = np.max(np.abs(u_new - u)) if len(u) else 0.0
        changed = max(
            (
                abs(math.log(new_errors[k][i] / errors[k][i]))
                for k in free
                for i in (0, 1)
                if errors[k][i] > 0 and new_errors[k][i] > 0
            ),
            default=0.0,
        )
        u, errors = u_new, new_errors
        status = "converged" if sol.status > 0 else "max_iterations"
        message = sol.message
        s = problem.sigma(pred if settings.objective == "ml" else y, errors)
        now = neg2_log_likelihood((pred - y) / s, s)
        if progress:
            progress(min(0.95, 0.2 + 0.15 * stage), f"stage {stage + 1}: -2 log L {now:.6g}")
        # a stage that gains less than STAGE_GAIN in -2 log L moves the estimates by < sqrt(STAGE_GAIN) standard errors
        if not free or (moved < 1e-6 and changed < 1e-6) or abs(last - now) < STAGE_GAIN:
            break
        last = now
    pred, jac = problem.predict_with_jacobian(u)
    counts["jacobians"] += 1
    sigma = problem.sigma(pred if settings.objective == "ml" else y, errors)
    values = dict(zip([k.label for k in problem.unknowns], problem.decode(u)))
    return Estimate(
        problem,
        u,
        values,
        errors,
        free,
        pred,
        sigma,
        jac,
        neg2_log_likelihood((pred - y) / sigma, sigma),
        status,
        message,
        iterations,
        counts,
        0.0,
    )


def _failed(problem, u, errors, free, message, counts) -> Estimate:
    n = problem.n_obs
    return Estimate(
        problem,
        u,
        dict(zip([k.label for k in problem.unknowns], problem.decode(u))),
        errors,
        free,
        np.full(n, np.nan),
        np.ones(n),
        np.zeros((n, len(u))),
        math.inf,
        "failed",
        message,
        0,
        counts,
        0.0,
    )


def gauss_newton(
    problem: Problem,
    u0: np.ndarray,
    sigma: np.ndarray,
    max_iterations: int,
    counts: dict,
    free: np.ndarray | None = None,
):
    """Bounded trust-region Gauss-Newton on r(u) = (y_hat(u) - y) / sigma with the exact Jacobian.
    ``free`` (boolean mask) fits only those unknowns and holds the others at ``u0`` (profiles)."""
    y = problem.y
    free = np.ones(len(u0), bool) if free is None else free
    full = u0.copy()
    cache: dict[str, Any] = {}

    def expand(v):
        u = full.copy()
        u[free] = v
        return u

    def residuals(v):
        counts["residuals"] += 1
        try:
            return (np.concatenate(problem.predict(expand(v))) - y) / sigma
        except TrajectoryError:
            return np.full(len(y), np.nan)  # the trust region shrinks and tries a shorter step

    def jacobian(v):
        counts["jacobians"] += 1
        if cache.get("v") is None or not np.array_equal(cache["v"], v):
            _, J = problem.predict_with_jacobian(expand(v))
            cache.update(v=v.copy(), J=J[:, free] / sigma[:, None])
        return cache["J"]

    lo, hi = problem.lower[free], problem.upper[free]
    v0 = np.clip(u0[free], np.nextafter(lo, hi), np.nextafter(hi, lo))
    sol = least_squares(
        residuals,
        v0,
        jac=jacobian,
        bounds=(lo, hi),
        method="trf",
        x_scale="jac",
        ftol=1e-10,
        xtol=1e-10,
        gtol=1e-10,
        max_nfev=max_iterations,
    )
    sol.x = expand(sol.x)
    return sol


def _update_errors(problem: Problem, errors: dict, free: dict, y: np.ndarray, pred: np.ndarray) -> dict:
    """Maximum-likelihood a, b of every output with free error parameters, at fixed predictions."""
    out = dict(errors)
    outputs = problem.output_of
    for o, names in free.items():
        m = outputs == o
        out[o] = ml_error_parameters(problem.error_models[o].kind, names, errors[o], pred[m] - y[m], np.abs(pred[m]))
    return out


def ml_error_parameters(
    kind: str, free: list[str], given: tuple[float, float], e: np.ndarray, v: np.ndarray
) -> tuple[float, float]:
    """(a, b) maximising the Gaussian likelihood of residuals e with sigma^2 = a^2 + b^2 v^2.

    Both free: sigma^2 = s^2 (w + (1 - w) (v / v_ref)^2); for each mixing weight w the best s^2 is
    closed-form, so the search is over w in [0, 1] only (a grid, then a bounded refinement)."""
    e2 = e * e + 1e-300
    v_ref = float(np.sqrt(np.mean(v * v))) or 1.0
    if kind == "constant" or (kind == "combined" and free == ["a"] and given[1] == 0):
        return max(float(np.sqrt(np.mean(e2))), 1e-300), given[1]
    if len(free) == 2 or kind == "proportional":

        def profile_nll(w):
            g = w + (1 - w) * (v / v_ref) ** 2 + 1e-300
            s2 = float(np.mean(e2 / g))
            return len(e) * np.log(s2) + float(np.sum(np.log(g))), s2

        weights = [0.0] if kind == "proportional" else np.linspace(0.0, 1.0, 41)
        w = min(weights, key=lambda x: profile_nll(x)[0])
        if kind != "proportional":
            lo, hi = max(w - 0.025, 0.0), min(w + 0.025, 1.0)
            w = min(
                [w, minimize_scalar(lambda x: profile_nll(x)[0], bounds=(lo, hi), method="bounded").x],
                key=lambda x: profile_nll(x)[0],
            )
        s2 = profile_nll(w)[1]
        return float(np.sqrt(s2 * w)), float(np.sqrt(s2 * (1 - w)) / v_ref)
    a, b = given
    name = free[0]
    scale = float(np.sqrt(np.mean(e2))) / (1.0 if name == "a" else v_ref)

    def nll(log_x):
        aa, bb = (np.exp(log_x), b) if name == "a" else (a, np.exp(log_x))
        s2 = aa * aa + (bb * v) ** 2 + 1e-300
        return float(np.sum(e2 / s2 + np.log(s2)))

    x = float(np.exp(minimize_scalar(nll, bounds=(np.log(scale) - 20, np.log(scale) + 5), method="bounded").x))
    return (x, b) if name == "a" else (a, x)


def check_settings(problem: Problem, settings: FitSettings):
    if settings.objective == "wls":
        missing = [
            (f"error_models.{o}", "wls needs sigma given for every fitted output")
            for o in problem.outputs
            if problem.error_models[o].free
        ]
        if missing:
            raise ParameterError(missing, "calibration")
