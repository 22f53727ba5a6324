"""Scenario cases run in batches: the cases of a chunk that differ only in model parameters and constant inputs
share one ensemble (``core.ensemble``), integrated in one CasADi call for all of them.

The cases of a chunk are grouped by everything else their values set (passes, a phase's length: what shapes the
recipe). A group of at least :data:`MIN_GROUP` cases builds, or takes from this worker's cache, the ensemble of
its spec and runs every case's values through it; the process computes the KPIs of all of them at once
(``Process.ensemble_kpis``). Whatever an ensemble cannot run (a recipe with phase transitions, a recipe made from
the parameters, a model with algebraic states, a spec that does not validate) runs case by case, so each case
gets the outcome and the named error it would get alone.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import catalogue
from ..core.ensemble import ERROR, OK, Ensemble
from ..core.parameters import ParameterError
from ..core.process import Process
from ..core.spec import SpecError, parse_spec
from ..core.units import UnitsError, from_si, to_si
from .store import Case, CaseOutcome

if TYPE_CHECKING:
    from .cases import CaseContext

#: fewer cases than this in a group run one by one: building an ensemble costs about one run
MIN_GROUP = 4
#: ensembles each worker keeps (a design-space sweep revisits a few recipes)
CACHE = 8
#: a solver failure, as opposed to a case the task could not run (as in ``cases``)
SOLVER_FAILED = "failed"

_ENSEMBLES: OrderedDict[tuple, tuple[Process, Ensemble, dict[str, float]]] = OrderedDict()

Single = Callable[[Case], CaseOutcome]


def simulate_batch(context: CaseContext, cases: Sequence[Case], threads: int, single: Single) -> list[CaseOutcome]:
    """The outcome of every case, in order: the groups that can share an ensemble through it, the rest by ``single``."""
    try:
        process = catalogue.get(str(context.base.get("model")))
    except KeyError:
        return [single(case) for case in cases]
    groups: dict[str, list[Case]] = {}
    free_of: dict[str, tuple[str, ...]] = {}
    for case in cases:
        free = tuple(sorted(p for p in case.values if _batchable(process, context, p)))
        fixed = {p: v for p, v in case.values.items() if p not in free}
        key = json.dumps([context.document(fixed), free], sort_keys=True, default=str)
        groups.setdefault(key, []).append(case)
        free_of[key] = free
    outcomes: dict[int, CaseOutcome] = {}
    for key, members in groups.items():
        ran = _run_group(context, members, free_of[key], threads) if len(members) >= MIN_GROUP else None
        for case, outcome in zip(members, ran or [single(case) for case in members]):
            outcomes[case.index] = outcome
    return [outcomes[case.index] for case in cases]


def _batchable(process: Process, context: CaseContext, path: str) -> bool:
    """A value an ensemble can take per case: a model parameter (not an operating one, not a count), the initial
    value of a scalar state, or an input."""
    section, _, name = path.partition(".")
    if path in context.integer or "." in name:
        return False
    model = process.model
    if section == "parameters":
        return name in model.parameters and not model.parameters[name].integer
    if section == "initial":
        return any(v.name == name and v.size == 1 for v in model.states)
    return section == "inputs" and name in model.inputs


def _run_group(
    context: CaseContext, members: list[Case], free: tuple[str, ...], threads: int
) -> list[CaseOutcome] | None:
    """The outcomes of cases that differ only in the ``free`` paths, from one ensemble; None if it cannot run them."""
    started = time.perf_counter()
    fixed = {p: v for p, v in members[0].values.items() if p not in free}
    names = {
        s: [p.partition(".")[2] for p in free if p.startswith(s + ".")] for s in ("parameters", "initial", "inputs")
    }
    try:
        process, ensemble, operating = _ensemble(context, fixed, names, threads)
    except (SpecError, ParameterError, UnitsError, KeyError):
        return None
    model = process.model
    order = [f"{section}.{n}" for section, listed in names.items() for n in listed]
    declared = [model.parameters[n].units for n in names["parameters"]] + [
        model.state(n).units for n in names["initial"]
    ]
    declared += [model.inputs[n].units for n in names["inputs"]]
    try:
        theta = np.column_stack(
            [
                _in_units(np.array([c.values[p] for c in members]), context.units.get(p), u)
                for p, u in zip(order, declared)
            ]
        )
    except UnitsError:
        return None
    runs = ensemble.run(theta)
    kpis = process.ensemble_kpis(runs, operating)
    seconds = (time.perf_counter() - started) / len(members)
    out = []
    for i, case in enumerate(members):
        status, message = runs.status[i], runs.message[i]
        values = {name: _value(kpis.get(name), i) for name in (context.kpis or tuple(kpis))}
        if status == ERROR:
            none = dict.fromkeys(context.kpis or ())
            out.append(CaseOutcome(case.index, "error", f"case {case.index}: {message}", none, seconds))
        else:
            out.append(CaseOutcome(case.index, OK if status == OK else SOLVER_FAILED, message, values, seconds))
    return out


def _ensemble(context: CaseContext, fixed: Mapping[str, float], names: Mapping[str, list[str]], threads: int):
    """The ensemble of the spec with the ``fixed`` values written in, free in the ``names`` of each section, from
    this worker's cache when it is there."""
    document = context.document(fixed)
    key = (json.dumps([document, names], sort_keys=True, default=str), threads)
    if key in _ENSEMBLES:
        _ENSEMBLES.move_to_end(key)
        return _ENSEMBLES[key]
    spec = parse_spec(document, "scenario case")
    made = catalogue.ensemble_spec(spec, names["parameters"], names["initial"], names["inputs"], threads)
    _ENSEMBLES[key] = made
    while len(_ENSEMBLES) > CACHE:
        _ENSEMBLES.popitem(last=False)
    return made


def _in_units(values: np.ndarray, given: str | None, declared: str) -> np.ndarray:
    """Case values (in the units the scenario gives them, else already declared) in the declared units."""
    if not given or given == declared:
        return values
    return np.asarray(from_si(to_si(values, given), declared), dtype=float)


def _value(column: Any, i: int) -> float | None:
    """One case's KPI: None where it does not apply (NaN) or the process does not report it."""
    if column is None:
        return None
    x = float(column[i])
    return x if math.isfinite(x) else None
