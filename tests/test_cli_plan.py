"""``bioprocess-twin line plan SPEC``: JSON output, exit codes 0 / 2 / 4, fields named in errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import bioprocess_twin.cli.line_plan  # noqa: F401  (registers `line plan` until cli/__init__ imports it)
from bioprocess_twin.cli import app
from bioprocess_twin.cli.common import EXIT_INFEASIBLE
from bioprocess_twin.core.resources import example_path

SMALL = example_path("plans", "two_step_small.yaml")
runner = CliRunner()


def write_spec(tmp_path, change=None) -> Path:
    data = yaml.safe_load(SMALL.read_text())
    if change:
        change(data)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_plan_json_is_the_hand_optimum(tmp_path):
    out = tmp_path / "result.json"
    res = runner.invoke(app, ["line", "plan", str(SMALL), "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "optimal"
    assert doc["total_cost"] == pytest.approx(4400)
    assert doc["modules"] == {"reactor": 2, "filler": 1}
    assert doc["bottleneck"]["module_type"] == "reactor"
    assert {row["kind"] for row in doc["timeline"]} == {"batch", "cleaning", "changeover"}
    assert doc["spec"]["products"][0]["name"] == "vaccine_A" and doc["source"] == str(SMALL)
    assert json.loads(out.read_text()) == doc


def test_plan_text_summary(tmp_path):
    res = runner.invoke(app, ["line", "plan", str(SMALL)])
    assert res.exit_code == 0, res.output
    assert "4,400" in res.stdout and "reactor" in res.stdout and "bottleneck" in res.stdout


def test_infeasible_demand_exits_4_with_the_report(tmp_path):
    spec = write_spec(tmp_path, lambda d: d["products"][0].update(demand_doses=20000))
    res = runner.invoke(app, ["line", "plan", str(spec), "--json"])
    assert res.exit_code == EXIT_INFEASIBLE == 4
    doc = json.loads(res.stdout)
    assert doc["status"] == "infeasible" and doc["total_cost"] is None
    entry = doc["infeasibility"]["products"][0]
    assert (entry["product"], entry["module_type"], entry["max_modules"]) == ("vaccine_A", "reactor", 3)
    assert "module type reactor (max 3 modules) limits" in res.stderr
    text = runner.invoke(app, ["line", "plan", str(spec)])
    assert text.exit_code == 4 and "infeasible demand" in text.stdout


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d["products"][0]["steps"][0].update(module="freezer"), "products.0.steps.0.module"),
        (lambda d: d["module_types"][0].update(cost_per_batch=-1), "module_types.0.cost_per_batch"),
    ],
)
def test_bad_spec_exits_2_naming_the_field(tmp_path, change, field):
    spec = write_spec(tmp_path, change)
    res = runner.invoke(app, ["line", "plan", str(spec), "--json"])
    assert res.exit_code == 2
    doc = json.loads(res.stdout)
    assert doc["status"] == "invalid"
    assert field in [e["field"] for e in doc["errors"]]
    assert field in res.stderr


def test_missing_file_exits_2(tmp_path):
    res = runner.invoke(app, ["line", "plan", str(tmp_path / "none.yaml")])
    assert res.exit_code == 2
    assert "file: not found" in res.stderr


def test_line_files_outside_the_spec_folder_need_the_opt_in(tmp_path):
    from bioprocess_twin.core.resources import shipped_models

    line = yaml.safe_load((shipped_models() / "lines" / "adjuvant_only" / "1.0.0.yaml").read_text())
    line["version"] = "../not-a-version"  # read only with the opt-in: then its own field is named
    (tmp_path / "line.yaml").write_text(yaml.safe_dump(line))
    data = yaml.safe_load(example_path("plans", "line_products.yaml").read_text())
    for product in data["products"]:
        product["from_line"]["line"] = "../line.yaml"
    (tmp_path / "plans").mkdir()
    spec = tmp_path / "plans" / "plan.yaml"
    spec.write_text(yaml.safe_dump(data))
    res = runner.invoke(app, ["line", "plan", str(spec), "--json"])
    assert res.exit_code == 2, res.output
    fields = [e["field"] for e in json.loads(res.stdout)["errors"]]
    assert fields == ["products.0.from_line.line", "products.1.from_line.line"]
    res = runner.invoke(app, ["line", "plan", str(spec), "--json", "--allow-outside-paths"])
    assert res.exit_code == 2, res.output
    assert [e["field"] for e in json.loads(res.stdout)["errors"]] == ["products.0.from_line.version"]


def test_a_module_type_no_product_uses_exits_2(tmp_path):
    spec = write_spec(tmp_path, lambda d: d["products"][0]["steps"].pop(1))  # the filler is left unused
    res = runner.invoke(app, ["line", "plan", str(spec), "--json"])
    assert res.exit_code == 2, res.output
    assert [e["field"] for e in json.loads(res.stdout)["errors"]] == ["module_types.1"]


def test_a_line_step_changeover_longer_than_a_week_exits_2_before_any_line_runs(tmp_path):
    data = yaml.safe_load(example_path("plans", "line_products.yaml").read_text())
    data["hours_per_week"] = 3  # shorter than the 8 h and 12 h changeovers the from_line step settings give
    spec = tmp_path / "plan.yaml"
    spec.write_text(yaml.safe_dump(data))
    res = runner.invoke(app, ["line", "plan", str(spec), "--json"])
    assert res.exit_code == 2, res.output
    fields = [e["field"] for e in json.loads(res.stdout)["errors"]]
    assert "products.0.from_line.step_settings.bioreactor.changeover_h" in fields
