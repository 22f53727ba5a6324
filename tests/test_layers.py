"""The architecture rules that a linter does not see: no private name crosses a module boundary, the
core and the PBE engine import nothing above them, and the catalogue finds every model by scanning.

The layer order itself is import-linter's contract in pyproject.toml (``lint-imports`` in CI)."""

import ast
import math
from pathlib import Path

import pytest

from bioprocess_twin import catalogue

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bioprocess_twin", "dashboards")


def project_imports():
    """(file, imported module, names) for every ``from X import names`` of a project module."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in PACKAGES):
                    yield path.relative_to(ROOT), "." * node.level + (node.module or ""), [a.name for a in node.names]


def test_no_private_name_is_imported_from_another_module():
    crossing = [
        f"{path}: from {module} import {name}"
        for path, module, names in project_imports()
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not crossing, "private names imported across modules:\n" + "\n".join(crossing)


@pytest.mark.parametrize("package", ["core", "pbe"])
def test_the_lowest_layers_import_nothing_above_them(package):
    allowed = {"core"} | ({"pbe"} if package == "pbe" else set())
    upward = []
    for path, module, _ in project_imports():
        if path.parts[:2] != ("bioprocess_twin", package):
            continue
        target = module.lstrip(".").split(".")[0] if module.startswith("..") else package
        if module.startswith("bioprocess_twin."):
            target = module.split(".")[1]
        if target not in allowed:
            upward.append(f"{path}: {module}")
    assert not upward, upward


def test_every_model_file_is_found_without_a_list():
    """Each file of processes/ and units/ that defines a process model or unit kind is in the catalogue."""
    names, kinds = set(catalogue.names()), set(catalogue.unit_kinds())
    for folder, found in (("processes", names), ("units", kinds)):
        for path in (ROOT / "bioprocess_twin" / folder).glob("*.py"):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef):
                    for stmt in node.body:
                        if (
                            isinstance(stmt, ast.Assign)
                            and len(stmt.targets) == 1
                            and getattr(stmt.targets[0], "id", None) == ("name" if folder == "processes" else "kind")
                            and isinstance(stmt.value, ast.Constant)
                        ):
                            assert stmt.value.value in found, f"{path.name}: {stmt.value.value} not in the catalogue"


def test_units_that_run_kinetics_name_their_process_model():
    """A unit whose code builds a CasADi model (ModelBuilder) or runs phases has a process model."""
    for path in (ROOT / "bioprocess_twin" / "units").glob("*.py"):
        text = path.read_text()
        assert "ModelBuilder(" not in text, f"{path.name} builds its own kinetic model: give it a process model"
    for kind in ("homogenizer", "bioreactor", "microbial_bioreactor", "tff", "chromatography"):
        process = catalogue.unit_class(kind).process
        assert process is not None and process.name in catalogue.names()
        assert catalogue.unit_class(kind)("u").describe()["process"] == process.name


def test_an_unknown_model_names_the_nearest_one():
    with pytest.raises(KeyError, match="did you mean 'cho_fed_batch'"):
        catalogue.get("cho_fedbatch")
    with pytest.raises(KeyError, match="did you mean 'homogenizer'"):
        catalogue.unit_class("homogeniser")


PLUGIN = '''
from bioprocess_twin.core import ModelBuilder, Parameter
from bioprocess_twin.core.process import Process


class PluginDecay(Process):
    """A process model that an installed plugin package adds through its entry point."""

    name = "plugin_decay"

    def build(self):
        m = ModelBuilder(self.name, version="0.1", time_units="min")
        k = m.parameter(Parameter(name="k", units="1/min", default=0.3, bounds=(0, 10), description="rate"))
        x = m.state("x", "1", initial=1.0)
        m.ode(x, -k * x)
        return m.build()

    def kpis(self, result, operating):
        return {"x_final": float(result.state("x")[-1])}
'''


def test_a_plugin_package_adds_a_model_through_its_entry_point(tmp_path, monkeypatch):
    """An installed distribution with a ``bioprocess_twin.models`` entry point (a real dist-info
    folder on sys.path, as pip would leave it) is found without editing the project."""
    (tmp_path / "bpt_plugin_demo.py").write_text(PLUGIN)
    info = tmp_path / "bpt_plugin_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bpt-plugin-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bioprocess_twin.models]\nplugin_decay = bpt_plugin_demo:PluginDecay\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        catalogue.refresh()
        assert "plugin_decay" in catalogue.names()
        run = catalogue.get("plugin_decay").run(times=[0.0, 10.0])
        assert run.kpis["x_final"] == pytest.approx(math.exp(-3.0), rel=1e-5)  # x = exp(-k t)
    finally:
        catalogue.unregister("plugin_decay")
        monkeypatch.undo()
        catalogue.refresh()
    assert "plugin_decay" not in catalogue.names()
