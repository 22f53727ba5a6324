"""An uploaded file in place of one file of a tag map (calibration/uploads.py), the fit choices of a spec
(calibration/choices.py), the import-report summary and the JSON form of a calibration result, with the
shipped CHO demo records and a tiny real calibration."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from bioprocess_twin import catalogue
from bioprocess_twin.calibration.choices import fit_choices, with_choices
from bioprocess_twin.calibration.dataset import load_batch_records
from bioprocess_twin.calibration.run import calibrate
from bioprocess_twin.calibration.spec import load_calibration_spec, parse_calibration_spec, resolve_model
from bioprocess_twin.calibration.tagmap import TagMap, load_tag_map
from bioprocess_twin.calibration.uploads import replace_tag_map_file, safe_file_name, tag_map_files
from bioprocess_twin.core import ModelBuilder, Parameter
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.process import Process
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import SpecError

SPEC = example_path("batch_records", "cho", "calibration.yaml")


@pytest.fixture(scope="module")
def cho():
    spec, base = load_calibration_spec(SPEC)
    return spec, base, (base / spec.data).resolve(), resolve_model(spec, base)


def broken_online(folder) -> bytes:
    """online.csv with 'sensor fault' in column DO_PV of spreadsheet row 22 (the header is row 1)."""
    lines = (folder / "online.csv").read_text().splitlines()
    header, cells = lines[0].split(","), lines[21].split(",")
    cells[header.index("DO_PV")] = "sensor fault"
    lines[21] = ",".join(cells)
    return ("\n".join(lines) + "\n").encode()


def digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


# -- the upload ------------------------------------------------------------------------------------
def test_an_upload_replaces_one_file_in_a_valid_copy_of_the_tag_map(cho, tmp_path):
    spec, base, tag_map, model = cho
    before = digest(tag_map.parent)
    copy = replace_tag_map_file(
        tag_map, "online.csv", "online broken.csv", broken_online(tag_map.parent), tmp_path / "session"
    )
    assert digest(tag_map.parent) == before  # the shipped records are untouched
    assert isinstance(copy.parsed, TagMap) and copy.file == "online_broken.csv" and copy.replaces == "online.csv"
    assert copy.tag_map == tmp_path / "session" / tag_map.name and copy.tag_map.is_file()
    reread = load_tag_map(copy.tag_map)
    assert [f.path for f in reread.files] == ["online_broken.csv", "offline.xlsx"]
    assert reread.tags == load_tag_map(tag_map).tags
    assert sorted(p.name for p in (tmp_path / "session").iterdir()) == sorted(
        ["online_broken.csv", "offline.xlsx", tag_map.name]
    )

    records = load_batch_records(copy.tag_map, model=model)
    hit = [i for i in records.report.issues if i.file == "online_broken.csv" and i.row == 22 and i.column == "DO_PV"]
    assert len(hit) == 1 and hit[0].severity == "error" and "sensor fault" in hit[0].message
    assert hit[0].batch == "B01" and "B01" in records.report.batches_with_errors()
    shipped = load_batch_records(tag_map, model=model)
    assert list(records.batches) == list(shipped.batches)


def test_a_csv_in_place_of_the_excel_sheet_drops_the_sheet(cho, tmp_path):
    spec, base, tag_map, model = cho
    sheet = next(f.sheet for f in load_tag_map(tag_map).files if f.path == "offline.xlsx")
    csv = pd.read_excel(tag_map.parent / "offline.xlsx", sheet_name=sheet).to_csv(index=False).encode()
    copy = replace_tag_map_file(tag_map, "offline.xlsx", "assays.csv", csv, tmp_path)
    entry = next(f for f in copy.parsed.files if f.path == "assays.csv")
    assert entry.sheet is None and entry.shape == "long"
    records, shipped = load_batch_records(copy.tag_map, model=model), load_batch_records(tag_map, model=model)
    assert records.report.values_used == shipped.report.values_used


def test_names_are_made_safe_and_kept_inside_the_folder(cho, tmp_path):
    spec, base, tag_map, model = cho
    data = (tag_map.parent / "online.csv").read_bytes()
    copy = replace_tag_map_file(tag_map, "online.csv", "../../outside.csv", data, tmp_path / "s1")
    assert copy.file == "outside.csv" and (tmp_path / "s1" / "outside.csv").is_file()
    assert not (tmp_path / "outside.csv").exists()
    clash = replace_tag_map_file(
        tag_map, "online.csv", "offline.xlsx", (tag_map.parent / "offline.xlsx").read_bytes(), tmp_path / "s2"
    )
    assert clash.file == "upload_offline.xlsx"  # the other file of the tag map keeps its name
    assert safe_file_name("B01 run (final).csv") == "B01_run__final_.csv" and safe_file_name(None) == "upload"
    assert safe_file_name("C:\\plant\\runs.csv") == "runs.csv"


def test_an_upload_that_cannot_be_used_names_the_problem(cho, tmp_path):
    spec, base, tag_map, model = cho
    with pytest.raises(ParameterError) as info:
        replace_tag_map_file(tag_map, "nothing.csv", "a.csv", b"x", tmp_path)
    assert info.value.errors[0][0] == "replaces" and "online.csv" in info.value.errors[0][1]
    with pytest.raises(ParameterError) as info:
        replace_tag_map_file(tag_map, "online.csv", "notes.txt", b"x", tmp_path)
    assert info.value.errors[0][0] == "notes.txt"
    assert tag_map_files(tag_map) == ["online.csv", "offline.xlsx"]


# -- the choices -----------------------------------------------------------------------------------
def test_fit_choices_list_the_specs_unknowns_and_the_models_other_parameters(cho):
    spec, base, tag_map, model = cho
    c = fit_choices(spec, base)
    assert [n for n, _ in c.unknowns] == ["mu_max", "Y_x_glc", "kd_amm", "q_p", "viable_cells(0)"]
    assert dict(c.unknowns)["viable_cells(0)"] == "viable_cells at t = 0 (one per batch)"
    assert set(c.other_parameters) == set(model.parameters.names) - {"mu_max", "Y_x_glc", "kd_amm", "q_p"}
    assert c.files == ["online.csv", "offline.xlsx"] and c.profiles == ["mu_max"]
    assert "cho_fed_batch" in c.about and spec.data in c.about


def test_with_choices_gives_a_valid_spec_with_only_the_picks(cho, tmp_path):
    spec, base, tag_map, model = cho
    extra = fit_choices(spec, base).other_parameters[0]
    picked = with_choices(spec, base, ["mu_max", "viable_cells(0)"], [extra], ["B06"], ["B08"], profiles=True)
    assert [p.name for p in picked.parameters] == ["mu_max", extra]
    assert [s.state for s in picked.initial_states] == ["viable_cells"]
    assert picked.held_out == ["B06"] and picked.exclude == ["B08"] and picked.profiles == ["mu_max"]
    assert picked.save is None and picked.data == str(tag_map)
    assert parse_calibration_spec(picked.model_dump(mode="json")) == picked  # valid as a spec file
    assert with_choices(spec, base, ["q_p"], profiles=True).profiles == []  # mu_max is no longer fitted
    assert with_choices(spec, base, ["mu_max"], data=tmp_path / "t.yaml").data == str(tmp_path / "t.yaml")
    with pytest.raises(SpecError) as info:
        with_choices(spec, base, [])
    assert any(f == "parameters" or "nothing to estimate" in m for f, m in info.value.errors)


# -- the report and the result ---------------------------------------------------------------------
def test_the_import_report_counts_dropped_values_and_batches_with_errors(cho):
    spec, base, tag_map, model = cho
    report = load_batch_records(tag_map, model=model).report
    doc = report.to_dict()
    assert doc["values_dropped"] == report.values_dropped == sum(report.dropped.values()) > 0
    assert doc["batches_with_errors"] == report.batches_with_errors() == ["B08"]
    json.dumps(doc)


class ProductDecay(Process):
    """dx/dt = -k1 k2 x: only the product k1 k2 can be estimated, so the intervals of k1 and k2 are unbounded."""

    name = "uploads_test_product_decay"

    def build(self):
        m = ModelBuilder(self.name, version="1", time_units="h")
        k1 = m.parameter(Parameter(name="k1", units="1/h", default=0.5, bounds=(0.01, 10)))
        k2 = m.parameter(Parameter(name="k2", units="1", default=2.0, bounds=(0.01, 10)))
        x = m.state("x", "g/L", 1.0)
        m.ode(x, -k1 * k2 * x)
        return m.build()


@pytest.fixture
def product_decay():
    catalogue.register(ProductDecay)
    yield ProductDecay.name
    catalogue.unregister(ProductDecay.name)


def test_the_json_of_a_result_keeps_unbounded_intervals_as_text_and_gives_units(tmp_path, product_decay):
    t = np.arange(0.5, 4.5, 0.5)
    pd.DataFrame({"batch": "A", "hours": t, "X": np.exp(-1.0 * t)}).to_csv(tmp_path / "runs.csv", index=False)
    (tmp_path / "tagmap.yaml").write_text(
        yaml.safe_dump(
            {
                "kind": "tag map",
                "model": product_decay,
                "files": [
                    {
                        "path": "runs.csv",
                        "shape": "wide",
                        "batch_column": "batch",
                        "time_column": "hours",
                        "time_format": "elapsed",
                        "elapsed_units": "h",
                    }
                ],
                "tags": {"X": {"output": "x", "units": "g/L"}},
            }
        )
    )
    spec = parse_calibration_spec(
        {
            "model": product_decay,
            "data": "tagmap.yaml",
            "objective": "wls",
            "parameters": [{"name": "k1"}, {"name": "k2"}],
            "error_models": {"x": {"kind": "constant", "a": 0.01}},
        }
    )
    result = calibrate(spec, tmp_path)
    raw = {r["label"]: r for r in result.to_dict()["estimates"]}
    assert any(math.isinf(v) for r in raw.values() for v in (r["ci_low"], r["ci_high"]))
    doc = result.to_json()
    json.dumps(doc, allow_nan=False)  # plain JSON: no NaN, no infinity
    shown = {r["label"]: r for r in doc["estimates"]}
    for label, r in raw.items():
        for key in ("ci_low", "ci_high"):
            if math.isinf(r[key]):
                assert shown[label][key] == ("inf" if r[key] > 0 else "-inf")
    assert doc["units"] == {"x": "g/L", "time": "h"} == result.units()
    assert shown["k1"]["units"] == "1/h"


def test_same_named_files_in_two_folders_stay_apart_in_the_copy(tmp_path):
    for folder, value in (("a", 1.0), ("b", 2.0)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "runs.csv").write_text(f"batch,hours,X\nA,0,{value}\n")
    (tmp_path / "tagmap.yaml").write_text(
        yaml.safe_dump(
            {"kind": "tag map", "files": [{"path": "a/runs.csv"}, {"path": "b/runs.csv"}, {"path": "c.csv"}]}
        )
    )
    (tmp_path / "c.csv").write_text("batch,hours,X\nA,0,3\n")
    out = tmp_path / "copy"
    with pytest.raises((ParameterError, SpecError)):  # the toy map is not a valid tag map, but the copy is made
        replace_tag_map_file(tmp_path / "tagmap.yaml", "c.csv", "new.csv", b"batch,hours,X\nA,0,4\n", out)
    copied = sorted(p.name for p in out.glob("*.csv"))
    assert copied == ["1_runs.csv", "new.csv", "runs.csv"]
    assert {(out / n).read_text().strip().splitlines()[-1] for n in ("runs.csv", "1_runs.csv")} == {
        "A,0,1.0",
        "A,0,2.0",
    }


def test_a_file_entry_without_a_path_is_named(tmp_path):
    (tmp_path / "tagmap.yaml").write_text(yaml.safe_dump({"kind": "tag map", "files": [{"path": "x.csv"}, {}]}))
    with pytest.raises(ParameterError) as err:
        replace_tag_map_file(tmp_path / "tagmap.yaml", "x.csv", "y.csv", b"", tmp_path / "copy")
    assert [f for f, _ in err.value.errors] == ["files.1.path"]


@pytest.mark.parametrize("version", ["../escape", "a/b", "..", "", "x" * 101])
def test_a_save_version_that_is_not_a_plain_name_is_refused(version):
    spec = {
        "model": "cho_fed_batch",
        "data": "tagmap.yaml",
        "parameters": [{"name": "mu_max"}],
        "save": {"version": version},
    }
    with pytest.raises(SpecError) as err:
        parse_calibration_spec(spec)
    assert any(f.startswith("save.version") for f, _ in err.value.errors), err.value.errors
