"""The campaign-planning spec: horizon, module types with costs, products with their step sequence.

One :class:`PlanSpec` is read by the CLI (``bioprocess-twin line plan SPEC``), the dashboard's
Plan page and :func:`bioprocess_twin.line.planning.plan`. Every field states its units. Batch
durations live in the spec (``products[].steps[].batch_h``) so they can be filled from a
simulated line recipe.

Costs are in one currency (``currency`` is only a label). ``capex_per_module`` and
``fixed_opex_per_module`` are *per year* (capex annualised, e.g. by a capital recovery factor);
the plan charges them pro rata, ``horizon_weeks / 52`` years.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from ..core.spec import SpecError, StrictModel, field_errors, read_spec_file
from ..core.units import UnitsError, to_magnitude

WEEKS_PER_YEAR = 52.0


class ModuleType(StrictModel):
    """A kind of module (equipment train) that the line can hold several identical copies of."""

    name: str = Field(..., min_length=1, description="identifier used by the products' steps")
    description: str = Field("", description="capacity or size, e.g. '2000 L single-use bioreactor'")
    capex_per_module: float = Field(0.0, ge=0, description="annualised capital cost per module (currency/year)")
    fixed_opex_per_module: float = Field(
        0.0, ge=0, description="fixed operating cost per installed module (currency/year): staff, maintenance, QC"
    )
    cost_per_batch: float = Field(
        0.0,
        ge=0,
        description="variable cost of one batch on this module type (currency/batch): consumables, media, utilities",
    )
    min_modules: int = Field(0, ge=0, description="modules that must be installed (count)")
    max_modules: int = Field(..., ge=1, le=50, description="most parallel modules that can be installed (count)")

    @model_validator(mode="after")
    def _min_below_max(self):
        if self.min_modules > self.max_modules:
            raise ValueError(f"min_modules ({self.min_modules}) is above max_modules ({self.max_modules})")
        return self


class StepSettings(StrictModel):
    """What a module type needs around each batch, beyond its processing time."""

    cleaning_h: float = Field(0.0, ge=0, description="cleaning (CIP/SIP, bag change) after each batch (h)")
    changeover_h: float = Field(
        0.0,
        ge=0,
        description="time to switch a module of this type to this product from another product or from idle (h)",
    )
    changeover_cost: float = Field(0.0, ge=0, description="cost of one such changeover (currency)")
    lag_weeks: int | None = Field(
        None,
        ge=0,
        le=52,
        description="weeks from a batch's week on this step to "
        "its week on the next step (weeks); default ceil(batch_h / hours_per_week); "
        "0 lets the next step run in the same week",
    )


class Step(StepSettings):
    """One pass of a product's batch through a module type."""

    module: str = Field(..., description="name of a module type")
    batch_h: float = Field(..., gt=0, description="processing time of one batch on the module (h)")

    @property
    def occupied_h(self) -> float:
        """Hours a module is held by one batch: processing plus cleaning."""
        return self.batch_h + self.cleaning_h


class LineSource(StrictModel):
    """Take a product's steps and doses per batch from one simulated batch of a production line."""

    line: str = Field(
        ...,
        min_length=1,
        description="shipped line name, 'name@version', or a line file (relative paths from the plan spec's folder)",
    )
    unit_modules: dict[str, str] = Field(
        ...,
        min_length=1,
        description="line unit -> module type that runs it; units left out do not occupy a planned module",
    )
    doses_kpi: str = Field("fill.doses", description="line KPI that gives the doses of one batch")
    step_settings: dict[str, StepSettings] = Field(
        default_factory=dict, description="module type -> cleaning, changeover and lag of its step"
    )


class Product(StrictModel):
    """A product with its demand, and either its steps and doses per batch or the line they come from."""

    name: str = Field(..., min_length=1)
    demand_doses: float = Field(..., ge=0, description="doses needed over the planning horizon (doses)")
    doses_per_batch: float | None = Field(
        None, gt=0, description="doses one batch yields after all steps (doses/batch)"
    )
    steps: list[Step] | None = Field(None, min_length=1, description="module types a batch passes through, in order")
    from_line: LineSource | None = Field(None, description="simulate this line for steps and doses_per_batch")
    source: str = Field("", description="where steps and doses_per_batch come from (set when from_line is used)")

    @model_validator(mode="after")
    def _one_source(self):
        given = [f for f in ("doses_per_batch", "steps") if getattr(self, f) is not None]
        if self.from_line is not None and given:
            raise ValueError(f"from_line: give either from_line or {' and '.join(given)}, not both")
        if self.from_line is None and len(given) < 2:
            raise ValueError(
                "; ".join(
                    f"{f}: required (or from_line, to take it from a simulated line)"
                    for f in ("doses_per_batch", "steps")
                    if f not in given
                )
            )
        return self

    @property
    def batches_needed(self) -> int:
        return math.ceil(self.demand_doses / self.doses_per_batch - 1e-9)


class SolverSettings(StrictModel):
    time_limit_s: float = Field(60.0, gt=0, le=3600, description="wall-clock limit of each MILP solve (s)")
    mip_rel_gap: float = Field(1e-4, ge=0, le=0.5, description="relative optimality gap at which HiGHS stops (-)")


class PlanSpec(StrictModel):
    """Planning horizon, module types and products. See docs/planning.md for the formulation."""

    name: str = Field("plan", description="label shown in reports")
    currency: str = Field("EUR", description="label of the cost unit")
    horizon_weeks: int = Field(52, ge=1, le=260, description="planning horizon (weeks)")
    hours_per_week: float = Field(
        168.0, gt=0, le=168, description="production hours available per module per week (h/week)"
    )
    module_types: list[ModuleType] = Field(..., min_length=1)
    products: list[Product] = Field(..., min_length=1)
    solver: SolverSettings = Field(default_factory=SolverSettings)

    @model_validator(mode="after")
    def _cross_checks(self):
        errors: list[str] = []
        _unique([m.name for m in self.module_types], "module_types", errors)
        _unique([p.name for p in self.products], "products", errors)
        known = {m.name for m in self.module_types}
        for i, product in enumerate(self.products):
            if product.from_line is not None:
                _check_line_source(product.from_line, f"products.{i}.from_line", known, errors)
                continue
            seen = set()
            for j, step in enumerate(product.steps):
                where = f"products.{i}.steps.{j}"
                if step.module not in known:
                    errors.append(
                        f"{where}.module: product {product.name!r} uses unknown module type "
                        f"{step.module!r} (known: {', '.join(sorted(known))})"
                    )
                if step.module in seen:
                    errors.append(
                        f"{where}.module: product {product.name!r} uses module type "
                        f"{step.module!r} twice; give the second pass its own module type"
                    )
                seen.add(step.module)
                if step.changeover_h > self.hours_per_week:
                    errors.append(
                        f"{where}.changeover_h: {step.changeover_h:g} h is longer than a week "
                        f"({self.hours_per_week:g} h available)"
                    )
        if errors:
            raise ValueError("; ".join(errors))
        return self

    # -- convenience -------------------------------------------------------------------------
    def module(self, name: str) -> ModuleType:
        return next(m for m in self.module_types if m.name == name)

    def product(self, name: str) -> Product:
        return next(p for p in self.products if p.name == name)

    @property
    def years(self) -> float:
        return self.horizon_weeks / WEEKS_PER_YEAR

    def demand(self, units: str = "dose") -> dict[str, float]:
        """Each product's demand in ``units`` (``"dose"``, or ``"Mdose"`` for millions of doses)."""
        return {p.name: to_magnitude({"value": p.demand_doses, "units": "dose"}, units) for p in self.products}

    def with_demand(self, demand: dict[str, float], units: str = "dose") -> PlanSpec:
        """A copy with new demands, in ``units``, for the named products (unknown names, and values that are
        not numbers of doses, raise SpecError on ``demand.<product>``)."""
        data = self.model_dump()
        names = [p["name"] for p in data["products"]]
        bad = [(f"demand.{n}", "unknown product") for n in demand if n not in names]
        doses = {}
        for name, value in demand.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                bad.append((f"demand.{name}", f"expected a number of {units}, got {value!r}"))
                continue
            try:
                doses[name] = to_magnitude({"value": value, "units": units}, "dose")
            except (UnitsError, TypeError, ValueError) as exc:
                bad.append((f"demand.{name}", str(exc)))
        if bad:
            raise SpecError("demand", bad)
        for p in data["products"]:
            if p["name"] in doses:
                p["demand_doses"] = doses[p["name"]]
        return parse_plan_spec(data, "demand")


def _check_line_source(source: LineSource, where: str, known: set[str], errors: list[str]):
    for unit, module in source.unit_modules.items():
        if module not in known:
            errors.append(
                f"{where}.unit_modules.{unit}: unknown module type {module!r} (known: {', '.join(sorted(known))})"
            )
    for module in source.step_settings:
        if module not in source.unit_modules.values():
            errors.append(f"{where}.step_settings.{module}: no unit of the line runs on module type {module!r}")


def _unique(names: list[str], field: str, errors: list[str]):
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        errors.append(f"{field}: duplicate names {', '.join(dupes)}")


def parse_plan_spec(data: Any, source: str = "plan spec", base: Path | None = None) -> PlanSpec:
    """A validated plan spec; nothing runs. ``base`` is the folder relative line files start from:
    a ``from_line`` naming a file there is given as its full path. The lines of ``from_line`` products
    are simulated by ``plan_from_line.resolve_line_products`` (``planning.plan`` calls it)."""
    if not isinstance(data, dict):
        raise SpecError(source, [("(top level)", "expected a mapping with module_types and products")])
    try:
        spec = PlanSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, field_errors(exc)) from None
    if base is None:
        return spec
    products = []
    for product in spec.products:
        line = product.from_line
        if line is not None and (base / line.line).is_file():
            product = product.model_copy(update={"from_line": line.model_copy(update={"line": str(base / line.line)})})
        products.append(product)
    return spec.model_copy(update={"products": products})


def load_plan_spec(path: str | Path) -> PlanSpec:
    """Read a YAML or JSON plan spec; raises SpecError naming the bad fields."""
    return parse_plan_spec(read_spec_file(path), str(path), Path(path).parent)
