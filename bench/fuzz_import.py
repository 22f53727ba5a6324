"""A long fuzz run of batch-record import: the generators of tests/import_fuzzing.py, many more cases.

Areas
  tagmap  hostile tag maps (types, units, paths, duplicate and differently spelt tags) beside valid data files
  files   hostile batch files (CSV, Parquet, Excel; wide and long; cells, headers, bytes) under valid tag maps

Each case writes its tag map and files into a fresh folder (a file just outside it and a symbolic link to
that file are there too) and calls ``load_batch_records``. The outcomes are counted: ``ok`` (a report that
balances, with only possible values in the batches), ``named`` (SpecError or ParameterError naming fields)
and ``unhandled`` (anything else). It prints one JSON summary per area (tried, ok, named errors, unhandled,
wall time, the first unhandled cases in full) and exits 1 when any case is unhandled.

Usage:  python bench/fuzz_import.py [--cases 10000] [--area tagmap --area files] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from import_fuzzing import AREAS, hostile_file, hostile_tag_map, run_case, write_case  # noqa: E402


def fuzz_area(area: str, cases: int, rng_seed: int, progress_every: int = 500) -> dict:
    """Run ``cases`` generated cases of ``area``; the summary as a dict."""
    counts: Counter = Counter()
    unhandled: list[dict] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"fuzz-import-{area}-") as tmp:

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
            done = sum(counts.values())
            folder = Path(tmp) / f"case{done}" / "records"
            if area == "files":
                doc, name, blob = data.draw(hostile_file())
                path = write_case(folder, doc, {name: blob})
            else:
                doc, files = data.draw(hostile_tag_map())
                path = write_case(folder, doc, files)
            if path is None:
                counts["not_written"] += 1
            else:
                result = run_case(path)
                counts[result.kind] += 1
                if result.kind == "unhandled" and len(unhandled) < 20:
                    unhandled.append({"document": repr(doc)[:2000], "error": result.detail})
            shutil.rmtree(folder.parent, ignore_errors=True)
            done += 1
            if progress_every and done % progress_every == 0:
                print(f"  {area}: {done} cases, {dict(counts)}, {time.perf_counter() - started:.0f} s", file=sys.stderr)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas and openpyxl warn on odd cells; the outcome is what counts
            one_case()
    return {
        "area": area,
        "tried": sum(counts.values()),
        "ok": counts["ok"],
        "named_errors": counts["named"],
        "unhandled": counts["unhandled"],
        "not_written": counts["not_written"],
        "wall_s": round(time.perf_counter() - started, 1),
        "first_unhandled": unhandled,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per area (default 10000)")
    parser.add_argument("--area", action="append", choices=AREAS, help="an area to run (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", type=int, default=500, help="print progress every N cases (0: never)")
    args = parser.parse_args(argv)
    summaries = [fuzz_area(area, args.cases, args.seed, args.progress) for area in args.area or AREAS]
    print(json.dumps(summaries, indent=2))
    return 1 if any(s["unhandled"] for s in summaries) else 0


if __name__ == "__main__":
    sys.exit(main())
