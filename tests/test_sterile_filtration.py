"""Sterile filtration: Hermia laws against their closed forms, Vmax fit and sizing, droplet loss, balance."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from bioprocess_twin.core import ParameterError
from bioprocess_twin.core.streams import Stream
from bioprocess_twin.core.units import to_si
from bioprocess_twin.units.mixing_tank import lognormal_volume_psd
from bioprocess_twin.units.sterile_filtration import (
    SterileFiltration,
    constant_pressure_throughput,
    constant_pressure_time,
    resistance_ratio,
)

J0, CAP = 1000.0, 500.0  # L/m2/h, L/m2


def protein(volume_L=100.0):
    V = volume_L / 1e3
    return Stream("feed", V, {"water": 1000 * V, "antigen": 0.2 * V, "salts": 9 * V})


def emulsion(d50_nm=130.0, volume_L=100.0):
    V = volume_L / 1e3
    return Stream(
        "feed",
        V,
        {"water": 950 * V, "squalene": 39.0 * V, "polysorbate_80": 5 * V, "antigen": 0.1 * V},
        particles=lognormal_volume_psd(d50_nm, 0.3),
        dispersed="squalene",
    )


@pytest.mark.parametrize(
    "law, closed_form",
    [
        ("complete", lambda t: CAP * (1 - np.exp(-J0 * t / CAP))),  # V = (Q0/Kb)(1 - exp(-Kb t))
        ("intermediate", lambda t: CAP * np.log(1 + J0 * t / CAP)),
        ("standard", lambda t: t / (1 / J0 + t / CAP)),  # t/V = 1/Q0 + t/Vmax
        ("cake", lambda t: CAP * (np.sqrt(1 + 2 * J0 * t / CAP) - 1)),  # t/V = 1/Q0 + V/(2 Q0 v_c)
    ],
)
def test_integrated_blocking_laws_match_hermia(law, closed_form):
    t = np.linspace(0, 2.0, 41)
    v = constant_pressure_throughput(law, J0, CAP, t)
    assert v == pytest.approx(closed_form(t), rel=1e-7, abs=1e-9)
    # and they solve the law's rate equation dv/dt = J0 R0/R(v) with R from resistance_ratio
    sol = solve_ivp(
        lambda _, y: [J0 / float(resistance_ratio(law, y[0], CAP))],
        (0, 2.0),
        [0.0],
        method="LSODA",
        t_eval=t,
        rtol=1e-10,
        atol=1e-10 * CAP,
    )
    assert sol.y[0] == pytest.approx(v, rel=1e-7, abs=1e-9)
    assert constant_pressure_time(law, J0, CAP, float(v[-1])) == pytest.approx(2.0, rel=1e-9)


def run_series(law, operation="constant_pressure", **params):
    base = {
        "area": 0.1,
        "permeability": 1000,
        "pressure": 1.0,
        "capacity": CAP,
        "hold_up_volume": 0,
        "hold_up_per_area": 0,
        "points": 200,
    }
    unit = SterileFiltration("sf", base | params, {"law": law, "operation": operation})
    return unit.run({"feed": protein(20.0)})


def test_linearised_forms_are_linear_and_vmax_is_recovered():
    # standard blocking: t/V linear in t, slope 1/Vmax, intercept 1/Q0
    s = run_series("standard").series
    t, V = s.index.to_numpy()[1:] - s.index[0], s["filtrate_L"].to_numpy()[1:]
    slope, intercept = np.polyfit(t, t / V, 1)
    assert 1 / slope == pytest.approx(CAP * 0.1, rel=1e-6)  # Vmax = 50 L on 0.1 m2
    assert 1 / intercept == pytest.approx(J0 * 0.1, rel=1e-6)  # Q0 = 100 L/h
    assert np.max(np.abs(t / V - (intercept + slope * t))) < 1e-8
    # cake filtration: t/V linear in V
    s = run_series("cake").series
    t, V = s.index.to_numpy()[1:] - s.index[0], s["filtrate_L"].to_numpy()[1:]
    slope, intercept = np.polyfit(V, t / V, 1)
    assert slope == pytest.approx(1 / (2 * J0 * CAP * 0.1**2), rel=1e-6)
    assert np.max(np.abs(t / V - (intercept + slope * V))) < 1e-8


def test_constant_flux_pressure_rise():
    for law, ratio in (
        ("complete", lambda x: 1 / (1 - x)),
        ("intermediate", np.exp),
        ("standard", lambda x: (1 - x) ** -2),
        ("cake", lambda x: 1 + x),
    ):
        r = run_series(law, "constant_flux", flux=200, max_pressure=6.0, area=1.0)
        s = r.series
        x = s["throughput_L_per_m2"].to_numpy() / CAP
        assert s["pressure_bar"].to_numpy() == pytest.approx(0.2 * ratio(x), rel=1e-9)
        assert r.kpis["filtration_time_h"] == pytest.approx(20 / 200)
    plugged = run_series("standard", "constant_flux", flux=200, max_pressure=0.8, area=0.01)
    # (1 - v/v_c)^-2 = 4 -> v = v_c / 2 = 250 L/m2 -> 2.5 L of 20 L
    assert plugged.status == "failed" and plugged.kpis["filtered_L"] == pytest.approx(2.5)
    assert max(abs(x) for x in plugged.balance({"feed": protein(20.0)}).values()) < 1e-12


def test_badmington_sizing_for_standard_blocking():
    unit = SterileFiltration(
        "sf", {"capacity": CAP, "permeability": 1000, "pressure": 1.0, "target_time": 0.5, "safety_factor": 1.5}
    )
    sizing = unit.sizing(to_si(100.0, "L"), to_si(CAP, "L/m^2"))  # the unit works in SI: m^3, m^3/m^2
    assert sizing["area_required_m2"] == pytest.approx(100 / CAP + 100 / (J0 * 0.5), rel=1e-7)
    assert sizing["area_sized_m2"] == pytest.approx(1.5 * (100 / CAP + 100 / (J0 * 0.5)), rel=1e-7)
    result = unit.run({"feed": protein()})
    assert result.ok and result.kpis["area_m2"] == pytest.approx(sizing["area_sized_m2"])
    assert result.kpis["filtration_time_h"] < 0.5


def test_larger_droplets_lose_more_oil_and_foul_more():
    fine, coarse = (SterileFiltration("sf").run({"feed": emulsion(d)}) for d in (130, 220))
    assert coarse.kpis["retained_oil_share"] > 5 * fine.kpis["retained_oil_share"]
    assert coarse.kpis["oil_loss_pct"] > fine.kpis["oil_loss_pct"]
    assert coarse.kpis["vmax_L_per_m2"] < fine.kpis["vmax_L_per_m2"]
    assert coarse.kpis["area_m2"] > fine.kpis["area_m2"]
    # retention 1/(1 + (350/d)^5) on the volume shares; the filtrate loses its coarse tail
    feed = emulsion(130)
    ps = feed.particles
    share = np.sum(ps.volume_fraction / (1 + (350 / ps.diameter_nm) ** 5))
    assert fine.kpis["retained_oil_share"] == pytest.approx(share)
    assert fine.kpis["filtrate_d90_nm"] < ps.statistics()["d90_nm"]


def test_mass_balance_is_exact():
    feed = emulsion(180)
    result = SterileFiltration("sf").run({"feed": feed})
    balance = result.balance({"feed": feed})
    assert max(abs(x) for x in balance.values()) < 1e-12
    filt, kept = result.outlets["filtrate"], result.outlets["retained"]
    hold = result.kpis["hold_up_L"] / 1e3
    assert kept.mass["antigen"] == pytest.approx(feed.mass["antigen"] * hold / feed.volume)
    assert filt.volume + kept.volume == pytest.approx(feed.volume)
    assert math.isclose(filt.concentration("antigen"), feed.concentration("antigen"), rel_tol=0.01)
    assert [p.name for p in result.phases] == ["flush", "filtration", "integrity_test"]


def test_bad_input_names_the_field():
    with pytest.raises(ParameterError, match="sf.flux"):
        SterileFiltration("sf", {"flux": 5000, "max_pressure": 2}, {"operation": "constant_flux"}).run(
            {"feed": protein()}
        )
    with pytest.raises(ParameterError, match="sf.config.law"):
        SterileFiltration("sf", config={"law": "sieve"})
    with pytest.raises(ParameterError, match="sf.hold_up_volume"):
        SterileFiltration("sf", {"hold_up_volume": 50}).run({"feed": protein(1.0)})
