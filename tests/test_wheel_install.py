"""The wheel, installed in a fresh venv outside the checkout, runs from its package data alone.

The wheel is built (no build isolation, no download) from a copy of the sources, installed with
``--no-deps`` into a new venv in a temporary folder; the project's dependencies are made visible by
a ``.pth`` file naming the project venv's site-packages (that folder's own ``.pth`` files, such as
the editable install's finder, are not processed, so ``bioprocess_twin`` comes from the wheel).
Every command runs with its working directory outside the checkout and ``$BIOPROCESS_TWIN_MODELS``
in a temporary folder; nothing may be written into the installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import simulation_spec_files

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "bioprocess_twin", "dashboards")
SHIPPED_MODELS = {
    "emulsion_homogenizer",
    "liposome_microfluidic",
    "alum_alooh",
    "alum_alpo4",
    "cho_fed_batch",
    "microbial_fed_batch",
    "tff_ufdf",
    "chromatography_lkm",
}
SERVE_DEADLINE_S = 180


def run(args: list, cwd: Path, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def shown(res: subprocess.CompletedProcess) -> str:
    """The command, its exit code and the ends of its outputs, for assertion messages."""
    return (
        f"$ {' '.join(res.args)}\nexit {res.returncode}\n--- stdout ---\n{res.stdout[-3000:]}\n"
        f"--- stderr ---\n{res.stderr[-3000:]}"
    )


def outside_checkout(path: Path) -> bool:
    return not path.resolve().is_relative_to(ROOT)


def package_files(package: Path) -> set[str]:
    return {
        p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }


class Installed:
    """A venv holding the installed wheel, and the environment its commands run in."""

    def __init__(self, work: Path):
        self.work = work
        self.venv = work / "venv"
        self.exe = self.venv / "bin" / "bioprocess-twin"
        self.cwd = work / "run"
        self.user_models = work / "user-models"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BIOPROCESS_TWIN_"))}
        self.env["BIOPROCESS_TWIN_MODELS"] = str(self.user_models)
        self.package: Path | None = None

    def cli(self, *args, timeout: float = 900) -> subprocess.CompletedProcess:
        return run([self.exe, *args], self.cwd, self.env, timeout)

    def python(self, code: str) -> subprocess.CompletedProcess:
        return run([self.venv / "bin" / "python", "-c", code], self.cwd, self.env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    inst = Installed(tmp_path_factory.mktemp("wheel-install"))
    assert outside_checkout(inst.work), f"the temporary folder {inst.work} is inside the checkout {ROOT}"
    src, dist = inst.work / "src", inst.work / "dist"
    for name in SOURCES:  # a copy: the build leaves build/ and *.egg-info in its source tree
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(source, src / name)
    build = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, src],
        inst.work,
        os.environ,
    )
    assert build.returncode == 0, shown(build)
    wheels = list(dist.glob("bioprocess_twin-*.whl"))
    assert len(wheels) == 1, shown(build)

    venv = run([sys.executable, "-m", "venv", "--without-pip", inst.venv], inst.work, os.environ)
    assert venv.returncode == 0, shown(venv)
    install = run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            inst.venv / "bin" / "python",
            "install",
            "--no-deps",
            "--no-index",
            wheels[0],
        ],
        inst.work,
        os.environ,
    )
    assert install.returncode == 0, shown(install)
    paths = run(
        [inst.venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        inst.work,
        inst.env,
    )
    site_packages = Path(paths.stdout.strip())
    assert paths.returncode == 0 and site_packages.is_dir(), shown(paths)
    project = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site_packages / "zz-project-dependencies.pth").write_text("".join(f"{p}\n" for p in project))

    inst.cwd.mkdir()
    where = inst.python(
        "import bioprocess_twin, dashboards\nprint(bioprocess_twin.__file__)\nprint(dashboards.__file__)"
    )
    assert where.returncode == 0, shown(where)
    for line in where.stdout.split():
        assert Path(line).resolve().is_relative_to(site_packages.resolve()), shown(where)
    inst.package = Path(where.stdout.split()[0]).parent
    return inst


@pytest.fixture(scope="module")
def examples(installed) -> Path:
    folder = installed.cwd / "examples"
    res = installed.cli("examples", "--copy", folder, "--json")
    assert res.returncode == 0, shown(res)
    assert json.loads(res.stdout)["files"], shown(res)
    return folder


def test_the_installed_package_carries_its_data(installed):
    assert (installed.package / "models" / "emulsion_homogenizer" / "1.0.0.yaml").is_file()
    assert (installed.package / "models" / "lines" / "adjuvant_only" / "1.0.0.yaml").is_file()
    assert (installed.package / "examples" / "batch_records" / "cho" / "offline.xlsx").is_file()
    assert outside_checkout(installed.package)


def test_models_lists_every_shipped_model(installed):
    res = installed.cli("models", "--json")
    assert res.returncode == 0, shown(res)
    assert {m["name"] for m in json.loads(res.stdout)["models"]} == SHIPPED_MODELS, shown(res)


def test_examples_copy_then_simulate(installed, examples):
    assert (examples / "batch_records" / "emulsion" / "passes.parquet").is_file()
    again = installed.cli("examples", "--copy", examples)
    assert again.returncode == 2 and "never overwritten" in again.stderr, shown(again)
    res = installed.cli("simulate", examples / "specs" / "emulsion_homogenizer.yaml", "--json")
    assert res.returncode == 0, shown(res)
    doc = json.loads(res.stdout)
    assert doc["status"] == "ok" and doc["kpis"]["z_average_nm"] > 0, shown(res)


def test_calibrate_saves_into_the_user_folder_not_the_package(installed, examples):
    before = package_files(installed.package)
    spec = examples / "batch_records" / "cho" / "calibration.yaml"
    assert "save:" not in spec.read_text()  # as shipped the spec only reports; saving is asked here
    spec.write_text(spec.read_text() + "save: {}\n")
    res = installed.cli("calibrate", spec, "--json")
    assert res.returncode == 0, shown(res)
    doc = json.loads(res.stdout)
    saved = installed.user_models / "cho_fed_batch" / "1.0.0+cal.1.yaml"
    assert doc["status"] == "ok" and doc["saved"] == str(saved) and saved.is_file(), shown(res)
    assert package_files(installed.package) == before
    versions = installed.cli("models", "cho_fed_batch", "--json")
    assert versions.returncode == 0, shown(versions)
    assert json.loads(versions.stdout)["versions"] == ["1.0.0", "1.0.0+cal.1"], shown(versions)


def test_a_shipped_line_runs(installed):
    res = installed.cli("line", "run", "adjuvant_only", "--json", "--no-series")
    assert res.returncode == 0, shown(res)
    assert json.loads(res.stdout)["status"] == "ok", shown(res)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_demo_answers(installed):
    before = package_files(installed.package)
    port = free_port()
    folder = installed.work / "serve"
    folder.mkdir()
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        server = subprocess.Popen(
            [str(installed.exe), "serve", "--demo", "--port", str(port)],
            cwd=folder,
            env=installed.env,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        status, deadline = None, time.monotonic() + SERVE_DEADLINE_S
        while status != 200 and server.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/plan", timeout=10) as page:
                    status = page.status
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(1)
        logs = (
            f"exit {server.poll()}\n--- stdout ---\n{out.read_text()[-3000:]}\n"
            f"--- stderr ---\n{err.read_text()[-3000:]}"
        )
        assert status == 200, f"the dashboard did not answer 200 within {SERVE_DEADLINE_S} s\n{logs}"
        assert "demo data not loaded" not in err.read_text(), logs
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout", timeout=30) as layout:
            assert layout.status == 200
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
    with sqlite3.connect(folder / ".bpt" / "runs.db") as db:
        authors = [row[0] for row in db.execute("select author from run_records")]
    assert authors == ["demo"] * len(simulation_spec_files(example_path("specs"))), authors  # every example seeded
    assert package_files(installed.package) == before
