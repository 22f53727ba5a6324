"""Sobol indices of the shipped emulsion scenario with N base samples and 4 inputs, on 1 and then 2 Dask workers.

The inputs are pressure (700-1300 bar), passes (2-8, rounded in each case), and the breakage (C1) and
coalescence (Cc) constants of the shipped scenario's uncertainty. That gives N * (4 + 2) runs per worker
count. The script prints the total wall time of each run (the LocalCluster's start included), the speed-up
from 1 to 2 workers, and the indices of z_average_nm. Results go to bench/results/sobol_emulsion_workers.json.

Usage:  python bench/sobol_emulsion_workers.py [--base-samples 1024]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import read_spec_file
from bioprocess_twin.scenarios import Execution, parse_scenario_spec, run_scenario

RESULTS = Path(__file__).with_name("results") / "sobol_emulsion_workers.json"


def scenario(base_samples: int):
    doc = read_spec_file(example_path("scenarios", "emulsion_100L_window.yaml"))
    doc["analysis"] = "sensitivity"
    doc["factors"] = [
        {"path": "inputs.pressure", "range": [700, 1300], "units": "bar"},
        {"path": "parameters.n_passes", "range": [2, 8], "integer": True},
    ]
    doc["uncertainty"] = {"parameters": {k: doc["uncertainty"]["parameters"][k] for k in ("C1", "Cc")}}
    doc["sensitivity"] = {"method": "sobol", "base_samples": base_samples}
    return parse_scenario_spec(doc, "sobol bench", example_path("scenarios"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-samples", type=int, default=1024)
    args = parser.parse_args()
    spec, base = scenario(args.base_samples)
    out: dict = {"base_samples": args.base_samples, "runs": {}}
    for workers in (1, 2):
        started = time.perf_counter()
        result = run_scenario(spec, base, Execution(backend="dask", workers=workers)).to_dict()
        seconds = time.perf_counter() - started
        out["runs"][workers] = {"seconds": seconds, "runs": result["runs"], "failed": len(result["failed"])}
        out["indices"] = result["indices"]
        out["inputs"] = result["inputs"]
        print(f"{workers} worker(s): {result['runs']} runs in {seconds:.1f} s ({len(result['failed'])} failed)")
    out["speedup"] = out["runs"][1]["seconds"] / out["runs"][2]["seconds"]
    print(f"speed-up 1 -> 2 workers: {out['speedup']:.2f}x")
    for kpi, indices in out.get("indices", {}).items():
        print(kpi, {k: [round(v, 3) for v in values] for k, values in indices.items()})
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
