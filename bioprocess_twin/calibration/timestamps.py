"""Time stamps of batch records: what is read as a date-time, what is refused, and mixed UTC offsets.

Date-times (ISO 8601 text, or date-time cells of Excel and Parquet files) are read at microsecond
resolution and must fall in the plausible window :data:`CLOCK_WINDOW` (1900-01-01 to 2200-01-01),
which also keeps them inside the range of the nanosecond times the importer computes with (pandas
``datetime64[ns]`` covers 1677-09-21 to 2262-04-11; a later or earlier time would wrap around).
The words in :data:`REFUSED_WORDS` (``now``, ``today``, ...) are refused: pandas would read some of
them as the current clock. Elapsed times must be finite, not negative, and below
:data:`MAX_ELAPSED_HOURS` (or :data:`MAX_ELAPSED_COUNT` for a model whose time is a count).

Each date-time also keeps its UTC offset (``+01:00``; None for a time without one) so that
:func:`check_offsets` can report a batch whose times mix offsets.
"""

from __future__ import annotations

import datetime as _dt
import re

import numpy as np
import pandas as pd

from ..core.units import ureg
from .issues import Collector, rows_text

#: plausible clock times: [start, end)
CLOCK_WINDOW = (np.datetime64("1900-01-01T00:00:00", "us"), np.datetime64("2200-01-01T00:00:00", "us"))
#: words that name a moving time, not a time stamp (compared without case and surrounding spaces)
REFUSED_WORDS = frozenset({"now", "today", "yesterday", "tomorrow"})
#: the longest plausible time from the batch start (ten years), for elapsed times and date-times alike
MAX_ELAPSED_HOURS = float(ureg.Quantity(10, "year").to("h").magnitude)
#: the largest plausible elapsed count when the model's time is a number (passes, cycles)
MAX_ELAPSED_COUNT = 1e6
#: status of a time cell
OK, UNREADABLE, OUTSIDE, REFUSED, NEGATIVE, TOO_LATE = 0, 1, 2, 3, 4, 5

_OFFSET = re.compile(r"(?:\d[T ]?|[T ])\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$", re.I)
_YEAR = re.compile(r"^[+-]?(\d{1,6})-\d{1,2}")
_NAT = np.datetime64("NaT", "ns")


def window_text() -> str:
    return f"{str(CLOCK_WINDOW[0])[:10]} .. {str(CLOCK_WINDOW[1])[:10]}"


def parse_clock(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(datetime64[ns] in UTC or as given, status, offset)`` of a column of date-time cells.

    Status: OK, UNREADABLE (numbers, other formats, empty), OUTSIDE (not in :data:`CLOCK_WINDOW`) or
    REFUSED (a word of :data:`REFUSED_WORDS`). ``offset`` is the text of the UTC offset (``+01:00``)
    or None; clocks of other statuses are NaT.
    """
    n = len(column)
    micro = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    status = np.full(n, UNREADABLE, dtype=np.int8)
    offset = np.full(n, None, dtype=object)
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        if column.dt.tz is not None:
            local = column.dt.tz_localize(None)
            utc = column.dt.tz_convert("UTC").dt.tz_localize(None)
            offset[:] = [_offset_text(d) for d in (local - utc).to_numpy()]
            column = utc
        micro[:] = column.to_numpy().astype("datetime64[us]")
        status[~np.isnat(micro)] = OK
    elif not (pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype)):
        values = column.to_numpy(dtype=object)
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):  # text and blanks: fast path
            text = np.asarray(column.notna().to_numpy(), dtype=bool)
        else:
            text = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=n)
        if text.any():
            _parse_text(values[text], np.flatnonzero(text), micro, status, offset)
        for k in np.flatnonzero(~text):
            micro[k], status[k], offset[k] = _one_cell(values[k])
    good = status == OK
    outside = good & ((micro < CLOCK_WINDOW[0]) | (micro >= CLOCK_WINDOW[1]))
    status[outside] = OUTSIDE
    clock = np.full(n, _NAT)
    ok = status == OK
    clock[ok] = micro[ok].astype("datetime64[ns]")  # inside the window: exact, no overflow
    offset[~ok] = None
    return clock, status, offset


def _parse_text(values: np.ndarray, where: np.ndarray, micro, status, offset):
    stripped = np.array([v.strip() for v in values], dtype=object)
    refused = np.array([s.lower() in REFUSED_WORDS for s in stripped], dtype=bool)
    status[where[refused]] = REFUSED
    rest, at = stripped[~refused], where[~refused]
    if not len(rest):
        return
    try:
        parsed = pd.to_datetime(pd.Series(rest, dtype=object), format="ISO8601", utc=True, errors="coerce")
        stamps = parsed.dt.tz_localize(None).to_numpy().astype("datetime64[us]")
    except (ValueError, OverflowError, TypeError):  # one unparseable cell spoils the batch: cell by cell
        stamps = np.array([_one_text(s) for s in rest], dtype="datetime64[us]")
    read = ~np.isnat(stamps)
    micro[at[read]] = stamps[read]
    status[at[read]] = OK
    for k, s in zip(at[~read], rest[~read]):
        match = _YEAR.match(s)
        if match and not 1900 <= int(match.group(1)) < 2200:
            status[k] = OUTSIDE
    maybe = [
        len(s) > 13 and (s[-1] in "Zz" or s[-3:].upper() in ("UTC", "GMT") or "+" in s or "-" in s[10:]) for s in rest
    ]
    if any(maybe):
        found = [_OFFSET.search(s) if m else None for s, m in zip(rest, maybe)]
        offset[at] = [_offset_label(m.group(1)) if m else None for m in found]


def _one_text(text: str) -> np.datetime64:
    try:
        stamp = pd.to_datetime(text, format="ISO8601", utc=True)
        return np.datetime64(stamp.tz_localize(None).to_datetime64(), "us")
    except (ValueError, OverflowError, TypeError):
        return np.datetime64("NaT", "us")


def _one_cell(value) -> tuple[np.datetime64, int, str | None]:
    """A date-time cell that is not text: a datetime (with or without tzinfo) or numpy datetime64."""
    nat = np.datetime64("NaT", "us")
    if isinstance(value, _dt.datetime):
        shift = value.utcoffset()
        naive = value.replace(tzinfo=None) - (shift or _dt.timedelta(0))
        return np.datetime64(naive, "us"), OK, None if shift is None else _offset_text(shift)
    if isinstance(value, np.datetime64) and not np.isnat(value):
        return value.astype("datetime64[us]"), OK, None
    return nat, UNREADABLE, None


def _offset_text(delta) -> str | None:
    delta = pd.Timedelta(delta)
    if pd.isna(delta):
        return None
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _offset_label(text: str) -> str:
    text = text.upper()
    if text in ("Z", "UTC", "GMT"):
        return "+00:00"
    digits = text[1:].replace(":", "")
    return f"{text[0]}{digits[:2]}:{(digits[2:] or '00')[:2]}"


def elapsed_limit(hours_to_model: float | None) -> float:
    """The largest plausible time from the batch start, in model time units."""
    return MAX_ELAPSED_COUNT if hours_to_model is None else MAX_ELAPSED_HOURS * hours_to_model


def check_offsets(records: pd.DataFrame, time_columns: dict[str, str], out: Collector):
    """An issue per batch whose date-times mix UTC offsets, at the first row that differs from the batch's first.

    Times with and without an offset in one batch are an error (the ones with an offset are converted
    to UTC, the others taken as they are, so they may be hours apart); different offsets (a change to
    summer time, two sites) are a warning: all are converted to UTC.
    """
    clocks = records[records["clock"].notna().to_numpy()]
    if clocks.empty:
        return
    rows = clocks.drop_duplicates(["batch", "file", "row"]).assign(_o=lambda d: d["offset"].fillna("none"))
    for batch, group in rows.groupby("batch", sort=False):
        kinds = pd.unique(group["_o"])
        if len(kinds) < 2:
            continue
        odd = group[group["_o"] != group["_o"].iat[0]].iloc[0]
        parts = [
            f"{'no offset' if k == 'none' else k} ({rows_text(group.loc[group['_o'] == k, 'row'])})" for k in kinds[:4]
        ]
        mixed = "none" in kinds
        out.add(
            "error" if mixed else "warning",
            odd["file"],
            odd["row"],
            time_columns.get(odd["file"]),
            f"batch {batch} mixes UTC offsets in its times: {'; '.join(parts)}"
            + (
                "; times with an offset are converted to UTC and times without one are taken as they are, "
                "so they may be hours apart"
                if mixed
                else "; all are converted to UTC"
            ),
            batch,
        )
