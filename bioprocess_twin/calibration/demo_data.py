"""Demo batch records for calibration, made with the project's own models (issue 4, "Demo data").

``make_demo_records(out_dir, seed=20261121)`` writes, deterministically (same seed, same content):
    cho/online.csv          wide, one row per batch and 15 min, ISO datetimes: PHASE, TEMP_SP, PH_SP, AGIT_SP,
                            FEED_TOT, DO_PV
    cho/offline.xlsx        long (sheet "assays": batch_id, tag, timestamp, value, unit): daily assays
    cho/tagmap.yaml
    emulsion/passes.parquet long (batch_id, tag, pass, value, unit): one record set per homogenizer pass
    emulsion/tagmap.yaml
Run ``python -m bioprocess_twin.calibration.demo_data OUT_DIR [--seed N]``; the shipped set is in
bioprocess_twin/examples/batch_records/ (README.md there has the same settings as tables).

CHO fed-batch (process ``cho_fed_batch``, model ``build_cho_model``), 2 L start volume, 14 days
    recipe: batch at 37 C for 72 h; continuous feed from 72 h; shift to 32 C at 144 h; end at 336 h;
            pH 7.0, 200 rpm, 0.05 vvm, DO controlled at 40 % by O2 enrichment (model defaults);
            glucose_shot = 0, so the feed totalizer, the set points and the phase marker describe every input.
    plant truth (code default -> truth; every other parameter at its code default):
            mu_max 0.045 -> 0.052 1/h (+15.6 %), Y_x_glc 0.6 -> 0.51 Gcount/mmol (-15 %),
            kd_amm 0.006 -> 0.0075 1/h (+25 %), q_p 0.8 -> 0.92 mg/Gcount/h (+15 %)
    batches: CHO_BATCHES (seed density 0.38-0.43 1e6/mL, feed rate 3.90-4.10 mL/h, i.e. a few % around
            0.40 and 4.0); B01-B06 good, B07 drifting DO probe, B08 faulty
    online (every 15 min from inoculation, t = 0 ... 336 h): set points exact (TEMP_SP degC, PH_SP, AGIT_SP rpm);
            FEED_TOT = feed rate x time fed (mL, 3 decimals, exact); PHASE = the recipe phase
            (batch, fed_batch, fed_batch_shifted); DO_PV = simulated DO + noise (0.5 % + 1 % of reading, 0.1 %)
    offline (one sample a day: day 0 at +10-40 min, days 1-13 at 24 d h -30/+60 min, day 14 at 336 h -10-40 min,
            whole minutes): VCD (1e6/mL) and viability (%) daily; glucose and lactate (g/L, via molar masses),
            glutamine and ammonia (mM) daily except Sundays (not days 0 and 14); titre (mg/L) from day 3 except
            Sundays; each metabolite/titre assay is also missing at random with probability 0.05;
            V_START (working volume at inoculation, L) once at t = 0. Noise per tag in CHO_ASSAYS.
    drift:  B07's DO_PV reads high by 0.6 %-points (of air saturation) per day since inoculation; the simulated
            culture (and the DO controller, which acts on the model's DO) is unaffected.
    faults: B08 only, listed in CHO_FAULTS (NaN run, out-of-range values, a text value, a duplicated timestamp with
            a different value, "<LOQ", a 10x typo, an empty assay, an assay in incompatible units).
Emulsion (process ``emulsion_homogenizer``, time = pass number), 6 batches at 8000-23000 psi (EMULSION_BATCHES)
    plant truth: C1 0.2 -> 0.16 (-20 %), C5 6.0 -> 6.9 (+15 %), Cc 0.3 -> 0.36 (+20 %); cooling to T_inlet = 20 C
            before every pass (process default).
    per pass k (k = 1 ... n): PASS_NO = k at time k - 1 (phase marker: phase "k" starts); P_HOM (psi) at time k - 1: set point x (1 + 1 % normal), to 10 psi, held over the
            pass (the truth uses these pressures); ZAVE (nm) and PDI at time k (end of pass); TT_RISE (outlet minus
            inlet temperature, delta_degC -> output T_rise) at k - 0.5 (mid-pass); T_FEED (degC) = 20.0 at time 0.
Noise: measurement = truth + N(0, sd), sd = constant + proportional * |truth| in plant units (``Noise``), then
rounded to the plant's resolution and clipped to >= 0 (viability also to <= 100). Random numbers come from
numpy.random.default_rng on SeedSequence(seed).spawn: one stream per batch, so a fault or a new batch does not
change the other batches' noise.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import catalogue
from ..core.units import ureg
from ..processes.cho_fed_batch import MOLAR_MASS
from .tagmap import conversion

SEED = 20261121
END_H = 336.0  # 14 days
FEED_START_H = 72.0  # batch_days x 24
ONLINE_STEP_H = 0.25  # 15 min

CHO_PROCESS = "cho_fed_batch"
CHO_TRUE_PARAMETERS = {"mu_max": 0.052, "Y_x_glc": 0.51, "kd_amm": 0.0075, "q_p": 0.92}
CHO_OPERATING = {
    "glucose_shot": 0.0,
    "batch_days": 3.0,
    "culture_days": 14.0,
    "shift_day": 6.0,
    "culture_temperature": 37.0,
    "shift_temperature": 32.0,
}
CHO_SET_POINTS = {"PH_SP": 7.0, "AGIT_SP": 200.0}  # the model's default pH and agitation inputs
DO_DRIFT_PER_DAY = 0.6  # %-points per day, batch B07
#: the clock of the records, converted by pint: hours per day, minutes per hour, minutes per day
HOURS_PER_DAY = float(ureg.Quantity(1.0, "day").to("h").magnitude)
MINUTES_PER_HOUR = float(ureg.Quantity(1.0, "h").to("min").magnitude)
MINUTES_PER_DAY = round(ureg.Quantity(1, "day").to("min").magnitude)


@dataclass(frozen=True)
class ChoBatch:
    batch: str
    start: str  # inoculation, local plant time
    seed_density: float  # 1e6 cells/mL
    feed_rate: float  # mL/h (multiple of 0.02: the 15-min totalizer increments are exact decimals)
    role: str = "good"  # good | drift | faulty


CHO_BATCHES = (
    ChoBatch("B01", "2026-01-05 08:00", 0.41, 4.06),
    ChoBatch("B02", "2026-01-14 09:30", 0.38, 3.94),
    ChoBatch("B03", "2026-01-26 08:15", 0.43, 4.10),
    ChoBatch("B04", "2026-02-04 10:00", 0.40, 3.90),
    ChoBatch("B05", "2026-02-16 08:45", 0.39, 4.02),
    ChoBatch("B06", "2026-02-25 09:00", 0.42, 3.98),
    ChoBatch("B07", "2026-03-09 08:30", 0.40, 4.08, "drift"),
    ChoBatch("B08", "2026-03-18 09:15", 0.41, 3.96, "faulty"),
)


@dataclass(frozen=True)
class Noise:
    """Measurement = truth + N(0, constant + proportional |truth|), rounded to ``decimals``."""

    constant: float
    proportional: float
    decimals: int

    def sd(self, truth):
        return self.constant + self.proportional * np.abs(truth)

    def apply(self, rng: np.random.Generator, truth, low: float = 0.0, high: float = np.inf):
        truth = np.asarray(truth, dtype=float)
        value = truth + rng.normal(size=truth.shape) * self.sd(truth)
        return np.round(np.clip(value, low, high), self.decimals)


@dataclass(frozen=True)
class Assay:
    """A plant tag measuring a model output: plant value = the model value in the plant ``unit`` (converted by
    pint from the output's declared units, through ``molar_mass`` for a mass concentration), plus noise."""

    tag: str
    output: str
    unit: str
    noise: Noise
    schedule: str  # daily | weekdays (not Sundays, except days 0 and 14) | titre (day >= 3, weekdays)
    high: float = np.inf  # physical upper limit of a reading (viability 100 %)
    molar_mass: float | None = None  # g/mol, when the plant unit is a mass concentration of a model mmol/L


CHO_ASSAYS = (
    Assay("VCD", "vcd", "1e6/mL", Noise(0.05, 0.05, 2), "daily"),
    Assay("VIAB", "viability", "percent", Noise(0.5, 0.005, 1), "daily", high=100.0),
    Assay("GLC", "glucose_conc", "g/L", Noise(0.03, 0.03, 2), "weekdays", molar_mass=MOLAR_MASS["glucose"]),
    Assay("GLN", "glutamine_conc", "mM", Noise(0.05, 0.05, 2), "weekdays"),
    Assay("LAC", "lactate_conc", "g/L", Noise(0.03, 0.04, 2), "weekdays", molar_mass=MOLAR_MASS["lactate"]),
    Assay("NH4", "ammonia_conc", "mM", Noise(0.1, 0.05, 2), "weekdays"),
    Assay("TITER", "titre", "mg/L", Noise(10.0, 0.05, 0), "titre"),
)
DO_NOISE = Noise(0.5, 0.01, 1)
ASSAY_MISSING_PROBABILITY = 0.05  # metabolite and titre assays only
#: plant ranges (tag map ``range``), the same numbers are valid in the model's units for these tags
CHO_RANGES = {
    "DO_PV": (0, 150),
    "VCD": (0, 100),
    "VIAB": (0, 100),
    "GLC": (0, 50),
    "GLN": (0, 50),
    "LAC": (0, 50),
    "NH4": (0, 50),
    "TITER": (0, 20000),
}

#: planted faults of batch B08: (file, tag, time in h or assay day, kind, detail)
CHO_FAULTS = (
    ("online.csv", "DO_PV", (120.0, 125.75), "nan_run", "24 empty readings (probe disconnected 6 h)"),
    ("online.csv", "DO_PV", 150.0, "out_of_range", 999.0),
    ("online.csv", "DO_PV", 200.0, "out_of_range", -5.0),
    ("online.csv", "DO_PV", 250.0, "text", "n/a"),
    ("online.csv", "DO_PV", 100.0, "duplicate", 4.0),  # the row is written twice, the copy's DO_PV + 4 %
    ("offline.xlsx", "TITER", 3, "text", "<LOQ"),
    ("offline.xlsx", "VCD", 9, "out_of_range", 10.0),  # decimal-point typo: x 10 (> 100 1e6/mL)
    ("offline.xlsx", "GLC", 4, "empty", None),
    ("offline.xlsx", "NH4", 6, "unit", "mg/L"),  # reported in mg/L; the tag map gives no molar mass
)

EMULSION_PROCESS = "emulsion_homogenizer"
EMULSION_TRUE_PARAMETERS = {"C1": 0.16, "C5": 6.9, "Cc": 0.36}
EMULSION_OPERATING = {"cooling": 1, "T_inlet": 20.0}
PASS_PRESSURE_CV = 0.01


@dataclass(frozen=True)
class EmulsionBatch:
    batch: str
    pressure_psi: float  # set point
    passes: int


EMULSION_BATCHES = (
    EmulsionBatch("E01", 8000, 8),
    EmulsionBatch("E02", 11000, 7),
    EmulsionBatch("E03", 14000, 7),
    EmulsionBatch("E04", 17000, 6),
    EmulsionBatch("E05", 20000, 6),
    EmulsionBatch("E06", 23000, 5),
)
EMULSION_NOISE = {"ZAVE": Noise(1.0, 0.02, 1), "PDI": Noise(0.002, 0.03, 3), "TT_RISE": Noise(0.2, 0.01, 1)}
EMULSION_TAGS = {"ZAVE": ("z_average", "nm"), "PDI": ("pdi", "1"), "TT_RISE": ("T_rise", "delta_degC")}
PSI_TO_BAR = float(ureg.Quantity(1.0, "psi").to("bar").magnitude)


# -- simulated truth ---------------------------------------------------------------------------
def cho_truth(batch: ChoBatch, times) -> pd.DataFrame:
    """The plant truth of one CHO batch at ``times`` (h): states, outputs, inputs and ``phase``."""
    params = CHO_TRUE_PARAMETERS | CHO_OPERATING | {"seed_density": batch.seed_density, "feed_rate": batch.feed_rate}
    run = catalogue.get(CHO_PROCESS).run(parameters=params, times=np.asarray(times, dtype=float))
    if not run.ok:
        raise RuntimeError(f"CHO batch {batch.batch}: {run.result.message}")
    df = run.result.frame(include_vectors=False)
    df["phase"] = run.result.phases
    return df


def plant_factors() -> dict[str, float]:
    """Tag -> plant value per model value of each assay, from the model output's declared units (pint)."""
    model = catalogue.get(CHO_PROCESS).model
    return {a.tag: conversion(model.units_of(a.output), a.unit, a.molar_mass).scale for a in CHO_ASSAYS}


def pass_pressures(batch: EmulsionBatch, rng: np.random.Generator) -> np.ndarray:
    """Recorded mean pressure of each pass (psi, to 10 psi)."""
    return np.round(batch.pressure_psi * (1.0 + PASS_PRESSURE_CV * rng.normal(size=batch.passes)), -1)


def emulsion_truth(batch: EmulsionBatch, pressures_psi) -> pd.DataFrame:
    """The plant truth of one emulsion batch at every half pass (time in passes)."""
    n = batch.passes
    steps = [[float(k), float(p) * PSI_TO_BAR] for k, p in enumerate(pressures_psi)]
    run = catalogue.get(EMULSION_PROCESS).run(
        parameters=EMULSION_TRUE_PARAMETERS | EMULSION_OPERATING | {"n_passes": n},
        inputs={"pressure": steps},
        times=np.arange(0.0, n + 0.25, 0.5),
    )
    if not run.ok:
        raise RuntimeError(f"emulsion batch {batch.batch}: {run.result.message}")
    return run.result.frame(include_vectors=False)


# -- CHO records ---------------------------------------------------------------------------------
def _sample_minutes(rng: np.random.Generator) -> np.ndarray:
    """Offline sampling times in whole minutes from inoculation, days 0-14."""
    days = np.arange(15)
    offset = rng.integers(-30, 61, size=15)
    offset[0] = rng.integers(10, 41)
    offset[14] = -rng.integers(10, 41)
    return days * MINUTES_PER_DAY + offset


def _cho_online(batch: ChoBatch, truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    t = np.arange(0.0, END_H + 1e-9, ONLINE_STEP_H)
    tr = truth.loc[t]
    do = DO_NOISE.apply(rng, tr["DO"].to_numpy())
    if batch.role == "drift":
        do = np.round(do + DO_DRIFT_PER_DAY * t / HOURS_PER_DAY, DO_NOISE.decimals)
    start = pd.Timestamp(batch.start)
    return pd.DataFrame(
        {
            "timestamp": [(start + pd.Timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S") for h in t],
            "batch_id": batch.batch,
            "PHASE": tr["phase"].to_numpy(),
            "TEMP_SP": tr["temperature"].round(1).to_numpy(),
            "PH_SP": CHO_SET_POINTS["PH_SP"],
            "AGIT_SP": CHO_SET_POINTS["AGIT_SP"],
            "FEED_TOT": np.round(batch.feed_rate * np.clip(t - FEED_START_H, 0.0, None), 3),
            "DO_PV": do.astype(object),
            "hour": t,
        }
    )


def _assay_due(assay: Assay, day: int, when: pd.Timestamp) -> bool:
    if assay.schedule == "daily":
        return True
    if assay.schedule == "titre" and day < 3:
        return False
    return day in (0, 14) or when.day_of_week != 6


def _cho_offline(
    batch: ChoBatch,
    truth: pd.DataFrame,
    minutes: np.ndarray,
    rng: np.random.Generator,
    forced: set,
    factors: dict[str, float],
) -> pd.DataFrame:
    start = pd.Timestamp(batch.start)
    rows = [dict(batch_id=batch.batch, tag="V_START", timestamp=start, value=2.0, unit="L", day=0)]
    for day, minute in enumerate(minutes):
        when = start + pd.Timedelta(minutes=int(minute))
        tr = truth.loc[minute / MINUTES_PER_HOUR]
        for assay in CHO_ASSAYS:
            value = float(assay.noise.apply(rng, factors[assay.tag] * tr[assay.output], high=assay.high))
            missing = assay.schedule != "daily" and rng.random() < ASSAY_MISSING_PROBABILITY
            if (assay.tag, day) in forced or (_assay_due(assay, day, when) and not missing):
                rows.append(
                    dict(batch_id=batch.batch, tag=assay.tag, timestamp=when, value=value, unit=assay.unit, day=day)
                )
    return pd.DataFrame(rows)


def _plant_faults(online: pd.DataFrame, offline: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply CHO_FAULTS to one batch's records."""
    online, offline = online.copy(), offline.copy()
    offline["value"] = offline["value"].astype(object)
    duplicates = []
    for file, tag, where, kind, detail in CHO_FAULTS:
        if file == "online.csv":
            if kind == "nan_run":
                online.loc[online["hour"].between(*where), tag] = np.nan
            elif kind in ("out_of_range", "text"):
                online.loc[online["hour"] == where, tag] = detail
            elif kind == "duplicate":
                copy = online[online["hour"] == where].copy()
                copy[tag] = np.round(copy[tag].astype(float) + detail, 1)
                duplicates.append(copy)
            continue
        row = (offline["tag"] == tag) & (offline["day"] == where)
        if kind == "text":
            offline.loc[row, "value"] = detail
        elif kind == "out_of_range":
            offline.loc[row, "value"] = np.round(offline.loc[row, "value"].astype(float) * detail, 2)
        elif kind == "empty":
            offline.loc[row, "value"] = np.nan
        elif kind == "unit":
            offline.loc[row, "value"] = np.round(offline.loc[row, "value"].astype(float) * MOLAR_MASS["ammonia"], 1)
            offline.loc[row, "unit"] = detail
    online = pd.concat([online, *duplicates]).sort_values("hour", kind="stable")
    return online, offline


def cho_records(seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(online, offline) frames of every CHO batch, exactly as written to the files."""
    streams = np.random.SeedSequence(seed).spawn(len(CHO_BATCHES) + len(EMULSION_BATCHES))
    forced = {(tag, day) for file, tag, day, *_ in CHO_FAULTS if file == "offline.xlsx"}
    factors = plant_factors()
    online, offline = [], []
    for batch, stream in zip(CHO_BATCHES, streams):
        rng = np.random.default_rng(stream)
        minutes = _sample_minutes(rng)
        truth = cho_truth(batch, np.union1d(np.arange(0.0, END_H + 1e-9, ONLINE_STEP_H), minutes / MINUTES_PER_HOUR))
        on = _cho_online(batch, truth, rng)
        off = _cho_offline(batch, truth, minutes, rng, forced if batch.role == "faulty" else set(), factors)
        if batch.role == "faulty":
            on, off = _plant_faults(on, off)
        online.append(on.drop(columns="hour"))
        offline.append(off.drop(columns="day"))
    return pd.concat(online, ignore_index=True), pd.concat(offline, ignore_index=True)


# -- emulsion records ----------------------------------------------------------------------------
def emulsion_records(seed: int = SEED) -> pd.DataFrame:
    """The long per-pass table of every emulsion batch, exactly as written to passes.parquet."""
    streams = np.random.SeedSequence(seed).spawn(len(CHO_BATCHES) + len(EMULSION_BATCHES))[len(CHO_BATCHES) :]
    rows = []
    for batch, stream in zip(EMULSION_BATCHES, streams):
        rng = np.random.default_rng(stream)
        pressures = pass_pressures(batch, rng)
        truth = emulsion_truth(batch, pressures)
        rows.append(
            dict(batch_id=batch.batch, tag="T_FEED", time=0.0, value=EMULSION_OPERATING["T_inlet"], unit="degC")
        )
        for k in range(1, batch.passes + 1):
            rows.append(dict(batch_id=batch.batch, tag="PASS_NO", time=k - 1.0, value=float(k), unit=None))
            rows.append(
                dict(batch_id=batch.batch, tag="P_HOM", time=k - 1.0, value=float(pressures[k - 1]), unit="psi")
            )
            for tag, at in (("TT_RISE", k - 0.5), ("ZAVE", float(k)), ("PDI", float(k))):
                output, unit = EMULSION_TAGS[tag]
                value = EMULSION_NOISE[tag].apply(rng, truth.loc[at, output])
                rows.append(dict(batch_id=batch.batch, tag=tag, time=at, value=float(value), unit=unit))
    return pd.DataFrame(rows).rename(columns={"time": "pass"})


# -- files ---------------------------------------------------------------------------------------
def _flow(entries: dict) -> str:
    def fmt(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, tuple):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        if isinstance(v, str) and v[:1].isdigit():
            return f'"{v}"'
        return f"{v:g}" if isinstance(v, float) else str(v)

    return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in entries.items()) + "}"


def _tagmap_text(header: str, model: str, files: list[dict], tags: dict[str, dict]) -> str:
    lines = [f"# {line}".rstrip() for line in header.strip().splitlines()]
    lines += ["kind: tag map", f"model: {model}", "files:"]
    for f in files:
        items = list(f.items())
        lines.append(f"  - {items[0][0]}: {items[0][1]}")
        lines += [f"    {k}: {v}" for k, v in items[1:]]
    lines += ["batch_start: first_record", "tags:"]
    width = max(len(t) for t in tags) + 1
    lines += [f"  {(tag + ':').ljust(width)} {_flow(entry)}" for tag, entry in tags.items()]
    return "\n".join(lines) + "\n"


def cho_tagmap() -> str:
    tags = {
        "PHASE": {"phase_marker": True},
        "TEMP_SP": {"input": "temperature", "units": "degC"},
        "PH_SP": {"input": "pH", "units": "1"},
        "AGIT_SP": {"input": "agitation", "units": "rpm"},
        "FEED_TOT": {"input": "feed_rate", "units": "mL", "cumulative": True},
        "DO_PV": {"output": "DO", "units": "percent", "kind": "online", "range": CHO_RANGES["DO_PV"]},
        "V_START": {"initial": "V", "units": "L"},
    }
    for a in CHO_ASSAYS:
        tags[a.tag] = {"output": a.output, "units": a.unit, "kind": "offline", "range": CHO_RANGES[a.tag]}
        if a.molar_mass:
            tags[a.tag]["molar_mass"] = f"{a.molar_mass} g/mol"
    common = {"batch_column": "batch_id", "time_column": "timestamp", "time_format": "datetime"}
    files = [
        {"path": "online.csv", "shape": "wide"} | common,
        {"path": "offline.xlsx", "shape": "long", "sheet": "assays"}
        | common
        | {"tag_column": "tag", "value_column": "value", "unit_column": "unit"},
    ]
    return _tagmap_text(
        """
Demo CHO fed-batch records (process cho_fed_batch), written by bioprocess_twin.calibration.demo_data;
see README.md. Online: 15-min wide CSV; offline: daily assays, long Excel sheet with a unit column.
""",
        CHO_PROCESS,
        files,
        tags,
    )


def emulsion_tagmap() -> str:
    tags = {
        "PASS_NO": {"phase_marker": True},
        "P_HOM": {"input": "pressure", "units": "psi"},
        "T_FEED": {"initial": "T", "units": "degC"},
        "ZAVE": {"output": "z_average", "units": "nm", "kind": "offline", "range": (10, 10000)},
        "PDI": {"output": "pdi", "units": "1", "kind": "offline", "range": (0, 1)},
        "TT_RISE": {"output": "T_rise", "units": "delta_degC", "kind": "offline", "range": (0, 100)},
    }
    files = [
        {
            "path": "passes.parquet",
            "shape": "long",
            "batch_column": "batch_id",
            "time_column": "pass",
            "time_format": "elapsed",
            "elapsed_units": '"1"',
            "tag_column": "tag",
            "value_column": "value",
            "unit_column": "unit",
        }
    ]
    return _tagmap_text(
        """
Demo squalene-emulsion records (process emulsion_homogenizer, time = pass number), written by
bioprocess_twin.calibration.demo_data; see README.md. The pass number is logged at each pass start (a phase
marker: phases "1", "2", ...); pressure is recorded at each pass start and held over the pass; Z-average and PDI
at the pass end; the outlet-minus-inlet temperature rise mid-pass.
""",
        EMULSION_PROCESS,
        files,
        tags,
    )


def make_demo_records(out_dir: str | Path, seed: int = SEED) -> dict[str, Path]:
    """Write the CHO and emulsion demo records and their tag maps under ``out_dir``; return the paths."""
    out = Path(out_dir)
    (out / "cho").mkdir(parents=True, exist_ok=True)
    (out / "emulsion").mkdir(parents=True, exist_ok=True)
    paths = {
        name: out / name
        for name in (
            "cho/online.csv",
            "cho/offline.xlsx",
            "cho/tagmap.yaml",
            "emulsion/passes.parquet",
            "emulsion/tagmap.yaml",
        )
    }
    online, offline = cho_records(seed)
    online.to_csv(paths["cho/online.csv"], index=False, lineterminator="\n")
    offline.to_excel(paths["cho/offline.xlsx"], sheet_name="assays", index=False)
    paths["cho/tagmap.yaml"].write_text(cho_tagmap())
    emulsion_records(seed).to_parquet(paths["emulsion/passes.parquet"], index=False)
    paths["emulsion/tagmap.yaml"].write_text(emulsion_tagmap())
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the demo batch records (CHO fed-batch, emulsion).")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    for path in make_demo_records(args.out_dir, args.seed).values():
        print(path)


if __name__ == "__main__":
    main()
