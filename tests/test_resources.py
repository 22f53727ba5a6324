"""Where shipped and user data live (core/resources.py) and ``bioprocess-twin examples``.

The user models folder is read before the shipped one; writing never touches the package. The
examples copy keeps the layout, so a copied calibration spec still finds its tag map and records.
"""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from bioprocess_twin import catalogue
from bioprocess_twin.calibration.spec import load_calibration_spec
from bioprocess_twin.cli import app
from bioprocess_twin.core.definitions import calibrated_parameters, model_versions
from bioprocess_twin.core.resources import (
    copy_examples,
    example_files,
    example_path,
    examples_dir,
    find_model_file,
    model_roots,
    shipped_models,
    user_models,
)
from bioprocess_twin.line.definition import available_lines, load_line

runner = CliRunner()


def test_the_shipped_data_is_inside_the_package():
    package = catalogue.__file__.rsplit("/", 1)[0]
    assert str(shipped_models()).startswith(package) and str(examples_dir()).startswith(package)
    assert (shipped_models() / "emulsion_homogenizer" / "1.0.0.yaml").is_file()
    assert (shipped_models() / "lines" / "adjuvant_only" / "1.0.0.yaml").is_file()
    names = example_files()
    assert {
        "specs/emulsion_homogenizer.yaml",
        "plans/vaccine_campaign.yaml",
        "batch_records/cho/online.csv",
        "batch_records/cho/offline.xlsx",
        "batch_records/emulsion/passes.parquet",
    } <= set(names)
    assert not any("__pycache__" in n for n in names)


def test_the_user_folder_is_read_first(user_models_folder):
    assert model_roots() == [user_models_folder, shipped_models()]
    assert find_model_file("emulsion_homogenizer", "1.0.0.yaml") == shipped_models() / "emulsion_homogenizer/1.0.0.yaml"
    own = user_models_folder / "emulsion_homogenizer" / "1.0.0.yaml"
    own.parent.mkdir(parents=True)
    own.write_text("kind: model definition\n")
    assert find_model_file("emulsion_homogenizer", "1.0.0.yaml") == own
    assert find_model_file("emulsion_homogenizer", "9.9.9.yaml") is None


def test_example_path_names_a_missing_example():
    assert example_path("specs", "cho_fed_batch.yaml").is_file()
    with pytest.raises(FileNotFoundError, match="specs/no_such.yaml"):
        example_path("specs", "no_such.yaml")


def test_calibrated_sets_are_listed_from_the_user_folder_and_read_from_it(user_models_folder):
    process = catalogue.get("emulsion_homogenizer")
    assert model_versions(process) == ["1.0.0"]
    doc = {
        "kind": "calibrated parameter set",
        "model": process.name,
        "base_version": "1.0.0",
        "version": "1.0.0+cal.1",
        "parameters": {"C1": 0.1},
    }
    (user_models_folder / process.name).mkdir()
    (user_models_folder / process.name / "1.0.0+cal.1.yaml").write_text(yaml.safe_dump(doc))
    assert model_versions(process) == ["1.0.0", "1.0.0+cal.1"]
    assert calibrated_parameters(process, "1.0.0+cal.1") == {"C1": pytest.approx(0.1)}


def test_a_user_line_is_found_besides_the_shipped_ones(user_models_folder):
    shipped = yaml.safe_load((shipped_models() / "lines" / "adjuvant_only" / "1.0.0.yaml").read_text())
    folder = user_models_folder / "lines" / "adjuvant_only"
    folder.mkdir(parents=True)
    (folder / "1.1.0.yaml").write_text(yaml.safe_dump(shipped | {"version": "1.1.0"}))
    assert available_lines()["adjuvant_only"][-2:] == ["1.0.0", "1.1.0"]
    assert load_line("adjuvant_only").version == "1.1.0"  # the newest, from the user folder
    assert load_line("adjuvant_only@1.0.0").version == "1.0.0"  # the shipped one
    assert "adjuvanted_vaccine" in available_lines()


def test_copied_examples_keep_their_layout_and_are_never_overwritten(tmp_path):
    copied = copy_examples(tmp_path / "ex")
    assert sorted(p.relative_to(tmp_path / "ex").as_posix() for p in copied) == example_files()
    spec, base = load_calibration_spec(tmp_path / "ex" / "batch_records" / "cho" / "calibration.yaml")
    assert (base / spec.data).resolve() == (tmp_path / "ex" / "batch_records" / "cho" / "tagmap.yaml").resolve()
    mine = tmp_path / "mine" / "specs" / "emulsion_homogenizer.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("model: emulsion_homogenizer\n")
    with pytest.raises(FileExistsError, match="holds specs/emulsion_homogenizer.yaml;"):
        copy_examples(tmp_path / "mine")
    assert mine.read_text() == "model: emulsion_homogenizer\n"
    assert [p.name for p in (tmp_path / "mine").rglob("*") if p.is_file()] == [mine.name]  # nothing copied
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        copy_examples(tmp_path / "file")


def test_cli_examples_lists_and_copies(tmp_path):
    listing = runner.invoke(app, ["examples", "--json"])
    assert listing.exit_code == 0, listing.output
    doc = json.loads(listing.stdout)
    assert doc["files"] == example_files() and doc["examples_dir"] == str(examples_dir())
    table = runner.invoke(app, ["examples"])
    assert table.exit_code == 0 and "specs/cho_fed_batch.yaml" in table.stdout
    copy = runner.invoke(app, ["examples", "--copy", str(tmp_path / "ex"), "--json"])
    assert copy.exit_code == 0, copy.output
    assert json.loads(copy.stdout)["files"] == example_files()
    assert (tmp_path / "ex" / "batch_records" / "emulsion" / "passes.parquet").read_bytes() == example_path(
        "batch_records", "emulsion", "passes.parquet"
    ).read_bytes()
    again = runner.invoke(app, ["examples", "--copy", str(tmp_path / "ex"), "--json"])
    assert again.exit_code == 2
    error = json.loads(again.stdout)["errors"][0]
    assert error["field"] == "copy" and "never overwritten" in error["message"]
    assert "error: --copy:" in again.stderr


def test_the_user_folder_defaults_outside_the_package(monkeypatch, tmp_path):
    monkeypatch.delenv("BIOPROCESS_TWIN_MODELS")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_models() == tmp_path / ".local" / "share" / "bioprocess-twin" / "models"
