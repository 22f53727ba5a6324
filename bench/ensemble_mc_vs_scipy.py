"""Monte Carlo ensembles: the scenario Monte Carlo (batched ensembles) against scipy ``solve_ivp`` in a process pool.

Two cases, each run side by side in one invocation on the same 2 cores:

1. **CHO fed-batch, 10,000 batches.** The shipped CHO demo calibration is run first (its four shared
   parameters, ``examples/batch_records/cho/calibration.yaml`` without the profile) and its covariance is saved
   as ``cho_fed_batch 1.0.0+cal.1`` in a temporary models folder. The scenario samples it
   (``uncertainty: {calibrated: true}``) and reports P(final titre >= 4.15 g/L and DO >= 20 %).
   The baseline runs the same draws through ``solve_ivp(method="BDF")`` over ``cho_rhs_numpy`` (the same
   equations on NumPy floats) in a ``multiprocessing.Pool(2)``, restarting at every recipe event like
   bench/cho_fed_batch_vs_scipy.py.
2. **Emulsion, 2,000 batches** (10 passes, 100 classes, 1000 bar, 20 C inlet with cooling), C1, C5 and Cc
   lognormal; the baseline runs ``rhs_numpy`` pass by pass as bench/emulsion_vs_scipy.py does.

Tolerances are the core's defaults on both sides (rtol 1e-6, atol 1e-8). The baseline takes long (about
0.3-0.6 s per batch per core), so by default it runs the first ``--scipy-samples`` draws, and its time for all
draws is that time scaled by the number of draws: the ratio compares throughputs measured in the same run.
Its KPIs are compared with the ensemble's on the same draws.

Ours runs on the scenario executor's ``processes`` backend by default: each of the 2 worker processes runs its
chunks of cases as ensembles on one thread. ``--backend sequential`` runs one ensemble in this process, its samples
on 2 threads.

Usage:  python bench/ensemble_mc_vs_scipy.py [--cho 10000] [--emulsion 2000] [--scipy-samples 400]
        [--backend processes|sequential] [--markdown docs/benchmarks_scenarios.md]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cho_fed_batch_vs_scipy import scipy_run  # noqa: E402
from emulsion_vs_scipy import N_PASSES, PRESSURE, T_INLET, emulsion_scipy, machine, publish, sizes  # noqa: E402

from bioprocess_twin import catalogue  # noqa: E402
from bioprocess_twin.calibration.parameter_sets import parameter_set_document  # noqa: E402
from bioprocess_twin.calibration.run import calibrate  # noqa: E402
from bioprocess_twin.calibration.spec import load_calibration_spec  # noqa: E402
from bioprocess_twin.core.resources import MODELS_ENV, examples_dir  # noqa: E402
from bioprocess_twin.core.units import from_si, to_si  # noqa: E402
from bioprocess_twin.processes.cho_fed_batch import cho_rhs_numpy  # noqa: E402
from bioprocess_twin.scenarios.cases import Execution, sampled_values  # noqa: E402
from bioprocess_twin.scenarios.run import run_scenario  # noqa: E402
from bioprocess_twin.scenarios.spec import parse_scenario_spec  # noqa: E402
from bioprocess_twin.scenarios.store import CaseStore  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "ensemble_mc_vs_scipy.json"
START, END = "<!-- bench:ensemble:start -->", "<!-- bench:ensemble:end -->"
VERSION = "1.0.0+cal.1"
SEED = 2026
WORKERS = 2
#: the scenario executor's backend: "processes" (one ensemble per worker process) or "sequential" (one ensemble
#: whose samples integrate on WORKERS threads); set by --backend
BACKEND = ["processes"]


# -- the scenarios ------------------------------------------------------------------------------------------------
def cho_scenario(samples: int) -> dict:
    return {
        "name": "cho_demo_monte_carlo",
        "analysis": "monte_carlo",
        "base": {"model": "cho_fed_batch", "version": VERSION},
        "factors": [{"path": "parameters.feed_rate", "levels": [2.5], "units": "mL/h"}],
        "responses": [{"kpi": "final_titre_g_per_L", "min": 4.15}, {"kpi": "min_DO_pct", "min": 20}],
        "uncertainty": {"calibrated": True},
        "samples": samples,
        "seed": SEED,
    }


def emulsion_scenario(samples: int) -> dict:
    return {
        "name": "emulsion_monte_carlo",
        "analysis": "monte_carlo",
        "base": {
            "model": "emulsion_homogenizer",
            "parameters": {"n_passes": N_PASSES, "T_inlet": {"value": T_INLET, "units": "K"}, "cooling": 1},
            "inputs": {"pressure": f"{PRESSURE} bar"},
        },
        "factors": [{"path": "parameters.n_passes", "levels": [N_PASSES], "integer": True}],
        "responses": [{"kpi": "z_average_nm", "min": 140, "max": 180}],
        "uncertainty": {
            "parameters": {
                "C1": {"distribution": "lognormal", "median": 0.2, "gsd": 1.15},
                "C5": {"distribution": "lognormal", "median": 6.0, "gsd": 1.1},
                "Cc": {"distribution": "lognormal", "median": 0.3, "gsd": 1.2},
            }
        },
        "samples": samples,
        "seed": SEED,
    }


def draws(doc: dict) -> list[dict[str, float]]:
    """The parameter draws the scenario makes (the same seed, the same order)."""
    spec, base = parse_scenario_spec(doc)
    values = sampled_values(spec, base, spec.samples, np.random.default_rng(spec.seed))
    return [{k.removeprefix("parameters."): v for k, v in row.items()} for row in values]


def ours(doc: dict, store: Path) -> tuple[float, dict, list]:
    """Wall time, result document and case outcomes (read back from the run's Parquet store) of the scenario."""
    spec, base = parse_scenario_spec(doc)
    start = time.perf_counter()
    result = run_scenario(spec, base, Execution(backend=BACKEND[0], workers=WORKERS, store=store))
    wall = time.perf_counter() - start
    record = json.loads((store / "scenario.json").read_text())["spec"]
    outcomes = CaseStore(store, record).outcomes()
    return wall, result.to_dict(), outcomes


# -- the baselines (module level: the pool pickles them) --------------------------------------------------------------
def _cho_one(parameters: dict[str, float]) -> float:
    process = catalogue.get("cho_fed_batch")
    model = process.model
    given = _CHO_FIXED | parameters
    _, operating = process.split_parameters({})
    recipe = process.default_recipe(operating)
    times = process.default_times(operating, recipe)
    x, names = scipy_run(model, recipe, times, cho_rhs_numpy(model), parameters=given)
    antigen = to_si(x[names.index("antigen")], model.state("antigen").units)
    return float(from_si(antigen / to_si(x[names.index("V")], model.state("V").units), "g/L"))


def _emulsion_one(parameters: dict[str, float]) -> float:
    process = catalogue.get("emulsion_homogenizer")
    si = process.model_parameters_si(parameters)
    y = emulsion_scipy(process.operators, si)
    return float(sizes(y, process.operators, si["oil_fraction"])[0])


_CHO_FIXED: dict[str, float] = {}


def _init_cho(fixed: dict[str, float]) -> None:
    _CHO_FIXED.update(fixed)


def pool_run(fn, rows: list[dict], initializer=None, initargs=()) -> tuple[float, list[float]]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS, initializer=initializer, initargs=initargs) as pool:
        pool.map(fn, rows[:WORKERS])  # import and build in every worker before the clock starts
        start = time.perf_counter()
        out = pool.map(fn, rows, chunksize=max(1, len(rows) // (4 * WORKERS)))
    return time.perf_counter() - start, out


# -- the run ------------------------------------------------------------------------------------------------------
def cho_case(samples: int, baseline: int, models: Path) -> dict:
    spec, folder = load_calibration_spec(examples_dir() / "batch_records" / "cho" / "calibration.yaml")
    spec = spec.model_copy(update={"profiles": []})
    start = time.perf_counter()
    fit = calibrate(spec, folder)
    seconds_fit = time.perf_counter() - start
    document = parameter_set_document(fit, VERSION)
    folder = models / "cho_fed_batch"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{VERSION}.yaml").write_text(yaml.safe_dump(document))
    doc = cho_scenario(samples)
    wall, result, outcomes = ours(doc, models / "cho_cases.parquet")
    rows = draws(doc)
    fixed = {k: float(v) for k, v in document["parameters"].items()}
    base_wall, titres = pool_run(_cho_one, rows[:baseline], _init_cho, (fixed,))
    return {
        "case": f"CHO fed-batch, {samples:,} batches (calibrated covariance, {len(document['covariance']['names'])} parameters)",
        "samples": samples,
        "ours_s": wall,
        "baseline_samples": baseline,
        "baseline_s": base_wall,
        "baseline_all_s": base_wall * samples / baseline,
        "ratio": base_wall * samples / baseline / wall,
        "calibration_s": seconds_fit,
        "probability": result.get("point", {}).get("probability"),
        "failed": result.get("point", {}).get("failed"),
        "check": _compare(outcomes, "final_titre_g_per_L", titres),
    }


def emulsion_case(samples: int, baseline: int, folder: Path) -> dict:
    doc = emulsion_scenario(samples)
    wall, result, outcomes = ours(doc, folder / "emulsion_cases.parquet")
    rows = draws(doc)
    base_wall, z = pool_run(_emulsion_one, rows[:baseline])
    return {
        "case": f"emulsion, {samples:,} batches ({N_PASSES} passes, 100 classes; C1, C5, Cc lognormal)",
        "samples": samples,
        "ours_s": wall,
        "baseline_samples": baseline,
        "baseline_s": base_wall,
        "baseline_all_s": base_wall * samples / baseline,
        "ratio": base_wall * samples / baseline / wall,
        "probability": result.get("point", {}).get("probability"),
        "failed": result.get("point", {}).get("failed"),
        "check": _compare(outcomes, "z_average_nm", z),
    }


def _compare(outcomes: list, kpi: str, baseline: list[float]) -> dict:
    """Largest relative difference between the ensemble's KPI and the baseline's, over the baseline's draws."""
    ours_values = [o.kpis.get(kpi) for o in outcomes[: len(baseline)]]
    diffs = [abs(a - b) / abs(b) for a, b in zip(ours_values, baseline) if a is not None and b]
    return {"kpi": kpi, "compared": len(diffs), "max_rel_diff": max(diffs) if diffs else None}


def markdown(rows: list[dict], header: str) -> str:
    lines = [
        header,
        "",
        "| case | bioprocess-twin | scipy pool (2 processes) | ratio | P(spec) | failed | largest KPI difference |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r["probability"] or {}
        check = r["check"]
        diff = f"{check['max_rel_diff']:.1e} ({check['kpi']}, {check['compared']} draws)" if check["compared"] else "—"
        lines.append(
            f"| {r['case']} | {r['ours_s']:.1f} s | {r['baseline_all_s']:.0f} s "
            f"({r['baseline_samples']:,} draws in {r['baseline_s']:.1f} s) | {r['ratio']:.0f}× | "
            f"{p.get('p', float('nan')):.3f} | {r['failed']} | {diff} |"
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cho", type=int, default=10_000)
    ap.add_argument("--emulsion", type=int, default=2_000)
    ap.add_argument("--scipy-samples", type=int, default=400)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--backend", choices=["processes", "sequential"], default="processes")
    args = ap.parse_args(argv)
    BACKEND[0] = args.backend
    header = machine() + f"; scenario backend: {args.backend}, {WORKERS} workers"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[MODELS_ENV] = tmp
        if args.cho:
            rows.append(cho_case(args.cho, min(args.scipy_samples, args.cho), Path(tmp)))
            print(json.dumps(rows[-1], indent=1))
        if args.emulsion:
            rows.append(emulsion_case(args.emulsion, min(args.scipy_samples, args.emulsion), Path(tmp)))
            print(json.dumps(rows[-1], indent=1))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": header, "rows": rows}, indent=1))
    text = markdown(rows, header)
    publish(text, args.markdown, START, END)


if __name__ == "__main__":
    main()
