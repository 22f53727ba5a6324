"""Sterile (0.2 um) filtration: pore-blocking laws at constant pressure or constant flux, Vmax sizing,
and size-dependent retention of emulsion droplets.

Blocking laws (Hermia 1982, Trans IChemE 60:183; constant-flux forms: Ho & Zydney 2000, J Colloid
Interface Sci 232:389; Bolton, LaCasse & Kuriyel 2006, J Membr Sci 277:75). Each law is a filter
resistance that grows with the throughput v = V/A (volume per area); ``capacity`` v_c sets its scale:
    complete      R/R0 = 1 / (1 - v/v_c)          (v_c = 1/sigma: area blocked per volume filtered)
    intermediate  R/R0 = exp(v/v_c)
    standard      R/R0 = (1 - v/v_c)^-2           (v_c = Vmax per area = 2/K_s)
    cake          R/R0 = 1 + v/v_c                (v_c: throughput at which the cake equals the membrane)
Constant pressure: J0 = L_p dp,  dv/dt = J = J0 R0/R(v), solved in closed form (Hermia; the tests
check them against a numerical integration of that equation):
    complete      v = v_c (1 - exp(-J0 t / v_c))         i.e. V = (Q0/K_b)(1 - exp(-K_b t))
    intermediate  v = v_c ln(1 + J0 t / v_c)
    standard      t/v = 1/J0 + t/v_c                     (Badmington et al. 1995: t/V = 1/Q0 + t/Vmax)
    cake          t/v = 1/J0 + v / (2 J0 v_c)
Constant flux J: v = J t,  dp = (J / L_p) R(v)/R0; the run ends when dp reaches dp_max (filter plugged).
Sizing (Badmington, Wilkins, Payne & Honig 1995, Pharm Technol 19(9):64; PDA TR 26): with area A
    A = SF V / v(t_target)      at constant pressure; for the standard law this is
    A = SF (V/Vmax + V/(J0 t_target))   (the capacity term and the flux-limited term)
    A = SF max(V / v(dp_max), V / (J t_target))      at constant flux
Droplet retention (documented assumption: a log-logistic grade-efficiency curve; deformable oil drops
pass a 0.2 um membrane up to ~0.3 um, and filterability falls as the emulsion size grows, Lidgate
et al. 1992, Pharm Res 9:860):
    R(d) = 1 / (1 + (d_R / d)^s),   retained oil share f = sum_i w_i R(d_i)   (w: volume shares)
    filtrate distribution ~ w_i (1 - R(d_i))
Retained drops foul the filter: a membrane holds a mass m_c (per area) of them before it plugs, so
the capacity falls with the retained-oil concentration c_r = f c_oil (Vmax ~ 1/foulant concentration):
    1/v_c,eff = 1/v_c + c_r / m_c
Material: the hold-up (housing, capsule and lines, V_h = V_0 + h A) and any feed left unfiltered leave
in "retained" with the feed's composition; of the filtered feed, the retained oil goes to "retained"
and everything else (every other component, with the liquid) to "filtrate".

Units: the unit's equations are written in SI (pint converts the declared bar,
L/m^2/h, L/m^2, g/m^2, nm, L and h on entry): V in m^3, v and v_c in m (m^3/m^2), J in m/s, L_p in
m/(Pa s), dp in Pa, m_c in kg/m^2, d in m, t in s. The blocking-law functions hold for any
consistent units. Phase records are in h, the V(t) series and the KPIs in the units their names carry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import brentq

from ..core.parameters import Parameter, ParameterError, ParameterTable
from ..core.phased import schedule_phases
from ..core.streams import ParticleSize, Stream, UnitOperation, UnitResult
from ..core.units import from_si, to_si

LAWS = ("complete", "intermediate", "standard", "cake")
#: a filter whose law plugs at v_c is searched for its plugging throughput below v_c (1 - this)
PLUG_MARGIN = 1e-9
#: relative tolerance of that search (a share of v_c)
PLUG_XTOL = 1e-12
#: relative allowance for round-off when the filtered volume is compared with the volume to filter
VOLUME_RTOL = 1e-9
#: a filtrate with less than this share of the dispersed phase carries no size distribution
NEGLIGIBLE_SHARE = 1e-12
#: units of the V(t) series columns (and its time index, h, as in the phase records)
SERIES_UNITS = {
    "time_h": "h",
    "filtrate_L": "L",
    "throughput_L_per_m2": "L/m^2",
    "flux_L_per_m2_h": "L/m^2/h",
    "pressure_bar": "bar",
}


def resistance_ratio(law: str, v, capacity: float):
    """R(v)/R0 of a blocking law at throughput v (units of ``capacity``); inf where the filter is fully blocked."""
    x = np.asarray(v, dtype=float) / capacity
    with np.errstate(divide="ignore", over="ignore"):
        if law == "complete":
            return np.where(x < 1, 1.0 / np.clip(1 - x, 1e-300, None), np.inf)
        if law == "intermediate":
            return np.exp(x)
        if law == "standard":
            return np.where(x < 1, np.clip(1 - x, 1e-300, None) ** -2, np.inf)
        if law == "cake":
            return 1.0 + x
    raise ParameterError([("law", f"unknown blocking law '{law}'; known: {', '.join(LAWS)}")])


def constant_pressure_throughput(law: str, J0: float, capacity: float, t):
    """Throughput v(t) at constant pressure: Hermia's closed-form solution of dv/dt = J0 R0/R(v) (consistent units)."""
    x = J0 * np.asarray(t, dtype=float) / capacity
    if law == "complete":
        return capacity * -np.expm1(-x)
    if law == "intermediate":
        return capacity * np.log1p(x)
    if law == "standard":
        return capacity * x / (1 + x)
    if law == "cake":
        return capacity * (np.sqrt(1 + 2 * x) - 1)
    raise ParameterError([("law", f"unknown blocking law '{law}'; known: {', '.join(LAWS)}")])


def constant_pressure_time(law: str, J0: float, capacity: float, v: float) -> float:
    """Time to filter throughput ``v`` at constant pressure (units of capacity / J0); inf when the law plugs before it."""
    x = v / capacity
    if law in ("complete", "standard") and x >= 1:
        return math.inf
    scaled = {
        "complete": lambda: -math.log1p(-x),
        "intermediate": lambda: math.expm1(x),
        "standard": lambda: x / (1 - x),
        "cake": lambda: x + x * x / 2,
    }
    if law not in scaled:
        raise ParameterError([("law", f"unknown blocking law '{law}'; known: {', '.join(LAWS)}")])
    return capacity / J0 * scaled[law]()


def retention(d, d_half: float, slope: float):
    """Share of drops of diameter d retained: 1 / (1 + (d_R/d)^s), d and d_R in the same units."""
    return 1.0 / (1.0 + (d_half / np.asarray(d, dtype=float)) ** slope)


class SterileFiltrationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    law: Literal["complete", "intermediate", "standard", "cake"] = Field("standard", description="blocking law")
    operation: Literal["constant_pressure", "constant_flux"] = "constant_pressure"


class SterileFiltration(UnitOperation):
    kind = "sterile_filtration"
    #: units of each KPI (pint; "" for a pure number)
    kpi_units = {
        "area_capacity_m2": "m^2",
        "area_flux_m2": "m^2",
        "area_required_m2": "m^2",
        "area_sized_m2": "m^2",
        "area_m2": "m^2",
        "vmax_L_per_m2": "L/m^2",
        "throughput_L_per_m2": "L/m^2",
        "filtration_time_h": "h",
        "batch_time_h": "h",
        "final_flux_L_per_m2_h": "L/(m^2*h)",
        "final_pressure_bar": "bar",
        "hold_up_L": "L",
        "filtered_L": "L",
        "retained_oil_share": "",
        "oil_loss_pct": "percent",
        "filtrate_d50_nm": "nm",
        "filtrate_d90_nm": "nm",
    }
    description = (
        "0.2 um sterile filtration: Hermia blocking laws at constant pressure or flux, Vmax sizing, "
        "size-dependent droplet retention and fouling by retained oil."
    )
    inlets = ("feed",)
    outlets = ("filtrate", "retained")
    Config = SterileFiltrationConfig
    parameters = ParameterTable(
        (
            Parameter(
                name="area",
                units="m^2",
                default=0.0,
                bounds=(0, 1000),
                source="",
                description="filter area; 0: sized as SF x V / v(target_time)",
            ),
            Parameter(
                name="pressure",
                units="bar",
                default=1.0,
                bounds=(0.05, 6),
                source="sterile filtration 0.5-2 bar",
                description="constant-pressure dp",
            ),
            Parameter(
                name="flux",
                units="L/m^2/h",
                default=300.0,
                bounds=(1, 1e4),
                source="",
                description="constant-flux operation flux",
            ),
            Parameter(
                name="max_pressure",
                units="bar",
                default=2.0,
                bounds=(0.1, 6),
                source="filter/housing rating",
                description="constant flux ends here",
            ),
            Parameter(
                name="permeability",
                units="L/m^2/h/bar",
                default=1000.0,
                bounds=(1, 5e4),
                source="0.2 um PES, aqueous buffer ~1000-3000",
                description="clean-membrane permeability L_p",
            ),
            Parameter(
                name="capacity",
                units="L/m^2",
                default=1500.0,
                bounds=(1, 1e6),
                source="Vmax of buffered protein solutions 1e3-1e4 L/m2",
                description="throughput scale v_c of the blocking law (Vmax for standard blocking)",
            ),
            Parameter(
                name="oil_capacity",
                units="g/m^2",
                default=100.0,
                bounds=(0.1, 1e5),
                source="estimate; fit to Vmax trials with the emulsion",
                description="retained oil a membrane holds before it plugs",
            ),
            Parameter(
                name="retention_d50",
                units="nm",
                default=350.0,
                bounds=(100, 5000),
                source="assumption: deformable drops pass up to ~0.3 um (Lidgate et al. 1992)",
                description="droplet diameter retained at 50 %",
            ),
            Parameter(
                name="retention_slope",
                units="1",
                default=5.0,
                bounds=(0.5, 30),
                source="assumption",
                description="steepness s of the retention curve",
            ),
            Parameter(
                name="target_time",
                units="h",
                default=1.0,
                bounds=(0.01, 48),
                source="",
                description="filtration time the sized area must meet",
            ),
            Parameter(
                name="safety_factor",
                units="1",
                default=1.5,
                bounds=(1, 5),
                source="PDA TR 26: 1.5-2 on Vmax sizing",
                description="area safety factor SF",
            ),
            Parameter(
                name="hold_up_volume",
                units="L",
                default=0.2,
                bounds=(0, 100),
                source="estimate: housing, lines",
                description="fixed hold-up",
            ),
            Parameter(
                name="hold_up_per_area",
                units="L/m^2",
                default=0.3,
                bounds=(0, 10),
                source="estimate: capsule hold-up",
                description="hold-up per filter area",
            ),
            Parameter(
                name="flush_time",
                units="h",
                default=0.5,
                bounds=(0, 24),
                source="wetting, flush, pre-use integrity test",
                description="before filtration",
            ),
            Parameter(
                name="integrity_time",
                units="h",
                default=0.25,
                bounds=(0, 24),
                source="post-use integrity test",
                description="after filtration",
            ),
            Parameter(
                name="max_time",
                units="h",
                default=24.0,
                bounds=(0.1, 1000),
                source="",
                description="constant pressure: longest filtration",
            ),
            Parameter(
                name="oil_density",
                units="kg/m^3",
                default=858.0,
                bounds=(700, 1100),
                source="squalene, CRC Handbook",
                description="dispersed-phase density",
            ),
            Parameter(
                name="points",
                units="1",
                default=50,
                bounds=(2, 2000),
                source="",
                description="rows of the V(t) series",
                integer=True,
            ),
        )
    )

    # -- retention -----------------------------------------------------------------------------
    def _retention(self, feed: Stream) -> tuple[float, ParticleSize | None]:
        """Retained share of the dispersed component and the filtrate's distribution."""
        if feed.particles is None:
            return 0.0, None
        ps = feed.particles
        r = retention(to_si(ps.diameter_nm, "nm"), self.values["retention_d50"], self.values["retention_slope"])
        retained = float(np.sum(ps.volume_fraction * r))
        passing = ps.volume_fraction * (1 - r)
        return retained, (ParticleSize(ps.diameter_nm, passing) if passing.sum() > NEGLIGIBLE_SHARE else None)

    # -- sizing and time course ----------------------------------------------------------------
    def _plugging_throughput(self, capacity: float) -> tuple[float, float]:
        """Constant flux: throughput (m) at which dp reaches max_pressure, and the clean dp (Pa)."""
        v = self.values
        p0 = v["flux"] / v["permeability"]
        if p0 >= v["max_pressure"]:
            raise ParameterError(
                [
                    (
                        f"{self.name}.flux",
                        f"{from_si(v['flux'], 'L/m^2/h'):g} L/m2/h needs "
                        f"{from_si(p0, 'bar'):.3g} bar on the clean membrane, above max_pressure "
                        f"{from_si(v['max_pressure'], 'bar'):g} bar",
                    )
                ]
            )
        law = self.config.law
        ratio = v["max_pressure"] / p0
        hi = (
            capacity * (1 - PLUG_MARGIN)
            if law in ("complete", "standard")
            else capacity * (math.log(ratio) + ratio + 1)
        )
        return brentq(
            lambda x: float(resistance_ratio(law, x, capacity)) - ratio, 0.0, hi, xtol=PLUG_XTOL * capacity
        ), p0

    def sizing(self, volume: float, capacity: float) -> dict[str, float]:
        """Required areas (m^2) for ``volume`` (m^3) with the effective ``capacity`` (m^3/m^2)."""
        v = self.values
        sf, t = v["safety_factor"], v["target_time"]
        if self.config.operation == "constant_flux":
            v_plug, _ = self._plugging_throughput(capacity)
            limits = {"area_capacity_m2": volume / v_plug, "area_flux_m2": volume / (v["flux"] * t)}
            need = max(limits.values())
        else:
            J0 = v["permeability"] * v["pressure"]
            need = volume / float(constant_pressure_throughput(self.config.law, J0, capacity, t))
            limits = {"area_capacity_m2": volume / capacity, "area_flux_m2": volume / (J0 * t)}
        return limits | {"area_required_m2": need, "area_sized_m2": sf * need}

    def _time_course(self, area: float, volume: float, capacity: float):
        """(filtration time s, filtered feed m^3, series frame with time from the filtration start).

        The series is computed in SI and given in the units of its column names (``SERIES_UNITS``)."""
        v = self.values
        n = int(v["points"])
        law = self.config.law
        if self.config.operation == "constant_flux":
            v_plug, p0 = self._plugging_throughput(capacity)
            v_end = min(volume / area, v_plug)
            t_end = v_end / v["flux"]
            t = np.linspace(0.0, t_end, n + 1)
            thr = v["flux"] * t
            flux = np.full_like(t, v["flux"])
            pressure = p0 * resistance_ratio(law, thr, capacity)
        else:
            J0 = v["permeability"] * v["pressure"]
            t_end = min(v["max_time"], constant_pressure_time(law, J0, capacity, volume / area))
            t = np.linspace(0.0, t_end, n + 1)
            thr = np.minimum(constant_pressure_throughput(law, J0, capacity, t), volume / area)
            flux = J0 / resistance_ratio(law, thr, capacity)
            pressure = np.full_like(t, v["pressure"])
            v_end = float(thr[-1])
        columns = {
            "filtrate_L": thr * area,
            "throughput_L_per_m2": thr,
            "flux_L_per_m2_h": flux,
            "pressure_bar": pressure,
        }
        df = pd.DataFrame(
            {k: from_si(x, SERIES_UNITS[k]) for k, x in columns.items()},
            index=pd.Index(from_si(t, SERIES_UNITS["time_h"]), name="time_h"),
        )
        df.attrs["units"] = dict(SERIES_UNITS)
        return t_end, v_end * area, df

    def run(self, inlets: Mapping[str, Stream], phases: Sequence[Any] | None = None) -> UnitResult:
        self.check_inlets(inlets)
        v = self.values
        feed = inlets["feed"]
        volume = feed.volume
        if volume <= 0:
            raise ParameterError([(f"{self.name}.feed.volume", "the feed carries no liquid")])
        oil = feed.dispersed
        retained_share, filtrate_psd = self._retention(feed)
        c_retained = feed.concentration(oil) * retained_share if oil else 0.0  # kg/m^3
        capacity = 1.0 / (1.0 / v["capacity"] + c_retained / v["oil_capacity"])  # m^3/m^2
        sizing = self.sizing(volume, capacity)
        area = v["area"] if v["area"] > 0 else sizing["area_sized_m2"]
        hold = v["hold_up_volume"] + v["hold_up_per_area"] * area
        if hold >= volume:
            raise ParameterError(
                [
                    (
                        f"{self.name}.hold_up_volume",
                        f"hold-up {from_si(hold, 'L'):.4g} L is not less than the feed {from_si(volume, 'L'):.4g} L",
                    )
                ]
            )
        to_filter = volume - hold
        t_filt, filtered, series = self._time_course(area, to_filter, capacity)
        problems = []
        if filtered < to_filter * (1 - VOLUME_RTOL):
            why = (
                "the pressure reached max_pressure"
                if self.config.operation == "constant_flux"
                else f"max_time {from_si(v['max_time'], 'h'):g} h passed"
            )
            problems.append(
                f"filter plugged: {from_si(filtered, 'L'):.4g} of {from_si(to_filter, 'L'):.4g} L "
                f"filtered when {why}; needs {sizing['area_required_m2']:.4g} m2, has {area:.4g} m2"
            )
        else:
            filtered = to_filter
        t_filt_h = from_si(t_filt, "h")  # phase records are in h
        records, phase_problems = schedule_phases(
            self.name,
            [
                ("flush", from_si(v["flush_time"], "h"), False),
                ("filtration", t_filt_h, True),
                ("integrity_test", from_si(v["integrity_time"], "h"), False),
            ],
            phases,
        )
        series.index = series.index + records[1].start
        # split: the unfiltered share (hold-up, remainder) stays with the feed's composition
        share = filtered / volume
        through = feed.scaled(share)
        oil_kept = through.mass.get(oil, 0.0) * retained_share if oil else 0.0
        filtrate_mass = dict(through.mass)
        left = feed.scaled(1 - share)
        retained_mass = dict(left.mass)
        if oil:
            filtrate_mass[oil] = through.mass.get(oil, 0.0) - oil_kept
            retained_mass[oil] = left.mass.get(oil, 0.0) + oil_kept
        oil_volume = oil_kept / v["oil_density"]
        filtrate = Stream(
            "filtrate",
            through.volume - oil_volume,
            filtrate_mass,
            feed.temperature,
            filtrate_psd if filtrate_mass.get(oil, 0.0) > 0 else None,
            oil if filtrate_psd is not None and filtrate_mass.get(oil, 0.0) > 0 else None,
        )
        retained = Stream("retained", left.volume + oil_volume, retained_mass, feed.temperature)
        kpis = sizing | {
            "area_m2": area,
            "vmax_L_per_m2": from_si(capacity, "L/m^2"),
            "throughput_L_per_m2": from_si(filtered / area, "L/m^2"),
            "filtration_time_h": t_filt_h,
            "batch_time_h": records[-1].end,
            "final_flux_L_per_m2_h": float(series["flux_L_per_m2_h"].iloc[-1]),
            "final_pressure_bar": float(series["pressure_bar"].iloc[-1]),
            "hold_up_L": from_si(hold, "L"),
            "filtered_L": from_si(filtered, "L"),
            "retained_oil_share": retained_share,
            "oil_loss_pct": from_si(retained_mass.get(oil, 0.0) / feed.mass[oil], "%")
            if oil and feed.mass.get(oil, 0.0) > 0
            else 0.0,
        }
        if filtrate.particles is not None:
            stats = filtrate.particles.statistics()
            kpis |= {"filtrate_d50_nm": stats["d50_nm"], "filtrate_d90_nm": stats["d90_nm"]}
        problems += phase_problems
        return UnitResult(
            self.name,
            self.kind,
            "failed" if problems else "ok",
            "; ".join(problems) or f"{from_si(filtered, 'L'):.4g} L filtered through {area:.4g} m2",
            {"filtrate": filtrate, "retained": retained},
            duration=records[-1].end,
            phases=records,
            kpis=kpis,
            series=series,
        )
