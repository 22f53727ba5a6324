"""Calibration, scale-up, plan and line specs are data, never code (issue 14, items 1 and 2).

- ``model_file:`` runs Python: refused (and never imported) unless the caller opts in;
- the files a spec names stay in its folder unless the caller opts in;
- calibrated sets are written only in the user models folder, strictly inside ``<root>/<model>/``;
- every bad value is exit 2 with the field named, never a traceback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from test_calibration_estimation import MONOD_SOURCE
from typer.testing import CliRunner

from bioprocess_twin.calibration.choices import fit_choices, with_choices
from bioprocess_twin.calibration.parameter_sets import saved_set_path
from bioprocess_twin.calibration.run import calibrate, prepare_calibration
from bioprocess_twin.calibration.spec import (
    SaveSettings,
    load_calibration_spec,
    parse_calibration_spec,
    resolve_model,
    spec_paths,
)
from bioprocess_twin.cli import app
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.resources import example_path, shipped_models
from bioprocess_twin.core.spec import SpecError
from bioprocess_twin.line.definition import load_line
from bioprocess_twin.line.plan_spec import load_plan_spec, parse_plan_spec

runner = CliRunner()
EMULSION = example_path("batch_records", "emulsion")
#: a model file that leaves a mark when it is imported: proof that refused code never ran
MARKING_SOURCE = "from pathlib import Path\nPath(__file__).with_name('ran.txt').write_text('ran')\n" + MONOD_SOURCE


def fields(exc) -> dict[str, str]:
    return dict(exc.errors)


def emulsion_case(folder: Path, **changes) -> Path:
    """A copy of the shipped emulsion calibration (spec, tag map, records) in ``folder``, with ``changes``."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in EMULSION.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    spec = yaml.safe_load((EMULSION / "calibration.yaml").read_text()) | changes
    path = folder / "calibration.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def model_file_case(folder: Path) -> Path:
    """A spec whose model is a Python file beside it that marks its import."""
    path = emulsion_case(folder, model_file="my_model.py")
    data = yaml.safe_load(path.read_text())
    data.pop("model")
    path.write_text(yaml.safe_dump(data))
    (folder / "my_model.py").write_text(MARKING_SOURCE)
    return path


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def invalid_fields(res) -> list[str]:
    assert res.exit_code == 2, (res.stdout[-2000:], res.stderr[-2000:])
    doc = json.loads(res.stdout)
    assert doc["status"] == "invalid" and "Traceback" not in res.stderr
    return [e["field"] for e in doc["errors"]]


# -- model_file runs code only with the caller's opt-in --------------------------------------------------------
def test_model_file_is_refused_without_the_opt_in_and_never_imported(tmp_path):
    spec_file = model_file_case(tmp_path)
    with pytest.raises(SpecError) as err:
        load_calibration_spec(spec_file)
    assert "model_file" in fields(err.value) and "--allow-model-code" in fields(err.value)["model_file"]
    spec = parse_calibration_spec(yaml.safe_load(spec_file.read_text()))
    for call in (
        lambda: resolve_model(spec, tmp_path),
        lambda: fit_choices(spec, tmp_path),  # what the dashboard calls
        lambda: prepare_calibration(spec, tmp_path),
        lambda: calibrate(spec, tmp_path),
    ):
        with pytest.raises(ParameterError) as err:
            call()
        assert "trusted input" in fields(err.value)["model_file"]
    assert "model_file" in invalid_fields(invoke("calibrate", spec_file, "--json"))
    assert not (tmp_path / "ran.txt").exists()  # the file was never imported
    model = resolve_model(spec, tmp_path, allow_model_code=True)
    assert model.name == "monod_batch" and (tmp_path / "ran.txt").read_text() == "ran"


def test_a_model_file_outside_the_folder_needs_both_opt_ins(tmp_path):
    (tmp_path / "my_model.py").write_text(MONOD_SOURCE)
    spec_file = model_file_case(tmp_path / "spec")
    data = yaml.safe_load(spec_file.read_text()) | {"model_file": "../my_model.py"}
    spec = parse_calibration_spec(data)
    with pytest.raises(ParameterError) as err:
        resolve_model(spec, spec_file.parent, allow_model_code=True)
    assert "no '..'" in fields(err.value)["model_file"]
    model = resolve_model(spec, spec_file.parent, allow_model_code=True, allow_outside_paths=True)
    assert model.name == "monod_batch"


# -- paths stay in the spec's folder -----------------------------------------------------------------------------
@pytest.mark.parametrize("data", ["/etc/hostname", "../outside/tagmap.yaml", "link.yaml", "sub/../../tagmap.yaml"])
def test_calibration_data_outside_the_folder_is_refused(tmp_path, data):
    outside = tmp_path / "outside"
    emulsion_case(outside)
    spec_file = emulsion_case(tmp_path / "spec", data=data)
    (spec_file.parent / "link.yaml").symlink_to(outside / "tagmap.yaml")
    with pytest.raises(SpecError) as err:
        load_calibration_spec(spec_file)
    assert list(fields(err.value)) == ["data"]
    assert invalid_fields(invoke("calibrate", spec_file, "--json")) == ["data"]
    spec = parse_calibration_spec(yaml.safe_load(spec_file.read_text()))
    with pytest.raises(ParameterError):
        prepare_calibration(spec, spec_file.parent)


def test_outside_paths_work_with_the_opt_in(tmp_path):
    emulsion_case(tmp_path / "outside")
    spec_file = emulsion_case(tmp_path / "spec", data="../outside/tagmap.yaml")
    spec, base = load_calibration_spec(spec_file, allow_outside_paths=True)
    assert spec_paths(spec, base, allow_outside_paths=True).data == (tmp_path / "outside" / "tagmap.yaml").resolve()
    ready = prepare_calibration(spec, base, allow_outside_paths=True)
    assert ready.problem.n_obs > 0 and "passes.parquet" in ready.records.files


def test_an_absolute_path_inside_the_folder_is_accepted_and_choices_keep_paths_confined(tmp_path):
    spec_file = emulsion_case(tmp_path, data=str(tmp_path / "tagmap.yaml"))
    spec, base = load_calibration_spec(spec_file)
    assert spec_paths(spec, base).data == tmp_path / "tagmap.yaml"
    picked = with_choices(spec, base, ["C1"])
    assert Path(picked.data).is_absolute() and spec_paths(picked, base).data == tmp_path / "tagmap.yaml"
    assert fit_choices(spec, base).files
    with pytest.raises(SpecError) as err:
        with_choices(spec.model_copy(update={"data": "../x/tagmap.yaml"}), base, ["C1"])
    assert "data" in fields(err.value)


@pytest.mark.parametrize("line", ["/etc/hostname.yaml", "../line.yaml", "link.yaml", "sub/../../line.yaml"])
def test_plan_line_files_outside_the_folder_are_refused(tmp_path, line):
    shutil.copy(shipped_models() / "lines" / "adjuvant_only" / "1.0.0.yaml", tmp_path / "line.yaml")
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "link.yaml").symlink_to(tmp_path / "line.yaml")
    data = yaml.safe_load(example_path("plans", "line_products.yaml").read_text())
    data["products"][1]["from_line"]["line"] = line
    (folder / "plan.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as err:
        load_plan_spec(folder / "plan.yaml")
    assert list(fields(err.value)) == ["products.1.from_line.line"]
    assert invalid_fields(invoke("line", "plan", folder / "plan.yaml", "--json")) == ["products.1.from_line.line"]
    if line != "/etc/hostname.yaml":
        spec = load_plan_spec(folder / "plan.yaml", allow_outside_paths=True)
        assert Path(spec.products[1].from_line.line) == (tmp_path / "line.yaml").resolve()
    with pytest.raises(SpecError) as err:  # without a folder, a file name is refused too
        parse_plan_spec(data)
    assert "plan spec's folder" in fields(err.value)["products.1.from_line.line"]


def test_plan_line_names_never_read_files_of_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adjuvant_only").write_text("not a line")
    data = yaml.safe_load(example_path("plans", "line_products.yaml").read_text())
    spec = parse_plan_spec(data)  # names, not files
    assert spec.products[1].from_line.line == "adjuvant_only@1.0.0"
    assert load_line("adjuvant_only").name == "adjuvant_only"  # the shipped line, not ./adjuvant_only


# -- calibrated sets go to the user models folder only -----------------------------------------------------------
def test_save_root_is_refused_naming_the_field(tmp_path):
    spec_file = emulsion_case(tmp_path, save={"root": "/tmp"})
    with pytest.raises(SpecError) as err:
        load_calibration_spec(spec_file)
    assert "user models folder" in fields(err.value)["save.root"]
    assert invalid_fields(invoke("calibrate", spec_file, "--json")) == ["save.root"]


@pytest.mark.parametrize("version", ["x" * 300, "../../evil", "a/b", ".hidden", "", "1.0 0"])
def test_save_version_names_only_a_file_in_the_models_folder(tmp_path, version):
    spec_file = emulsion_case(tmp_path, save={"version": version})
    assert invalid_fields(invoke("calibrate", spec_file, "--json")) == ["save.version"]


def test_saved_sets_lie_strictly_inside_the_model_folder(tmp_path, user_models_folder):
    from bioprocess_twin.core.model import ModelBuilder

    def model(name: str, version: str = "1.0.0"):
        m = ModelBuilder(name, version=version, time_units="h")
        x = m.state("x", "g/L", 1.0)
        m.ode(x, -x)
        return m.build()

    path = saved_set_path(model("decay"), SaveSettings(version="site-A"))
    assert path == user_models_folder / "decay" / "site-A.yaml"
    assert saved_set_path(model("decay"), SaveSettings()).name == "1.0.0+cal.1.yaml"
    with pytest.raises(ParameterError) as err:  # a model file's model names a folder: not too long
        saved_set_path(model("x" * 150), SaveSettings())
    assert "cannot name a folder" in fields(err.value)["model"]
    with pytest.raises(ParameterError) as err:  # its version too
        saved_set_path(model("decay", version="../../1"), SaveSettings())
    assert "save.version" in fields(err.value)
    (user_models_folder / "decay").mkdir()
    (user_models_folder / "decay" / "site-A.yaml").write_text("kept")
    with pytest.raises(ParameterError) as err:
        saved_set_path(model("decay"), SaveSettings(version="site-A"))
    assert "never overwritten" in fields(err.value)["save.version"]
    (user_models_folder / "elsewhere").mkdir()
    (user_models_folder / "linked").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ParameterError) as err:  # a model folder that is a link out of the root
        saved_set_path(model("linked"), SaveSettings(version="v1"))
    assert "save.version" in fields(err.value)


def test_an_existing_version_stops_the_calibration_before_the_fit(tmp_path, user_models_folder):
    (user_models_folder / "emulsion_homogenizer").mkdir()
    (user_models_folder / "emulsion_homogenizer" / "taken.yaml").write_text("kept")
    spec_file = emulsion_case(tmp_path, save={"version": "taken"})
    spec, base = load_calibration_spec(spec_file)
    with pytest.raises(ParameterError) as err:
        prepare_calibration(spec, base)
    assert "never overwritten" in fields(err.value)["save.version"]
    assert (user_models_folder / "emulsion_homogenizer" / "taken.yaml").read_text() == "kept"


def test_an_unwritable_models_folder_is_a_named_error(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "models"
    not_a_folder.write_text("a file where the models folder should be")
    monkeypatch.setenv("BIOPROCESS_TWIN_MODELS", str(not_a_folder))
    spec_file = emulsion_case(tmp_path / "spec", save={})
    spec, base = load_calibration_spec(spec_file)
    with pytest.raises(ParameterError) as err:  # before the fit, not after it
        prepare_calibration(spec, base)
    assert "is not a folder" in fields(err.value)["save"]
    assert not_a_folder.read_text().startswith("a file")


# -- one error path: every bad value exits 2 naming its field ----------------------------------------------------
def _set(doc, place: str, value):
    *parents, last = place.split(".")
    node = doc
    for key in parents:
        node = node[int(key) if isinstance(node, list) else key]
    node[int(last) if isinstance(node, list) else last] = value


SCALEUP = example_path("specs", "scaleup_cho_2000L.yaml")
PLAN = example_path("plans", "two_step_small.yaml")
LINE = shipped_models() / "lines" / "adjuvant_only" / "1.0.0.yaml"
CALIBRATION = EMULSION / "calibration.yaml"
BAD_VALUES = [
    # (command, shipped file, place, value, field named)
    ("scaleup", SCALEUP, "stirred_tank.lab.volume", "50 furlongs", "stirred_tank.lab.volume"),
    ("scaleup", SCALEUP, "stirred_tank.target_volume", "1e3 degC", "stirred_tank.target_volume"),
    ("scaleup", SCALEUP, "stirred_tank.agitation", 1e308, "stirred_tank.agitation"),
    ("scaleup", SCALEUP, "stirred_tank.agitation", float("nan"), "stirred_tank.agitation"),
    ("scaleup", SCALEUP, "stirred_tank.lab.volume", "-5 L", "stirred_tank.lab.volume"),
    ("scaleup", SCALEUP, "stirred_tank.lab.volume", 10**400, "stirred_tank.lab.volume"),
    ("scaleup", SCALEUP, "stirred_tank.lab.n_impellers", [1, 2], "stirred_tank.lab.n_impellers"),
    ("scaleup", SCALEUP, "limits.tip_speed_max", float("inf"), "limits.tip_speed_max"),
    ("scaleup", SCALEUP, "title", "x" * 5000, "title"),
    ("line plan", PLAN, "products.0.name", "x" * 300, "products.0.name"),
    ("line plan", PLAN, "module_types.0.capex_per_module", 1e308, "module_types.0.capex_per_module"),
    ("line plan", PLAN, "products.0.demand_doses", float("nan"), "products.0.demand_doses"),
    ("line plan", PLAN, "products.0.steps.0.batch_h", -5, "products.0.steps.0.batch_h"),
    ("line plan", PLAN, "products.0.doses_per_batch", 1e-300, "products.0.doses_per_batch"),
    ("line plan", PLAN, "horizon_weeks", 10**30, "horizon_weeks"),
    ("line plan", PLAN, "module_types.0", "reactor", "module_types.0"),
    ("line plan", PLAN, "solver.time_limit_s", float("inf"), "solver.time_limit_s"),
    ("line run", LINE, "name", "x" * 300, "name"),
    ("line run", LINE, "version", "../../1.0.0", "version"),
    ("line run", LINE, "feeds.oil_phase.volume", "1e308 L", "premix.tank_volume"),
    ("line run", LINE, "feeds.oil_phase.volume", "-5 L", "feeds.oil_phase.volume"),
    ("line run", LINE, "feeds.oil_phase.temperature", "12 parsec", "feeds.oil_phase"),
    ("line run", LINE, "procedure.0.delay", float("inf"), "procedure.0.delay"),
    ("line run", LINE, "units.homogenizer.parameters.passes", 10**30, "units.homogenizer.parameters.passes"),
    ("calibrate", CALIBRATION, "name", "x" * 300, "name"),
    ("calibrate", CALIBRATION, "model", "x" * 300, "model"),
    ("calibrate", CALIBRATION, "atol", float("inf"), "atol"),
    ("calibrate", CALIBRATION, "rtol", 1e-300, "rtol"),
    ("calibrate", CALIBRATION, "seed", 10**30, "seed"),
    ("calibrate", CALIBRATION, "parameters.0.lower", float("nan"), "parameters.0.lower"),
    ("calibrate", CALIBRATION, "phase_actions.*.set_states.T", "50 furlongs", "phase_actions.*.set_states.T"),
    ("calibrate", CALIBRATION, "held_out", "E06", "held_out"),
]


@pytest.mark.parametrize("command, shipped, place, value, field", BAD_VALUES, ids=lambda v: str(v)[:30])
def test_bad_values_exit_2_naming_the_field(tmp_path, command, shipped, place, value, field):
    for f in shipped.parent.iterdir():
        if f.is_file() and command == "calibrate":
            shutil.copy(f, tmp_path / f.name)
    doc = yaml.safe_load(shipped.read_text())
    _set(doc, place, value)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc))
    named = invalid_fields(invoke(*command.split(), path, "--json"))
    assert any(f == field or f.startswith(field + ".") for f in named), named
