"""The simulation spec shared by the CLI and the dashboard (``catalogue.run_spec`` runs it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from .documents import DocumentError, read_document
from .limits import check_points
from .parameters import ParameterError
from .recipe import Recipe
from .simulation import SolverOptions

#: a model version: letters, digits and . + _ - (so that a calibrated one names a file and nothing else)
VERSION_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$"


class StrictModel(BaseModel):
    """Base of every spec section: an unknown or misspelt field is an error that names it."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class TimeGrid(StrictModel):
    start: float = 0.0
    stop: float
    points: int = Field(101, ge=2)

    @model_validator(mode="after")
    def _order(self):
        if not self.stop > self.start:
            raise ValueError("stop must be greater than start")
        check_points(self.points, "points")
        return self

    def values(self) -> np.ndarray:
        return np.linspace(self.start, self.stop, self.points)


#: tags of the one-of sections below: pydantic puts them in an error's place, and field_errors drops them
UNION_TAGS = frozenset({"listed", "grid"})

#: output times: a list of times, or a grid {start, stop, points}; the input's type picks which
OutputTimes = Annotated[
    Annotated[list[float], Tag("listed")] | Annotated[TimeGrid, Tag("grid")],
    Discriminator(lambda v: "grid" if isinstance(v, (dict, TimeGrid)) else "listed"),
]


class SimulationSpec(StrictModel):
    """``model`` plus optional parameters, inputs, initial states, recipe, output times and solver settings.

    Parameters and inputs take numbers in the declared units, or strings with units (``"1000 bar"``).
    ``version`` names a calibrated parameter set: its values become the model-parameter defaults and
    ``parameters`` still override them.
    """

    model: str
    version: str | None = Field(
        None,
        pattern=VERSION_PATTERN,
        max_length=100,
        description="model version: the code's version (default) or a calibrated "
        "set saved in <models>/<model>/, e.g. 1.0.0+cal.1",
    )
    parameters: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, Any] = Field(default_factory=dict)
    initial: dict[str, Any] = Field(default_factory=dict)
    recipe: Recipe | None = None
    times: OutputTimes | None = None
    solver: SolverOptions = Field(default_factory=SolverOptions)
    sensitivities: bool | list[str] = False

    @field_validator("parameters", "inputs", "initial")
    @classmethod
    def _names(cls, value, info):
        bad = [key for key in value if not (isinstance(key, str) and key.isidentifier())]
        if bad:
            shown = ", ".join(repr(key)[:40] for key in bad[:5])
            raise ValueError(f"not names of the model (letters, digits and _): {shown}")
        return value

    @field_validator("times")
    @classmethod
    def _times_within_limit(cls, value):
        if isinstance(value, list):
            check_points(len(value), "times")
        return value

    def time_values(self) -> np.ndarray | None:
        if self.times is None:
            return None
        return self.times.values() if isinstance(self.times, TimeGrid) else np.asarray(self.times, dtype=float)


class SpecError(ValueError):
    """A spec file that cannot be read or validated; ``errors`` lists ``(field, message)``."""

    def __init__(self, source: str, errors: list[tuple[str, str]]):
        self.source, self.errors = source, errors
        super().__init__(f"{source}: " + "; ".join(f"{f}: {m}" for f, m in errors))


def field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """pydantic errors as (dotted field, message). Our validators write "field: text" parts joined by
    "; ", with the field relative to where the validator sits."""
    out = []
    for e in exc.errors():
        loc = ".".join(_shown_key(p) for p in e["loc"] if p not in UNION_TAGS)
        msg = e["msg"]
        if not msg.startswith("Value error, "):
            out.append((loc or "(top level)", msg))
            continue
        for part in msg.removeprefix("Value error, ").split("; "):
            field, sep, text = part.partition(": ")
            if sep and " " not in field:
                out.append((f"{loc}.{field}" if loc else field, text))
            else:
                out.append((loc or "(top level)", part))
    return out


def _shown_key(part) -> str:
    """A place in a document as text; a blank or unprintable key is quoted so that it still names a field."""
    text = str(part)
    return text if text.strip() and text.isprintable() else repr(text)


def read_spec_file(path: str | Path) -> Any:
    """The data of a YAML or JSON spec file, read within the limits (``core.documents``); a missing,
    unreadable, oversized or malformed file (duplicate keys included) raises SpecError on 'file'."""
    try:
        return read_document(path)
    except DocumentError as exc:
        message = exc.message if exc.where == "file" else f"{exc.where}: {exc.message}"
        raise SpecError(str(path), [("file", message)]) from None


def load_spec(path: str | Path) -> SimulationSpec:
    return parse_spec(read_spec_file(path), str(path))


def parse_spec(data: Any, source: str = "spec") -> SimulationSpec:
    if not isinstance(data, dict):
        raise SpecError(source, [("(top level)", "expected a mapping with at least 'model'")])
    try:
        return SimulationSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, field_errors(exc)) from None


def spec_error_from(exc: ParameterError | KeyError, source: str) -> SpecError:
    if isinstance(exc, ParameterError):
        return SpecError(source, exc.errors)
    return SpecError(source, [("model", exc.args[0])])


def simulation_spec_files(directory: str | Path) -> list[Path]:
    """The YAML files in ``directory`` that are simulation specs (they name a ``model``), sorted;
    scale-up and plan specs live beside them and are skipped."""
    out = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            data = read_document(path)
        except DocumentError:
            data = {"model": None}  # broken: keep it, so loading it reports the problem
        if isinstance(data, dict) and "model" in data:
            out.append(path)
    return out
