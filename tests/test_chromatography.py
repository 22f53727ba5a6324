"""Chromatography unit (LKM, competitive Langmuir): tracer moments, saturation capacity, trends,
grid convergence, balance closure, the conditional load and bad input; its process model
chromatography_lkm standalone: load within and beyond the binding capacity."""

import math

import numpy as np
import pytest

from bioprocess_twin import catalogue
from bioprocess_twin.core import ParameterError
from bioprocess_twin.core.recipe import Phase
from bioprocess_twin.core.streams import Stream
from bioprocess_twin.processes.chromatography_column import ChromatographyLkm, build_column_model
from bioprocess_twin.units.chromatography import Chromatography

SALT_20MM = 0.02 * 58.44e-3  # kg NaCl per litre


def load_stream(litres, antigen=2.0, hcp=0.5, dna=0.05):
    """A load with the given concentrations (g/L) in 20 mM salt."""
    v = litres * 1e-3
    return Stream(
        "load",
        v,
        {"water": 0.997 * litres, "antigen": antigen * v, "hcp": hcp * v, "dna": dna * v, "salts": SALT_20MM * litres},
    )


def test_non_binding_tracer_leaves_at_the_void_volume_with_its_mass():
    unit = Chromatography("col", {"antigen_K0": 0, "hcp_K0": 0, "dna_K0": 0})
    cv = unit.cv_time
    pulse = 0.1 * cv
    phases = [
        Phase(name="load", duration=pulse, inputs={"loading": 1.0}, points=20),
        Phase(name="wash", duration=4 * cv, inputs={"loading": 0.0}, points=2000),
    ]
    load = load_stream(10.0, antigen=1.0, hcp=0, dna=0)
    r = unit.run({"load": load}, phases)
    s = r.series
    t, c = s.index.to_numpy(), s["outlet_antigen"].to_numpy()
    first_moment = np.trapezoid(t * c, t) / np.trapezoid(c, t)
    tau = 0.65 * 0.20 / 1.50  # eps_t L / u = 0.0867 h
    assert first_moment == pytest.approx(tau + pulse / 2, rel=1e-3)
    loaded = r.kpis["product_loaded_g"]
    assert loaded == pytest.approx(1.0 * unit.area * 1.5 * pulse * 1e3, rel=1e-9)
    assert r.kpis["product_out_g"] == pytest.approx(loaded, rel=1e-7)  # all of it leaves, none is held


def test_langmuir_saturation_capacity_from_the_breakthrough_curve():
    unit = Chromatography(
        "col", {"hcp_K0": 0, "dna_K0": 0, "load_stop_breakthrough": 0, "antigen_K0": 5.0, "antigen_salt_slope": 6.0}
    )
    load = load_stream(250.0, antigen=1.0, hcp=0, dna=0)
    phases = [Phase(name="load", duration=load.volume / (unit.area * 1.5), inputs={"loading": 1.0}, points=400)]
    r = unit.run({"load": load}, phases)
    K = 5.0 * np.exp(-6.0 * 0.02)
    solid = (1 - 0.65) * unit.column_volume * 1e3  # L of solid
    q_star = 100.0 * K * 1.0 / (1 + K * 1.0)
    assert r.series["outlet_antigen"].iloc[-1] == pytest.approx(1.0, rel=1e-6)  # saturated
    assert r.kpis["product_bound_at_end_g"] == pytest.approx(q_star * solid, rel=1e-6)
    # the same from the breakthrough curve: loaded - out - held in the mobile phase
    liquid = 0.65 * unit.column_volume * 1e3
    from_curve = r.kpis["product_loaded_g"] - r.kpis["product_out_g"] - 1.0 * liquid
    assert from_curve == pytest.approx(q_star * solid, rel=1e-6)


def test_more_load_past_breakthrough_lowers_the_yield():
    unit = Chromatography("col", {"load_stop_breakthrough": 0})
    yields = [unit.run({"load": load_stream(v)}).kpis["yield"] for v in (20.0, 60.0, 100.0)]
    assert yields[0] > yields[1] > yields[2]
    assert yields[0] > 0.9 and yields[2] < 0.8


def test_weaker_impurity_binding_gives_a_purer_pool():
    purity = [
        Chromatography("col", {"hcp_K0": K}).run({"load": load_stream(20.0)}).kpis["purity"] for K in (10.0, 2.0, 0.5)
    ]
    assert purity[0] < purity[1] < purity[2]


def test_finer_grid_converges():
    # D_ax above the numerical dispersion of all three grids: the dispersion-corrected upwind scheme
    # then has the same total dispersion on each grid and converges to the D_ax solution
    only_load = {"wash_cv": 0, "strip_cv": 0, "elution_cv": 0.1, "axial_dispersion": 4e-6}
    dbc = [
        Chromatography("col", only_load | {"cells": n}).run({"load": load_stream(60.0)}).kpis["dbc10_g_per_L"]
        for n in (20, 40, 80)
    ]
    d1, d2 = abs(dbc[1] - dbc[0]), abs(dbc[2] - dbc[1])
    assert d2 < 0.6 * d1
    assert d2 < 0.01 * dbc[2]


def test_koren_scheme_is_closer_to_the_fine_grid_than_upwind():
    only_load = {"wash_cv": 0, "strip_cv": 0, "elution_cv": 0.1}
    fine = Chromatography("col", only_load | {"cells": 120}).run({"load": load_stream(60.0)}).kpis["dbc10_g_per_L"]
    up = Chromatography("col", only_load | {"cells": 30}).run({"load": load_stream(60.0)}).kpis["dbc10_g_per_L"]
    hr = (
        Chromatography("col", only_load | {"cells": 30}, {"scheme": "koren"})
        .run({"load": load_stream(60.0)})
        .kpis["dbc10_g_per_L"]
    )
    assert abs(hr - fine) < abs(up - fine)


@pytest.mark.parametrize("connected", [False, True])
def test_mass_balance_closes(connected):
    unit = Chromatography("col")
    inlets = {"load": load_stream(40.0)}
    if connected:
        inlets["wash_buffer"] = Stream("wash", 0.05, {"water": 49.9, "salts": 0.05 * SALT_20MM * 1e3})
        inlets["elution_buffer"] = Stream("elu", 0.05, {"water": 49.0, "salts": 0.05 * 58.44, "citrate": 0.1})
    r = unit.run(inlets)
    assert r.ok and r.generated == {}
    assert set(r.supplied) == ({"wash_buffer", "elution_buffer"} if not connected else set())
    everything = {**inlets, **r.supplied}
    for comp, residual in r.balance(inlets).items():  # balance() counts the supplied buffers itself
        total = sum(s.mass.get(comp, 0.0) for s in everything.values())
        assert abs(residual) <= 1e-9 * total, comp
    volume_in = sum(s.volume for s in everything.values())
    assert sum(s.volume for s in r.outlets.values()) == pytest.approx(volume_in, rel=1e-10)
    assert 0.8 < r.kpis["yield"] <= 1.0 and 0.5 < r.kpis["purity"] <= 1.0
    pool = r.outlets["pool"]
    assert pool.mass["antigen"] == pytest.approx(r.kpis["yield"] * r.kpis["product_loaded_g"] / 1e3, rel=1e-12)


def test_load_stops_at_ten_percent_breakthrough_exactly():
    unit = Chromatography("col")  # default: stop the load at 10 % breakthrough
    load = load_stream(200.0)
    r = unit.run({"load": load})
    first = r.phases[0]
    assert first.name == "load" and first.ended_by == "condition"
    at_end = np.interp(first.end, r.series.index, r.series["outlet_antigen"])
    assert at_end == pytest.approx(0.2, rel=1e-6)  # 10 % of 2 g/L
    used = r.kpis["load_volume_L"]
    assert r.outlets["load_remaining"].volume * 1e3 == pytest.approx(200.0 - used, rel=1e-9)
    V = unit.column_volume * 1e3
    assert r.kpis["dbc10_g_per_L"] == pytest.approx(2.0 * (used - 0.65 * V) / V, rel=1e-6)
    assert 0.3 * 35 < r.kpis["dbc10_g_per_L"] < 35  # below the static capacity per bed volume


def test_bad_input_names_the_field():
    with pytest.raises(ParameterError) as err:
        Chromatography("col", {"total_porosity": 1.5, "antigen_qmax": "10 kg"})
    assert {f for f, _ in err.value.errors} == {"total_porosity", "antigen_qmax"}
    with pytest.raises(ParameterError, match="col.config.product"):
        Chromatography("col", config={"product": "glucose"})
    with pytest.raises(ParameterError, match="col.config"):
        Chromatography("col", config={"modifier": "antigen"})
    unit = Chromatography("col")
    with pytest.raises(ParameterError, match="col.load"):
        unit.run({"wash_buffer": Stream("w", 0.01, {"water": 10.0})})
    with pytest.raises(ParameterError, match="col.feed"):
        unit.run({"load": load_stream(10.0), "feed": load_stream(1.0)})
    with pytest.raises(ParameterError, match="col.load.volume"):
        unit.run({"load": Stream("load", 0.0, {})})
    r = unit.run({"load": load_stream(10.0), "elution_buffer": Stream("e", 0.001, {"water": 1.0, "salts": 0.058})})
    assert not r.ok and "elution" in r.message


def test_registered_by_kind():
    from bioprocess_twin.catalogue import unit_class

    assert unit_class("chromatography") is Chromatography


# -- the process model chromatography_lkm (the unit's column model, standalone, per cross-section) -----------
EPS, LOAD = 0.65, {"antigen": 1.0, "hcp": 0.2, "dna": 0.02}  # the defaults: porosity, load g/L


def hand_capacity(salt=0.02):
    """eps c_F + (1 - eps) q*(c_F), g/L bed: competitive Langmuir with the default binding parameters."""
    K = {
        "antigen": 50.0 * math.exp(-8.0 * salt),
        "hcp": 2.0 * math.exp(-8.0 * salt),
        "dna": 100.0 * math.exp(-4.0 * salt),
    }
    q_star = 100.0 * K["antigen"] * LOAD["antigen"] / (1 + sum(K[b] * LOAD[b] for b in K))
    return EPS * LOAD["antigen"] + (1 - EPS) * q_star


def balance(k):
    return k["product_lost_g_per_L"] + k["product_eluted_g_per_L"] + k["product_bound_at_end_g_per_L"]


def test_process_model_default_recipe_recovers_a_load_within_capacity():
    run = catalogue.get("chromatography_lkm").run()
    assert run.ok, run.result.message
    assert list(dict.fromkeys(run.result.phases)) == ["load", "wash", "elute", "strip"]
    k = run.kpis
    assert k["equilibrium_capacity_g_per_L"] == pytest.approx(hand_capacity(), rel=1e-12)
    assert k["product_loaded_g_per_L"] == pytest.approx(20.0 * 1.0, rel=1e-9)  # 20 CV of 1 g/L
    assert k["product_loaded_g_per_L"] < 0.7 * hand_capacity()
    assert abs(k["product_lost_g_per_L"]) < 1e-5  # nothing breaks through
    assert k["yield"] == pytest.approx(1.0, abs=1e-6)  # all of it elutes
    assert balance(k) == pytest.approx(k["product_loaded_g_per_L"], rel=1e-8)
    assert 0.5 < k["purity"] < 1.0 and k["peak_concentration_g_per_L"] > 10 * LOAD["antigen"]
    # 33 column volumes of 20 cm at 150 cm/h
    assert k["cycle_time_h"] == pytest.approx((20 + 5 + 5 + 3) * 0.2 / 1.5, rel=1e-12)


def test_process_model_overload_elutes_at_most_the_bound_capacity():
    run = catalogue.get("chromatography_lkm").run(parameters={"load_cv": 60, "load_stop_breakthrough": 0})
    assert run.ok, run.result.message
    k = run.kpis
    bound_at_equilibrium = hand_capacity() - EPS * LOAD["antigen"]  # (1 - eps) q*(c_F)
    assert 0.8 * bound_at_equilibrium < k["product_eluted_g_per_L"] < bound_at_equilibrium
    assert k["yield"] < hand_capacity() / 60.0
    assert balance(k) == pytest.approx(60.0, rel=1e-8)


def test_process_model_load_stops_at_ten_percent_breakthrough():
    run = catalogue.get("chromatography_lkm").run(parameters={"load_cv": 200})
    assert run.ok, run.result.message
    phases = np.asarray(run.result.phases)
    wash = int(np.flatnonzero(phases == "wash")[0])  # the state at the end of the load
    assert run.result.output("outlet_antigen")[wash] == pytest.approx(0.1 * LOAD["antigen"], rel=1e-6)
    k = run.kpis
    assert 0.8 * hand_capacity() < k["product_loaded_g_per_L"] < hand_capacity()
    assert k["load_cv"] < 200
    assert balance(k) == pytest.approx(k["product_loaded_g_per_L"], rel=1e-8)


def test_the_unit_has_the_process_model():
    assert Chromatography.process is ChromatographyLkm
    assert Chromatography("col").describe()["process"] == "chromatography_lkm"
    unit_model, process_model = build_column_model(50, "upwind"), catalogue.get("chromatography_lkm").model
    assert unit_model.parameters.names == process_model.parameters.names
    assert [v.name for v in unit_model.states] == [v.name for v in process_model.states]
