"""Estimation speed and final objective: bioprocess-twin against scipy least_squares over solve_ivp.

Both sides minimise the same weighted sum of squares from the same start, with log-parameters,
the same bounds and the same integrator tolerances (rtol 1e-8, atol 1e-10):

* bioprocess-twin: ``calibration.estimate`` (single shooting, CVODES forward sensitivities through
  CasADi, scipy's trust-region reflective Gauss-Newton on that exact Jacobian);
* baseline: what a user would write by hand: ``scipy.optimize.least_squares(method="trf")`` with its
  default 2-point finite-difference Jacobian, residuals from ``solve_ivp(method="LSODA")`` on the
  same equations written in NumPy.

Problems:
* alpha-pinene isomerisation (Box et al. 1973; COPS): 1 batch, 5 rate constants, 40 observations,
  published optimum 19.872;
* Monod batches: 4 batches x 2 outputs x 12 times, 3 shared parameters, sigma = sqrt(0.05^2 +
  (0.04 y)^2) at the measured values (wls on both sides).

Each case alternates the two sides ``--reps`` times and reports medians; the build of the
bioprocess-twin problem (trajectory graphs, integrators) is timed apart and included once.

Usage:  python bench/calibration_vs_scipy.py [--reps 3] [--markdown docs/benchmarks_calibration.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import least_squares

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulsion_vs_scipy import alternate, fmt_t, machine, med, publish  # noqa: E402
from test_calibration_estimation import PINENE_T, PINENE_Y, batch, monod_batches, monod_model, pinene_model  # noqa: E402

from bioprocess_twin.calibration.estimation import estimate  # noqa: E402
from bioprocess_twin.calibration.problem import Problem  # noqa: E402
from bioprocess_twin.calibration.settings import ErrorModel, FitParameter, FitSettings  # noqa: E402

START, END = "<!-- bench:calibration:start -->", "<!-- bench:calibration:end -->"
RTOL, ATOL = 1e-8, 1e-10


def pinene_case():
    rows = [(f"y{j + 1}", t, v) for t, ys in zip(PINENE_T, PINENE_Y) for j, v in enumerate(ys)]
    data = {"b": batch("b", rows)}
    settings = FitSettings(
        parameters=[FitParameter(name=f"k{i + 1}") for i in range(5)],
        objective="wls",
        error_models={f"y{j + 1}": ErrorModel(a=1.0) for j in range(5)},
        rtol=RTOL,
        atol=ATOL,
    )
    t, Y = np.array(PINENE_T), np.array(PINENE_Y)

    def rhs(_, y, k):
        return [
            -(k[0] + k[1]) * y[0],
            k[0] * y[0],
            k[1] * y[0] - (k[2] + k[3]) * y[2] + k[4] * y[4],
            k[2] * y[2],
            k[3] * y[2] - k[4] * y[4],
        ]

    def residuals(lk):
        s = solve_ivp(
            rhs, (0, t[-1]), [100, 0, 0, 0, 0], t_eval=t, args=(np.exp(lk),), method="LSODA", rtol=RTOL, atol=ATOL
        )
        return (s.y.T - Y).ravel()

    return (
        "alpha-pinene (1 batch, 5 parameters)",
        pinene_model(),
        data,
        settings,
        residuals,
        np.log([1e-4] * 5),
        (np.log([1e-7] * 5), np.log([1e-2] * 5)),
    )


def monod_case():
    data = monod_batches(0)
    settings = FitSettings(
        parameters=[FitParameter(name=n) for n in ("mu_max", "K_s", "Y_xs")],
        objective="wls",
        error_models={o: ErrorModel(kind="combined", a=0.05, b=0.04) for o in ("X", "S")},
        rtol=RTOL,
        atol=ATOL,
    )
    obs = [(b, b.observations.sort_values(["output", "time"])) for b in data.values()]

    def rhs(_, y, p):
        mu = p[0] * y[1] / (p[1] + y[1])
        return [mu * y[0], -mu * y[0] / p[2]]

    def residuals(lp):
        p = np.exp(lp)
        out = []
        for b, o in obs:
            times = np.unique(o["time"].to_numpy())
            s = solve_ivp(
                rhs,
                (0, times[-1]),
                [b.initial["X"], b.initial["S"]],
                t_eval=times,
                args=(p,),
                method="LSODA",
                rtol=RTOL,
                atol=ATOL,
            )
            for k, name in enumerate(("S", "X")):
                y = o[o.output == name]["value"].to_numpy()
                out.append((s.y[1 - k if name == "S" else 0] - y) / np.sqrt(0.05**2 + (0.04 * y) ** 2))
        return np.concatenate(out)

    return (
        "Monod (4 batches, 3 shared parameters)",
        monod_model(),
        data,
        settings,
        residuals,
        np.log([0.3, 0.3, 0.3]),
        (np.log([0.01, 1e-3, 0.01]), np.log([3, 20, 1])),
    )


def run_case(case, reps: int) -> dict:
    label, model, data, settings, residuals, x0, bounds = case
    t0 = time.perf_counter()
    problem = Problem(model, data, settings)
    build = time.perf_counter() - t0
    ours = lambda: estimate(model, data, settings, problem=problem)  # noqa: E731

    def theirs():
        return least_squares(
            residuals,
            x0,
            bounds=bounds,
            method="trf",
            x_scale="jac",  # noqa: E731
            ftol=1e-10,
            xtol=1e-10,
            gtol=1e-10,
        )

    times, last = alternate({"bpt": ours, "scipy": theirs}, reps, label)
    est, sol = last["bpt"], last["scipy"]
    return {
        "label": label,
        "build": build,
        "bpt": med(times["bpt"]),
        "scipy": med(times["scipy"]),
        "bpt_obj": float(np.sum(est.residuals**2)),
        "scipy_obj": float(np.sum(sol.fun**2)),
        "bpt_evals": f"{est.evaluations['residuals']} res + {est.evaluations['jacobians']} jac",
        "scipy_evals": f"{sol.nfev} res + {sol.njev} FD jac",
    }


def table(rows: list[dict], reps: int) -> str:
    lines = [
        f"Machine: {machine()}. Medians of {reps} alternating repetitions; tolerances rtol {RTOL:g}, "
        f"atol {ATOL:g} on both sides. `build` is the one-off construction of the bioprocess-twin problem "
        "(trajectory graphs and integrators); `total` adds it once.",
        "",
        "| problem | bioprocess-twin fit | build | total | scipy least_squares + solve_ivp | ratio (scipy / total) "
        "| objective bpt | objective scipy | evaluations bpt | evaluations scipy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        total = r["bpt"] + r["build"]
        lines.append(
            f"| {r['label']} | {fmt_t(r['bpt'])} | {fmt_t(r['build'])} | {fmt_t(total)} | "
            f"{fmt_t(r['scipy'])} | {r['scipy'] / total:.2f}x | {r['bpt_obj']:.6f} | {r['scipy_obj']:.6f} | "
            f"{r['bpt_evals']} | {r['scipy_evals']} |"
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--markdown", type=Path, default=None)
    args = ap.parse_args(argv)
    rows = [run_case(c(), args.reps) for c in (pinene_case, monod_case)]
    text = table(rows, args.reps)
    publish(text, args.markdown, START, END)


if __name__ == "__main__":
    main()
