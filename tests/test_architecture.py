"""docs/architecture.md lists the layers of the import-linter contract in pyproject.toml, in the same order."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
DIAGRAM_MARK = "<!-- layer diagram:"


def contract_layers(pyproject: Path = ROOT / "pyproject.toml") -> list[list[str]]:
    """The layers contract, top to bottom; each layer is a list of module names without the package prefix."""
    contracts = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]["contracts"]
    layered = [c for c in contracts if c["type"] == "layers"]
    assert len(layered) == 1, "expected one layers contract in pyproject.toml"
    return [[m.strip().removeprefix("bioprocess_twin.") for m in layer.split("|")] for layer in layered[0]["layers"]]


def diagram_layers(text: str) -> list[list[str]]:
    """The layers of the diagram: the first fenced block after the diagram comment, one layer per line
    (first column; ``a | b`` is one layer of independent modules), connector lines skipped."""
    start = text.index(DIAGRAM_MARK)
    fence = re.search(r"```[a-z]*\n(.*?)```", text[start:], re.S)
    assert fence, "no fenced block after the layer diagram comment"
    layers = []
    for line in fence.group(1).splitlines():
        if not re.match(r"[A-Za-z_]", line):
            continue  # arrows and blank lines
        first = re.split(r"\s{2,}", line.strip())[0]
        layers.append([m.strip() for m in first.split("|")])
    return layers


def test_diagram_lists_the_contract_layers_in_order():
    doc, contract = diagram_layers(DOC.read_text(encoding="utf-8")), contract_layers()
    assert doc == contract, (
        "docs/architecture.md's layer diagram differs from the import-linter contract in "
        f"pyproject.toml:\n  doc:      {doc}\n  contract: {contract}"
    )


def test_every_layer_is_a_real_package_or_module():
    for layer in contract_layers():
        for name in layer:
            base = ROOT / "bioprocess_twin" / name if name != "dashboards" else ROOT / "dashboards"
            assert base.is_dir() or base.with_suffix(".py").is_file(), f"layer '{name}' is not in the source tree"


def test_a_reordered_or_missing_layer_is_caught():
    text = DOC.read_text(encoding="utf-8")
    assert diagram_layers(text) == contract_layers()
    swapped = (
        text.replace("\nunits ", "\nUNITS_TMP ")
        .replace("\nprocesses ", "\nunits ")
        .replace("\nUNITS_TMP ", "\nprocesses ")
    )
    assert diagram_layers(swapped) != contract_layers()
    dropped = re.sub(r"\ncorrelations .*", "", text)
    assert diagram_layers(dropped) != contract_layers()


def test_nothing_cites_the_design_brief():
    """Sources are the literature (or stated practice), never the project's design brief."""
    skip = {".venv", ".git", ".import_linter_cache", ".pytest_cache", "node_modules", "build", "dist"}
    cite = re.compile(r"DESIGN(\.md)?\s*(§|section|\d|\))")
    hits = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder) / name
            if path.suffix not in {".py", ".md", ".yaml", ".yml", ".toml"} or path == Path(__file__):
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if cite.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "cite the literature instead of the design brief:\n" + "\n".join(hits)
