"""The worked example of CONTRIBUTING.md runs: its model, unit, test file and doc page are taken out of the
page, loaded through the catalogue's public ``register``/``register_unit`` and exercised, so the page
cannot drift from the code."""

from __future__ import annotations

import importlib.util
import inspect
import math
import re
import sys
from pathlib import Path

import pytest
from test_model_docs import code_rows, compare, gen, parse_table

from bioprocess_twin import catalogue
from bioprocess_twin.core.process import Process
from bioprocess_twin.core.streams import Stream, UnitOperation

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "CONTRIBUTING.md"
MODEL = "bioprocess_twin/processes/product_hold_decay.py"
UNIT = "bioprocess_twin/units/hold_tank.py"
TEST = "tests/test_product_hold_decay.py"
DOC = "docs/models/product_hold_decay.md"
MODEL_MODULE = "bioprocess_twin.processes.product_hold_decay"


def examples() -> dict[str, str]:
    """path -> code of every fenced block marked ``<!-- example: path -->`` in CONTRIBUTING.md."""
    text = PAGE.read_text(encoding="utf-8")
    return {m[1]: m[2] for m in re.finditer(r"<!-- example: (\S+) -->\n```[a-z]*\n(.*?)\n```\n", text, re.S)}


def load(path: Path, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def found_by_scan(module, base: type, key: str) -> list[type]:
    """The classes the catalogue's package scan would take from ``module``."""
    return [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if c.__module__ == module.__name__ and issubclass(c, base) and key in vars(c) and not inspect.isabstract(c)
    ]


@pytest.fixture
def example(tmp_path):
    blocks = examples()
    assert {MODEL, UNIT, TEST, DOC} <= set(blocks), f"CONTRIBUTING.md lacks example blocks: {sorted(blocks)}"
    for rel in (MODEL, UNIT, TEST):
        assert not (ROOT / rel).exists(), f"{rel} exists in the repository; the example must stay an example"
        (tmp_path / Path(rel).name).write_text(blocks[rel], encoding="utf-8")
    added: list[tuple[str, str]] = []
    try:
        # the unit imports the model by its package path, as it would once the file is in processes/
        model_module = load(tmp_path / Path(MODEL).name, MODEL_MODULE)
        processes = found_by_scan(model_module, Process, "name")
        assert len(processes) == 1, processes
        unit_module = load(tmp_path / Path(UNIT).name, "contributing_example_hold_tank")
        units = found_by_scan(unit_module, UnitOperation, "kind")
        assert len(units) == 1, units
        process = catalogue.register(processes[0])
        added.append(("process", process.name))
        unit = catalogue.register_unit(units[0])
        added.append(("unit", unit.kind))
        test_module = load(tmp_path / Path(TEST).name, "contributing_example_test")
        yield {"process": process, "unit": unit, "blocks": blocks, "test": test_module}
    finally:
        for what, name in added:
            (catalogue.unregister if what == "process" else catalogue.unregister_unit)(name)
        for name in (MODEL_MODULE, "contributing_example_hold_tank", "contributing_example_test"):
            sys.modules.pop(name, None)


def test_the_example_test_file_passes(example):
    tests = [f for name, f in vars(example["test"]).items() if name.startswith("test_") and callable(f)]
    assert len(tests) >= 2
    for test in tests:
        test()


def test_the_model_is_found_by_name_and_runs_its_default_recipe(example):
    assert "product_hold_decay" in catalogue.names()
    run = catalogue.get("product_hold_decay").run()
    assert run.ok
    k, t = 0.002, 24.0  # the documented defaults
    assert run.kpis["fraction_left"] == pytest.approx(math.exp(-k * t), rel=1e-5)  # solver rtol 1e-6
    assert run.kpi_units == {"final_concentration_g_per_L": "g/L", "fraction_left": ""}


def test_the_unit_runs_its_process_model_and_closes_the_mass_balance(example):
    cls = catalogue.unit_class("hold_tank")
    assert cls.process is example["process"]
    unit = cls("hold", {"hold_time": "2 day", "k": "0.01 1/h"})
    feed = {"inlet": Stream("feed", 0.1, {"water": 100.0, "antigen": 0.05})}
    result = unit.run(feed)
    assert result.ok, result.message
    left = result.outlets["outlet"].mass["antigen"]
    assert left == pytest.approx(0.05 * math.exp(-0.01 * 48), rel=1e-5)
    assert all(abs(v) < 1e-12 for v in result.balance(feed).values()), result.balance(feed)


def test_the_doc_page_gets_its_table_from_the_generator(example):
    page = example["blocks"][DOC]
    key = "process:product_hold_decay"
    assert gen.blocks_in(page) == {key: ""}, "the example page should show the empty markers"
    filled = gen.rewrite(page, gen.expected_blocks())
    body = gen.blocks_in(filled)[key]
    rows = parse_table(body)
    assert [r[0] for r in rows] == ["k", "c0", "hold_time"]
    assert compare(rows, code_rows(key)) == []
