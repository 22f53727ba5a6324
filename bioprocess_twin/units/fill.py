"""Aseptic fill: vials filled from the bulk, dose count, overfill and losses.

Fill volume per container (USP <697> Container content for injections; USP <1151> Pharmaceutical
dosage forms, table of recommended excess volumes for mobile and viscous liquids)
    V_fill = n_dose V_dose + V_over,   V_over from the USP <1151> table or given
Volume available for filling (line hold-up and priming, and the heel left in the bulk container
that the pump cannot draw, are lost)
    V_avail = V_bulk - V_line - V_heel
Containers (whole vials only), rejects at check-weighing and inspection
    n_filled = floor(V_avail / V_fill),   n_good = floor(n_filled (1 - f_reject)),   n_reject = n_filled - n_good
    doses = n_good n_dose
Outlets (each carries the bulk composition and particle size; every component splits with the liquid)
    filled = n_good V_fill,   losses = V_bulk - filled   (line + heel + rejects + remainder below one vial)
Yield and time
    dose yield = doses V_dose / V_bulk,   t = t_setup + n_filled / fill_rate

Units: the equations are written in SI (pint converts the declared mL, 1/min and h on
entry): volumes in m^3, the fill rate in 1/s, times in s. The USP <1151> table is looked up in mL,
as published; phase records are in h and the KPIs in the units their names carry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.phased import schedule_phases
from ..core.streams import Stream, UnitOperation, UnitResult
from ..core.units import from_si, to_si

#: USP <1151> recommended excess volume (mL) by labeled volume (mL): (mobile, viscous)
USP_1151_EXCESS = (
    (0.5, 0.10, 0.12),
    (1.0, 0.10, 0.15),
    (2.0, 0.15, 0.25),
    (5.0, 0.30, 0.50),
    (10.0, 0.50, 0.70),
    (20.0, 0.60, 0.90),
    (30.0, 0.80, 1.20),
)
#: USP <1151> above the table (50 mL and more): excess as a share of the labeled volume, (mobile, viscous)
USP_1151_EXCESS_SHARE = (0.02, 0.03)
#: the units of the USP <1151> table
USP_1151_UNITS = "mL"
#: a labeled volume within this many mL of a table size counts as that size (round-off)
TABLE_TOL = 1e-12
#: relative allowance for round-off before whole vials are counted with floor()
COUNT_RTOL = 1e-12


def usp_1151_excess(labeled_mL: float, viscous: bool = False) -> float:
    """Recommended excess volume (mL) for a container labeled ``labeled_mL`` (the next table size up)."""
    for size, mobile, visc in USP_1151_EXCESS:
        if labeled_mL <= size + TABLE_TOL:
            return visc if viscous else mobile
    return labeled_mL * USP_1151_EXCESS_SHARE[1 if viscous else 0]


class FillConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overfill_rule: Literal["given", "usp1151_mobile", "usp1151_viscous"] = Field(
        "given",
        description="given: use the 'overfill' parameter; usp1151_*: the USP <1151> excess for the "
        "labeled volume doses_per_vial x dose_volume",
    )


class Fill(UnitOperation):
    kind = "fill"
    #: units of each KPI (pint; "" for a pure number)
    kpi_units = {
        "doses": "",
        "vials": "",
        "vials_filled": "",
        "vials_rejected": "",
        "fill_volume_mL": "mL",
        "overfill_mL": "mL",
        "dose_yield": "",
        "volume_yield": "",
        "fill_time_h": "h",
        "batch_time_h": "h",
        "loss_line_mL": "mL",
        "loss_heel_mL": "mL",
        "loss_rejects_mL": "mL",
        "loss_remainder_mL": "mL",
        "loss_overfill_mL": "mL",
    }
    description = "Vial filling: dose volume + overfill, line hold-up, heel and rejects; doses, vials and fill time."
    inlets = ("bulk",)
    outlets = ("filled", "losses")
    Config = FillConfig
    parameters = ParameterTable(
        (
            Parameter(
                name="dose_volume",
                units="mL",
                default=0.5,
                bounds=(0.01, 100),
                source="typical adjuvanted vaccine dose 0.5 mL",
                description="labeled dose",
            ),
            Parameter(
                name="doses_per_vial",
                units="1",
                default=1,
                bounds=(1, 50),
                source="single-dose vial; multidose 10",
                description="doses per container",
                integer=True,
            ),
            Parameter(
                name="overfill",
                units="mL",
                default=0.10,
                bounds=(0, 10),
                source="USP <1151>: 0.10 mL for a 0.5 mL mobile liquid",
                description="excess volume per container (overfill_rule = given)",
            ),
            Parameter(
                name="line_hold_up",
                units="mL",
                default=500.0,
                bounds=(0, 1e5),
                source="estimate: tubing, manifold, needles, priming",
                description="bulk lost in the filling line and priming",
            ),
            Parameter(
                name="heel",
                units="mL",
                default=200.0,
                bounds=(0, 1e5),
                source="estimate: bag / vessel residual",
                description="unfillable bulk residue",
            ),
            Parameter(
                name="reject_fraction",
                units="1",
                default=0.01,
                bounds=(0, 0.5),
                source="check-weigh and visual inspection rejects, 0.5-2 %",
                description="fraction of filled vials rejected",
            ),
            Parameter(
                name="fill_rate",
                units="1/min",
                default=100.0,
                bounds=(1, 1000),
                source="small-scale lines 50-400 vials/min",
                description="vials filled per minute",
            ),
            Parameter(
                name="setup_time",
                units="h",
                default=1.0,
                bounds=(0, 48),
                source="line set-up, priming, fill-weight adjustment",
                description="time before the first vial",
            ),
        )
    )

    def fill_volume(self) -> tuple[float, float]:
        """(fill volume, overfill) per container, m^3."""
        v = self.values
        labeled = v["dose_volume"] * v["doses_per_vial"]
        rule = self.config.overfill_rule
        over = (
            v["overfill"]
            if rule == "given"
            else to_si(usp_1151_excess(from_si(labeled, USP_1151_UNITS), rule == "usp1151_viscous"), USP_1151_UNITS)
        )
        return labeled + over, over

    def run(self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None) -> UnitResult:
        self.check_inlets(inlets)
        v = self.values
        bulk = inlets["bulk"]
        fill, over = self.fill_volume()
        available = bulk.volume - v["line_hold_up"] - v["heel"]
        if available < fill:
            raise ParameterError(
                [
                    (
                        f"{self.name}.bulk",
                        f"{from_si(bulk.volume, 'mL'):.6g} mL of bulk leaves "
                        f"{from_si(available, 'mL'):.6g} mL after line hold-up and heel, less than one "
                        f"{from_si(fill, 'mL'):g} mL fill",
                    )
                ]
            )
        n_filled = math.floor(available / fill * (1 + COUNT_RTOL))
        n_good = math.floor(n_filled * (1 - v["reject_fraction"]) * (1 + COUNT_RTOL))
        doses = n_good * int(v["doses_per_vial"])
        filled_share = n_good * fill / bulk.volume
        t_fill_h = from_si(n_filled / v["fill_rate"], "h")  # phase records are in h
        records, problems = schedule_phases(
            self.name, [("setup", from_si(v["setup_time"], "h"), False), ("fill", t_fill_h, True)], phases
        )
        outlets = {"filled": bulk.scaled(filled_share, "filled"), "losses": bulk.scaled(1 - filled_share, "losses")}
        kpis = {
            "doses": float(doses),
            "vials": float(n_good),
            "vials_filled": float(n_filled),
            "vials_rejected": float(n_filled - n_good),
            "fill_volume_mL": from_si(fill, "mL"),
            "overfill_mL": from_si(over, "mL"),
            "dose_yield": doses * v["dose_volume"] / bulk.volume,
            "volume_yield": filled_share,
            "fill_time_h": t_fill_h,
            "batch_time_h": records[-1].end,
            "loss_line_mL": from_si(v["line_hold_up"], "mL"),
            "loss_heel_mL": from_si(v["heel"], "mL"),
            "loss_rejects_mL": from_si((n_filled - n_good) * fill, "mL"),
            "loss_remainder_mL": from_si(available - n_filled * fill, "mL"),
            "loss_overfill_mL": from_si(n_good * over, "mL"),
        }
        t = records[-1]
        series = pd.DataFrame(
            {"vials_filled": [0.0, 0.0, float(n_filled)]}, index=pd.Index([0.0, t.start, t.end], name="time_h")
        )
        series.attrs["units"] = {"time_h": "h", "vials_filled": "1"}
        return UnitResult(
            self.name,
            self.kind,
            "failed" if problems else "ok",
            "; ".join(problems) or f"{doses} doses in {n_good} vials",
            outlets,
            duration=t.end,
            phases=records,
            kpis=kpis,
            series=series,
        )
