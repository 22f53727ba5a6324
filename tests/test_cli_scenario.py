"""``bioprocess-twin scenario``: the shipped emulsion design space on a real Dask LocalCluster, resume from
the Parquet store, and the exit codes."""

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from bioprocess_twin.cli import app
from bioprocess_twin.core.resources import example_path

runner = CliRunner()
EXAMPLE = example_path("scenarios", "emulsion_100L_window.yaml")


def small(tmp_path, **changes):
    """The shipped example on a 2 x 2 grid with 2 samples per point (8 emulsion runs)."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["factors"][0]["range"] = [900, 1200]
    doc["factors"][1]["levels"] = [3, 6]
    doc["samples"] = 2
    doc["design_space"] = {"grid": 2, "target": 0.9, "set_point": {"inputs.pressure": 900, "parameters.n_passes": 3}}
    doc.update(changes)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.slow
def test_the_emulsion_design_space_runs_on_dask_and_resumes_from_its_store(tmp_path):
    spec, store = small(tmp_path), tmp_path / "store"
    args = ["scenario", str(spec), "--json", "--backend", "dask", "--workers", "2", "--store", str(store)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "ok" and doc["analysis"] == "design_space" and doc["cases"] == 8
    assert {tuple(p["values"].values()) for p in doc["points"]} == {(900, 3), (900, 6), (1200, 3), (1200, 6)}
    assert all(0 <= p["probability"]["p"] <= 1 and p["probability"]["n"] == 2 for p in doc["points"])
    assert sorted(p.name for p in store.glob("*.parquet")) and (store / "scenario.json").exists()
    # the physics in the stored cases (point-major: 900/3, 900/6, 1200/3, 1200/6, two samples each): more passes
    # and more pressure give smaller droplets, and the outlet heats with pressure (about 2.4 K per 100 bar)
    cases = pd.concat(pd.read_parquet(p) for p in store.glob("*.parquet")).set_index("index").sort_index()
    z = cases["kpi.z_average_nm"].groupby(cases.index // 2).mean().to_numpy()
    t_max = cases["kpi.T_max_C"].groupby(cases.index // 2).mean().to_numpy()
    assert z[0] > z[1] > z[3] and z[0] > z[2] > z[3]
    assert 5 < t_max[2] - t_max[0] < 10
    # the stored sweep resumes with the same answer
    again = runner.invoke(app, ["scenario", str(spec), "--json", "--store", str(store)])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["points"] == doc["points"]


def test_a_bad_scenario_exits_2_naming_the_field(tmp_path):
    res = runner.invoke(app, ["scenario", str(small(tmp_path, responses=[{"kpi": "z_average_nm"}])), "--json"])
    assert res.exit_code == 2, res.output
    assert [e["field"] for e in json.loads(res.stdout)["errors"]] == ["responses.0"]


def test_an_unknown_backend_exits_2_naming_the_option(tmp_path):
    res = runner.invoke(app, ["scenario", str(small(tmp_path)), "--json", "--backend", "cloud"])
    assert res.exit_code == 2, res.output
    assert json.loads(res.stdout)["errors"][0]["field"] == "--backend/--scheduler/--store"


def test_a_scenario_where_every_case_fails_exits_3(tmp_path):
    """C1 drawn far below its lower bound: every case is refused, so no probability can be estimated."""
    bad = {"parameters": {"C1": {"distribution": "normal", "mean": -5.0, "sd": 0.1}}}
    res = runner.invoke(app, ["scenario", str(small(tmp_path, uncertainty=bad)), "--json", "--no-progress"])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "failed" and doc["failed_cases"] == 8
