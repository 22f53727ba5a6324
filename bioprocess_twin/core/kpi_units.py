"""Units of KPIs, declared by the process or unit that computes them.

A process or unit declares a mapping from each KPI key it reports to its pint units (``""`` for a pure
number): ``{"z_average_nm": "nm", "pdi": "", "peak_vcd_1e6_per_mL": "1e6/mL"}``. A key computed from a
name the run decides (a phase, a component) is declared by a pattern with ``*``: ``{"*_time_h": "h"}``.
Results carry these units next to their KPIs (``kpi_units`` in every result document), and every adapter
shows a KPI in the units declared here.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

KpiUnits = Mapping[str, str]


def declared_units(key: str, declared: KpiUnits) -> str | None:
    """The declared units of one KPI key: an exact key first, then the first matching ``*`` pattern; None
    when the key is not declared."""
    if key in declared:
        return declared[key]
    return next((units for pattern, units in declared.items() if "*" in pattern and fnmatchcase(key, pattern)), None)


def units_of(kpis: Mapping[str, Any], declared: KpiUnits, prefix: str = "") -> dict[str, str]:
    """The declared units of each KPI in ``kpis`` (keys written with ``prefix``, as a line writes
    ``"fill.doses"``); a key that is not declared is left out."""
    found = {k: declared_units(k, declared) for k in kpis}
    return {prefix + k: u for k, u in found.items() if u is not None}
