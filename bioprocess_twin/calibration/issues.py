"""Issues found while importing batch records, and the counts that account for every value read.

:class:`Collector` gathers both while the files are read and checked. The counts obey one identity
(docs/calibration_import.md, "Counts"): every value read is used, dropped for a named reason, or
sits in a rejected file::

    values_read == values_used + sum(dropped.values()) + values_in_rejected_files
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import pandas as pd

#: longest cell text quoted in a message
SHOWN_CHARS = 40


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
    """Issues and counts, filled while importing.

    ``values_read`` counts values as they are read (the unit is defined in docs/calibration_import.md);
    ``dropped`` counts the values left out, by reason; a rejected file's values go to
    ``values_in_rejected_files`` (and to ``values_read``) instead.
    """

    issues: list[Issue] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    seen_tags: set = field(default_factory=set)  # tag-map tags found in some file
    rows_read: int = 0
    values_read: int = 0
    files_rejected: int = 0
    rows_in_rejected_files: int = 0
    values_in_rejected_files: int = 0

    def add(
        self, severity: str, file: str, row: int | None, column: str | None, message: str, batch: str | None = None
    ):
        self.issues.append(
            Issue(
                severity,
                file,
                None if row is None else int(row),
                None if column is None else str(column),
                message,
                None if batch is None else str(batch),
            )
        )

    def reject(self, file: str, rows: int, values: int, message: str, row: int | None = None, column=None):
        """A file none of whose values are imported: an error, and its rows and values counted."""
        self.add("error", file, row, column, message)
        self.files_rejected += 1
        self.rows_read += rows
        self.rows_in_rejected_files += rows
        self.values_read += values
        self.values_in_rejected_files += values

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


def shown(value, limit: int = SHOWN_CHARS) -> str:
    """A cell quoted for a message, cut to ``limit`` characters."""
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def rows_text(rows) -> str:
    """``row 5`` or ``rows 5, 9, 12 and 40 more``."""
    rows = sorted(set(int(r) for r in rows))
    if len(rows) == 1:
        return f"row {rows[0]}"
    listed = ", ".join(str(r) for r in rows[:5])
    return f"rows {listed}" + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def by_batch(group: pd.DataFrame) -> str:
    """`` in batch B2`` or `` in batches B1 (3), B4 (12)``."""
    counts = group["batch"].value_counts(sort=False)
    if len(counts) == 1:
        return f" in batch {counts.index[0]}"
    return " in batches " + ", ".join(f"{b} ({n})" for b, n in counts.items())


def values_text(n: int) -> str:
    return f"{n} value{'s' if n != 1 else ''}"
