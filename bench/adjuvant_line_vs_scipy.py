"""Speed of one batch of the adjuvant-only line: bioprocess-twin against the same line with scipy.

The line (bioprocess_twin/models/lines/adjuvant_only) is premix tank -> homogenizer -> sterile filter -> fill. Its
one integration of any weight is the homogenizer's population balance (100 classes, 6 passes);
the premix and fill units are algebraic, and the filter's blocking law is the same code on both
sides. So the scipy line is the bioprocess-twin line with that one integration swapped:

    scipy line = bpt line - (bpt simulate() of the emulsion model) + (solve_ivp BDF of the same PBE)

The emulsion parameters and recipe are captured from the line's own homogenizer call, and the scipy
side integrates ``rhs_numpy`` pass by pass with the temperature reset, at the same tolerances (the
core's SolverOptions defaults). Both sides' final Z-average must agree before the times are
compared. Each repetition runs both sides in turn; medians are reported.

Usage:  python bench/adjuvant_line_vs_scipy.py [--reps 5] [--markdown docs/benchmarks_line.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulsion_vs_scipy import alternate, fmt_t, machine, med, publish, rel  # noqa: E402

from bioprocess_twin import catalogue  # noqa: E402
from bioprocess_twin.core import SolverOptions  # noqa: E402
from bioprocess_twin.core import process as core_process  # noqa: E402
from bioprocess_twin.core.units import to_si  # noqa: E402
from bioprocess_twin.line.definition import load_line  # noqa: E402
from bioprocess_twin.line.flowsheet import build_line, run_line  # noqa: E402
from bioprocess_twin.pbe import size_stats  # noqa: E402
from bioprocess_twin.processes.emulsion_homogenizer import initial_state, rhs_numpy  # noqa: E402

OPTS = SolverOptions()
LINE = "adjuvant_only"


class CaptureSimulate:
    """Time the emulsion model's simulate() calls made inside a line run, and keep their arguments."""

    def __enter__(self):
        self.spent, self.calls = 0.0, []
        self._orig = core_process.simulate

        def timed(model, times, **kw):
            t0 = time.perf_counter()
            out = self._orig(model, times, **kw)
            if model.name == "emulsion_homogenizer":
                self.spent += time.perf_counter() - t0
                self.calls.append((np.asarray(times, float), kw, out))
            return out

        core_process.simulate = timed
        return self

    def __exit__(self, *exc):
        core_process.simulate = self._orig


def scipy_pbe(P: dict, pressure: float, n_passes: int, T_inlet: float, cooling: bool):
    """The homogenizer's PBE under solve_ivp(BDF): one solve per pass, T reset to the inlet when cooled.

    rhs_numpy works in SI: ``P`` in SI, ``pressure`` in Pa, ``T_inlet`` in K."""
    op = catalogue.get("emulsion_homogenizer").operators
    x = initial_state(op, P, T_inlet=T_inlet)
    n = op.grid.n
    for k in range(n_passes):
        if cooling or k == 0:
            x[n + 1] = T_inlet
        sol = solve_ivp(rhs_numpy, (k, k + 1), x, method="BDF", rtol=OPTS.rtol, atol=OPTS.atol, args=(op, P, pressure))
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed in pass {k + 1}: {sol.message}")
        x = sol.y[:, -1].copy()
    y = x[:n]
    return size_stats(P["oil_fraction"] * y / op.grid.pivots, op.grid)["z_average"] * 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--markdown", type=Path, default=None, help="write the results between the markers of this file")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    t0 = time.perf_counter()
    line = build_line(load_line(LINE))
    first = run_line(line)  # builds the emulsion model and its integrator
    t_first = time.perf_counter() - t0
    if not first.ok:
        raise RuntimeError(first.message)
    homog = line.units["homogenizer"]
    feed = first.inlets["homogenizer"]["feed"]
    with CaptureSimulate() as cap:
        run_line(line)
    ((times, kw, sim),) = cap.calls
    emulsion = catalogue.get("emulsion_homogenizer").model
    P = emulsion.parameters.resolve_si(dict(kw["parameters"]))  # the unit's model parameters, in SI
    pressure = to_si(float(kw["inputs"]["pressure"]), emulsion.inputs["pressure"].units)
    n_passes = len(times) - 1
    T_in = feed.temperature  # K
    z_bpt = first.results["homogenizer"].kpis["z_average_nm"]
    z_scipy = scipy_pbe(P, pressure, n_passes, T_in, bool(homog.values["cooling"]))
    if rel(z_scipy, z_bpt) > 1e-4:
        raise RuntimeError(f"Z-average differs: bpt {z_bpt} nm, scipy {z_scipy} nm")

    spent = []

    def bpt_line():
        with CaptureSimulate() as c:
            r = run_line(line)
        spent.append(c.spent)
        return r

    times_, _ = alternate(
        {"bpt": bpt_line, "scipy_pbe": lambda: scipy_pbe(P, pressure, n_passes, T_in, True)}, args.reps, "line"
    )
    t_line, t_sim, t_pbe = med(times_["bpt"]), med(spent), med(times_["scipy_pbe"])
    t_rest = t_line - t_sim
    t_scipy_line = t_rest + t_pbe
    rows = [
        (
            "adjuvant-only line, one batch (premix, homogenizer, filter, fill)",
            fmt_t(t_line),
            fmt_t(t_scipy_line),
            f"{t_scipy_line / t_line:.2f}x",
        ),
        (
            f"of which the emulsion PBE ({n_passes} passes, 100 classes)",
            fmt_t(t_sim),
            fmt_t(t_pbe),
            f"{t_pbe / t_sim:.2f}x",
        ),
        ("of which everything else (same code on both sides)", fmt_t(t_rest), fmt_t(t_rest), "1.00x"),
        ("first batch in a new process (model build, compiled-code cache load or compile)", fmt_t(t_first), "—", "—"),
    ]
    text = "\n".join(
        [
            f"Machine: {machine()}.",
            "",
            f"Tolerances rtol {OPTS.rtol:g}, atol {OPTS.atol:g} on both sides; median of {args.reps} alternating "
            f"repetitions; ratio = scipy / bioprocess-twin. Final Z-average {z_bpt:.2f} nm (bpt) vs {z_scipy:.2f} nm "
            f"(scipy), relative difference {rel(z_scipy, z_bpt):.1e}. Bench run took {time.perf_counter() - t_start:.0f} s.",
            "",
            "| case | bioprocess-twin | scipy | scipy / bpt |",
            "|---|---|---|---|",
            *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
            "",
            "- Repetitions (s): line "
            + ", ".join(f"{x:.3f}" for x in times_["bpt"])
            + "; scipy PBE "
            + ", ".join(f"{x:.3f}" for x in times_["scipy_pbe"])
            + ".",
        ]
    )
    publish(text, args.markdown)


if __name__ == "__main__":
    main()
