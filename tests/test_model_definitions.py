"""The shipped model definitions match the code: a changed interface needs a new model version."""
import pytest
import yaml

from bioprocess_twin.core import registry
from bioprocess_twin.core.definitions import definition, definition_path, read_definition, write_definition

BUILTIN = [n for n in registry.names() if type(registry.get(n)).__module__.startswith("bioprocess_twin.units")]


def test_every_builtin_model_is_covered():
    assert {"emulsion_homogenizer", "liposome_microfluidic", "alum_alooh", "alum_alpo4"} <= set(BUILTIN)


@pytest.mark.parametrize("name", BUILTIN)
def test_shipped_definition_matches_the_code(name):
    process = registry.get(name)
    path = definition_path(process)
    assert path.exists(), f"{path} missing: run `bioprocess-twin models --write-definitions models/`"
    shipped = read_definition(path)
    current = yaml.safe_load(yaml.safe_dump(definition(process), sort_keys=False))
    assert shipped == current, (f"{name} {process.version}: the declared interface differs from {path}; "
                                "bump the model version and write a new definition")


def test_a_changed_default_is_detected(tmp_path):
    process = registry.get("liposome_microfluidic")
    path = write_definition(process, tmp_path)
    doc = read_definition(path)
    doc["parameters"][0]["default"] = doc["parameters"][0]["default"] * 2
    assert doc != yaml.safe_load(yaml.safe_dump(definition(process), sort_keys=False))
