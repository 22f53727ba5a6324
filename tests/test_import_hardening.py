"""Batch-record import never crashes and never accepts impossible data (issue 14).

Each test writes a small real file that used to crash the importer or pass impossible data through in
silence, and checks the issue it now gives (file, spreadsheet row, column), the value counted as dropped
and the balance of the report: values read = used + dropped + in rejected files.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from bioprocess_twin import catalogue
from bioprocess_twin.calibration.dataset import load_batch_records
from bioprocess_twin.calibration.tagmap import conversion, parse_tag_map, unit_quantity
from bioprocess_twin.calibration.uploads import replace_tag_map_file
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import SpecError
from bioprocess_twin.core.units import UnitsError

DO = {"DO": {"output": "DO", "units": "%"}}
WIDE = {"path": "a.csv", "shape": "wide", "time_column": "t"}
LONG = {"path": "a.csv", "shape": "long", "time_column": "t", "unit_column": "unit"}


def tag_map(folder, files, tags, model="cho_fed_batch", **extra) -> str:
    path = folder / "tagmap.yaml"
    doc = {"kind": "tag map", "model": model, "files": files, "tags": tags, **extra}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def csv(folder, text: str, name: str = "a.csv"):
    (folder / name).write_text(text)


def issues_at(records, file, row, column, severity=None):
    return [
        i
        for i in records.report.issues
        if (i.file, i.row, i.column) == (file, row, column) and severity in (None, i.severity)
    ]


def one(records, severity, file, row, column) -> str:
    found = issues_at(records, file, row, column, severity)
    assert len(found) == 1, f"{severity} at {file}:{row}:{column} not found once in {records.report.issues}"
    return found[0].message


def balanced(records) -> bool:
    r = records.report
    assert r.values_read == r.values_used + sum(r.dropped.values()) + r.values_in_rejected_files, r.to_dict()
    return r.balanced


# -- time stamps --------------------------------------------------------------------------------------
def test_times_after_2262_and_before_1900_are_errors_not_wrapped(tmp_path):
    csv(
        tmp_path,
        "batch,t,DO\nB1,2026-01-01T00:00,40\nB1,2300-01-01T00:00,41\nB1,1500-06-01T00:00,42\nB1,0001-01-01,43\n",
    )
    records = load_batch_records(tag_map(tmp_path, [WIDE], DO))
    assert "'2300-01-01T00:00' is outside the plausible window 1900-01-01 .. 2200-01-01" in one(
        records, "error", "a.csv", 3, "t"
    )
    assert records.report.dropped == {"implausible_time": 3} and balanced(records)
    assert records.batches["B1"].observations.value.tolist() == [40.0]
    # Parquet date-time cells at microsecond resolution: a naive cast to nanoseconds would wrap around
    times = pa.array(
        [np.datetime64("2026-01-01", "us"), np.datetime64("1500-01-01", "us"), np.datetime64("2300-01-01", "us")]
    )
    pq.write_table(pa.table({"batch": ["B1"] * 3, "t": times, "DO": [40.0, 41.0, 42.0]}), tmp_path / "a.parquet")
    records = load_batch_records(tag_map(tmp_path, [{**WIDE, "path": "a.parquet"}], DO))
    assert "'1500-01-01 00:00:00' is outside the plausible window" in one(records, "error", "a.parquet", 3, "t")
    assert records.batches["B1"].observations.value.tolist() == [40.0] and balanced(records)


def test_now_today_yesterday_tomorrow_are_refused_in_any_case(tmp_path):
    csv(tmp_path, "batch,t,DO\nB1,2026-01-01T00:00,40\nB1,now,41\nB1, Today ,42\nB1,YESTERDAY,43\nB1,tomorrow,44\n")
    records = load_batch_records(tag_map(tmp_path, [WIDE], DO))
    msg = one(records, "error", "a.csv", 3, "t")
    assert "'now' is not a time stamp" in msg and "4 values dropped (rows 3, 4, 5, 6)" in msg
    assert records.report.dropped == {"bad_time": 4} and balanced(records)
    assert records.batches["B1"].end == 0.0


def test_elapsed_times_must_be_finite_and_plausible(tmp_path):
    csv(tmp_path, "batch,h,DO\nB1,0,40\nB1,1e9,41\nB1,inf,42\nB1,1e308,43\n")
    files = [{"path": "a.csv", "shape": "wide", "time_column": "h", "time_format": "elapsed", "elapsed_units": "day"}]
    records = load_batch_records(tag_map(tmp_path, files, DO))
    assert "beyond any plausible batch" in one(records, "error", "a.csv", 3, "h")
    assert "cannot read 'inf'" in one(records, "error", "a.csv", 4, "h")
    assert records.report.dropped == {"implausible_time": 2, "bad_time": 1} and balanced(records)


def test_date_times_spanning_centuries_in_one_batch_are_refused(tmp_path):
    csv(tmp_path, "batch,t,DO\nB1,1950-01-01T00:00,40\nB1,2150-01-01T00:00,41\n")
    records = load_batch_records(tag_map(tmp_path, [WIDE], DO))
    assert "not a plausible batch" in one(records, "error", "a.csv", 3, "DO")
    assert records.report.dropped == {"implausible_time": 1} and balanced(records)


def test_mixed_utc_offsets_in_a_batch_are_reported(tmp_path):
    csv(
        tmp_path,
        "batch,t,DO\nB1,2026-01-01T08:00+01:00,40\nB1,2026-01-01T09:00,41\nB2,2026-03-29T01:00+01:00,40\n"
        "B2,2026-03-29T03:30+02:00,41\n",
    )
    records = load_batch_records(tag_map(tmp_path, [WIDE], DO))
    msg = one(records, "error", "a.csv", 3, "t")
    assert "batch B1 mixes UTC offsets" in msg and "+01:00 (row 2); no offset (row 3)" in msg
    assert "batch B2 mixes UTC offsets" in one(records, "warning", "a.csv", 5, "t")  # summer time: converted to UTC
    assert records.batches["B2"].observations.time.tolist() == [0.0, 1.5]  # 00:00 and 01:30 UTC
    assert balanced(records)


# -- units --------------------------------------------------------------------------------------------
def test_an_offset_unit_against_a_mass_concentration_names_the_tag(tmp_path):
    csv(tmp_path, "batch,t,GLC\nB1,2026-01-01T00:00,5\n")
    with pytest.raises(SpecError) as err:
        load_batch_records(tag_map(tmp_path, [WIDE], {"GLC": {"output": "titre", "units": "degC"}}))
    assert dict(err.value.errors)["tags.GLC.units"].startswith("'degC' cannot be converted to 'g/L'")
    with pytest.raises(SpecError) as err:  # with a molar mass, pint's offset-unit arithmetic used to escape
        load_batch_records(
            tag_map(tmp_path, [WIDE], {"GLC": {"output": "glucose_conc", "units": "degC", "molar_mass": 180.156}})
        )
    assert "tags.GLC.units" in dict(err.value.errors)


@pytest.mark.parametrize("unit", ["1/0", "10**10**10", "m**1e400", "degC", "((", "L" * 150, "0/mL", "2 degC"])
def test_row_units_pint_cannot_read_or_convert_are_errors_on_the_row(tmp_path, unit):
    csv(tmp_path, f'batch,t,tag,value,unit\nB1,2026-01-01T00:00,DO,40,%\nB1,2026-01-01T01:00,DO,41,"{unit}"\n')
    records = load_batch_records(tag_map(tmp_path, [LONG], DO))
    assert "does not convert to the model's output 'DO'" in one(records, "error", "a.csv", 3, "unit")
    assert records.report.dropped == {"bad_units": 1} and balanced(records)


def test_unit_text_never_reaches_pints_expression_evaluator():
    with pytest.raises(UnitsError):
        unit_quantity("10**10**10")  # used to compute a number with ten billion digits
    assert unit_quantity("1e6/mL").magnitude == 1e6 and unit_quantity("1e6 cells/mL").magnitude == 1e6
    with pytest.raises(UnitsError, match="offset unit"):
        unit_quantity("10 degC")
    with pytest.raises(UnitsError):
        conversion("percent", "degC")  # pint's OffsetUnitCalculusError used to escape


# -- file content -------------------------------------------------------------------------------------
def test_parquet_list_and_struct_cells_are_errors_on_their_cells(tmp_path):
    table = pa.table(
        {
            "batch": ["B1", "B1", "B1"],
            "t": ["2026-01-01T00:00", "2026-01-01T01:00", "2026-01-01T02:00"],
            "DO": pa.array([[1.0, 2.0], [3.0], [4.0]]),
            "X": pa.array([{"a": 1}, {"a": 2}, {"a": 3}]),
        }
    )
    pq.write_table(table, tmp_path / "a.parquet")
    records = load_batch_records(tag_map(tmp_path, [{**WIDE, "path": "a.parquet"}], DO))
    assert "not a number: '[1.0, 2.0]', '[3.0]', '[4.0]'" in one(records, "error", "a.parquet", 2, "DO")
    assert "not in the tag map" in one(records, "warning", "a.parquet", 1, "X")
    assert records.report.dropped == {"non_numeric": 3, "unmapped": 3} and balanced(records)


def test_a_file_name_too_long_for_the_file_system_rejects_that_file_only(tmp_path):
    csv(tmp_path, "batch,t,DO\nB1,2026-01-01T00:00,40\n")
    long_name = "x" * 300 + ".csv"
    records = load_batch_records(tag_map(tmp_path, [WIDE, {**WIDE, "path": long_name}], DO))
    assert "File name too long" in one(records, "error", long_name, None, None)
    assert records.report.rejected == [long_name] and records.report.files_rejected == 1
    assert records.report.values_used == 1 and balanced(records)


def test_one_bad_byte_does_not_reject_the_file(tmp_path):
    (tmp_path / "a.csv").write_bytes(
        b"batch,t,DO\nB1,2026-01-01T00:00,40\nB1,2026-01-01T01:00,4\xff1\nB1,2026-01-01T02:00,42\n"
    )
    records = load_batch_records(tag_map(tmp_path, [WIDE], DO))
    assert "not valid UTF-8 (first at row 3)" in one(records, "warning", "a.csv", 3, None)
    assert "not a number: '4\xff1'" in one(records, "error", "a.csv", 3, "DO")  # read as Windows-1252
    assert records.batches["B1"].observations.value.tolist() == [40.0, 42.0] and balanced(records)
    (tmp_path / "a.csv").write_bytes("batch,t,DO\nB1,2026-01-01T00:00,40\n".encode("utf-16"))
    assert load_batch_records(tmp_path / "tagmap.yaml").report.values_used == 1


def test_a_malformed_csv_line_is_left_out_with_its_row(tmp_path):
    csv(
        tmp_path,
        'batch,t,DO,X\nB1,2026-01-01T00:00,40,1\nB1,2026-01-01T01:00,41,5,6\nB1,"2026-01-01T02:00",42,\n\nB1,2026-01-01T03:00,43\n',
    )
    records = load_batch_records(tag_map(tmp_path, [WIDE], DO))
    assert "1 row with more fields than the header's 4 (row 3)" in one(records, "error", "a.csv", 3, None)
    assert records.batches["B1"].observations.value.tolist() == [40.0, 42.0, 43.0]
    assert records.batches["B1"].observations.source.tolist()[-1] == "a.csv:6:DO"  # the line number, blank lines too
    assert records.report.dropped == {"malformed_row": 2, "unmapped": 1} and balanced(records)


def test_a_repeated_column_name_reads_the_first(tmp_path):
    csv(tmp_path, "batch,t,DO,DO\nB1,2026-01-01T00:00,40,99\n")
    records = load_batch_records(tag_map(tmp_path, [WIDE], DO))
    assert "appears 2 times (columns 3, 4); only the first is read" in one(records, "error", "a.csv", 1, "DO")
    assert records.batches["B1"].observations.value.tolist() == [40.0]
    assert records.report.dropped == {"duplicate_column": 1} and balanced(records)


# -- impossible values --------------------------------------------------------------------------------
def test_model_bounds_apply_to_tags_without_a_range(tmp_path):
    csv(
        tmp_path,
        "batch,t,TEMP,PH,V0,DO\nB1,2026-01-01T00:00,-300,-5,-2,40\nB2,2026-01-01T00:00,37,7,1e300,-1\n"
        "B3,2026-01-01T00:00,37,7,2,40\n",
    )
    tags = {
        "TEMP": {"input": "temperature", "units": "degC"},
        "PH": {"input": "pH", "units": "1"},
        "V0": {"initial": "V", "units": "L"},
        "DO": {"output": "DO", "units": "%"},
    }
    records = load_batch_records(tag_map(tmp_path, [WIDE], tags))
    model = catalogue.get("cho_fed_batch").model
    assert "physically impossible (from -300 to -300 degC)" in one(records, "warning", "a.csv", 2, "TEMP")
    assert "-5" in one(records, "warning", "a.csv", 2, "PH")
    msg = one(records, "warning", "a.csv", 2, "V0")
    assert "2 values physically impossible" in msg and "1e+300" in msg
    assert records.report.dropped == {"outside_model_bounds": 5} and balanced(records)
    assert "V" not in records.batches["B1"].initial and "V" not in records.batches["B2"].initial
    assert records.batches["B3"].initial == {"V": 2.0}
    lo, hi = model.bounds_of("temperature")
    assert all(lo <= v <= hi for _, v in records.batches["B2"].inputs["temperature"])
    assert "are two columns swapped" in one(records, "warning", "a.csv", 1, "V0")  # 2 of its 3 values


def test_a_temperature_below_absolute_zero_is_impossible_even_with_a_wide_range(tmp_path):
    rows = "".join(f"E1,{k},T_FEED,{t},degC\n" for k, t in enumerate([20.0, -300.0]))
    csv(tmp_path, "batch,pass,tag,value,unit\n" + rows)
    files = [{**LONG, "time_column": "pass", "time_format": "elapsed", "elapsed_units": "1"}]
    tags = {"T_FEED": {"initial": "T", "units": "degC", "range": [-500, 500]}}
    records = load_batch_records(tag_map(tmp_path, files, tags, model="emulsion_homogenizer"))
    assert "physically impossible" in one(records, "warning", "a.csv", 3, "value")
    assert records.batches["E1"].initial == {"T": pytest.approx(293.15)} and balanced(records)


# -- columns that look wrong --------------------------------------------------------------------------
def test_swapped_and_implausible_columns_give_warnings_naming_the_column(tmp_path):
    csv(tmp_path, "batch,t,DO\nB1,40,2026-01-01T00:00\nB1,41,2026-01-01T01:00\n")
    records = load_batch_records(tag_map(tmp_path, [WIDE], DO))
    assert "holds numbers, not date-times" in one(records, "warning", "a.csv", 1, "t")
    assert "holds date-times, not values" in one(records, "warning", "a.csv", 1, "DO")
    csv(tmp_path, "batch,t,tag,value,unit\nB1,2026-01-01T00:00,DO,%,40\nB1,2026-01-01T01:00,DO,%,41\n")
    records = load_batch_records(tag_map(tmp_path, [LONG], DO))
    assert "are the two swapped" in one(records, "warning", "a.csv", 1, "value")
    files = [{"path": "a.csv", "shape": "wide", "time_column": "t", "time_format": "elapsed"}]
    csv(tmp_path, "batch,t,DO\nB1,2026-01-01T00:00,40\nB1,2026-01-01T01:00,41\n")
    records = load_batch_records(tag_map(tmp_path, files, DO))
    assert "use time_format: datetime" in one(records, "warning", "a.csv", 1, "t")


def test_a_header_only_file_is_a_warning_and_a_rejected_file_is_counted(tmp_path):
    csv(tmp_path, "batch,t,DO\n")
    csv(tmp_path, "batch,DO\nB1,40\nB1,41\n", "b.csv")
    (tmp_path / "c.parquet").write_bytes(b"not parquet")
    files = [WIDE, {**WIDE, "path": "b.csv"}, {**WIDE, "path": "c.parquet"}]
    records = load_batch_records(tag_map(tmp_path, files, DO))
    assert "header but no data rows" in one(records, "warning", "a.csv", 1, None)
    assert "missing column 't'" in one(records, "error", "b.csv", 1, "t")
    assert "cannot read the file" in one(records, "error", "c.parquet", None, None)
    r = records.report
    assert r.rejected == ["b.csv", "c.parquet"] and r.rows_in_rejected_files == 2 and r.values_in_rejected_files == 2
    assert r.values_read == 2 and r.values_used == 0 and balanced(records)
    assert {"values_read", "values_in_rejected_files", "files_rejected", "rows_in_rejected_files"} <= set(r.to_dict())


@pytest.mark.parametrize("name", ["cho", "emulsion"])
def test_the_counts_of_the_shipped_demo_records_balance(name):
    report = load_batch_records(example_path("batch_records", name, "tagmap.yaml")).report
    doc = report.to_dict()
    assert doc["balanced"] and doc["values_read"] == doc["values_used"] + doc["values_dropped"] > 0
    assert doc["values_in_rejected_files"] == 0 and doc["files_rejected"] == 0
    json.dumps(doc, allow_nan=False)


# -- the tag map ------------------------------------------------------------------------------------
BASE = {"kind": "tag map", "model": "cho_fed_batch", "files": [WIDE], "tags": DO}


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"tags": {"DO": DO["DO"], " do ": DO["DO"]}}, "tags. do ", "the same tag as 'DO'"),
        ({"tags": {"DO": DO["DO"], "t": DO["DO"]}}, "tags.t", "time column"),
        ({"tags": {"DO": DO["DO"], "": DO["DO"]}}, "tags.", "cannot be empty"),
        ({"files": [WIDE, {**WIDE, "path": "./a.csv"}]}, "files[1].path", "the same file as files[0]"),
        ({"files": [{**LONG, "value_column": "t"}]}, "files[0].value_column", "already the time_column"),
    ],
)
def test_a_column_or_tag_read_twice_is_refused_naming_the_field(change, field, words):
    with pytest.raises(SpecError) as err:
        parse_tag_map({**BASE, **change}, "tm.yaml")
    assert words in dict(err.value.errors).get(field, ""), err.value.errors


def test_a_duplicate_tag_key_in_the_yaml_is_refused(tmp_path):
    (tmp_path / "tagmap.yaml").write_text(
        "kind: tag map\nmodel: cho_fed_batch\nfiles: [{path: a.csv, shape: wide}]\n"
        "tags:\n  DO: {output: DO, units: '%'}\n  DO: {output: DO, units: percent}\n"
    )
    with pytest.raises(SpecError, match="duplicate"):
        load_batch_records(tmp_path / "tagmap.yaml")


# -- paths ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["../outside.csv", "/etc/outside.csv", "sub/../../outside.csv", "link.csv"])
def test_tag_map_paths_stay_in_its_folder_unless_the_caller_opts_in(tmp_path, path):
    folder = tmp_path / "records"
    folder.mkdir()
    csv(tmp_path, "batch,t,DO\nSECRET,2026-01-01T00:00,1\n", "outside.csv")
    (folder / "link.csv").symlink_to(tmp_path / "outside.csv")
    with pytest.raises(SpecError) as err:
        load_batch_records(tag_map(folder, [{**WIDE, "path": path}], DO))
    assert [f for f, _ in err.value.errors] == ["files[0].path"]
    if path != "/etc/outside.csv":
        opened = load_batch_records(folder / "tagmap.yaml", allow_outside=True)
        assert list(opened.batches) == ["SECRET"]


def test_an_upload_copy_refuses_a_tag_map_path_out_of_its_folder(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    csv(tmp_path, "secret\n", "outside.csv")
    csv(folder, "batch,t,DO\nB1,2026-01-01T00:00,1\n")
    files = [WIDE, {**WIDE, "path": "../outside.csv"}]
    with pytest.raises(ParameterError) as err:
        replace_tag_map_file(tag_map(folder, files, DO), "a.csv", "new.csv", b"batch,t,DO\n", tmp_path / "copy")
    assert [f for f, _ in err.value.errors] == ["files.1.path"]
    assert not (tmp_path / "copy").exists()  # nothing written
    copy = replace_tag_map_file(
        folder / "tagmap.yaml", "a.csv", "new.csv", b"batch,t,DO\n", tmp_path / "trusted", allow_outside=True
    )
    assert (copy.folder / "outside.csv").read_text() == "secret\n"


def test_a_long_file_with_no_problems_still_imports_as_before(tmp_path):
    frame = pd.DataFrame(
        {"batch": "B1", "t": ["2026-01-01T00:00", "2026-01-01T01:00"], "tag": "DO", "value": [40.0, 41.0], "unit": "%"}
    )
    frame.to_csv(tmp_path / "a.csv", index=False)
    records = load_batch_records(tag_map(tmp_path, [LONG], DO))
    assert records.report.ok and records.report.issues == [] and balanced(records)
    assert records.batches["B1"].observations.value.tolist() == [40.0, 41.0]


def test_an_extra_field_on_the_first_row_does_not_shift_the_columns(tmp_path):
    csv(tmp_path, "batch,t,DO\nB1,2026-01-01T00:00,40,5\nB1,2026-01-01T01:00,41\n")
    records = load_batch_records(tag_map(tmp_path, [WIDE], DO))
    assert "more fields than the header's 3 (row 2)" in one(records, "error", "a.csv", 2, None)
    assert records.batches["B1"].observations.value.tolist() == [41.0] and balanced(records)


def test_a_phase_marker_cell_of_white_space_is_empty_and_not_a_value(tmp_path):
    csv(tmp_path, 'batch,t,DO,PHASE,NOTE\nB1,2026-01-01T00:00,40,batch,x\nB1,2026-01-01T01:00,41," \n",\n')
    records = load_batch_records(tag_map(tmp_path, [WIDE], {**DO, "PHASE": {"phase_marker": True}}))
    assert records.batches["B1"].phases == [("batch", 0.0)]
    assert records.report.values_read == 4 and records.report.dropped == {"unmapped": 1} and balanced(records)


def test_totals_that_give_an_impossible_rate_are_dropped(tmp_path):
    csv(tmp_path, "batch,h,FEED\nB1,0,0\nB1,1e-320,10\nB1,1,20\nB1,2,1e12\n")
    files = [{"path": "a.csv", "shape": "wide", "time_column": "h", "time_format": "elapsed"}]
    records = load_batch_records(
        tag_map(tmp_path, files, {"FEED": {"input": "feed_rate", "units": "mL", "cumulative": True}})
    )
    msg = one(records, "error", "a.csv", 3, "FEED")  # 10 mL in 1e-320 h; 1e12 mL in an hour
    assert "rate of inf L/h at row 3" in msg and "more than the model's input 'feed_rate' allows" in msg
    assert "2 values dropped (rows 3, 5)" in msg
    assert records.batches["B1"].inputs["feed_rate"] == [(0.0, pytest.approx(0.02)), (1.0, 0.0)]
    assert records.report.dropped == {"outside_model_bounds": 2} and balanced(records)
