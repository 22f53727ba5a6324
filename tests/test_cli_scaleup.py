"""``bioprocess-twin scaleup SPEC``: exit codes, JSON shape, errors that name the field, example specs."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

import bioprocess_twin.cli.scaleup  # noqa: F401  (registers the command even before cli/__init__ imports it)
from bioprocess_twin.cli.app import app
from bioprocess_twin.core.resources import example_path

CHO = example_path("specs", "scaleup_cho_2000L.yaml")
HOMOGENIZER = example_path("specs", "scaleup_homogenizer.yaml")
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["scaleup", *map(str, args)])


def test_cho_example_json(tmp_path):
    out = tmp_path / "out.json"
    res = invoke(CHO, "--json", "--out", out)
    assert res.exit_code == 0, (res.stdout[-2000:], res.stderr[-2000:])
    doc = json.loads(res.stdout)
    assert json.loads(out.read_text()) == doc
    assert doc["status"] == "ok" and doc["kind"] == "stirred_tank" and doc["criterion"] == "power_per_volume"
    rows = {r["quantity"]: r for r in doc["rows"]}
    assert {
        "agitation_rpm",
        "tip_speed",
        "power_per_volume",
        "kla",
        "mixing_time",
        "reynolds",
        "kolmogorov_length",
    } <= set(rows)
    assert set(rows["tip_speed"]) >= {"label", "units", "lab", "target", "ratio", "optimized"}
    assert rows["ungassed_power_per_volume"]["ratio"] == pytest.approx(1.0)  # the criterion holds
    assert rows["volume"]["target"] == pytest.approx(2.0)
    design = doc["design"]
    assert design["ok"] and "kla >= required" in design["active"]
    assert rows["kla"]["optimized"] == pytest.approx(design["kla_required"], rel=1e-6)
    assert doc["target_scenario"]["agitation_rpm"] == pytest.approx(rows["agitation_rpm"]["target"])
    assert doc["source"] == str(CHO)
    # constant P/V keeps P/V in the CHO range and raises the tip speed only by 40^(1/9) = 1.5x: no warning
    assert rows["tip_speed"]["ratio"] == pytest.approx(40 ** (1 / 9), rel=1e-3)
    assert doc["warnings"] == []


def test_homogenizer_example_human_output():
    res = invoke(HOMOGENIZER)
    assert res.exit_code == 0, res.stderr
    assert "residence time" in res.stdout and "cooling duty" in res.stdout
    doc = json.loads(invoke(HOMOGENIZER, "--json").stdout)
    rows = {r["quantity"]: r for r in doc["rows"]}
    assert rows["dissipation_rate"]["ratio"] == pytest.approx(1.0)
    assert doc["target_scenario"]["model"] == "emulsion_homogenizer"


def test_criterion_change_shows_up_in_output(tmp_path):
    data = yaml.safe_load(CHO.read_text())
    data["stirred_tank"]["criterion"] = "tip_speed"
    data["stirred_tank"].pop("oxygen")
    spec = tmp_path / "tip.json"
    spec.write_text(json.dumps(data))
    doc = json.loads(invoke(spec, "--json").stdout)
    rows = {r["quantity"]: r for r in doc["rows"]}
    assert doc["criterion"] == "tip_speed" and doc["design"] is None
    assert rows["tip_speed"]["ratio"] == pytest.approx(1.0)
    assert rows["ungassed_power_per_volume"]["ratio"] == pytest.approx(40 ** (-1 / 3))


BAD = {
    "unknown_criterion": (("stirred_tank", "criterion"), "constant_froude", "stirred_tank.criterion"),
    "bad_units": (("stirred_tank", "target_volume"), "2000 bar", "stirred_tank.target_volume"),
    "unknown_impeller": (("stirred_tank", "lab", "impeller"), "paddle", "stirred_tank.lab.impeller"),
    "negative_volume": (("stirred_tank", "lab", "volume"), -5, "stirred_tank.lab.volume"),
    "typo_field": (("stirred_tank", "agitaton"), 100, "stirred_tank.agitaton"),
    "bad_limit": (("limits", "tip_speed_maxx"), 2, "tip_speed_maxx"),
    "kla_without_gas": (("stirred_tank", "vvm"), 0, "stirred_tank.vvm"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_spec_exits_2_naming_the_field(tmp_path, case):
    path, value, field = BAD[case]
    data = yaml.safe_load(CHO.read_text())
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    if case == "kla_without_gas":
        data["stirred_tank"]["criterion"] = "kla"
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(data))
    res = invoke(spec, "--json")
    assert res.exit_code == 2, (res.stdout, res.stderr)
    doc = json.loads(res.stdout)
    assert doc["status"] == "invalid"
    assert any(field in (e["field"] + ": " + e["message"]) for e in doc["errors"]), doc["errors"]
    assert field in res.stderr


def test_missing_file_and_bad_yaml_exit_2(tmp_path):
    res = invoke(tmp_path / "nope.yaml", "--json")
    assert res.exit_code == 2 and json.loads(res.stdout)["errors"][0]["field"] == "file"
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [stirred_tank\n")
    assert invoke(bad).exit_code == 2


def test_internal_error_exits_1(tmp_path, monkeypatch):
    from bioprocess_twin.records import kinds

    def broken(spec):
        raise ZeroDivisionError("bug in the library")

    monkeypatch.setattr(kinds, "translate", broken)
    res = invoke(CHO, "--json")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert doc["status"] == "error" and "ZeroDivisionError" in doc["errors"][0]["message"]
