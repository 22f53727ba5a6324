"""A campaign heuristic that gives the MILP a feasible starting plan (a HiGHS warm start).

It follows the MILP's rules week by week: each installed module is set up for one product at a
time and stays on it while that product still has batches to start at this step (a campaign);
then it changes over to the next product, in a fixed product order, that still has batches to
start. Within a week a module finishes work carried over from the week before, changes over, and
starts batches back to back while the start lies inside the week and upstream batches (up to week
t - lag) are available. Module counts start at the hours lower bound and grow at the busiest
type until every batch ends inside the horizon. Every product order is tried (up to 24) and the
cheapest plan is kept. The MILP then improves on it or proves it optimal.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from .plan_spec import PlanSpec


@dataclass
class Start:
    modules: dict[str, int]
    batches: dict[tuple[str, str, int, int], int]  # (p, m, k, t) -> batches started
    setup: dict[tuple[str, int, int], str]  # (m, k, t) -> product set up
    carry: dict[tuple[str, int, int], float]  # (m, k, t) -> hours running on into t+1
    cost: float


def _simulate(spec: PlanSpec, lags: dict, order: list[str], modules: dict[str, int]) -> Start | None:
    H, N = spec.hours_per_week, spec.horizon_weeks
    steps = [(p.name, j, s) for p in (spec.product(n) for n in order) for j, s in enumerate(p.steps)]
    need = {p.name: p.batches_needed for p in spec.products}
    started = {(p, s.module): [0] * (N + 1) for p, _, s in steps}  # cumulative by week, index 0 = before
    free = {(m, k): 0.0 for m in modules for k in range(modules[m])}
    current: dict[tuple[str, int], str | None] = {mk: None for mk in free}
    out = Start(modules=dict(modules), batches={}, setup={}, carry={}, cost=0.0)
    changeover_cost = 0.0
    for t in range(1, N + 1):
        for p, _, s in steps:
            started[p, s.module][t] = started[p, s.module][t - 1]
        for p, j, s in steps:
            m = s.module
            product = spec.product(p)
            cum = started[p, m]
            if j == 0:
                available = need[p] - cum[t]
            else:
                prev = product.steps[j - 1].module
                lag = lags[p, prev]
                available = (started[p, prev][t - lag] if t > lag else 0) - cum[t]
            for k in range(modules[m]):
                if available <= 0:
                    break
                mk = (m, k)
                on = current[mk]
                if on is not None and on != p and started[on, m][t] < need[on]:
                    continue  # still in another product's campaign
                if out.setup.get((m, k, t), p) != p:
                    continue  # already ran another product this week
                now = max(free[mk], (t - 1) * H)
                if on != p:
                    if now + s.changeover_h >= t * H:
                        continue
                    now += s.changeover_h
                    changeover_cost += s.changeover_cost
                    current[mk] = p
                n = 0
                while available > 0 and now < t * H and n < math.floor(H / s.occupied_h) + 1:
                    now += s.occupied_h
                    n += 1
                    available -= 1
                if n:
                    out.batches[p, m, k, t] = n
                    cum[t] += n
                free[mk] = now
                out.setup[m, k, t] = p
        for mk, p in current.items():
            if p is not None:
                out.setup.setdefault((mk[0], mk[1], t), p)
                out.carry[mk[0], mk[1], t] = max(0.0, free[mk] - t * H)
    if any(started[p, s.module][N] < need[p] for p, _, s in steps) or any(f > N * H + 1e-9 for f in free.values()):
        return None
    out.cost = changeover_cost + spec.years * sum(
        n * (spec.module(m).capex_per_module + spec.module(m).fixed_opex_per_module) for m, n in modules.items()
    )
    return out


def least_modules(spec: PlanSpec) -> dict[str, int]:
    """Fewest modules per type whose hours over the horizon hold all batches, cleaning and one set-up
    per step (capped at max_modules; an infeasible demand shows up in the MILP, not here)."""
    hours = {m.name: 0.0 for m in spec.module_types}
    for p in spec.products:
        for s in p.steps:
            hours[s.module] += p.batches_needed * s.occupied_h + (s.changeover_h if p.batches_needed else 0)
    total = spec.horizon_weeks * spec.hours_per_week
    return {
        m.name: min(
            m.max_modules, max(m.min_modules, math.ceil(hours[m.name] / total - 1e-9), 1 if hours[m.name] else 0)
        )
        for m in spec.module_types
    }


def campaign_start(spec: PlanSpec, lags: dict, max_orders: int = 24) -> Start | None:
    """The cheapest heuristic plan over the product orders tried, or None if none fits."""
    best = None
    names = [p.name for p in spec.products]
    for order in itertools.islice(itertools.permutations(names), max_orders):
        modules = least_modules(spec)
        while True:
            start = _simulate(spec, lags, list(order), modules)
            if start is not None:
                break
            busy = _busiest_growable(spec, modules)
            if busy is None:
                break
            modules = modules | {busy: modules[busy] + 1}
        if start is not None and (best is None or start.cost < best.cost):
            best = start
    return best


def _busiest_growable(spec: PlanSpec, modules: dict[str, int]) -> str | None:
    hours = {m: 0.0 for m in modules}
    for p in spec.products:
        for s in p.steps:
            hours[s.module] += p.batches_needed * s.occupied_h
    growable = [m for m in modules if modules[m] < spec.module(m).max_modules and hours[m] > 0]
    return max(growable, key=lambda m: hours[m] / max(modules[m], 1)) if growable else None
