"""The tag map: which plant tag feeds which model output, input, initial state or phase marker, in which units.

A tag map is a YAML file (schema in docs/calibration_import.md)::

    kind: tag map
    model: cho_fed_batch
    files:
      - {path: online.csv, shape: wide, batch_column: batch_id, time_column: timestamp}
      - {path: offline.xlsx, shape: long, batch_column: batch_id, unit_column: unit}
    tags:
      DO_PV:    {output: DO, units: percent, kind: online, range: [0, 150]}
      FEED_TOT: {input: feed_rate, units: mL, cumulative: true}
      PHASE:    {phase_marker: true}

:func:`load_tag_map` reads and validates the file on its own; :func:`resolve_tags` checks it
against a model (targets exist, units convert) and returns the unit conversions the importer uses.
Every problem raises :class:`~bioprocess_twin.core.spec.SpecError` naming the field.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import pint
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from ..core.spec import SpecError, read_spec_file
from ..core.units import UnitsError, parse_units, to_magnitude, ureg

FILE_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".parquet")
TARGETS = ("output", "input", "initial", "phase_marker")
#: finite-difference step (in the source units) that measures the scale of an offset conversion (degC -> K):
#: a wide step keeps the scale exact to the last digits
OFFSET_SCALE_STEP = 1e6


# -- units ------------------------------------------------------------------------------------
#: a leading scale factor of tag units ("1e6/mL", "1e6 cells/mL"); the rest goes to pint's unit parser
_SCALE_THEN_UNITS = re.compile(r"^\s*((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*(.*?)\s*$")


def unit_quantity(units: str) -> pint.Quantity:
    """``units`` as a quantity of one unit; scale factors are allowed ("1e6/mL"); "" or "1" is dimensionless.

    The text never reaches pint's expression evaluator (which computes ``10**10**10`` without bound):
    a leading number is read here and the rest must be a unit (``core.units.parse_units``). Raises
    UnitsError on anything else, including exponents or scales that are not finite.
    """
    text = str(units).strip()
    if text in ("", "1"):
        return ureg.Quantity(1.0, "dimensionless")
    scale, unit = 1.0, None
    try:
        unit = parse_units(text)
    except UnitsError:
        match = _SCALE_THEN_UNITS.match(text)
        if match:
            scale, rest = float(match.group(1)), match.group(2)
            try:
                unit = parse_units("1" + rest if rest.startswith("/") else rest or "dimensionless")
            except UnitsError:
                unit = None
    if unit is None:
        raise UnitsError(f"unknown units '{_clip(text)}'")
    try:
        quantity = ureg.Quantity(scale, unit)
        base = float(quantity.to_base_units().magnitude)
        powers = [float(p) for p in unit.dimensionality.values()]
        offset = float(ureg.Quantity(0.0, unit).to_base_units().magnitude) != 0.0  # degC, degF
    except Exception:  # pint raises several unrelated types on odd units
        raise UnitsError(f"unknown units '{_clip(text)}'") from None
    if not (math.isfinite(scale) and scale > 0 and math.isfinite(base) and base != 0.0):
        raise UnitsError(f"units '{_clip(text)}' have a scale that is zero or not finite")
    if not all(math.isfinite(p) for p in powers):
        raise UnitsError(f"units '{_clip(text)}' have a power that is not finite")
    if offset and scale != 1.0:
        raise UnitsError(f"units '{_clip(text)}': a scale factor cannot go with an offset unit (degC, degF)")
    return quantity


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Conversion:
    """An affine unit conversion ``model = scale * value + offset`` (offset only for temperatures)."""

    scale: float = 1.0
    offset: float = 0.0

    def apply(self, values):
        return values * self.scale + self.offset


@lru_cache(maxsize=1024)
def conversion(from_units: str, to_units: str, molar_mass: float | None = None) -> Conversion:
    """The conversion from ``from_units`` to ``to_units``; ``molar_mass`` (g/mol) bridges mass and amount.

    Raises UnitsError naming both units when they are unknown or do not convert (an offset unit such
    as degC against a mass concentration included); never another exception.
    """
    source, target = unit_quantity(from_units), unit_quantity(to_units)
    try:
        return _affine(source, target, from_units, to_units, molar_mass)
    except UnitsError:
        raise
    except Exception as exc:  # pint's offset-unit and arithmetic errors, overflow
        raise UnitsError(f"'{_clip(from_units)}' cannot be converted to '{_clip(to_units)}': {exc}") from None


def _affine(source, target, from_units: str, to_units: str, molar_mass: float | None) -> Conversion:
    mass_per_amount = ureg.Quantity(molar_mass, "g/mol") if molar_mass else None
    dim, wanted = source.dimensionality, target.dimensionality
    per_mol = ureg.get_dimensionality("g/mol")

    def bridge(q):
        return q

    if dim != wanted:
        if mass_per_amount is not None and dim / per_mol == wanted:

            def bridge(q):
                return q / mass_per_amount
        elif mass_per_amount is not None and dim * per_mol == wanted:

            def bridge(q):
                return q * mass_per_amount
        else:
            ratio = dim / wanted
            hint = (
                "; a mass <-> amount conversion needs the tag's molar_mass"
                if not mass_per_amount and ratio in (per_mol, 1 / per_mol)
                else ""
            )
            raise UnitsError(f"'{_clip(from_units)}' cannot be converted to '{_clip(to_units)}'{hint}")

    def convert(x: float) -> float:
        q = bridge(ureg.Quantity(x * source.magnitude, source.units))
        return float(q.to(target.units).magnitude) / target.magnitude

    zero = convert(0.0)
    if zero == 0.0:
        result = Conversion(convert(1.0), 0.0)
    else:
        result = Conversion((convert(OFFSET_SCALE_STEP) - zero) / OFFSET_SCALE_STEP, zero)  # offset units
    if not (math.isfinite(result.scale) and result.scale != 0.0 and math.isfinite(result.offset)):
        raise UnitsError(f"'{_clip(from_units)}' to '{_clip(to_units)}' is not a finite, non-zero factor")
    return result


# -- schema -----------------------------------------------------------------------------------
class FileSpec(BaseModel):
    """One batch-record file and the names of its columns."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1)
    shape: Literal["wide", "long"]
    sheet: str | None = None
    batch: str | None = None  # every row is this batch (a file per batch; no batch column)
    batch_column: str = "batch"
    time_column: str = "timestamp"
    time_format: Literal["datetime", "elapsed"] = "datetime"
    elapsed_units: str = "h"
    tag_column: str = "tag"
    value_column: str = "value"
    unit_column: str | None = None

    @field_validator("path")
    @classmethod
    def _suffix(cls, value: str) -> str:
        if Path(value).suffix.lower() not in FILE_SUFFIXES:
            raise ValueError(f"file type '{Path(value).suffix}' is not supported; use {', '.join(FILE_SUFFIXES)}")
        return value

    @field_validator("elapsed_units")
    @classmethod
    def _elapsed_units(cls, value: str) -> str:
        try:
            unit_quantity(value)
        except UnitsError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _sheet_only_for_excel(self):
        if self.sheet is not None and Path(self.path).suffix.lower() not in (".xlsx", ".xlsm"):
            raise ValueError("'sheet' is only for Excel files")
        if self.shape == "wide" and self.unit_column is not None:
            raise ValueError("'unit_column' is only for long files (wide files take each tag's units)")
        return self

    def column_roles(self) -> dict[str, str]:
        """The file's fixed columns by field: batch (unless ``batch`` is given), time and, in long files,
        tag, value and unit."""
        roles = {"time_column": self.time_column}
        if not self.batch:
            roles["batch_column"] = self.batch_column
        if self.shape == "long":
            roles |= {"tag_column": self.tag_column, "value_column": self.value_column}
            if self.unit_column:
                roles["unit_column"] = self.unit_column
        return roles

    def fixed_columns(self) -> set[str]:
        return set(self.column_roles().values())

    @property
    def format(self) -> str:
        suffix = Path(self.path).suffix.lower()
        return "xlsx" if suffix in (".xlsx", ".xlsm") else suffix[1:]


class TagSpec(BaseModel):
    """What one plant tag is: exactly one of ``output``, ``input``, ``initial`` or ``phase_marker``."""

    model_config = ConfigDict(extra="forbid")
    output: str | None = None  # model output or (scalar) state the tag measures
    input: str | None = None  # model input the tag sets (rate, setpoint)
    initial: str | None = None  # model state whose value at t = 0 the tag gives
    phase_marker: bool = False  # the tag's text values are ISA-88 phase names
    units: str | None = None  # the tag's units in the plant
    kind: Literal["online", "offline"] | None = None
    range: tuple[float, float] | None = None  # plausible values, in ``units``; others are dropped
    cumulative: bool = False  # input tags: values are running totals (a totalizer)
    molar_mass: float | str | None = None  # g/mol, or text with units ("180.156 g/mol")
    description: str = ""

    @model_validator(mode="after")
    def _one_target(self):
        chosen = [name for name in TARGETS if getattr(self, name)]
        if len(chosen) != 1:
            raise ValueError(
                "give exactly one of output, input, initial or phase_marker: true"
                + (f" (got {', '.join(chosen)})" if chosen else "")
            )
        if self.phase_marker:
            extra = [f for f in ("units", "range", "molar_mass") if getattr(self, f) is not None]
            if extra or self.cumulative:
                raise ValueError(f"a phase marker takes no {', '.join(extra or ['cumulative'])}")
            return self
        if self.units is None:
            raise ValueError("'units' is required (use \"1\" for dimensionless)")
        if self.cumulative and not self.input:
            raise ValueError("'cumulative' is only for input tags (a totalizer feeding a rate input)")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range [{self.range[0]:g}, {self.range[1]:g}]: the lower end must be below the upper")
        return self

    @field_validator("units")
    @classmethod
    def _known_units(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                unit_quantity(value)
            except UnitsError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("molar_mass")
    @classmethod
    def _molar_mass(cls, value):
        if value is None:
            return None
        try:
            grams = to_magnitude(value, "g/mol")
        except UnitsError as exc:
            raise ValueError(str(exc)) from None
        if not (np.isfinite(grams) and grams > 0):
            raise ValueError(f"must be positive, got {grams:g} g/mol")
        return grams

    @property
    def role(self) -> str:
        return next(name for name in TARGETS if getattr(self, name)).replace("phase_marker", "phase")

    @property
    def target(self) -> str | None:
        return None if self.phase_marker else getattr(self, self.role)


class TagMap(BaseModel):
    """A validated tag map. ``source`` is the file it came from (relative file paths start there)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["tag map"]
    model: str = Field(min_length=1)
    files: list[FileSpec] = Field(min_length=1)
    batch_start: str = "first_record"
    tags: dict[str, TagSpec] = Field(min_length=1)
    description: str = ""
    _source: str | None = PrivateAttr(default=None)

    @field_validator("batch_start")
    @classmethod
    def _batch_start(cls, value: str) -> str:
        if value != "first_record" and not re.fullmatch(r"phase:\S.*", value):
            raise ValueError("use 'first_record' or 'phase:<phase name>'")
        return value

    @model_validator(mode="after")
    def _phase_start_needs_marker(self):
        if self.start_phase is not None and not self.phase_tags:
            raise ValueError(f"batch_start '{self.batch_start}' needs a tag with phase_marker: true")
        return self

    @property
    def start_phase(self) -> str | None:
        return self.batch_start[len("phase:") :].strip() if self.batch_start.startswith("phase:") else None

    @property
    def phase_tags(self) -> list[str]:
        return [tag for tag, spec in self.tags.items() if spec.phase_marker]

    @property
    def source(self) -> str | None:
        return self._source

    @property
    def folder(self) -> Path | None:
        return Path(self._source).parent if self._source else None


def _field(loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_tag_map(data: Any, source: str = "tag map") -> TagMap:
    """Validate already-loaded YAML data; SpecError lists every bad field (``tags.DO_PV.units``)."""
    if not isinstance(data, dict):
        raise SpecError(source, [("(top level)", "expected a mapping with kind, model, files and tags")])
    try:
        tag_map = TagMap.model_validate(data)
    except ValidationError as exc:
        raise SpecError(
            source, [(_field(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
        ) from None
    errors = structure_errors(tag_map)
    if errors:
        raise SpecError(source, errors)
    tag_map._source = source
    return tag_map


def tag_key(tag: str) -> str:
    """The spelling-free form of a tag name: Unicode NFKC, no surrounding spaces, case folded (plant
    historians treat tag names without regard to case)."""
    return unicodedata.normalize("NFKC", tag).strip().casefold()


def structure_errors(tag_map: TagMap) -> list[tuple[str, str]]:
    """Where one file column or one plant tag would be read twice, or never: ``(field, message)``.

    - a file's fixed columns (batch, time, tag, value, unit) must be different columns;
    - the same file (and sheet) may be listed once;
    - two tags may not differ only in case, surrounding spaces or Unicode form (long files match
      tags in trimmed cells, so one of them would never be read, or both from one column);
    - a tag may not carry the name of a wide file's batch or time column.
    """
    errors: list[tuple[str, str]] = []
    seen_files: dict[tuple, int] = {}
    for i, f in enumerate(tag_map.files):
        by_column: dict[str, str] = {}
        for role, column in f.column_roles().items():
            if column in by_column:
                errors.append(
                    (f"files[{i}].{role}", f"'{column}' is already the {by_column[column]}: use another column")
                )
            else:
                by_column[column] = role
        key = (PurePosixPath(f.path.replace("\\", "/")).as_posix(), f.sheet)
        if key in seen_files:
            errors.append((f"files[{i}].path", f"the same file as files[{seen_files[key]}]: list each file once"))
        seen_files.setdefault(key, i)
    seen_tags: dict[str, str] = {}
    for tag in tag_map.tags:
        key = tag_key(tag)
        if not key:
            errors.append((f"tags.{tag}", "a tag name cannot be empty"))
        elif key in seen_tags:
            errors.append(
                (
                    f"tags.{tag}",
                    f"the same tag as '{seen_tags[key]}' (they differ only in case, spaces or Unicode form); "
                    "give each plant tag once",
                )
            )
        else:
            seen_tags[key] = tag
        for i, f in enumerate(tag_map.files):
            if f.shape == "wide" and tag in f.fixed_columns():
                errors.append(
                    (f"tags.{tag}", f"is the batch or time column of files[{i}] ({f.path}), so it can never be read")
                )
    return errors


def load_tag_map(path: str | Path) -> TagMap:
    """Read and validate a tag map YAML file (file paths inside it are relative to its folder)."""
    return parse_tag_map(read_spec_file(path), str(path))


# -- against a model --------------------------------------------------------------------------
@dataclass(frozen=True)
class TagPlan:
    """One tag resolved against a model: where its values go and how they convert."""

    tag: str
    role: str  # "output" | "input" | "initial" | "phase"
    target: str | None  # model output/state/input name (None for phase markers)
    units: str | None  # the tag's units
    model_units: str | None  # units of the values the importer produces (a rate for cumulative tags)
    to_model: Conversion  # tag units -> model units (cumulative: totals -> rate units x time units)
    cumulative: bool = False
    range: tuple[float, float] | None = None
    molar_mass: float | None = None
    bounds: tuple[float, float] = (-math.inf, math.inf)  # the target's physical bounds, in model units (a rate)


@dataclass(frozen=True)
class ModelPlan:
    """Everything the importer needs from the model: tags and the time conversions per file."""

    tags: dict[str, TagPlan]
    hours_to_model: float | None  # factor from hours to model time units (None: time is dimensionless)
    elapsed_to_model: dict[int, float]  # file index -> factor from its elapsed_units to model time units
    time_units: str


def model_bounds(model, name: str) -> tuple[float, float]:
    """The physical bounds ``(lo, hi)`` of a model variable in its declared units (``Model.bounds_of``:
    parameters, inputs, states, outputs); ``(-inf, inf)`` for a name the model does not declare."""
    try:
        return model.bounds_of(name)
    except KeyError:
        return (-math.inf, math.inf)


def _scalar_names(variables) -> list[str]:
    return [v.name for v in variables if v.size == 1]


def _unknown(kind: str, kinds: str, name: str, known: list[str]) -> str:
    lower = {k.lower(): k for k in known}
    hint = [lower[h] for h in difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.5)]
    return (
        f"the model has no {kind} '{name}'"
        + (f" (did you mean {', '.join(repr(h) for h in hint)}?)" if hint else "")
        + f"; {kinds}: {', '.join(known) or 'none'}"
    )


def resolve_tags(tag_map: TagMap, model) -> ModelPlan:
    """Check every tag target and unit against ``model`` (a core Model); SpecError lists every problem."""
    errors: list[tuple[str, str]] = []
    outputs = {v.name: v.units for v in model.outputs}
    states = {v.name: v.units for v in model.states if v.size == 1}
    vector_states = {v.name for v in model.states if v.size > 1}
    inputs = {p.name: p.units for p in model.inputs}
    time_units = model.time_units
    plans: dict[str, TagPlan] = {}
    for tag, spec in tag_map.tags.items():
        role, target = spec.role, spec.target
        field = f"tags.{tag}.{role}"
        if role == "phase":
            plans[tag] = TagPlan(tag, role, None, None, None, Conversion())
            continue
        if role == "output":
            known, kind, kinds = {**outputs, **states}, "output or state", "outputs and states"
        elif role == "input":
            known, kind, kinds = inputs, "input", "inputs"
        else:
            known, kind, kinds = states, "state", "scalar states"
        if target not in known:
            errors.append(
                (
                    field,
                    f"'{target}' is a vector state; only scalar states can be matched to a tag"
                    if target in vector_states
                    else _unknown(kind, kinds, target, list(known)),
                )
            )
            continue
        model_units = known[target]
        total_units = f"({model_units})*({time_units})" if spec.cumulative else model_units
        try:
            to_model = conversion(spec.units, total_units, spec.molar_mass)
        except UnitsError as exc:
            what = f"the model's {role} '{target}' is in {model_units}"
            if spec.cumulative:
                what += f", so its totals must convert to {model_units} x {time_units}"
            errors.append((f"tags.{tag}.units", f"{exc}: {what}"))
            continue
        plans[tag] = TagPlan(
            tag,
            role,
            target,
            spec.units,
            model_units,
            to_model,
            spec.cumulative,
            spec.range,
            spec.molar_mass,
            model_bounds(model, target),
        )
    hours = None
    try:
        hours = conversion("h", time_units).scale
    except UnitsError:
        pass
    elapsed: dict[int, float] = {}
    for i, file in enumerate(tag_map.files):
        if file.time_format == "datetime" and hours is None:
            errors.append(
                (
                    f"files[{i}].time_format",
                    f"the model's time is in '{time_units}', not a duration, "
                    "so date-times cannot be converted; use time_format: elapsed",
                )
            )
        if file.time_format == "elapsed":
            try:
                elapsed[i] = conversion(file.elapsed_units, time_units).scale
            except UnitsError as exc:
                errors.append((f"files[{i}].elapsed_units", f"{exc} (the model's time units)"))
    if errors:
        raise SpecError(tag_map.source or "tag map", errors)
    return ModelPlan(plans, hours, elapsed, time_units)
