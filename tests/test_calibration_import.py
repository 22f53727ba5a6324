"""Batch-record import: formats, shapes, units, time, feeds, phases, and every validation rule with its file/row/column.

All record files are written inside tmp_path by the tests; rows are spreadsheet rows (header = 1).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from bioprocess_twin.calibration.dataset import BatchRecords, load_batch_records
from bioprocess_twin.calibration.tagmap import conversion, load_tag_map, parse_tag_map
from bioprocess_twin.core.model import ModelBuilder
from bioprocess_twin.core.parameters import Parameter, ParameterError
from bioprocess_twin.core.spec import SpecError

GLUCOSE = 180.156
T0 = pd.Timestamp("2026-01-01 08:00")


def write_tag_map(folder, files, tags, model="cho_fed_batch", **extra):
    path = folder / "tagmap.yaml"
    path.write_text(
        yaml.safe_dump({"kind": "tag map", "model": model, "files": files, "tags": tags, **extra}, sort_keys=False)
    )
    return path


def only(records: BatchRecords, severity: str, file: str, row, column) -> str:
    """The message of the single issue at (file, row, column) with this severity."""
    found = [i for i in records.report.issues if (i.severity, i.file, i.row, i.column) == (severity, file, row, column)]
    assert len(found) == 1, f"{severity} at {file}:{row}:{column} not found once in {records.report.issues}"
    return found[0].message


def monod_model(time_units="h"):
    """A user's own fed-batch model declared with the core kernel."""
    m = ModelBuilder("user_monod", "1.0", time_units=time_units)
    mu_max = m.parameter(Parameter(name="mu_max", units="1/h", default=0.4, bounds=(0, 2)))
    feed = m.input(Parameter(name="F", units="L/h", default=0.0, bounds=(0, 10)))
    temp = m.input(Parameter(name="T", units="degC", default=30.0))
    V, X, S = m.state("V", "L", 1.0), m.state("X", "g", 0.1), m.state("S", "g", 10.0)
    mu = mu_max * S / (0.5 * V + S) * (temp / 30.0)
    m.ode(V, feed)
    m.ode(X, mu * X)
    m.ode(S, -2 * mu * X + 100 * feed)
    m.output("X_conc", X / V, "g/L")
    m.output("S_conc", S / V, "g/L")
    return m.build()


# -- the CHO model: wide CSV online + long Excel offline ---------------------------------------------
CHO_TAGS = {
    "DO_PV": {"output": "DO", "units": "percent", "kind": "online", "range": [0, 150]},
    "TEMP_SP": {"input": "temperature", "units": "degC"},
    "FEED_TOT": {"input": "feed_rate", "units": "mL", "cumulative": True},
    "PHASE": {"phase_marker": True},
    "VCD": {"output": "vcd", "units": "1e6/mL", "kind": "offline", "range": [0, 100]},
    "GLC": {"output": "glucose_conc", "units": "g/L", "kind": "offline", "molar_mass": f"{GLUCOSE} g/mol"},
    "V_START": {"initial": "V", "units": "L"},
}
CHO_FILES = [
    {"path": "online.csv", "shape": "wide", "batch_column": "batch_id", "time_column": "timestamp"},
    {
        "path": "offline.xlsx",
        "shape": "long",
        "batch_column": "batch_id",
        "time_column": "timestamp",
        "unit_column": "unit",
        "sheet": "assays",
    },
]
TOTALS_ML = [0, 0, 0, 0, 10, 25, 45, 70, 100]


def cho_online(batches=("B1", "B2")) -> pd.DataFrame:
    frames = []
    for k, batch in enumerate(batches):
        start = T0 + pd.Timedelta(days=30 * k)
        frames.append(
            pd.DataFrame(
                {
                    "batch_id": batch,
                    "timestamp": [(start + pd.Timedelta(minutes=15 * i)).isoformat() for i in range(9)],
                    "DO_PV": [40.0 + i + k for i in range(9)],
                    "TEMP_SP": [37.0] * 4 + [36.0] * 5,
                    "FEED_TOT": TOTALS_ML,
                    "PHASE": ["BATCH", None, None, None, "FEED", None, None, None, None],
                }
            )
        )
    return pd.concat(frames, ignore_index=True).astype({"DO_PV": object})


def cho_offline(batches=("B1", "B2")) -> pd.DataFrame:
    rows = []
    for k, batch in enumerate(batches):
        start = T0 + pd.Timedelta(days=30 * k)
        rows += [
            (batch, "V_START", start, 1500.0, "mL"),
            (batch, "VCD", start + pd.Timedelta(hours=1), 0.5 + k, "1e6/mL"),
            (batch, "GLC", start + pd.Timedelta(hours=1), 5.4, "g/L"),
            (batch, "GLC", start + pd.Timedelta(hours=2), 25.0, "mmol/L"),
        ]
    return pd.DataFrame(rows, columns=["batch_id", "tag", "timestamp", "value", "unit"]).astype({"value": object})


def write_cho(folder, online=None, offline=None, tags=None, files=None, **extra):
    (cho_online() if online is None else online).to_csv(folder / "online.csv", index=False)
    with pd.ExcelWriter(folder / "offline.xlsx") as xl:
        (cho_offline() if offline is None else offline).to_excel(xl, sheet_name="assays", index=False)
    return write_tag_map(folder, files or CHO_FILES, tags or CHO_TAGS, **extra)


@pytest.fixture
def cho(tmp_path):
    return load_batch_records(write_cho(tmp_path))


def test_cho_records_in_model_units(cho, tmp_path):
    assert cho.report.ok, cho.report.issues
    assert cho.model == "cho_fed_batch" and list(cho.batches) == ["B1", "B2"]
    b1 = cho.batches["B1"]
    assert b1.start == T0 and b1.end == 2.0
    do = b1.observations[b1.observations.output == "DO"]
    np.testing.assert_allclose(do.time, np.arange(9) * 0.25)
    np.testing.assert_allclose(do.value, 40.0 + np.arange(9))
    assert do.source.iat[0] == "online.csv:2:DO_PV" and do.tag.iat[0] == "DO_PV"
    vcd = b1.observations[b1.observations.output == "vcd"]
    assert vcd.time.tolist() == [1.0] and vcd.value.tolist() == [0.5]  # 1e6/mL == Mcount/mL
    assert vcd.source.iat[0] == "offline.xlsx:3:value"
    glc = b1.observations[b1.observations.output == "glucose_conc"]
    np.testing.assert_allclose(glc.value, [5.4 / GLUCOSE * 1000, 25.0], rtol=1e-12)  # g/L and mmol/L rows
    assert list(b1.observations.columns) == ["output", "time", "value", "tag", "source"]
    assert b1.observations.equals(b1.observations.sort_values(["output", "time"]).reset_index(drop=True))
    assert b1.inputs["temperature"] == [(0.0, 37.0), (1.0, 36.0)]
    assert b1.initial == {"V": pytest.approx(1.5)}  # mL -> L
    assert b1.phases == [("BATCH", 0.0), ("FEED", 1.0)]  # empty cells carry the phase
    assert cho.batches["B2"].observations.query("output == 'vcd'").value.tolist() == [1.5]
    assert cho.files["online.csv"] == hashlib.sha256((tmp_path / "online.csv").read_bytes()).hexdigest()
    assert cho.report.rows_read == 18 + 8
    # every value read is used: 18 rows x 3 numeric tags + 4 phase markers + 8 offline rows
    assert cho.report.values_used == 18 * 3 + 4 + 8 and cho.report.dropped == {}
    # the 14 empty phase-marker cells mean "no change": they are not values
    assert cho.report.values_read == cho.report.values_used and cho.report.balanced
    json.dumps(cho.report.to_dict())


def test_cumulative_totals_become_rates_that_integrate_back(cho):
    steps = cho.batches["B1"].inputs["feed_rate"]
    assert steps[0] == (0.0, 0.0) and steps[-1] == (2.0, 0.0)
    times = np.arange(9) * 0.25
    edges = [t for t, _ in steps] + [np.inf]

    def fed_until(t):  # integral of the piecewise-constant rate from 0 to t, in L
        return sum(v * (min(t, edges[i + 1]) - edges[i]) for i, (_, v) in enumerate(steps) if edges[i] < t)

    np.testing.assert_allclose([fed_until(t) for t in times], np.array(TOTALS_ML) / 1000, rtol=1e-12, atol=1e-15)
    assert fed_until(100.0) == pytest.approx(0.1, rel=1e-12)  # nothing after the last total
    assert dict(steps)[1.0] == pytest.approx(15 / 1000 / 0.25)  # 15 mL in 15 min = 0.06 L/h


def test_irregular_totalizer_in_litres_per_hour_for_microbial_model(tmp_path):
    rng = np.random.default_rng(7)
    hours = np.concatenate([[0.0], np.cumsum(rng.uniform(0.05, 2.0, 40))])
    totals = np.concatenate([[0.0], np.cumsum(rng.uniform(0, 80, 40))])  # mL
    pd.DataFrame({"batch": "M1", "time_min": hours * 60, "FEED": totals}).to_csv(tmp_path / "feed.csv", index=False)
    tag_map = write_tag_map(
        tmp_path,
        [
            {
                "path": "feed.csv",
                "shape": "wide",
                "time_column": "time_min",
                "time_format": "elapsed",
                "elapsed_units": "min",
            }
        ],
        {"FEED": {"input": "feed_rate", "units": "mL", "cumulative": True}},
        model="microbial_fed_batch",
    )
    records = load_batch_records(tag_map)
    assert records.report.ok and records.batches["M1"].start is None
    steps = records.batches["M1"].inputs["feed_rate"]
    t = np.array([s[0] for s in steps] + [hours[-1]])
    rates = np.array([s[1] for s in steps])
    np.testing.assert_allclose(t[:-1], hours, rtol=1e-12)
    np.testing.assert_allclose(np.cumsum(rates[:-1] * np.diff(t)[:-1]), totals[1:] / 1000, rtol=1e-12)
    np.testing.assert_allclose(rates[:-1], np.diff(totals) / 1000 / np.diff(hours), rtol=1e-12)


def test_user_model_from_parquet_long_with_elapsed_minutes(tmp_path):
    pd.DataFrame(
        {
            "run": ["R1"] * 4 + ["R2"] * 2,
            "minutes": [0, 30, 60, 90, 0, 45],
            "tag": ["X", "X", "FEED", "X", "X", "TEMP"],
            "value": [0.2, 0.35, 12.0, 0.6, 0.25, 95.0],
            "unit": ["g/L", "g/L", "mL/h", "mg/mL", "g/L", "degF"],
        }
    ).to_parquet(tmp_path / "runs.parquet")
    tag_map = write_tag_map(
        tmp_path,
        [
            {
                "path": "runs.parquet",
                "shape": "long",
                "batch_column": "run",
                "time_column": "minutes",
                "time_format": "elapsed",
                "elapsed_units": "min",
                "unit_column": "unit",
            }
        ],
        {
            "X": {"output": "X_conc", "units": "g/L"},
            "FEED": {"input": "F", "units": "mL/h"},
            "TEMP": {"input": "T", "units": "degC"},
        },
        model="my_model",
    )
    records = load_batch_records(tag_map, model=monod_model())
    assert records.report.ok, records.report.issues
    r1 = records.batches["R1"]
    assert r1.observations.time.tolist() == [0.0, 0.5, 1.5]
    assert r1.observations.value.tolist() == pytest.approx([0.2, 0.35, 0.6])  # mg/mL == g/L
    assert r1.observations.source.tolist() == ["runs.parquet:2:value", "runs.parquet:3:value", "runs.parquet:5:value"]
    assert r1.inputs["F"] == [(0.0, 0.012)]  # first record at t = 1 h held back to 0 (warning)
    assert "held back" in only(records, "warning", "runs.parquet", 4, "value")
    assert records.batches["R2"].inputs["T"] == [(0.0, pytest.approx(35.0))]  # 95 degF
    # a model whose time is a pass count takes elapsed "1" and refuses date-times
    m = ModelBuilder("passes", "1", time_units="1")
    d = m.state("d", "nm", 500.0)
    k = m.parameter(Parameter(name="k", units="1", default=0.1))
    m.ode(d, -k * d)
    m.output("d_um", d / 1000, "um")
    passes = m.build()
    pd.DataFrame({"batch": "P1", "pass": [0, 1, 2], "D": [0.5, 0.45, 0.41]}).to_csv(tmp_path / "p.csv", index=False)
    ok = write_tag_map(
        tmp_path,
        [{"path": "p.csv", "shape": "wide", "time_column": "pass", "time_format": "elapsed", "elapsed_units": "1"}],
        {"D": {"output": "d", "units": "um"}},
        model="passes",
    )
    got = load_batch_records(ok, model=passes).batches["P1"].observations
    assert got.time.tolist() == [0, 1, 2] and got.value.tolist() == pytest.approx([500, 450, 410])
    bad = write_tag_map(
        tmp_path,
        [{"path": "p.csv", "shape": "wide", "time_column": "pass"}],
        {"D": {"output": "d", "units": "um"}},
        model="passes",
    )
    with pytest.raises(SpecError) as err:
        load_batch_records(bad, model=passes)
    assert err.value.errors[0][0] == "files[0].time_format" and "elapsed" in err.value.errors[0][1]


def test_emulsion_process_by_registered_name_in_passes(tmp_path):
    pd.DataFrame(
        {
            "batch_id": ["E1"] * 3,
            "pass": [0, 1, 2],
            "tag": ["P", "Z", "Z"],
            "value": [14500.0, 0.31, 0.22],
            "unit": ["psi", "um", "um"],
        }
    ).to_parquet(tmp_path / "passes.parquet")
    tag_map = write_tag_map(
        tmp_path,
        [
            {
                "path": "passes.parquet",
                "shape": "long",
                "batch_column": "batch_id",
                "time_column": "pass",
                "time_format": "elapsed",
                "elapsed_units": "1",
                "unit_column": "unit",
            }
        ],
        {"P": {"input": "pressure", "units": "bar"}, "Z": {"output": "z_average", "units": "nm"}},
        model="emulsion_homogenizer",
    )
    batch = load_batch_records(tag_map).batches["E1"]
    assert batch.inputs["pressure"] == [(0.0, pytest.approx(14500 * 0.0689475729, rel=1e-9))]
    assert batch.observations.value.tolist() == pytest.approx([310.0, 220.0]) and batch.end == 2.0


# -- the tag map ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tag, field, words",
    [
        ({"output": "D0", "units": "percent"}, "tags.T.output", ["did you mean", "'DO'"]),
        ({"output": "viable_cells", "units": "1e6/mL"}, "tags.T.units", ["Gcount"]),
        ({"output": "glucose_conc", "units": "g/L"}, "tags.T.units", ["'g/L'", "mmol/L", "molar_mass"]),
        ({"input": "feed", "units": "L/h"}, "tags.T.input", ["feed_rate"]),
        ({"initial": "volume", "units": "L"}, "tags.T.initial", ["no state 'volume'"]),
        ({"input": "feed_rate", "units": "mL/h", "cumulative": True}, "tags.T.units", ["L/h", "totals"]),
        ({"output": "DO", "units": "blorps/h"}, "tags.T.units", ["unknown units 'blorps/h'"]),
        ({"output": "DO", "input": "pH", "units": "1"}, "tags.T", ["exactly one"]),
        ({"output": "DO"}, "tags.T", ["'units' is required"]),
        ({"output": "DO", "units": "%", "cumulative": True}, "tags.T", ["only for input"]),
        ({"output": "DO", "units": "%", "range": [5, 1]}, "tags.T", ["lower end"]),
        ({"output": "DO", "units": "%", "molar_mass": "-3 g/mol"}, "tags.T.molar_mass", ["positive"]),
        ({"phase_marker": True, "units": "1"}, "tags.T", ["phase marker"]),
        ({"output": "DO", "unit": "%"}, "tags.T.unit", ["Extra"]),
    ],
)
def test_tag_map_errors_name_the_field(tmp_path, tag, field, words):
    with pytest.raises(SpecError) as err:
        load_batch_records(write_cho(tmp_path, tags={**CHO_TAGS, "T": tag}))
    fields = dict(err.value.errors)
    assert field in fields, err.value.errors
    assert all(w in fields[field] for w in words), fields[field]


def test_tag_map_file_and_top_level_errors(tmp_path):
    with pytest.raises(SpecError, match="file: not found"):
        load_tag_map(tmp_path / "nope.yaml")
    cases = [
        ({"files": [{"path": "a.txt", "shape": "wide"}]}, "files[0].path", "not supported"),
        ({"files": [{"path": "a.csv", "shape": "tall"}]}, "files[0].shape", "wide"),
        ({"files": [{"path": "a.csv", "shape": "wide", "sheet": "x"}]}, "files[0]", "only for Excel"),
        (
            {"files": [{"path": "a.csv", "shape": "wide", "elapsed_units": "blorps"}]},
            "files[0].elapsed_units",
            "unknown units",
        ),
        ({"batch_start": "phase:INOC"}, "(top level)", "phase_marker"),
        ({"batch_start": "latest"}, "batch_start", "first_record"),
        ({"kind": "spec"}, "kind", "tag map"),
    ]
    base = {
        "kind": "tag map",
        "model": "cho_fed_batch",
        "files": [{"path": "a.csv", "shape": "wide"}],
        "tags": {"DO_PV": {"output": "DO", "units": "%"}},
    }
    for change, field, words in cases:
        with pytest.raises(SpecError) as err:
            parse_tag_map({**base, **change}, "tm.yaml")
        assert field in dict(err.value.errors) and words in dict(err.value.errors)[field], err.value.errors
    with pytest.raises(SpecError) as err:
        load_batch_records(write_tag_map(tmp_path, [{"path": "a.csv", "shape": "wide"}], base["tags"], model="cho_fed"))
    assert err.value.errors[0][0] == "model" and "cho_fed_batch" in err.value.errors[0][1]


def test_conversions_are_exact_affine_maps():
    assert conversion("degF", "degC").apply(212.0) == pytest.approx(100.0, rel=1e-14)
    assert conversion("g/L", "mmol/L", GLUCOSE).scale == pytest.approx(1000 / GLUCOSE, rel=1e-14)
    assert conversion("mmol/L", "g/L", GLUCOSE).scale == pytest.approx(GLUCOSE / 1000, rel=1e-14)
    assert conversion("%", "1").scale == pytest.approx(0.01) and conversion("rpm", "1/min").scale == 1.0


# -- validation: every rule names the file, row and column -----------------------------------------
def test_missing_file_and_missing_column(tmp_path):
    online = cho_online().drop(columns=["timestamp"])
    records = load_batch_records(write_cho(tmp_path, online=online))
    assert "missing column 'timestamp'" in only(records, "error", "online.csv", 1, "timestamp")
    report = records.report
    assert report.rejected == ["online.csv"] and report.files_rejected == 1 and report.rows_in_rejected_files == 18
    assert report.values_in_rejected_files == 18 * 3 + 4  # DO, TEMP, FEED cells and the filled phase markers
    assert report.balanced and report.dropped == {}
    assert not report.ok and set(records.batches) == {"B1", "B2"}  # the Excel file is still read
    (tmp_path / "offline.xlsx").unlink()
    records = load_batch_records(tmp_path / "tagmap.yaml")
    assert "file not found" in only(records, "error", "offline.xlsx", None, None)
    assert ("offline.xlsx", "file not found") in [(f, m[:14]) for f, m in records.report.errors_as_fields()]


def test_unknown_wide_column_and_unknown_long_tag_are_ignored_with_counts(tmp_path):
    online = cho_online().assign(AGITATION=120.0)
    offline = pd.concat(
        [
            cho_offline(),
            pd.DataFrame(
                [("B1", "OSMO", T0, 300, "mOsm/kg"), ("B2", "OSMO", T0, 310, "")], columns=cho_offline().columns
            ),
        ],
        ignore_index=True,
    )
    records = load_batch_records(write_cho(tmp_path, online=online, offline=offline))
    assert records.report.ok
    assert "ignored (18 values)" in only(records, "warning", "online.csv", 1, "AGITATION")
    assert "2 rows ignored (first at row 10)" in only(records, "warning", "offline.xlsx", 10, "tag")
    assert records.report.dropped == {"unmapped": 20} and records.report.balanced


def test_unreadable_times_text_values_and_infinities(tmp_path):
    online = cho_online()
    online.loc[3, "timestamp"] = "yesterday"  # row 5
    online.loc[12, "DO_PV"] = "<LOQ"  # row 14, batch B2
    online.loc[13, "DO_PV"] = "inf"  # row 15
    records = load_batch_records(write_cho(tmp_path, online=online))
    msg = only(records, "error", "online.csv", 5, "timestamp")
    assert "'yesterday'" in msg and "3 values dropped" in msg and "batch B1" in msg  # DO, TEMP, FEED (no phase)
    msg = only(records, "error", "online.csv", 14, "DO_PV")
    assert "'<LOQ'" in msg and "B2" in msg
    assert "infinite" in only(records, "error", "online.csv", 15, "DO_PV")
    assert records.report.dropped == {"bad_time": 3, "non_numeric": 1, "inf": 1}
    assert {i.batch for i in records.report.issues if i.severity == "error"} == {"B1", "B2"}


def test_empty_values_are_counted_per_tag_and_file(tmp_path):
    online = cho_online()
    online.loc[[2, 3, 11], "DO_PV"] = None  # rows 4, 5 (B1) and 13 (B2)
    offline = cho_offline()
    offline.loc[1, "value"] = None  # row 3, VCD
    records = load_batch_records(write_cho(tmp_path, online=online, offline=offline))
    msg = only(records, "warning", "online.csv", 4, "DO_PV")
    assert "3 values empty or NaN" in msg and "B1 (2), B2 (1)" in msg
    assert "1 value empty" in only(records, "warning", "offline.xlsx", 3, "value")
    assert records.report.dropped == {"nan": 4} and records.report.ok and records.report.balanced
    assert len(records.batches["B1"].observations.query("output == 'DO'")) == 7


def test_out_of_range_values_are_dropped_with_count_and_first_row(tmp_path):
    online = cho_online()
    online.loc[[10, 16], "DO_PV"] = [-4.0, 180.0]  # rows 12 and 18, both B2
    records = load_batch_records(write_cho(tmp_path, online=online))
    msg = only(records, "warning", "online.csv", 12, "DO_PV")
    assert "2 values outside the range [0, 150] percent" in msg and "from -4 to 180" in msg
    assert records.report.dropped == {"out_of_range": 2}
    kept = records.batches["B2"].observations.query("output == 'DO'")
    assert len(kept) == 7 and kept.value.between(0, 150).all() and 0.25 not in kept.time.tolist()


def test_duplicate_timestamps_equal_and_different(tmp_path):
    online = cho_online()
    dup_equal, dup_diff = online.loc[[4]].copy(), online.loc[[12]].copy()
    dup_diff["DO_PV"] = 99.0
    online = pd.concat([online.iloc[:5], dup_equal, online.iloc[5:13], dup_diff, online.iloc[13:]], ignore_index=True)
    # rows: B1 t=1 h at rows 6 and 7 (same values); B2 t=0.75 h at rows 15 and 16, DO 44 vs 99
    records = load_batch_records(write_cho(tmp_path, online=online))
    assert "repeat an earlier record's time and value" in only(records, "warning", "online.csv", 7, "DO_PV")
    msg = only(records, "error", "online.csv", 15, "DO_PV")
    assert "44 percent (row 15) and 99 percent (row 16)" in msg and "all 2 dropped" in msg
    assert "2 values repeat" in only(records, "warning", "online.csv", 7, "TEMP_SP")  # rows 7 and 16
    assert records.report.dropped == {"duplicate": 6, "duplicate_conflict": 2}  # row 7: 4 tags, row 16: 2
    assert records.report.balanced
    assert 0.75 not in records.batches["B2"].observations.query("output == 'DO'").time.tolist()


def test_time_going_backwards_is_an_error_with_the_row(tmp_path):
    online = cho_online()
    online.loc[[5, 6], "timestamp"] = online.loc[[6, 5], "timestamp"].to_numpy()  # rows 7 and 8 swapped
    records = load_batch_records(
        write_cho(tmp_path, online=online, tags={**CHO_TAGS, "FEED_TOT": {"input": "feed_rate", "units": "mL/h"}})
    )
    msg = only(records, "error", "online.csv", 8, "timestamp")
    assert "time goes backwards in batch B1" in msg and "1 row out of order" in msg
    # the values are kept and sorted by time
    assert records.batches["B1"].observations.query("output == 'DO'").value.tolist()[5:7] == [46.0, 45.0]


def test_decreasing_totals_and_negative_elapsed_times(tmp_path):
    data = pd.DataFrame({"batch": "B1", "h": [0, 1, 2, 3, -1.0], "FEED": [0, 50, 40, 90, 0]})
    data.to_excel(tmp_path / "feed.xlsx", index=False)
    tag_map = write_tag_map(
        tmp_path,
        [{"path": "feed.xlsx", "shape": "wide", "time_column": "h", "time_format": "elapsed"}],
        {"FEED": {"input": "feed_rate", "units": "mL", "cumulative": True}},
    )
    records = load_batch_records(tag_map)
    assert "decreases at row 4" in only(records, "error", "feed.xlsx", 4, "FEED")
    assert "negative elapsed time -1" in only(records, "error", "feed.xlsx", 6, "h")
    np.testing.assert_allclose(records.batches["B1"].inputs["feed_rate"], [(0, 0.05), (1, 0.02), (3, 0)], rtol=1e-12)
    assert records.report.dropped == {"decreasing_total": 1, "negative_time": 1}


def test_units_in_long_files_unknown_or_incompatible(tmp_path):
    offline = cho_offline()
    offline.loc[[2, 6], "unit"] = "mg"  # rows 4 (B1) and 8 (B2): GLC as a mass
    offline.loc[5, "unit"] = "bananas per litre"  # row 7: VCD, a unit pint does not know
    offline.loc[3, "unit"] = ""  # row 5: GLC without a unit -> the tag's g/L
    records = load_batch_records(write_cho(tmp_path, offline=offline))
    for row, batch in ((4, "B1"), (8, "B2")):
        msg = only(records, "error", "offline.xlsx", row, "unit")
        assert "'mg'" in msg and "'mmol/L'" in msg and "glucose_conc" in msg and f"batch {batch}" in msg
    assert "unknown units" in only(records, "error", "offline.xlsx", 7, "unit")
    assert "taken to be in the tag's units 'g/L'" in only(records, "info", "offline.xlsx", 5, "value")
    assert records.report.dropped == {"bad_units": 3}
    assert records.batches["B1"].observations.query("output == 'glucose_conc'").value.tolist() == pytest.approx(
        [25.0 / GLUCOSE * 1000]
    )


def test_batch_start_at_a_phase_marker(tmp_path):
    rows = [
        ("B1", "PHASE", 0, "PREP", ""),
        ("B1", "TEMP", 0, 30.0, "degC"),
        ("B1", "DO", 0, 90.0, "%"),
        ("B1", "TEMP", 15, 33.0, "degC"),
        ("B1", "PHASE", 30, "INOC", ""),
        ("B1", "DO", 30, 80.0, "%"),
        ("B1", "TEMP", 45, 37.0, "degC"),
        ("B1", "PHASE", 90, "FEED", ""),
    ]
    data = pd.DataFrame(rows, columns=["batch", "tag", "minute", "value", "unit"])
    data["timestamp"] = T0 + pd.to_timedelta(data.pop("minute"), unit="min")
    data.astype({"value": str}).to_csv(tmp_path / "log.csv", index=False)
    tag_map = write_tag_map(
        tmp_path,
        [{"path": "log.csv", "shape": "long", "unit_column": "unit"}],
        {
            "PHASE": {"phase_marker": True},
            "TEMP": {"input": "temperature", "units": "degC"},
            "DO": {"output": "DO", "units": "%"},
        },
        batch_start="phase:INOC",
    )
    records = load_batch_records(tag_map)
    batch = records.batches["B1"]
    assert batch.start == T0 + pd.Timedelta(minutes=30)
    assert batch.phases == [("INOC", 0.0), ("FEED", 1.0)]
    assert batch.inputs["temperature"] == [(0.0, 33.0), (0.25, 37.0)]  # the last setpoint before the start holds
    assert batch.observations.value.tolist() == [80.0]
    assert "before the batch start" in only(records, "warning", "log.csv", 4, "value")
    assert records.report.dropped == {"before_start": 2} and records.report.ok and records.report.balanced


def test_conflicting_tags_and_repeated_initial_values(tmp_path):
    online = cho_online().assign(FEED_PUMP=1.0)
    offline = pd.concat(
        [
            cho_offline(),
            pd.DataFrame(
                [("B2", "V_START", T0 + pd.Timedelta(days=30, hours=3), 1.6, "L")], columns=cho_offline().columns
            ),
        ],
        ignore_index=True,
    )
    tags = {**CHO_TAGS, "FEED_PUMP": {"input": "feed_rate", "units": "mL/h"}}
    records = load_batch_records(write_cho(tmp_path, online=online, offline=offline, tags=tags))
    msg = only(records, "error", "online.csv", 2, "FEED_PUMP")
    assert "FEED_TOT and FEED_PUMP both give 'feed_rate'" in msg and "9 values dropped" in msg
    msg = only(records, "warning", "offline.xlsx", 6, "value")
    assert "2 records; the one closest to the batch start (row 6" in msg
    assert records.batches["B2"].initial["V"] == pytest.approx(1.5)
    assert records.report.dropped == {"conflicting_tag": 18, "unused_initial": 1} and records.report.balanced


def test_blank_csv_lines_keep_line_numbers_and_excel_date_cells(tmp_path):
    (tmp_path / "o.csv").write_text("batch,timestamp,DO\nB1,2026-01-01T00:00:00,40\n\nB1,2026-01-01T01:00:00+01:00,x\n")
    tag_map = write_tag_map(tmp_path, [{"path": "o.csv", "shape": "wide"}], {"DO": {"output": "DO", "units": "%"}})
    records = load_batch_records(tag_map)
    assert "'x'" in only(records, "error", "o.csv", 4, "DO")
    # an offset is converted to UTC, so this row is a duplicate of the first time, not one hour later
    (tmp_path / "o.csv").write_text("batch,timestamp,DO\nB1,2026-01-01T00:00:00,40\nB1,2026-01-01T01:00:00+01:00,40\n")
    assert "repeat" in only(load_batch_records(tag_map), "warning", "o.csv", 3, "DO")


def test_coverage_and_select(cho):
    assert cho.coverage(["DO", "vcd"]) == []
    issues = cho.coverage(["titre", "DO"])
    assert [(i.severity, i.batch, i.message) for i in issues] == [
        ("error", "B1", "batch B1 has no data for output 'titre' (no tag in the tag map measures it)"),
        ("error", "B2", "batch B2 has no data for output 'titre' (no tag in the tag map measures it)"),
    ]
    assert issues[0].file.endswith("tagmap.yaml")
    one = cho.select(["B2"])
    assert list(one.batches) == ["B2"] and one.files == cho.files
    with pytest.raises(ParameterError, match="batches: unknown batch 'B9'"):
        cho.select(["B9"])


def test_ten_batch_fourteen_day_import_is_complete(tmp_path):
    """The size the importer is built for: 10 batches x 14 days x 15 min x 6 tags (timing is measured by hand)."""
    times = pd.date_range("2026-01-01", periods=14 * 96, freq="15min")
    rng = np.random.default_rng(3)
    online = pd.concat(
        [
            pd.DataFrame(
                {
                    "batch_id": f"B{k + 1}",
                    "timestamp": (times + pd.Timedelta(days=20 * k)).astype(str),
                    "DO_PV": rng.uniform(20, 60, len(times)),
                    "TEMP_SP": 37.0,
                    "FEED_TOT": np.cumsum(rng.uniform(0, 5, len(times))),
                    "PHASE": np.where(np.arange(len(times)) < 288, "BATCH", "FEED"),
                }
            )
            for k in range(10)
        ],
        ignore_index=True,
    )
    records = load_batch_records(write_cho(tmp_path, online=online))
    assert records.report.ok and len(records.batches) == 10
    assert records.report.values_used == len(online) * 4 + 8
    steps = records.batches["B7"].inputs["feed_rate"]
    assert len(steps) == len(times) and steps[-1] == (pytest.approx(335.75), 0.0)


def test_one_batch_per_file_without_a_batch_column(tmp_path):
    for name, shift in (("run_a.xlsx", 0), ("run_b.xlsx", 5)):
        pd.DataFrame({"timestamp": T0 + pd.to_timedelta([0, 2, 4], unit="h"), "X": [0.1 + shift, 0.4, 1.6]}).to_excel(
            tmp_path / name, index=False
        )
    files = [
        {"path": "run_a.xlsx", "shape": "wide", "batch": "A"},
        {"path": "run_b.xlsx", "shape": "wide", "batch": "B"},
    ]
    records = load_batch_records(
        write_tag_map(tmp_path, files, {"X": {"output": "X_conc", "units": "g/L"}}), model=monod_model()
    )
    assert list(records.batches) == ["A", "B"] and records.batches["B"].observations.value.iat[0] == 5.1
    assert records.batches["A"].observations.source.tolist() == ["run_a.xlsx:2:X", "run_a.xlsx:3:X", "run_a.xlsx:4:X"]
    assert records.batches["A"].end == 4.0 and records.batches["A"].start == T0


def test_plant_cell_counts_convert_to_model_units():
    assert conversion("1e6 cells/mL", "Mcount/mL").scale == pytest.approx(1.0)
    assert conversion("cells/L", "Mcount/mL").scale == pytest.approx(1e-9)
