"""Line definitions: units, feed streams, connections and the batch recipe, as validated data.

A line definition is what ``lines/<name>/<version>.yaml`` in a models folder holds (the user's
first, then the shipped ``bioprocess_twin/models``) and what ``bioprocess-twin line run`` reads.
Its recipe follows ISA-88: the line's *procedure* is a list of *unit procedures*, one per unit,
each started when the units it waits for have finished (plus an optional delay), and each made of
*phases* with timed or conditional transitions (:class:`~bioprocess_twin.core.phased.Phase`); a unit
procedure without phases runs the unit's default phases, which the unit builds from its parameters.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, field_validator

from ..core.parameters import ParameterError
from ..core.recipe import Phase
from ..core.resources import model_roots
from ..core.spec import VERSION_PATTERN, SpecError, read_spec_file
from ..core.streams import ParticleSize, Stream
from ..core.units import UnitsError, to_magnitude

WATER_DENSITY = 997.0  # kg/m3 at 25 C; water fills the volume the solutes do not account for
#: a line name: it names a folder of a models root
LINE_NAME_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]*$"
#: longest name, version or unit id; longest description
MAX_NAME_CHARS, MAX_TEXT_CHARS = 100, 5000
#: longest wait before a unit procedure starts (h)
MAX_DELAY_H = 10_000.0
#: endings of a line definition file
LINE_FILE_SUFFIXES = (".yaml", ".yml", ".json")

Amount = float | str


def _magnitude(value: Amount, units: str, field: str) -> float:
    try:
        return to_magnitude(value, units)
    except UnitsError as exc:
        raise ValueError(f"{field}: {exc}") from None


class ParticleSpec(BaseModel):
    """A lognormal volume distribution of the dispersed component."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    component: str
    d50_nm: PositiveFloat
    gsd: float = Field(1.8, gt=1, le=10, description="geometric standard deviation")
    classes: int = Field(100, ge=5, le=1000)
    min_nm: PositiveFloat = 20.0
    max_nm: PositiveFloat = 20_000.0

    def to_particles(self) -> ParticleSize:
        d = np.geomspace(self.min_nm, self.max_nm, self.classes)
        return ParticleSize(d, np.exp(-0.5 * (np.log(d / self.d50_nm) / math.log(self.gsd)) ** 2))


class FeedSpec(BaseModel):
    """An external stream into one unit inlet: volume, mass concentrations, temperature."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    to: str = Field(description="'unit.inlet' that receives the stream")
    volume: Amount = Field(description="e.g. '500 L' (a bare number is m^3)")
    concentrations: dict[str, Amount] = Field(default_factory=dict, description="component -> e.g. '6 g/L'")
    temperature: Amount = "20 degC"
    particles: ParticleSpec | None = None

    def to_stream(self, name: str) -> Stream:
        volume = _magnitude(self.volume, "m^3", "volume")
        mass = {c: _magnitude(v, "kg/m^3", f"concentrations.{c}") * volume for c, v in self.concentrations.items()}
        if "water" not in mass:
            mass["water"] = max(WATER_DENSITY * volume - sum(mass.values()), 0.0)
        temperature = _magnitude(self.temperature, "K", "temperature")
        particles = self.particles.to_particles() if self.particles else None
        return Stream(name, volume, mass, temperature, particles, self.particles.component if self.particles else None)


class UnitSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: str = Field(max_length=MAX_NAME_CHARS)
    description: str = Field("", max_length=MAX_TEXT_CHARS)
    parameters: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)


class Connection(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    source: str = Field(alias="from", description="'unit.outlet'")
    target: str = Field(alias="to", description="'unit.inlet'")


class UnitProcedure(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    unit: str
    after: list[str] | None = Field(None, description="units that must finish first (default: the units feeding it)")
    delay: float = Field(
        0.0, ge=0, le=MAX_DELAY_H, description="hours between the last of those finishing and this start"
    )
    phases: list[Phase] | None = Field(None, description="override the unit's default phases")


class LineDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: str = Field("line definition", max_length=MAX_NAME_CHARS)
    name: str = Field(
        pattern=LINE_NAME_PATTERN,
        max_length=MAX_NAME_CHARS,
        description="line name (letters, digits and . _ -; it names the line's folder in a models root)",
    )
    version: str = Field(pattern=VERSION_PATTERN, max_length=MAX_NAME_CHARS, description="line version, e.g. 1.0.0")
    description: str = Field("", max_length=MAX_TEXT_CHARS)
    units: dict[str, UnitSpec]
    feeds: dict[str, FeedSpec] = Field(default_factory=dict)
    connections: list[Connection] = Field(default_factory=list)
    procedure: list[UnitProcedure] = Field(
        default_factory=list,
        description="unit procedures; units not listed run with their defaults after the units feeding them",
    )
    provenance: dict[str, Any] = Field(default_factory=dict)

    @field_validator("units")
    @classmethod
    def _ids(cls, units):
        bad = [u for u in units if not u.isidentifier() or len(u) > MAX_NAME_CHARS]
        if bad:
            shown = ", ".join(u[:40] for u in bad)
            raise ValueError(f"unit ids must be identifiers (letters, digits, _; at most {MAX_NAME_CHARS}): {shown}")
        return units

    def unit_procedure(self, unit: str) -> UnitProcedure:
        for up in self.procedure:
            if up.unit == unit:
                return up
        return UnitProcedure(unit=unit)

    def feed_streams(self) -> dict[str, Stream]:
        """Feed name -> Stream; unit errors name the feed field."""
        out, errors = {}, []
        for name, feed in self.feeds.items():
            try:
                out[name] = feed.to_stream(name)
            except ParameterError as exc:
                errors += [(f"feeds.{f}", m) for f, m in exc.errors]
            except ValueError as exc:
                errors.append((f"feeds.{name}", str(exc)))
        if errors:
            raise ParameterError(errors, f"line '{self.name}' feeds")
        return out


def parse_line(data: Any, source: str = "line definition") -> LineDefinition:
    """A validated line definition; ParameterError names each bad field."""
    if not isinstance(data, dict):
        raise ParameterError([("(top level)", "expected a mapping with name, version and units")], source)
    try:
        return LineDefinition.model_validate(data)
    except ValidationError as exc:
        raise ParameterError(_field_errors(exc), source) from None


#: the names pydantic adds to an error's place for the member of a union that failed (``volume.float``)
_UNION_MEMBERS = frozenset({"float", "str", "int", "bool", "list", "dict"})


def _field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for e in exc.errors():
        loc = [str(x) for x in e["loc"]]
        while loc and (loc[-1] in _UNION_MEMBERS or "[" in loc[-1]):
            loc.pop()
        entry = (".".join(loc) or "(top level)", e["msg"])
        if entry not in out:
            out.append(entry)
    return out


def line_roots(root: str | Path | None = None) -> list[Path]:
    """The folders lines are read from: ``root``, else ``lines/`` of the user's then the shipped models."""
    return [Path(root)] if root is not None else [folder / "lines" for folder in model_roots()]


def available_lines(root: str | Path | None = None) -> dict[str, list[str]]:
    """Line name -> its versions, oldest first, over :func:`line_roots`."""
    found: dict[str, set[str]] = {}
    for folder in line_roots(root):
        if folder.is_dir():
            for d in folder.iterdir():
                if d.is_dir():
                    found.setdefault(d.name, set()).update(p.stem for p in d.glob("*.yaml"))
    return {name: sorted(versions, key=_version_key) for name, versions in sorted(found.items()) if versions}


def load_line(name_or_path: str | Path, root: str | Path | None = None) -> LineDefinition:
    """A line by file path (a .yaml, .yml or .json file: the caller's own argument, not a path from inside a
    document), by ``name`` (newest version) or by ``name@version``; by name the user's folder wins over the
    shipped one. Raises ParameterError naming ``line`` (or the bad fields of the definition)."""
    path = Path(name_or_path)
    try:
        is_file = str(name_or_path).lower().endswith(LINE_FILE_SUFFIXES) and path.is_file()
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte
        raise ParameterError([("line", f"'{str(name_or_path)[:80]}' cannot be read: {exc}")]) from None
    if not is_file:
        path = _line_by_name(str(name_or_path), root)
    try:
        data = read_spec_file(path)
    except SpecError as exc:
        raise ParameterError(exc.errors, str(path)) from None
    return parse_line(data, str(path))


def _line_by_name(ref: str, root: str | Path | None) -> Path:
    name, _, version = ref.partition("@")
    lines = available_lines(root)
    versions = lines.get(name)
    if not versions:
        known = ", ".join(lines) or "none"
        raise ParameterError([("line", f"no line '{ref[:80]}' (not a file, not a known line; known: {known})")])
    if version and version not in versions:
        raise ParameterError(
            [("line", f"line '{name}' has no version {version[:80]}; versions: {', '.join(versions)}")]
        )
    candidates = [folder / name / f"{version or versions[-1]}.yaml" for folder in line_roots(root)]
    return next(p for p in candidates if p.is_file())


def _version_key(v: str):
    """Numbers in numeric order, before text: 1.2.0 < 1.10.0 < 1.10.0.rc (never a comparison of int and str)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in v.replace("-", ".").split("."))
