"""Goodness of fit and held-out validation.

* Fit metrics per output and batch: n, RMSE, NRMSE (RMSE / range of the measured values), bias.
* Residual checks on the standardised residuals: normality (Shapiro–Wilk up to 5000 values,
  D'Agostino–Pearson above) and, per batch and output in time order, lag-1 autocorrelation and the
  Ljung–Box Q test (Ljung & Box 1978, Biometrika 65:297) up to lag min(10, n/4).
* Held-out validation: a batch left out of the fit is predicted with the shared estimates, the
  mean of the training batches' own estimates for per-batch parameters (geometric mean for
  log-parameters) and its recorded initial values, without refitting. A fitted initial state the
  batch did not record takes the batch's own measurement at t = 0 if there is one, else the
  training mean. The naive baseline is the
  mean trajectory of the training batches: each training batch's measurements of the output,
  interpolated linearly in time, averaged at the held-out batch's measurement times.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..core.simulation import SolverOptions, simulate
from .dataset import BatchData
from .estimation import Estimate
from .problem import input_steps, observation_times, phase_recipe

#: relative time tolerance: an observation within this fraction of max(1, batch end) of t = 0 is at the start
START_TIME_RTOL = 1e-9


def _metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    e = pred - y
    span = float(np.ptp(y)) if len(y) > 1 else 0.0
    rmse = float(np.sqrt(np.mean(e**2))) if len(e) else math.nan
    return {
        "n": int(len(y)),
        "rmse": rmse,
        "nrmse": rmse / span if span > 0 else math.nan,
        "bias": float(np.mean(e)) if len(e) else math.nan,
    }


def fit_metrics(est: Estimate) -> pd.DataFrame:
    """One row per (batch, output) and one per output over all batches (batch "all")."""
    p = est.problem
    frame = pd.DataFrame({"batch": p.batch_of, "output": p.output_of, "y": p.y, "pred": est.predictions})
    rows = [
        {"batch": b, "output": o, **_metrics(g["y"].to_numpy(), g["pred"].to_numpy())}
        for (b, o), g in frame.groupby(["batch", "output"], sort=False)
    ]
    rows += [
        {"batch": "all", "output": o, **_metrics(g["y"].to_numpy(), g["pred"].to_numpy())}
        for o, g in frame.groupby("output", sort=False)
    ]
    return pd.DataFrame(rows)


def residual_checks(est: Estimate, alpha: float = 0.05) -> dict[str, Any]:
    r = est.residuals
    normality = _normality(r)
    p = est.problem
    frame = pd.DataFrame({"batch": p.batch_of, "output": p.output_of, "r": r, "time": p.time_of})
    series = []
    for (b, o), g in frame.groupby(["batch", "output"], sort=False):
        x = g.sort_values("time")["r"].to_numpy()
        if len(x) >= 8:
            series.append({"batch": b, "output": o, **ljung_box(x)})
    flagged = [s for s in series if s["p_value"] < alpha]
    warnings = []
    if normality["p_value"] < alpha:
        warnings.append(
            f"standardised residuals are not normal ({normality['test']} p = {normality['p_value']:.2g}): "
            "check the error model or outliers"
        )
    if series and len(flagged) > alpha * len(series) * 2:
        warnings.append(
            f"residuals are autocorrelated in {len(flagged)} of {len(series)} batch/output series "
            "(Ljung-Box p < 0.05): the model misses a systematic trend"
        )
    return {"normality": normality, "autocorrelation": series, "warnings": warnings}


def _normality(r: np.ndarray) -> dict[str, Any]:
    if len(r) < 8:
        return {"test": "none (fewer than 8 residuals)", "statistic": math.nan, "p_value": 1.0}
    if len(r) <= 5000:
        res = stats.shapiro(r)
        return {"test": "Shapiro-Wilk", "statistic": float(res.statistic), "p_value": float(res.pvalue)}
    res = stats.normaltest(r)
    return {"test": "D'Agostino-Pearson", "statistic": float(res.statistic), "p_value": float(res.pvalue)}


def ljung_box(x: np.ndarray, lags: int | None = None) -> dict[str, float]:
    n = len(x)
    h = lags or max(1, min(10, n // 4))
    x = x - x.mean()
    denom = float(np.sum(x * x)) or 1e-300
    rho = np.array([np.sum(x[k:] * x[:-k]) / denom for k in range(1, h + 1)])
    q = float(n * (n + 2) * np.sum(rho**2 / (n - np.arange(1, h + 1))))
    return {"n": n, "lags": h, "lag1_autocorrelation": float(rho[0]), "q": q, "p_value": float(stats.chi2.sf(q, h))}


# -- held-out validation ---------------------------------------------------------------------------
def held_out_parameters(est: Estimate) -> tuple[dict[str, float], dict[str, float]]:
    """Parameters and fitted initial states for a batch the fit has not seen: shared values, and the
    (geometric) mean over training batches of per-batch values."""
    groups: dict[tuple[str, str], list[float]] = {}
    log: dict[tuple[str, str], bool] = {}
    shared = {}
    for unknown, value in zip(est.problem.unknowns, est.values.values()):
        if unknown.batch is None:
            shared[unknown.name] = value
        else:
            groups.setdefault((unknown.kind, unknown.name), []).append(value)
            log[(unknown.kind, unknown.name)] = unknown.log
    mean = {key: float(np.exp(np.mean(np.log(v))) if log[key] else np.mean(v)) for key, v in groups.items()}
    params = shared | {n: v for (k, n), v in mean.items() if k == "parameter"}
    states = {n: v for (k, n), v in mean.items() if k == "state"}
    return params, states


def predict_batch(est: Estimate, batch: BatchData, outputs: list[str] | None = None) -> pd.DataFrame:
    """Predictions for ``batch`` at its measurement times without refitting (see module docstring)."""
    p = est.problem
    params, states = held_out_parameters(est)
    outputs = outputs or p.outputs
    obs, times = observation_times(batch, outputs)
    initial = states | _measured_at_start(batch, states) | dict(batch.initial)
    res = simulate(
        p.model,
        times,
        parameters=p.fixed | params,
        inputs=input_steps(batch),
        initial=initial,
        recipe=phase_recipe(p.model, batch, p.settings.phase_actions),
        options=SolverOptions(rtol=p.settings.rtol, atol=p.settings.atol),
    )
    out = obs[["output", "time", "value"]].copy()
    if not res.ok:
        out["pred"] = np.nan
        out.attrs["message"] = res.message
        return out
    index = np.searchsorted(times, out["time"].to_numpy(float))
    columns = {o: _column(res, o) for o in out["output"].unique()}
    out["pred"] = [columns[o][i] for o, i in zip(out["output"], index)]
    return out


def _measured_at_start(batch: BatchData, states: Mapping[str, float]) -> dict[str, float]:
    """Fitted initial states that the held-out batch measured at its start (t = 0)."""
    obs = batch.observations
    at_start = obs[(obs["time"] <= START_TIME_RTOL * max(batch.end, 1.0)) & obs["output"].isin(list(states))]
    return at_start.groupby("output")["value"].mean().to_dict()


def _column(res, name: str) -> np.ndarray:
    if name in [v.name for v in res.model.outputs]:
        return res.output(name)
    return res.state(name)


def naive_baseline(training: Mapping[str, BatchData], output: str, times: np.ndarray) -> np.ndarray:
    """Mean over training batches of their measurements of ``output``, interpolated at ``times``."""
    curves = []
    for b in training.values():
        o = b.observations[b.observations["output"] == output].sort_values("time")
        if len(o):
            curves.append(np.interp(times, o["time"].to_numpy(float), o["value"].to_numpy(float)))
    return np.mean(curves, axis=0) if curves else np.full(len(times), np.nan)


def validate(est: Estimate, held_out: Mapping[str, BatchData], training: Mapping[str, BatchData]) -> dict[str, Any]:
    """Prediction error of held-out batches against the naive mean-trajectory baseline, per output."""
    rows, per_batch, messages = [], [], []
    for name, batch in held_out.items():
        pred = predict_batch(est, batch)
        if "message" in pred.attrs:
            messages.append(f"{name}: the model failed: {pred.attrs['message']}")
        for o, g in pred.groupby("output", sort=False):
            t = g["time"].to_numpy(float)
            y = g["value"].to_numpy(float)
            baseline = naive_baseline(training, o, t)
            model, naive = _metrics(y, g["pred"].to_numpy(float)), _metrics(y, baseline)
            per_batch.append(
                {
                    "batch": name,
                    "output": o,
                    "n": model["n"],
                    "rmse": model["rmse"],
                    "nrmse": model["nrmse"],
                    "naive_rmse": naive["rmse"],
                    "skill": 1 - model["rmse"] / naive["rmse"] if naive["rmse"] > 0 else math.nan,
                }
            )
            rows.append(g.assign(batch=name, naive=baseline))
    table = pd.concat(rows) if rows else pd.DataFrame(columns=["batch", "output", "time", "value", "pred", "naive"])
    summary = []
    for o, g in table.groupby("output", sort=False):
        y, m, nv = (g[c].to_numpy(float) for c in ("value", "pred", "naive"))
        rm, rn = _metrics(y, m)["rmse"], _metrics(y, nv)["rmse"]
        summary.append(
            {"output": o, "n": len(y), "rmse": rm, "naive_rmse": rn, "skill": 1 - rm / rn if rn > 0 else math.nan}
        )
    return {
        "batches": list(held_out),
        "per_output": summary,
        "per_batch": per_batch,
        "points": table,
        "warnings": messages,
    }
