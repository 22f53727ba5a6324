"""Property tests: hostile mutations of the shipped simulation, scale-up, plan and calibration specs and of a shipped line
definition give only ok, a named error or a solver failure (tests/spec_fuzzing.py has the generators).

The examples are few so that CI stays fast; bench/fuzz_specs.py runs the same generators for thousands of
cases. Calibration stops before the estimation (the spec, its model and the save target; a few cases also
import the records and set up the problem), and only the small plan is solved here.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_fuzzing import SHIPPED, mutated, run_case, shipped_document, write_case
from typer.testing import CliRunner

from bioprocess_twin.cli import app


def fast(max_examples: int) -> settings:
    """Few examples and no deadline: a case writes files and may run a solver."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def fuzz_one(area: str, data, full: bool = False, indices=None):
    index = data.draw(st.sampled_from(indices or range(len(SHIPPED[area]))), label="spec")
    doc = data.draw(mutated(shipped_document(area, index)), label="document")
    with tempfile.TemporaryDirectory() as tmp:
        result = run_case(Path(tmp), area, index, doc, full=full)
    assert result.kind in ("ok", "named", "solver"), result.detail


@fast(60)
@given(st.data())
def test_mutated_simulation_specs(data):
    fuzz_one("simulation", data)


@fast(60)
@given(st.data())
def test_mutated_scaleup_specs(data):
    fuzz_one("scaleup", data)


@fast(40)
@given(st.data())
def test_mutated_plan_specs(data):
    fuzz_one("plan", data)


@fast(50)
@given(st.data())
def test_mutated_calibration_specs(data):
    fuzz_one("calibration", data)


@fast(8)
@given(st.data())
def test_mutated_calibration_specs_up_to_the_estimation(data):
    fuzz_one("calibration", data, full=True, indices=[1])  # the emulsion records import fast


@fast(15)
@given(st.data())
def test_mutated_line_definitions(data):
    fuzz_one("line", data)


COMMANDS = {"scaleup": ["scaleup"], "plan": ["line", "plan"], "calibration": ["calibrate"], "line": ["line", "run"]}


@fast(12)
@given(st.data())
def test_mutated_specs_through_the_command_line(data):
    """The real commands: exit 0, 2, 3 or 4 with one JSON document on stdout, never 1 or a traceback."""
    area = data.draw(st.sampled_from(["scaleup", "plan", "calibration", "line"]), label="area")
    index = 0 if area == "plan" else data.draw(st.sampled_from(range(len(SHIPPED[area]))), label="spec")
    doc = data.draw(mutated(shipped_document(area, index)), label="document")
    with tempfile.TemporaryDirectory() as tmp:
        spec = write_case(Path(tmp), area, index, doc)
        if area == "calibration":
            doc.pop("profiles", None)  # keep a valid spec's fit short: no profiles, a tiny budget
            spec.write_text(json.dumps(doc | {"max_iterations": 1}, allow_nan=True))
        res = CliRunner().invoke(app, [*COMMANDS[area], str(spec), "--json"])
    assert res.exit_code in (0, 2, 3, 4), (res.exit_code, res.stdout[-2000:], res.stderr[-3000:])
    out = json.loads(res.stdout)
    assert "Traceback" not in res.stderr
    if res.exit_code == 2:
        assert out["status"] == "invalid" and all(e["field"] for e in out["errors"])


@pytest.mark.parametrize("area", sorted(SHIPPED))
def test_the_shipped_specs_themselves_run(tmp_path, area):
    for index in range(len(SHIPPED[area])):
        result = run_case(tmp_path, area, index, shipped_document(area, index), full=False)
        assert result.kind == "ok", result.detail
