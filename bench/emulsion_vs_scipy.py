"""Speed of bioprocess-twin (CasADi + SUNDIALS CVODES) against scipy ``solve_ivp(method="BDF")``.

Both sides integrate the same equations at the same tolerances (the core's SolverOptions defaults,
rtol 1e-6, atol 1e-8) in one process. Each timed case alternates the two methods and reports the
median wall-clock time of ``--reps`` repetitions; the ratio is scipy time / bioprocess-twin time
(> 1: bioprocess-twin is faster).

Cases
  1. Emulsion PBE (processes/emulsion_homogenizer.py), 100 classes, 10 passes, defaults, temperature reset
     to the inlet before every pass: core ``simulate`` vs one ``solve_ivp`` per pass on ``rhs_numpy``.
     The core runs the model's structured ODE compiled to C (default), the same in CasADi's virtual
     machine (``rhs="structured"``), and the declared SX equations (``rhs="symbolic"``).
  2. (``--compiled``) the declared SX equations compiled to C by CasADi's JIT (gcc, minutes).
  3. Forward sensitivities of the final Z-average and d32 to C1, Cc, feed_d50: core
     ``simulate(sensitivities=...)`` vs central finite differences (7 solve_ivp runs).
  4. Pure PBE with kernels fixed per run (constant aggregation + linear power-law breakage, binary
     uniform daughters, 100 classes): core Model (built once) and ``PopulationBalance.solve``
     (compiled, the default, and rhs="symbolic") vs solve_ivp on ``PopulationBalance.rhs`` with
     NumPy arrays.

Usage:  python bench/emulsion_vs_scipy.py [--reps 5] [--compiled] [--flags=-O1] [--markdown docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import casadi as ca
import numpy as np
import scipy
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bioprocess_twin.core import ModelBuilder, Parameter, SolverOptions, simulate  # noqa: E402
from bioprocess_twin.core import simulation as core_sim  # noqa: E402
from bioprocess_twin.core.units import si_scale, to_si  # noqa: E402
from bioprocess_twin.pbe import Grid, PopulationBalance, kernels, size_stats  # noqa: E402
from bioprocess_twin.processes.emulsion_homogenizer import EmulsionHomogenizer, initial_state, rhs_numpy  # noqa: E402

OPTS = SolverOptions()  # rtol 1e-6, atol 1e-8: used by both sides; rhs "auto" = compiled
FORMS = {
    "compiled": OPTS,
    "structured": OPTS.model_copy(update={"rhs": "structured"}),
    "symbolic": OPTS.model_copy(update={"rhs": "symbolic"}),
}
RTOL, ATOL = OPTS.rtol, OPTS.atol
N_PASSES = 10
PRESSURE = 1000.0  # bar, model default
PRESSURE_SI = to_si(PRESSURE, "bar")  # Pa: rhs_numpy works in SI
T_INLET = 293.15  # K, 20 degC
SENS_PARAMS = ("C1", "Cc", "feed_d50")
FD_STEP = 1e-3  # relative step of the finite differences
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"


# -- helpers ------------------------------------------------------------------------------------
CPU = {}  # case label -> {method: [CPU seconds]}


def alternate(fns: dict, reps: int, label: str = ""):
    """Run each function once per repetition, in turn; return {name: [wall seconds]} and the last results.

    CPU times (process_time) are kept in CPU[label] as a check on load from other jobs.
    """
    times = {k: [] for k in fns}
    cpu = CPU.setdefault(label, {k: [] for k in fns}) if label else {k: [] for k in fns}
    last = {}
    for _ in range(reps):
        for name, fn in fns.items():
            c0, t0 = time.process_time(), time.perf_counter()
            last[name] = fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return times, last


def med(xs) -> float:
    return statistics.median(xs)


class CountCalls:
    """Collect CVODES statistics of every integrator call the core makes (used outside timed runs)."""

    KEYS = ("nsteps", "nfevals", "n_call_jacF", "nlinsetups", "t_wall_daeF", "n_call_daeF", "t_wall_jacF")

    def __enter__(self):
        self.calls = []
        self.names = set()
        self._orig = core_sim.call_chunk

        def wrapped(F, *args):
            out = self._orig(F, *args)
            st = F.stats()
            self.calls.append({k: st.get(k, 0) for k in self.KEYS})
            self.names.add(F.name())
            return out

        core_sim.call_chunk = wrapped
        return self

    def __exit__(self, *exc):
        core_sim.call_chunk = self._orig

    def total(self, key):
        return sum(c[key] for c in self.calls)


def rel(a, b) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def fmt_t(s: float) -> str:
    return f"{s * 1e3:.0f} ms" if s < 10 else f"{s:.1f} s"


# -- case 1: emulsion ---------------------------------------------------------------------------
def emulsion_scipy(op, P, counter=None):
    """One solve_ivp(BDF) per pass, T reset to 20 C before each pass (cooling = 1)."""
    n = op.grid.n
    calls, spent = [0], [0.0]

    def f(t, x):
        calls[0] += 1
        if counter is None:
            return rhs_numpy(t, x, op, P, PRESSURE_SI)
        t0 = time.perf_counter()
        out = rhs_numpy(t, x, op, P, PRESSURE_SI)
        spent[0] += time.perf_counter() - t0
        return out

    x = initial_state(op, P, T_inlet=T_INLET)
    nfev = njev = nlu = 0
    for k in range(N_PASSES):
        x[n + 1] = T_INLET
        sol = solve_ivp(f, (k, k + 1), x, method="BDF", rtol=RTOL, atol=ATOL)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed in pass {k + 1}: {sol.message}")
        x = sol.y[:, -1].copy()
        nfev, njev, nlu = nfev + sol.nfev, njev + sol.njev, nlu + sol.nlu
    if counter is not None:
        counter.update(nfev=nfev, njev=njev, nlu=nlu, calls=calls[0], rhs_time=spent[0])
    return x[:n]


def sizes(y, op, phi):
    st = size_stats(phi * np.asarray(y) / op.grid.pivots, op.grid)
    return st["z_average"] * 1e9, st["d32"] * 1e9


def compiled_integrator(model, flags: list[str], workdir: str):
    """The core's integrator JIT-compiled with gcc.

    CasADi 3.8: the integrator-level options ``jit``/``compiler``/``jit_options`` generate one C file
    holding the DAE (twice: ``dae`` and ``daeF``) and its Jacobian ``jacF``. Passing jit through
    ``common_options`` fails ("No such Jacobian option: jit").
    """
    extra = {
        "jit": True,
        "compiler": "shell",
        "jit_name": "emulsion_jit",
        "jit_options": {"flags": list(flags), "verbose": False},
    }
    here = os.getcwd()
    os.chdir(workdir)  # the shell compiler writes its .c/.o/.so to the working directory
    try:
        options = OPTS.model_copy(update={"rhs": "symbolic"}).trusted(extra)
        return core_sim.integrator(model, (1.0,), OPTS.plugin(model), options), options
    finally:
        os.chdir(here)


@contextlib.contextmanager
def empty_compile_cache():
    """A temporary BIOPROCESS_TWIN_CACHE, so that the first build pays the C compile."""
    old = os.environ.get("BIOPROCESS_TWIN_CACHE")
    tmp = tempfile.mkdtemp(prefix="bench_cache_")
    os.environ["BIOPROCESS_TWIN_CACHE"] = tmp
    try:
        yield tmp
    finally:
        if old is None:
            os.environ.pop("BIOPROCESS_TWIN_CACHE", None)
        else:
            os.environ["BIOPROCESS_TWIN_CACHE"] = old
        shutil.rmtree(tmp, ignore_errors=True)


def _build_times():
    """Declare the model and build its integrators: compiled (empty cache, then cached), VM and symbolic."""
    out = {}
    t0 = time.perf_counter()
    proc = EmulsionHomogenizer()
    op = proc.operators
    out["operators"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = proc.model
    out["declare"] = time.perf_counter() - t0
    for form, opts in FORMS.items():
        t0 = time.perf_counter()
        core_sim.integrator(model, (1.0,), OPTS.plugin(model), opts)  # what the first simulate() builds
        out[form] = time.perf_counter() - t0
    t0 = time.perf_counter()  # a new process would do this much
    again = EmulsionHomogenizer().model
    core_sim.integrator(again, (1.0,), OPTS.plugin(again), OPTS)
    out["cached"] = time.perf_counter() - t0
    return proc, op, model, out


def _counts(cc) -> str:
    return (
        f"{cc.total('nsteps')} steps, {cc.total('nfevals')} RHS, {cc.total('n_call_jacF')} Jac, "
        f"{cc.total('nlinsetups')} LU"
    )


def case_emulsion(reps: int, compiled: bool, flags: list[str], rows: list, notes: list):
    print("case 1: emulsion PBE, 100 classes, 10 passes", flush=True)
    proc, op, model, tb = _build_times()
    P = proc.model_parameters_si()  # SI, as rhs_numpy takes them
    phi = P["oil_fraction"]
    operating = proc.operating.resolve_si({"n_passes": N_PASSES}, "operating")  # what default_recipe receives
    recipe = proc.default_recipe(operating)
    times = proc.default_times(operating, recipe)

    def runner(opts):
        def run():
            r = simulate(model, times, recipe=recipe, options=opts)
            if r.status != "ok":
                raise RuntimeError(r.message)
            return r.state("y")[-1]

        return run

    bpt = {form: runner(opts) for form, opts in FORMS.items()}
    counts, y_b, t_count = {}, {}, {}
    for form, run in bpt.items():
        run()  # warm-up (outputs map etc.)
        with CountCalls() as cc:
            t0 = time.perf_counter()
            y_b[form] = run()
            t_count[form] = time.perf_counter() - t0
        if not all(name.endswith(form) for name in cc.names) and form != "symbolic":
            raise RuntimeError(f"the core did not use the {form} integrator (used {cc.names})")
        counts[form] = cc
    sc = {}
    t0 = time.perf_counter()
    y_s = emulsion_scipy(op, P, sc)
    t_count_s = time.perf_counter() - t0
    tm, _ = alternate({**bpt, "scipy": lambda: emulsion_scipy(op, P)}, reps, "emulsion")
    zs, ds = sizes(y_s, op, phi)
    ev_s = (
        f"{sc['nfev']} RHS + {sc['calls'] - sc['nfev']} in FD Jac ({sc['calls']} total), "
        f"{sc['njev']} Jac, {sc['nlu']} LU"
    )
    rows.append(
        (
            "emulsion, build (once per process)",
            tb["declare"] + tb["compiled"],
            tb["operators"],
            None,
            f"operators {fmt_t(tb['operators'])} (both); declare {fmt_t(tb['declare'])} + C generation, "
            f"gcc and CVODES {fmt_t(tb['compiled'])} (empty cache); {fmt_t(tb['cached'])} with the cached "
            f"library; VM {fmt_t(tb['structured'])}; symbolic (SX Jacobian) {fmt_t(tb['symbolic'])}",
            "",
            "",
        )
    )
    labels = {
        "compiled": "emulsion, 10 passes, per simulation (default: structured ODE compiled to C)",
        "structured": "emulsion, structured ODE in the CasADi VM (no compiler)",
        "symbolic": "emulsion, declared SX equations, AD Jacobian (rhs='symbolic')",
    }
    for form in FORMS:
        zb, db = sizes(y_b[form], op, phi)
        acc = f"Z {zb:.2f} vs {zs:.2f} nm (rel {rel(zs, zb):.1e}); d32 rel {rel(ds, db):.1e}"
        rows.append(
            (
                labels[form],
                med(tm[form]),
                med(tm["scipy"]),
                med(tm["scipy"]) / med(tm[form]),
                acc,
                _counts(counts[form]),
                ev_s if form == "compiled" else "",
            )
        )
    t_np = sc["rhs_time"] / sc["calls"]
    per_eval = "; ".join(
        f"{form} RHS {counts[form].total('t_wall_daeF') / max(counts[form].total('n_call_daeF'), 1) * 1e3:.3f} ms, "
        f"Jacobian {counts[form].total('t_wall_jacF') / max(counts[form].total('n_call_jacF'), 1) * 1e3:.3f} ms"
        for form in FORMS
    )
    notes.append(
        f"Emulsion per-evaluation cost (CVODES timers): {per_eval}; NumPy rhs_numpy {t_np * 1e3:.3f} ms "
        "per call (inside solve_ivp)."
    )
    split = "; ".join(
        f"{form} {t_count[form] * 1e3:.0f} ms, of which RHS {counts[form].total('t_wall_daeF') * 1e3:.0f}"
        f" ms and Jacobian {counts[form].total('t_wall_jacF') * 1e3:.0f} ms"
        for form in FORMS
    )
    notes.append(
        f"Emulsion time split (one counting run each): {split}; scipy {t_count_s * 1e3:.0f} ms, of which "
        f"{sc['rhs_time'] * 1e3:.0f} ms in its {sc['calls']} RHS calls."
    )
    notes.append(_exp_floor(op, P) + " " + _jacobian_reuse(recipe, times))
    lin = {}
    for solver in ("lapacklu", "qr", "csparse"):
        opts = OPTS.trusted({"linear_solver": solver})
        lin[solver] = runner(opts)
    tl, _ = alternate(lin, reps, "emulsion, linear solvers (compiled)")
    notes.append(
        "Linear solver for the compiled form (CasADi option linear_solver; the core's default for structured "
        "ODEs is lapacklu with CasADi's OpenBLAS on one thread): "
        + ", ".join(f"{k} {fmt_t(med(v))}" for k, v in tl.items())
        + " per simulation (median wall clock)."
    )
    notes.append("Emulsion repetitions (s): " + "; ".join(f"{k} {_list(v)}" for k, v in tm.items()) + ".")
    ctx = dict(
        proc=proc,
        op=op,
        model=model,
        P=P,
        phi=phi,
        recipe=recipe,
        times=times,
        y_b=y_b["compiled"],
        y_s=y_s,
        bpt=bpt["symbolic"],
    )
    # Process.run: simulate + KPIs + series + distribution
    proc.run(parameters={"n_passes": N_PASSES})
    t_run = med(alternate({"run": lambda: proc.run(parameters={"n_passes": N_PASSES})}, reps)[0]["run"])
    notes.append(
        f"EmulsionHomogenizer().run(parameters={{'n_passes': 10}}) after build: {fmt_t(t_run)} median "
        "(simulate + KPIs, series and distribution)."
    )
    if compiled:
        _case_compiled(ctx, reps, flags, rows, notes)
    return ctx


def _case_compiled(ctx, reps, flags, rows, notes):
    print(f"case 2: emulsion, declared SX DAE JIT-compiled to C (gcc {' '.join(flags)}) ...", flush=True)
    proc2 = EmulsionHomogenizer()
    model2 = proc2.model
    workdir = tempfile.mkdtemp(prefix="bench_jit_")
    t0 = time.perf_counter()
    F, jit_options = compiled_integrator(model2, flags, workdir)
    t_comp = time.perf_counter() - t0
    recipe, times, op, phi = ctx["recipe"], ctx["times"], ctx["op"], ctx["phi"]

    def jit():
        return simulate(model2, times, recipe=recipe, options=jit_options).state("y")[-1]

    jit()  # warm-up: first touch of the compiled code
    with CountCalls() as cc:
        y_j = jit()
    if cc.names != {F.name()}:
        raise RuntimeError(f"the core did not use the compiled integrator (used {cc.names})")
    tm, _ = alternate(
        {"vm": ctx["bpt"], "jit": jit, "scipy": lambda: emulsion_scipy(op, ctx["P"])}, reps, "emulsion, SX JIT"
    )
    zj, dj = sizes(y_j, op, phi)
    zs, ds = sizes(ctx["y_s"], op, phi)
    rows.append(
        (
            f"emulsion, declared SX equations JIT-compiled by CasADi (gcc {' '.join(flags)}), build",
            t_comp,
            None,
            None,
            "C generation + compile + CVODES setup",
            "",
            "",
        )
    )
    rows.append(
        (
            f"emulsion, declared SX equations JIT (gcc {' '.join(flags)}), per simulation",
            med(tm["jit"]),
            med(tm["scipy"]),
            med(tm["scipy"]) / med(tm["jit"]),
            f"Z rel {rel(zs, zj):.1e}; d32 rel {rel(ds, dj):.1e}",
            f"{cc.total('nfevals')} RHS, {cc.total('n_call_jacF')} Jac",
            "",
        )
    )
    model2.integrator_cache.clear()
    del F
    gc.collect()  # CasADi deletes its .c/.o/.so when the Function goes
    shutil.rmtree(workdir, ignore_errors=True)
    t_rhs = cc.total("t_wall_daeF") / max(cc.total("n_call_daeF"), 1)
    t_jac = cc.total("t_wall_jacF") / max(cc.total("n_call_jacF"), 1)
    notes.append(
        f"SX JIT (gcc {' '.join(flags)}): RHS {t_rhs * 1e3:.3f} ms, Jacobian {t_jac * 1e3:.3f} ms per "
        f"evaluation; {fmt_t(med(tm['jit']))} per simulation vs {fmt_t(med(tm['vm']))} with the CasADi VM "
        f"(alternated in the same loop: {med(tm['vm']) / med(tm['jit']):.2f}x); compile {t_comp:.0f} s."
    )


def _exp_floor(op, P) -> str:
    """Cost of the film-drainage exponentials alone (one per coalescence pair), VM vs NumPy."""
    drain = op.drain
    b = ca.SX.sym("b")
    f_exp = ca.Function("exps", [b], [ca.sum1(ca.exp(-b * ca.DM(drain)))])
    f_nop = ca.Function("nop", [b], [b * 2.0])
    t_vm = _per_call(lambda: f_exp(0.01)) - _per_call(lambda: f_nop(0.01))
    t_np = _per_call(lambda: np.exp(-0.01 * drain).sum())
    return (
        f"The {drain.size} film-drainage exponentials alone cost {t_vm * 1e3:.3f} ms in the CasADi VM and "
        f"{t_np * 1e3:.3f} ms in NumPy per evaluation."
    )


def _jacobian_reuse(recipe, times) -> str:
    """CVODES evaluations with always_recalculate_jacobian=False (CasADi option; default True)."""
    model = EmulsionHomogenizer().model  # a separate model: its integrator cache is filled here
    options = OPTS.trusted({"always_recalculate_jacobian": False})
    F = core_sim.integrator(model, (1.0,), OPTS.plugin(model), options)
    with CountCalls() as cc:
        simulate(model, times, recipe=recipe, options=options)
    if cc.names != {F.name()}:
        raise RuntimeError(f"the core did not use the modified integrator (used {cc.names})")
    return (
        f"With the CasADi option always_recalculate_jacobian=False (default True): {cc.total('nfevals')} RHS, "
        f"{cc.total('n_call_jacF')} Jacobians, {cc.total('nlinsetups')} LU setups."
    )


def _per_call(fn, n=200) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def _list(xs) -> str:
    return ", ".join(f"{x:.3f}" for x in xs)


# -- case 3: sensitivities ----------------------------------------------------------------------
def case_sensitivities(ctx, reps: int, rows: list, notes: list):
    print("case 3: sensitivities of final Z-average and d32 to " + ", ".join(SENS_PARAMS), flush=True)
    model, recipe, times, op, P, phi = (ctx[k] for k in ("model", "recipe", "times", "op", "P", "phi"))
    iz = model.nx + next(v.offset for v in model.outputs if v.name == "z_average")
    idd = model.nx + next(v.offset for v in model.outputs if v.name == "d32")
    # P is in SI (for rhs_numpy), the CVODES sensitivities are per declared unit (feed_d50 in um)
    per_declared = {k: si_scale(model.parameters[k].units)[0] for k in SENS_PARAMS}

    def bpt():
        r = simulate(model, times, recipe=recipe, options=OPTS, sensitivities=list(SENS_PARAMS))
        return {k: (r.sensitivities[k][-1, iz], r.sensitivities[k][-1, idd]) for k in SENS_PARAMS}

    fd_times = {}

    def fd():
        """Central differences; the nominal run and the + runs also give forward differences."""
        t0 = time.perf_counter()
        base = sizes(emulsion_scipy(op, P), op, phi)
        out, fwd = {}, {}
        t_half = time.perf_counter() - t0
        for k in SENS_PARAMS:
            h = FD_STEP * abs(P[k])
            t1 = time.perf_counter()
            up = sizes(emulsion_scipy(op, P | {k: P[k] + h}), op, phi)
            t_half += time.perf_counter() - t1
            dn = sizes(emulsion_scipy(op, P | {k: P[k] - h}), op, phi)
            out[k] = tuple((a - b) / (2 * h) * per_declared[k] for a, b in zip(up, dn))
            fwd[k] = tuple((a - b) / h * per_declared[k] for a, b in zip(up, base))
        fd_times.setdefault("forward", []).append(t_half)
        return out, fwd

    t0 = time.perf_counter()
    bpt()  # first call: builds the forward-sensitivity integrators
    t_first = time.perf_counter() - t0
    tm, last = alternate({"bpt": bpt, "fd": fd}, reps, "sensitivities")
    s_b = last["bpt"]
    s_c, s_f = last["fd"]
    err_c = max(rel(s_c[k][j], s_b[k][j]) for k in SENS_PARAMS for j in (0, 1))
    err_f = max(rel(s_f[k][j], s_b[k][j]) for k in SENS_PARAMS for j in (0, 1))
    rows.append(
        (
            "sensitivities (3 params), central FD",
            med(tm["bpt"]),
            med(tm["fd"]),
            med(tm["fd"]) / med(tm["bpt"]),
            f"max rel diff of 6 derivatives {err_c:.1e}",
            "CVODES forward sensitivities",
            "7 solves",
        )
    )
    rows.append(
        (
            "sensitivities (3 params), forward FD",
            med(tm["bpt"]),
            med(fd_times["forward"]),
            med(fd_times["forward"]) / med(tm["bpt"]),
            f"max rel diff {err_f:.1e}",
            "",
            "4 solves",
        )
    )
    zb = sizes(ctx["y_b"], op, phi)[0]
    txt = "; ".join(
        f"{k}: {s_b[k][0]:.4g} (CVODES) / {s_c[k][0]:.4g} (central FD) nm per unit, "
        f"elasticity {s_b[k][0] * P[k] / per_declared[k] / zb:+.3g}"
        for k in SENS_PARAMS
    )
    notes.append(f"dZ/dp at the end of pass 10: {txt}. FD step {FD_STEP:g} x |p|.")
    notes.append(
        f"Sensitivity repetitions (s): bioprocess-twin {_list(tm['bpt'])} (first call {t_first:.2f}); "
        f"FD {_list(tm['fd'])}."
    )


# -- case 4: pure PBE with fixed kernels --------------------------------------------------------
def case_fixed_kernels(reps: int, rows: list, notes: list):
    print("case 4: pure PBE, constant aggregation + power-law breakage, 100 classes", flush=True)
    n, k_agg, k_brk = 100, 1.0, 1.0  # 1/s (scaled aggregation, breakage at d = 2 um)
    grid = Grid.from_diameters(0.1e-6, 50e-6, n)
    pb = PopulationBalance(grid, aggregation_method="fixed_pivot")
    v_ref = np.pi / 6 * (2e-6) ** 3
    n_ref = 1e12  # #/m^3; the state is N / n_ref
    d = grid.diameters
    w = np.exp(-0.5 * ((np.log(d / 2e-6)) / 0.4) ** 2)
    n0 = w / w.sum()  # number shares of a log-normal feed, sum 1
    times = np.linspace(0.0, 20.0, 11)  # s

    t0 = time.perf_counter()
    m = ModelBuilder("pbe_fixed_kernels", version="1", time_units="s")
    ka = m.parameter(Parameter(name="k_agg", units="1/s", default=k_agg, bounds=(0, 100), description="beta0 * n_ref"))
    kb = m.parameter(Parameter(name="k_break", units="1/s", default=k_brk, bounds=(0, 100), description="S at 2 um"))
    y = m.state("n", "1", initial=n0, shape=n, description="N / n_ref")
    m.ode(
        y,
        pb.rhs(
            y, aggregation=kernels.constant(ka), selection=kernels.power_law(kb / v_ref, 1.0), daughter="binary_uniform"
        ),
    )
    model = m.build()
    t_decl = time.perf_counter() - t0
    t0 = time.perf_counter()
    t_rel = (np.asarray(times[1:]) - times[0]) / (times[-1] - times[0])
    core_sim.integrator(model, t_rel, OPTS.plugin(model), OPTS)
    t_integ = time.perf_counter() - t0

    def bpt():
        return simulate(model, times, options=OPTS).state("n")[-1]

    pbs = {form: PopulationBalance(grid, aggregation_method="fixed_pivot") for form in ("compiled", "symbolic")}

    def pbsolve(form, k=k_agg):  # the integrator is built on the first call, then reused
        return (
            pbs[form]
            .solve(
                n0 * n_ref,
                times,
                rtol=RTOL,
                atol=ATOL * n_ref,
                rhs=form,
                aggregation=kernels.constant(k / n_ref),
                selection=kernels.power_law(k_brk / v_ref, 1.0),
                daughter="binary_uniform",
            )
            .N[-1]
            / n_ref
        )

    first = {}
    with empty_compile_cache():
        for form in pbs:
            t0 = time.perf_counter()
            pbsolve(form)
            first[form] = time.perf_counter() - t0
        t0 = time.perf_counter()  # a new object: C source generated again, library cached
        PopulationBalance(grid).solve(
            n0 * n_ref,
            times,
            rtol=RTOL,
            atol=ATOL * n_ref,
            rhs="compiled",
            aggregation=k_agg / n_ref,
            selection=k_brk * grid.pivots / v_ref,
        )
        first["cached"] = time.perf_counter() - t0
    other_k = {}
    for form in pbs:  # another kernel value: compiled reuses, symbolic rebuilds
        t0 = time.perf_counter()
        pbsolve(form, 1.1 * k_agg)
        other_k[form] = time.perf_counter() - t0
    beta = np.full((n, n), k_agg)
    S = k_brk * grid.pivots / v_ref
    cnt = {}

    def sp(counter=None):
        calls = [0]

        def f(t, x):
            calls[0] += 1
            return pb.rhs(x, aggregation=beta, selection=S, daughter="binary_uniform")

        sol = solve_ivp(f, (times[0], times[-1]), n0, method="BDF", t_eval=times, rtol=RTOL, atol=ATOL)
        if counter is not None:
            counter.update(nfev=sol.nfev, njev=sol.njev, nlu=sol.nlu, calls=calls[0])
        return sol.y[:, -1]

    bpt()
    with CountCalls() as cc:
        y_b = bpt()
    y_s = sp(cnt)
    tm, last = alternate(
        {"bpt": bpt, "compiled": lambda: pbsolve("compiled"), "symbolic": lambda: pbsolve("symbolic"), "scipy": sp},
        reps,
        "fixed-kernel PBE",
    )
    st_b, st_s = (size_stats(v * n_ref, grid) for v in (y_b, y_s))
    acc = (
        f"number rel {rel(st_s['number'], st_b['number']):.1e}, d32 rel {rel(st_s['d32'], st_b['d32']):.1e} "
        f"(d32 {st_b['d32'] * 1e6:.3f} um)"
    )
    ev_b = (
        f"{cc.total('nsteps')} steps, {cc.total('nfevals')} RHS, {cc.total('n_call_jacF')} Jac, "
        f"{cc.total('nlinsetups')} LU"
    )
    ev_s = f"{cnt['nfev']} RHS + {cnt['calls'] - cnt['nfev']} in FD Jac, {cnt['njev']} Jac, {cnt['nlu']} LU"
    F = next(f for key, f in pbs["compiled"].integrator_cache.items() if key[0] == "compiled")
    pbsolve("compiled")
    st = F.stats()
    ev_c = f"{st['nsteps']} steps, {st['nfevals']} RHS, {st['n_call_jacF']} Jac, {st['nlinsetups']} LU"
    rows.append(
        (
            "fixed-kernel PBE, build (once)",
            t_decl + t_integ,
            None,
            None,
            f"core Model: declare {fmt_t(t_decl)} + CVODES/Jacobian {fmt_t(t_integ)}; PopulationBalance.solve "
            f"first call: compiled {fmt_t(first['compiled'])} (empty cache; {fmt_t(first['cached'])} with the "
            f"cached library), symbolic {fmt_t(first['symbolic'])}",
            "",
            "",
        )
    )
    rows.append(
        (
            "fixed-kernel PBE, per simulation (core Model, SX equations)",
            med(tm["bpt"]),
            med(tm["scipy"]),
            med(tm["scipy"]) / med(tm["bpt"]),
            acc,
            ev_b,
            ev_s,
        )
    )
    for form, label in (
        ("compiled", "PopulationBalance.solve (default: compiled, analytic Jacobian)"),
        ("symbolic", "PopulationBalance.solve(rhs='symbolic') (rebuilds the SX RHS, reuses the integrator)"),
    ):
        st_p = size_stats(last[form] * n_ref, grid)
        rows.append(
            (
                f"fixed-kernel PBE, {label}",
                med(tm[form]),
                med(tm["scipy"]),
                med(tm["scipy"]) / med(tm[form]),
                f"d32 rel {rel(st_s['d32'], st_p['d32']):.1e}",
                ev_c if form == "compiled" else "",
                "",
            )
        )
    notes.append(
        f"Fixed-kernel PBE, PopulationBalance.solve with another aggregation constant (one call): compiled "
        f"{fmt_t(other_k['compiled'])} (same integrator, new parameter values), symbolic "
        f"{fmt_t(other_k['symbolic'])} (new SX equations, new integrator); compiled RHS "
        f"{st['t_wall_daeF'] / max(st['n_call_daeF'], 1) * 1e3:.3f} ms, Jacobian "
        f"{st['t_wall_jacF'] / max(st['n_call_jacF'], 1) * 1e3:.3f} ms per call."
    )
    x = n0.copy()
    t_np = _per_call(lambda: pb.rhs(x, aggregation=beta, selection=S, daughter="binary_uniform"))
    notes.append(
        f"Fixed-kernel PBE per-evaluation cost: CasADi VM RHS "
        f"{cc.total('t_wall_daeF') / max(cc.total('n_call_daeF'), 1) * 1e3:.3f} ms, Jacobian "
        f"{cc.total('t_wall_jacF') / max(cc.total('n_call_jacF'), 1) * 1e3:.3f} ms; NumPy pb.rhs "
        f"{t_np * 1e3:.3f} ms (timed separately)."
    )


# -- report -------------------------------------------------------------------------------------
def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} CPUs ({cpu}), load average {load:.2f} at start; Python {platform.python_version()}, "
        f"CasADi {ca.__version__}, NumPy {np.__version__}, SciPy {scipy.__version__}"
    )


def table(rows, reps) -> str:
    head = (
        "| case | bioprocess-twin | scipy BDF | scipy / bpt | accuracy check | evaluations (bpt) | "
        "evaluations (scipy) |\n|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for case, tb, ts, ratio, acc, eb, es in rows:
        lines.append(
            f"| {case} | {fmt_t(tb)} | {fmt_t(ts) if ts is not None else '—'} | "
            f"{f'{ratio:.2f}x' if ratio is not None else '—'} | {acc} | {eb or '—'} | {es or '—'} |"
        )
    return "\n".join(lines)


def write_markdown(path: Path, text: str, start: str = START, end: str = END):
    """Replace the text between the ``start`` and ``end`` markers of ``path`` (append them if missing)."""
    old = path.read_text() if path.exists() else "# Benchmarks\n\n## Results\n\n"
    block = f"{start}\n{text}\n{end}"
    if start in old and end in old:
        new = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, old, flags=re.S)
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new)


def publish(text: str, path: Path | None, start: str = START, end: str = END):
    """Print the results and, with ``path``, write them between the markers of that Markdown file."""
    print()
    print(text)
    if path:
        write_markdown(path, text, start, end)
        print(f"\nwrote {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5, help="repetitions per timed case (median reported)")
    ap.add_argument(
        "--compiled",
        action="store_true",
        help="also JIT-compile the declared SX emulsion DAE with CasADi (gcc, ~2-4 min)",
    )
    ap.add_argument("--flags", default="-O1", help="compiler flags for --compiled (default -O1)")
    ap.add_argument("--markdown", type=Path, help="write the results section of this Markdown file")
    ap.add_argument("--skip", default="", help="comma-separated cases to skip: sens,fixed")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    rows, notes = [], []
    mach = machine()
    t_all = time.perf_counter()
    with empty_compile_cache():
        ctx = case_emulsion(args.reps, args.compiled, args.flags.split(), rows, notes)
    if "sens" not in skip:
        case_sensitivities(ctx, args.reps, rows, notes)
    if "fixed" not in skip:
        case_fixed_kernels(args.reps, rows, notes)
    total = time.perf_counter() - t_all
    notes.append(
        "CPU-time medians (process_time, same runs): "
        + "; ".join(f"{label}: " + ", ".join(f"{k} {fmt_t(med(v))}" for k, v in d.items()) for label, d in CPU.items())
        + "."
    )
    text = (
        f"Machine: {mach}.\n\nTolerances rtol {RTOL:g}, atol {ATOL:g} on both sides; median wall-clock time "
        f"of {args.reps} alternating repetitions; ratio = scipy time / bioprocess-twin time (> 1: "
        f"bioprocess-twin faster). Bench run took {total:.0f} s.\n\n"
        + table(rows, args.reps)
        + "\n\n"
        + "\n".join(f"- {n}" for n in notes)
    )
    publish(text, args.markdown)


if __name__ == "__main__":
    main()
