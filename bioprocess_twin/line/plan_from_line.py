"""Plan inputs from a simulated batch: step durations and doses per batch come from a line run.

The MILP (``planning.py``) takes batch durations per module type. :func:`product_from_line`
reads them off one simulated batch of a production line, so the plan uses the durations the
recipe actually needs (conditional transitions included: a fed-batch harvested at its viability
threshold, a TFF that ends at its volume target) rather than numbers typed by hand.
"""
from __future__ import annotations

from typing import Mapping

from ..core.parameters import ParameterError
from .flowsheet import LineResult
from .plan_spec import Product, Step


def steps_from_line(result: LineResult, unit_modules: Mapping[str, str],
                    step_settings: Mapping[str, Mapping[str, float]] | None = None) -> list[Step]:
    """One step per module type, in the order the batch first reaches it. A module type's ``batch_h``
    is the time its units hold it in the simulated batch: from the first of them starting to the last
    ending. ``step_settings`` adds cleaning/changeover fields per module type."""
    if not result.ok:
        raise ParameterError([("line", f"the line batch failed: {result.message}")])
    unknown = sorted(set(unit_modules) - set(result.results))
    if unknown:
        raise ParameterError([(f"unit_modules.{u}", f"not a unit of line '{result.line.definition.name}'; "
                               f"units: {', '.join(result.results)}") for u in unknown])
    spans: dict[str, list[float]] = {}
    for unit in result.line.order:
        module = unit_modules.get(unit)
        if module is None:
            continue
        start, end = result.starts[unit], result.starts[unit] + result.results[unit].duration
        lo, hi = spans.get(module, [start, end])
        spans[module] = [min(lo, start), max(hi, end)]
    settings = step_settings or {}
    return [Step(module=m, batch_h=hi - lo, **settings.get(m, {})) for m, (lo, hi) in spans.items()]


def product_from_line(name: str, demand_doses: float, result: LineResult, unit_modules: Mapping[str, str],
                      doses_kpi: str = "fill.doses",
                      step_settings: Mapping[str, Mapping[str, float]] | None = None) -> Product:
    """A plan product whose steps and doses per batch come from one simulated batch of a line."""
    kpis = result.kpis()
    if doses_kpi not in kpis:
        raise ParameterError([("doses_kpi", f"the line reports no KPI '{doses_kpi}'")])
    return Product(name=name, demand_doses=demand_doses, doses_per_batch=kpis[doses_kpi],
                   steps=steps_from_line(result, unit_modules, step_settings))
