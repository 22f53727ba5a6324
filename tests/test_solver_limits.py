"""Solver settings are an allow-list, tolerances are finite and positive, every run has a wall-clock limit
and output grids a size limit; exceeding a limit is a named error."""

import json
import os
import subprocess
import sys
import time

import pytest

from bioprocess_twin import catalogue
from bioprocess_twin.core import limits
from bioprocess_twin.core.limits import WallClockLimit, check_deadline, wall_clock_limit
from bioprocess_twin.core.simulation import SolverOptions
from bioprocess_twin.core.spec import SpecError, parse_spec

CLI = [sys.executable, "-m", "bioprocess_twin.cli"]


@pytest.mark.parametrize(
    "solver",
    [
        {"casadi_options": {"jit": True, "compiler": "shell", "jit_options": {"compiler": "sh -c 'touch x'; gcc"}}},
        {"jit": True},
        {"compiler": "shell"},
        {"atol": float("inf")},
        {"atol": float("nan")},
        {"atol": 0},
        {"atol": 1e-300},
        {"rtol": 1e-20},
        {"rtol": 1.0},
        {"max_num_steps": 10**12},
    ],
)
def test_a_spec_cannot_give_compiler_options_or_absurd_tolerances(solver):
    with pytest.raises(SpecError) as info:
        parse_spec({"model": "emulsion_homogenizer", "solver": solver})
    assert all(field.startswith("solver.") for field, _ in info.value.errors)


def test_the_shell_compiler_option_of_the_report_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    spec = tmp_path / "jit.yaml"
    spec.write_text(
        json.dumps(
            {
                "model": "microbial_fed_batch",
                "solver": {
                    "casadi_options": {
                        "jit": True,
                        "compiler": "shell",
                        "jit_options": {"compiler": f"sh -c 'touch {marker}'; gcc"},
                    }
                },
            }
        )
    )
    out = subprocess.run([*CLI, "simulate", str(spec), "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr
    assert json.loads(out.stdout)["errors"][0]["field"] == "solver.casadi_options"
    assert not marker.exists()


def test_python_code_may_still_pass_its_own_casadi_options():
    options = SolverOptions(rtol=1e-7).trusted({"max_order": 3})
    assert options.casadi_options == {"max_order": 3} and options.rtol == 1e-7
    assert SolverOptions().casadi_options == {}
    run = catalogue.get("microbial_fed_batch").run(options=options)
    assert run.ok


def test_output_grids_have_a_size_limit(monkeypatch):
    with pytest.raises(SpecError, match="times.points: 100000 output points exceed the limit of 20000"):
        parse_spec({"model": "m", "times": {"stop": 1, "points": 100_000}})
    monkeypatch.setenv("BIOPROCESS_TWIN_MAX_OUTPUT_POINTS", "50")
    with pytest.raises(SpecError, match="times: 60 output points exceed the limit of 50"):
        parse_spec({"model": "m", "times": list(range(60))})
    assert parse_spec({"model": "m", "times": {"stop": 1, "points": 50}}).time_values().size == 50


def test_the_limits_can_be_configured_and_bad_values_are_named():
    try:
        limits.configure(max_seconds=5, max_output_points=10)
        assert limits.current().max_seconds == 5.0 and limits.current().max_output_points == 10
        with pytest.raises(ValueError, match="max_seconds: must be a positive number"):
            limits.configure(max_seconds=-1)
        with pytest.raises(ValueError, match="max_lunch: unknown limit"):
            limits.configure(max_lunch=1)
    finally:
        limits.reset()
    assert limits.current().max_seconds == 900.0


def test_the_wall_clock_limit_stops_a_running_integration():
    process = catalogue.get("emulsion_homogenizer")
    slow = SolverOptions(rtol=1e-14, atol=1e-30, max_num_steps=10_000_000, rhs="symbolic")
    start = time.monotonic()
    with pytest.raises(WallClockLimit, match="wall-clock limit of 1 s"):
        with wall_clock_limit(1.0):
            process.run(parameters={"n_passes": 10}, options=slow)
    assert time.monotonic() - start < 120  # stopped, not run to the end (no timing claim beyond that)
    check_deadline()  # the limit is gone after its block


def test_the_cli_stops_at_max_seconds_with_exit_3(tmp_path):
    spec = tmp_path / "slow.yaml"
    spec.write_text(
        "model: emulsion_homogenizer\nparameters: {n_passes: 10}\n"
        "solver: {atol: 1.0e-30, rtol: 1.0e-14, max_num_steps: 10000000, rhs: symbolic}\n"
    )
    env = os.environ | {"BIOPROCESS_TWIN_MAX_SECONDS": "600"}
    out = subprocess.run(
        [*CLI, "--max-seconds", "2", "simulate", str(spec), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 3, out.stderr
    doc = json.loads(out.stdout)
    assert doc["status"] == "failed" and "wall-clock limit of 2 s" in doc["message"]


def test_every_run_entry_point_has_the_limit():
    """The dashboard and Python callers get the limit too: the entry points carry it, not only the CLI."""
    from bioprocess_twin.line.definition import load_line
    from bioprocess_twin.line.flowsheet import run_line

    line = load_line("adjuvant_only")
    try:
        limits.configure(max_seconds=0.01)
        with pytest.raises(WallClockLimit):
            run_line(line)
        with pytest.raises(WallClockLimit):
            catalogue.run_spec(parse_spec({"model": "emulsion_homogenizer", "parameters": {"n_passes": 10}}))
    finally:
        limits.reset()
    assert run_line(line).ok
