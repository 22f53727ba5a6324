"""Modular-line configuration and campaign scheduling: a Pyomo MILP solved by HiGHS.

``plan(spec: PlanSpec) -> PlanResult`` chooses how many identical modules of each type to install
and, week by week, which product each module runs, how many batches, and when it changes over.

Formulation (full text with all symbols: docs/planning.md)
  Sets     products p; module types m; steps (p, m) with occupation L = batch_h + cleaning_h;
           module slots k = 1..max_modules(m); weeks t = 1..N; H = hours per week.
  Vars     y[m,k] in {0,1}       module k of type m is installed (y[m,k] >= y[m,k+1])
           z[p,m,k,t] in {0,1}   module (m,k) is set up for product p in week t (one product a week)
           b[p,m,k,t] in Z+      batches of p started on module (m,k) in week t
           s[p,m,k,t] in [0,1]   changeover of (m,k) to p at the start of week t: s >= z[t] - z[t-1]
           r[m,k,t] >= 0         hours of work that spill from week t into week t+1 (r[N] = 0)
  Capacity sum_p (L b + changeover_h s) + r[t-1] - r[t] <= H y           (per module and week)
           r[t] <= sum_p L z[t]  (only the last batch started in week t may run on into t+1)
  Flow     every step of p runs the same number of batches B[p] >= ceil(demand / doses_per_batch);
           cumulative batches of step j+1 up to week t <= those of step j up to week t - lag_j
  Cost     years * sum_m (capex + fixed opex) * modules + sum cost_per_batch * b
           + sum changeover_cost * s
Valid cuts (one set-up per step made; module counts from total hours; identical modules ordered by
work) tighten the LP bound, and a campaign heuristic (``plan_heuristic``) gives HiGHS a feasible
warm start. The carry r makes the weekly capacity exact for one module worked sequentially, so the batch
timeline built from the solution (``plan_report.timeline``) never overbooks a module and every
batch starts in the week the MILP gave it, even batches longer than a week.

Infeasible demand is not a crash: the same model is solved with a shortfall per product
(maximising the fraction of demand met) and ``plan_report.infeasibility`` names the product,
the module type whose hours run out, and the hours needed against those available.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo

from ..core.limits import limited
from ..core.parameters import ParameterError
from .plan_from_line import resolve_line_products
from .plan_heuristic import Start, campaign_start, least_modules
from .plan_report import PlanResult, analyse_infeasibility, build_result
from .plan_spec import PlanSpec

__all__ = ["plan", "build_model", "PlanResult", "PlanSpec", "step_lags"]

#: weight of the (cost-scaled) total cost in the elastic objective: small enough that cost only breaks ties
#: between plans that miss the same fraction of demand
TIE_BREAK_WEIGHT = 1e-9


@dataclass
class Indices:
    """Plain-Python index lists shared by the model builder and the result extraction."""

    spec: PlanSpec
    weeks: list[int]
    slots: list[tuple[str, int]]  # (module type, k)
    steps: list[tuple[str, str]]  # (product, module type) in product order
    lags: dict[tuple[str, str], int]  # weeks from a step to the next one
    step_of: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def pmk(self) -> list[tuple[str, str, int]]:
        return [(p, m, k) for p, m in self.steps for k in range(self.spec.module(m).max_modules)]


def step_lags(spec: PlanSpec) -> dict[tuple[str, str], int]:
    """Weeks between a batch's week on a step and its week on the next step: ``lag_weeks`` if given,
    else ceil(batch_h / H), so a step's batch has started and finished before the next step's week."""
    H = spec.hours_per_week
    return {
        (p.name, s.module): s.lag_weeks if s.lag_weeks is not None else math.ceil(s.batch_h / H - 1e-9)
        for p in spec.products
        for s in p.steps
    }


def indices(spec: PlanSpec) -> Indices:
    idx = Indices(
        spec=spec,
        weeks=list(range(1, spec.horizon_weeks + 1)),
        slots=[(m.name, k) for m in spec.module_types for k in range(m.max_modules)],
        steps=[(p.name, s.module) for p in spec.products for s in p.steps],
        lags=step_lags(spec),
    )
    idx.step_of = {(p.name, s.module): s for p in spec.products for s in p.steps}
    return idx


def build_model(spec: PlanSpec, elastic: bool = False) -> tuple[pyo.ConcreteModel, Indices]:
    """The MILP. With ``elastic`` demand may fall short; the objective is then the shortfall."""
    idx = indices(spec)
    H, N = spec.hours_per_week, spec.horizon_weeks
    step_of = idx.step_of
    pmkt = [(p, m, k, t) for p, m, k in idx.pmk for t in idx.weeks]
    mkt = [(m, k, t) for m, k in idx.slots for t in idx.weeks]
    products_on = {slot: [p for p, m in idx.steps if m == slot[0]] for slot in idx.slots}

    def max_batches(p, m):  # sum L b <= H + r[t] <= H + L  ->  b <= H / L + 1
        return math.floor(H / step_of[p, m].occupied_h) + 1

    mdl = pyo.ConcreteModel(name=spec.name)
    mdl.y = pyo.Var(idx.slots, domain=pyo.Binary)
    mdl.z = pyo.Var(pmkt, domain=pyo.Binary)
    mdl.b = pyo.Var(pmkt, domain=pyo.NonNegativeIntegers, bounds=lambda _, p, m, k, t: (0, max_batches(p, m)))
    mdl.s = pyo.Var(pmkt, bounds=(0, 1))
    mdl.r = pyo.Var(mkt, bounds=lambda _, m, k, t: (0, 0 if t == N else None))
    mdl.B = pyo.Var([p.name for p in spec.products], domain=pyo.NonNegativeIntegers)

    c = mdl.constraints = pyo.ConstraintList()

    def add(expr):
        """Add a constraint; one left with no variables (an empty sum) is skipped when it holds."""
        if isinstance(expr, bool):
            if not expr:
                raise ParameterError([("module_types", "the modules allowed cannot meet a fixed requirement")])
            return
        c.add(expr)

    for m in spec.module_types:
        ks = range(m.max_modules)
        for k in ks[1:]:
            add(mdl.y[m.name, k] <= mdl.y[m.name, k - 1])  # install slots in order
        if m.min_modules:
            add(sum(mdl.y[m.name, k] for k in ks) >= m.min_modules)
    for m, k in idx.slots:
        ps = products_on[m, k]
        for t in idx.weeks:
            if not ps:
                add(mdl.r[m, k, t] == 0)
                continue
            add(sum(mdl.z[p, m, k, t] for p in ps) <= mdl.y[m, k])
            carry_in = mdl.r[m, k, t - 1] if t > 1 else 0
            work = sum(
                step_of[p, m].occupied_h * mdl.b[p, m, k, t] + step_of[p, m].changeover_h * mdl.s[p, m, k, t]
                for p in ps
            )
            add(work + carry_in - mdl.r[m, k, t] <= H * mdl.y[m, k])
            add(mdl.r[m, k, t] <= sum(step_of[p, m].occupied_h * mdl.z[p, m, k, t] for p in ps))
    for p, m, k, t in pmkt:
        add(mdl.b[p, m, k, t] <= max_batches(p, m) * mdl.z[p, m, k, t])
        add(mdl.s[p, m, k, t] >= mdl.z[p, m, k, t] - (mdl.z[p, m, k, t - 1] if t > 1 else 0))

    # cumulative batches of each step up to week t (sparse: one row per step and week)
    mdl.cum = pyo.Var(idx.steps, idx.weeks, bounds=(0, None))
    for p, m in idx.steps:
        for t in idx.weeks:
            add(
                mdl.cum[p, m, t]
                == (mdl.cum[p, m, t - 1] if t > 1 else 0)
                + sum(mdl.b[p, m, k, t] for k in range(spec.module(m).max_modules))
            )
        add(mdl.cum[p, m, N] == mdl.B[p])
    for p, m in idx.steps:  # valid cut: a product that is made sets up at least one module per step
        if spec.product(p).batches_needed and not elastic:
            add(sum(mdl.s[p, m, k, t] for k in range(spec.module(m).max_modules) for t in idx.weeks) >= 1)
    least = least_modules(spec)
    for m in spec.module_types:  # valid cut: all work on a type fits in its modules' hours over the horizon
        if least[m.name] > m.min_modules and not elastic:
            add(sum(mdl.y[m.name, k] for k in range(m.max_modules)) >= least[m.name])
    for m in spec.module_types:  # symmetry: identical modules are ordered by their hours of work
        for k in range(1, m.max_modules):
            ps = products_on[m.name, k]
            add(
                sum(step_of[p, m.name].occupied_h * mdl.b[p, m.name, k, t] for p in ps for t in idx.weeks)
                <= sum(step_of[p, m.name].occupied_h * mdl.b[p, m.name, k - 1, t] for p in ps for t in idx.weeks)
            )
    for product in spec.products:
        p = product.name
        for prev, nxt in zip(product.steps, product.steps[1:]):
            lag = idx.lags[p, prev.module]
            for t in idx.weeks:
                add(mdl.cum[p, nxt.module, t] <= (mdl.cum[p, prev.module, t - lag] if t > lag else 0))

    years = spec.years
    mdl.capex = pyo.Expression(expr=years * sum(spec.module(m).capex_per_module * mdl.y[m, k] for m, k in idx.slots))
    mdl.fixed_opex = pyo.Expression(
        expr=years * sum(spec.module(m).fixed_opex_per_module * mdl.y[m, k] for m, k in idx.slots)
    )
    mdl.batch_cost = pyo.Expression(expr=sum(spec.module(m).cost_per_batch * mdl.b[p, m, k, t] for p, m, k, t in pmkt))
    mdl.changeover_cost = pyo.Expression(
        expr=sum(step_of[p, m].changeover_cost * mdl.s[p, m, k, t] for p, m, k, t in pmkt)
    )
    total = mdl.capex + mdl.fixed_opex + mdl.batch_cost + mdl.changeover_cost
    if elastic:
        mdl.shortfall = pyo.Var([p.name for p in spec.products], bounds=(0, None))
        for product in spec.products:
            add(mdl.B[product.name] + mdl.shortfall[product.name] >= product.batches_needed)
        # fraction of demand missed, summed over products; cost only breaks ties
        scale = TIE_BREAK_WEIGHT / max(1.0, _cost_scale(spec))
        mdl.objective = pyo.Objective(
            expr=sum(mdl.shortfall[p.name] / max(1, p.batches_needed) for p in spec.products) + scale * total
        )
    else:
        for product in spec.products:
            add(mdl.B[product.name] >= product.batches_needed)
        mdl.objective = pyo.Objective(expr=total)
    return mdl, idx


def _cost_scale(spec: PlanSpec) -> float:
    per_module = sum(
        (m.capex_per_module + m.fixed_opex_per_module) * spec.years * m.max_modules for m in spec.module_types
    )
    per_batch = sum(
        spec.module(s.module).cost_per_batch + s.changeover_cost for p in spec.products for s in p.steps
    ) * max(p.batches_needed for p in spec.products)
    return per_module + per_batch


def _fixed_batch_cost(spec: PlanSpec) -> float:
    return sum(p.batches_needed * spec.module(s.module).cost_per_batch for p in spec.products for s in p.steps)


@dataclass
class SolveInfo:
    termination: str
    has_solution: bool
    objective: float | None
    bound: float | None
    gap: float | None
    solve_s: float
    nodes: int | None


def apply_start(mdl: pyo.ConcreteModel, idx: Indices, start: Start):
    """Load a heuristic plan into the model's variables (the warm start HiGHS checks and uses)."""
    for v in mdl.component_data_objects(pyo.Var):
        v.set_value(0, skip_validation=True)
    for m, k in idx.slots:
        mdl.y[m, k].set_value(int(k < start.modules[m]))
    for (m, k, t), p in start.setup.items():
        mdl.z[p, m, k, t].set_value(1)
        mdl.s[p, m, k, t].set_value(int(t == 1 or start.setup.get((m, k, t - 1)) != p))
        mdl.r[m, k, t].set_value(start.carry.get((m, k, t), 0.0))
    for (p, m, k, t), n in start.batches.items():
        mdl.b[p, m, k, t].set_value(n)
    for p, m in idx.steps:
        total = 0
        for t in idx.weeks:
            total += sum(start.batches.get((p, m, k, t), 0) for k in range(idx.spec.module(m).max_modules))
            mdl.cum[p, m, t].set_value(total)
        mdl.B[p].set_value(total)


def solve(mdl: pyo.ConcreteModel, spec: PlanSpec, warm_start: bool = False) -> SolveInfo:
    """Solve with HiGHS through Pyomo's APPSI interface; load the solution when there is one."""
    from pyomo.contrib.appsi.base import TerminationCondition as TC
    from pyomo.contrib.appsi.solvers import Highs

    opt = Highs()
    opt.config.load_solution = False
    opt.config.time_limit = spec.solver.time_limit_s
    opt.config.mip_gap = spec.solver.mip_rel_gap
    opt.config.stream_solver = False
    opt.config.warmstart = warm_start
    t0 = time.perf_counter()
    res = opt.solve(mdl)
    elapsed = time.perf_counter() - t0
    tc = res.termination_condition
    has_solution = tc == TC.optimal or (
        tc in (TC.maxTimeLimit, TC.maxIterations, TC.objectiveLimit) and res.best_feasible_objective is not None
    )
    if has_solution:
        res.solution_loader.load_vars()
    info = opt._solver_model.getInfo()
    gap = getattr(info, "mip_gap", None) if has_solution else None
    nodes = getattr(info, "mip_node_count", None)
    return SolveInfo(
        termination=tc.name,
        has_solution=has_solution,
        objective=res.best_feasible_objective if has_solution else None,
        bound=res.best_objective_bound,
        gap=None if gap is None or gap >= 1e30 else float(gap),
        solve_s=elapsed,
        nodes=None if nodes is None or nodes < 0 else int(nodes),
    )


def model_size(mdl: pyo.ConcreteModel) -> dict[str, int]:
    variables = list(mdl.component_data_objects(pyo.Var, active=True))
    integer = sum(1 for v in variables if v.is_integer() or v.is_binary())
    constraints = sum(1 for _ in mdl.component_data_objects(pyo.Constraint, active=True))
    return {"variables": len(variables), "integer_variables": integer, "constraints": constraints}


@limited
def plan(spec: PlanSpec, warm_start: bool = True) -> PlanResult:
    """Choose module counts and a weekly campaign schedule for ``spec`` at least total cost.

    Returns a PlanResult with status "optimal", "time_limit" (a feasible plan with a gap),
    "infeasible" (with ``infeasibility`` naming the binding module type) or "failed".
    ``warm_start=False`` leaves out the campaign heuristic (for the benchmark). Products given
    ``from_line`` are resolved first (their lines are simulated once each; ``result.spec`` holds the
    resolved spec); a problem with a line raises SpecError naming the field.
    """
    if any(p.from_line is not None for p in spec.products):
        spec = resolve_line_products(spec, spec.name)
    t0 = time.perf_counter()
    mdl, idx = build_model(spec)
    start = campaign_start(spec, idx.lags) if warm_start else None
    if start is not None:
        apply_start(mdl, idx, start)
    build_s = time.perf_counter() - t0
    info = solve(mdl, spec, warm_start=start is not None)
    stats = {
        "build_s": build_s,
        "heuristic_cost": None if start is None else start.cost + _fixed_batch_cost(spec),
        "solve_s": info.solve_s,
        "termination": info.termination,
        "mip_gap": info.gap,
        "best_bound": info.bound,
        "nodes": info.nodes,
        "solver": "HiGHS (appsi_highs)",
        **model_size(mdl),
    }
    if info.has_solution:
        status = "optimal" if info.termination == "optimal" else "time_limit"
        return build_result(mdl, idx, status, stats)
    if info.termination in ("infeasible", "infeasibleOrUnbounded"):
        elastic, eidx = build_model(spec, elastic=True)
        einfo = solve(elastic, spec)
        stats["elastic_solve_s"] = einfo.solve_s
        delivered = None
        if einfo.has_solution:
            delivered = {p.name: round(pyo.value(elastic.B[p.name])) for p in spec.products}
        report = analyse_infeasibility(spec, idx, delivered)
        return PlanResult(
            status="infeasible", spec=spec, solver=stats, infeasibility=report, message="; ".join(report["messages"])
        )
    return PlanResult(
        status="failed",
        spec=spec,
        solver=stats,
        message=f"HiGHS stopped with {info.termination} and no feasible plan "
        f"(time limit {spec.solver.time_limit_s:g} s)",
    )
