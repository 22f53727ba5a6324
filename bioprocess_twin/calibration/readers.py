"""Batch-record files (CSV, Excel, Parquet; wide or long) as one canonical long frame of records.

Shapes
    wide  one row per time point: batch, time, then one column per tag;
    long  one row per value: batch, tag, time, value and optionally unit.

Row numbers are spreadsheet-style for every format: the header is row 1 and the first data row
is row 2 (CSV: the line on which the record starts; Excel: the sheet row; Parquet: record index + 2).
``tables.read_table`` reads a file into plain cells; :func:`to_long` turns them into records.

:func:`to_long` returns a frame with the columns of ``RECORD_COLUMNS``:
``batch, tag, file, row, column`` (provenance), ``clock`` (datetime64[ns], UTC when the text had an
offset, NaT for elapsed files), ``elapsed`` (float, model time units, NaN for date-time files),
``value`` (float, in the file's units), ``text`` (phase-marker text), ``unit`` (the row's unit
text in long files with a unit column, else None) and ``offset`` (the UTC offset of the time text,
or None). Values it cannot use are dropped here and reported through :class:`Collector`: missing
batch ids, unreadable, refused (``now``), implausible or negative times, empty cells, text in
numeric tags and infinities. Time that goes backwards in file order is an error but the values are
kept (they are sorted by time later). It also counts the values read (``count_values``) and rejects
a file that lacks a required column.
"""

from __future__ import annotations

import decimal

import numpy as np
import pandas as pd

from .issues import Collector, Issue, by_batch, rows_text, shown, values_text
from .plausibility import column_warnings
from .tables import Table, count_values, filled, read_table
from .tagmap import FileSpec
from .timestamps import NEGATIVE, OUTSIDE, REFUSED, TOO_LATE, UNREADABLE, parse_clock, window_text
from .timestamps import OK as TIME_OK

RECORD_COLUMNS = ["batch", "tag", "file", "row", "column", "clock", "elapsed", "value", "text", "unit", "offset"]
OK, EMPTY, NON_NUMERIC, INFINITE = 0, 1, 2, 3
__all__ = ["RECORD_COLUMNS", "Collector", "Issue", "Table", "read_table", "rows_text", "to_long", "values_text"]


def _labels(column: pd.Series) -> np.ndarray:
    """Cells as text labels (batch ids, tags, units, phases); whole-number floats lose their ".0"; blanks are None."""

    def one(v):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return None
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        text = str(v).strip()
        return text or None

    return np.array([one(v) for v in column.to_numpy(dtype=object)], dtype=object)


def _numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float values, status OK/EMPTY/NON_NUMERIC/INFINITE) of a column of cells; never raises.

    Numbers are numbers; text is read as a number (``"nan"`` and blanks are empty); anything else
    (a date-time, a boolean, a list turned into text) is not a number.
    """
    n = len(column)
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        status = np.where(np.isnan(values), EMPTY, np.where(np.isinf(values), INFINITE, OK))
        return values, status
    values = np.full(n, np.nan)
    status = np.full(n, NON_NUMERIC)
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        status[column.isna().to_numpy()] = EMPTY
        return values, status
    cells = column.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(cells, skipna=True) in ("string", "empty"):  # text and blanks (CSV): fast path
        text = np.asarray(column.notna().to_numpy(), dtype=bool)
        status[~text] = EMPTY
    else:
        text = np.fromiter((isinstance(v, str) for v in cells), dtype=bool, count=n)
        for k in np.flatnonzero(~text):
            values[k], status[k] = _one_number(cells[k])
    if text.any():
        strings = cells[text]
        try:
            parsed = pd.to_numeric(pd.Series(strings, dtype=object), errors="coerce").to_numpy(
                dtype=float, na_value=np.nan
            )
        except (ValueError, TypeError, OverflowError):
            parsed = np.array([_float_or_nan(v) for v in strings], dtype=float)
        unread = np.isnan(parsed)
        empty = np.zeros(len(strings), dtype=bool)
        empty[unread] = [v.strip().lower() in ("", "nan") for v in strings[unread]]
        status[text] = np.where(empty, EMPTY, np.where(unread, NON_NUMERIC, np.where(np.isinf(parsed), INFINITE, OK)))
        values[text] = parsed
    values = np.where(status == OK, values, np.nan)
    return values, status


def _one_number(value) -> tuple[float, int]:
    if value is None or (isinstance(value, (float, np.floating)) and np.isnan(value)):
        return np.nan, EMPTY
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating, decimal.Decimal)
    ):
        return np.nan, EMPTY if pd.isna(value) is True else NON_NUMERIC
    try:
        x = float(value)
    except (OverflowError, decimal.InvalidOperation):
        return np.nan, INFINITE
    if np.isnan(x):
        return np.nan, EMPTY
    return (x, OK) if np.isfinite(x) else (np.nan, INFINITE)


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except (ValueError, OverflowError):
        return np.nan


def _texts(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(phase-marker text, status OK/EMPTY); whole-number floats lose their '.0'."""
    text = _labels(column)
    return text, np.where(pd.isna(text), EMPTY, OK)


def _cell_text(value) -> str:
    return "an empty cell" if value is None or (not isinstance(value, str) and pd.isna(value)) else shown(value)


def _missing_columns(table: pd.DataFrame, spec: FileSpec, label: str, roles: dict[str, str], out: Collector) -> bool:
    """Reject the file (an error per missing column, its rows and values counted) when a required column is missing."""
    missing = [c for c in spec.column_roles().values() if c not in table.columns]
    if not missing:
        return False
    values = count_values(table, spec, roles)
    for k, c in enumerate(missing):
        message = (
            f"missing column '{c}' (the file has: {', '.join(map(str, table.columns[:30]))}); "
            f"none of its {len(table)} rows are imported"
        )
        if k == 0:
            out.reject(label, len(table), values, message, 1, c)
        else:
            out.add("error", label, 1, c, message)
    return True


def _wide_records(
    table: pd.DataFrame, spec: FileSpec, label: str, roles: dict[str, str], out: Collector
) -> pd.DataFrame:
    """One record per (row, mapped tag column), without the empty cells of phase markers (no change);
    unmapped columns are reported and ignored."""
    fixed = spec.fixed_columns()
    known = [c for c in table.columns if c in roles and c not in fixed]
    out.seen_tags.update(known)
    for c in table.columns:
        if c not in fixed and c not in roles:
            n = int(filled(table[c]).sum())
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
    frame = pd.DataFrame(
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
    blank_marker = (frame["tag"].map(roles).to_numpy() == "phase") & (frame["_status"].to_numpy() == EMPTY)
    return frame[~blank_marker]


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
            f"tag {shown(tag)} is not in the tag map; {len(where)} rows ignored (first at row {int(where.min())})",
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


def _time_status(table: pd.DataFrame, spec: FileSpec, elapsed_factor: float, max_elapsed: float):
    """(clock, elapsed, status, offset) of every row: see timestamps.parse_clock and the elapsed rules."""
    n = len(table)
    cells = table[spec.time_column]
    if spec.time_format == "datetime":
        clock, status, offset = parse_clock(cells)
        return clock, np.full(n, np.nan), status, offset
    raw, number = _numbers(cells)
    with np.errstate(over="ignore", invalid="ignore"):
        elapsed = raw * elapsed_factor
    status = np.where(number == OK, TIME_OK, UNREADABLE).astype(np.int8)
    status[(status == TIME_OK) & (elapsed < 0)] = NEGATIVE
    status[(status == TIME_OK) & ~(elapsed <= max_elapsed)] = TOO_LATE  # also inf after the conversion
    clock = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    return clock, np.where(status == TIME_OK, elapsed, np.nan), status, np.full(n, None, dtype=object)


def to_long(
    table: pd.DataFrame,
    spec: FileSpec,
    label: str,
    roles: dict[str, str],
    elapsed_factor: float,
    out: Collector,
    max_elapsed: float = np.inf,
) -> pd.DataFrame:
    """The canonical records of one file (see the module docstring); problems go to ``out``.

    ``max_elapsed`` is the longest plausible elapsed time in model time units (timestamps.elapsed_limit).
    """
    if _missing_columns(table, spec, label, roles, out):
        return pd.DataFrame(columns=RECORD_COLUMNS)
    out.rows_read += len(table)
    out.values_read += count_values(table, spec, roles)
    rows = table.index.to_numpy()
    batch = np.full(len(table), spec.batch, dtype=object) if spec.batch else _labels(table[spec.batch_column])
    clock, elapsed, time_status, offset = _time_status(table, spec, elapsed_factor, max_elapsed)
    time_cells = table[spec.time_column]
    records = (_wide_records if spec.shape == "wide" else _long_records)(table, spec, label, roles, out)
    cell = records["_cell"].to_numpy()
    unreadable = None
    if spec.shape == "wide":
        unreadable = {}
        for tag, group in records[records["_status"].to_numpy() == NON_NUMERIC].groupby("tag", sort=False):
            mask = np.zeros(len(table), dtype=bool)
            mask[group["_cell"].to_numpy()] = True
            unreadable[tag] = mask
    column_warnings(table, spec, roles, label, time_status, out, unreadable)
    records = records.drop(columns="_cell")
    records = records.assign(
        batch=batch[cell],
        file=label,
        row=rows[cell],
        clock=clock[cell],
        elapsed=elapsed[cell],
        offset=offset[cell],
        _time=time_status[cell],
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

    def first_time(g) -> str:
        return _cell_text(g.loc[g.row.idxmin(), "_time_raw"])

    when = records["_time"].to_numpy()
    drop(
        has_value & pd.isna(records["batch"]).to_numpy(),
        "error",
        [],
        lambda g: f"no batch id: {values_text(len(g))} dropped ({rows_text(g.row)})",
        "no_batch",
        spec.batch_column,
    )
    what = "date-time" if spec.time_format == "datetime" else f"number of {spec.elapsed_units}"
    drop(
        has_value & (when == UNREADABLE),
        "error",
        ["batch"],
        lambda g: (
            f"cannot read {first_time(g)} as a {what}{by_batch(g)}: {values_text(len(g))} dropped ({rows_text(g.row)})"
        ),
        "bad_time",
        spec.time_column,
    )
    drop(
        has_value & (when == REFUSED),
        "error",
        ["batch"],
        lambda g: (
            f"{first_time(g)} is not a time stamp (now, today, yesterday and tomorrow are refused: they name a moving "
            f"time){by_batch(g)}: {values_text(len(g))} dropped ({rows_text(g.row)})"
        ),
        "bad_time",
        spec.time_column,
    )
    drop(
        has_value & (when == OUTSIDE),
        "error",
        ["batch"],
        lambda g: (
            f"{first_time(g)} is outside the plausible window {window_text()}{by_batch(g)}: "
            f"{values_text(len(g))} dropped ({rows_text(g.row)})"
        ),
        "implausible_time",
        spec.time_column,
    )
    drop(
        has_value & (when == TOO_LATE),
        "error",
        ["batch"],
        lambda g: (
            f"elapsed time {first_time(g)} {spec.elapsed_units} is beyond any plausible batch (more than "
            f"{max_elapsed:g} in the model's time units){by_batch(g)}: {values_text(len(g))} dropped ({rows_text(g.row)})"
        ),
        "implausible_time",
        spec.time_column,
    )
    drop(
        has_value & (when == NEGATIVE),
        "error",
        ["batch"],
        lambda g: (
            f"negative elapsed time {str(g.loc[g.row.idxmin(), '_time_raw'])[:40]}{by_batch(g)}: "
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
            + ", ".join(shown(v) for v in pd.unique(g["_raw"].astype(str))[:5])
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
    drop(
        status == EMPTY,
        "warning",
        ["tag"],
        lambda g: (
            f"tag {g.tag.iat[0]}: {values_text(len(g))} empty or NaN{by_batch(g)}; dropped "
            f"(first at row {int(g.row.min())})"
        ),
        "nan",
    )
    kept = records[~bad]
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
            f"({shown(first['_time_raw'])} is earlier than a row above it); "
            f"{len(group)} row{'s' if len(group) > 1 else ''} out of order "
            "(values kept and sorted by time)",
            first["batch"],
        )
