"""Calibration on plant-like records: 10 CHO fed-batches of 230 h whose feed rate the historian logged hourly.

The shipped CHO model makes the records (synthetic, made by this script from a fixed seed): each batch has its
own hourly feed profile from 72 h (a random walk around 2.5 mL/h, 158 steps) and a daily offline sample of VCD,
viability, glucose, lactate, ammonia and titre with 4 % noise. Ten shared parameters are fitted by maximum
likelihood (combined error models) from a start 25 % off the truth.

It measures, side by side in one run:
* ``calibration.estimate`` with today's code (every trajectory restarts CVODES at each of its input
  steps, batches one after the other: ``Problem(steps={"input_steps": "restart", "compiled": False},
  workers=1)``) against small input steps crossed in one CVODES run with the right-hand side compiled
  to C (``core.crossing``, ``steps={}``), the batches on one thread per core, repeated evaluations kept. It reports the ratio, both -2 log L and the largest relative difference of the
  fitted parameters.
* What each lever gives on its own: one batch's predictions and their Jacobian (median of 5) on the
  restarting path, crossing in CasADi's virtual machine and crossing compiled; all ten batches'
  Jacobian on one thread and on ``workers`` threads.

Usage:  python bench/calibration_hourly_feed.py [--reps 1] [--markdown docs/benchmarks_scenarios.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulsion_vs_scipy import machine, publish  # noqa: E402

from bioprocess_twin import catalogue  # noqa: E402
from bioprocess_twin.calibration.batches import BatchData  # noqa: E402
from bioprocess_twin.calibration.estimation import estimate  # noqa: E402
from bioprocess_twin.calibration.problem import Problem  # noqa: E402
from bioprocess_twin.calibration.settings import ErrorModel, FitParameter, FitSettings  # noqa: E402
from bioprocess_twin.core.simulation import simulate  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "calibration_hourly_feed.json"
START, END = "<!-- bench:calibration-hourly:start -->", "<!-- bench:calibration-hourly:end -->"
SEED = 20261203
BATCHES = 10
HOURS = 230
OUTPUTS = ("vcd", "viability", "glucose_conc", "lactate_conc", "ammonia_conc", "titre")
PARAMETERS = (
    "mu_max",
    "Y_x_glc",
    "kd_amm",
    "q_p",
    "K_glc",
    "Y_x_gln",
    "kd_0",
    "Y_lac_glc",
    "q_lac_uptake",
    "kd_lac",
)
NOISE = 0.04
OFF = 1.25


def records(model) -> dict[str, BatchData]:
    """The synthetic plant records: hourly feed steps, daily offline samples with noise."""
    rng = np.random.default_rng(SEED)
    hours = np.arange(0.0, HOURS + 1.0)
    days = np.arange(24.0, HOURS + 1.0, 24.0)
    out = {}
    for b in range(BATCHES):
        rate = np.clip(2.5 + np.cumsum(rng.normal(0.0, 0.08, HOURS - 72)), 0.5, 5.0)
        steps = [[0.0, 0.0]] + [[float(t), float(r)] for t, r in zip(hours[72:HOURS], rate)]
        truth = simulate(model, np.concatenate([[0.0], days]), inputs={"feed_rate": steps})
        frame = truth.frame(include_vectors=False)
        rows = []
        for name in OUTPUTS:
            clean = frame[name].to_numpy()[1:]
            rows += [(name, t, v) for t, v in zip(days, clean * (1 + NOISE * rng.standard_normal(len(clean))))]
        obs = pd.DataFrame(rows, columns=["output", "time", "value"])
        obs["tag"], obs["source"] = obs["output"], "synthetic"
        out[f"B{b + 1:02d}"] = BatchData(
            batch=f"B{b + 1:02d}",
            observations=obs.sort_values(["output", "time"]).reset_index(drop=True),
            inputs={"feed_rate": [(t, v) for t, v in steps]},
            initial={},
            phases=[],
            end=float(HOURS),
        )
    return out


def settings(model) -> FitSettings:
    defaults = model.parameters.defaults()
    fit = []
    for name in PARAMETERS:
        lo, hi = model.parameters[name].bounds
        fit.append(FitParameter(name=name, start=min(max(defaults[name] * OFF, lo), hi)))
    return FitSettings(parameters=fit, error_models={o: ErrorModel(kind="combined") for o in OUTPUTS})


TODAY = {"steps": {"input_steps": "restart", "compiled": False}, "workers": 1}
NEW: dict = {"steps": {}}  # crossing, compiled; threads and kept evaluations (the defaults)


def run(model, batches, fit, how: dict) -> dict:
    """One fit: the Problem (trajectories, compiled functions from the disk cache) and the estimate."""
    start = time.perf_counter()
    problem = Problem(model, batches, fit, **how)
    est = estimate(model, batches, fit, problem=problem)
    seconds = time.perf_counter() - start
    truth = model.parameters.defaults()
    values = est.parameter_values()
    return {
        "seconds": seconds,
        "status": est.status,
        "objective": est.neg2_log_likelihood,
        "iterations": est.iterations,
        "evaluations": est.evaluations,
        "fallbacks": sum(b.trajectory.fallbacks for b in problem.batches),
        "worst_rel_error_vs_truth": max(abs(values[n] / truth[n] - 1) for n in PARAMETERS),
        "values": values,
    }


def levers(model, batches, fit, reps: int = 5) -> dict:
    """Unit costs: batch B01's predictions and Jacobian on each path; the ten batches' Jacobian on 1 and 2 threads."""
    one = {"B01": batches["B01"]}
    out: dict = {}
    for label, steps in (
        ("restart", {"input_steps": "restart", "compiled": False}),
        ("cross_vm", {"compiled": False}),
        ("cross_compiled", {}),
    ):
        problem = Problem(model, one, fit, steps=steps, workers=1)
        traj, theta = problem.batches[0].trajectory, problem.decode(problem.start())
        traj(theta), traj.jacobian(theta)
        out[label] = {"values_ms": 1e3 * _median(lambda t=traj, th=theta: t(th), reps)}
        out[label]["jacobian_ms"] = 1e3 * _median(lambda t=traj, th=theta: t.jacobian(th), reps)
    for workers in (1, 2):
        problem = Problem(model, batches, fit, steps={}, workers=workers)
        u = problem.start()
        problem._jacobian(u)
        out[f"all_batches_jacobian_{workers}_threads_s"] = _median(lambda pr=problem, u=u: pr._jacobian(u), reps)
    return out


def _median(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args(argv)
    header = machine()
    model = catalogue.get("cho_fed_batch").model
    batches = records(model)
    fit = settings(model)
    lever = levers(model, batches, fit)
    print(json.dumps(lever))
    rows: dict[str, list[dict]] = {"today": [], "new": []}
    for _ in range(args.reps):
        rows["new"].append(run(model, batches, fit, NEW))
        rows["today"].append(run(model, batches, fit, TODAY))
        print(json.dumps({k: {kk: vv for kk, vv in v[-1].items() if kk != "values"} for k, v in rows.items()}))
    med = {k: float(np.median([r["seconds"] for r in v])) for k, v in rows.items()}
    today, new = rows["today"][0], rows["new"][0]
    param_diff = max(abs(new["values"][n] / today["values"][n] - 1) for n in PARAMETERS)
    text = "\n".join(
        [
            header,
            "",
            f"{BATCHES} batches × {HOURS} h, {HOURS - 72} hourly feed steps each, {len(PARAMETERS)} shared parameters, "
            f"{sum(len(b.observations) for b in batches.values())} observations; median of {args.reps} run(s).",
            "",
            "| run | wall time | status | −2 log L | residual / Jacobian evaluations | worst parameter error vs truth |",
            "|---|---|---|---|---|---|",
            *(
                f"| {label} | {med[key]:.1f} s | {r['status']} | {r['objective']:.3f} | "
                f"{r['evaluations']['residuals']} / {r['evaluations']['jacobians']} | "
                f"{100 * r['worst_rel_error_vs_truth']:.1f} % |"
                for key, label, r in (
                    ("today", "today's code (restart at every step, one thread)", today),
                    ("new", "crossing, compiled, two threads", new),
                )
            ),
            "",
            f"Ratio today / new: {med['today'] / med['new']:.1f}×. Largest relative difference of the fitted "
            f"parameters: {param_diff:.1e}; −2 log L differs by {abs(new['objective'] - today['objective']):.1e}. "
            f"Crossings that fell back to restarts: {new['fallbacks']}.",
            "",
            "Unit costs, batch B01 at the start values (median of 5):",
            "",
            "| path | predictions | predictions + Jacobian |",
            "|---|---|---|",
            *(
                f"| {label} | {lever[key]['values_ms']:.1f} ms | {lever[key]['jacobian_ms']:.1f} ms |"
                for key, label in (
                    ("restart", "restart at every step (today)"),
                    ("cross_vm", "crossing, virtual machine"),
                    ("cross_compiled", "crossing, compiled to C"),
                )
            ),
            "",
            f"All ten batches' Jacobian (crossing, compiled): {lever['all_batches_jacobian_1_threads_s']:.2f} s on one "
            f"thread, {lever['all_batches_jacobian_2_threads_s']:.2f} s on two.",
        ]
    )
    RESULTS.parent.mkdir(exist_ok=True)
    document = {"machine": header, "runs": rows, "median_s": med, "levers": lever, "parameter_rel_diff": param_diff}
    RESULTS.write_text(json.dumps(document, indent=1, default=str))
    publish(text, args.markdown, START, END)


if __name__ == "__main__":
    main()
