"""Recipes: timed phases and events that change inputs or states (ISA-88 phase level).

An :class:`Event` happens at a time: it sets inputs from then on, and may set or add to states
(a bolus feed, a pass that starts with fresh feed temperature). A :class:`Phase` is a named
interval; a recipe made of phases becomes events at the phase starts.
"""
from __future__ import annotations

from typing import Any, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator

StateValue = Union[float, list[float]]


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time: float = Field(ge=0, description="when the event happens, in the model's time units")
    name: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict, description="input values from this time on")
    set_states: dict[str, StateValue] = Field(default_factory=dict, description="states replaced by these values")
    add_states: dict[str, StateValue] = Field(default_factory=dict, description="amounts added to states")

    @property
    def changes_states(self) -> bool:
        return bool(self.set_states or self.add_states)


class Phase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    duration: PositiveFloat = Field(description="in the model's time units")
    inputs: dict[str, Any] = Field(default_factory=dict)
    set_states: dict[str, StateValue] = Field(default_factory=dict)
    add_states: dict[str, StateValue] = Field(default_factory=dict)


class Recipe(BaseModel):
    """Phases run back to back from ``start``; events may be given as well at absolute times."""

    model_config = ConfigDict(extra="forbid")

    start: float = 0.0
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
        evs = [Event(time=t0, name=f"{name} starts", inputs=p.inputs, set_states=p.set_states, add_states=p.add_states)
               for (name, t0, _), p in zip(self.phase_bounds(), self.phases)]
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
