"""``bioprocess-twin calibrate SPEC``: a user's own model file plus plant-like records is enough; bad data exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_calibration_estimation import MONOD_SOURCE, TRUE, monod_model
from typer.testing import CliRunner

from bioprocess_twin.calibration.parameter_sets import load_parameter_set
from bioprocess_twin.cli import app
from bioprocess_twin.core import ParameterError
from bioprocess_twin.core.resources import example_path

runner = CliRunner()


def write_case(tmp_path, fault=None) -> Path:
    from bioprocess_twin.core import simulate

    model = monod_model()
    (tmp_path / "my_model.py").write_text(MONOD_SOURCE)
    rng = np.random.default_rng(7)
    rows = []
    for i, (x0, s0) in enumerate([(0.1, 10), (0.15, 6), (0.2, 14), (0.08, 8), (0.12, 12)]):
        t = np.arange(0.0, 12.5, 1.0)
        res = simulate(model, t, parameters=TRUE, initial={"X": x0, "S": s0})
        X = res.state("X") * (1 + 0.04 * rng.normal(size=t.size))
        S = np.maximum(res.state("S") + 0.05 * rng.normal(size=t.size), 0.0)
        for k, tk in enumerate(t):
            rows.append(
                {
                    "batch": f"R{i + 1}",
                    "hours": tk,
                    "biomass_mg_per_mL": X[k],  # mg/mL = g/L
                    "glucose_g_per_L": S[k] * 1000,
                    "X_start": x0 if k == 0 else None,
                }
            )
    frame = pd.DataFrame(rows)
    frame["glucose_g_per_L"] /= 1000
    if fault == "text":
        frame["glucose_g_per_L"] = frame["glucose_g_per_L"].astype(object)
        frame.loc[20, "glucose_g_per_L"] = "n/a"
    frame.to_csv(tmp_path / "runs.csv", index=False)
    tag_map = {
        "kind": "tag map",
        "model": "monod_batch",
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
        "tags": {
            "biomass_mg_per_mL": {"output": "X", "units": "mg/mL"},
            "glucose_g_per_L": {"output": "S", "units": "g/L"},
            "X_start": {"initial": "X", "units": "g/L"},
        },
    }
    (tmp_path / "tagmap.yaml").write_text(yaml.safe_dump(tag_map))
    spec = {
        "name": "monod from plant records",
        "model_file": "my_model.py",
        "data": "tagmap.yaml",
        "parameters": [{"name": "mu_max"}, {"name": "K_s"}, {"name": "Y_xs"}],
        "initial_states": [{"state": "S", "lower": 1, "upper": 30}],
        "error_models": {"X": {"kind": "proportional"}, "S": {"kind": "constant"}},
        "held_out": ["R5"],
        "profiles": ["mu_max"],
        "save": {},
    }
    path = tmp_path / "calibration.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_calibrate_a_users_own_model_from_a_spec(tmp_path, user_models_folder):
    spec = write_case(tmp_path)
    res = runner.invoke(app, ["calibrate", str(spec), "--json", "--allow-model-code"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "ok" and doc["model"] == "monod_batch"
    est = {e["label"]: e for e in doc["estimates"]}
    for name, value in TRUE.items():
        assert est[name]["ci_low"] < value < est[name]["ci_high"], est[name]
    assert est["mu_max"]["units"] == "1/h"
    assert est["S(0)[R1]"]["value"] == pytest.approx(10, rel=0.05)  # fitted per batch
    assert doc["batches"] == {"fitted": ["R1", "R2", "R3", "R4"], "held_out": ["R5"], "excluded": []}
    assert doc["identifiability"]["after"]["rank"] == len(doc["estimates"])
    assert doc["profiles"][0]["ci_low"] < TRUE["mu_max"] < doc["profiles"][0]["ci_high"]
    skill = {v["output"]: v["skill"] for v in doc["validation"]["per_output"]}
    assert skill["X"] > 0.5 and skill["S"] > 0.5
    assert doc["error_models"]["X"]["b"] == pytest.approx(0.04, rel=0.35)
    assert Path(doc["saved"]).parent == user_models_folder / "monod_batch"  # the user models folder, nowhere else
    saved = load_parameter_set(doc["saved"])
    assert saved["version"] == "1+cal.1" and saved["parameters"]["mu_max"] == pytest.approx(est["mu_max"]["value"])
    assert saved["provenance"]["data"]["files"] and saved["provenance"]["spec"]["held_out"] == ["R5"]
    again = json.loads(runner.invoke(app, ["calibrate", str(spec), "--json", "--allow-model-code"]).stdout)
    assert again["saved"].endswith("1+cal.2.yaml")  # a new version, never an overwrite


def test_bad_data_exits_2_with_file_row_and_column(tmp_path):
    spec = write_case(tmp_path, fault="text")
    res = runner.invoke(app, ["calibrate", str(spec), "--json", "--allow-model-code"])
    assert res.exit_code == 2, res.output
    doc = json.loads(res.stdout)
    fields = [e["field"] for e in doc["errors"]]
    assert any(f.startswith("runs.csv:22:glucose_g_per_L") for f in fields), doc["errors"]


def test_bad_spec_names_the_field(tmp_path):
    spec = write_case(tmp_path)
    data = yaml.safe_load(spec.read_text())
    data["parameters"].append({"name": "mu_maks"})
    spec.write_text(yaml.safe_dump(data))
    doc = json.loads(runner.invoke(app, ["calibrate", str(spec), "--json", "--allow-model-code"]).stdout)
    assert doc["status"] == "invalid" and doc["errors"][0]["field"] == "parameters.mu_maks"
    data["parameters"].pop()
    data["model"] = "cho_fed_batch"
    spec.write_text(yaml.safe_dump(data))
    res = runner.invoke(app, ["calibrate", str(spec), "--json"])
    assert res.exit_code == 2 and "either model" in res.stdout


# -- the shipped CHO demo records -------------------------------------------------------------------------------
def test_the_cho_demo_calibration_finds_the_plant_truth():
    """The demo records were made with four kinetic parameters moved 15-25 % from the code defaults
    (calibration/demo_data.py); the shipped spec must find them inside its 95 % intervals."""
    from bioprocess_twin.calibration.demo_data import CHO_TRUE_PARAMETERS
    from bioprocess_twin.calibration.run import calibrate
    from bioprocess_twin.calibration.spec import load_calibration_spec

    spec, base = load_calibration_spec(example_path("batch_records", "cho", "calibration.yaml"))
    spec = spec.model_copy(update={"profiles": []})
    result = calibrate(spec, base)
    assert result.status == "ok"
    rows = {r.label: r for r in result.table}
    for name, truth in CHO_TRUE_PARAMETERS.items():
        assert rows[name].ci_low < truth < rows[name].ci_high, rows[name]
    assert result.identifiability_after["rank"] == len(result.table)
    assert "B08" not in result.used_batches and result.validation["batches"] == ["B06"]
    with pytest.raises(ParameterError) as err:  # the faulty batch stops a run that uses it
        calibrate(spec.model_copy(update={"exclude": [], "held_out": []}), base)
    assert any("B08" in m for _, m in err.value.errors)
