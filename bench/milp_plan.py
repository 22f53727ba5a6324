"""Time the campaign-planning MILP at a realistic size: the shipped examples/plans/vaccine_campaign.yaml
(10 module types, 3 products, 22 steps, 52 weeks), solved by HiGHS through Pyomo (appsi_highs).

Cases
  1. the demo as shipped: campaign-heuristic warm start, stop at a 0.5 % relative gap;
  2. the same, asked for a proven optimum (gap 0) within --time-limit seconds;
  3. no warm start, gap 0.5 %, within --time-limit seconds (what HiGHS finds alone);
  4. the horizon halved and doubled (26 and 104 weeks, demand scaled) with the shipped settings.
Each case is one solve (MILP times vary little between repetitions; the gap and bound matter more).

Usage:  python bench/milp_plan.py [--time-limit 60] [--markdown docs/planning.md]
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import highspy
import pyomo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from emulsion_vs_scipy import publish  # noqa: E402

from bioprocess_twin.core.resources import example_path  # noqa: E402
from bioprocess_twin.line.plan_spec import load_plan_spec  # noqa: E402
from bioprocess_twin.line.planning import plan  # noqa: E402

START, END = "<!-- bench:milp:start -->", "<!-- bench:milp:end -->"


def scaled(spec, weeks: int):
    data = spec.model_dump()
    data["horizon_weeks"] = weeks
    for p in data["products"]:
        p["demand_doses"] *= weeks / spec.horizon_weeks
    return type(spec).model_validate(data)


def run_case(label: str, spec, warm_start: bool = True) -> dict:
    r = plan(spec, warm_start=warm_start)
    s = r.solver
    row = {
        "case": label,
        "weeks": spec.horizon_weeks,
        "status": r.status,
        "variables": s["variables"],
        "integer": s["integer_variables"],
        "constraints": s["constraints"],
        "build_s": s["build_s"],
        "solve_s": s["solve_s"],
        "gap": s.get("mip_gap"),
        "cost": r.total_cost,
        "bound": s.get("best_bound"),
        "heuristic": s.get("heuristic_cost"),
        "modules": sum(r.modules.values()) if r.modules else None,
    }
    gap = "-" if row["gap"] is None else f"{100 * row['gap']:.2f} %"
    print(
        f"{label:<44} {row['status']:<10} build {row['build_s']:6.2f} s  solve {row['solve_s']:6.2f} s  "
        f"gap {gap}  cost {row['cost']}",
        flush=True,
    )
    return row


def markdown(rows: list[dict], limit: float) -> str:
    def money(x):
        return "–" if x is None else f"{x / 1e6:.3f}"

    lines = [
        f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"Pyomo {pyomo.version.version}, HiGHS {highspy.Highs().version()}"
        f" (one thread). Time limit {limit:g} s per solve. Costs in M EUR. `build` is the Pyomo model plus "
        "the campaign heuristic; `solve` is HiGHS through appsi (presolve, root, branch and bound).",
        "",
        "| case | weeks | status | variables (integer) | constraints | build (s) | solve (s) | gap | "
        "cost | bound | heuristic start | modules |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        gap = "–" if r["gap"] is None else f"{100 * r['gap']:.2f} %"
        lines.append(
            f"| {r['case']} | {r['weeks']} | {r['status']} | {r['variables']:,} ({r['integer']:,}) | "
            f"{r['constraints']:,} | {r['build_s']:.2f} | {r['solve_s']:.1f} | {gap} | {money(r['cost'])} | "
            f"{money(r['bound'])} | {money(r['heuristic'])} | {r['modules'] or '–'} |"
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--markdown", type=Path, default=None, help="rewrite the bench section of this file")
    args = ap.parse_args(argv)
    demo = load_plan_spec(example_path("plans", "vaccine_campaign.yaml"))
    exact = demo.model_copy(
        update={"solver": demo.solver.model_copy(update={"mip_rel_gap": 0.0, "time_limit_s": args.time_limit})}
    )
    alone = demo.model_copy(update={"solver": demo.solver.model_copy(update={"time_limit_s": args.time_limit})})
    rows = [
        run_case("demo (warm start, gap 0.5 %)", demo),
        run_case("demo, gap 0 (proof of optimality)", exact),
        run_case("demo, no warm start (HiGHS alone)", alone, warm_start=False),
        run_case("26-week horizon, demand halved", scaled(demo, 26)),
        run_case("104-week horizon, demand doubled", scaled(demo, 104)),
    ]
    text = markdown(rows, args.time_limit)
    publish(text, args.markdown, START, END)


if __name__ == "__main__":
    main()
