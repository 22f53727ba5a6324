"""Batch records ready for calibration: observations, inputs, initial states and phases per batch.

:func:`load_batch_records` reads the files a tag map names (``readers``), converts every value to
the model's units (pint, ``tagmap``), places it in time from the batch start, and builds one
:class:`BatchData` per batch. It never raises on data problems: each one becomes an :class:`Issue`
in the :class:`ImportReport` with file, spreadsheet row and column, and every dropped value is
counted by reason, so that the report balances: values read = used + dropped + in rejected files.
Values outside the model's physical bounds are dropped (``plausibility``). Only an invalid tag map
raises (SpecError naming the field), and so does a file path that leaves the tag map's folder
unless the caller passes ``allow_outside=True``.

Time: date-times become hours since the batch start (``batch_start``: the batch's earliest
record, or the first row of a named phase), then model time units; elapsed times are already
from the batch start. Inputs are piecewise constant: each record sets the input from its time
on; cumulative totals T_k at t_k become rates (T_k+1 - T_k)/(t_k+1 - t_k) on [t_k, t_k+1) and 0
after the last total, so integrating the rates gives back the totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.parameters import ParameterError
from ..core.paths import confined_path
from ..core.spec import SpecError
from ..core.units import UnitsError
from .batches import BatchBuilder, BatchData
from .issues import shown
from .plausibility import bounds_message, mostly_outside, outside_bounds
from .readers import RECORD_COLUMNS, Collector, Issue, read_table, rows_text, to_long, values_text
from .tagmap import Conversion, ModelPlan, TagMap, conversion, load_tag_map, resolve_tags
from .timestamps import check_offsets, elapsed_limit

__all__ = ["BatchData", "BatchRecords", "ImportReport", "Issue", "load_batch_records"]


@dataclass
class ImportReport:
    """Every problem found, with how much was read, used and dropped (by reason).

    The counts balance (docs/calibration_import.md, "Counts")::

        values_read == values_used + values_dropped + values_in_rejected_files
    """

    issues: list[Issue]
    rows_read: int
    values_used: int
    dropped: dict[str, int]
    values_read: int = 0
    files_rejected: int = 0
    rows_in_rejected_files: int = 0
    values_in_rejected_files: int = 0
    rejected: list[str] = field(default_factory=list)  # the rejected files, as named in the tag map

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)

    def counts(self) -> dict[str, int]:
        return {s: sum(i.severity == s for i in self.issues) for s in ("error", "warning", "info")}

    @property
    def values_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def balanced(self) -> bool:
        """True when every value read is accounted for: used, dropped (by reason) or in a rejected file."""
        return self.values_read == self.values_used + self.values_dropped + self.values_in_rejected_files

    def batches_with_errors(self) -> list[str]:
        """The batches that have errors, sorted; an error of no one batch (a whole file) is ``"all batches"``."""
        return sorted({i.batch or "all batches" for i in self.issues if i.severity == "error"})

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "rows_read": self.rows_read,
            "values_read": self.values_read,
            "values_used": self.values_used,
            "values_dropped": self.values_dropped,
            "values_in_rejected_files": self.values_in_rejected_files,
            "files_rejected": self.files_rejected,
            "rows_in_rejected_files": self.rows_in_rejected_files,
            "rejected_files": list(self.rejected),
            "balanced": self.balanced,
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
        r = self.report
        report = ImportReport(
            [i for i in r.issues if i.batch is None or i.batch in keep],
            r.rows_read,
            r.values_used,
            dict(r.dropped),
            r.values_read,
            r.files_rejected,
            r.rows_in_rejected_files,
            r.values_in_rejected_files,
            list(r.rejected),
        )
        return BatchRecords(self.model, {b: self.batches[b] for b in batches}, report, dict(self.files), self.tag_map)


# -- import -----------------------------------------------------------------------------------
def load_batch_records(
    tag_map: str | Path | TagMap, base_dir: Path | None = None, model=None, *, allow_outside: bool = False
) -> BatchRecords:
    """Read, check and convert the batch records a tag map describes (see the module docstring).

    ``model`` is a core Model; without it the model is the registered process named in the tag map.
    File paths are relative to ``base_dir`` (default: the tag map's folder, else the working folder)
    and must stay inside it (no absolute path, no ``..``, no symbolic link out): SpecError on
    ``files[i].path`` otherwise, unless the caller trusts the tag map and passes ``allow_outside=True``.
    """
    if not isinstance(tag_map, TagMap):
        tag_map = load_tag_map(tag_map)
    label = tag_map.source or "tag map"
    base = Path(base_dir) if base_dir is not None else (tag_map.folder or Path.cwd())
    paths = file_paths(tag_map, base, allow_outside=allow_outside)
    if model is None:
        model = _registered_model(tag_map)
    plan = resolve_tags(tag_map, model)
    out = Collector()
    roles = {tag: p.role for tag, p in plan.tags.items()}
    frames, files, rejected = [], {}, []
    longest = elapsed_limit(plan.hours_to_model)
    for i, (spec, path) in enumerate(zip(tag_map.files, paths)):
        before = out.files_rejected
        table = read_table(path, spec, spec.path, roles, out)
        if table is not None:
            files[spec.path] = table.sha256
            factor = plan.elapsed_to_model.get(i, 1.0)
            frames.append(to_long(table.cells, spec, spec.path, roles, factor, out, longest))
        if out.files_rejected > before:
            rejected.append(spec.path)
    for tag in tag_map.tags:
        if tag not in out.seen_tags and files:
            out.add("warning", label, None, None, f"tag '{tag}' of the tag map is in none of the files read")
    frames = [f for f in frames if not f.empty]
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RECORD_COLUMNS)
    records["role"] = _per_tag(records["tag"], roles, object, None)
    records["target"] = _per_tag(records["tag"], {t: p.target for t, p in plan.tags.items()}, object, None)
    check_offsets(records, {spec.path: spec.time_column for spec in tag_map.files}, out)
    unit_columns = {spec.path: spec.unit_column for spec in tag_map.files}
    records = _to_model_units(records, plan, unit_columns, out)
    records, starts = _place_in_time(records, tag_map, plan, label, out)
    records = _drop_duplicates(records, plan, out)
    builder = BatchBuilder(plan, tag_map, out)
    batches = builder.build(records, starts)
    report = ImportReport(
        out.issues,
        out.rows_read,
        builder.values_used,
        dict(out.dropped),
        out.values_read,
        out.files_rejected,
        out.rows_in_rejected_files,
        out.values_in_rejected_files,
        rejected,
    )
    return BatchRecords(tag_map.model, batches, report, files, tag_map)


def file_paths(tag_map: TagMap, base: Path, *, allow_outside: bool = False) -> list[Path]:
    """The path of every file of the tag map, confined to ``base`` unless ``allow_outside``; SpecError
    naming each ``files[i].path`` that leaves it."""
    paths, errors = [], []
    for i, spec in enumerate(tag_map.files):
        try:
            paths.append(confined_path(spec.path, base, f"files[{i}].path", allow_outside=allow_outside))
        except ParameterError as exc:
            errors += exc.errors
        except (OSError, RuntimeError, ValueError) as exc:  # a name the file system cannot resolve
            errors.append((f"files[{i}].path", f"cannot be resolved: {exc}"))
    if errors:
        raise SpecError(tag_map.source or "tag map", errors)
    return paths


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
                    f"tag {p.tag}: the file's unit {shown(unit)} does not convert to "
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
    with np.errstate(over="ignore", invalid="ignore"):
        in_model_units = np.where(numeric, in_tag_units * model_scale + model_offset, np.nan)
    impossible = outside_bounds(records, in_model_units, numeric & ~bad & ~outside, plan)
    if impossible.any():
        out.rows(
            "warning",
            records[impossible].assign(_v=in_model_units[impossible]),
            ["tag"],
            lambda g: bounds_message(plan.tags[g.tag.iat[0]], g, _batches(g)),
            "outside_model_bounds",
        )
    mostly_outside(records, outside | impossible, numeric & ~bad, out)
    records = records.assign(value=in_model_units)
    return records[~(bad | outside | impossible)].reset_index(drop=True)


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
    longest = elapsed_limit(plan.hours_to_model)
    far = is_clock & ~(np.abs(t) <= longest)
    if far.any():
        out.rows(
            "error",
            records[far],
            ["tag", "batch"],
            lambda g: (
                f"tag {g.tag.iat[0]}: {values_text(len(g))} more than {longest:g} {plan.time_units} from the start "
                f"of batch {g.batch.iat[0]} (not a plausible batch; check the dates); dropped ({rows_text(g.row)})"
            ),
            "implausible_time",
        )
        records = records[~far].reset_index(drop=True)
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
