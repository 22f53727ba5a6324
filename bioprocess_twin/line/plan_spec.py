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

from pydantic import Field, ValidationError, field_validator, model_validator

from ..core.parameters import ParameterError
from ..core.paths import confined_path
from ..core.spec import SpecError, StrictModel, field_errors, read_spec_file
from ..core.units import UnitsError, to_magnitude

WEEKS_PER_YEAR = 52.0
HOURS_PER_WEEK = 168.0
MAX_HORIZON_WEEKS = 260
#: longest time a step may take, in hours: the longest horizon
MAX_HOURS = MAX_HORIZON_WEEKS * HOURS_PER_WEEK
#: shortest batch: more batches per week than this allows only slow the MILP down
MIN_BATCH_H = 0.01
#: largest cost of one item, and largest demand or batch yield, accepted (currency; doses)
MAX_AMOUNT = 1e12
#: longest name and description accepted
MAX_NAME_CHARS, MAX_TEXT_CHARS = 100, 1000
#: most module types, products and steps per product in one spec
MAX_ITEMS = 50
#: endings of a line file (anything else without a path separator is a line name, ``name@version``)
LINE_FILE_SUFFIXES = (".yaml", ".yml", ".json")


class ModuleType(StrictModel):
    """A kind of module (equipment train) that the line can hold several identical copies of."""

    name: str = Field(
        ..., min_length=1, max_length=MAX_NAME_CHARS, description="identifier used by the products' steps"
    )
    description: str = Field(
        "", max_length=MAX_TEXT_CHARS, description="capacity or size, e.g. '2000 L single-use bioreactor'"
    )
    capex_per_module: float = Field(
        0.0, ge=0, le=MAX_AMOUNT, description="annualised capital cost per module (currency/year)"
    )
    fixed_opex_per_module: float = Field(
        0.0,
        ge=0,
        le=MAX_AMOUNT,
        description="fixed operating cost per installed module (currency/year): staff, maintenance, QC",
    )
    cost_per_batch: float = Field(
        0.0,
        ge=0,
        le=MAX_AMOUNT,
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

    cleaning_h: float = Field(
        0.0, ge=0, le=MAX_HOURS, description="cleaning (CIP/SIP, bag change) after each batch (h)"
    )
    changeover_h: float = Field(
        0.0,
        ge=0,
        le=MAX_HOURS,
        description="time to switch a module of this type to this product from another product or from idle (h)",
    )
    changeover_cost: float = Field(0.0, ge=0, le=MAX_AMOUNT, description="cost of one such changeover (currency)")
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

    module: str = Field(..., max_length=MAX_NAME_CHARS, description="name of a module type")
    batch_h: float = Field(
        ..., gt=0, le=MAX_HOURS, description="processing time of one batch on the module (h, at least 0.01 h)"
    )

    @field_validator("batch_h")
    @classmethod
    def _not_tiny(cls, value: float) -> float:
        if value < MIN_BATCH_H:
            raise ValueError(f"{value:g} h is shorter than {MIN_BATCH_H:g} h (36 s)")
        return value

    @property
    def occupied_h(self) -> float:
        """Hours a module is held by one batch: processing plus cleaning."""
        return self.batch_h + self.cleaning_h


class LineSource(StrictModel):
    """Take a product's steps and doses per batch from one simulated batch of a production line."""

    line: str = Field(
        ...,
        min_length=1,
        max_length=1024,
        description="shipped line name, 'name@version', or a line file (.yaml, .yml or .json) in the plan spec's "
        "folder, relative to it",
    )
    unit_modules: dict[str, str] = Field(
        ...,
        min_length=1,
        max_length=MAX_ITEMS,
        description="line unit -> module type that runs it; units left out do not occupy a planned module",
    )
    doses_kpi: str = Field(
        "fill.doses", max_length=MAX_NAME_CHARS, description="line KPI that gives the doses of one batch"
    )
    step_settings: dict[str, StepSettings] = Field(
        default_factory=dict, description="module type -> cleaning, changeover and lag of its step"
    )


class Product(StrictModel):
    """A product with its demand, and either its steps and doses per batch or the line they come from."""

    name: str = Field(..., min_length=1, max_length=MAX_NAME_CHARS)
    demand_doses: float = Field(..., ge=0, le=MAX_AMOUNT, description="doses needed over the planning horizon (doses)")
    doses_per_batch: float | None = Field(
        None, ge=1, le=MAX_AMOUNT, description="doses one batch yields after all steps (doses/batch)"
    )
    steps: list[Step] | None = Field(
        None, min_length=1, max_length=MAX_ITEMS, description="module types a batch passes through, in order"
    )
    from_line: LineSource | None = Field(None, description="simulate this line for steps and doses_per_batch")
    source: str = Field(
        "",
        max_length=MAX_TEXT_CHARS,
        description="where steps and doses_per_batch come from (set when from_line is used)",
    )

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

    name: str = Field("plan", max_length=MAX_TEXT_CHARS, description="label shown in reports")
    currency: str = Field("EUR", max_length=MAX_NAME_CHARS, description="label of the cost unit")
    horizon_weeks: int = Field(52, ge=1, le=MAX_HORIZON_WEEKS, description="planning horizon (weeks)")
    hours_per_week: float = Field(
        168.0, ge=1, le=HOURS_PER_WEEK, description="production hours available per module per week (h/week)"
    )
    module_types: list[ModuleType] = Field(..., min_length=1, max_length=MAX_ITEMS)
    products: list[Product] = Field(..., min_length=1, max_length=MAX_ITEMS)
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
                for module, settings in product.from_line.step_settings.items():
                    if settings.changeover_h > self.hours_per_week:  # checked again on the steps it makes
                        errors.append(
                            f"products.{i}.from_line.step_settings.{module}.changeover_h: {settings.changeover_h:g} h "
                            f"is longer than a week ({self.hours_per_week:g} h available)"
                        )
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
        used = {s.module for p in self.products for s in p.steps or []}
        used |= {m for p in self.products if p.from_line is not None for m in p.from_line.unit_modules.values()}
        errors += [
            f"module_types.{i}: no product uses module type {m.name!r} (remove it, or give a product a step on it)"
            for i, m in enumerate(self.module_types)
            if m.name not in used
        ]
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
        return parse_plan_spec(data, "demand", allow_outside_paths=True)  # its line files were checked already


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


def parse_plan_spec(
    data: Any, source: str = "plan spec", base: Path | None = None, *, allow_outside_paths: bool = False
) -> PlanSpec:
    """A validated plan spec; nothing runs. ``base`` is the folder of the spec file: a ``from_line`` that names a
    line file (ending .yaml, .yml or .json, or with a path separator) must lie inside it, unless
    ``allow_outside_paths``, and becomes its full path. Without ``base`` only line names are accepted, unless
    ``allow_outside_paths`` (file names are then taken as they are). The lines of ``from_line`` products are
    simulated by ``plan_from_line.resolve_line_products`` (``planning.plan`` calls it)."""
    if not isinstance(data, dict):
        raise SpecError(source, [("(top level)", "expected a mapping with module_types and products")])
    try:
        spec = PlanSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, field_errors(exc)) from None
    products, errors = [], []
    for i, product in enumerate(spec.products):
        line = product.from_line
        if line is not None and is_line_file(line.line):
            try:
                found = _line_file(line.line, base, f"products.{i}.from_line.line", allow_outside_paths)
            except ParameterError as exc:
                errors += exc.errors
                continue
            product = product.model_copy(update={"from_line": line.model_copy(update={"line": found})})
        products.append(product)
    if errors:
        raise SpecError(source, errors)
    return spec.model_copy(update={"products": products})


def is_line_file(ref: str) -> bool:
    """True when a ``from_line.line`` names a file rather than a line (``name`` or ``name@version``)."""
    return ref.lower().endswith(LINE_FILE_SUFFIXES) or any(c in ref for c in "/\\") or ref.startswith(("~", "."))


def _line_file(ref: str, base: Path | None, field: str, allow_outside: bool) -> str:
    if base is None:
        if allow_outside:
            return ref
        raise ParameterError([(field, "a line file is read only from the plan spec's folder; give a line name here")])
    try:
        path = confined_path(ref, base, field, allow_outside=allow_outside)
        found = path.is_file()
    except ParameterError:
        raise
    except (ValueError, RuntimeError, OSError) as exc:  # NUL bytes, unknown ~user, names too long
        raise ParameterError([(field, f"is not a usable path: {exc}")]) from None
    if not found:
        raise ParameterError([(field, f"no line file '{ref[:80]}' in the plan spec's folder")])
    return str(path)


def load_plan_spec(path: str | Path, *, allow_outside_paths: bool = False) -> PlanSpec:
    """Read a YAML or JSON plan spec; raises SpecError naming the bad fields. Line files it names must lie in
    its folder unless ``allow_outside_paths``."""
    return parse_plan_spec(
        read_spec_file(path), str(path), Path(path).resolve().parent, allow_outside_paths=allow_outside_paths
    )
