"""Display-ready values for every adapter: units as people write them, numbers as text, KPI names and units.

Results carry plain floats and pint unit strings (``"degC"``, ``"um"``, ``"1/h"``). The CLI, the
dashboard and reports show them the same way through these functions, so no adapter keeps its own
table of units or its own rule for infinities:

- :func:`display_units`: ``"degC"`` -> ``"°C"``, ``"m^3"`` -> ``"m³"``; dimensionless -> ``""``.
- :func:`format_value`: 4 significant digits; None -> ``"—"``; infinities -> ``"inf"`` / ``"-inf"``.
- :func:`format_bounds`: ``(100, 2000)`` -> ``"[100, 2000]"``, an open end as ``−∞`` / ``∞``.
- :func:`percent` / :func:`format_percent`: a fraction in percent, converted by pint: ``0.853`` -> ``85.3`` /
  ``"85 %"``.
- :func:`parse_number`: a number typed into a box, read strictly: ``"12x0"``, ``"1e"``, ``"--3"``, ``"nan"`` and
  ``"inf"`` are refused with a message, never coerced.
- :func:`kpi_label`: a KPI key names its units in its last words by the project's convention
  (``z_average_nm``, ``final_titre_g_per_L``, ``kla_1_per_h``, ``peak_vcd_1e6_per_mL``); it returns the
  display name and the pint units (``("Z-average", "nm")``, ``("final titre", "g/L")``, ``("peak VCD", "1e6/mL")``).
  Units the library declares for a KPI (``describe_kpis(kpis, units)``) win over the key's words.
- :func:`describe_kpis` / :func:`headline_kpis` / :func:`headline_series`: what a results view shows first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .units import from_si, ureg

# -- units -------------------------------------------------------------------------------------------------------
_PRETTY_UNITS = {"degC": "°C", "degF": "°F", "percent": "%", "dimensionless": "", "1": "", "": ""}
_PRETTY_TOKENS = {"um": "µm", "us": "µs", "uL": "µL", "umol": "µmol", "uM": "µM", "ug": "µg", "mPa": "mPa"}
_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def display_units(units: str | None) -> str:
    """Units as people write them: ``"degC"`` -> ``"°C"``, ``"kg/m^3"`` -> ``"kg/m³"``, ``"mPa*s"`` ->
    ``"mPa·s"``, ``"1e6/mL"`` -> ``"10⁶/mL"``; dimensionless (``""``, ``"1"``) -> ``""``."""
    text = str(units or "").strip()
    if text in _PRETTY_UNITS:
        return _PRETTY_UNITS[text]
    factor = re.match(r"^1e([-+]?\d+)\s*\*?\s*(.*)$", text)
    if factor:
        rest = display_units(factor.group(2)) if factor.group(2) not in ("", "1") else ""
        power = "10" + str(int(factor.group(1))).translate(_SUPERSCRIPTS)
        return power + ("" if not rest or rest.startswith("/") else " ") + rest
    parts = re.split(r"([*/()])", text)
    out = []
    for part in parts:
        word = part.strip()
        base, _, power = word.partition("^")
        base = _PRETTY_TOKENS.get(base, base if base == "1" else _PRETTY_UNITS.get(base, base))
        out.append(base + (power.translate(_SUPERSCRIPTS) if power else ""))
    return "".join(out).replace("*", "·")


def is_dimensionless(units: str | None) -> bool:
    return str(units or "").strip() in ("", "1", "dimensionless")


def is_length(units: str | None) -> bool:
    """True for units of length (``nm``, ``um``, ``m``): sizes, which are best shown on a log axis."""
    try:
        return not is_dimensionless(units) and ureg.Unit(str(units)).dimensionality == ureg.Unit("m").dimensionality
    except Exception:  # noqa: BLE001 - unknown or non-pint text: not a length
        return False


# -- numbers -----------------------------------------------------------------------------------------------------
def format_value(value: Any, digits: int = 4) -> str:
    """A number as text with ``digits`` significant digits; None -> ``"—"``; ±infinity -> ``"inf"``/``"-inf"``
    (JSON has no infinity, so results keep it as this text); NaN -> ``"nan"``; other values as ``str``."""
    if value is None:
        return "—"
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "-inf", "nan"):
        return value.strip().lower().lstrip("+")
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


class NumberError(ValueError):
    """Text typed as a number that is not one (the message says why, without the field's name)."""


#: a plain decimal number, optionally with an exponent: what a person types into a number box
_NUMBER_TEXT = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
#: longest text read as a number
MAX_NUMBER_CHARS = 64


def parse_number(value: Any, integer: bool = False) -> float:
    """A number typed by a person, read strictly: ``"1200"``, ``" 1.2e3 "``, ``"-3"``, ``".5"``, or an int or float.

    Anything else raises :class:`NumberError` with a message that quotes the text: ``"12x0"``, ``"1e"``, ``"--3"``,
    ``"1,5"``, ``"nan"``, ``"inf"``, ``"1e999"`` (beyond float range), an empty box, a bool. Nothing is coerced
    (a browser number box that drops the ``x`` of ``"12x0"`` would send 120). ``integer`` also refuses a
    fraction (``"6.5"``; ``"6.0"`` is 6)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise NumberError(f"expected a number, got {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise NumberError("the box is empty")
        shown = text if len(text) <= 20 else text[:17] + "..."
        if len(text) > MAX_NUMBER_CHARS or not _NUMBER_TEXT.match(text):
            raise NumberError(f"'{shown}' is not a number (write e.g. 1200, 0.05 or 1.2e3)")
        x = float(text)
    else:
        shown, x = repr(value), float(value)
    if not math.isfinite(x):
        raise NumberError(f"'{shown}' is not a finite number")
    if integer and x != int(x):
        raise NumberError(f"'{shown}' is not a whole number")
    return x


def format_bounds(lower: float | None, upper: float | None, digits: int = 4) -> str:
    """``"[100, 2000]"``; an open (None or infinite) end shows as ``−∞`` / ``∞``."""

    def end(x, text):
        return text if x is None or (isinstance(x, (int, float)) and math.isinf(x)) else f"{float(x):.{digits}g}"

    return f"[{end(lower, '−∞')}, {end(upper, '∞')}]"


def percent(fraction: float) -> float:
    """A fraction (``0.853``) as a number of percent (``85.3``), converted by pint."""
    return float(from_si(fraction, "percent"))


def format_percent(fraction: float, spec: str = ".0f") -> str:
    """A fraction as text in percent, the number formatted by ``spec``: ``format_percent(0.853)`` -> ``"85 %"``,
    ``format_percent(1.2e-4, ".3g")`` -> ``"0.012 %"``."""
    return f"{percent(fraction):{spec}} %"


def infinities_as_text(value: Any) -> Any:
    """A copy of plain data with every float infinity replaced by ``"inf"`` / ``"-inf"``, so that unbounded
    values (an interval of an unknown that cannot be identified) survive JSON, which has no infinity."""
    if isinstance(value, dict):
        return {k: infinities_as_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [infinities_as_text(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


# -- KPIs --------------------------------------------------------------------------------------------------------
#: unit words a KPI key may end with, and their pint units
UNIT_WORDS: dict[str, str] = {
    "nm": "nm",
    "um": "um",
    "mm": "mm",
    "cm": "cm",
    "m": "m",
    "m2": "m^2",
    "m3": "m^3",
    "us": "us",
    "ms": "ms",
    "s": "s",
    "min": "min",
    "h": "h",
    "day": "day",
    "days": "day",
    "C": "degC",
    "K": "K",
    "bar": "bar",
    "mbar": "mbar",
    "Pa": "Pa",
    "kPa": "kPa",
    "MPa": "MPa",
    "pct": "percent",
    "percent": "percent",
    "uL": "uL",
    "mL": "mL",
    "L": "L",
    "ug": "ug",
    "mg": "mg",
    "g": "g",
    "kg": "kg",
    "J": "J",
    "kJ": "kJ",
    "MJ": "MJ",
    "W": "W",
    "kW": "kW",
    "mN": "mN",
    "uM": "uM",
    "mM": "mM",
    "mmol": "mmol",
    "mol": "mol",
    "cell": "cell",
    "cells": "cell",
    "rpm": "rpm",
}
#: whole unit suffixes that are not built from UNIT_WORDS
UNIT_SUFFIXES: dict[str, str] = {"LMH": "L/m^2/h"}
#: display names of KPI keys (without their units), where the words of the key are not enough
KPI_NAMES: dict[str, str] = {
    "z_average": "Z-average",
    "pdi": "PDI",
    "span": "Span",
    "d10": "d10",
    "d50": "d50",
    "d90": "d90",
    "d32": "d32 (Sauter)",
    "d43": "d43",
    "T_out": "Outlet T",
    "T_max": "Max T",
    "kla": "kLa",
    "eps": "dissipation rate ε",
    "t_res": "residence time",
    "sigma": "interfacial tension σ",
}
#: words of a KPI name written as people write them
WORD_NAMES: dict[str, str] = {
    "vcd": "VCD",
    "ivcd": "IVCD",
    "kla": "kLa",
    "hcp": "HCP",
    "dna": "DNA",
    "o2": "O₂",
    "pdi": "PDI",
}
#: keys that do not follow the convention: their display name and pint units
SPECIAL_KPIS: dict[str, tuple[str, str]] = {
    "peak_day": ("day of peak VCD", "day"),
    "load_g_per_L_resin": ("load per resin volume", "g/L"),
    "load_cv": ("load in column volumes", ""),
    "pool_volume_cv": ("pool volume in column volumes", ""),
}
#: KPIs shown first, in this order, when present (size and spread first, then yield and temperature)
HEADLINE_KPIS = (
    "z_average_nm",
    "pdi",
    "span",
    "d50_nm",
    "d50_um",
    "d32_nm",
    "d90_nm",
    "d90_um",
    "yield_pct",
    "T_out_C",
)
#: series columns that measure a size, and a spread, in order of preference
SIZE_COLUMNS = ("z_average", "d32", "d50", "d43", "diameter", "size")
SPREAD_COLUMNS = ("pdi", "span")
_FACTOR = re.compile(r"^1e[-+]?\d+$")


def _word_units(words: Sequence[str]) -> str | None:
    """Pint units of unit words, or None: ``[g, per, L]`` -> ``g/L``; ``[1e6, cell, day, per, mL]`` ->
    ``1e6*cell*day/mL``; without ``per`` only one unit word (with an optional factor) counts."""
    if not words:
        return None
    if "per" in words:
        i = words.index("per")
        top, bottom = list(words[:i]), list(words[i + 1 :])
        if not bottom or "per" in bottom or len(bottom) > 2 or any(w not in UNIT_WORDS for w in bottom):
            return None
    else:
        top, bottom = list(words), []
    factor = top.pop(0) if top and (_FACTOR.match(top[0]) or top[0] == "1") else None
    if any(w not in UNIT_WORDS for w in top) or (not bottom and len(top) != 1):
        return None
    scale = [factor] if factor is not None and factor != "1" else []
    numerator = "*".join(scale + [UNIT_WORDS[w] for w in top]) or "1"
    denominator = "*".join(UNIT_WORDS[w] for w in bottom)
    if not denominator:
        return numerator
    return f"{numerator}/{denominator}" if len(bottom) == 1 else f"{numerator}/({denominator})"


def _name(base: str) -> str:
    """``"peak_vcd"`` -> ``"peak VCD"``: a whole name from KPI_NAMES, else its words (WORD_NAMES)."""
    if base in KPI_NAMES:
        return KPI_NAMES[base]
    return " ".join(WORD_NAMES.get(w, w) for w in base.split("_"))


def split_kpi_key(key: str) -> tuple[str, str]:
    """A KPI key (without a unit prefix) as its name part and its pint units (``""`` when it has none):
    ``"peak_vcd_1e6_per_mL"`` -> ``("peak_vcd", "1e6/mL")``, ``"pdi"`` -> ``("pdi", "")``. The longest suffix of
    unit words wins, keeping a non-empty name."""
    words = key.split("_")
    for n in range(len(words) - 1, 0, -1):
        suffix = "_".join(words[-n:])
        found = UNIT_SUFFIXES.get(suffix) or _word_units(words[-n:])
        if found is not None:
            return "_".join(words[:-n]), found
    return key, ""


def kpi_label(key: str) -> tuple[str, str]:
    """The display name of a KPI and its pint units (``""`` when it has none), from its key.

    ``"z_average_nm"`` -> ``("Z-average", "nm")``, ``"T_out_C"`` -> ``("Outlet T", "degC")``,
    ``"kla_1_per_h"`` -> ``("kLa", "1/h")``, ``"peak_vcd_1e6_per_mL"`` -> ``("peak VCD", "1e6/mL")``,
    ``"particles_per_mL"`` -> ``("particles", "1/mL")``.
    A unit's KPIs in a line (``"fill.doses"``) keep the unit as a prefix: ``("fill: doses", "")``.
    """
    unit, dot, name = key.rpartition(".")
    if dot:
        label, units = kpi_label(name)
        return f"{unit}: {label}", units
    if key in SPECIAL_KPIS:
        return SPECIAL_KPIS[key]
    base, units = split_kpi_key(key)
    return _name(base), units


@dataclass(frozen=True)
class KpiView:
    """One KPI ready to show: ``label``, ``value`` as ``text``, pint ``units`` and their ``display_units``."""

    key: str
    label: str
    value: Any
    units: str
    display_units: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def describe_kpi(key: str, value: Any, units: str | None = None) -> KpiView:
    """One KPI ready to show; ``units`` the library declares for it win over the units its key names."""
    label, named = kpi_label(key)
    shown = named if units is None else units
    return KpiView(key, label, value, shown, display_units(shown), format_value(value))


def describe_kpis(kpis: Mapping[str, Any] | None, units: Mapping[str, str] | None = None) -> list[KpiView]:
    """Every KPI of a result, in its order, ready to show (``units``: declared units of some KPIs, by key)."""
    units = units or {}
    return [describe_kpi(k, v, units.get(k)) for k, v in (kpis or {}).items()]


def headline_kpis(keys: Iterable[str], n: int = 6) -> list[str]:
    """The ``n`` KPIs to show first: those of :data:`HEADLINE_KPIS` in that order, then the others in order."""
    keys = list(dict.fromkeys(keys))
    first = [k for k in HEADLINE_KPIS if k in keys]
    return (first + [k for k in keys if k not in first])[:n]


def headline_series(columns: Sequence[str], n: int = 2) -> list[str]:
    """Series columns to plot first: one size quantity (Z-average, d32, d50 ...) and one spread quantity
    (PDI, span), then the other columns in order."""

    def first(words):
        return next((c for w in words for c in columns if w in c.lower()), None)

    picked = [c for c in (first(SIZE_COLUMNS), first(SPREAD_COLUMNS)) if c]
    picked += [c for c in columns if c not in picked]
    return picked[:n]


def series_label(column: str, units: str | None) -> str:
    """``"z_average_nm"`` in ``nm`` -> ``"Z-average (nm)"``; a dimensionless column shows its name only."""
    name = kpi_label(column)[0]
    shown = display_units(units)
    return f"{name} ({shown})" if shown else name
