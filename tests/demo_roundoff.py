"""Measure how much each demo result moves when one input changes in its last bit (tests/data/demo_roundoff.json).

Usage: ``PYTHONPATH=OLD python tests/demo_roundoff.py OLD``, with OLD a checkout of the code before the
foundation refactoring (20540fb), where tests/data/demo_kpis.json was recorded.

Adaptive step sizes, a DO controller's clip and a harvest trigger flip on round-off, so a demo result can
move by far more than round-off when the arithmetic is reordered. For each demo, a few inputs are moved by
one unit in the last place (``numpy.nextafter``), one at a time, and the largest relative change of each
recorded value over those runs is its round-off sensitivity. tests/test_demo_kpis.py allows each value
ten times its sensitivity (and 1e-9 at least).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from demo_kpis import flatten

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "demo_roundoff.json"
RECORDED = json.loads((HERE / "data" / "demo_kpis.json").read_text())
LINE_CASES = [
    ("units", "capture", "bed_height", 20, "cm"),
    ("units", "homogenizer", "pressure", 1000, "bar"),
    ("units", "fill", "overfill", 0.1, "mL"),
    ("feeds", "medium", "volume", 8, "L"),
    ("feeds", "feed_medium", "volume", 4, "L"),
]


def last_bit_up(x: float) -> float:
    return float(np.nextafter(float(x), np.inf))


def main(old: Path, scratch: Path):
    env = dict(os.environ, PYTHONPATH=str(old))

    def cli(*args: str) -> dict[str, float]:
        proc = subprocess.run(
            [sys.executable, "-m", "bioprocess_twin.cli", *args],
            capture_output=True,
            text=True,
            cwd=old,
            env=env,
            timeout=900,
        )
        doc = json.loads(proc.stdout)
        return flatten({"status": doc.get("status"), "kpis": doc.get("kpis")} if args[0] == "simulate" else doc)

    def sensitivity(base: dict[str, float], runs: list[dict[str, float]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for run in runs:
            for key, value in run.items():
                if key in base:
                    change = abs(value - base[key]) / max(abs(base[key]), 1e-300)
                    out[key] = max(out.get(key, 0.0), change)
        return out

    from bioprocess_twin.core import registry  # the old code's model registry

    result = {}
    for spec_path in sorted((old / "data" / "specs").glob("*.yaml")):
        if spec_path.stem.startswith("scaleup"):
            continue
        spec = yaml.safe_load(spec_path.read_text())
        model = registry.get(spec["model"]).model
        given = spec.get("parameters") or {}
        names = [p.name for p in model.parameters if p.default != 0 and not p.integer][:3]
        names = [n for n in names if not isinstance(given.get(n), str)]  # a value with units: left as given
        runs = []
        for name in names:
            changed = copy.deepcopy(spec)
            changed["parameters"] = dict(given)
            changed["parameters"][name] = last_bit_up(given.get(name, model.parameters[name].default))
            path = scratch / f"{spec_path.stem}_{name}.yaml"
            path.write_text(yaml.safe_dump(changed))
            runs.append(cli("simulate", str(path), "--json"))
        result[f"simulate:{spec_path.stem}"] = (names, sensitivity(cli("simulate", str(spec_path), "--json"), runs))

    line = yaml.safe_load((old / "models" / "lines" / "adjuvanted_vaccine" / "1.0.0.yaml").read_text())
    runs, files, names = [], [], []
    for group, name, key, value, units in LINE_CASES:
        changed = copy.deepcopy(line)
        target = changed[group][name] if group == "feeds" else changed[group][name]["parameters"]
        target[key] = f"{last_bit_up(value)!r} {units}"
        path = scratch / f"line_{name}_{key}.yaml"
        path.write_text(yaml.safe_dump(changed, sort_keys=False))
        files.append(path)
        names.append(f"{name}.{key}")
        runs.append(cli("line", "run", str(path), "--json", "--no-series"))
    base = cli("line", "run", "adjuvanted_vaccine", "--json", "--no-series")
    result["line:adjuvanted_vaccine"] = (names, sensitivity(base, runs))

    plan_path = old / "data" / "plans" / "line_products.yaml"
    plan = yaml.safe_load(plan_path.read_text())
    runs = []
    for path in files[3:]:  # the bioreactor's charges: they set the batch durations
        changed = copy.deepcopy(plan)
        for product in changed["products"]:
            if product.get("from_line", {}).get("line", "").startswith("adjuvanted_vaccine"):
                product["from_line"]["line"] = str(path)
        changed_path = scratch / f"plan_{path.stem}.yaml"
        changed_path.write_text(yaml.safe_dump(changed, sort_keys=False))
        runs.append(cli("line", "plan", str(changed_path), "--json"))
    result["plan:line_products"] = (
        ["line " + n for n in names[3:]],
        sensitivity(cli("line", "plan", str(plan_path), "--json"), runs),
    )
    doc = {}
    for demo, (perturbed, sens) in result.items():
        recorded = RECORDED[demo]
        keep = {
            k: float(f"{x:.3g}") for k, x in sens.items() if k in recorded and x > 1e-9 and x * abs(recorded[k]) > 1e-12
        }
        doc[demo] = {"perturbed": perturbed, "sensitivity": dict(sorted(keep.items()))}
    OUT.write_text(json.dumps(doc, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / "demo_roundoff"
    scratch.mkdir(parents=True, exist_ok=True)
    main(Path(sys.argv[1]).resolve(), scratch)
