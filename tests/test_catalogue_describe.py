"""``catalogue.particle_processes`` and ``catalogue.describe_version``: what the particle page lists and the
form it shows for a model version, with the real models.

The calibrated set lives in a temporary models folder (``BIOPROCESS_TWIN_MODELS``) in the form
``bioprocess-twin calibrate`` saves it.
"""

from __future__ import annotations

import pytest
import yaml

from bioprocess_twin import catalogue
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.process import Process
from bioprocess_twin.core.spec import SimulationSpec

MODEL = "emulsion_homogenizer"
CODE = "1.0.0"
CALIBRATED = f"{CODE}+cal.1"
VALUES = {"C1": 0.05, "Cc": 0.5}  # code defaults 0.2 and 0.3
PARTICLES = {"emulsion_homogenizer", "liposome_microfluidic", "alum_alooh", "alum_alpo4"}


def write_set(root, version, parameters, model=MODEL, base=CODE):
    folder = root / model
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{version}.yaml").write_text(
        yaml.safe_dump(
            {
                "kind": "calibrated parameter set",
                "model": model,
                "base_version": base,
                "version": version,
                "parameters": parameters,
                "estimates": {},
                "per_batch": {},
                "provenance": {},
            }
        )
    )


@pytest.fixture
def root(tmp_path, monkeypatch):
    write_set(tmp_path, CALIBRATED, VALUES)
    monkeypatch.setenv("BIOPROCESS_TWIN_MODELS", str(tmp_path))
    return tmp_path


def test_particle_processes_are_exactly_the_emulsion_liposome_and_alum_models():
    assert set(catalogue.particle_processes()) == PARTICLES
    assert catalogue.particle_processes() == sorted(PARTICLES)
    shipped = {n for n in catalogue.names() if type(catalogue.get(n)).__module__.startswith("bioprocess_twin.")}
    assert shipped - PARTICLES == {
        "cho_fed_batch",
        "microbial_fed_batch",
        "tff_ufdf",
        "chromatography_lkm",
    }  # other tests register their own
    assert not Process.reports_distribution()


@pytest.mark.parametrize("name", sorted({"emulsion_homogenizer", "liposome_microfluidic", "cho_fed_batch"}))
def test_a_particle_process_is_one_whose_runs_report_a_size_distribution(name):
    process = catalogue.get(name)
    run = process.run()
    assert run.ok, run.result.message
    assert type(process).reports_distribution() == (run.distribution is not None) == (name in PARTICLES)


def test_the_code_version_is_the_plain_description(root):
    plain = catalogue.get(MODEL).describe()
    assert catalogue.describe_version(MODEL) == plain
    assert catalogue.describe_version(MODEL, CODE) == plain
    assert "calibrated_version" not in plain


def test_a_calibrated_version_gives_its_values_as_the_defaults(root):
    code = {p["name"]: p for p in catalogue.get(MODEL).describe()["parameters"]}
    description = catalogue.describe_version(MODEL, CALIBRATED)
    assert description["calibrated_version"] == CALIBRATED
    shown = {p["name"]: p for p in description["parameters"]}
    assert shown.keys() == code.keys()
    for name, p in shown.items():
        if name in VALUES:
            assert p["default"] == VALUES[name] and p["code_default"] == code[name]["default"] != VALUES[name]
        else:
            assert p == code[name]  # C2 and the rest keep the code's default
    assert description["inputs"] == catalogue.get(MODEL).describe()["inputs"]


def test_the_described_defaults_are_what_the_calibrated_version_runs(root):
    described = {p["name"]: p["default"] for p in catalogue.describe_version(MODEL, CALIBRATED)["parameters"]}
    by_version = catalogue.run_spec(SimulationSpec(model=MODEL, version=CALIBRATED, inputs={"pressure": 800}))
    by_values = catalogue.run_spec(SimulationSpec(model=MODEL, parameters=described, inputs={"pressure": 800}))
    code = catalogue.run_spec(SimulationSpec(model=MODEL, inputs={"pressure": 800}))
    assert by_version.kpis["z_average_nm"] == pytest.approx(by_values.kpis["z_average_nm"], rel=1e-9)
    assert by_version.kpis["z_average_nm"] > 1.05 * code.kpis["z_average_nm"]


def test_an_unusable_version_is_an_error_on_the_version_field(root):
    write_set(root, f"{CODE}+cal.2", {"C1": 50.0})  # outside the bounds of C1
    for version, words in ((f"{CODE}+cal.2", "C1"), ("9.9.9+cal.1", "unknown version")):
        with pytest.raises(ParameterError) as info:
            catalogue.describe_version(MODEL, version)
        assert [f for f, _ in info.value.errors] == ["version"] and words in info.value.errors[0][1]
    with pytest.raises(KeyError):
        catalogue.describe_version("no_such_model")
