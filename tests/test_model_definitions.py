"""The shipped model definitions match the code: a changed interface needs a new model version."""

import pytest
import yaml

from bioprocess_twin import catalogue
from bioprocess_twin.core.definitions import definition_drift, read_definition, write_definition

BUILTIN = [n for n in catalogue.names() if type(catalogue.get(n)).__module__.startswith("bioprocess_twin.processes")]


def test_every_builtin_model_is_covered():
    assert {
        "emulsion_homogenizer",
        "liposome_microfluidic",
        "alum_alooh",
        "alum_alpo4",
        "cho_fed_batch",
        "microbial_fed_batch",
        "tff_ufdf",
        "chromatography_lkm",
    } <= set(BUILTIN)


@pytest.mark.parametrize("name", BUILTIN)
def test_shipped_definition_matches_the_code(name):
    assert definition_drift(catalogue.get(name)) is None


def test_a_changed_default_or_a_missing_file_is_reported(tmp_path):
    process = catalogue.get("liposome_microfluidic")
    assert "missing" in definition_drift(process, tmp_path)
    path = write_definition(process, tmp_path)
    assert definition_drift(process, tmp_path) is None
    doc = read_definition(path)
    doc["parameters"][0]["default"] *= 2
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert "bump the model version" in definition_drift(process, tmp_path)
