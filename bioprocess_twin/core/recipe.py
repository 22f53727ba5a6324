"""The one recipe vocabulary (ISA-88 phase level): phases, their transitions, and events.

A :class:`Phase` is a named interval that sets inputs (and may set or add to states) when it
starts. It lasts ``duration``, or ends earlier when its ``until`` :class:`Transition` on a scalar
state or output becomes true ("UF ends when the retentate volume falls to 20 L", "harvest when
viability < 70 %"). An :class:`Event` happens at a time: it sets inputs from then on, and may set
or add to states (a bolus feed). A :class:`Recipe` runs phases back to back from ``start``, plus
events at absolute times.

Process models and production units take the same objects: ``core.simulation.simulate`` runs
timed phases and events; ``core.phased.run_phases`` runs phases with transitions.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator

StateValue = float | list[float]
_OPS: dict[str, Callable[[Any, Any], Any]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class Transition(BaseModel):
    """End the phase when ``variable op value`` holds, e.g. ``{variable: V, op: "<=", value: 0.02}``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    variable: str = Field(description="a scalar state or output of the model")
    op: Literal["<", "<=", ">", ">="]
    value: float
    then: Literal["next", "stop"] = Field(
        "next", description="when it holds: go on with the next phase, or end the whole recipe (a harvest trigger, say)"
    )

    def holds(self, values: np.ndarray) -> np.ndarray:
        return _OPS[self.op](values, self.value)

    def __str__(self):
        return f"{self.variable} {self.op} {self.value:g}"


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    time: float = Field(ge=0, description="when the event happens, in the model's time units")
    name: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict, description="input values from this time on")
    set_states: dict[str, StateValue] = Field(default_factory=dict, description="states replaced by these values")
    add_states: dict[str, StateValue] = Field(default_factory=dict, description="amounts added to states")

    @property
    def changes_states(self) -> bool:
        return bool(self.set_states or self.add_states)


class Phase(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str
    duration: PositiveFloat = Field(description="longest duration, in the model's time units")
    until: Transition | None = Field(None, description="ends the phase earlier when it becomes true")
    inputs: dict[str, Any] = Field(default_factory=dict, description="input values from the phase start on")
    set_states: dict[str, StateValue] = Field(default_factory=dict, description="states replaced at the start")
    add_states: dict[str, StateValue] = Field(default_factory=dict, description="amounts added at the start")
    points: int = Field(20, ge=1, le=10_000, description="output intervals in the phase (phases with transitions)")


@dataclass
class PhaseRecord:
    """One phase as it ran: its name, start and end (in the model's time units) and what ended it."""

    name: str
    start: float
    end: float
    ended_by: str = "duration"  # "duration", "condition", "instant" or "failed"


class Recipe(BaseModel):
    """Phases run back to back from ``start``; events may be given as well at absolute times."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    start: float = Field(0.0, ge=0, description="when the first phase starts, in the model's time units")
    phases: list[Phase] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names_unique(self):
        names = [p.name for p in self.phases]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"phase names must be unique, repeated: {', '.join(dupes)}")
        return self

    @property
    def conditional(self) -> bool:
        """True when a phase has a transition (the recipe runs with ``core.phased.run_phases``)."""
        return any(p.until is not None for p in self.phases)

    @property
    def end(self) -> float:
        times = [self.start + sum(p.duration for p in self.phases)] + [e.time for e in self.events]
        return max(times)

    def phase_bounds(self) -> list[tuple[str, float, float]]:
        out, t = [], self.start
        for p in self.phases:
            out.append((p.name, t, t + p.duration))
            t += p.duration
        return out

    def all_events(self) -> list[Event]:
        """Phase starts and explicit events, in time order (phase events first at equal times)."""
        evs = [
            Event(time=t0, name=f"{name} starts", inputs=p.inputs, set_states=p.set_states, add_states=p.add_states)
            for (name, t0, _), p in zip(self.phase_bounds(), self.phases)
        ]
        return sorted(evs + list(self.events), key=lambda e: e.time)

    def phase_at(self, times: np.ndarray) -> list[str]:
        """Name of the phase active at each time ("" outside all phases; a boundary belongs to the phase that starts, matching the right-continuous values reported there)."""
        bounds = self.phase_bounds()
        names = []
        for t in np.asarray(times, dtype=float):
            name = ""
            for n, t0, t1 in bounds:
                if t0 <= t <= t1:
                    name = n
                    if t < t1:
                        break
            names.append(name)
        return names

    def time_grid(self, points_per_phase: int = 10) -> np.ndarray:
        """An output grid with points in every phase and at every event."""
        if points_per_phase < 1:
            raise ValueError("points_per_phase must be at least 1")
        pts = [np.linspace(t0, t1, points_per_phase + 1) for _, t0, t1 in self.phase_bounds()]
        pts.append(np.array([self.start, self.end] + [e.time for e in self.events]))
        return np.unique(np.concatenate(pts))
