"""Hostile tag maps and batch-record files, and what importing each one gives.

Shared by tests/test_fuzz_import.py (a bounded number of cases, in CI) and bench/fuzz_import.py (thousands).

Two areas:

- ``tagmap``: a valid tag map (CHO wide + long files, or the emulsion's pass-count long file) with values
  replaced at random places by hostile ones (wrong types, unknown, offset and malformed units, huge and
  non-finite numbers, long and odd text, nested lists and maps, absolute, ``..`` and over-long paths,
  differently spelt duplicate tags), written as YAML next to small valid data files;
- ``files``: a fixed valid tag map and a generated batch file (CSV, Parquet or Excel; wide or long;
  date-time or elapsed) with hostile cells (times in 1500 and 2300, ``now``, mixed offsets, numbers as
  times; text, infinities and 1e300 as values; unknown and offset units; list and struct cells),
  headers (missing, duplicated, renamed columns) and bytes (bad UTF-8, UTF-16, malformed lines, NUL).

The only acceptable outcomes of ``load_batch_records`` are:

- ``ok``: BatchRecords whose report balances (values read = used + dropped + in rejected files), is
  JSON, and whose batches hold only finite values within the model's bounds, at plausible times;
- ``named``: a SpecError or ParameterError whose every entry is a (field, message) pair of text.

Anything else is ``unhandled``: another exception, an unbalanced report, an impossible value that
got through, or a file outside the tag map's folder that was read.
"""

from __future__ import annotations

import copy
import io
import json
import math
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from hypothesis import strategies as st

from bioprocess_twin import catalogue
from bioprocess_twin.calibration.dataset import BatchRecords, load_batch_records
from bioprocess_twin.calibration.tagmap import conversion, model_bounds
from bioprocess_twin.calibration.timestamps import elapsed_limit
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.spec import SpecError
from bioprocess_twin.core.units import UnitsError

AREAS = ("tagmap", "files")
#: a file beside each case folder: a tag map that reads it has escaped its folder
OUTSIDE = "outside.csv"

# -- hostile values --------------------------------------------------------------------------------
NUMBERS = st.one_of(
    st.sampled_from(
        [0, -1, -0.0, 1e-320, 1e308, -1e308, 1e300, -1e300, 10**30, 2**63, 10**400, math.inf, -math.inf, math.nan]
        + [0.5, 3, 7.25, 37.0, 101.3, 1e6, -300.0, -273.15, 1500]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
)
ODD_TEXT = st.one_of(
    st.sampled_from(
        ["", " ", "n/a", "<LOQ", "1,5", "1e999", "-1e999", "0x10", "１２", "NaN", "nan", "inf", "-inf", "None", "true"]
        + ["\x00", "\ufffd", "é", "°C", "A" * 300, "=1+1", "'", '"', "\n", "B1\r\nB2", "  B1  ", "b1"]
    ),
    st.text(max_size=24),
)
UNITS = st.one_of(
    st.sampled_from(
        ["1/0", "degC", "degF", "K", "delta_degC", "m**1e400", "10**10**10", "((", "%", "percent", "g/L", "mg", "mM"]
        + ["", "1", "1e6/mL", "1e6 cells/mL", "0/mL", "1e999 L", "L" * 150, "mol", "kg*m", "g/mol", "count", "nan"]
        + ["rpm", "psi", "bar", "nm", "um", "h", "min", "1/h", "mL", "L", "m^3", "-1 L", "2 degC", "L/h/h"]
    ),
    st.text(max_size=16),
)
TIMES = st.one_of(
    st.sampled_from(
        ["now", "Today", " yesterday ", "TOMORROW", "1500-01-01", "1677-09-21", "2262-04-12", "2300-01-01T00:00"]
        + ["9999-12-31", "0001-01-01", "1899-12-31T23:59", "2199-12-31T23:59:59", "2026-01-01T08:00+01:00"]
        + ["2026-01-01T08:00Z", "2026-01-01T08:00-05:00", "2026-01-01 08:00 UTC", "2026-13-45", "2026-02-30"]
        + ["12", "1e5", "", "NaT", "nan", "inf", "-1", "2026", "20260101", "2026-01-01T08:00:00+25:00", "08:00"]
    ),
    st.text(max_size=20),
    NUMBERS,
)
ODD = st.one_of(NUMBERS, ODD_TEXT, st.none(), st.booleans())
NESTED = st.recursive(
    ODD,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
PATHS = st.sampled_from(
    ["../" + OUTSIDE, "/etc/hosts.csv", "~/x.csv", "sub/../data.csv", "x" * 300 + ".csv", "a/" * 300 + "b.csv"]
    + ["C:\\data\\x.csv", "data.csv\x00.csv", "", " ", "./data.csv", "link.csv", "missing.parquet", "data.txt"]
)


# -- the base documents ---------------------------------------------------------------------------
CHO_TAGS = {
    "DO_PV": {"output": "DO", "units": "percent", "kind": "online"},
    "TEMP_SP": {"input": "temperature", "units": "degC"},
    "FEED_TOT": {"input": "feed_rate", "units": "mL", "cumulative": True},
    "V_START": {"initial": "V", "units": "L"},
    "VCD": {"output": "vcd", "units": "1e6/mL", "range": [0, 100]},
    "GLC": {"output": "glucose_conc", "units": "g/L", "molar_mass": "180.156 g/mol"},
    "PHASE": {"phase_marker": True},
}
EMULSION_TAGS = {
    "PASS_NO": {"phase_marker": True},
    "P_HOM": {"input": "pressure", "units": "psi"},
    "T_FEED": {"initial": "T", "units": "degC"},
    "ZAVE": {"output": "z_average", "units": "nm", "range": [10, 10000]},
    "PDI": {"output": "pdi", "units": "1"},
}
WIDE_COLUMNS = ["DO_PV", "TEMP_SP", "FEED_TOT", "V_START", "PHASE"]


def base_tag_map(kind: str, ext: str = "csv") -> dict:
    """A valid tag map: ``cho_wide``, ``cho_long`` (with a unit column), ``cho_elapsed`` or ``emulsion``."""
    if kind == "emulsion":
        files = [
            {
                "path": f"data.{ext}",
                "shape": "long",
                "batch_column": "batch_id",
                "time_column": "pass",
                "time_format": "elapsed",
                "elapsed_units": "1",
                "unit_column": "unit",
            }
        ]
        return {
            "kind": "tag map",
            "model": "emulsion_homogenizer",
            "files": files,
            "tags": copy.deepcopy(EMULSION_TAGS),
        }
    entry: dict[str, Any] = {"path": f"data.{ext}", "shape": "long" if kind == "cho_long" else "wide"}
    entry |= {"batch_column": "batch_id", "time_column": "timestamp"}
    if kind == "cho_long":
        entry["unit_column"] = "unit"
    if kind == "cho_elapsed":
        entry |= {"time_column": "hours", "time_format": "elapsed", "elapsed_units": "h"}
    return {"kind": "tag map", "model": "cho_fed_batch", "files": [entry], "tags": copy.deepcopy(CHO_TAGS)}


def good_rows(kind: str, n: int = 6) -> list[dict]:
    """Plausible records of ``kind``, as the cells of a file."""
    t0 = pd.Timestamp("2026-01-05 08:00")
    rows = []
    for k in range(n):
        batch = "B1" if k < n // 2 + 1 else "B2"
        if kind == "emulsion":
            tag = ["PASS_NO", "P_HOM", "ZAVE", "PDI", "T_FEED"][k % 5]
            value = {"PASS_NO": k, "P_HOM": 14500.0, "ZAVE": 300.0 - k, "PDI": 0.2, "T_FEED": 20.0}[tag]
            unit = {"PASS_NO": "", "P_HOM": "psi", "ZAVE": "nm", "PDI": "1", "T_FEED": "degC"}[tag]
            rows.append({"batch_id": batch, "pass": k, "tag": tag, "value": value, "unit": unit})
        elif kind == "cho_long":
            tag = ["DO_PV", "VCD", "GLC", "V_START", "TEMP_SP"][k % 5]
            value = {"DO_PV": 40.0 + k, "VCD": 0.5 + k, "GLC": 5.0, "V_START": 2.0, "TEMP_SP": 37.0}[tag]
            unit = {"DO_PV": "%", "VCD": "1e6/mL", "GLC": "g/L", "V_START": "L", "TEMP_SP": "degC"}[tag]
            when = (t0 + pd.Timedelta(hours=k)).isoformat()
            rows.append({"batch_id": batch, "timestamp": when, "tag": tag, "value": value, "unit": unit})
        else:
            row = {"batch_id": batch}
            if kind == "cho_elapsed":
                row["hours"] = float(k)
            else:
                row["timestamp"] = (t0 + pd.Timedelta(minutes=15 * k)).isoformat()
            row |= {"DO_PV": 40.0 + k, "TEMP_SP": 37.0, "FEED_TOT": 10.0 * k, "V_START": 2.0, "PHASE": "batch"}
            rows.append(row)
    return rows


# -- strategies ------------------------------------------------------------------------------------
@st.composite
def hostile_file(draw, kind: str | None = None, formats=("csv", "csv", "csv", "parquet", "xlsx")):
    """(tag map document, file name, file bytes) with hostile cells, headers and bytes."""
    kind = kind or draw(st.sampled_from(["cho_wide", "cho_long", "cho_elapsed", "emulsion"]))
    ext = draw(st.sampled_from(formats))
    doc = base_tag_map(kind, ext)
    rows = good_rows(kind, draw(st.integers(0, 10)))
    columns = list(rows[0]) if rows else list(good_rows(kind, 1)[0])
    value_columns = [c for c in columns if c not in ("batch_id",)]
    for _ in range(draw(st.integers(0, 6))):
        if not rows:
            break
        k = draw(st.integers(0, len(rows) - 1))
        column = draw(st.sampled_from(columns))
        time_column = column in ("timestamp", "hours", "pass")
        rows[k][column] = draw(TIMES if time_column else st.one_of(ODD, UNITS) if column == "unit" else ODD)
    if rows and draw(st.booleans()) and kind in ("cho_long", "emulsion"):
        k = draw(st.integers(0, len(rows) - 1))
        rows[k]["unit"] = draw(UNITS)
    if rows and draw(st.integers(0, 5)) == 5:  # mixed offsets within one batch
        for k in range(len(rows)):
            if "timestamp" in rows[k] and isinstance(rows[k]["timestamp"], str) and k % 2:
                rows[k]["timestamp"] += draw(st.sampled_from(["+01:00", "+02:00", "Z", "-05:00"]))
    header = list(columns)
    change = draw(st.sampled_from(["none"] * 5 + ["drop", "repeat", "extra", "swap"]))
    if change == "drop" and header:
        header.remove(draw(st.sampled_from(header)))
    elif change == "repeat" and header:
        header.append(draw(st.sampled_from(header)))  # a duplicate column
    elif change == "extra":
        header.append(draw(st.sampled_from(["EXTRA", "", "Unnamed: 0", "do_pv", " DO_PV"])))
    elif change == "swap" and len(value_columns) >= 2:
        a, b = draw(st.permutations(value_columns))[:2]
        i, j = header.index(a), header.index(b)
        header[i], header[j] = header[j], header[i]  # swapped headers
    data = file_bytes(draw, ext, header, rows)
    return doc, f"data.{ext}", data


def file_bytes(draw, ext: str, header: list[str], rows: list[dict]) -> bytes:
    cells = [[row.get(c) for c in header] for row in rows]
    if ext == "csv":
        lines = [",".join(_csv_cell(c) for c in header)] + [",".join(_csv_cell(v) for v in row) for row in cells]
        text = "\n".join(lines) + "\n"
        trick = draw(st.integers(0, 12)) - 6  # 0 to 6: one trick, below 0: none
        if trick == 0 and len(lines) > 1:
            k = draw(st.integers(1, len(lines) - 1))
            lines[k] += ",extra,fields"
            text = "\n".join(lines) + "\n"
        elif trick == 1:
            text = text.replace("\n", "\r\n")
        elif trick == 2:
            text = "\n\n" + text if draw(st.booleans()) else text + "\n\n,,,\n"
        data = text.encode("utf-8", errors="surrogatepass")
        if trick == 3:
            data = text.encode("utf-16")
        elif trick == 4 and data:
            k = draw(st.integers(0, len(data) - 1))
            data = data[:k] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b'"', b"\xb0"])) + data[k:]
        elif trick == 5 and data:
            data = data[: draw(st.integers(0, len(data)))]
        elif trick == 6:
            data = text.encode("cp1252", errors="replace")
        return data
    frame = pd.DataFrame(cells, columns=range(len(header)))
    buffer = io.BytesIO()
    if ext == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrays = []
        for k in range(len(header)):
            values = frame[k].tolist()
            if draw(st.integers(0, 6)) == 6 and values:
                values = draw(st.sampled_from([[[1.0, 2.0]] * len(values), [{"x": 1}] * len(values)]))
            try:
                arrays.append(pa.array(values))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
                arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
        try:
            pq.write_table(pa.Table.from_arrays(arrays, names=[str(h) for h in header]), buffer)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return b"not a parquet file"
        return buffer.getvalue()
    frame.columns = [str(h) for h in header]
    frame = frame.map(_excel_cell)
    try:
        frame.to_excel(buffer, index=False)
    except (ValueError, TypeError, OverflowError):
        return b"PK\x03\x04 not a workbook"
    return buffer.getvalue()


def _csv_cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\n\r') else text


def _excel_cell(value):
    if isinstance(value, str):
        return "".join(ch for ch in value if ch >= " " or ch in "\t\n")[:200]  # openpyxl refuses control characters
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value


@st.composite
def hostile_tag_map(draw):
    """(tag map document or raw YAML text, data files) mutated at random places."""
    kind = draw(st.sampled_from(["cho_wide", "cho_long", "emulsion"]))
    doc = base_tag_map(kind)
    files = {"data.csv": _good_csv(kind)}
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3]))):
        what = draw(st.sampled_from(list(range(12)) + [10, 10, 11, 11, 0, 4]))
        tags = doc.get("tags") if isinstance(doc.get("tags"), dict) and doc["tags"] else None
        entries = doc.get("files") if isinstance(doc.get("files"), list) else None
        first = entries[0] if entries and isinstance(entries[0], dict) else None
        tag = draw(st.sampled_from(sorted(tags, key=str))) if tags else None
        spec = tags[tag] if tags and isinstance(tags[tag], dict) else None
        if what == 0 and first is not None:
            first["path"] = draw(PATHS)
        elif what == 1 and spec is not None:
            field = draw(st.sampled_from(["units", "range", "molar_mass", "output", "input", "initial", "cumulative"]))
            spec[field] = draw(st.one_of(UNITS, NESTED)) if field == "units" else draw(NESTED)
        elif what == 2 and tags:
            spelt = draw(st.sampled_from([str(tag).lower(), f" {tag}", f"{tag} ", str(tag).upper() + "\u0301", ""]))
            tags[spelt] = dict(spec) if spec is not None else tags[tag]
        elif what == 3 and first is not None:
            field = draw(st.sampled_from(["time_column", "batch_column", "tag_column", "value_column", "unit_column"]))
            first[field] = draw(st.one_of(st.sampled_from(["timestamp", "batch_id", "value", "DO_PV"]), ODD))
        elif what == 4 and entries is not None:
            extra = dict(first) if first is not None and draw(st.booleans()) else {"path": draw(PATHS), "shape": "wide"}
            entries.append(extra)
        elif what == 5:
            key = draw(st.sampled_from(["kind", "model", "files", "tags", "batch_start", "extra"]))
            doc[key] = draw(st.one_of(NESTED, st.sampled_from(["tag map", "cho_fed_batch", "phase:batch", "nope"])))
        elif what == 6 and first is not None:
            field = draw(st.sampled_from(["time_format", "elapsed_units", "shape", "sheet", "batch"]))
            first[field] = draw(st.one_of(UNITS, NESTED, st.sampled_from(["elapsed", "datetime", "long"])))
        elif what == 7 and tags:
            tags[tag] = draw(NESTED)
        elif what == 8 and tags is not None:
            tags[draw(ODD_TEXT)] = {"output": draw(ODD_TEXT), "units": draw(UNITS)}
        elif what == 9 and spec is not None:
            spec["range"] = draw(st.lists(NUMBERS, min_size=2, max_size=2))
        elif what == 10 and spec is not None and "units" in spec:  # often harmless: other spellings, scales
            spec["units"] = draw(st.sampled_from(["%", "percent", "1", "1e-2", "mg/mL", "g/L", "mL", "L", "degF", "K"]))
        elif what == 11 and spec is not None and not spec.get("phase_marker"):
            spec["range"] = sorted(draw(st.lists(st.floats(-1e3, 1e5), min_size=2, max_size=2, unique=True)))
    raw = None
    if draw(st.integers(0, 9)) == 9:  # duplicate keys, only possible in the YAML text
        try:
            raw = _yaml(doc).replace("tags:\n", "tags:\n  DO_PV: {output: DO, units: '%'}\n", 1)
        except (yaml.YAMLError, ValueError, TypeError, RecursionError):
            raw = None
    return (raw if raw is not None else doc), files


def _good_csv(kind: str) -> bytes:
    return pd.DataFrame(good_rows(kind, 8)).to_csv(index=False).encode()


def _yaml(doc) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


# -- running one case ------------------------------------------------------------------------------
@dataclass
class Outcome:
    kind: str  # "ok" | "named" | "unhandled"
    detail: str = ""


def write_case(folder: Path, doc, files: dict[str, bytes]) -> Path | None:
    """The case's tag map and files in ``folder`` (with a file just outside it, and a link to it);
    None when the document cannot be written as YAML at all."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder.parent / OUTSIDE).write_text("batch_id,timestamp,DO_PV\nSECRET,2026-01-01T00:00:00,1\n")
    link = folder / "link.csv"
    if not link.is_symlink():
        link.symlink_to(folder.parent / OUTSIDE)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    try:
        text = doc if isinstance(doc, str) else _yaml(doc)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return None
    path = folder / "tagmap.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def run_case(path: Path, model_name: str | None = None) -> Outcome:
    """Import the tag map at ``path`` and judge the outcome (see the module docstring)."""
    try:
        model = catalogue.get(model_name).model if model_name else None
        records = load_batch_records(path, model=model)
    except (SpecError, ParameterError) as exc:
        bad = [
            e for e in exc.errors if not (isinstance(e, tuple) and len(e) == 2 and all(isinstance(x, str) for x in e))
        ]
        if not exc.errors or bad or any(not field.strip() for field, _ in exc.errors):
            return Outcome("unhandled", f"error without a field: {exc.errors!r}"[:2000])
        return Outcome("named", str(exc)[:300])
    except Exception:  # anything else is what the fuzzing looks for
        return Outcome("unhandled", traceback.format_exc()[-3000:])
    problem = judge(records, model or catalogue.get(records.model).model)
    return Outcome("unhandled", problem) if problem else Outcome("ok")


def judge(records: BatchRecords, model) -> str | None:
    """What is wrong with a successful import, or None."""
    report = records.report
    if not report.balanced:
        terms = (report.values_read, report.values_used, report.dropped, report.values_in_rejected_files)
        return f"unbalanced report: read, used, dropped, rejected = {terms}"
    try:
        json.dumps(report.to_dict(), allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"report is not JSON: {exc}"
    for source in records.files:
        if "SECRET" in source or OUTSIDE in source or "link" in source:
            return f"a file outside the folder was read: {source}"
    try:
        longest = elapsed_limit(conversion("h", model.time_units).scale)
    except UnitsError:
        longest = elapsed_limit(None)
    cumulative = {p.input for p in records.tag_map.tags.values() if p.cumulative}
    for name, batch in records.batches.items():
        if "SECRET" in name:
            return "a file outside the folder was read (its batch is in the result)"
        obs = batch.observations
        for output, value, time in zip(obs["output"], obs["value"], obs["time"]):
            lo, hi = model_bounds(model, output)
            if not (math.isfinite(value) and lo <= value <= hi):
                return f"batch {name}: impossible observation {output} = {value!r} (bounds {lo}, {hi})"
            if not (math.isfinite(time) and 0 <= time <= longest):
                return f"batch {name}: implausible time {time!r} for {output}"
        for state, value in batch.initial.items():
            lo, hi = model_bounds(model, state)
            if not (math.isfinite(value) and lo <= value <= hi):
                return f"batch {name}: impossible initial {state} = {value!r}"
        for name_in, steps in batch.inputs.items():
            lo, hi = model_bounds(model, name_in)
            lo = min(lo, 0.0) if name_in in cumulative else lo  # a rate from totals: 0 after the last total
            if any(not (math.isfinite(v) and math.isfinite(t) and lo <= v <= hi) for t, v in steps):
                return f"batch {name}: impossible input {name_in}: {steps[:5]!r}"
    return None
