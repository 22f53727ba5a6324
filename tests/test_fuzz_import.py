"""Fuzzed tag maps and batch files: the importer gives a balanced report or an error naming a field, never more.

The generators are in tests/import_fuzzing.py; bench/fuzz_import.py runs the same ones for thousands of
cases. Here a bounded number of examples per area keeps CI fast; the seed is fixed so a failure repeats.
"""

from __future__ import annotations

import warnings

from hypothesis import HealthCheck, given, seed, settings
from import_fuzzing import hostile_file, hostile_tag_map, run_case, write_case

FUZZ = settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@seed(14)
@FUZZ
@given(case=hostile_tag_map())
def test_fuzzed_tag_maps_import_or_name_a_field(tmp_path_factory, case):
    doc, files = case
    path = write_case(tmp_path_factory.mktemp("tagmap") / "records", doc, files)
    if path is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = run_case(path)
    assert outcome.kind in ("ok", "named"), outcome.detail


@seed(14)
@FUZZ
@given(case=hostile_file(formats=("csv", "csv", "parquet")))
def test_fuzzed_batch_files_import_with_a_balanced_report(tmp_path_factory, case):
    doc, name, data = case
    path = write_case(tmp_path_factory.mktemp("files") / "records", doc, {name: data})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = run_case(path)
    assert outcome.kind == "ok", outcome.detail  # the tag map is valid: every file problem is an issue


@seed(15)
@settings(max_examples=5, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=hostile_file(formats=("xlsx",)))
def test_fuzzed_excel_files_import_with_a_balanced_report(tmp_path_factory, case):
    doc, name, data = case
    path = write_case(tmp_path_factory.mktemp("excel") / "records", doc, {name: data})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = run_case(path)
    assert outcome.kind == "ok", outcome.detail
