"""Read one batch-record file (CSV, Excel, Parquet) into a table of plain cells, never raising on its content.

:func:`read_table` returns the cells indexed by spreadsheet row (header = row 1; CSV: the line on
which the record starts), with unique column names, or None when the file cannot be read at all
(missing, unreadable, a name the file system refuses): then the file is *rejected*, an error names
it and its rows are counted where they can be read.

What it repairs and reports instead of giving up on the whole file:

- bytes that are not UTF-8: read as Windows-1252 (or with a replacement character) and a warning
  names the first such row; UTF-16 with a byte-order mark is read as such;
- CSV lines with more fields than the header: that row is left out, with an error naming it (its
  values counted as ``malformed_row``); lines with fewer fields are padded with empty cells;
- a column name that appears twice: the first column is read, the others are left out with an
  error (their values counted as ``duplicate_column``);
- cells that are not plain scalars (Parquet lists, structs, maps, binary; booleans, durations):
  turned into text, so the checks downstream report them as unreadable with their row and column.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import decimal
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .issues import Collector, rows_text, values_text
from .tagmap import FileSpec

#: text roles of tag columns whose empty cells are not values (see count_values)
NOT_NUMERIC = (None, "phase")
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")


@dataclass
class Table:
    """The cells of one file and the sha256 of its bytes."""

    cells: pd.DataFrame
    sha256: str


def filled(column: pd.Series) -> np.ndarray:
    """The cells that hold something: not None, NaN or text of white space only."""
    mask = np.asarray(column.notna().to_numpy(), dtype=bool).copy()
    if column.dtype == object:
        values = column.to_numpy()
        mask &= np.fromiter((not (isinstance(v, str) and not v.strip()) for v in values), bool, len(values))
    return mask


def count_values(table: pd.DataFrame, spec: FileSpec, roles: dict[str, str]) -> int:
    """The values in ``table``: in a long file one per data row; in a wide file one per cell of each
    column other than the batch and time columns, except the empty cells (:func:`filled`) of
    phase-marker columns and of columns not in the tag map (an empty numeric cell is a missing value
    and counts)."""
    if spec.shape == "long":
        return len(table)
    fixed = spec.fixed_columns()
    total = 0
    for c in table.columns:
        if c in fixed:
            continue
        total += len(table) if roles.get(c) not in NOT_NUMERIC else int(filled(table[c]).sum())
    return total


def read_table(path: Path, spec: FileSpec, label: str, roles: dict[str, str], out: Collector) -> Table | None:
    """The file as a table of plain cells (see the module docstring); None (and a rejection) if it cannot be read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        out.reject(label, 0, 0, f"file not found: {label}")
        return None
    except OSError as exc:  # a directory, a name too long, no permission
        out.reject(label, 0, 0, f"cannot open the file: {exc.strerror or type(exc).__name__}")
        return None
    digest = hashlib.sha256(data).hexdigest()
    if spec.format == "csv":
        table = _read_csv(data, spec, label, out)
    elif spec.format == "xlsx":
        table = _read_excel(data, spec, label, out)
    else:
        table = _read_parquet(data, label, out)
    if table is None:
        return None
    table = table[~table.isna().all(axis=1)]  # blank lines are not records
    table = _unique_columns(table, spec, label, roles, out)
    if spec.format != "csv":  # CSV cells are text already
        table = pd.DataFrame({c: _plain(table[c]) for c in table.columns}, index=table.index)
    if table.empty:
        out.add("warning", label, 1, None, "the file has a header but no data rows")
    return Table(table, digest)


# -- formats ------------------------------------------------------------------------------------
def _decode(data: bytes, label: str, out: Collector) -> str:
    """The text of a CSV file: UTF-8 (with or without BOM), UTF-16 with a BOM, else with a warning."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
    if _UTF8_MULTIBYTE.search(data):
        how = "UTF-8 with the bad bytes shown as \ufffd"
        text = data.decode("utf-8-sig", errors="replace")
    else:
        how = "Windows-1252 (Latin-1)"
        text = data.decode("cp1252", errors="replace")
    out.add("warning", label, row, None, f"the file is not valid UTF-8 (first at row {row}); read as {how}")
    return text


def _read_csv(data: bytes, spec: FileSpec, label: str, out: Collector) -> pd.DataFrame | None:
    text = _decode(data, label, out)
    quick = _read_plain_csv(text)
    if quick is not None:
        return quick
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[int] = []
    cells: list[list] = []
    malformed: list[int] = []
    line = 0
    try:
        for record in reader:
            start, line = line + 1, reader.line_num
            if not any(c.strip() for c in record):
                continue
            if header is None:
                header = record
                continue
            width = len(header)
            if len(record) > width and any(c.strip() for c in record[width:]):
                malformed.append(start)
                continue
            record = record[:width] + [""] * (width - len(record))
            rows.append(start)
            cells.append([c if c != "" else None for c in record])
    except csv.Error as exc:
        lines = sum(1 for x in text.splitlines() if x.strip())
        out.reject(
            label, max(lines - 1, 0), max(lines - 1, 0), f"cannot read the CSV file at row {line + 1}: {exc}", line + 1
        )
        return None
    if header is None:
        out.reject(label, 0, 0, "the file is empty: no header and no rows")
        return None
    names = [h.strip() or f"Unnamed: {k}" for k, h in enumerate(header)]
    if malformed:
        per_row = 1 if spec.shape == "long" else sum(1 for n in names if n not in spec.fixed_columns())
        out.add(
            "error",
            label,
            malformed[0],
            None,
            f"{len(malformed)} row{'s' if len(malformed) > 1 else ''} with more fields than the header's "
            f"{len(names)} ({rows_text(malformed)}); not imported ({values_text(per_row * len(malformed))})",
        )
        out.rows_read += len(malformed)
        out.values_read += per_row * len(malformed)
        out.dropped["malformed_row"] += per_row * len(malformed)
    table = pd.DataFrame(cells, columns=range(len(names)), index=np.array(rows, dtype=int), dtype=object)
    table.columns = names
    return table


def _read_plain_csv(text: str) -> pd.DataFrame | None:
    """pandas' fast parser for the common case: a header on line 1, no quotes (so a record is a line),
    every line with at most the header's fields; None otherwise (the csv module then reads it)."""
    lines = text.split("\n")
    first = lines[0]
    if '"' in text or "\r" in text or "\x00" in text or not first.strip():
        return None
    if max(line.count(",") for line in lines) > first.count(","):  # pandas would take a column as the index
        return None
    try:
        table = pd.read_csv(
            io.StringIO(text),
            dtype=object,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            header=0,
            index_col=False,
        )
    except Exception:  # too many fields on a line, and other shapes: the slow reader reports them
        return None
    header = first.split(",")
    if len(header) != len(table.columns):
        return None
    table.columns = [h.strip() or f"Unnamed: {k}" for k, h in enumerate(header)]
    table.index = np.arange(2, len(table) + 2)
    return table.astype(object)


def _read_excel(data: bytes, spec: FileSpec, label: str, out: Collector) -> pd.DataFrame | None:
    try:
        table = pd.read_excel(
            io.BytesIO(data),
            sheet_name=spec.sheet if spec.sheet is not None else 0,
            keep_default_na=False,
            na_values=[""],
        )
    except Exception as exc:  # zip, XML, missing sheet, openpyxl's own errors
        out.reject(label, 0, 0, f"cannot read the file (its rows cannot be counted): {type(exc).__name__}: {_cut(exc)}")
        return None
    table.columns = [str(c).strip() for c in table.columns]
    table.index = np.arange(2, len(table) + 2)
    return table


def _read_parquet(data: bytes, label: str, out: Collector) -> pd.DataFrame | None:
    import pyarrow.parquet as pq

    try:
        arrow = pq.read_table(io.BytesIO(data))
        names = [str(n).strip() for n in arrow.column_names]
        # placeholder names: pandas refuses duplicate field names, which are reported later
        table = arrow.rename_columns([f"c{k}" for k in range(len(names))]).to_pandas()
    except Exception as exc:  # arrow, thrift, types pandas cannot hold
        rows = _parquet_rows(data)
        known = "its rows cannot be counted" if rows is None else f"{rows} rows"
        out.reject(label, rows or 0, rows or 0, f"cannot read the file ({known}): {type(exc).__name__}: {_cut(exc)}")
        return None
    table.columns = names
    table.index = np.arange(2, len(table) + 2)
    return table


def _parquet_rows(data: bytes) -> int | None:
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(io.BytesIO(data)).metadata.num_rows)
    except Exception:  # not a Parquet file at all
        return None


def _cut(exc: Exception, limit: int = 200) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- cells --------------------------------------------------------------------------------------
def _unique_columns(
    table: pd.DataFrame, spec: FileSpec, label: str, roles: dict[str, str], out: Collector
) -> pd.DataFrame:
    """The first of each repeated column name kept; the others reported and their values counted as dropped."""
    names = pd.Index(table.columns)
    repeated = names.duplicated(keep="first")
    if not repeated.any():
        return table
    fixed = spec.fixed_columns()
    for name in pd.unique(names[repeated]):
        positions = np.flatnonzero(names == name)
        extra = 0
        for k in positions[1:]:
            column = table.iloc[:, k]
            if spec.shape == "wide" and name not in fixed:
                extra += len(column) if roles.get(name) not in NOT_NUMERIC else int(filled(column).sum())
        out.add(
            "error",
            label,
            1,
            name,
            f"column '{name}' appears {len(positions)} times (columns {', '.join(str(k + 1) for k in positions)}); "
            f"only the first is read" + (f" ({values_text(extra)} of the others dropped)" if extra else ""),
        )
        out.values_read += extra
        out.dropped["duplicate_column"] += extra
    return table.loc[:, ~repeated]


def _plain(column: pd.Series) -> pd.Series:
    """Numbers, date-times and text as they are; any other cell as text (lists, structs, bytes, booleans,
    durations, categories), so that it is reported downstream instead of breaking a parser."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return column.astype(object).map(_text, na_action="ignore")
    if isinstance(dtype, pd.CategoricalDtype):
        column = column.astype(object)
    elif pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return column
    values = column.to_numpy(dtype=object)
    odd = np.fromiter((not _is_plain(v) for v in values), dtype=bool, count=len(values))
    if not odd.any():
        return column.astype(object)
    values = values.copy()
    values[odd] = [_text(v) for v in values[odd]]
    return pd.Series(values, index=column.index, dtype=object)


def _is_plain(value) -> bool:
    if value is None or isinstance(value, str):
        return True
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (int, float, np.integer, np.floating, decimal.Decimal, _dt.datetime, np.datetime64))


def _text(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        value = value.tolist()
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."


__all__ = ["Table", "count_values", "read_table"]
