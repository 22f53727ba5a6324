"""Parameter uncertainty and identifiability: Fisher information, confidence intervals, profiles, estimability.

* Covariance: C = (J^T J)^-1 with J = d r / d u, the standardised residuals' Jacobian on the
  transformed unknowns u at the optimum (Bard 1974, Nonlinear Parameter Estimation, ch. 7).
  Intervals: u +/- t_{dof, 0.975} se(u), mapped back, so log-parameters get asymmetric, positive
  intervals; standard errors in model units by the delta method.
* Profile likelihood (Raue et al. 2009, Bioinformatics 25:1923): the chosen unknown is held on a
  grid, the others are refitted, and the interval is where -2 log L rises less than
  chi2_{1, 0.95} = 3.84 above the optimum (sigmas held at their optimum values). A profile that
  stays below the threshold on one side means the parameter is not practically identifiable there.
* Identifiability before and after the fit: rank and condition number of J (scaled: log-parameters
  give relative sensitivities), the directions of its smallest singular values, and the
  orthogonalisation estimability ranking of Yao et al. 2003 (Polym. React. Eng. 11:563).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import chi2
from scipy.stats import t as student_t

from .estimation import Estimate, gauss_newton
from .problem import Problem

RANK_TOL = 1e-8  # singular values below this fraction of the largest count as zero
CONDITION_WARN = 1e8  # condition numbers above this warn of near non-identifiability
ESTIMABLE_TOL = 1e-3  # Yao: an orthogonalised column below this fraction of the first is not estimable
CORRELATION_WARN = 0.99


@dataclass
class ParameterStats:
    label: str
    value: float
    se: float  # model units (delta method)
    ci_low: float
    ci_high: float
    rel_se: float  # se / |value|
    log: bool

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def standardised_jacobian(est: Estimate) -> np.ndarray:
    return est.jacobian / est.sigma[:, None]


def covariance(est: Estimate) -> tuple[np.ndarray, int]:
    """Covariance of the transformed unknowns and the rank of the Fisher information."""
    J = standardised_jacobian(est)
    s = np.linalg.svd(J, compute_uv=False)
    rank = int(np.sum(s > RANK_TOL * s[0])) if s.size and s[0] > 0 else 0
    return np.linalg.pinv(J.T @ J, rcond=RANK_TOL**2), rank


def parameter_table(est: Estimate, level: float = 0.95) -> tuple[list[ParameterStats], np.ndarray]:
    """Estimates with standard errors and confidence intervals, and the correlation matrix."""
    problem = est.problem
    cov, rank = covariance(est)
    dof = max(problem.n_obs - len(est.u) - est.n_error_params, 1)
    q = float(student_t.ppf(0.5 + level / 2, dof))
    se_u = np.sqrt(np.maximum(np.diag(cov), 0.0))
    if rank < len(est.u):
        se_u = np.where(_null_weight(standardised_jacobian(est)) > 0.1, np.inf, se_u)
    chain = problem.chain(est.u)
    rows = []
    for k, unknown in enumerate(problem.unknowns):
        value = unknown.decode(est.u[k])
        lo = unknown.decode(est.u[k] - q * se_u[k]) if np.isfinite(se_u[k]) else -np.inf if not unknown.log else 0.0
        hi = unknown.decode(est.u[k] + q * se_u[k]) if np.isfinite(se_u[k]) else np.inf
        se = se_u[k] * chain[k]
        rows.append(ParameterStats(unknown.label, value, se, lo, hi, se / abs(value) if value else np.inf, unknown.log))
    d = np.sqrt(np.maximum(np.diag(cov), 1e-300))
    with np.errstate(over="ignore", invalid="ignore"):  # unidentifiable unknowns: huge (co)variances
        corr = np.clip(cov / d[:, None] / d[None, :], -1, 1)  # nan where undefined
    return rows, corr


def _null_weight(J: np.ndarray) -> np.ndarray:
    """How much of each unknown lies in the numerical null space of J (0: none, 1: all)."""
    _, s, vt = np.linalg.svd(J, full_matrices=True)
    small = np.concatenate([s <= RANK_TOL * s[0], np.ones(vt.shape[0] - len(s), bool)])
    return np.sqrt(np.sum(vt[small] ** 2, axis=0)) if small.any() else np.zeros(J.shape[1])


def identifiability(J: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Rank, condition, weakest directions and the estimability ranking of the scaled sensitivities J."""
    labels = list(labels)
    _, s, vt = np.linalg.svd(J, full_matrices=False)
    rank = int(np.sum(s > RANK_TOL * s[0])) if s.size and s[0] > 0 else 0
    condition = float(s[0] / s[-1]) if s.size and s[-1] > 0 else float("inf")
    directions = []
    for i in range(len(s) - 1, -1, -1):
        if s[i] > RANK_TOL * s[0] and s[0] / max(s[i], 1e-300) < CONDITION_WARN:
            break
        v = vt[i]
        parts = {labels[j]: round(float(v[j]), 4) for j in np.argsort(-np.abs(v)) if abs(v[j]) > 0.2}
        directions.append({"singular_value": float(s[i]), "combination": parts})
    ranking = estimability_ranking(J, labels)
    warnings = []
    if rank < len(labels):
        warnings.append(
            f"the Fisher information has rank {rank} of {len(labels)}: the data cannot determine every unknown"
        )
    elif condition > CONDITION_WARN:
        warnings.append(f"the Fisher information is nearly singular (condition number {condition:.3g})")
    for d in directions:
        warnings.append(
            "not identifiable together: "
            + ", ".join(d["combination"])
            + " (a change along this direction barely changes the predictions)"
        )
    for r in ranking:
        if not r["estimable"]:
            warnings.append(
                f"'{r['label']}' is not estimable from these data: its sensitivities are "
                f"{r['relative_norm']:.2g} of the best after removing what the better-ranked "
                f"unknowns explain"
            )
    return {
        "rank": rank,
        "unknowns": len(labels),
        "condition_number": condition,
        "singular_values": [float(x) for x in s],
        "weak_directions": directions,
        "ranking": ranking,
        "warnings": warnings,
    }


def estimability_ranking(J: np.ndarray, labels: Sequence[str]) -> list[dict[str, Any]]:
    """Yao et al. 2003: pick the column with the largest norm, project it out of the rest, repeat."""
    Z = np.array(J, dtype=float)
    remaining = list(range(Z.shape[1]))
    first = None
    out = []
    R = Z.copy()
    while remaining:
        norms = np.linalg.norm(R[:, remaining], axis=0)
        pick = remaining[int(np.argmax(norms))]
        norm = float(np.linalg.norm(R[:, pick]))
        first = first or norm or 1.0
        out.append(
            {
                "label": labels[pick],
                "rank": len(out) + 1,
                "relative_norm": norm / first,
                "estimable": norm / first > ESTIMABLE_TOL,
            }
        )
        remaining.remove(pick)
        q = R[:, pick] / norm if norm > 0 else None
        if q is not None:
            R[:, remaining] -= np.outer(q, q @ R[:, remaining])
    return out


def profile(
    est: Estimate, label: str, points: int = 11, span: float = 4.0, level: float = 0.95, max_iterations: int = 50
) -> dict[str, Any]:
    """Profile likelihood of one unknown over +/- ``span`` standard errors (transformed scale)."""
    problem: Problem = est.problem
    labels = [u.label for u in problem.unknowns]
    if label not in labels:
        raise KeyError(f"'{label}' is not an estimated unknown; unknowns: {', '.join(labels)}")
    k = labels.index(label)
    cov, _ = covariance(est)
    se = float(np.sqrt(max(cov[k, k], 0.0)))
    se = se if np.isfinite(se) and se > 0 else 0.5
    step = span * min(se, 2.0) / (points // 2)
    base = est.neg2_log_likelihood
    threshold = float(chi2.ppf(level, 1))
    free = np.ones(len(est.u), bool)
    free[k] = False
    counts = {"residuals": 0, "jacobians": 0}
    lo, hi = problem.lower[k], problem.upper[k]
    rows = [{"u": float(est.u[k]), "value": problem.unknowns[k].decode(est.u[k]), "delta": 0.0}]
    for direction in (-1, 1):
        u = est.u.copy()
        for i in range(1, points // 2 + 1):
            target = est.u[k] + direction * i * step
            if not lo <= target <= hi:
                break
            u[k] = target
            sol = gauss_newton(problem, u, est.sigma, max_iterations, counts, free)
            u = sol.x
            delta = float(np.sum(sol.fun**2) - np.sum(est.residuals**2))
            rows.append({"u": float(target), "value": problem.unknowns[k].decode(target), "delta": delta})
            if delta > 2 * threshold:
                break
    rows.sort(key=lambda r: r["u"])
    low, high = _crossing(rows, threshold, -1), _crossing(rows, threshold, 1)
    unknown = problem.unknowns[k]
    result = {
        "label": label,
        "threshold": threshold,
        "level": level,
        "points": rows,
        "ci_low": unknown.decode(low) if low is not None else None,
        "ci_high": unknown.decode(high) if high is not None else None,
        "base_neg2_log_likelihood": base,
    }
    open_sides = [s for s, v in (("lower", low), ("upper", high)) if v is None]
    result["warnings"] = [
        f"the profile of '{label}' stays below the {level:.0%} threshold on the {s} side: "
        f"not practically identifiable there"
        for s in open_sides
    ]
    return result


def _crossing(rows: list[dict], threshold: float, side: int) -> float | None:
    """Where the profile first rises through ``threshold`` walking from the optimum to one side."""
    centre = next(i for i, r in enumerate(rows) if r["delta"] == 0.0)
    seq = rows[centre:] if side > 0 else rows[centre::-1]
    for a, b in zip(seq, seq[1:]):
        if a["delta"] < threshold <= b["delta"]:
            w = (threshold - a["delta"]) / (b["delta"] - a["delta"])
            return a["u"] + w * (b["u"] - a["u"])
    return None
