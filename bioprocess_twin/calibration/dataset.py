"""Batch records ready for calibration: observations, inputs, initial states and phases per batch.

:func:`load_batch_records` reads the files a tag map names (``readers``), converts every value to
the model's units (pint, ``tagmap``), places it in time from the batch start, and builds one
:class:`BatchData` per batch. It never raises on data problems: each one becomes an :class:`Issue`
in the :class:`ImportReport` with file, spreadsheet row and column, and every dropped value is
counted by reason. Only an invalid tag map raises (SpecError naming the field).

Time: date-times become hours since the batch start (``batch_start``: the batch's earliest
record, or the first row of a named phase), then model time units; elapsed times are already
from the batch start. Inputs are piecewise constant: each record sets the input from its time
on; cumulative totals T_k at t_k become rates (T_k+1 - T_k)/(t_k+1 - t_k) on [t_k, t_k+1) and 0
after the last total, so integrating the rates gives back the totals.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.parameters import ParameterError
from ..core.spec import SpecError
from ..core.units import UnitsError
from .readers import RECORD_COLUMNS, Collector, Issue, read_table, rows_text, to_long, values_text
from .tagmap import Conversion, ModelPlan, TagMap, conversion, load_tag_map, resolve_tags

__all__ = ["BatchData", "BatchRecords", "ImportReport", "Issue", "load_batch_records"]
OBSERVATION_COLUMNS = ["output", "time", "value", "tag", "source"]


@dataclass
class BatchData:
    """One batch in model units, times from the batch start in model time units."""

    batch: str
    observations: pd.DataFrame  # output, time, value, tag, source ("file:row:column")
    inputs: dict[str, list[tuple[float, float]]]  # input -> piecewise-constant steps [(t, value)], first t == 0
    initial: dict[str, float]  # state -> value at t = 0
    phases: list[tuple[str, float]]  # (ISA-88 phase name, start time), sorted by time
    end: float  # last time of any record of the batch
    start: pd.Timestamp | None = None  # absolute start when the files carry date-times

    def outputs(self) -> list[str]:
        return sorted(self.observations["output"].unique())


@dataclass
class ImportReport:
    """Every problem found, with how much was read, used and dropped (by reason)."""

    issues: list[Issue]
    rows_read: int
    values_used: int
    dropped: dict[str, int]

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)

    def counts(self) -> dict[str, int]:
        return {s: sum(i.severity == s for i in self.issues) for s in ("error", "warning", "info")}

    @property
    def values_dropped(self) -> int:
        return sum(self.dropped.values())

    def batches_with_errors(self) -> list[str]:
        """The batches that have errors, sorted; an error of no one batch (a whole file) is ``"all batches"``."""
        return sorted({i.batch or "all batches" for i in self.issues if i.severity == "error"})

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "rows_read": self.rows_read,
            "values_used": self.values_used,
            "values_dropped": self.values_dropped,
            "dropped": dict(self.dropped),
            "counts": self.counts(),
            "batches_with_errors": self.batches_with_errors(),
            "issues": [i.to_dict() for i in self.issues],
        }

    def errors_as_fields(self) -> list[tuple[str, str]]:
        """``[("file:row:column", message)]`` of the errors, for ParameterError / SpecError."""
        return [(i.where(), i.message) for i in self.issues if i.severity == "error"]


@dataclass
class BatchRecords:
    """All batches of a tag map, the import report and the sha256 of every file read."""

    model: str
    batches: dict[str, BatchData]
    report: ImportReport
    files: dict[str, str]
    tag_map: TagMap | None = None

    def coverage(self, outputs: list[str]) -> list[Issue]:
        """An error for each batch without any observation of a fitted output."""
        label = self.tag_map.source if self.tag_map and self.tag_map.source else "tag map"
        mapped = {spec.output for spec in self.tag_map.tags.values()} if self.tag_map else set(outputs)
        issues = []
        for name, data in self.batches.items():
            present = set(data.observations["output"])
            for output in outputs:
                if output not in present:
                    why = "" if output in mapped else " (no tag in the tag map measures it)"
                    issues.append(
                        Issue("error", label, None, None, f"batch {name} has no data for output '{output}'{why}", name)
                    )
        return issues

    def select(self, batches: list[str]) -> BatchRecords:
        """The named batches only (issues of other batches are left out)."""
        unknown = [b for b in batches if b not in self.batches]
        if unknown:
            raise ParameterError(
                [("batches", f"unknown batch {', '.join(repr(b) for b in unknown)}; known: {', '.join(self.batches)}")]
            )
        keep = set(batches)
        report = ImportReport(
            [i for i in self.report.issues if i.batch is None or i.batch in keep],
            self.report.rows_read,
            self.report.values_used,
            dict(self.report.dropped),
        )
        return BatchRecords(self.model, {b: self.batches[b] for b in batches}, report, dict(self.files), self.tag_map)


# -- import -----------------------------------------------------------------------------------
def load_batch_records(tag_map: str | Path | TagMap, base_dir: Path | None = None, model=None) -> BatchRecords:
    """Read, check and convert the batch records a tag map describes (see the module docstring).

    ``model`` is a core Model; without it the model is the registered process named in the tag map.
    File paths are relative to ``base_dir`` (default: the tag map's folder, else the working folder).
    """
    if not isinstance(tag_map, TagMap):
        tag_map = load_tag_map(tag_map)
    label = tag_map.source or "tag map"
    base = Path(base_dir) if base_dir is not None else (tag_map.folder or Path.cwd())
    if model is None:
        model = _registered_model(tag_map)
    plan = resolve_tags(tag_map, model)
    out = Collector()
    roles = {tag: p.role for tag, p in plan.tags.items()}
    frames, files, rows_read = [], {}, 0
    for i, spec in enumerate(tag_map.files):
        path = base / spec.path
        table = read_table(path, spec, spec.path, out)
        if table is None:
            continue
        files[spec.path] = hashlib.sha256(path.read_bytes()).hexdigest()
        rows_read += len(table)
        frames.append(to_long(table, spec, spec.path, roles, plan.elapsed_to_model.get(i, 1.0), out))
    for tag in tag_map.tags:
        if tag not in out.seen_tags and files:
            out.add("warning", label, None, None, f"tag '{tag}' of the tag map is in none of the files read")
    frames = [f for f in frames if not f.empty]
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RECORD_COLUMNS)
    records["role"] = _per_tag(records["tag"], roles, object, None)
    records["target"] = _per_tag(records["tag"], {t: p.target for t, p in plan.tags.items()}, object, None)
    unit_columns = {spec.path: spec.unit_column for spec in tag_map.files}
    records = _to_model_units(records, plan, unit_columns, out)
    records, starts = _place_in_time(records, tag_map, plan, label, out)
    records = _drop_duplicates(records, plan, out)
    builder = _BatchBuilder(plan, tag_map, out)
    batches = builder.build(records, starts)
    report = ImportReport(out.issues, rows_read, builder.values_used, dict(out.dropped))
    return BatchRecords(tag_map.model, batches, report, files, tag_map)


def _registered_model(tag_map: TagMap):
    from .. import catalogue

    try:
        return catalogue.get(tag_map.model).model
    except KeyError as exc:
        raise SpecError(tag_map.source or "tag map", [("model", exc.args[0])]) from None


def _per_tag(tags: pd.Series, values: dict, dtype=float, default=np.nan) -> np.ndarray:
    """``values[tag]`` for every record (vectorised through the distinct tags)."""
    codes, uniques = pd.factorize(tags)
    return np.array([values.get(u, default) for u in uniques] + [default], dtype=dtype)[codes]


def _to_model_units(records: pd.DataFrame, plan: ModelPlan, unit_columns: dict, out: Collector) -> pd.DataFrame:
    """Values from the row's (or tag's) units to model units; bad units and out-of-range values dropped."""
    numeric = records["role"].to_numpy() != "phase"
    if not numeric.any():
        return records
    tag_units = _per_tag(records["tag"], {t: p.units for t, p in plan.tags.items()}, object, None)
    given = records["unit"].notna().to_numpy()
    missing = numeric & ~given & pd.notna(_per_tag(records["file"], unit_columns, object, None))
    if missing.any():
        out.rows(
            "info",
            records[missing],
            ["tag"],
            lambda g: (
                f"tag {g.tag.iat[0]}: {values_text(len(g))} without a unit{_batches(g)}; taken to be in "
                f"the tag's units '{plan.tags[g.tag.iat[0]].units}' (first at row {int(g.row.min())})"
            ),
        )
    units = np.where(given, records["unit"].to_numpy(dtype=object), tag_units)
    pairs = pd.DataFrame({"tag": records["tag"].to_numpy(dtype=object), "unit": units})
    code = pairs.groupby(["tag", "unit"], sort=False, dropna=False).ngroup().to_numpy()
    first = pairs.groupby(code, sort=True).head(1)
    scale, offset = np.full(code.max() + 1, np.nan), np.full(code.max() + 1, np.nan)
    bad = np.zeros(len(records), dtype=bool)
    for i, (tag, unit) in zip(code[first.index], first.itertuples(index=False)):
        p = plan.tags[tag]
        if p.role == "phase":
            continue
        try:
            to_tag = Conversion() if unit == p.units else conversion(unit, p.units, p.molar_mass)
            scale[i], offset[i] = to_tag.scale, to_tag.offset
        except UnitsError as exc:
            mask = code == i
            bad |= mask
            subset = records[mask].assign(column=records.loc[mask, "file"].map(unit_columns))
            out.rows(
                "error",
                subset,
                ["tag", "batch"],
                lambda g, exc=exc, p=p, unit=unit: (
                    f"tag {p.tag}: the file's unit '{unit}' does not convert to "
                    f"the model's {p.role} '{p.target}' in '{p.model_units}' ({exc}){_batches(g)}; "
                    f"{values_text(len(g))} dropped ({rows_text(g.row)})"
                ),
                "bad_units",
            )
    in_tag_units = records["value"].to_numpy(dtype=float) * scale[code] + offset[code]
    lo = _per_tag(records["tag"], {t: p.range[0] for t, p in plan.tags.items() if p.range})
    hi = _per_tag(records["tag"], {t: p.range[1] for t, p in plan.tags.items() if p.range})
    outside = numeric & ~bad & ((in_tag_units < lo) | (in_tag_units > hi))
    if outside.any():

        def message(g):
            p = plan.tags[g.tag.iat[0]]
            return (
                f"tag {p.tag}: {values_text(len(g))} outside the range [{p.range[0]:g}, {p.range[1]:g}] {p.units} "
                f"(from {g._v.min():g} to {g._v.max():g}){_batches(g)}; dropped (first at row {int(g.row.min())})"
            )

        out.rows("warning", records[outside].assign(_v=in_tag_units[outside]), ["tag"], message, "out_of_range")
    model_scale = _per_tag(records["tag"], {t: p.to_model.scale for t, p in plan.tags.items()})
    model_offset = _per_tag(records["tag"], {t: p.to_model.offset for t, p in plan.tags.items()})
    records = records.assign(value=np.where(numeric, in_tag_units * model_scale + model_offset, np.nan))
    return records[~(bad | outside)].reset_index(drop=True)


def _batches(group: pd.DataFrame) -> str:
    names = pd.unique(group["batch"])
    return f" in batch {names[0]}" if len(names) == 1 else f" in {len(names)} batches"


def _place_in_time(records: pd.DataFrame, tag_map: TagMap, plan: ModelPlan, label: str, out: Collector):
    """Column ``t`` (model time units from the batch start) and the start date-time of each batch."""
    is_clock = records["clock"].notna().to_numpy()
    clocks = records[is_clock]
    starts = clocks.groupby("batch")["clock"].min()
    phase = tag_map.start_phase
    if phase is not None:
        marks = clocks[(clocks["role"] == "phase") & (clocks["text"] == phase)].groupby("batch")["clock"].min()
        for batch in starts.index.difference(marks.index):
            out.add(
                "error",
                label,
                None,
                "batch_start",
                f"batch {batch} has no phase marker '{phase}' in a "
                "date-time file; its start is taken as its first record instead",
                batch,
            )
        starts = marks.combine_first(starts)
    t = records["elapsed"].to_numpy(dtype=float).copy()
    if is_clock.any():
        delta = (clocks["clock"] - clocks["batch"].map(starts)).to_numpy(dtype="timedelta64[ns]")
        t[is_clock] = delta / np.timedelta64(1, "h") * plan.hours_to_model  # hours by numpy's datetime units
    records = records.assign(t=t)
    early = (records["t"].to_numpy() < 0) & (records["role"] == "output").to_numpy()
    if early.any():
        out.rows(
            "warning",
            records[early],
            ["tag"],
            lambda g: (
                f"tag {g.tag.iat[0]}: {values_text(len(g))} before the batch start ({tag_map.batch_start})"
                f"{_batches(g)}; dropped (first at row {int(g.row.min())})"
            ),
            "before_start",
        )
    return records[~early].reset_index(drop=True), {b: pd.Timestamp(s) for b, s in starts.items()}


def _number(value) -> str:
    return f"{value:.6g}" if isinstance(value, (float, np.floating)) else f"'{value}'"


def _when(record) -> str:
    return f"{record['clock']}" if pd.notna(record["clock"]) else f"t = {record['t']:g}"


def _drop_duplicates(records: pd.DataFrame, plan: ModelPlan, out: Collector) -> pd.DataFrame:
    """Same batch, tag and time: equal values keep the first (warning); different values drop all (error)."""
    records = records.sort_values(["batch", "tag", "t"], kind="stable").reset_index(drop=True)
    key = ["batch", "tag", "t"]
    dup = records.duplicated(key, keep=False).to_numpy()
    if not dup.any():
        return records
    same = records[dup].assign(_v=records["value"].astype(object).where(records["role"] != "phase", records["text"]))
    distinct = same.groupby(key, sort=False)["_v"].transform("nunique").to_numpy()
    equal = same[distinct == 1]
    extra = equal[equal.duplicated(key, keep="first").to_numpy()]
    out.rows(
        "warning",
        extra,
        ["tag"],
        lambda g: (
            f"tag {g.tag.iat[0]}: {values_text(len(g))} repeat an earlier record's time and value"
            f"{_batches(g)}; dropped (first at row {int(g.row.min())})"
        ),
        "duplicate",
    )
    conflict = same[distinct > 1]
    for _, group in conflict.groupby(key, sort=False):
        first = group.iloc[0]
        units = plan.tags[first["tag"]].model_units or ""
        files = group["file"].nunique() > 1
        shown = " and ".join(
            f"{_number(v)}{' ' + units if units else ''} ({(r.file + ' ') if files else ''}row {r.row})"
            for v, r in zip(group["_v"], group.itertuples())
        )
        out.add(
            "error",
            first["file"],
            first["row"],
            first["column"],
            f"batch {first['batch']}, tag {first['tag']}: different values at the same time ({_when(first)}): "
            f"{shown}; all {len(group)} dropped",
            first["batch"],
        )
        out.dropped["duplicate_conflict"] += len(group)
    return records.drop(index=extra.index.union(conflict.index)).reset_index(drop=True)


def _natural(name: str):
    """Sort key: B2 before B10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class _BatchBuilder:
    """Turns the checked records into one BatchData per batch; counts the values used."""

    def __init__(self, plan: ModelPlan, tag_map: TagMap, out: Collector):
        self.plan, self.tag_map, self.out = plan, tag_map, out
        self.order = {tag: i for i, tag in enumerate(tag_map.tags)}
        self.values_used = 0

    def build(self, records: pd.DataFrame, starts: dict) -> dict[str, BatchData]:
        role = records["role"].to_numpy()
        obs = records[role == "output"]
        observations = pd.DataFrame(
            {
                "batch": obs["batch"].to_numpy(),
                "output": obs["target"].to_numpy(),
                "time": obs["t"].to_numpy(dtype=float),
                "value": obs["value"].to_numpy(dtype=float),
                "tag": obs["tag"].to_numpy(),
                "source": (
                    obs["file"].astype(str) + ":" + obs["row"].astype(int).astype(str) + ":" + obs["column"].astype(str)
                ).to_numpy(),
            }
        )
        self.values_used += len(observations)
        by_batch = {
            b: g[OBSERVATION_COLUMNS].sort_values(["output", "time"], kind="stable").reset_index(drop=True)
            for b, g in observations.groupby("batch", sort=False)
        }
        inputs: dict[str, dict] = {}
        for (batch, target), group in records[role == "input"].groupby(["batch", "target"], sort=False):
            inputs.setdefault(batch, {})[target] = self._input(batch, self._one_tag(batch, target, group))
        initial: dict[str, dict] = {}
        for (batch, target), group in records[role == "initial"].groupby(["batch", "target"], sort=False):
            initial.setdefault(batch, {})[target] = self._initial(batch, self._one_tag(batch, target, group))
        phases = {batch: self._phases(batch, group) for batch, group in records[role == "phase"].groupby("batch")}
        ends = records[records["t"] >= 0].groupby("batch")["t"].max()
        empty = pd.DataFrame(
            {c: pd.Series(dtype=float if c in ("time", "value") else object) for c in OBSERVATION_COLUMNS}
        )
        return {
            str(b): BatchData(
                str(b),
                by_batch.get(b, empty.copy()),
                inputs.get(b, {}),
                initial.get(b, {}),
                phases.get(b, []),
                float(ends.get(b, 0.0)),
                starts.get(b),
            )
            for b in sorted(records["batch"].unique(), key=_natural)
        }

    def _one_tag(self, batch: str, target: str, group: pd.DataFrame) -> pd.DataFrame:
        """When several tags give one target in a batch, the first in the tag map is used (and the rest reported)."""
        tags = sorted(group["tag"].unique(), key=self.order.get)
        for other in tags[1:]:
            extra = group[group["tag"] == other]
            first = extra.loc[extra["row"].idxmin()]
            self.out.add(
                "error",
                first["file"],
                first["row"],
                first["column"],
                f"batch {batch}: tags {tags[0]} and {other} both give '{target}'; {other} is not used "
                f"({values_text(len(extra))} dropped)",
                batch,
            )
            self.out.dropped["conflicting_tag"] += len(extra)
        return group[group["tag"] == tags[0]] if len(tags) > 1 else group

    def _input(self, batch: str, group: pd.DataFrame) -> list[tuple[float, float]]:
        tag = group["tag"].iat[0]
        t, v = group["t"].to_numpy(dtype=float), group["value"].to_numpy(dtype=float)
        if self.plan.tags[tag].cumulative:
            lower = v < np.maximum.accumulate(v)
            if lower.any():
                bad = group[lower]
                self.out.add(
                    "error",
                    bad["file"].iat[0],
                    bad["row"].iat[0],
                    bad["column"].iat[0],
                    f"batch {batch}, tag {tag}: the cumulative total decreases at row "
                    f"{int(bad['row'].iat[0])} "
                    f"({values_text(len(bad))} below an earlier total dropped: {rows_text(bad.row)})",
                    batch,
                )
                self.out.dropped["decreasing_total"] += len(bad)
                t, v, group = t[~lower], v[~lower], group[~lower]
            rates = np.diff(v) / np.diff(t)
            values = np.append(rates, 0.0)
        else:
            values = v
        self.values_used += len(t)
        first = group.iloc[0]
        steps_t, steps_v = t, values
        if t[0] > 0:
            held = 0.0 if self.plan.tags[tag].cumulative else float(values[0])
            how = (
                "the rate before it is taken as 0"
                if self.plan.tags[tag].cumulative
                else "its value is held back to t = 0"
            )
            self.out.add(
                "warning",
                first["file"],
                first["row"],
                first["column"],
                f"batch {batch}, tag {tag}: the first record is at t = {t[0]:g} {self.plan.time_units}; {how}",
                batch,
            )
            steps_t, steps_v = np.insert(t, 0, 0.0), np.insert(values, 0, held)
        elif t[0] < 0:
            at_start = int(np.searchsorted(t, 0.0, side="right")) - 1
            if at_start > 0:
                self.out.add(
                    "info",
                    first["file"],
                    first["row"],
                    first["column"],
                    f"batch {batch}, tag {tag}: {values_text(at_start)} before the batch start dropped; the "
                    "last record before it sets the value at t = 0",
                    batch,
                )
                self.out.dropped["before_start"] += at_start
                self.values_used -= at_start
            steps_t, steps_v = np.append(0.0, t[at_start + 1 :]), values[at_start:]
        # keep only the steps where the value changes; differencing decimal totals leaves round-off
        # (0.00406 vs 0.0040600000000000001), which would otherwise start a new step every sample
        change = np.append(True, ~np.isclose(steps_v[1:], steps_v[:-1], rtol=1e-9, atol=0.0))
        return [(float(a), float(b)) for a, b in zip(steps_t[change], steps_v[change])]

    def _initial(self, batch: str, group: pd.DataFrame) -> float:
        chosen = group.assign(_d=group["t"].abs()).sort_values(["_d", "t"], kind="stable").iloc[0]
        self.values_used += 1
        if len(group) > 1:
            self.out.add(
                "warning",
                chosen["file"],
                chosen["row"],
                chosen["column"],
                f"batch {batch}, tag {chosen['tag']}: {len(group)} records; the one closest to the batch "
                f"start (row {int(chosen['row'])}, t = {chosen['t']:g} {self.plan.time_units}) is used, "
                f"{len(group) - 1} ignored",
                batch,
            )
            self.out.dropped["unused_initial"] += len(group) - 1
        return float(chosen["value"])

    def _phases(self, batch: str, records: pd.DataFrame) -> list[tuple[str, float]]:
        if records.empty:
            return []
        records = records.sort_values("t", kind="stable")
        text = records["text"].to_numpy(dtype=object)
        t = records["t"].to_numpy(dtype=float)
        self.values_used += len(records)
        change = np.append(True, text[1:] != text[:-1])
        names, starts = text[change], t[change]
        before = starts <= 0
        if before.sum() > 1:
            first = records.iloc[0]
            self.out.add(
                "info",
                first["file"],
                first["row"],
                first["column"],
                f"batch {batch}: phases {', '.join(names[before][:-1])} ended before the batch start and are left out",
                batch,
            )
        keep = ~before
        if before.any():
            keep[np.flatnonzero(before)[-1]] = True  # the phase in progress at t = 0
        starts = np.where(starts < 0, 0.0, starts)
        return [(str(n), float(s)) for n, s in zip(names[keep], starts[keep])]
