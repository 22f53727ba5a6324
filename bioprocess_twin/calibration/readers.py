"""Read batch-record files (CSV, Excel, Parquet; wide or long) into one canonical long frame.

Shapes
    wide  one row per time point: batch, time, then one column per tag;
    long  one row per value: batch, tag, time, value and optionally unit.

Row numbers are spreadsheet-style for every format: the header is row 1 and the first data row
is row 2 (CSV: the line number; Excel: the sheet row; Parquet: record index + 2).

:func:`to_long` returns a frame with the columns of ``RECORD_COLUMNS``:
``batch, tag, file, row, column`` (provenance), ``clock`` (datetime64[ns], UTC when the text had an
offset, NaT for elapsed files), ``elapsed`` (float, model time units, NaN for date-time files),
``value`` (float, in the file's units), ``text`` (phase-marker text) and ``unit`` (the row's unit
text in long files with a unit column, else None). Values it cannot use are dropped here and
reported through :class:`Collector`: missing batch ids, unreadable or negative times, empty
cells, text in numeric tags and infinities. Time that goes backwards in file order is an error but
the values are kept (they are sorted by time later).
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .tagmap import FileSpec

RECORD_COLUMNS = ["batch", "tag", "file", "row", "column", "clock", "elapsed", "value", "text", "unit"]
OK, EMPTY, NON_NUMERIC, INFINITE = 0, 1, 2, 3


@dataclass
class Issue:
    """One problem found in the records; ``row`` is spreadsheet-style (header = row 1)."""

    severity: str  # "error" | "warning" | "info"
    file: str  # file name as given in the tag map (or the tag map itself)
    row: int | None
    column: str | None
    message: str
    batch: str | None = None

    def where(self) -> str:
        return ":".join([self.file] + [str(x) for x in (self.row, self.column) if x is not None])

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Collector:
    """Issues and counts of dropped values, filled while importing."""

    issues: list[Issue] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    seen_tags: set = field(default_factory=set)  # tag-map tags found in some file

    def add(
        self, severity: str, file: str, row: int | None, column: str | None, message: str, batch: str | None = None
    ):
        self.issues.append(
            Issue(
                severity,
                file,
                None if row is None else int(row),
                column,
                message,
                None if batch is None else str(batch),
            )
        )

    def rows(
        self,
        severity: str,
        records: pd.DataFrame,
        keys: list[str],
        message: Callable[[pd.DataFrame], str],
        reason: str | None = None,
    ):
        """One issue per group of ``records`` by ``keys`` (always within one file and column), at its first row.

        ``reason`` counts every record as a dropped value under that name.
        """
        if records.empty:
            return
        if reason:
            self.dropped[reason] += len(records)
        for _, group in records.groupby(["file", "column"] + keys, sort=False, dropna=False):
            batches = group["batch"].dropna().unique()
            first = group.loc[group["row"].idxmin()]
            self.add(
                severity,
                first["file"],
                first["row"],
                first["column"],
                message(group),
                batches[0] if len(batches) == 1 else None,
            )


def rows_text(rows) -> str:
    """``row 5`` or ``rows 5, 9, 12 and 40 more``."""
    rows = sorted(set(int(r) for r in rows))
    if len(rows) == 1:
        return f"row {rows[0]}"
    shown = ", ".join(str(r) for r in rows[:5])
    return f"rows {shown}" + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def by_batch(group: pd.DataFrame) -> str:
    """`` in batch B2`` or `` in batches B1 (3), B4 (12)``."""
    counts = group["batch"].value_counts(sort=False)
    if len(counts) == 1:
        return f" in batch {counts.index[0]}"
    return " in batches " + ", ".join(f"{b} ({n})" for b, n in counts.items())


def values_text(n: int) -> str:
    return f"{n} value{'s' if n != 1 else ''}"


# -- files ------------------------------------------------------------------------------------
def read_table(path: Path, spec: FileSpec, label: str, out: Collector) -> pd.DataFrame | None:
    """The file as a table of raw cells, indexed by spreadsheet row; None (and an error) if it cannot be read."""
    if not path.is_file():
        out.add("error", label, None, None, f"file not found: {path}")
        return None
    try:
        if spec.format == "csv":
            table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], skip_blank_lines=False)
        elif spec.format == "xlsx":
            table = pd.read_excel(
                path, sheet_name=spec.sheet if spec.sheet is not None else 0, keep_default_na=False, na_values=[""]
            )
        else:
            table = pd.read_parquet(path)
    except Exception as exc:  # the readers raise many types (parser, zip, arrow, missing sheet)
        out.add("error", label, None, None, f"cannot read the file: {type(exc).__name__}: {exc}")
        return None
    table.columns = [str(c) for c in table.columns]
    table.index = np.arange(2, len(table) + 2)
    return table[~table.isna().all(axis=1)]  # blank lines are not records


def _labels(column: pd.Series) -> np.ndarray:
    """Cells as text labels (batch ids, tags, units, phases); whole-number floats lose their ".0"; blanks are None."""

    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return None
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        text = str(v).strip()
        return text or None

    return np.array([one(v) for v in column.to_numpy(dtype=object)], dtype=object)


def _clock(column: pd.Series) -> np.ndarray:
    """Date-times as datetime64[ns] (offsets converted to UTC); anything else is NaT."""
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = column if column.dt.tz is None else column.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed.to_numpy(dtype="datetime64[ns]")
    out = np.full(len(column), np.datetime64("NaT"), dtype="datetime64[ns]")
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return out
    values = column.to_numpy(dtype=object)
    is_text = np.array([isinstance(v, str) for v in values], dtype=bool)
    is_time = np.array([isinstance(v, (_dt.datetime, np.datetime64)) for v in values], dtype=bool)
    for mask, fmt in ((is_text, "ISO8601"), (is_time, None)):
        if mask.any():
            kwargs = {"format": fmt} if fmt else {}
            parsed = pd.to_datetime(pd.Series(values[mask]), utc=True, errors="coerce", **kwargs)
            out[mask] = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return out


def _numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float values, status OK/EMPTY/NON_NUMERIC/INFINITE) of a column of cells."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        status = np.where(np.isnan(values), EMPTY, np.where(np.isinf(values), INFINITE, OK))
        return values, status
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    text = column.astype(object).where(column.notna(), "").astype(str).str.strip().str.lower()
    empty = (text == "").to_numpy() | (text == "nan").to_numpy()
    status = np.where(empty, EMPTY, np.where(np.isnan(values), NON_NUMERIC, np.where(np.isinf(values), INFINITE, OK)))
    values = np.where(status == OK, values, np.nan)
    return values, status


def _texts(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(phase-marker text, status OK/EMPTY); whole-number floats lose their '.0'."""
    text = _labels(column)
    return text, np.where(pd.isna(text), EMPTY, OK)


def _cell_text(value) -> str:
    return "an empty cell" if pd.isna(value) else f"'{value}'"


def _missing_columns(table: pd.DataFrame, spec: FileSpec, label: str, out: Collector) -> bool:
    required = [spec.time_column] + ([] if spec.batch else [spec.batch_column])
    if spec.shape == "long":
        required += [spec.tag_column, spec.value_column] + ([spec.unit_column] if spec.unit_column else [])
    missing = [c for c in required if c not in table.columns]
    for c in missing:
        out.add(
            "error",
            label,
            1,
            c,
            f"missing column '{c}' (the file has: {', '.join(table.columns)}); "
            f"none of its {len(table)} rows are imported",
        )
    if missing:
        out.dropped["file_skipped_rows"] += len(table)
    return bool(missing)


def _wide_records(
    table: pd.DataFrame, spec: FileSpec, label: str, roles: dict[str, str], out: Collector
) -> pd.DataFrame:
    """One record per (row, mapped tag column); unmapped columns are reported and ignored."""
    fixed = {spec.time_column} | ({spec.batch_column} if not spec.batch else set())
    known = [c for c in table.columns if c in roles and c not in fixed]
    out.seen_tags.update(known)
    for c in table.columns:
        if c not in fixed and c not in roles:
            n = int(table[c].notna().sum())
            out.add("warning", label, 1, c, f"column '{c}' is not in the tag map; ignored ({values_text(n)})")
            out.dropped["unmapped"] += n
    n = len(table)
    values, texts, status = [], [], []
    for c in known:
        if roles[c] == "phase":
            t, s = _texts(table[c])
            values.append(np.full(n, np.nan))
            texts.append(t)
        else:
            v, s = _numbers(table[c])
            values.append(v)
            texts.append(np.full(n, None, dtype=object))
        status.append(s)
    k = len(known)
    return pd.DataFrame(
        {
            "tag": np.repeat(np.array(known, dtype=object), n),
            "column": np.repeat(np.array(known, dtype=object), n),
            "_cell": np.tile(np.arange(n), k),
            "value": np.concatenate(values) if k else np.zeros(0),
            "text": np.concatenate(texts) if k else np.zeros(0, dtype=object),
            "unit": None,
            "_status": np.concatenate(status) if k else np.zeros(0, dtype=int),
            "_raw": np.concatenate([table[c].to_numpy(dtype=object) for c in known])
            if k
            else np.zeros(0, dtype=object),
        }
    )


def _long_records(
    table: pd.DataFrame, spec: FileSpec, label: str, roles: dict[str, str], out: Collector
) -> pd.DataFrame:
    """One record per row; rows without a tag and tags not in the tag map are reported and ignored."""
    n = len(table)
    tags = _labels(table[spec.tag_column])
    rows = table.index.to_numpy()
    no_tag = pd.isna(tags)
    if no_tag.any():
        out.add(
            "error",
            label,
            int(rows[no_tag][0]),
            spec.tag_column,
            f"{int(no_tag.sum())} rows have no tag ({rows_text(rows[no_tag])}); their values are not imported",
        )
        out.dropped["no_tag"] += int(no_tag.sum())
    unknown = pd.Series(tags[~no_tag]).loc[lambda s: ~s.isin(list(roles))]
    for tag, idx in unknown.groupby(unknown, sort=False).groups.items():
        where = rows[~no_tag][idx]
        out.add(
            "warning",
            label,
            int(where.min()),
            spec.tag_column,
            f"tag '{tag}' is not in the tag map; {len(where)} rows ignored (first at row {int(where.min())})",
        )
        out.dropped["unmapped"] += len(where)
    role = pd.Series(tags, dtype=object).map(roles).to_numpy(dtype=object)
    out.seen_tags.update(set(tags[pd.notna(role)]))
    is_phase = role == "phase"
    values, status = _numbers(table[spec.value_column])
    text, text_status = _texts(table[spec.value_column])
    units = _labels(table[spec.unit_column]) if spec.unit_column else np.full(n, None, dtype=object)
    frame = pd.DataFrame(
        {
            "tag": tags,
            "column": spec.value_column,
            "_cell": np.arange(n),
            "value": np.where(is_phase, np.nan, values),
            "text": np.where(is_phase, text, None),
            "unit": np.where(is_phase, None, units),
            "_status": np.where(is_phase, text_status, status),
            "_raw": table[spec.value_column].to_numpy(dtype=object),
        }
    )
    return frame[pd.notna(role)]


def to_long(
    table: pd.DataFrame, spec: FileSpec, label: str, roles: dict[str, str], elapsed_factor: float, out: Collector
) -> pd.DataFrame:
    """The canonical records of one file (see the module docstring); problems go to ``out``."""
    if _missing_columns(table, spec, label, out):
        return pd.DataFrame(columns=RECORD_COLUMNS)
    rows = table.index.to_numpy()
    batch = np.full(len(table), spec.batch, dtype=object) if spec.batch else _labels(table[spec.batch_column])
    time_cells = table[spec.time_column]
    if spec.time_format == "datetime":
        clock = _clock(time_cells)
        elapsed = np.full(len(table), np.nan)
        time_ok = ~np.isnat(clock)
    else:
        clock = np.full(len(table), np.datetime64("NaT"), dtype="datetime64[ns]")
        raw, status = _numbers(time_cells)
        elapsed = raw * elapsed_factor
        time_ok = status == OK
    records = (_wide_records if spec.shape == "wide" else _long_records)(table, spec, label, roles, out)
    cell = records.pop("_cell").to_numpy()
    records = records.assign(
        batch=batch[cell],
        file=label,
        row=rows[cell],
        clock=clock[cell],
        elapsed=elapsed[cell],
        _time_ok=time_ok[cell],
        _time_raw=time_cells.to_numpy(dtype=object)[cell],
    )
    status = records["_status"].to_numpy()
    has_value = status != EMPTY
    bad = np.zeros(len(records), dtype=bool)

    def drop(mask, severity, keys, message, reason, column=None):
        nonlocal bad
        mask = mask & ~bad
        if mask.any():
            subset = records[mask] if column is None else records[mask].assign(column=column)
            out.rows(severity, subset, keys, message, reason)
            bad |= mask

    batch_col = spec.batch_column
    drop(
        has_value & pd.isna(records["batch"]).to_numpy(),
        "error",
        [],
        lambda g: f"no batch id: {values_text(len(g))} dropped ({rows_text(g.row)})",
        "no_batch",
        batch_col,
    )
    what = "date-time" if spec.time_format == "datetime" else f"number of {spec.elapsed_units}"
    drop(
        has_value & ~records["_time_ok"].to_numpy(),
        "error",
        ["batch"],
        lambda g: (
            f"cannot read {_cell_text(g.loc[g.row.idxmin(), '_time_raw'])} as a {what}{by_batch(g)}: "
            f"{values_text(len(g))} dropped ({rows_text(g.row)})"
        ),
        "bad_time",
        spec.time_column,
    )
    drop(
        has_value & (records["elapsed"].to_numpy() < 0),
        "error",
        ["batch"],
        lambda g: (
            f"negative elapsed time {g.loc[g.row.idxmin(), '_time_raw']}{by_batch(g)}: "
            f"{values_text(len(g))} dropped ({rows_text(g.row)})"
        ),
        "negative_time",
        spec.time_column,
    )
    drop(
        status == NON_NUMERIC,
        "error",
        ["tag", "batch"],
        lambda g: (
            f"tag {g.tag.iat[0]}: not a number: "
            + ", ".join(repr(str(v)) for v in pd.unique(g["_raw"])[:5])
            + f"{by_batch(g)}; {values_text(len(g))} dropped ({rows_text(g.row)})"
        ),
        "non_numeric",
    )
    drop(
        status == INFINITE,
        "error",
        ["tag", "batch"],
        lambda g: (
            f"tag {g.tag.iat[0]}: infinite value{by_batch(g)}; {values_text(len(g))} dropped ({rows_text(g.row)})"
        ),
        "inf",
    )
    nan_cells = (status == EMPTY) & (records["tag"].map(roles).to_numpy() != "phase")  # empty phase cells: no marker
    drop(
        nan_cells,
        "warning",
        ["tag"],
        lambda g: (
            f"tag {g.tag.iat[0]}: {values_text(len(g))} empty or NaN{by_batch(g)}; dropped "
            f"(first at row {int(g.row.min())})"
        ),
        "nan",
    )
    kept = records[~bad & has_value]
    _check_time_order(kept, spec, label, out)
    return kept[RECORD_COLUMNS].reset_index(drop=True)


def _check_time_order(records: pd.DataFrame, spec: FileSpec, label: str, out: Collector):
    """Error at each group's rows whose time is earlier than a row above them (per batch; per tag in long files)."""
    if records.empty:
        return
    keys = ["batch"] + (["tag"] if spec.shape == "long" else [])
    t = records["clock"].astype("int64") if spec.time_format == "datetime" else records["elapsed"]
    order = records.assign(_t=t.to_numpy()).drop_duplicates(keys + ["row"]).sort_values("row", kind="stable")
    latest = order.groupby(keys, sort=False)["_t"].cummax()
    previous = latest.groupby([order[k] for k in keys], sort=False).shift(1)
    back = order[(order["_t"] < previous).to_numpy()]
    for _, group in back.groupby(keys, sort=False):
        first = group.iloc[0]
        tag = f" tag {first['tag']}," if spec.shape == "long" else ""
        out.add(
            "error",
            label,
            first["row"],
            spec.time_column,
            f"time goes backwards in batch {first['batch']},{tag} at row {int(first['row'])} "
            f"('{first['_time_raw']}' is earlier than a row above it); "
            f"{len(group)} row{'s' if len(group) > 1 else ''} out of order "
            "(values kept and sorted by time)",
            first["batch"],
        )
