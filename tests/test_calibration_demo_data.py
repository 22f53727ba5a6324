"""The shipped demo batch records (examples/batch_records): deterministic, true to the stated settings, faults planted.

The truth is re-simulated here with the registered processes and the parameters the README states; the
files are parsed with pandas and converted to model units in this file, independently of the generator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bioprocess_twin import catalogue
from bioprocess_twin.calibration import dataset
from bioprocess_twin.calibration import demo_data as dd
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.units import ureg

SHIPPED = example_path("batch_records")
GOOD = ["B01", "B02", "B03", "B04", "B05", "B06"]
#: model value -> plant value (README): glucose/lactate in g/L from mmol/L, titre mg/L from g/L
PLANT_FACTOR = {"VCD": 1.0, "VIAB": 1.0, "GLC": 0.180156, "GLN": 1.0, "LAC": 0.08907, "NH4": 1.0, "TITER": 1000.0}
OUTPUT = {
    "VCD": "vcd",
    "VIAB": "viability",
    "GLC": "glucose_conc",
    "GLN": "glutamine_conc",
    "LAC": "lactate_conc",
    "NH4": "ammonia_conc",
    "TITER": "titre",
}
#: (constant, proportional) noise sd in plant units (README)
NOISE = {
    "VCD": (0.05, 0.05),
    "VIAB": (0.5, 0.005),
    "GLC": (0.03, 0.03),
    "GLN": (0.05, 0.05),
    "LAC": (0.03, 0.04),
    "NH4": (0.1, 0.05),
    "TITER": (10.0, 0.05),
    "DO_PV": (0.5, 0.01),
    "ZAVE": (1.0, 0.02),
    "PDI": (0.002, 0.03),
    "TT_RISE": (0.2, 0.01),
}
TRUE_CHO = {"mu_max": 0.052, "Y_x_glc": 0.51, "kd_amm": 0.0075, "q_p": 0.92}
TRUE_EMULSION = {"C1": 0.16, "C5": 6.9, "Cc": 0.36}


def read(root: Path) -> dict[str, pd.DataFrame]:
    """Every data file as text-typed frames (exact comparison) plus the tag maps."""
    return {
        "online": pd.read_csv(root / "cho/online.csv", dtype=str, keep_default_na=False),
        "offline": pd.read_excel(root / "cho/offline.xlsx", sheet_name="assays", dtype=object),
        "passes": pd.read_parquet(root / "emulsion/passes.parquet"),
        "cho_tagmap": (root / "cho/tagmap.yaml").read_text(),
        "emulsion_tagmap": (root / "emulsion/tagmap.yaml").read_text(),
    }


@pytest.fixture(scope="module")
def shipped():
    return read(SHIPPED)


@pytest.fixture(scope="module")
def online(shipped):
    df = shipped["online"].copy()
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df["hour"] = df.groupby("batch_id")["timestamp"].transform(lambda s: (s - s.iloc[0]).dt.total_seconds() / 3600)
    df["do"] = pd.to_numeric(df["DO_PV"], errors="coerce")
    return df


@pytest.fixture(scope="module")
def offline(shipped):
    df = shipped["offline"].copy()
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    starts = {b.batch: pd.Timestamp(b.start) for b in dd.CHO_BATCHES}
    df["hour"] = [(t - starts[b]).total_seconds() / 3600 for b, t in zip(df["batch_id"], df["timestamp"])]
    df["day"] = np.round(df["hour"] / 24).astype(int)
    df["number"] = pd.to_numeric(df["value"], errors="coerce")
    return df


def cho_truth(batch: str, times, parameters=TRUE_CHO) -> pd.DataFrame:
    seed, feed = {b.batch: (b.seed_density, b.feed_rate) for b in dd.CHO_BATCHES}[batch]
    run = catalogue.get("cho_fed_batch").run(
        parameters=parameters | {"glucose_shot": 0, "seed_density": seed, "feed_rate": feed},
        times=np.union1d([0.0], times),
    )
    assert run.ok, run.result.message
    return run.result.frame(include_vectors=False)


def z_score(tag: str, measured, truth):
    a, b = NOISE[tag]
    return (np.asarray(measured, dtype=float) - truth) / (a + b * np.abs(truth))


# -- determinism ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    dd.make_demo_records(out)
    return read(out)


def last_digit(values: pd.Series) -> float:
    """The rounding step of a column as written: 10^-(most decimals of any value)."""
    decimals = [len(text.partition(".")[2]) for text in (np.format_float_positional(v) for v in values.dropna())]
    return 10.0 ** -max(decimals, default=0)


def test_regeneration_reproduces_the_shipped_files(shipped, regenerated):
    """Identical files, except that a value may round the other way: the simulation under the noise
    changes in its last bits when its arithmetic is reordered (tests/test_process_equations.py),
    and a value close to a rounding boundary then moves by one written digit."""
    for key in ("online", "offline", "passes"):
        got, want = regenerated[key], shipped[key]
        assert list(got.columns) == list(want.columns) and len(got) == len(want), key
        for col in want.columns:
            if not pd.api.types.is_float_dtype(want[col]):
                pd.testing.assert_series_equal(got[col], want[col], check_exact=True, obj=f"{key}.{col}")
                continue
            step, diff = last_digit(want[col]), (got[col] - want[col]).abs()
            assert got[col].isna().equals(want[col].isna()), f"{key}.{col}: gaps differ"
            assert (diff[want[col].notna()] <= step * (1 + 1e-9)).all(), f"{key}.{col}: more than one digit ({step})"
            assert (diff > 0).mean() < 1e-3, f"{key}.{col}: {(diff > 0).sum()} values differ"
    assert regenerated["cho_tagmap"] == shipped["cho_tagmap"]
    assert regenerated["emulsion_tagmap"] == shipped["emulsion_tagmap"]


def test_another_seed_changes_the_noise_only(tmp_path, shipped):
    dd.make_demo_records(tmp_path, seed=7)
    other = read(tmp_path)
    a, b = shipped["online"], other["online"]
    pd.testing.assert_frame_equal(a.drop(columns="DO_PV"), b.drop(columns="DO_PV"))
    assert (a["DO_PV"] != b["DO_PV"]).mean() > 0.5
    pa, pb = shipped["passes"], other["passes"]
    assert list(pa["tag"]) == list(pb["tag"]) and not np.allclose(pa["value"], pb["value"])


def test_files_are_small(shipped):
    assert (SHIPPED / "cho/online.csv").stat().st_size < 1_000_000
    assert len(shipped["online"]) == 8 * 1345 + 1  # 15 min over 14 days, + B08's duplicated row


# -- CHO: settings and truth ---------------------------------------------------------------------
def test_online_inputs_follow_the_recipe(online):
    for b in dd.CHO_BATCHES:
        df = online[online["batch_id"] == b.batch].drop_duplicates("timestamp")
        t = df["hour"].to_numpy()
        assert len(df) == 1345 and np.allclose(np.diff(t), 0.25) and t[-1] == 336.0
        rate = np.diff(df["FEED_TOT"].astype(float)) / 0.25  # mL/h between samples
        assert np.allclose(rate, np.where(t[:-1] < 72, 0.0, b.feed_rate), atol=1e-9)
        assert np.array_equal(df["TEMP_SP"].astype(float), np.where(t < 144, 37.0, 32.0))
        assert set(df["PH_SP"]) == {"7.0"} and set(df["AGIT_SP"]) == {"200.0"}
        first = df.groupby("PHASE", sort=False)["hour"].min()
        assert first.to_dict() == {"batch": 0.0, "fed_batch": 72.0, "fed_batch_shifted": 144.0}
    truth = cho_truth("B03", np.arange(0, 336.1, 0.25))  # the totalizer is the model's fed volume
    tot = online[online["batch_id"] == "B03"]["FEED_TOT"].astype(float).to_numpy()
    assert np.allclose(tot, truth["fed_volume"].to_numpy() * 1e3, atol=2e-3)


def _offline_z(offline, batches, parameters=TRUE_CHO):
    z = {tag: [] for tag in OUTPUT}
    for batch in batches:
        df = offline[(offline["batch_id"] == batch) & offline["tag"].isin(list(OUTPUT))]
        truth = cho_truth(batch, df["hour"].to_numpy(), parameters)
        for tag, rows in df.groupby("tag"):
            model = truth.loc[rows["hour"].to_numpy(), OUTPUT[tag]].to_numpy() * PLANT_FACTOR[tag]
            keep = model < 99.9 if tag == "VIAB" else np.ones(len(rows), bool)  # readings are clipped at 100 %
            z[tag].extend(z_score(tag, rows["number"].to_numpy()[keep], model[keep]))
    return {tag: np.array(v) for tag, v in z.items()}


def test_good_batches_follow_the_stated_truth_within_the_stated_noise(offline, online):
    for tag, z in _offline_z(offline, GOOD + ["B07"]).items():
        assert len(z) > 50, tag
        assert abs(z.mean()) < 0.3 and 0.75 < z.std() < 1.3, (tag, z.mean(), z.std())
    for batch in GOOD:
        df = online[online["batch_id"] == batch]
        truth = cho_truth(batch, df["hour"].to_numpy())
        z = z_score("DO_PV", df["do"], truth.loc[df["hour"].to_numpy(), "DO"].to_numpy())
        assert abs(z.mean()) < 0.15 and 0.85 < z.std() < 1.15, (batch, z.mean(), z.std())


def test_records_differ_from_the_code_defaults(offline):
    """The truth is not the code default: the defaults miss the assays by far more than the noise."""
    rms = {tag: np.sqrt(np.mean(z**2)) for tag, z in _offline_z(offline, GOOD[:2], parameters={}).items()}
    assert rms["VCD"] > 2 and rms["VIAB"] > 3 and rms["GLC"] > 5 and rms["TITER"] > 3, rms


def test_offline_sparsity(offline):
    good = offline[offline["batch_id"].isin(GOOD)]
    counts = good.groupby(["batch_id", "tag"]).size().unstack()
    assert (counts["VCD"] == 15).all() and (counts["VIAB"] == 15).all() and (counts["V_START"] == 1).all()
    assert (counts[["GLC", "GLN", "LAC", "NH4"]] < 15).all().all() and (counts["TITER"] <= 12).all()
    assert good[good["tag"] == "TITER"]["day"].min() == 3
    weekday = good[good["tag"] == "GLC"]
    assert not ((weekday["timestamp"].dt.day_of_week == 6) & ~weekday["day"].isin([0, 14])).any()


def test_drifting_probe_drifts(online):
    slopes = {}
    for batch in GOOD + ["B07"]:
        df = online[online["batch_id"] == batch]
        truth = cho_truth(batch, df["hour"].to_numpy())
        residual = df["do"].to_numpy() - truth.loc[df["hour"].to_numpy(), "DO"].to_numpy()
        slopes[batch] = np.polyfit(df["hour"].to_numpy() / 24, residual, 1)[0]  # %-points per day
    assert abs(slopes["B07"] - 0.6) < 0.05, slopes
    assert all(abs(slopes[b]) < 0.05 for b in GOOD), slopes


# -- CHO: the faulty batch -----------------------------------------------------------------------
def test_faulty_batch_contains_each_planted_fault(online, offline, shipped):
    f = online[online["batch_id"] == "B08"]
    empty = f[f["DO_PV"] == ""]
    assert len(empty) == 24 and empty["hour"].min() == 120.0 and empty["hour"].max() == 125.75
    assert f.loc[f["hour"] == 150.0, "do"].tolist() == [999.0] and f.loc[f["hour"] == 200.0, "do"].tolist() == [-5.0]
    assert f.loc[f["hour"] == 250.0, "DO_PV"].tolist() == ["n/a"]
    dup = f[f["hour"] == 100.0]
    assert len(dup) == 2 and dup["do"].diff().iloc[-1] == pytest.approx(4.0)
    assert (dup.drop(columns=["DO_PV", "do"]).nunique() == 1).all()  # every other column repeats
    assert f["timestamp"].duplicated().sum() == 1
    g = offline[offline["batch_id"] == "B08"]

    def cell(tag, day, column="value"):
        values = g.loc[(g["tag"] == tag) & (g["day"] == day), column].tolist()
        assert len(values) == 1, (tag, day)
        return values[0]

    assert cell("TITER", 3) == "<LOQ"
    assert cell("VCD", 9) > 100
    assert pd.isna(cell("GLC", 4))
    assert cell("NH4", 6, "unit") == "mg/L"
    truth = cho_truth("B08", [cell("NH4", 6, "hour")])["ammonia_conc"].iloc[-1]
    assert cell("NH4", 6) / 17.031 == pytest.approx(truth, rel=0.25)  # ammonia, in mg/L


def test_good_batches_have_no_faults(online, offline, shipped):
    units = yaml.safe_load(shipped["cho_tagmap"])["tags"]
    for batch in GOOD + ["B07"]:
        f = online[online["batch_id"] == batch]
        assert f["do"].notna().all() and f["do"].between(0, 150).all() and not f["timestamp"].duplicated().any()
        g = offline[offline["batch_id"] == batch]
        assert g["number"].notna().all() and not g.duplicated(["tag", "timestamp"]).any()
        for tag, rows in g.groupby("tag"):
            assert set(rows["unit"]) == {str(units[tag]["units"])}, (batch, tag)
            low, high = units[tag].get("range", (-np.inf, np.inf))
            assert rows["number"].between(low, high).all(), (batch, tag)


# -- emulsion ------------------------------------------------------------------------------------
def test_emulsion_batches_follow_the_stated_truth(shipped):
    df = shipped["passes"]
    process = catalogue.get("emulsion_homogenizer")
    z = {tag: [] for tag in ("ZAVE", "PDI", "TT_RISE")}
    final = {}
    for b in dd.EMULSION_BATCHES:
        rows = df[df["batch_id"] == b.batch]
        p = rows[rows["tag"] == "P_HOM"]
        assert p["pass"].tolist() == list(range(b.passes)) and set(rows["unit"][rows["tag"] == "P_HOM"]) == {"psi"}
        assert np.all(np.abs(p["value"] / b.pressure_psi - 1) < 0.04)
        steps = [[t, ureg.Quantity(v, "psi").to("bar").magnitude] for t, v in zip(p["pass"], p["value"])]
        run = process.run(
            parameters=TRUE_EMULSION | {"n_passes": b.passes},
            inputs={"pressure": steps},
            times=np.arange(0, b.passes + 0.25, 0.5),
        )
        truth = run.result.frame(include_vectors=False)
        for tag, output in (("ZAVE", "z_average"), ("PDI", "pdi"), ("TT_RISE", "T_rise")):
            r = rows[rows["tag"] == tag]
            z[tag].extend(z_score(tag, r["value"], truth.loc[r["pass"].to_numpy(), output].to_numpy()))
        final[b.pressure_psi] = rows[rows["tag"] == "ZAVE"]["value"].iloc[-1]
    for tag, values in z.items():
        values = np.array(values)
        assert abs(values.mean()) < 0.4 and 0.7 < values.std() < 1.35, (tag, values.mean(), values.std())
    sizes = [final[p] for p in sorted(final)]
    assert all(a > b for a, b in zip(sizes, sizes[1:]))  # higher pressure -> smaller droplets


# -- tag maps and README -------------------------------------------------------------------------
def test_tag_maps_cover_every_column_and_tag(shipped):
    cho = yaml.safe_load(shipped["cho_tagmap"])
    assert cho["model"] == "cho_fed_batch" and cho["kind"] == "tag map"
    assert set(shipped["online"].columns) - {"timestamp", "batch_id"} <= set(cho["tags"])
    assert set(shipped["offline"]["tag"]) <= set(cho["tags"])
    emulsion = yaml.safe_load(shipped["emulsion_tagmap"])
    assert set(shipped["passes"]["tag"]) <= set(emulsion["tags"])
    assert emulsion["files"][0]["elapsed_units"] == "1"
    for tag_map in (cho, emulsion):
        model = catalogue.get(tag_map["model"]).model
        known = {
            "output": {v.name: v.units for v in (*model.outputs, *model.states)},
            "input": {v.name: v.units for v in model.inputs},
            "initial": {v.name: v.units for v in model.states},
        }
        for tag, spec in tag_map["tags"].items():
            role = next(r for r in ("output", "input", "initial", "phase_marker") if r in spec)
            if role == "phase_marker":
                continue
            target = known[role][spec[role]]
            plant = ureg.Quantity(1.0, str(spec["units"]).replace("1e6/mL", "Mcount/mL"))
            if spec.get("cumulative"):
                plant = plant / ureg.Quantity(1.0, "h")
            if "molar_mass" in spec:
                plant = plant / ureg.Quantity(spec["molar_mass"])
            assert plant.dimensionality == ureg.Quantity(1.0, target).dimensionality, tag


def test_readme_states_the_settings():
    text = (SHIPPED / "README.md").read_text()
    for b in dd.CHO_BATCHES:
        assert f"| {b.batch} | {b.start} | {b.seed_density:.2f} | {b.feed_rate:.2f} |" in text
    for name, value in {**TRUE_CHO, **TRUE_EMULSION}.items():
        assert f"{value:g}" in text and f"`{name}`" in text
    assert dd.CHO_TRUE_PARAMETERS == TRUE_CHO and dd.EMULSION_TRUE_PARAMETERS == TRUE_EMULSION
    assert str(dd.SEED) in text


# -- with the importer ---------------------------------------------------------------------------
def test_importer_reports_every_fault_of_B08_and_nothing_else(online, offline):
    records = dataset.load_batch_records(SHIPPED / "cho" / "tagmap.yaml")
    issues = records.report.issues
    assert sorted(records.batches) == [b.batch for b in dd.CHO_BATCHES]
    assert {i.batch for i in issues} == {"B08"}, [i for i in issues if i.batch != "B08"]
    found = {(i.file, i.row, i.severity) for i in issues}
    f = online[online["batch_id"] == "B08"]
    line = {h: f.index[f["hour"] == h].tolist() for h in (100.0, 120.0, 150.0, 250.0)}  # + 2: CSV line number
    g = offline[offline["batch_id"] == "B08"]
    sheet_row = {
        (t, d): g.index[(g["tag"] == t) & (g["day"] == d)][0] + 2
        for t, d in (("TITER", 3), ("VCD", 9), ("GLC", 4), ("NH4", 6))
    }
    expected = {
        ("online.csv", line[250.0][0] + 2, "error"),  # n/a
        ("online.csv", line[120.0][0] + 2, "warning"),  # 24 NaN, first row
        ("online.csv", line[150.0][0] + 2, "warning"),  # out of range, first row
        ("offline.xlsx", sheet_row["TITER", 3], "error"),  # <LOQ
        ("offline.xlsx", sheet_row["NH4", 6], "error"),  # mg/L without molar mass
        ("offline.xlsx", sheet_row["VCD", 9], "warning"),  # out of range
        ("offline.xlsx", sheet_row["GLC", 4], "warning"),
    }  # empty
    assert expected <= found, expected - found
    conflict = [
        i
        for i in issues
        if i.severity == "error" and i.column == "DO_PV" and i.row in (line[100.0][0] + 2, line[100.0][1] + 2)
    ]
    assert len(conflict) == 1 and all(str(r + 2) in conflict[0].message for r in line[100.0])
    good = records.batches["B01"]
    assert good.phases == [("batch", 0.0), ("fed_batch", 72.0), ("fed_batch_shifted", 144.0)]
    assert good.initial == {"V": 2.0} and good.end == 336.0
    assert dict(good.inputs["temperature"]) == {0.0: 37.0, 144.0: 32.0}
    rates = np.array([v for t, v in good.inputs["feed_rate"] if 72.0 <= t < good.end])
    assert np.allclose(rates, 4.06e-3, rtol=1e-9)  # L/h from the mL totalizer
    glc = good.observations[good.observations["output"] == "glucose_conc"]["value"].iloc[0]
    sheet = offline[(offline["batch_id"] == "B01") & (offline["tag"] == "GLC")]
    assert sheet["unit"].iloc[0] == "g/L"
    assert glc == pytest.approx(sheet["number"].iloc[0] / 0.180156, rel=1e-9)  # g/L -> mmol/L (180.156 g/mol)


def test_importer_reads_the_emulsion_records_clean(shipped):
    records = dataset.load_batch_records(SHIPPED / "emulsion" / "tagmap.yaml")
    assert records.report.ok and not records.report.issues
    assert sorted(records.batches) == [b.batch for b in dd.EMULSION_BATCHES]
    e1 = records.batches["E01"]
    assert e1.initial["T"] == pytest.approx(293.15) and e1.end == 8.0
    logged = shipped["passes"]
    psi = logged[(logged["batch_id"] == "E01") & (logged["tag"] == "P_HOM")]
    assert psi["unit"].iloc[0] == "psi"
    bar = psi["value"].iloc[0] * 6894.757293 / 1e5  # 1 psi = 6894.757 Pa
    assert e1.inputs["pressure"][0][1] == pytest.approx(bar, rel=1e-9)
    assert set(e1.observations["output"]) == {"z_average", "pdi", "T_rise"}
    assert e1.phases == [(str(k), float(k - 1)) for k in range(1, 9)]  # PASS_NO: pass k starts at k - 1
