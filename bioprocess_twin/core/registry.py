"""Name -> process registry. Unit modules register their processes when imported."""
from __future__ import annotations

import difflib
from typing import Callable

from .process import Process

_FACTORIES: dict[str, Callable[[], Process]] = {}
_INSTANCES: dict[str, Process] = {}


def register(cls: type[Process]) -> type[Process]:
    """Class decorator: make a process available by its ``name``."""
    if cls.name in _FACTORIES and _FACTORIES[cls.name] is not cls:
        raise ValueError(f"process name '{cls.name}' is registered twice")
    _FACTORIES[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a process (tests that register their own)."""
    _FACTORIES.pop(name, None)
    _INSTANCES.pop(name, None)


def names() -> list[str]:
    _load_builtin()
    return sorted(_FACTORIES)


def get(name: str) -> Process:
    """The shared instance (its model is built once per interpreter)."""
    _load_builtin()
    if name not in _FACTORIES:
        hint = difflib.get_close_matches(name, list(_FACTORIES), n=1)
        raise KeyError(f"unknown model '{name}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                       + f"; available: {', '.join(sorted(_FACTORIES))}")
    if name not in _INSTANCES:
        _INSTANCES[name] = _FACTORIES[name]()
    return _INSTANCES[name]


def _load_builtin():
    import bioprocess_twin.units  # noqa: F401  (registers the unit processes)
