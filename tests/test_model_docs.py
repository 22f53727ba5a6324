"""Every process model and production unit has a doc page in docs/models/ whose parameter table matches the code.

The tables are written by docs/generate_tables.py between ``<!-- parameters:process:NAME -->`` (or
``parameters:unit:KIND``) and ``<!-- /parameters -->``. This test reads them back independently of the
generator: names, kinds, units, defaults and bounds are parsed from the markdown and compared with
``catalogue.get(name).describe()`` and ``catalogue.unit_class(kind).parameters``; then the whole block
(sources and descriptions included) must equal what the generator writes.
"""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest

from bioprocess_twin import catalogue

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "models"
HOW = "run `python docs/generate_tables.py`"


def _generator():
    spec = importlib.util.spec_from_file_location("generate_tables", ROOT / "docs" / "generate_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generator()
KEYS = [f"process:{n}" for n in catalogue.names()] + [f"unit:{k}" for k in catalogue.unit_kinds()]
BLOCK = re.compile(r"<!-- parameters:(?P<key>[^ ]+) -->\n(?P<body>.*?)<!-- /parameters -->", re.S)


def page_blocks() -> dict[str, list[tuple[Path, str]]]:
    out: dict[str, list[tuple[Path, str]]] = {}
    for page in sorted(DOCS.glob("*.md")):
        for m in BLOCK.finditer(page.read_text(encoding="utf-8")):
            out.setdefault(m["key"], []).append((page, m["body"]))
    return out


def parse_table(body: str) -> list[tuple[str, str, str, float, float, float]]:
    """(name, kind, units, default, lower, upper) for each row of the markdown table in ``body``."""
    rows = []
    lines = [ln for ln in body.splitlines() if ln.startswith("|")]
    assert lines and [c.strip() for c in lines[0].strip("|").split("|")][:5] == [
        "name",
        "kind",
        "units",
        "default",
        "bounds",
    ], f"not a parameter table: {lines[:1]}"
    for line in lines[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        lo, hi = (float(x) for x in cells[4].strip("[]").split(","))
        rows.append((cells[0].strip("`"), cells[1], cells[2], float(cells[3]), lo, hi))
    return rows


def _described(params, kind):
    return [
        (
            p["name"],
            kind + (", integer" if p["integer"] else ""),
            p["units"],
            float(p["default"]),
            -math.inf if p["bounds"][0] is None else float(p["bounds"][0]),
            math.inf if p["bounds"][1] is None else float(p["bounds"][1]),
        )
        for p in params
    ]


def code_rows(key: str):
    what, name = key.split(":", 1)
    if what == "process":
        d = catalogue.get(name).describe()
        return (
            _described(d["parameters"], "parameter")
            + _described(d["inputs"], "input")
            + _described(d["operating"], "operating")
        )
    return _described(catalogue.unit_class(name).parameters.describe(), "parameter")


def compare(doc_rows, code) -> list[str]:
    """Readable differences between a parsed doc table and the code's parameters."""
    issues = []
    doc_names, code_names = [r[0] for r in doc_rows], [r[0] for r in code]
    if doc_names != code_names:
        missing = [n for n in code_names if n not in doc_names]
        extra = [n for n in doc_names if n not in code_names]
        issues.append(f"names differ (missing {missing}, not in the code {extra}, or another order)")

    def keyed(rows):  # a name may appear twice (cho_fed_batch has an input and an operating feed_rate)
        seen: dict[str, int] = {}
        out = {}
        for r in rows:
            seen[r[0]] = seen.get(r[0], 0) + 1
            out[(r[0], seen[r[0]])] = r
        return out

    doc_by_key = keyed(doc_rows)
    for key, row in keyed(code).items():
        doc = doc_by_key.get(key)
        if doc is None:
            continue
        for label, i in (("kind", 1), ("units", 2), ("default", 3), ("lower bound", 4), ("upper bound", 5)):
            if doc[i] != row[i]:
                issues.append(f"{row[0]}: {label} is {doc[i]!r} on the page, {row[i]!r} in the code")
    return issues


@pytest.mark.parametrize("key", KEYS)
def test_parameter_table_matches_the_code(key):
    found = page_blocks().get(key)
    what, name = key.split(":", 1)
    assert found, (
        f"no page in docs/models/ has the parameter table of {what} '{name}': add the lines "
        f"'<!-- parameters:{key} -->' and '<!-- /parameters -->' to its page (docs/models/{name}.md "
        f"for a new one) and {HOW}"
    )
    assert len(found) == 1, f"the table of {key} is on several pages: {[p.name for p, _ in found]}"
    page, body = found[0]
    issues = compare(parse_table(body), code_rows(key))
    assert not issues, f"{page.name}, table {key} differs from the code ({HOW}):\n" + "\n".join(issues)
    assert body == gen.expected_blocks()[key], f"{page.name}, table {key}: sources or descriptions are stale; {HOW}"


def test_no_table_names_something_the_catalogue_lacks():
    stale = sorted(set(page_blocks()) - set(KEYS))
    assert not stale, f"tables for models that do not exist: {stale}; remove their markers"


def test_the_generator_and_the_check_agree_with_the_pages():
    assert gen.problems(gen.expected_blocks(), gen.pages()) == []


# -- the check itself can fail ---------------------------------------------------------------------------
def test_a_changed_default_bound_or_unit_is_reported():
    key = "unit:fill"
    ((page, body),) = page_blocks()[key]
    rows = parse_table(body)
    assert compare(rows, code_rows(key)) == []
    name = rows[0][0]
    tampered = [(r[0], r[1], r[2] + "x", r[3] * 2, r[4] - 1, r[5]) if r[0] == name else r for r in rows]
    issues = compare(tampered, code_rows(key))
    assert any("default" in i for i in issues) and any("units" in i for i in issues)
    assert any("lower bound" in i for i in issues)
    assert any("names differ" in i for i in compare(rows[1:], code_rows(key)))


def test_a_stale_or_missing_table_is_reported_with_the_command_to_fix_it(tmp_path):
    expected = gen.expected_blocks()
    text = (DOCS / "fill.md").read_text(encoding="utf-8")
    stale = text.replace("| `dose_volume` | parameter | mL | 0.5 |", "| `dose_volume` | parameter | mL | 0.7 |")
    assert stale != text
    page = tmp_path / "fill.md"
    page.write_text(stale)
    issues = gen.problems(expected, {page: stale})
    assert any("fill.md: table 'unit:fill' differs from the code" in i and "generate_tables.py" in i for i in issues)
    assert any(
        "no page in docs/models/ has the table of process 'emulsion_homogenizer'" in i and "generate_tables.py" in i
        for i in issues
    )
    assert gen.rewrite(stale, expected) == text


def test_numbers_read_back_exactly():
    for x in (0.5, 6.0, 2e13, 1e-12, 0.0075, 298.15, 1 / 3, -0.9, 8.5e-20):
        assert float(gen.number(x)) == x
    assert gen.number(6.0) == "6" and gen.bounds(None, 5) == "[-inf, 5]"
