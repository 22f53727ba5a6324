"""How the emulsion ratio (scipy BDF / bioprocess-twin) changes with the number of size classes.

Same case as ``emulsion_vs_scipy.py`` case 1 (10 passes at the defaults, T reset before every pass),
on grids of 100, 150 and 200 classes over the same diameter range: the core's default (structured ODE
compiled to C) against one ``solve_ivp(BDF)`` per pass on ``rhs_numpy``, alternating, median of
``--reps``. For bioprocess-twin the time is split into CVODES's RHS and Jacobian calls and the rest
(LU factorisations and solves, CVODES, the core), from one counting run.

Usage:  python bench/emulsion_grid.py [--classes 100,150,200] [--reps 3] [--markdown docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulsion_vs_scipy import (  # noqa: E402
    OPTS,
    CountCalls,
    alternate,
    empty_compile_cache,
    emulsion_scipy,
    fmt_t,
    machine,
    med,
    publish,
    rel,
    sizes,
)

from bioprocess_twin.core import simulate  # noqa: E402
from bioprocess_twin.processes.emulsion_homogenizer import EmulsionHomogenizer  # noqa: E402

START, END = "<!-- bench:grid:start -->", "<!-- bench:grid:end -->"


def one_grid(n: int, reps: int) -> str:
    """Time both sides on an n-class grid; one Markdown table row."""
    proc = EmulsionHomogenizer(n_classes=n)
    t0 = time.perf_counter()
    model, op = proc.model, proc.operators
    P = proc.model_parameters_si()  # SI, as rhs_numpy takes them
    operating = proc.operating.resolve_si({"n_passes": 10}, "operating")  # what default_recipe receives
    recipe = proc.default_recipe(operating)
    times = proc.default_times(operating, recipe)

    def bpt():
        r = simulate(model, times, recipe=recipe, options=OPTS)
        if r.status != "ok":
            raise RuntimeError(r.message)
        return r.state("y")[-1]

    bpt()
    t_build = time.perf_counter() - t0
    with CountCalls() as cc:
        t0 = time.perf_counter()
        y_b = bpt()
        t_count = time.perf_counter() - t0
    sc = {}
    y_s = emulsion_scipy(op, P, sc)
    tm, _ = alternate({"bpt": bpt, "scipy": lambda: emulsion_scipy(op, P)}, reps, f"emulsion, {n} classes")
    phi = P["oil_fraction"]
    (zb, db), (zs, ds) = sizes(y_b, op, phi), sizes(y_s, op, phi)
    t_rhs, t_jac = cc.total("t_wall_daeF"), cc.total("t_wall_jacF")
    b, s = med(tm["bpt"]), med(tm["scipy"])
    return (
        f"| {n} | {fmt_t(t_build)} | {fmt_t(b)} | {fmt_t(s)} | {s / b:.2f}x | "
        f"{fmt_t(t_rhs)} / {fmt_t(t_jac)} / {fmt_t(max(t_count - t_rhs - t_jac, 0.0))} | "
        f"{t_rhs / cc.total('n_call_daeF') * 1e6:.0f} / {sc['rhs_time'] / sc['calls'] * 1e6:.0f} µs | "
        f"{cc.total('nfevals')} RHS, {cc.total('n_call_jacF')} Jac, {cc.total('nlinsetups')} LU | "
        f"{sc['calls']} RHS (of which {sc['calls'] - sc['nfev']} in FD Jac), {sc['njev']} Jac, {sc['nlu']} LU | "
        f"Z {zb:.2f} nm, rel {rel(zs, zb):.1e}; d32 rel {rel(ds, db):.1e} |"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", default="100,150,200", help="comma-separated numbers of size classes")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per grid (median reported)")
    ap.add_argument("--markdown", type=Path, help="write the grid section of this Markdown file")
    args = ap.parse_args(argv)
    mach = machine()
    t_all = time.perf_counter()
    rows = []
    with empty_compile_cache():
        for n in (int(c) for c in args.classes.split(",")):
            print(f"emulsion, {n} classes", flush=True)
            rows.append(one_grid(n, args.reps))
    text = (
        f"Machine: {mach}. Median wall clock of {args.reps} alternating repetitions per grid; "
        f"bench run took {time.perf_counter() - t_all:.0f} s.\n\n"
        "| classes | build + first simulation (empty cache) | bioprocess-twin | scipy BDF | scipy / bpt | "
        "bpt split: RHS / Jacobian / rest | RHS per call: compiled / NumPy | evaluations (bpt) | "
        "evaluations (scipy) | agreement |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
    publish(text, args.markdown, START, END)


if __name__ == "__main__":
    main()
