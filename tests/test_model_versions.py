"""Calibrated parameter sets run by name: ``version: 1.0.0+cal.1`` in a spec, the CLI, and run records.

The calibrated sets live in a temporary models root (``BIOPROCESS_TWIN_MODELS``); every run uses the
real solver. A set written by a real (tiny) calibration is run too, so the calibrator's document and
the loader agree.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from decay_process import decay_fixture
from typer.testing import CliRunner

from bioprocess_twin import catalogue
from bioprocess_twin.calibration.parameter_sets import load_parameter_set
from bioprocess_twin.catalogue import run_spec
from bioprocess_twin.cli import app
from bioprocess_twin.core import ParameterError
from bioprocess_twin.core.definitions import calibrated_parameters, definition, model_versions
from bioprocess_twin.core.resources import shipped_models, user_models
from bioprocess_twin.core.spec import SimulationSpec, SpecError, parse_spec
from bioprocess_twin.records import RunStore

MODEL = "emulsion_homogenizer"
CODE = "1.0.0"
CALIBRATED = {"C1": 0.05, "Cc": 0.5}  # code defaults: C1 0.2, Cc 0.3
runner = CliRunner()


def calibrated_set(version: str, parameters: dict, model: str = MODEL, base: str = CODE) -> dict:
    """A document in the form ``bioprocess-twin calibrate`` saves (calibration/parameter_sets.py)."""
    return {
        "kind": "calibrated parameter set",
        "model": model,
        "base_version": base,
        "version": version,
        "parameters": parameters,
        "estimates": {n: {"value": v, "se": None, "ci95": [None, None], "units": "1"} for n, v in parameters.items()},
        "per_batch": {},
        "provenance": {"data": {"files": {"passes.parquet": "0" * 64}}},
    }


def write_set(root, doc, version=None, model=MODEL):
    folder = root / model
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{version or doc['version']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def root(tmp_path, monkeypatch):
    models = tmp_path / "models"
    write_set(models, calibrated_set(f"{CODE}+cal.1", CALIBRATED))
    monkeypatch.setenv("BIOPROCESS_TWIN_MODELS", str(models))
    return models


def run(**spec):
    result = run_spec(SimulationSpec(model=MODEL, **spec))
    assert result.ok, result.result.message
    return result


def same_kpis(a, b, rel=1e-9):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == pytest.approx(b[name], rel=rel, abs=1e-12), name


# -- the loader --------------------------------------------------------------------------------------------------
def test_the_user_models_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("BIOPROCESS_TWIN_MODELS", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert user_models() == tmp_path / "xdg" / "bioprocess-twin" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_models() == tmp_path / "home" / ".local" / "share" / "bioprocess-twin" / "models"
    monkeypatch.setenv("BIOPROCESS_TWIN_MODELS", str(tmp_path))
    assert user_models() == tmp_path


def test_versions_list_the_code_first_then_its_calibrated_sets_in_natural_order(root):
    process = catalogue.get(MODEL)
    for n in (10, 2):
        write_set(root, calibrated_set(f"{CODE}+cal.{n}", CALIBRATED))
    write_set(root, calibrated_set("0.9.0+cal.1", CALIBRATED, base="0.9.0"))  # another code version
    write_set(root, calibrated_set(f"{CODE}+cal.3", CALIBRATED, model="alum_alooh"))  # another model
    write_set(root, definition(process), version="0.9.0")  # not a calibrated set
    (root / MODEL / "broken.yaml").write_text("kind: [unclosed")
    assert model_versions(process) == [CODE, f"{CODE}+cal.1", f"{CODE}+cal.2", f"{CODE}+cal.10"]
    assert model_versions(catalogue.get("liposome_microfluidic")) == ["1.0.0"]  # nothing saved for it


def test_calibrated_values_are_read_in_model_units(root):
    process = catalogue.get(MODEL)
    assert calibrated_parameters(process, f"{CODE}+cal.1") == CALIBRATED
    assert calibrated_parameters(process, CODE) == {}  # the code's defaults
    write_set(root, calibrated_set(f"{CODE}+cal.2", {"C1": "0.1", "mu_c": "1.5 cP"}))
    assert calibrated_parameters(process, f"{CODE}+cal.2") == {"C1": pytest.approx(0.1), "mu_c": pytest.approx(1.5)}


def test_a_version_that_is_a_path_is_refused_when_the_spec_is_read():
    with pytest.raises(SpecError) as info:
        parse_spec({"model": MODEL, "version": "../liposome_microfluidic/1.0.0"})
    assert [f for f, _ in info.value.errors] == ["version"]
    with pytest.raises(SpecError, match="at most 100 characters"):
        parse_spec({"model": MODEL, "version": "1" * 300})


@pytest.mark.parametrize(
    "case, version, expected",
    [
        ("unknown", f"{CODE}+cal.99", [f"unknown version '{CODE}+cal.99'", f"available: {CODE}, {CODE}+cal.1"]),
        ("definition", "0.9.0", ["not a calibrated parameter set", "model definition"]),
        ("other model", f"{CODE}+cal.5", ["calibrated for model 'alum_alooh'", MODEL]),
        ("other code version", "0.9.0+cal.1", ["model version 0.9.0", f"code is at version {CODE}"]),
        ("no longer a parameter", f"{CODE}+cal.6", ["C9", "unknown name"]),
        ("outside the bounds", f"{CODE}+cal.7", ["C1", "outside the bounds"]),
    ],
)
def test_each_unusable_version_is_an_error_on_the_version_field(root, case, version, expected):
    write_set(root, definition(catalogue.get(MODEL)), version="0.9.0")
    write_set(root, calibrated_set(f"{CODE}+cal.5", CALIBRATED, model="alum_alooh"))
    write_set(root, calibrated_set("0.9.0+cal.1", CALIBRATED, base="0.9.0"))
    write_set(root, calibrated_set(f"{CODE}+cal.6", {"C1": 0.1, "C9": 1.0}))
    write_set(root, calibrated_set(f"{CODE}+cal.7", {"C1": 50.0}))  # bounds [1e-5, 10]
    with pytest.raises(ParameterError) as info:
        run_spec(SimulationSpec(model=MODEL, version=version, parameters={"n_passes": 1}))
    assert [f for f, _ in info.value.errors] == ["version"]
    message = info.value.errors[0][1]
    for text in expected:
        assert text in message, (case, message)


def test_load_parameter_set_shares_the_loader(root):
    assert load_parameter_set(root / MODEL / f"{CODE}+cal.1.yaml")["parameters"] == CALIBRATED
    with pytest.raises(ParameterError) as info:
        load_parameter_set(shipped_models() / MODEL / f"{CODE}.yaml")
    assert info.value.errors[0][0] == "kind" and "model definition" in info.value.errors[0][1]


# -- runs ---------------------------------------------------------------------------------------------------------
def test_a_calibrated_version_runs_with_its_values_and_says_so(root):
    code = run(parameters={"n_passes": 3})
    cal = run(version=f"{CODE}+cal.1", parameters={"n_passes": 3})
    by_hand = run(parameters={"n_passes": 3, **CALIBRATED})
    same_kpis(cal.kpis, by_hand.kpis)
    # a lower breakage constant leaves larger droplets than the code's defaults (checked to matter)
    assert cal.kpis["z_average_nm"] > 1.05 * code.kpis["z_average_nm"]
    assert cal.kpis["passes"] == 3  # operating parameters untouched
    summary = cal.result.summary()
    assert summary["model_version"] == f"{CODE}+cal.1" and summary["code_version"] == CODE
    assert summary["parameters"]["C1"] == 0.05 and summary["parameters"]["Cc"] == 0.5
    assert cal.result.frame().attrs["model"] == f"{MODEL} {CODE}+cal.1"
    assert cal.to_dict()["model_version"] == f"{CODE}+cal.1"
    assert code.result.summary()["model_version"] == CODE == code.result.summary()["code_version"]
    # naming the code's version is the same as naming none
    same_kpis(run(version=CODE, parameters={"n_passes": 3}).kpis, code.kpis, rel=0)


def test_the_specs_own_parameters_override_the_calibrated_ones(root):
    spec = SimulationSpec(model=MODEL, version=f"{CODE}+cal.1", parameters={"n_passes": 3, "C1": 0.1})
    over = run_spec(spec)
    by_hand = run(parameters={"n_passes": 3, "C1": 0.1, "Cc": 0.5})
    same_kpis(over.kpis, by_hand.kpis)
    assert over.result.parameters["C1"] == 0.1 and over.result.parameters["Cc"] == 0.5
    assert over.kpis["z_average_nm"] != pytest.approx(
        run(version=f"{CODE}+cal.1", parameters={"n_passes": 3}).kpis["z_average_nm"], rel=1e-3
    )


def test_a_run_record_cites_the_calibrated_version(root, tmp_path):
    store = RunStore(f"sqlite:///{tmp_path / 'runs.db'}")
    spec = SimulationSpec(model=MODEL, version=f"{CODE}+cal.1", parameters={"n_passes": 2})
    run_id = store.save_run(spec, run_spec(spec), author="qa")
    record = store.get_run(run_id)
    assert record["model_version"] == f"{CODE}+cal.1"
    assert store.list_runs()[0]["model_version"] == f"{CODE}+cal.1"
    assert record["spec"]["version"] == f"{CODE}+cal.1"
    assert record["results"]["code_version"] == CODE and record["results"]["parameters"]["C1"] == 0.05
    assert store.verify(run_id)


# -- the CLI ------------------------------------------------------------------------------------------------------
def test_cli_simulate_runs_a_version_and_rejects_an_unknown_one_with_exit_2(root, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"model": MODEL, "version": f"{CODE}+cal.1", "parameters": {"n_passes": 2}}))
    res = runner.invoke(app, ["simulate", str(spec), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["model_version"] == f"{CODE}+cal.1" and doc["spec"]["version"] == f"{CODE}+cal.1"
    spec.write_text(yaml.safe_dump({"model": MODEL, "version": f"{CODE}+cal.9"}))
    res = runner.invoke(app, ["simulate", str(spec), "--json"])
    assert res.exit_code == 2, res.output
    errors = json.loads(res.stdout)["errors"]
    assert errors[0]["field"] == "version" and f"{CODE}+cal.1" in errors[0]["message"]


def test_cli_models_lists_the_versions(root):
    write_set(root, calibrated_set(f"{CODE}+cal.2", CALIBRATED))
    res = runner.invoke(app, ["models", MODEL, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["versions"] == [CODE, f"{CODE}+cal.1", f"{CODE}+cal.2"]
    res = runner.invoke(app, ["models", MODEL])
    assert res.exit_code == 0 and f"versions: {CODE}, {CODE}+cal.1, {CODE}+cal.2" in res.stdout


# -- a set written by a real calibration --------------------------------------------------------------------------
TRUE_K = 0.5


versions_decay = decay_fixture("versions_test_decay", "2.1.0", time_units="h", x_units="g/L", k_bounds=(0.01, 10))


def test_a_set_saved_by_calibrate_runs_by_name(tmp_path, monkeypatch):
    from bioprocess_twin.calibration.run import calibrate
    from bioprocess_twin.calibration.spec import parse_calibration_spec

    monkeypatch.setenv("BIOPROCESS_TWIN_MODELS", str(tmp_path / "models"))
    rng = np.random.default_rng(3)
    rows = []
    for batch, x0 in (("A", 1.0), ("B", 2.0), ("C", 1.5)):
        for t in np.arange(0.0, 6.5, 0.5):
            rows.append(
                {
                    "batch": batch,
                    "hours": t,
                    "X": x0 * math.exp(-TRUE_K * t) * (1 + 0.01 * rng.normal()),
                    "X0": x0 if t == 0 else None,
                }
            )
    pd.DataFrame(rows).to_csv(tmp_path / "runs.csv", index=False)
    (tmp_path / "tagmap.yaml").write_text(
        yaml.safe_dump(
            {
                "kind": "tag map",
                "model": "versions_test_decay",
                "files": [
                    {
                        "path": "runs.csv",
                        "shape": "wide",
                        "batch_column": "batch",
                        "time_column": "hours",
                        "time_format": "elapsed",
                        "elapsed_units": "h",
                    }
                ],
                "tags": {"X": {"output": "x", "units": "g/L"}, "X0": {"initial": "x", "units": "g/L"}},
            }
        )
    )
    spec = parse_calibration_spec(
        {
            "model": "versions_test_decay",
            "data": "tagmap.yaml",
            "parameters": [{"name": "k"}],
            "error_models": {"x": {"kind": "proportional"}},
            "save": {},
        }
    )
    result = calibrate(spec, tmp_path)
    assert result.status == "ok" and result.saved == str(tmp_path / "models/versions_test_decay/2.1.0+cal.1.yaml")
    saved = load_parameter_set(result.saved)
    k_hat = saved["parameters"]["k"]
    assert k_hat == pytest.approx(TRUE_K, rel=0.02) and k_hat != TRUE_K
    # the covariance a Monte Carlo samples: k was fitted as log(k), so its standard error is k times the
    # standard deviation of log(k)
    cov = saved["covariance"]
    assert cov["names"] == ["k"] and cov["space"] == {"k": "log"}
    assert cov["centre"] == [pytest.approx(math.log(k_hat), rel=1e-12)]
    assert math.sqrt(cov["matrix"][0][0]) * k_hat == pytest.approx(saved["estimates"]["k"]["se"], rel=1e-9)

    process = catalogue.get("versions_test_decay")
    assert model_versions(process) == ["2.1.0", "2.1.0+cal.1"]
    ran = run_spec(
        SimulationSpec(
            model="versions_test_decay", version="2.1.0+cal.1", times=[0, 1, 2], solver={"rtol": 1e-10, "atol": 1e-12}
        )
    )
    assert ran.kpis["x_final"] == pytest.approx(math.exp(-2 * k_hat), rel=1e-8)  # analytical solution
    assert ran.result.summary()["model_version"] == "2.1.0+cal.1"
