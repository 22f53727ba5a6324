"""Speed of a 14-day CHO fed-batch: bioprocess-twin (CasADi + CVODES) against scipy ``solve_ivp(BDF)``.

Both sides integrate the same equations: ``cho_rhs`` of processes/cho_fed_batch.py evaluated on CasADi
symbols (core ``simulate``) and on NumPy floats (scipy), at the same tolerances (the core's
SolverOptions defaults, rtol 1e-6, atol 1e-8), with the default recipe of the ``cho_fed_batch``
process: 3-day batch, continuous feed, temperature shift on day 6 and 10 daily glucose shots
(state jumps). scipy restarts at every recipe event, as the core does. Each repetition runs both
methods in turn; the table gives medians; ratio = scipy time / bioprocess-twin time.

Usage:  python bench/cho_fed_batch_vs_scipy.py [--reps 5] [--markdown docs/benchmarks_bioreactor.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulsion_vs_scipy import alternate, fmt_t, machine, publish, rel  # noqa: E402

from bioprocess_twin.core import SolverOptions, simulate  # noqa: E402
from bioprocess_twin.core.integration import plan_run  # noqa: E402
from bioprocess_twin.processes.cho_fed_batch import ChoFedBatch, cho_rhs_numpy  # noqa: E402

OPTS = SolverOptions()
RTOL, ATOL = OPTS.rtol, OPTS.atol


def scipy_run(model, recipe, times, f, counter=None, parameters=None):
    """solve_ivp(BDF) segment by segment between recipe events; inputs and state jumps as in the recipe.
    ``parameters`` (declared units) replace the defaults."""
    names = [v.name for v in model.states]
    p = model.parameters.defaults() | dict(parameters or {})
    u = model.inputs.defaults()
    x0, _ = model.initial_state(model.parameter_vector(p))
    x = x0.copy()
    events = recipe.all_events()
    bounds = sorted({float(times[0]), float(times[-1]), *[e.time for e in events]})
    nfev = njev = 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        for e in events:
            if e.time == a:
                u.update(e.inputs)
                for k, v in e.add_states.items():
                    x[names.index(k)] += v
        t_eval = times[(times >= a) & (times <= b)]
        sol = solve_ivp(lambda t, y: f(t, y, p, u), (a, b), x, method="BDF", rtol=RTOL, atol=ATOL, t_eval=t_eval)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed on [{a}, {b}]: {sol.message}")
        x = sol.y[:, -1].copy()
        nfev, njev = nfev + sol.nfev, njev + sol.njev
    if counter is not None:
        counter.update(nfev=nfev, njev=njev)
    return x, names


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args(argv)
    mach = machine()
    t0 = time.perf_counter()
    proc = ChoFedBatch()
    model = proc.model
    t_decl = time.perf_counter() - t0
    _, operating = proc.split_parameters({})  # operating values as the process sees them (SI)
    recipe = proc.default_recipe(operating)
    times = proc.default_times(operating, recipe)
    t0 = time.perf_counter()
    simulate(model, times, recipe=recipe, options=OPTS)  # builds the CVODES integrators
    t_first = time.perf_counter() - t0
    f = cho_rhs_numpy(model)

    def bpt():
        r = simulate(model, times, recipe=recipe, options=OPTS)
        if not r.ok:
            raise RuntimeError(r.message)
        return r.output("titre")[-1]

    def sp(counter=None):
        x, names = scipy_run(model, recipe, times, f, counter)
        return x[names.index("antigen")] / x[names.index("V")] * 1e-3

    t_build = t_decl + t_first
    bpt()
    cnt = {}
    sp(cnt)
    n_calls = sum(1 for _ in plan_run(model, times, None, recipe).chunks)
    tm, last = alternate({"bpt": bpt, "scipy": sp}, args.reps, "cho")
    tb, ts = statistics.median(tm["bpt"]), statistics.median(tm["scipy"])
    titre_b, titre_s = last["bpt"], last["scipy"]
    if rel(titre_s, titre_b) > 1e-3:
        raise SystemExit(f"titres differ: {titre_b} vs {titre_s} g/L")
    text = (
        f"Machine: {mach}.\n\nCHO fed-batch, 14 days (`cho_fed_batch` defaults: 21 states, 10 glucose shots, "
        f"feed start and temperature shift), {len(times)} output times; tolerances rtol {RTOL:g}, atol {ATOL:g} "
        f"on both sides; median of {args.reps} alternating repetitions; ratio = scipy / bioprocess-twin.\n\n"
        "| case | bioprocess-twin | scipy BDF | scipy / bpt | final titre (bpt / scipy) |\n|---|---|---|---|---|\n"
        f"| build (once): declare model | {fmt_t(t_decl)} | — | — | |\n"
        f"| build (once): first simulate (CVODES + Jacobian construction) | {fmt_t(t_first)} | — | — | |\n"
        f"| 14-day fed-batch, per simulation | {fmt_t(tb)} | {fmt_t(ts)} | {ts / tb:.1f}x | "
        f"{titre_b:.4f} / {titre_s:.4f} g/L (rel {rel(titre_s, titre_b):.1e}) |\n\n"
        f"- Integrator calls (chunks between events and input steps): {n_calls}; scipy: {cnt['nfev']} RHS "
        f"evaluations, {cnt['njev']} finite-difference Jacobians.\n"
        f"- Repetitions (s): bioprocess-twin {', '.join(f'{x:.3f}' for x in tm['bpt'])}; "
        f"scipy {', '.join(f'{x:.3f}' for x in tm['scipy'])}.\n"
        f"- Build total {fmt_t(t_build)} is paid once per process and interpreter."
    )
    publish(text, args.markdown)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
