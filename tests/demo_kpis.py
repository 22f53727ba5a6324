"""The numeric results of every shipped demo spec, as flat {"spec/path": value} maps.

``python tests/demo_kpis.py --write`` records them in tests/data/demo_kpis.json;
tests/test_demo_kpis.py reruns every demo and compares to 1e-9 relative, so a refactoring that
changes a result by more than round-off fails. Timing fields are left out.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).with_name("data") / "demo_kpis.json"
SKIP = (
    "time_s",
    "build_s",
    "solve_s",
    "seconds",
    "elapsed",
    "wall",
    "stats",
    "solve_time",
    "cpu",
    "created",
    "runtime",
)


def demos() -> dict[str, list[str]]:
    """Demo name -> CLI arguments (after ``bioprocess-twin``)."""
    from bioprocess_twin.core.resources import example_path

    out = {}
    for path in sorted(example_path("specs").glob("*.yaml")):
        kind = "scaleup" if path.stem.startswith("scaleup") else "simulate"
        out[f"{kind}:{path.stem}"] = [kind, str(path), "--json"]
    for line in ("adjuvant_only", "adjuvanted_vaccine"):
        out[f"line:{line}"] = ["line", "run", line, "--json", "--no-series"]
    for path in sorted(example_path("plans").glob("*.yaml")):
        out[f"plan:{path.stem}"] = ["line", "plan", str(path), "--json"]
    return out


def flatten(doc, prefix="") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            if any(s in str(k) for s in SKIP) or k in ("series", "distribution"):
                continue
            out |= flatten(v, f"{prefix}/{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out |= flatten(v, f"{prefix}/{i}")
    elif isinstance(doc, bool) or doc is None:
        pass
    elif isinstance(doc, (int, float)) and math.isfinite(doc):
        out[prefix] = float(doc)
    return out


def run(args: list[str]) -> dict[str, float]:
    exe = Path(sys.executable).with_name("bioprocess-twin")
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=ROOT, timeout=900)
    if not proc.stdout.strip():
        raise RuntimeError(f"{' '.join(args)} printed nothing: {proc.stderr[-2000:]}")
    doc = json.loads(proc.stdout)
    if args[0] == "simulate":
        doc = {"status": doc.get("status"), "kpis": doc.get("kpis")}
    return flatten(doc)


def main():
    golden = {name: run(args) for name, args in demos().items()}
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True))
    print(f"wrote {GOLDEN}: {sum(map(len, golden.values()))} values from {len(golden)} demos")


if __name__ == "__main__":
    main()
