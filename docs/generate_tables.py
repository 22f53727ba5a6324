"""Write the parameter tables of docs/models/*.md from the code.

Every process model (``catalogue.names()``) and production unit (``catalogue.unit_kinds()``) has its
table on one page of docs/models/, between two markers::

    <!-- parameters:process:emulsion_homogenizer -->
    ... generated table ...
    <!-- /parameters -->

(``parameters:unit:KIND`` for a unit). This script rewrites what lies between the markers:

    python docs/generate_tables.py            # rewrite every page
    python docs/generate_tables.py --check    # exit 1 and name what is stale or missing, write nothing

tests/test_model_docs.py fails when a table differs from the code or a model has no table.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DOCS_MODELS = Path(__file__).resolve().parent / "models"
COMMAND = "python docs/generate_tables.py"
HEADER = ("name", "kind", "units", "default", "bounds", "source", "description")
MARKER = re.compile(
    r"<!-- parameters:(?P<key>(?:process|unit):[A-Za-z0-9_.\-]+) -->\n"
    r"(?P<body>.*?)<!-- /parameters -->",
    re.S,
)


# -- rendering -----------------------------------------------------------------------------------
def number(x: Any) -> str:
    """Shortest text that reads back as exactly the same float (``6`` not ``6.0``, ``2e+13``)."""
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.6g}"
    return text if float(text) == x else repr(x)


def bounds(lo: Any, hi: Any) -> str:
    return f"[{number(-math.inf if lo is None else lo)}, {number(math.inf if hi is None else hi)}]"


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|") or "–"


def rows(described: Iterable[dict[str, Any]], kind: str) -> list[tuple[str, ...]]:
    """Table rows for ``Parameter.describe()`` dicts of one kind (parameter, input, operating)."""
    return [
        (
            f"`{p['name']}`",
            kind + (", integer" if p.get("integer") else ""),
            p["units"],
            number(p["default"]),
            bounds(*p["bounds"]),
            _cell(p.get("source", "")),
            _cell(p.get("description", "")),
        )
        for p in described
    ]


def markdown(table_rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows]
    return "\n".join(lines)


def process_rows(process) -> list[tuple[str, ...]]:
    d = process.describe()
    return rows(d["parameters"], "parameter") + rows(d["inputs"], "input") + rows(d["operating"], "operating")


def unit_rows(unit_class) -> list[tuple[str, ...]]:
    return rows(unit_class.parameters.describe(), "parameter")


def block(table_rows: list[tuple[str, ...]], note: str = "") -> str:
    """The text between the markers: a one-line provenance note and the table."""
    head = f"Generated from the code by `{COMMAND}`; edit the code, not this table.{note}"
    return f"{head}\n\n{markdown(table_rows)}\n"


def expected_blocks() -> dict[str, str]:
    """``process:NAME`` / ``unit:KIND`` -> the block the page must hold, for everything in the catalogue."""
    from bioprocess_twin import catalogue

    out = {}
    for name in catalogue.names():
        process = catalogue.get(name)
        m = process.model
        time_unit = m.time_units if m.time_units != "1" else f"one {m.time_label}"
        note = f" Model version {process.version}; time unit: {time_unit}."
        out[f"process:{name}"] = block(process_rows(process), note)
    for kind in catalogue.unit_kinds():
        cls = catalogue.unit_class(kind)
        via = f" Runs the process model `{cls.process.name}`." if cls.process is not None else ""
        out[f"unit:{kind}"] = block(unit_rows(cls), via)
    return out


# -- pages ---------------------------------------------------------------------------------------
def blocks_in(text: str) -> dict[str, str]:
    """The marked blocks of a page: key -> text between the markers."""
    return {m["key"]: m["body"] for m in MARKER.finditer(text)}


def rewrite(text: str, expected: dict[str, str]) -> str:
    """``text`` with every marked block whose key is in ``expected`` replaced by the expected block."""

    def sub(m: re.Match) -> str:
        key = m["key"]
        body = expected.get(key, m["body"])
        return f"<!-- parameters:{key} -->\n{body}<!-- /parameters -->"

    return MARKER.sub(sub, text)


def pages(root: Path = DOCS_MODELS) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in sorted(root.glob("*.md"))}


def problems(expected: dict[str, str], found: dict[Path, str]) -> list[str]:
    """What is wrong with the pages: missing, duplicated, unknown and stale tables."""
    where: dict[str, list[Path]] = {}
    out = []
    for path, text in found.items():
        for key, body in blocks_in(text).items():
            where.setdefault(key, []).append(path)
            if key not in expected:
                out.append(f"{path.name}: table '{key}' names nothing in the catalogue; remove its markers")
            elif body != expected[key]:
                out.append(f"{path.name}: table '{key}' differs from the code; run `{COMMAND}`")
    for key in expected:
        if key not in where:
            kind, name = key.split(":", 1)
            out.append(
                f"no page in docs/models/ has the table of {kind} '{name}': add the lines "
                f"'<!-- parameters:{key} -->' and '<!-- /parameters -->' to its page "
                f"(docs/models/{name}.md for a new one) and run `{COMMAND}`"
            )
        elif len(where[key]) > 1:
            out.append(f"table '{key}' is on several pages: {', '.join(p.name for p in where[key])}")
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    expected = expected_blocks()
    found = pages()
    if not check:
        for path, text in found.items():
            new = rewrite(text, expected)
            if new != text:
                path.write_text(new, encoding="utf-8")
                print(f"rewrote {path}")
        found = pages()
    issues = problems(expected, found)
    for issue in issues:
        print(issue, file=sys.stderr)
    return 1 if issues else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
