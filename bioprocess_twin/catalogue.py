"""The catalogue of runnable models: kinetic process models by name, production units by kind.

Built-in models are found, not listed. Every module of :mod:`bioprocess_twin.processes` is scanned
for :class:`~.core.process.Process` subclasses that set ``name``, and every module of
:mod:`bioprocess_twin.units` for :class:`~.core.streams.UnitOperation` subclasses that set ``kind``.
Other installed packages add theirs through the entry-point groups ``bioprocess_twin.models`` and
``bioprocess_twin.units`` (each entry point names a class). So adding a model is one file: no list
or registry is edited, and the core never imports the layers above it.

The adapters (CLI, dashboard) and the layers above the units (line, calibration, records) look
models up here.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

from .core.definitions import calibrated_parameters
from .core.ensemble import Ensemble
from .core.kpi_units import KpiUnits
from .core.limits import limited
from .core.parameters import ParameterError
from .core.process import Process, ProcessRun
from .core.spec import SimulationSpec
from .core.streams import UnitOperation

PROCESS_GROUP = "bioprocess_twin.models"
UNIT_GROUP = "bioprocess_twin.units"
_PACKAGES = ("bioprocess_twin.processes", "bioprocess_twin.units")

_processes: dict[str, type[Process]] = {}
_units: dict[str, type[UnitOperation]] = {}
_loaded = False


def _add(table: dict, key: str, cls: type, what: str) -> None:
    if table.get(key, cls) is not cls:
        raise ValueError(f"{what} '{key}' is defined twice: {table[key].__module__} and {cls.__module__}")
    table[key] = cls


def _scan(module) -> None:
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if cls.__module__ != module.__name__ or inspect.isabstract(cls):
            continue
        if issubclass(cls, Process) and "name" in vars(cls):
            _add(_processes, cls.name, cls, "process model")
        elif issubclass(cls, UnitOperation) and "kind" in vars(cls):
            _add(_units, cls.kind, cls, "unit kind")


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for package_name in _PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__, package_name + "."):
            _scan(importlib.import_module(info.name))
    for group, table, base, what in (
        (PROCESS_GROUP, _processes, Process, "process model"),
        (UNIT_GROUP, _units, UnitOperation, "unit kind"),
    ):
        for entry in metadata.entry_points(group=group):
            cls = entry.load()
            if not (inspect.isclass(cls) and issubclass(cls, base)):
                raise TypeError(f"entry point '{entry.name}' in {group} is not a {base.__name__} class")
            _add(table, entry.name, cls, what)
    _loaded = True


def refresh() -> None:
    """Scan again, e.g. after a plugin package was installed into the running interpreter."""
    global _loaded
    _loaded = False
    _load()


def _unknown(what: str, key: str, known: list[str]) -> KeyError:
    hint = difflib.get_close_matches(key, known, n=1)
    return KeyError(
        f"unknown {what} '{key}'"
        + (f" (did you mean '{hint[0]}'?)" if hint else "")
        + f"; available: {', '.join(sorted(known)) or 'none'}"
    )


# -- process models ---------------------------------------------------------------------------------
def names() -> list[str]:
    """The names of every process model."""
    _load()
    return sorted(_processes)


def get(name: str) -> Process:
    """The shared instance of process model ``name`` (its CasADi model is built once per interpreter)."""
    _load()
    if name not in _processes:
        raise _unknown("model", name, list(_processes))
    return _processes[name].shared()


def kpi_units(name: str) -> KpiUnits:
    """The units process model ``name`` declares for its KPIs (see :mod:`.core.kpi_units`)."""
    _load()
    if name not in _processes:
        raise _unknown("model", name, list(_processes))
    return _processes[name].kpi_units


def particle_processes() -> list[str]:
    """The names of the process models that report size distributions (``Process.reports_distribution``):
    the emulsion, liposome and aluminium-salt models."""
    _load()
    return sorted(n for n, cls in _processes.items() if cls.reports_distribution())


def describe_version(name: str, version: str | None = None) -> dict[str, Any]:
    """``Process.describe()`` of model ``name`` at ``version``.

    For the code's version (or None) it is the plain description. For a calibrated set, that set's
    values are the model-parameter defaults (the code's default kept as ``code_default``) and
    ``calibrated_version`` names the set. Raises ParameterError on ``version`` when the set cannot be used.
    """
    process = get(name)
    description = process.describe()
    if not version or version == process.version:
        return description
    values = calibrated_parameters(process, version)
    description["parameters"] = [
        p | {"default": values[p["name"]], "code_default": p["default"]} if p["name"] in values else p
        for p in description["parameters"]
    ]
    return description | {"calibrated_version": version}


def register(cls: type[Process]) -> type[Process]:
    """Add a process model defined outside the scanned packages and entry points (a test's own, say)."""
    _load()
    _add(_processes, cls.name, cls, "process model")
    return cls


def unregister(name: str) -> None:
    """Remove a process model added with :func:`register`."""
    cls = _processes.pop(name, None)
    if cls is not None:
        cls.forget_shared()


# -- production units -------------------------------------------------------------------------------
def unit_kinds() -> list[str]:
    """The kinds of every production unit."""
    _load()
    return sorted(_units)


def unit_class(kind: str) -> type[UnitOperation]:
    _load()
    if kind not in _units:
        raise _unknown("unit kind", kind, list(_units))
    return _units[kind]


def register_unit(cls: type[UnitOperation]) -> type[UnitOperation]:
    """Add a unit kind defined outside the scanned packages and entry points."""
    _load()
    _add(_units, cls.kind, cls, "unit kind")
    return cls


def unregister_unit(kind: str) -> None:
    _units.pop(kind, None)


# -- running a spec ---------------------------------------------------------------------------------
def _spec_parameters(process: Process, spec: SimulationSpec) -> tuple[dict[str, Any], bool]:
    """The spec's parameters over its calibrated set's (when it names one), and whether it does."""
    version = spec.version
    calibrated = version is not None and version != process.version
    if version and calibrated:
        return calibrated_parameters(process, version) | spec.parameters, True
    return dict(spec.parameters), False


def ensemble_spec(
    spec: SimulationSpec,
    free_parameters: Sequence[str] = (),
    free_states: Sequence[str] = (),
    free_inputs: Sequence[str] = (),
    threads: int = 1,
) -> tuple[Process, Ensemble, dict[str, float]]:
    """The runs of ``spec`` that differ only in the free parameters, initial states and inputs, as an ensemble (see
    ``Process.ensemble``), with the process and the operating values its KPIs take. Raises as :func:`run_spec`."""
    process = get(spec.model)
    parameters, _ = _spec_parameters(process, spec)
    if spec.sensitivities:
        raise ParameterError([("sensitivities", "an ensemble computes no sensitivities")])
    ensemble, operating = process.ensemble(
        parameters=parameters,
        inputs=spec.inputs,
        recipe=spec.recipe,
        initial=spec.initial or None,
        times=spec.time_values(),
        options=spec.solver,
        free_parameters=free_parameters,
        free_states=free_states,
        free_inputs=free_inputs,
        threads=threads,
    )
    return process, ensemble, operating


@limited
def run_spec(spec: SimulationSpec, progress: Callable[[float, str], None] | None = None) -> ProcessRun:
    """Validate ``spec`` against its process model and run it.

    Raises KeyError for an unknown model and ParameterError for bad values (an unknown or unusable
    ``version`` on the field ``version``).
    """
    process = get(spec.model)
    parameters, calibrated = _spec_parameters(process, spec)
    run = process.run(
        parameters=parameters,
        inputs=spec.inputs,
        recipe=spec.recipe,
        initial=spec.initial or None,
        times=spec.time_values(),
        options=spec.solver,
        sensitivities=spec.sensitivities,
        progress=progress,
    )
    if calibrated:
        run.result.version_label = spec.version
        if run.series is not None and "model" in run.series.attrs:
            run.series.attrs["model"] = f"{process.name} {spec.version}"
    return run
