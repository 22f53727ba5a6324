"""One :class:`BatchData` per batch from the checked records: observations, input steps, initial states, phases.

:class:`BatchBuilder` is the last step of ``dataset.load_batch_records``: the records it gets are in
model units and placed in time; it counts every value it uses (``values_used``) and every one it
leaves out (conflicting tags, decreasing totals, records before the batch start, extra initial
values) in the collector, so that the import report balances.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .issues import Collector, rows_text, values_text
from .tagmap import ModelPlan, TagMap

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


def _natural(name: str):
    """Sort key: B2 before B10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class BatchBuilder:
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
                self._drop(
                    batch,
                    bad,
                    "decreasing_total",
                    f"batch {batch}, tag {tag}: the cumulative total decreases at row {int(bad['row'].iat[0])} "
                    f"({values_text(len(bad))} below an earlier total dropped: {rows_text(bad.row)})",
                )
                t, v, group = t[~lower], v[~lower], group[~lower]
            t, v, group = self._possible_rates(batch, tag, t, v, group)
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

    def _possible_rates(self, batch: str, tag: str, t, v, group: pd.DataFrame):
        """Totals whose rate since the previous total is infinite or above the input's upper bound are
        dropped (error, ``outside_model_bounds``), the later total of each such step, until none is left."""
        plan = self.plan.tags[tag]
        top = plan.bounds[1]
        while len(t) > 1:
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                rates = np.diff(v) / np.diff(t)
            impossible = np.append(False, ~(np.isfinite(rates) & (rates <= top)))
            if not impossible.any():
                break
            bad = group[impossible]
            fastest = np.nanmax(np.where(np.isfinite(rates), rates, np.inf)[impossible[1:]])
            self._drop(
                batch,
                bad,
                "outside_model_bounds",
                f"batch {batch}, tag {tag}: the totals give a rate of {fastest:.6g} {plan.model_units} at row "
                f"{int(bad['row'].iat[0])}, more than the model's input '{plan.target}' allows "
                f"({top:g} {plan.model_units}); {values_text(len(bad))} dropped ({rows_text(bad.row)})",
            )
            t, v, group = t[~impossible], v[~impossible], group[~impossible]
        return t, v, group

    def _drop(self, batch: str, bad: pd.DataFrame, reason: str, message: str) -> None:
        """An error at the first of the records ``bad``, which are dropped and counted under ``reason``."""
        first = bad.iloc[0]
        self.out.add("error", first["file"], first["row"], first["column"], message, batch)
        self.out.dropped[reason] += len(bad)

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
