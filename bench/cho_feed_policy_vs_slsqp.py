"""The CHO feed profile of examples/optimisation/cho_feed_policy.yaml: ``optimize_policy`` against scipy SLSQP.

The problem: the feed rate of the ``cho_fed_batch`` model, constant on each of 20 intervals over 14 days, that
maximises the final titre with DO >= 30 % at the 21 interval boundaries and V(14 d) <= 2.6 L.

(a) bioprocess-twin: ``run_optimization`` on the shipped spec, i.e. direct multiple shooting in CasADi with
    IPOPT (L-BFGS Hessian), exact first derivatives through CVODES forward sensitivities.
(b) scipy: ``minimize(method="SLSQP")`` over a single-shooting simulation, ``solve_ivp(method="BDF")`` of
    ``cho_rhs_numpy`` (the same equations on NumPy floats) restarted at each interval, with scipy's default
    finite-difference gradients. It is given a scaling of its own: the feed as a share of its upper bound, the
    titre divided by the first policy's, DO/30 - 1 >= 0 and 1 - V/2.6 >= 0; the same first policy (1 mL/h);
    and a cache of the last simulations, so that the constraints and the objective share each simulation
    (their finite differences step to the same points).

Both integrate with rtol 1e-6, atol 1e-8 (the spec's; the existing CHO bench's). IPOPT's tolerance is 1e-6 and
SLSQP's ``ftol`` 1e-6. Both optima are then simulated by the core on a fine grid (minimum DO between the
boundaries too) and by scipy (the titre each policy gives on the other side's integrator). (a) runs ``--reps``
times (median; the first run, which builds the CasADi functions, is reported apart); (b) runs once.

Then, for the docs: constant feeds (the same volume; the highest that keeps DO >= 30 %), the optimum from other
first policies, the optimal profile under +-10 % of kLa, O2 uptake and growth rate, and the problem with DO
bounds of 40 and 50 %.

Usage:  python bench/cho_feed_policy_vs_slsqp.py [--reps 3] [--markdown docs/optimisation.md]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from emulsion_vs_scipy import fmt_t, machine, publish  # noqa: E402

from bioprocess_twin import catalogue  # noqa: E402
from bioprocess_twin.core import Phase, Recipe, SolverOptions, simulate  # noqa: E402
from bioprocess_twin.processes.cho_fed_batch import cho_rhs_numpy  # noqa: E402
from bioprocess_twin.scenarios.optimize import load_optimization_spec, run_optimization  # noqa: E402

SPEC = ROOT / "bioprocess_twin" / "examples" / "optimisation" / "cho_feed_policy.yaml"
RESULTS = ROOT / "bench" / "results" / "cho_feed_policy_vs_slsqp.json"
START, END = "<!-- bench:cho_feed_policy:start -->", "<!-- bench:cho_feed_policy:end -->"
CACHE = 64  # simulations kept for scipy (one gradient needs 21)


class ScipyProblem:
    """The spec's problem as a single-shooting simulation with solve_ivp (BDF) of cho_rhs_numpy."""

    def __init__(self, spec):
        self.process = catalogue.get(spec.model)
        model = self.model = self.process.model
        self.spec = spec
        (self.control,) = spec.controls
        self.bounds = spec.controls[self.control]
        self.N, self.T = spec.intervals, spec.horizon
        self.dt = self.T / self.N
        self.names = [v.name for v in model.states]
        self.p = dict(zip(model.parameters.names, model.parameter_vector(spec.parameters)))
        self.u = model.inputs.resolve(spec.inputs, "inputs")  # declared units
        self.x0 = model.initial_state(model.parameter_vector(spec.parameters))[0]
        self.f = cho_rhs_numpy(model)
        self.outputs = [o.name for o in model.outputs]
        (self.path,) = spec.path
        (self.final,) = spec.final
        self.cache: OrderedDict[bytes, dict] = OrderedDict()
        self.simulations = self.rhs_evaluations = 0

    def simulate(self, policy) -> dict:
        """States at the N + 1 boundaries and the objective, for the policy in the control's units."""
        key = np.asarray(policy, dtype=float).tobytes()
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        x, nodes = self.x0.copy(), [self.x0.copy()]
        for k, value in enumerate(policy):
            u = self.u | {self.control: float(value)}
            sol = solve_ivp(
                lambda t, y, u=u: self.f(t, y, self.p, u),
                (k * self.dt, (k + 1) * self.dt),
                x,
                method="BDF",
                rtol=self.spec.rtol,
                atol=self.spec.atol,
            )
            if not sol.success:
                raise RuntimeError(f"solve_ivp failed on interval {k}: {sol.message}")
            self.rhs_evaluations += sol.nfev
            x = sol.y[:, -1].copy()
            nodes.append(x)
        X = np.array(nodes)
        u_last = np.array([(self.u | {self.control: float(policy[-1])})[n] for n in self.model.inputs.names])
        y = np.array(self.model.output_function(self.T, X[-1], [], list(self.p.values()), u_last)).ravel()
        out = {"X": X, "objective": float(y[self.outputs.index(self.spec.objective.name)])}
        self.simulations += 1
        self.cache[key] = out
        if len(self.cache) > CACHE:
            self.cache.popitem(last=False)
        return out

    def state(self, X, name):
        return X[:, self.names.index(name)]

    def solve(self, maxiter: int = 500):
        """SLSQP on the scaled problem (see the module docstring); the result and the policy in the control's units."""
        top = max(abs(self.bounds.min), abs(self.bounds.max))
        first = np.full(self.N, self.bounds.initial) / top
        scale = abs(self.simulate(first * top)["objective"])
        sign = -1.0 if self.spec.objective.sense == "maximize" else 1.0

        def objective(s):
            return sign * self.simulate(s * top)["objective"] / scale

        def path(s):
            return self.state(self.simulate(s * top)["X"], self.path.name) / self.path.min - 1.0

        def final(s):
            return 1.0 - self.state(self.simulate(s * top)["X"], self.final.name)[-1:] / self.final.max

        res = minimize(
            objective,
            first,
            method="SLSQP",
            bounds=[(self.bounds.min / top, self.bounds.max / top)] * self.N,
            constraints=[{"type": "ineq", "fun": path}, {"type": "ineq", "fun": final}],
            options={"maxiter": maxiter, "ftol": self.spec.tolerance},
        )
        return res, np.clip(res.x, self.bounds.min / top, self.bounds.max / top) * top


#: (parameter, factor on its default) the optimal policy is checked under (robustness)
PERTURBATIONS = {
    "kLa -10 %": ("kla_factor", 0.9),
    "kLa +10 %": ("kla_factor", 1.1),
    "q_O2 +10 %": ("q_o2", 1.1),
    "mu_max +10 %": ("mu_max", 1.1),
    "mu_max -10 %": ("mu_max", 0.9),
}

#: other first policies (control units) the problem is solved from
STARTS = (0.0, 0.0005, 0.002, 0.004)
#: DO bounds (%) the problem is also solved with, each optimum then checked at kLa -10 %
BACKOFFS = (40.0, 50.0)


def check_in_core(spec, policy, changes=None) -> dict:
    """The policy simulated by the core on a 0.1 h grid: final titre and V, minimum DO over the whole culture;
    ``changes``: model parameters that differ from the spec's."""
    model = catalogue.get(spec.model).model
    name = next(iter(spec.controls))
    dt = spec.horizon / spec.intervals
    recipe = Recipe(
        phases=[Phase(name=f"interval {k + 1}", duration=dt, inputs={name: float(v)}) for k, v in enumerate(policy)]
    )
    times = np.linspace(0.0, spec.horizon, int(round(spec.horizon / 0.1)) + 1)
    run = simulate(
        model,
        times,
        parameters=dict(spec.parameters) | (changes or {}),
        inputs=spec.inputs,
        recipe=recipe,
        options=SolverOptions(rtol=spec.rtol, atol=spec.atol),
    )
    if not run.ok:
        raise RuntimeError(run.message)
    return {
        "titre": float(run.output(spec.objective.name)[-1]),
        "V": float(run.state("V")[-1]),
        "min_DO_boundaries": float(np.min(run.state("DO")[:: int(round(dt / 0.1))])),
        "min_DO_anywhere": float(np.min(run.state("DO"))),
    }


def best_constant(spec, steps: int = 30) -> dict:
    """The highest constant feed that keeps DO at the boundaries at or above the path bound (bisection; the
    minimum DO falls as the feed rises here), with its check."""
    (name,) = spec.controls
    low, high = spec.controls[name].min, spec.controls[name].max
    bound = spec.path[0].min
    for _ in range(steps):
        mid = 0.5 * (low + high)
        low, high = (
            (mid, high) if check_in_core(spec, [mid] * spec.intervals)["min_DO_boundaries"] >= bound else (low, mid)
        )
    return {"feed_rate": low, **check_in_core(spec, [low] * spec.intervals)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the bioprocess-twin solve (median)")
    ap.add_argument("--maxiter", type=int, default=500, help="SLSQP iteration limit")
    ap.add_argument("--markdown", type=Path, help="write the results block of this Markdown file")
    ap.add_argument("--json", type=Path, default=RESULTS, help=f"results file (default {RESULTS.relative_to(ROOT)})")
    args = ap.parse_args(argv)
    mach = machine()
    spec = load_optimization_spec(SPEC)

    walls, docs = [], []
    for _ in range(max(1, args.reps)):
        t0 = time.perf_counter()
        docs.append(run_optimization(spec))
        walls.append(time.perf_counter() - t0)
    ours = docs[-1]
    t_ours = statistics.median(walls[1:]) if len(walls) > 1 else walls[0]

    sp = ScipyProblem(spec)
    t0 = time.perf_counter()
    res, policy_sp = sp.solve(args.maxiter)
    t_sp = time.perf_counter() - t0
    simulations, rhs = sp.simulations, sp.rhs_evaluations

    policy_ours = np.array(ours["controls"][sp.control])
    core = {"bioprocess-twin": check_in_core(spec, policy_ours), "scipy SLSQP": check_in_core(spec, policy_sp)}
    same_volume = float(np.mean(policy_ours))
    constant = {
        "same feed volume": {"feed_rate": same_volume, **check_in_core(spec, [same_volume] * spec.intervals)},
        "highest that meets DO": best_constant(spec),
    }
    defaults = catalogue.get(spec.model).model.parameters.defaults()
    robust = {
        label: check_in_core(spec, policy_ours, {name: factor * defaults[name]})
        for label, (name, factor) in PERTURBATIONS.items()
    }
    starts = {}
    for first in STARTS:
        other = spec.model_copy(update={"controls": {sp.control: sp.bounds.model_copy(update={"initial": first})}})
        doc = run_optimization(other)
        starts[f"{first:g}"] = {k: doc[k] for k in ("status", "iterations", "objective", "seconds")}
    backoff = {}
    for limit in BACKOFFS:
        tighter = spec.model_copy(update={"path": [spec.path[0].model_copy(update={"min": limit})]})
        t0 = time.perf_counter()
        doc = run_optimization(tighter)
        backoff[f"{limit:g}"] = {
            "wall_s": time.perf_counter() - t0,
            "status": doc["status"],
            "iterations": doc["iterations"],
            "objective": doc["objective"],
            "policy": doc["controls"][sp.control],
            "check": check_in_core(tighter, doc["controls"][sp.control]),
            "kLa -10 %": check_in_core(tighter, doc["controls"][sp.control], {"kla_factor": 0.9}),
        }
    on_scipy = {
        "bioprocess-twin": sp.simulate(policy_ours)["objective"],
        "scipy SLSQP": sp.simulate(policy_sp)["objective"],
    }
    active = [
        f"{c['kind']} {c['name']} {'>=' if c['side'] == 'min' else '<='} {c['bound']:g} at {len(c['active_at'])} "
        f"point(s), price {c['multiplier']:.4g}"
        for c in ours["constraints"]
        if c["active_at"]
    ]
    result = {
        "machine": mach,
        "spec": str(SPEC.relative_to(ROOT)),
        "problem": {
            "intervals": spec.intervals,
            "horizon_h": spec.horizon,
            "objective": spec.objective.model_dump(),
            "path": [b.model_dump() for b in spec.path],
            "final": [b.model_dump() for b in spec.final],
            "rtol": spec.rtol,
            "atol": spec.atol,
            "tolerance": spec.tolerance,
        },
        "bioprocess_twin": {
            "wall_s": walls,
            "median_wall_s": t_ours,
            "first_wall_s": walls[0],
            "status": ours["status"],
            "solver_status": ours["solver_status"],
            "iterations": ours["iterations"],
            "objective": ours["objective"],
            "policy": policy_ours.tolist(),
            "active": active,
            "check": core["bioprocess-twin"],
            "objective_on_scipy": on_scipy["bioprocess-twin"],
        },
        "scipy_slsqp": {
            "wall_s": t_sp,
            "success": bool(res.success),
            "message": str(res.message),
            "iterations": int(res.nit),
            "simulations": simulations,
            "rhs_evaluations": rhs,
            "objective": on_scipy["scipy SLSQP"],
            "policy": policy_sp.tolist(),
            "check": core["scipy SLSQP"],
        },
        "constant_feed": constant,
        "first_policies": starts,
        "robustness": {"changes": PERTURBATIONS, "bioprocess_twin_policy": robust, "do_backoff": backoff},
        "ratio": t_sp / t_ours,
        "ratio_first": t_sp / walls[0],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")

    def row(label, wall, status, iters, objective, check):
        return (
            f"| {label} | {fmt_t(wall)} | {status} | {iters} | {objective:.6f} | {check['titre']:.6f} | "
            f"{check['V']:.3f} | {check['min_DO_boundaries']:.2f} / {check['min_DO_anywhere']:.2f} |"
        )

    text = (
        f"Machine: {mach}.\n\n"
        f"`{result['spec']}`: feed rate on {spec.intervals} intervals over {spec.horizon:g} h, maximise the final "
        f"titre with DO >= {sp.path.min:g} % at the {spec.intervals + 1} boundaries and V <= {sp.final.max:g} L; "
        f"integration rtol {spec.rtol:g}, atol {spec.atol:g} on both sides; optimiser tolerance {spec.tolerance:g}. "
        "Titre, V and DO checked by the core on a 0.1 h grid.\n\n"
        "| method | wall | status | iterations | objective (g/L) | titre, core (g/L) | V (L) | min DO boundaries / "
        "anywhere (%) |\n|---|---|---|---|---|---|---|---|\n"
        + row(
            f"bioprocess-twin (median of {len(walls) - 1 or 1})",
            t_ours,
            ours["solver_status"],
            ours["iterations"],
            ours["objective"],
            core["bioprocess-twin"],
        )
        + "\n"
        + row(
            "scipy SLSQP + solve_ivp BDF, FD gradients",
            t_sp,
            "success" if res.success else f"failed: {res.message}",
            res.nit,
            on_scipy["scipy SLSQP"],
            core["scipy SLSQP"],
        )
        + "\n\n"
        f"- Ratio scipy / bioprocess-twin: {t_sp / t_ours:.1f}x ({t_sp / walls[0]:.1f}x against the first run, "
        f"{fmt_t(walls[0])}, which builds the CasADi functions). Runs (s): {', '.join(f'{w:.2f}' for w in walls)}.\n"
        f"- scipy: {simulations} simulations of 14 days, {rhs} RHS evaluations. The bioprocess-twin policy gives "
        f"{on_scipy['bioprocess-twin']:.4f} g/L on scipy's integrator.\n"
        f"- Active at the bioprocess-twin optimum: {'; '.join(active) or 'none'}.\n\n"
        "The bioprocess-twin policy under other parameters (the same feed profile, simulated by the core):\n\n"
        "| change | titre (g/L) | V (L) | min DO boundaries / anywhere (%) |\n|---|---|---|---|\n"
        + "\n".join(
            f"| {label} | {c['titre']:.4f} | {c['V']:.3f} | {c['min_DO_boundaries']:.2f} / {c['min_DO_anywhere']:.2f} |"
            for label, c in [("none", core["bioprocess-twin"]), *robust.items()]
        )
        + "\n\nConstant feeds, simulated by the core:\n\n| constant feed | mL/h | titre (g/L) | V (L) | min DO "
        "boundaries / anywhere (%) |\n|---|---|---|---|---|\n"
        + "\n".join(
            f"| {label} | {1000 * c['feed_rate']:.3f} | {c['titre']:.4f} | {c['V']:.3f} | "
            f"{c['min_DO_boundaries']:.2f} / {c['min_DO_anywhere']:.2f} |"
            for label, c in constant.items()
        )
        + "\n\nFrom other first policies (constant, mL/h): "
        + "; ".join(
            f"{1000 * float(k):g}: {v['status']}, {v['objective']:.6f} g/L in {v['iterations']} iterations"
            for k, v in starts.items()
        )
        + ".\n\nThe problem solved with a higher DO bound at the boundaries (a back-off), each optimum then run at "
        "kLa -10 %:\n\n| DO bound | status | titre (g/L) | V (L) | min DO boundaries / anywhere (%) | at kLa -10 %: "
        "titre, min DO boundaries / anywhere |\n|---|---|---|---|---|---|\n"
        + "\n".join(
            f"| {label} % | {b['status']} | {b['objective']:.4f} | {b['check']['V']:.3f} | "
            f"{b['check']['min_DO_boundaries']:.2f} / {b['check']['min_DO_anywhere']:.2f} | "
            f"{b['kLa -10 %']['titre']:.4f}, {b['kLa -10 %']['min_DO_boundaries']:.2f} / "
            f"{b['kLa -10 %']['min_DO_anywhere']:.2f} |"
            for label, b in backoff.items()
        )
    )
    publish(text, args.markdown, START, END)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
