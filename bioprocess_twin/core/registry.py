"""Name -> process and kind -> unit-operation registries. Unit modules register theirs when imported."""
from __future__ import annotations

import difflib
from typing import Callable

from .process import Process
from .streams import UnitOperation

_FACTORIES: dict[str, Callable[[], Process]] = {}
_INSTANCES: dict[str, Process] = {}
_UNIT_KINDS: dict[str, type[UnitOperation]] = {}


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


def register_unit(cls: type[UnitOperation]) -> type[UnitOperation]:
    """Class decorator: make a production unit available to lines by its ``kind``."""
    if cls.kind in _UNIT_KINDS and _UNIT_KINDS[cls.kind] is not cls:
        raise ValueError(f"unit kind '{cls.kind}' is registered twice")
    _UNIT_KINDS[cls.kind] = cls
    return cls


def unit_kinds() -> list[str]:
    _load_builtin()
    return sorted(_UNIT_KINDS)


def unit_class(kind: str) -> type[UnitOperation]:
    _load_builtin()
    if kind not in _UNIT_KINDS:
        hint = difflib.get_close_matches(kind, list(_UNIT_KINDS), n=1)
        raise KeyError(f"unknown unit kind '{kind}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                       + f"; available: {', '.join(sorted(_UNIT_KINDS)) or 'none'}")
    return _UNIT_KINDS[kind]

