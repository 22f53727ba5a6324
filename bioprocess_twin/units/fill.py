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
"""
from __future__ import annotations

import math
from typing import Any, Literal, Mapping, Sequence

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.registry import register_unit
from ..core.streams import Stream, UnitOperation, UnitResult
from ..core.phased import schedule_phases

#: USP <1151> recommended excess volume (mL) by labeled volume (mL): (mobile, viscous); >= 50 mL: 2 % / 3 %
USP_1151_EXCESS = ((0.5, 0.10, 0.12), (1.0, 0.10, 0.15), (2.0, 0.15, 0.25), (5.0, 0.30, 0.50),
                   (10.0, 0.50, 0.70), (20.0, 0.60, 0.90), (30.0, 0.80, 1.20))


def usp_1151_excess(labeled_mL: float, viscous: bool = False) -> float:
    """Recommended excess volume (mL) for a container labeled ``labeled_mL`` (the next table size up)."""
    for size, mobile, visc in USP_1151_EXCESS:
        if labeled_mL <= size + 1e-12:
            return visc if viscous else mobile
    return labeled_mL * (0.03 if viscous else 0.02)


class FillConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overfill_rule: Literal["given", "usp1151_mobile", "usp1151_viscous"] = Field(
        "given", description="given: use the 'overfill' parameter; usp1151_*: the USP <1151> excess for the "
                             "labeled volume doses_per_vial x dose_volume")


@register_unit
class Fill(UnitOperation):
    kind = "fill"
    description = "Vial filling: dose volume + overfill, line hold-up, heel and rejects; doses, vials and fill time."
    inlets = ("bulk",)
    outlets = ("filled", "losses")
    Config = FillConfig
    parameters = ParameterTable((
        Parameter("dose_volume", "mL", 0.5, (0.01, 100), "typical adjuvanted vaccine dose 0.5 mL", "labeled dose"),
        Parameter("doses_per_vial", "1", 1, (1, 50), "single-dose vial; multidose 10", "doses per container",
                  integer=True),
        Parameter("overfill", "mL", 0.10, (0, 10), "USP <1151>: 0.10 mL for a 0.5 mL mobile liquid",
                  "excess volume per container (overfill_rule = given)"),
        Parameter("line_hold_up", "mL", 500.0, (0, 1e5), "estimate: tubing, manifold, needles, priming",
                  "bulk lost in the filling line and priming"),
        Parameter("heel", "mL", 200.0, (0, 1e5), "estimate: bag / vessel residual", "unfillable bulk residue"),
        Parameter("reject_fraction", "1", 0.01, (0, 0.5), "check-weigh and visual inspection rejects, 0.5-2 %",
                  "fraction of filled vials rejected"),
        Parameter("fill_rate", "1/min", 100.0, (1, 1000), "small-scale lines 50-400 vials/min", "vials filled per minute"),
        Parameter("setup_time", "h", 1.0, (0, 48), "line set-up, priming, fill-weight adjustment",
                  "time before the first vial"),
    ))

    def fill_volume(self) -> tuple[float, float]:
        """(fill volume, overfill) per container, mL."""
        v = self.values
        labeled = v["dose_volume"] * v["doses_per_vial"]
        rule = self.config.overfill_rule
        over = v["overfill"] if rule == "given" else usp_1151_excess(labeled, rule == "usp1151_viscous")
        return labeled + over, over

    def run(self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None) -> UnitResult:
        self.check_inlets(inlets)
        v = self.values
        bulk = inlets["bulk"]
        bulk_mL = bulk.volume * 1e6
        fill_mL, over_mL = self.fill_volume()
        available = bulk_mL - v["line_hold_up"] - v["heel"]
        if available < fill_mL:
            raise ParameterError([(f"{self.name}.bulk", f"{bulk_mL:.6g} mL of bulk leaves {available:.6g} mL after "
                                   f"line hold-up and heel, less than one {fill_mL:g} mL fill")])
        n_filled = math.floor(available / fill_mL * (1 + 1e-12))
        n_good = math.floor(n_filled * (1 - v["reject_fraction"]) * (1 + 1e-12))
        doses = n_good * int(v["doses_per_vial"])
        filled_share = n_good * fill_mL / bulk_mL
        t_fill = n_filled / v["fill_rate"] / 60.0
        records, problems = schedule_phases(self.name, [("setup", v["setup_time"], False), ("fill", t_fill, True)],
                                            phases)
        outlets = {"filled": bulk.scaled(filled_share, "filled"), "losses": bulk.scaled(1 - filled_share, "losses")}
        kpis = {"doses": float(doses), "vials": float(n_good), "vials_filled": float(n_filled),
                "vials_rejected": float(n_filled - n_good), "fill_volume_mL": fill_mL, "overfill_mL": over_mL,
                "dose_yield": doses * v["dose_volume"] / bulk_mL, "volume_yield": filled_share,
                "fill_time_h": t_fill, "batch_time_h": records[-1].end,
                "loss_line_mL": v["line_hold_up"], "loss_heel_mL": v["heel"],
                "loss_rejects_mL": (n_filled - n_good) * fill_mL, "loss_remainder_mL": available - n_filled * fill_mL,
                "loss_overfill_mL": n_good * over_mL}
        t = records[-1]
        series = pd.DataFrame({"vials_filled": [0.0, 0.0, float(n_filled)]},
                              index=pd.Index([0.0, t.start, t.end], name="time_h"))
        series.attrs["units"] = {"time_h": "h", "vials_filled": "1"}
        return UnitResult(self.name, self.kind, "failed" if problems else "ok", "; ".join(problems) or
                          f"{doses} doses in {n_good} vials", outlets, duration=t.end, phases=records, kpis=kpis,
                          series=series)
