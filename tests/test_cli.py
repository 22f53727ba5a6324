"""The headless CLI: JSON output, exit codes, error messages that name the field, example specs.

Two small real processes are defined here (first-order decay, and the same process writing to
stdout during its run) so the failure and stdout paths do not depend on any unit model.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from bioprocess_twin import catalogue
from bioprocess_twin.cli import app
from bioprocess_twin.core import ModelBuilder, Parameter
from bioprocess_twin.core.parameters import ParameterTable
from bioprocess_twin.core.process import Process
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import simulation_spec_files

ROOT = Path(__file__).resolve().parents[1]
EXE = ROOT / ".venv" / "bin" / "bioprocess-twin"
SPECS = simulation_spec_files(example_path("specs"))
runner = CliRunner()


class CliTestDecay(Process):
    """x' = -k x with x(0) = x0 (an operating parameter scales the initial amount)."""

    name = "cli_test_decay"
    description = "first-order decay used by the CLI tests"
    operating = ParameterTable(
        (Parameter(name="horizon", units="s", default=5.0, bounds=(0.1, 100), description="run length"),)
    )

    def build(self):
        m = ModelBuilder(self.name, version="0.3.1", description=self.description, time_units="s")
        k = m.parameter(
            Parameter(name="k", units="1/s", default=1.0, bounds=(0, 1e9), source="test", description="rate constant")
        )
        x0 = m.parameter(
            Parameter(
                name="x0", units="mol/L", default=2.0, bounds=(0, 10), source="test", description="initial amount"
            )
        )
        feed = m.input(Parameter(name="feed", units="mol/L/s", default=0.0, bounds=(0, 5), description="constant feed"))
        x = m.state("x", "mol/L", initial=x0)
        m.ode(x, feed - k * x)
        m.output("removal_rate", k * x, "mol/L/s")
        return m.build()

    def default_times(self, operating, recipe):
        return np.linspace(0.0, operating["horizon"], 26)

    def kpis(self, result, operating):
        return {"x_final_mol_per_L": float(result.state("x")[-1]), "t_end_s": float(result.t[-1])}


class CliTestNoisy(CliTestDecay):
    """The decay process writing to stdout from Python and from C level, as solver libraries do."""

    name = "cli_test_noisy"

    def kpis(self, result, operating):
        print("python-level chatter on stdout")
        sys.stdout.flush()
        os.write(1, b"C-level chatter on fd 1\n")
        return super().kpis(result, operating)


class CliTestBroken(CliTestDecay):
    """The decay process with a bug in its KPI code: the CLI must exit 1, not 0 or 2."""

    name = "cli_test_broken"

    def kpis(self, result, operating):
        return {"x_final": float(result.state("x")[-1]), "typo": result.parameters["kk"]}


TEST_PROCESSES = (CliTestDecay, CliTestNoisy, CliTestBroken)


def register_test_processes():
    for cls in TEST_PROCESSES:
        catalogue.register(cls)


@pytest.fixture(autouse=True, scope="module")
def registered_test_processes():
    register_test_processes()
    yield
    for cls in TEST_PROCESSES:  # keep other test modules' registry listings clean
        catalogue.unregister(cls.name)


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


# -- success ---------------------------------------------------------------------------------
def test_simulate_json_reports_run_and_follows_the_physics(tmp_path):
    spec = write(
        tmp_path,
        """
        model: cli_test_decay
        parameters: {k: "0.5 1/s", x0: 2.0, horizon: 4}
        solver: {rtol: 1.0e-8, atol: 1.0e-12}
    """,
    )
    res = invoke("simulate", spec, "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["status"] == "ok" and doc["model"] == "cli_test_decay" and doc["model_version"] == "0.3.1"
    assert doc["bioprocess_twin_version"] and doc["spec"]["model"] == "cli_test_decay"
    assert doc["parameters"]["k"] == pytest.approx(0.5)
    assert doc["solver"]["rtol"] == 1e-8 and "stats" in doc["solver"]
    assert doc["kpis"]["t_end_s"] == pytest.approx(4.0)
    assert doc["kpis"]["x_final_mol_per_L"] == pytest.approx(2.0 * math.exp(-0.5 * 4.0), rel=1e-5)
    x = np.array(doc["series"]["columns"]["x"])
    assert doc["series"]["units"]["x"] == "mol/L" and len(doc["series"]["time"]) == len(x) == 26
    assert np.all(np.diff(x) < 0)
    assert np.allclose(doc["series"]["columns"]["removal_rate"], 0.5 * x)


def test_steady_state_with_feed_and_explicit_times(tmp_path):
    spec = write(
        tmp_path,
        """
        model: cli_test_decay
        parameters: {k: 2.0, x0: 0.0}
        inputs: {feed: "60 mol/L/min"}
        times: {start: 0, stop: 10, points: 11}
    """,
    )
    res = invoke("simulate", spec, "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    # feed 1 mol/L/s, k 2/s: x -> feed/k = 0.5 mol/L
    assert doc["kpis"]["x_final_mol_per_L"] == pytest.approx(0.5, rel=1e-4)
    assert doc["series"]["columns"]["feed"][0] == pytest.approx(1.0)


def test_out_writes_the_same_json_atomically(tmp_path):
    spec = write(tmp_path, "model: cli_test_decay\n")
    out = tmp_path / "results" / "run.json"
    res = invoke("simulate", spec, "--json", "--out", out)
    assert res.exit_code == 0, res.stderr
    assert json.loads(out.read_text()) == json.loads(res.stdout)
    assert [p.name for p in out.parent.iterdir()] == ["run.json"]  # no temporary file left behind


def test_human_readable_output_shows_kpis(tmp_path):
    spec = write(tmp_path, "model: cli_test_decay\n")
    out = tmp_path / "run.json"
    res = invoke("simulate", spec, "--out", out)
    assert res.exit_code == 0, res.stderr
    assert "x_final_mol_per_L" in res.stdout and "0.3.1" in res.stdout
    assert "%" in res.stderr  # progress lines go to stderr
    assert json.loads(out.read_text())["status"] == "ok"


# -- invalid specs: exit 2 -------------------------------------------------------------------
BAD_SPECS = {
    "invalid_yaml": ("model: [cli_test_decay\nparameters: {k: 1\n", "file", "YAML"),
    "unknown_model": ("model: emulsion_homogeniser_xyz\n", "model", "emulsion_homogeniser_xyz"),
    "unknown_parameter": ("model: cli_test_decay\nparameters: {kk: 1}\n", "parameters.kk", "unknown name"),
    "out_of_bounds": ("model: cli_test_decay\nparameters: {x0: 50}\n", "parameters.x0", "outside the bounds"),
    "wrong_units": ("model: cli_test_decay\nparameters: {k: 1000 bar}\n", "parameters.k", "cannot be converted"),
    "bad_input_units": ("model: cli_test_decay\ninputs: {feed: 3 m}\n", "inputs.feed", "cannot be converted"),
    "extra_field": ("model: cli_test_decay\nparamters: {k: 1}\n", "paramters", "Extra inputs"),
    "bad_solver_field": ("model: cli_test_decay\nsolver: {rtol: -1}\n", "solver.rtol", "must be at least 1e-14"),
    "not_a_mapping": ("- just\n- a list\n", "(top level)", "mapping"),
    "unknown_state": ("model: cli_test_decay\ninitial: {y: 1}\n", "initial.y", "no state 'y'"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_spec_exits_2_and_names_the_field(tmp_path, case):
    text, field, words = BAD_SPECS[case]
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    res = invoke("simulate", spec, "--json")
    assert res.exit_code == 2, (res.stdout, res.stderr)
    doc = json.loads(res.stdout)
    assert doc["status"] == "invalid" and doc["source"] == str(spec)
    hits = [e for e in doc["errors"] if e["field"] == field]
    assert hits and words in hits[0]["message"], doc["errors"]
    assert field in res.stderr and words in res.stderr


def test_missing_file_exits_2(tmp_path):
    missing = tmp_path / "nope.yaml"
    res = invoke("simulate", missing, "--json")
    assert res.exit_code == 2
    assert json.loads(res.stdout) == {
        "status": "invalid",
        "source": str(missing),
        "errors": [{"field": "file", "message": "not found"}],
        "bioprocess_twin_version": json.loads(res.stdout)["bioprocess_twin_version"],
    }
    plain = invoke("simulate", missing)  # without --json: message on stderr, nothing on stdout
    assert plain.exit_code == 2 and plain.stdout == "" and "not found" in plain.stderr


def test_several_errors_are_reported_together(tmp_path):
    spec = write(tmp_path, "model: cli_test_decay\nparameters: {k: -1, x0: 99}\n")
    doc = json.loads(invoke("simulate", spec, "--json").stdout)
    assert {e["field"] for e in doc["errors"]} == {"parameters.k", "parameters.x0"}


# -- solver failure: exit 3 ------------------------------------------------------------------
def test_solver_failure_exits_3_with_the_solver_message(tmp_path):
    spec = write(
        tmp_path,
        """
        model: cli_test_decay
        parameters: {k: 1.0e+7}
        solver: {max_num_steps: 2}
    """,
    )
    out = tmp_path / "failed.json"
    res = invoke("simulate", spec, "--json", "--out", out)
    assert res.exit_code == 3, res.stderr
    doc = json.loads(res.stdout)
    assert doc["status"] == "failed" and "CV_TOO_MUCH_WORK" in doc["message"]
    assert doc["kpis"] == {} and doc["spec"]["solver"]["max_num_steps"] == 2
    assert json.loads(out.read_text())["status"] == "failed"
    assert "solver failed" in res.stderr


def test_internal_error_exits_1(tmp_path):
    spec = write(tmp_path, "model: cli_test_broken\n")
    res = invoke("simulate", spec, "--json")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert doc["status"] == "error" and "KeyError" in doc["errors"][0]["message"]
    assert "Traceback" in res.stderr


# -- stdout purity -----------------------------------------------------------------------------
def run_with_test_processes(args, cwd):
    """Run the CLI in a fresh interpreter with the test processes registered (real file descriptors)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import test_cli; test_cli.register_test_processes(); "
        "from bioprocess_twin.cli import app; sys.argv = ['bioprocess-twin'] + sys.argv[2:]; app()"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_stdout_is_pure_json_when_the_run_writes_to_stdout(tmp_path):
    spec = write(tmp_path, "model: cli_test_noisy\n")
    res = run_with_test_processes(["simulate", spec, "--json"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "ok"
    assert "python-level chatter" in res.stderr and "C-level chatter" in res.stderr


def test_stdout_is_pure_json_when_casadi_warns(tmp_path):
    spec = write(tmp_path, "model: cli_test_decay\nparameters: {k: 1.0e+7}\nsolver: {max_num_steps: 2}\n")
    res = run_with_test_processes(["simulate", spec, "--json"], tmp_path)
    assert res.returncode == 3
    assert json.loads(res.stdout)["status"] == "failed"
    assert "mxstep" in res.stderr  # SUNDIALS' own warning went to stderr


# -- models ------------------------------------------------------------------------------------
def test_models_json_lists_parameters_with_units_and_bounds():
    res = invoke("models", "--json")
    assert res.exit_code == 0, res.stderr
    described = {d["name"]: d for d in json.loads(res.stdout)["models"]}
    assert set(catalogue.names()) == set(described)
    d = described["cli_test_decay"]
    k = {p["name"]: p for p in d["parameters"]}["k"]
    assert k["units"] == "1/s" and k["bounds"] == [0, 1e9] and k["default"] == 1.0 and k["source"] == "test"
    assert d["operating"][0]["name"] == "horizon" and d["inputs"][0]["units"] == "mol/L/s"
    assert [s["name"] for s in d["states"]] == ["x"] and d["outputs"][0]["name"] == "removal_rate"


def test_models_name_and_unknown_name():
    one = invoke("models", "cli_test_decay", "--json")
    assert one.exit_code == 0 and json.loads(one.stdout)["version"] == "0.3.1"
    table = invoke("models", "cli_test_decay")
    assert table.exit_code == 0 and "rate constant" in table.stdout and "mol/L/s" in table.stdout
    listing = invoke("models")
    assert listing.exit_code == 0 and "cli_test_decay" in listing.stdout
    bad = invoke("models", "cli_test_decy", "--json")
    assert bad.exit_code == 2 and "did you mean 'cli_test_decay'" in json.loads(bad.stdout)["errors"][0]["message"]


# -- help ----------------------------------------------------------------------------
# serve runs a real server: tests/test_serve.py starts it in a subprocess with --port, --db and --no-demo


def test_help_documents_exit_codes():
    res = invoke("simulate", "--help")
    assert res.exit_code == 0
    text = " ".join(res.stdout.split())
    assert "Exit codes: 0 ok" in text and "3 solver failure" in text


# -- the installed console script, end to end --------------------------------------------------
@pytest.mark.skipif(not EXE.exists(), reason="console script not installed")
def test_console_script_end_to_end(tmp_path):
    res = subprocess.run([str(EXE), "models", "--json"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    names = {m["name"] for m in json.loads(res.stdout)["models"]}
    assert names >= PARTICLE_MODELS | {"cho_fed_batch", "microbial_fed_batch"}  # the shipped models
    assert "cli_test_decay" not in names  # registered only in this process
    bad = write(tmp_path, "model: no_such_model\n")
    res = subprocess.run([str(EXE), "simulate", str(bad), "--json"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "no_such_model" in json.loads(res.stdout)["errors"][0]["message"]


# -- the shipped example specs (examples/specs) -------------------------------------------------------
PARTICLE_MODELS = {"emulsion_homogenizer", "liposome_microfluidic", "alum_alooh", "alum_alpo4"}


def spec_model(path: Path) -> str:
    return yaml.safe_load(path.read_text())["model"]


def test_every_particle_model_has_an_example_spec():
    assert PARTICLE_MODELS <= {spec_model(p) for p in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_example_specs_run(spec, tmp_path):
    out = tmp_path / "out.json"
    res = invoke("simulate", spec, "--json", "--out", out)
    assert res.exit_code == 0, (res.stdout[-2000:], res.stderr[-2000:])
    doc = json.loads(res.stdout)
    assert doc["status"] == "ok" and doc["model"] == spec_model(spec) and doc["series"]["time"]
    assert doc["kpis"] and all(v is None or math.isfinite(v) for v in doc["kpis"].values())
    if "distribution" in doc:  # particle processes
        dist = doc["distribution"]
        assert len(dist["density"]) == len(dist["labels"]) and len(dist["density"][0]) == len(dist["diameter_nm"])
    else:
        assert spec_model(spec) in ("cho_fed_batch", "microbial_fed_batch")
    assert json.loads(out.read_text()) == doc
    human = invoke("simulate", spec)
    assert human.exit_code == 0 and next(iter(doc["kpis"])) in human.stdout


@pytest.mark.skipif(not EXE.exists(), reason="console script not installed")
def test_console_script_runs_an_example_spec(tmp_path):
    spec = example_path("specs", "liposome_microfluidic.yaml")
    res = subprocess.run(
        [str(EXE), "simulate", str(spec), "--json"], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads(res.stdout)
    assert doc["status"] == "ok" and doc["kpis"]["z_average_nm"] > 0
