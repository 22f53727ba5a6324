"""Calibration on plant-like records: 10 CHO fed-batches of 230 h whose feed rate the historian logged hourly.

The shipped CHO model makes the records (synthetic, made by this script from a fixed seed): each batch has its
own hourly feed profile from 72 h (a random walk around 2.5 mL/h, 158 steps) and a daily offline sample of VCD,
viability, glucose, lactate, ammonia and titre with 4 % noise. Ten shared parameters are fitted by maximum
likelihood (combined error models) from a start 25 % off the truth.

It measures:
* ``calibration.estimate`` as it is, in two right-hand-side forms: the declared SX equations (``rhs='auto'``)
  and the same compiled to C (``rhs='compiled'``). Each batch is one CasADi function over the whole recipe,
  and CVODES restarts at each of its 158 input steps.
* The cost of those restarts, on batch B01's nominal run from the feed start (72 h) to the end: the core's
  ``simulate`` (a restart at every step) against one CasADi integrator that takes the hourly feed as a
  piecewise-constant control (``ca.integrator`` with ``u``), which CVODES crosses without restarting.

Usage:  python bench/calibration_hourly_feed.py [--reps 1] [--markdown docs/benchmarks_scenarios.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import casadi as ca
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulsion_vs_scipy import machine, publish  # noqa: E402

from bioprocess_twin import catalogue  # noqa: E402
from bioprocess_twin.calibration.batches import BatchData  # noqa: E402
from bioprocess_twin.calibration.estimation import estimate  # noqa: E402
from bioprocess_twin.calibration.settings import ErrorModel, FitParameter, FitSettings  # noqa: E402
from bioprocess_twin.core import trajectory as trajectory_module  # noqa: E402
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


def run(model, batches, fit, form: str) -> dict:
    original = trajectory_module._sensitivity_form
    trajectory_module._sensitivity_form = lambda m, o: form
    try:
        start = time.perf_counter()
        est = estimate(model, batches, fit)
        seconds = time.perf_counter() - start
    finally:
        trajectory_module._sensitivity_form = original
    truth = model.parameters.defaults()
    values = est.parameter_values()
    return {
        "seconds": seconds,
        "status": est.status,
        "objective": est.neg2_log_likelihood,
        "iterations": est.iterations,
        "worst_rel_error_vs_truth": max(abs(values[n] / truth[n] - 1) for n in PARAMETERS),
        "values": values,
    }


def restarts(model, data: BatchData, reps: int = 5) -> dict:
    """Batch B01's nominal run from the feed start: a restart at every input step against a control CVODES crosses."""
    steps = [list(step) for step in data.inputs["feed_rate"]]
    hours = np.arange(0.0, HOURS + 1.0)
    t_feed = next(t for t, v in steps if v > 0)
    start = simulate(model, hours[hours <= t_feed], inputs={"feed_rate": [s for s in steps if s[0] <= t_feed]})
    x0 = start.x[-1]
    after = hours[hours >= t_feed]
    tail = [[t, v] for t, v in steps if t >= t_feed]

    def restarted():
        return simulate(model, after, inputs={"feed_rate": tail}, initial=dict(zip(_names(model), x0)))

    x, p, u, t = (ca.SX.sym(n, k) for n, k in (("x", model.nx), ("p", model.np), ("u", model.nu), ("t", 1)))
    ode, _ = model.dae(t, x, ca.SX(0, 1), p, u)
    crossing = ca.integrator(
        "crossing",
        "cvodes",
        {"t": t, "x": x, "u": u, "p": p, "ode": ode},
        float(after[0]),
        list(after[1:]),
        {"abstol": 1e-8, "reltol": 1e-6},
    )
    U = np.tile(model.input_vector()[:, None], (1, len(after) - 1))
    U[model.inputs.names.index("feed_rate")] = [v for _, v in tail][: len(after) - 1]
    pv = model.parameter_vector()

    def continued():
        return np.array(crossing(x0=x0, p=pv, u=U)["xf"]).T

    ref, cont = restarted(), continued()
    times = {"restarted": [], "continued": []}
    for _ in range(reps):
        for label, fn in (("restarted", restarted), ("continued", continued)):
            t0 = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - t0)
    diff = float(np.max(np.abs(cont - ref.x[1:]) / (np.abs(ref.x[1:]) + 1e-6)))
    return {k: float(np.median(v)) for k, v in times.items()} | {"max_rel_diff": diff, "steps": len(tail)}


def _names(model) -> list[str]:
    return [v.name for v in model.states]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args(argv)
    header = machine()
    model = catalogue.get("cho_fed_batch").model
    batches = records(model)
    fit = settings(model)
    rows: dict[str, list[dict]] = {"before": [], "now": []}
    for _ in range(args.reps):
        rows["before"].append(run(model, batches, fit, "symbolic"))
        rows["now"].append(run(model, batches, fit, "compiled"))
        print(json.dumps({k: {kk: vv for kk, vv in v[-1].items() if kk != "values"} for k, v in rows.items()}))
    med = {k: float(np.median([r["seconds"] for r in v])) for k, v in rows.items()}
    crossing = restarts(model, batches["B01"])
    before, now = rows["before"][0], rows["now"][0]
    text = "\n".join(
        [
            header,
            "",
            f"{BATCHES} batches × {HOURS} h, {HOURS - 72} hourly feed steps each, {len(PARAMETERS)} shared parameters, "
            f"{sum(len(b.observations) for b in batches.values())} observations; median of {args.reps} run(s).",
            "",
            "| run | wall time | status | −2 log L | iterations | worst parameter error vs truth |",
            "|---|---|---|---|---|---|",
            *(
                f"| {label} | {med[key]:.1f} s | {r['status']} | {r['objective']:.3f} | {r['iterations']} | "
                f"{100 * r['worst_rel_error_vs_truth']:.1f} % |"
                for key, label, r in (
                    ("before", "SX equations (default)", before),
                    ("now", "compiled to C", now),
                )
            ),
            "",
            f"Ratio SX / compiled: {med['before'] / med['now']:.2f}×.",
            "",
            f"Restarts, batch B01 from the feed start ({crossing['steps']} hourly steps, nominal run, median of 5): "
            f"a restart at every step {1e3 * crossing['restarted']:.0f} ms; one CVODES run across them "
            f"{1e3 * crossing['continued']:.0f} ms ({crossing['restarted'] / crossing['continued']:.1f}×), "
            f"states within {crossing['max_rel_diff']:.1e} (relative).",
        ]
    )
    RESULTS.parent.mkdir(exist_ok=True)
    document = {"machine": header, "runs": rows, "median_s": med, "restarts": crossing}
    RESULTS.write_text(json.dumps(document, indent=1, default=str))
    publish(text, args.markdown, START, END)


if __name__ == "__main__":
    main()
