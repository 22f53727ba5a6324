"""A long fuzz run over the shipped example specs: the generators of tests/spec_fuzzing.py, many more cases.

Each case mutates one shipped scale-up, plan or calibration spec or line definition with hostile values and runs the library
entry point the CLI calls (in-process). It prints one JSON summary per area: cases tried, ok, named errors,
solver failures (infeasible plans and the wall-clock limit included), unhandled, the wall time and the first
unhandled cases in full. Exit status 1 when any case is unhandled.

Areas
  simulation   load_spec + catalogue.run_spec (the process model simulated) + the JSON document
  scaleup      load_scaleup_spec + translate (aeration NLP included) + the JSON document
  plan         load_plan_spec + plan (HiGHS MILP; products from_line simulate their line) + the JSON document;
               --parse-only stops after load_plan_spec for the two large plans
  calibration  load_calibration_spec + resolve_model + the save target (the spec checks, no estimation);
               --prepare also imports the batch records and sets up the estimation problem
  line         load_line + run_line (a shipped line definition, adjuvant_only) + the JSON document

Usage:  python bench/fuzz_specs.py [--cases 10000] [--area scaleup --area plan ...] [--seed 0] [--prepare]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from spec_fuzzing import AREAS, SHIPPED, mutated, run_case, shipped_document  # noqa: E402


def fuzz_area(area: str, cases: int, rng_seed: int, full: bool, progress_every: int = 500) -> dict:
    """Run ``cases`` mutated specs of ``area``; the summary as a dict."""
    counts: Counter = Counter()
    unhandled: list[dict] = []
    documents = [shipped_document(area, i) for i in range(len(SHIPPED[area]))]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{area}-") as tmp:
        os.environ["BIOPROCESS_TWIN_MODELS"] = str(Path(tmp) / "models")  # a save never reaches the user's folder

        @seed(rng_seed)
        @settings(
            max_examples=cases,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(st.data())
        def one_case(data):
            index = data.draw(st.integers(0, len(documents) - 1))
            doc = data.draw(mutated(documents[index]))
            result = run_case(Path(tmp), area, index, doc, full=full)
            counts[result.kind] += 1
            if result.kind == "unhandled":
                print(f"  UNHANDLED {SHIPPED[area][index][-1]}: {result.detail[-1500:]}", file=sys.stderr, flush=True)
            if result.kind == "unhandled" and len(unhandled) < 20:
                unhandled.append(
                    {"spec": SHIPPED[area][index][-1], "document": repr(doc)[:2000], "error": result.detail}
                )
            done = sum(counts.values())
            if progress_every and done % progress_every == 0:
                print(f"  {area}: {done} cases, {dict(counts)}, {time.perf_counter() - started:.0f} s", file=sys.stderr)

        one_case()
    return {
        "area": area,
        "tried": sum(counts.values()),
        "ok": counts["ok"],
        "named_errors": counts["named"],
        "solver_failures": counts["solver"],
        "unhandled": counts["unhandled"],
        "wall_s": round(time.perf_counter() - started, 1),
        "stage": _stage(area, full),
        "first_unhandled": unhandled,
    }


def _stage(area: str, full: bool) -> str:
    if area == "simulation":
        return "load_spec + catalogue.run_spec + JSON"
    if area == "scaleup":
        return "load_scaleup_spec + translate + JSON"
    if area == "plan":
        return "load_plan_spec + plan + JSON" if full else "load_plan_spec; plan only for two_step_small"
    if area == "line":
        return "load_line + run_line + JSON"
    return "load_calibration_spec + prepare_calibration" if full else "load_calibration_spec + model + save target"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per area (default 10000)")
    parser.add_argument("--area", action="append", choices=AREAS, help="area to fuzz (repeat; default all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generators")
    parser.add_argument("--parse-only", action="store_true", help="plan: solve only the small plan")
    parser.add_argument("--prepare", action="store_true", help="calibration: import records and set up the fit")
    args = parser.parse_args(argv)
    summaries = []
    for area in args.area or AREAS:
        full = args.prepare if area == "calibration" else not args.parse_only
        summary = fuzz_area(area, args.cases, args.seed, full)
        summaries.append(summary)
        print(json.dumps(summary, indent=2), flush=True)
    return 1 if any(s["unhandled"] for s in summaries) else 0


if __name__ == "__main__":
    sys.exit(main())
