"""What a campaign plan returns: costs, module counts, schedule, batch timeline, utilisation,
bottleneck, and, for infeasible demand, which module type's hours run out and by how much."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo

from ..core.display import format_percent
from .plan_spec import PlanSpec

ON = 0.5  # a binary above this is "on"


@dataclass
class PlanResult:
    status: str  # optimal | time_limit | infeasible | failed
    spec: PlanSpec
    message: str = ""
    total_cost: float | None = None
    cost_breakdown: dict[str, float] = field(default_factory=dict)
    modules: dict[str, int] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)
    doses: dict[str, float] = field(default_factory=dict)
    schedule: list[dict[str, Any]] = field(default_factory=list)  # product x module type x week
    timeline: list[dict[str, Any]] = field(default_factory=list)  # Gantt rows (hours from the start)
    changeovers: int = 0
    utilisation: dict[str, float] = field(default_factory=dict)
    bottleneck: dict[str, Any] | None = None
    solver: dict[str, Any] = field(default_factory=dict)
    infeasibility: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "time_limit")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "name": self.spec.name,
            "currency": self.spec.currency,
            "horizon_weeks": self.spec.horizon_weeks,
            "hours_per_week": self.spec.hours_per_week,
            "total_cost": self.total_cost,
            "cost_breakdown": self.cost_breakdown,
            "modules": self.modules,
            "batches": self.batches,
            "doses": self.doses,
            "changeovers": self.changeovers,
            "utilisation": self.utilisation,
            "bottleneck": self.bottleneck,
            "schedule": self.schedule,
            "timeline": self.timeline,
            "solver": self.solver,
            "infeasibility": self.infeasibility,
        }


def _v(x) -> float:
    return float(pyo.value(x))


def _product_on(mdl, idx, m: str, k: int, t: int) -> str | None:
    for p, mm in idx.steps:
        if mm == m and _v(mdl.z[p, m, k, t]) > ON:
            return p
    return None


def timeline(mdl, idx) -> list[dict[str, Any]]:
    """Batch-level Gantt rows by list scheduling each installed module through its weeks in order.

    Within a week a module first finishes work carried over from the week before, then changes
    over (when its product differs from last week's), then runs its batches back to back, each
    followed by its cleaning. Times are production hours from the start of week 1.
    """
    H = idx.spec.hours_per_week
    rows: list[dict[str, Any]] = []
    for m, k in idx.slots:
        if _v(mdl.y[m, k]) < ON:
            continue
        free, previous = 0.0, None
        for t in idx.weeks:
            p = _product_on(mdl, idx, m, k, t)
            now = max(free, (t - 1) * H)
            if p is not None:
                step = idx.step_of[p, m]
                common = {"module_type": m, "module": k + 1, "product": p, "week": t}
                if p != previous and step.changeover_h > 0:
                    rows.append(common | {"kind": "changeover", "start_h": now, "end_h": now + step.changeover_h})
                    now += step.changeover_h
                for _ in range(round(_v(mdl.b[p, m, k, t]))):
                    rows.append(common | {"kind": "batch", "start_h": now, "end_h": now + step.batch_h})
                    if step.cleaning_h > 0:
                        rows.append(
                            common | {"kind": "cleaning", "start_h": now + step.batch_h, "end_h": now + step.occupied_h}
                        )
                    now += step.occupied_h
            free, previous = now, p
    counters: dict[tuple[str, str], int] = {}
    for row in sorted((r for r in rows if r["kind"] == "batch"), key=lambda r: r["start_h"]):
        key = (row["product"], row["module_type"])
        counters[key] = counters.get(key, 0) + 1
        row["batch"] = counters[key]
    return sorted(rows, key=lambda r: (r["module_type"], r["module"], r["start_h"]))


def build_result(mdl, idx, status: str, stats: dict[str, Any]) -> PlanResult:
    spec: PlanSpec = idx.spec
    H, N = spec.hours_per_week, spec.horizon_weeks
    modules = {m.name: round(sum(_v(mdl.y[m.name, k]) for k in range(m.max_modules))) for m in spec.module_types}
    batches = {p.name: round(_v(mdl.B[p.name])) for p in spec.products}
    schedule = []
    for p, m in idx.steps:
        for t in idx.weeks:
            ks = [k for k in range(spec.module(m).max_modules) if _v(mdl.b[p, m, k, t]) > ON]
            if ks:
                schedule.append(
                    {
                        "product": p,
                        "module_type": m,
                        "week": t,
                        "modules": len(ks),
                        "batches": round(sum(_v(mdl.b[p, m, k, t]) for k in ks)),
                    }
                )
    rows = timeline(mdl, idx)
    busy = {m.name: 0.0 for m in spec.module_types}
    for r in rows:
        busy[r["module_type"]] += r["end_h"] - r["start_h"]
    utilisation = {m: (busy[m] / (modules[m] * N * H) if modules[m] else 0.0) for m in busy}
    breakdown = {
        "capex": _v(mdl.capex),
        "fixed_opex": _v(mdl.fixed_opex),
        "batches": _v(mdl.batch_cost),
        "changeovers": _v(mdl.changeover_cost),
    }
    total = sum(breakdown.values())
    result = PlanResult(
        status=status,
        spec=spec,
        total_cost=total,
        cost_breakdown=breakdown,
        modules=modules,
        batches=batches,
        doses={p.name: batches[p.name] * p.doses_per_batch for p in spec.products},
        schedule=schedule,
        timeline=rows,
        changeovers=_count_changeovers(mdl, idx),
        utilisation=utilisation,
        solver=stats,
    )
    result.bottleneck = bottleneck(spec, modules, utilisation, busy)
    gap = stats.get("mip_gap")
    result.message = (
        f"{status}: total cost {total:,.0f} {spec.currency}"
        + (f", gap {format_percent(gap, '.3g')}" if gap else "")
        + (
            f"; bottleneck {result.bottleneck['module_type']} ({format_percent(result.bottleneck['utilisation'])} busy)"
            if result.bottleneck
            else ""
        )
    )
    return result


def _count_changeovers(mdl, idx) -> int:
    """Set-ups of a module to a product it did not run the week before (the first set-up counts)."""
    count = 0
    for m, k in idx.slots:
        previous = None
        for t in idx.weeks:
            p = _product_on(mdl, idx, m, k, t)
            count += p is not None and p != previous
            previous = p
    return count


def bottleneck(
    spec: PlanSpec, modules: dict[str, int], utilisation: dict[str, float], busy: dict[str, float]
) -> dict[str, Any] | None:
    """The busiest module type, with its spare hours and whether more modules may still be added."""
    used = [m for m in modules if modules[m]]
    if not used:
        return None
    m = max(used, key=lambda name: utilisation[name])
    cap = modules[m] * spec.horizon_weeks * spec.hours_per_week
    at_max = modules[m] >= spec.module(m).max_modules
    return {
        "module_type": m,
        "utilisation": utilisation[m],
        "busy_h": busy[m],
        "available_h": cap,
        "spare_h": cap - busy[m],
        "modules": modules[m],
        "max_modules": spec.module(m).max_modules,
        "at_max_modules": at_max,
        "note": (
            f"{m}: {busy[m]:,.0f} h of {cap:,.0f} h busy on {modules[m]} module(s)"
            + (" - at the maximum number of modules" if at_max else "")
        ),
    }


# -- infeasible demand ------------------------------------------------------------------------
def _windows(spec: PlanSpec, lags: dict) -> dict[tuple[str, str], tuple[int, int]]:
    """First and last week a batch may start on each step, given the lags before and after it."""
    out = {}
    for p in spec.products:
        lag = [lags[p.name, s.module] for s in p.steps]
        for j, s in enumerate(p.steps):
            out[p.name, s.module] = (1 + sum(lag[:j]), spec.horizon_weeks - sum(lag[j:-1]))
    return out


def step_capacity(spec: PlanSpec, lags: dict) -> list[dict[str, Any]]:
    """Per product and step: batches needed against the most one product could run alone at max modules."""
    H, N = spec.hours_per_week, spec.horizon_weeks
    windows = _windows(spec, lags)
    rows = []
    for p in spec.products:
        need = p.batches_needed
        for s in p.steps:
            first, last = windows[p.name, s.module]
            K = spec.module(s.module).max_modules
            weeks = max(0, last - first + 1)
            L = s.occupied_h
            if weeks == 0:
                per_module = 0
            else:  # start by the end of week `last` (one batch may run on), finish by the horizon end
                per_module = max(
                    0, min(int((weeks * H - s.changeover_h) // L) + 1, int(((N - first + 1) * H - s.changeover_h) // L))
                )
            rows.append(
                {
                    "product": p.name,
                    "module_type": s.module,
                    "max_modules": K,
                    "weeks": weeks,
                    "first_week": first,
                    "last_week": last,
                    "batches_needed": need,
                    "max_batches": K * per_module,
                    "hours_needed": need * L + min(K, need) * s.changeover_h,
                    "hours_available": K * weeks * H,
                }
            )
    return rows


def analyse_infeasibility(spec: PlanSpec, idx, delivered: dict[str, int] | None) -> dict[str, Any]:
    """Name, per product short of demand, the module type that limits it, with hours needed vs available.

    A product that cannot meet demand even alone on the maximum modules is limited by its tightest
    step. Otherwise the products compete: the limit is the shared module type whose total hours
    (all products' batches, cleaning and one set-up per module) most exceed what its maximum modules
    offer over the horizon. ``delivered`` (batches per product from the shortfall model) gives the
    most doses that can be made together.
    """
    H, N = spec.hours_per_week, spec.horizon_weeks
    steps = step_capacity(spec, idx.lags)
    shared = {}
    for m in spec.module_types:
        users = [r for r in steps if r["module_type"] == m.name]
        if users:
            shared[m.name] = {
                "module_type": m.name,
                "max_modules": m.max_modules,
                "products": [r["product"] for r in users],
                "hours_needed": sum(r["hours_needed"] for r in users),
                "hours_available": m.max_modules * N * H,
            }
    over = sorted(
        (s for s in shared.values() if s["hours_needed"] > s["hours_available"]),
        key=lambda s: s["hours_needed"] / s["hours_available"],
        reverse=True,
    )
    products, messages = [], []
    for p in spec.products:
        rows = [r for r in steps if r["product"] == p.name]
        alone = min(rows, key=lambda r: (r["max_batches"], -r["hours_needed"] / max(r["hours_available"], 1e-9)))
        possible_alone = alone["max_batches"] * p.doses_per_batch
        jointly = None if delivered is None else min(delivered[p.name], p.batches_needed) * p.doses_per_batch
        short_alone = alone["max_batches"] < p.batches_needed
        if not short_alone and (jointly is None or jointly >= p.demand_doses - 1e-9):
            if delivered is not None or not any(p.name in s["products"] for s in over):
                continue
        if short_alone:
            limit = {
                "module_type": alone["module_type"],
                "max_modules": alone["max_modules"],
                "hours_needed": alone["hours_needed"],
                "hours_available": alone["hours_available"],
                "shared_with": [],
            }
        else:
            mine = [s for s in over if p.name in s["products"]]
            pick = (
                mine[0]
                if mine
                else max(
                    (shared[r["module_type"]] for r in rows), key=lambda s: s["hours_needed"] / s["hours_available"]
                )
            )
            limit = {k: pick[k] for k in ("module_type", "max_modules", "hours_needed", "hours_available")}
            limit["shared_with"] = [q for q in pick["products"] if q != p.name]
        possible = jointly if jointly is not None else possible_alone
        entry = {
            "product": p.name,
            "demand_doses": p.demand_doses,
            "max_doses": possible,
            "max_doses_alone": possible_alone,
            **limit,
        }
        products.append(entry)
        text = (
            f"product {p.name}: demand {p.demand_doses:,.0f} doses, at most {possible:,.0f} doses possible: "
            f"module type {limit['module_type']} (max {limit['max_modules']} modules) limits, "
            f"{limit['hours_needed']:,.0f} h needed vs {limit['hours_available']:,.0f} h available"
        )
        if limit["shared_with"]:
            text += f" (shared with {', '.join(limit['shared_with'])})"
        if limit["hours_needed"] <= limit["hours_available"]:
            text += "; the weeks left by the step lags and changeovers are too few"
        messages.append(text)
    if not messages:
        messages.append(
            "no plan meets all demands; no single module type is out of hours, so the limit "
            "is the combination of step lags, changeovers and weekly campaigns"
        )
    return {"products": products, "module_types": over, "steps": steps, "messages": messages}
