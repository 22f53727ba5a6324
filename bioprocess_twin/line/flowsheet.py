"""Run a production line: units in flow order, streams passed along, one batch through the line.

:func:`build_line` checks a :class:`~.definition.LineDefinition` against the registered unit
kinds (every unit, inlet, outlet and connection named in the definition must exist; every
required inlet is fed exactly once; the flow has no cycles) and reports all problems at once.
:func:`run_line` runs each unit procedure when the units it waits for have finished, and returns
the unit results, the streams between units, the batch schedule and the mass balances: per unit
``in + generated - out`` and for the line as a whole ``feeds + generated - products``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import catalogue
from ..core.limits import limited
from ..core.parameters import ParameterError
from ..core.recipe import PhaseRecord
from ..core.streams import Stream, UnitOperation, UnitResult
from ..core.units import to_magnitude
from .definition import LineDefinition


@dataclass
class Line:
    definition: LineDefinition
    units: dict[str, UnitOperation]
    order: list[str]  # flow order
    sources: dict[tuple[str, str], str]  # (unit, inlet) -> feed name or "unit.outlet"
    waits: dict[str, list[str]]  # unit -> units it waits for

    @property
    def products(self) -> list[str]:
        """Outlets no connection takes: the line's products, wastes and remainders ("unit.outlet")."""
        used = {s for s in self.sources.values() if "." in s}
        return [f"{u}.{o}" for u in self.order for o in self.units[u].outlets if f"{u}.{o}" not in used]


@dataclass
class ScheduledPhase:
    unit: str
    phase: str
    start: float  # h from the line batch start
    end: float
    ended_by: str


#: units of the line's own KPIs (:meth:`LineResult.summary_kpis`)
LINE_KPI_UNITS = {"batch_duration_h": "h", "units_run": "", "line_balance_residual_kg": "kg"}


@dataclass
class LineResult:
    line: Line
    status: str  # "ok", "failed"
    message: str
    results: dict[str, UnitResult] = field(default_factory=dict)
    inlets: dict[str, dict[str, Stream]] = field(default_factory=dict)
    starts: dict[str, float] = field(default_factory=dict)
    schedule: list[ScheduledPhase] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def duration(self) -> float:
        return max((s.end for s in self.schedule), default=0.0)

    def unit_balances(self) -> dict[str, dict[str, float]]:
        return {u: r.balance(self.inlets[u]) for u, r in self.results.items()}

    def line_balance(self) -> dict[str, float]:
        """Per component: feeds and supplied utilities + generated in all units - every unconnected outlet, kg."""
        feeds = [self.inlets[u][i] for (u, i), src in self.line.sources.items() if "." not in src]
        feeds += [s for r in self.results.values() for s in r.supplied.values()]
        products = [self.results[u].outlets[o] for u, o in (p.split(".", 1) for p in self.line.products)]
        comps = sorted(
            {c for s in feeds + products for c in s.mass} | {c for r in self.results.values() for c in r.generated}
        )
        return {
            c: sum(s.mass.get(c, 0.0) for s in feeds)
            + sum(r.generated.get(c, 0.0) for r in self.results.values())
            - sum(s.mass.get(c, 0.0) for s in products)
            for c in comps
        }

    def streams(self) -> list[dict[str, Any]]:
        """Every stream of the batch: feeds, transfers between units and products, with its ends."""
        rows = []
        for (u, inlet), src in self.line.sources.items():
            if u in self.inlets:
                rows.append(
                    {
                        "from": src if "." in src else f"feed:{src}",
                        "to": f"{u}.{inlet}",
                        "stream": self.inlets[u][inlet],
                    }
                )
        for p in self.line.products:
            u, o = p.split(".", 1)
            if u in self.results:
                rows.append({"from": p, "to": "product", "stream": self.results[u].outlets[o]})
        return rows

    def kpis(self) -> dict[str, float]:
        out = {"batch_duration_h": self.duration}
        for u, r in self.results.items():
            out.update({f"{u}.{k}": v for k, v in r.kpis.items()})
        return out

    def kpi_units(self) -> dict[str, str]:
        """The declared units of :meth:`summary_kpis`: the line's own numbers, then each unit's (``unit.kpi``)."""
        out = dict(LINE_KPI_UNITS)
        for u, r in self.results.items():
            out.update({f"{u}.{k}": v for k, v in r.kpi_units.items()})
        return out

    def balance_residual(self) -> float:
        """The largest absolute line mass-balance residual over the components, kg (0 when the line failed)."""
        balance = self.line_balance() if self.ok else {}
        return max((abs(v) for v in balance.values()), default=0.0)

    def summary_kpis(self) -> dict[str, float]:
        """The line's headline numbers, then every unit's KPIs (``unit.kpi``): batch duration, units run and
        the largest line mass-balance residual first."""
        return {
            "batch_duration_h": self.duration,
            "units_run": float(len(self.results)),
            "line_balance_residual_kg": self.balance_residual(),
        } | self.kpis()

    def stream_table(self, top: int = 4) -> list[dict[str, Any]]:
        """One row per stream, ready to show: its ends, volume (L), temperature (degC), its ``top`` solutes by
        concentration (g/L, water left out) and the d50 (nm) of its particles, if any."""
        rows = []
        for r in self.streams():
            s: Stream = r["stream"]
            solutes = {k: s.concentration(k) for k in s.mass if k != "water" and s.concentration(k) > 0}
            main = sorted(solutes, key=lambda k: solutes[k], reverse=True)[:top]
            rows.append(
                {
                    "from": r["from"],
                    "to": r["to"],
                    "volume_L": round(to_magnitude({"value": s.volume, "units": "m^3"}, "L"), 3),
                    "T_C": round(to_magnitude({"value": s.temperature, "units": "K"}, "degC"), 2),
                    "main solutes (g/L)": ", ".join(f"{k} {solutes[k]:.4g}" for k in main),
                    "d50_nm": round(s.particles.statistics()["d50_nm"], 1) if s.particles is not None else None,
                }
            )
        return rows

    def to_dict(self, include_series: bool = True) -> dict[str, Any]:
        d = self.line.definition
        return {
            "status": self.status,
            "message": self.message,
            "line": d.name,
            "line_version": d.version,
            "kpis": self.kpis(),
            "kpi_units": self.kpi_units(),
            "duration_h": self.duration,
            "schedule": [vars(s) for s in self.schedule],
            "units": {u: r.to_dict(include_series) | {"start_h": self.starts[u]} for u, r in self.results.items()},
            "not_run": [u for u in self.line.order if u not in self.results],
            "streams": [{"from": r["from"], "to": r["to"]} | r["stream"].to_dict() for r in self.streams()],
            "balance": {"units_kg": self.unit_balances(), "line_kg": self.line_balance() if self.ok else None},
        }


def build_line(definition: LineDefinition) -> Line:
    errors: list[tuple[str, str]] = []
    units: dict[str, UnitOperation] = {}
    for uid, spec in definition.units.items():
        try:
            cls = catalogue.unit_class(spec.kind)
        except KeyError as exc:
            errors.append((f"units.{uid}.kind", exc.args[0]))
            continue
        try:
            units[uid] = cls(uid, spec.parameters, spec.config)
        except ParameterError as exc:
            errors += [
                (f"units.{uid}.{'parameters.' if not f.startswith(uid + '.') else ''}{f.removeprefix(uid + '.')}", m)
                for f, m in exc.errors
            ]

    def port(ref: str, where: str, kind: str) -> tuple[str, str] | None:
        uid, _, name = ref.partition(".")
        if uid not in definition.units:
            errors.append((where, f"unknown unit '{uid}'; units: {', '.join(definition.units)}"))
            return None
        if uid in units:
            names = getattr(units[uid], kind)
            if name not in names:
                errors.append(
                    (where, f"'{uid}' ({units[uid].kind}) has no {kind[:-1]} '{name}'; {kind}: {', '.join(names)}")
                )
                return None
        return uid, name

    sources: dict[tuple[str, str], str] = {}

    def feed_into(target: tuple[str, str] | None, source: str, where: str):
        if target is None:
            return
        if target in sources:
            errors.append((where, f"inlet '{'.'.join(target)}' is already fed by '{sources[target]}'"))
        sources[target] = source

    for name, feed in definition.feeds.items():
        feed_into(port(feed.to, f"feeds.{name}.to", "inlets"), name, f"feeds.{name}.to")
    upstream: dict[str, set[str]] = {u: set() for u in definition.units}
    for i, c in enumerate(definition.connections):
        src = port(c.source, f"connections[{i}].from", "outlets")
        dst = port(c.target, f"connections[{i}].to", "inlets")
        if src and dst:
            feed_into(dst, c.source, f"connections[{i}].to")
            upstream[dst[0]].add(src[0])
    for uid, unit in units.items():
        missing = [i for i in unit.inlets if (uid, i) not in sources and i not in unit.optional_inlets]
        errors += [(f"units.{uid}", f"inlet '{i}' is neither fed nor connected") for i in missing]
    waits = {u: set(upstream[u]) for u in definition.units}
    for k, up in enumerate(definition.procedure):
        if up.unit not in definition.units:
            errors.append((f"procedure[{k}].unit", f"unknown unit '{up.unit}'"))
            continue
        if up.after is not None:
            bad = [a for a in up.after if a not in definition.units]
            errors += [(f"procedure[{k}].after", f"unknown unit '{a}'") for a in bad]
            waits[up.unit] = (set(up.after) - set(bad)) | upstream[up.unit]
    order = _flow_order(list(definition.units), waits)
    if order is None:
        errors.append(("connections", "the units form a cycle; a batch line must flow one way"))
    if errors or order is None:
        raise ParameterError(errors, f"line '{definition.name}'")
    return Line(definition, units, order, sources, {u: sorted(w) for u, w in waits.items()})


def _flow_order(unit_ids: list[str], waits: Mapping[str, set[str]]) -> list[str] | None:
    """Units after the ones they wait for, otherwise in definition order (Kahn's algorithm)."""
    done: list[str] = []
    left = list(unit_ids)
    while left:
        ready = next((u for u in left if waits[u] <= set(done)), None)
        if ready is None:
            return None
        done.append(ready)
        left.remove(ready)
    return done


@limited
def run_line(definition: LineDefinition | Line, progress: Callable[[float, str], None] | None = None) -> LineResult:
    line = definition if isinstance(definition, Line) else build_line(definition)
    defn = line.definition
    feeds = defn.feed_streams()
    result = LineResult(line, "ok", "")
    for k, uid in enumerate(line.order):
        unit = line.units[uid]
        inlets = {}
        for (u, inlet), src in line.sources.items():
            if u != uid:
                continue
            if "." in src:
                source_unit, outlet = src.split(".", 1)
                inlets[inlet] = result.results[source_unit].outlets[outlet]
            else:
                inlets[inlet] = feeds[src]
        up = defn.unit_procedure(uid)
        start = max((result.starts[w] + result.results[w].duration for w in line.waits[uid]), default=0.0) + up.delay
        if progress is not None:
            progress(k / len(line.order), f"{uid} ({unit.kind}) starts at {start:g} h")
        res = unit.execute(inlets, up.phases)
        result.inlets[uid], result.results[uid], result.starts[uid] = inlets, res, start
        phases = res.phases or [PhaseRecord(unit.kind, 0.0, res.duration)]
        result.schedule += [ScheduledPhase(uid, p.name, start + p.start, start + p.end, p.ended_by) for p in phases]
        if not res.ok:
            result.status = "failed"
            result.message = f"unit '{uid}' ({unit.kind}) failed: {res.message}"
            break
    if progress is not None and result.ok:
        progress(1.0, f"line '{defn.name}' done in {result.duration:g} h")
    return result
