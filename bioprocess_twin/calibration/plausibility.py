"""Plausibility of imported values: the model's physical bounds, and columns that look swapped.

- **Model-side bounds.** Every value of an output, input or initial-state tag, in model units, must
  lie within the model's declared bounds of its target (``Model.bounds_of``: e.g. non-negative
  volumes, concentrations and counts, absolute temperature above 0 K, an input's validity range),
  whether or not the tag has a ``range``. Totals of cumulative tags are not bounded here: the rates
  they give are checked against the input's upper bound when they are built (``batches``). A value whose size in SI units exceeds :data:`MAX_SI_MAGNITUDE`, or that
  is not finite after conversion, is outside too. Values outside are dropped as ``outside_model_bounds``.
- **Implausible columns** give warnings naming the column: a date-time column that holds numbers,
  an elapsed-time column that holds date-times, a value column that holds date-times, long files
  whose value and unit (or tag and value) columns look swapped, and a column most of whose values
  fall outside the tag's range or the model's bounds (swapped columns or wrong units).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..core.units import UnitsError, si_scale
from .issues import Collector, values_text
from .tables import filled
from .tagmap import FileSpec, ModelPlan, TagPlan
from .timestamps import OK as TIME_OK

#: no measured quantity is larger than this in SI base units (1e30 m^3, kg, mol/m^3, 1/m^3, ...)
MAX_SI_MAGNITUDE = 1e30
#: share of a column's filled cells that must look wrong before it is called implausible
MOSTLY = 0.5
_ISO_DATE = re.compile(r"^\s*[+-]?\d{4,}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}.*)?\s*$")


# -- model-side bounds ----------------------------------------------------------------------------
def si_limits(plan: TagPlan, time_units: str) -> tuple[float, float]:
    """``(factor, offset)`` from the tag's model-unit values to SI (totals: model units x time units)."""
    units = f"({plan.model_units})*({time_units})" if plan.cumulative else plan.model_units
    try:
        return si_scale(units or "1")
    except UnitsError:
        return (1.0, 0.0)


def outside_bounds(records: pd.DataFrame, values: np.ndarray, candidates: np.ndarray, plan: ModelPlan) -> np.ndarray:
    """Mask of the ``candidates`` whose ``values`` (model units) are outside their tag's model bounds,
    not finite, or larger than :data:`MAX_SI_MAGNITUDE` in SI."""
    out = np.zeros(len(records), dtype=bool)
    if not candidates.any():
        return out
    tags = records["tag"].to_numpy(dtype=object)
    for tag in pd.unique(tags[candidates]):
        p = plan.tags[tag]
        mask = candidates & (tags == tag)
        v = values[mask]
        factor, offset = si_limits(p, plan.time_units)
        lo, hi = (-np.inf, np.inf) if p.cumulative else p.bounds  # the bounds are a rate's; totals have none
        with np.errstate(over="ignore", invalid="ignore"):
            si = v * factor + offset
            bad = ~np.isfinite(v) | (v < lo) | (v > hi) | ~(np.abs(si) <= MAX_SI_MAGNITUDE)
        out[np.flatnonzero(mask)[bad]] = True
    return out


def bounds_message(plan: TagPlan, group: pd.DataFrame, batches: str) -> str:
    lo, hi = (-np.inf, np.inf) if plan.cumulative else plan.bounds
    kind = "total" if plan.cumulative else plan.role
    units = "" if plan.model_units in (None, "", "1") else f" {plan.model_units}"
    span = (
        f"the model's bounds of {kind} '{plan.target}' are [{lo:g}, {hi:g}]{units}, "
        if np.isfinite(lo) or np.isfinite(hi)
        else ""
    )
    finite = group["_v"][np.isfinite(group["_v"])]
    seen = f" (from {finite.min():.6g} to {finite.max():.6g}{units})" if len(finite) else ""
    return (
        f"tag {plan.tag}: {values_text(len(group))} physically impossible{seen}{batches}: {span}"
        f"and no measured value is larger than {MAX_SI_MAGNITUDE:g} in SI units; dropped "
        f"(first at row {int(group.row.min())})"
    )


def mostly_outside(records: pd.DataFrame, outside: np.ndarray, numeric: np.ndarray, out: Collector):
    """A warning per file column (and tag) most of whose values were dropped by range or model bounds."""
    if not outside.any():
        return
    frame = records[numeric].assign(_out=outside[numeric])
    for (file, column, tag), group in frame.groupby(["file", "column", "tag"], sort=False):
        n, k = len(group), int(group["_out"].sum())
        if n >= 2 and k > MOSTLY * n:
            out.add(
                "warning",
                file,
                1,
                column,
                f"column '{column}', tag {tag}: {k} of its {n} values are outside the tag's range or the model's "
                "bounds: are two columns swapped, or are the units wrong?",
            )


# -- columns that look swapped ---------------------------------------------------------------------
def _numeric(column: pd.Series) -> np.ndarray:
    """Cells that are numbers or read as numbers."""
    if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_datetime64_any_dtype(column.dtype):
        return np.zeros(len(column), dtype=bool)
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.notna().to_numpy()
    values = column.to_numpy(dtype=object)
    plain = np.fromiter(
        (isinstance(v, (str, int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values),
        bool,
        len(values),
    )
    try:
        parsed = pd.to_numeric(pd.Series(np.where(plain, values, None), dtype=object), errors="coerce")
        return parsed.notna().to_numpy()
    except (ValueError, TypeError, OverflowError):
        return np.zeros(len(values), dtype=bool)


def _datetimes(column: pd.Series) -> np.ndarray:
    """Cells that are date-times or ISO 8601 date text."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return column.notna().to_numpy()
    values = column.to_numpy(dtype=object)
    return np.fromiter(
        (
            isinstance(v, (pd.Timestamp, np.datetime64)) or (isinstance(v, str) and bool(_ISO_DATE.match(v)))
            for v in values
        ),
        bool,
        len(values),
    )


def _mostly(hits: np.ndarray, present: np.ndarray) -> bool:
    n = int(present.sum())
    return n > 0 and int((hits & present).sum()) > MOSTLY * n


def column_warnings(
    table: pd.DataFrame,
    spec: FileSpec,
    roles: dict[str, str],
    label: str,
    time_status: np.ndarray,
    out: Collector,
    unreadable: dict[str, np.ndarray] | None = None,
):
    """Warnings (file, row 1, the column) for columns whose content does not fit their place.

    ``unreadable`` maps each numeric tag column of a wide file to the mask of its cells that are not numbers.
    """
    if table.empty:
        return
    time = table[spec.time_column]
    unread = time_status != TIME_OK
    if unread.sum() * 2 > len(table):  # cheap test first: most times unreadable
        present = filled(time)
        if spec.time_format == "datetime" and _mostly(unread & _numeric(time), present):
            out.add(
                "warning",
                label,
                1,
                spec.time_column,
                f"the time column '{spec.time_column}' holds numbers, not date-times: is it swapped with a value "
                "column, or are these elapsed times (time_format: elapsed)?",
            )
        if spec.time_format == "elapsed" and _mostly(unread & _datetimes(time), present):
            out.add(
                "warning",
                label,
                1,
                spec.time_column,
                f"the time column '{spec.time_column}' holds date-times, not numbers of {spec.elapsed_units}: "
                "use time_format: datetime",
            )
    fixed = spec.fixed_columns()
    if spec.shape == "wide":
        for c in table.columns:
            if c in fixed or roles.get(c) in (None, "phase"):
                continue
            column = table[c]
            text = unreadable.get(c) if unreadable else None
            if text is None or text.sum() * 2 <= column.notna().sum():  # mostly numbers: fine
                continue
            if _mostly(_datetimes(column) & text, filled(column)):
                out.add(
                    "warning",
                    label,
                    1,
                    c,
                    f"column '{c}' (tag {c}) holds date-times, not values: is it swapped with the time column "
                    f"'{spec.time_column}'?",
                )
        return
    value, tag = table[spec.value_column], table[spec.tag_column]
    markers = np.array([roles.get(str(t).strip()) == "phase" for t in tag.to_numpy(dtype=object)], dtype=bool)
    value_filled = filled(value) & ~markers
    value_text = value_filled & ~_numeric(value)
    if spec.unit_column and _mostly(value_text, value_filled):
        unit = table[spec.unit_column]
        if _mostly(_numeric(unit), filled(unit)):
            out.add(
                "warning",
                label,
                1,
                spec.value_column,
                f"the value column '{spec.value_column}' holds text and the unit column '{spec.unit_column}' "
                "numbers: are the two swapped?",
            )
    if _mostly(_numeric(tag), filled(tag)) and _mostly(value_text, value_filled):
        out.add(
            "warning",
            label,
            1,
            spec.tag_column,
            f"the tag column '{spec.tag_column}' holds numbers and the value column '{spec.value_column}' text: "
            "are the two swapped?",
        )
