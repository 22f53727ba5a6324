"""The cases of a sweep, their outcomes, and the Parquet store the outcomes stream to.

A store is a folder: ``scenario.json`` holds the spec document the caller gives (spec and seeds) and its
SHA-256, and every batch of finished cases is one file ``part-<first index>-<n>.parquet`` with the
columns of :meth:`CaseOutcome.to_row`. A part is written to a temporary file and renamed into place, so
a sweep killed while writing leaves either the whole part or none of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

STATUSES = ("ok", "failed", "error")
BASE_COLUMNS = ("index", "status", "message", "seconds", "seed")
KPI_PREFIX = "kpi."
VALUE_PREFIX = "value."
PART_NAME = re.compile(r"part-(\d+)-(\d+)\.parquet")
SPEC_FILE = "scenario.json"


class ExecutorError(RuntimeError):
    """A sweep that cannot run as asked: bad backend, scheduler address, cases or store."""


@dataclass(frozen=True)
class Case:
    """One simulation of a sweep: its factor values (path -> value) and its own random seed."""

    index: int
    values: dict[str, float]
    seed: int | None = None


@dataclass
class CaseOutcome:
    """What one case gave: ``ok``, ``failed`` (the solver failed) or ``error`` (the task raised or was lost)."""

    index: int
    status: str
    message: str = ""
    kpis: dict[str, float | None] = field(default_factory=dict)
    seconds: float = 0.0
    #: the case's own values (path -> value) and seed, copied by the executor so the store records what ran
    values: dict[str, float] = field(default_factory=dict)
    seed: int | None = None

    def to_row(self) -> dict[str, Any]:
        """Flat row: index, status, message, seconds, seed, then one ``value.<path>`` column per case value and
        one ``kpi.<name>`` column per KPI."""
        row: dict[str, Any] = {"index": self.index, "status": self.status, "message": self.message}
        row["seconds"] = self.seconds
        row["seed"] = self.seed
        row.update({VALUE_PREFIX + path: value for path, value in self.values.items()})
        row.update({KPI_PREFIX + name: value for name, value in self.kpis.items()})
        return row


def spec_digest(spec: dict) -> tuple[str, str]:
    """Canonical JSON of the spec document and its SHA-256 (hex)."""
    try:
        text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ExecutorError(f"the spec document of a case store must be plain JSON: {exc}") from exc
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


class CaseStore:
    """A folder of Parquet parts, one per finished batch of cases, plus ``scenario.json`` (spec and SHA-256).

    Opening a folder that holds a sweep of another spec raises :class:`ExecutorError`: outcomes of two
    specs never mix. One process writes a store at a time.
    """

    def __init__(self, folder: Path | str, spec: dict):
        self.folder = Path(folder)
        text, self.sha256 = spec_digest(spec)
        self.spec = json.loads(text)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExecutorError(f"cannot create the case store folder {self.folder}: {exc}") from exc
        meta = self.folder / SPEC_FILE
        if meta.exists():
            stored = self._stored_digest(meta)
            if stored != self.sha256:
                raise ExecutorError(
                    f"the case store {self.folder} holds a sweep of another spec (SHA-256 {stored[:12]}..., "
                    f"this spec {self.sha256[:12]}...); give another folder or delete this one"
                )
        else:
            if self._parts():
                raise ExecutorError(f"the case store {self.folder} has result parts but no {SPEC_FILE}")
            document = {"sha256": self.sha256, "spec": self.spec}
            self._write_atomic(meta, json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8"))
        for stale in self.folder.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        self._finished: set[int] = set()
        for part in self._parts():
            self._finished.update(int(i) for i in pq.read_table(part, columns=["index"]).column("index").to_pylist())

    def _stored_digest(self, meta: Path) -> str:
        try:
            document = json.loads(meta.read_text("utf-8"))
            digest = document["sha256"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ExecutorError(f"{meta} is not the {SPEC_FILE} of a case store: {exc}") from exc
        if not isinstance(digest, str):
            raise ExecutorError(f"{meta} is not the {SPEC_FILE} of a case store: its sha256 is not a string")
        return digest

    def _parts(self) -> list[Path]:
        found = [(PART_NAME.fullmatch(p.name), p) for p in self.folder.iterdir()]
        return [p for _, p in sorted((int(m.group(1)), p) for m, p in found if m)]

    def _write_atomic(self, target: Path, data: bytes | pa.Table) -> None:
        temporary = self.folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(temporary, "wb") as handle:
                if isinstance(data, pa.Table):
                    pq.write_table(data, handle)
                else:
                    handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    def finished(self) -> set[int]:
        """Indices of the cases whose outcome is stored."""
        return set(self._finished)

    def append(self, outcomes: Sequence[CaseOutcome]) -> None:
        """Store a batch of outcomes as one part; outcomes of indices already stored are dropped."""
        fresh: dict[int, CaseOutcome] = {}
        for outcome in outcomes:
            if outcome.index not in self._finished and outcome.index not in fresh:
                fresh[outcome.index] = outcome
        if not fresh:
            return
        batch = [fresh[i] for i in sorted(fresh)]
        names = list(dict.fromkeys(name for outcome in batch for name in outcome.kpis))
        columns: dict[str, pa.Array] = {
            "index": pa.array([o.index for o in batch], pa.int64()),
            "status": pa.array([o.status for o in batch], pa.string()),
            "message": pa.array([o.message for o in batch], pa.string()),
            "seconds": pa.array([float(o.seconds) for o in batch], pa.float64()),
            "seed": pa.array([o.seed for o in batch], pa.int64()),
        }
        for path in dict.fromkeys(path for outcome in batch for path in outcome.values):
            values = [o.values.get(path) for o in batch]
            columns[VALUE_PREFIX + path] = pa.array([None if v is None else float(v) for v in values], pa.float64())
        for name in names:
            values = [o.kpis.get(name) for o in batch]
            columns[KPI_PREFIX + name] = pa.array([None if v is None else float(v) for v in values], pa.float64())
        self._write_atomic(self.folder / f"part-{batch[0].index}-{len(batch)}.parquet", pa.table(columns))
        self._finished.update(fresh)

    def _table(self) -> pa.Table | None:
        tables = [pq.read_table(part) for part in self._parts()]
        if not tables:
            return None
        return pa.concat_tables(tables, promote_options="default")

    def outcomes(self) -> list[CaseOutcome]:
        """Every stored outcome, by index; a KPI a case did not report reads back as ``None``."""
        table = self._table()
        if table is None:
            return []
        names = [c for c in table.column_names if c.startswith(KPI_PREFIX)]
        paths = [c for c in table.column_names if c.startswith(VALUE_PREFIX)]
        rows = sorted(table.to_pylist(), key=lambda row: row["index"])
        return [
            CaseOutcome(
                index=row["index"],
                status=row["status"],
                message=row["message"],
                kpis={name[len(KPI_PREFIX) :]: row[name] for name in names},
                seconds=row["seconds"],
                values={p[len(VALUE_PREFIX) :]: row[p] for p in paths if row[p] is not None},
                seed=row.get("seed"),
            )
            for row in rows
        ]

    def frame(self) -> pd.DataFrame:
        """One row per stored case (the columns of :meth:`CaseOutcome.to_row`), sorted by index."""
        table = self._table()
        if table is None:
            return pd.DataFrame({name: [] for name in BASE_COLUMNS})
        frame = table.to_pandas()
        return frame.sort_values("index", kind="stable").reset_index(drop=True)
