"""Plan inputs from a simulated batch: step durations and doses per batch come from a line run.

The MILP (``planning.py``) takes batch durations per module type. :func:`product_from_line`
reads them off one simulated batch of a production line, so the plan uses the durations the
recipe actually needs (conditional transitions included: a fed-batch harvested at its viability
threshold, a TFF that ends at its volume target) rather than numbers typed by hand. A plan spec asks
for this with ``products[].from_line``; :func:`resolve_line_products` runs each named line once
(``planning.plan`` calls it; parsing a spec runs nothing).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..core.parameters import ParameterError
from ..core.spec import SpecError
from .definition import load_line
from .flowsheet import LineResult, run_line
from .plan_spec import PlanSpec, Product, Step


def steps_from_line(
    result: LineResult, unit_modules: Mapping[str, str], step_settings: Mapping[str, Mapping[str, float]] | None = None
) -> list[Step]:
    """One step per module type, in the order the batch first reaches it. A module type's ``batch_h``
    is the time its units hold it in the simulated batch: from the first of them starting to the last
    ending. ``step_settings`` adds cleaning/changeover fields per module type."""
    if not result.ok:
        raise ParameterError([("line", f"the line batch failed: {result.message}")])
    unknown = sorted(set(unit_modules) - set(result.results))
    if unknown:
        raise ParameterError(
            [
                (
                    f"unit_modules.{u}",
                    f"not a unit of line '{result.line.definition.name}'; units: {', '.join(result.results)}",
                )
                for u in unknown
            ]
        )
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


def product_from_line(
    name: str,
    demand_doses: float,
    result: LineResult,
    unit_modules: Mapping[str, str],
    doses_kpi: str = "fill.doses",
    step_settings: Mapping[str, Mapping[str, float]] | None = None,
) -> Product:
    """A plan product whose steps and doses per batch come from one simulated batch of a line."""
    kpis = result.kpis()
    if doses_kpi not in kpis:
        raise ParameterError([("doses_kpi", f"the line reports no KPI '{doses_kpi}'")])
    return Product(
        name=name,
        demand_doses=demand_doses,
        doses_per_batch=kpis[doses_kpi],
        steps=steps_from_line(result, unit_modules, step_settings),
    )


def resolve_line_products(spec: PlanSpec, source: str = "plan spec") -> PlanSpec:
    """``spec`` with every ``from_line`` product replaced by the steps and doses of its simulated line.
    Each line runs once however many products name it. Problems raise SpecError naming the field."""
    runs: dict[str, LineResult] = {}
    products = []
    for i, product in enumerate(spec.products):
        line = product.from_line
        if line is None:
            products.append(product)
            continue
        where = f"products.{i}.from_line"
        ref = line.line
        try:
            if ref not in runs:
                runs[ref] = run_line(load_line(ref))
            batch = runs[ref]
            settings = {m: s.model_dump() for m, s in line.step_settings.items()}
            made = product_from_line(
                product.name, product.demand_doses, batch, line.unit_modules, line.doses_kpi, settings
            )
        except ParameterError as exc:
            raise SpecError(source, [(f"{where}.{field}", msg) for field, msg in exc.errors]) from None
        version = batch.line.definition.version
        products.append(
            made.model_copy(
                update={
                    "source": f"simulated batch of line {batch.line.definition.name}@{version} "
                    f"({batch.duration:.1f} h, {made.doses_per_batch:.0f} doses)"
                }
            )
        )
    return PlanSpec.model_validate(spec.model_dump() | {"products": [p.model_dump() for p in products]})
