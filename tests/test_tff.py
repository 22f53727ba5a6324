"""TFF unit and its process model tff_ufdf: UF/DF against closed-form solutions, flux trends, balance closure,
exact transitions."""

import math

import numpy as np
import pytest

from bioprocess_twin import catalogue
from bioprocess_twin.core import ParameterError
from bioprocess_twin.core.recipe import Phase, Transition
from bioprocess_twin.core.streams import Stream
from bioprocess_twin.processes.tff_ufdf import COMPONENTS, TffUfdf, build_tff_model
from bioprocess_twin.units.tff import TangentialFlowFiltration

FEED = Stream("feed", 0.1, {"water": 99.0, "antigen": 0.1, "hcp": 0.02, "salts": 0.9, "glucose": 0.3})
BUFFER = Stream("buffer", 0.2, {"water": 199.0, "citrate": 0.4})


def test_uf_with_full_retention_concentrates_as_v0_over_v():
    unit = TangentialFlowFiltration("tff", {"diavolumes": 0, "concentration_factor_df": 4, "concentration_factor": 4})
    r = unit.run({"feed": FEED})
    assert r.ok and [p.name for p in r.phases] == ["UF1"]
    s = r.series
    c0 = FEED.concentration("antigen")
    V = s["retentate_volume"].to_numpy()
    np.testing.assert_allclose(s["c_antigen"], c0 * 100.0 / V, rtol=1e-12)
    assert r.outlets["retentate"].mass["antigen"] == FEED.mass["antigen"]  # S = 0: not a gram lost
    assert r.outlets["permeate"].mass["antigen"] == 0.0
    assert r.outlets["retentate"].volume == pytest.approx(0.025, rel=1e-9)  # ends exactly at V0/CF
    # a freely permeating solute keeps its concentration in UF
    np.testing.assert_allclose(s["c_salts"], FEED.concentration("salts"), rtol=1e-8)


def test_diafiltration_washes_out_as_exp_minus_sieving_times_n():
    unit = TangentialFlowFiltration("tff", config={"sieving": {"glucose": 0.4}})
    feed = Stream("feed", 0.02, {"water": 19.8, "antigen": 0.1, "salts": 0.18, "glucose": 0.06})
    phases = [
        Phase(
            name="DF",
            duration=5.0,
            inputs={"df": 1.0},
            points=30,
            until=Transition(variable="diavolumes", op=">=", value=4.0),
        )
    ]
    r = unit.run({"feed": feed, "buffer": BUFFER}, phases)
    s = r.series
    N = s["diavolumes"].to_numpy()
    assert N[-1] == pytest.approx(4.0, abs=1e-9) and r.phases[0].ended_by == "condition"
    np.testing.assert_allclose(s["retentate_volume"], 20.0, rtol=1e-10)  # constant-volume DF
    np.testing.assert_allclose(s["c_salts"] / 9.0, np.exp(-N), rtol=1e-6)
    np.testing.assert_allclose(s["c_glucose"] / 3.0, np.exp(-0.4 * N), rtol=1e-6)
    np.testing.assert_allclose(s["c_antigen"], 5.0, rtol=1e-10)
    # the buffer's own solute comes in: c = c_buf (1 - exp(-N))
    c_buf = BUFFER.concentration("citrate")
    np.testing.assert_allclose(s["c_citrate"], c_buf * (1 - np.exp(-N)), rtol=1e-6, atol=1e-12)


def test_process_time_at_constant_flux_matches_hand_calculation():
    # dilute feed, high gel concentration: the flux stays pressure-limited, J = TMP/(mu R_m)
    feed = Stream("feed", 0.1, {"water": 99.9, "antigen": 0.001})
    unit = TangentialFlowFiltration(
        "tff",
        {
            "diavolumes": 0,
            "concentration_factor_df": 10,
            "concentration_factor": 10,
            "gel_concentration": 1500,
            "tmp": 1.5,
            "membrane_area": 2.0,
        },
    )
    r = unit.run({"feed": feed})
    J = 1.5e5 / (1e-3 * 3e12) * 3.6e6  # Pa / (Pa s * 1/m) -> m/s -> L/m^2/h: 180 LMH
    assert J == pytest.approx(180.0)
    np.testing.assert_allclose(r.series["flux"], J, rtol=1e-12)
    assert r.kpis["process_time_h"] == pytest.approx(90.0 / (J * 2.0), rel=1e-8)  # 90 L at 360 L/h = 0.25 h
    assert r.kpis["average_flux_LMH"] == pytest.approx(J, rel=1e-8)


def _time(tmp, model="gel"):
    unit = TangentialFlowFiltration(
        "tff",
        {"tmp": tmp, "diavolumes": 0, "concentration_factor_df": 20, "concentration_factor": 20},
        {"flux_model": model},
    )
    r = unit.run({"feed": FEED})
    assert r.ok
    return r.kpis["process_time_h"]


def test_higher_tmp_shortens_the_process_until_the_gel_limit():
    times = [_time(tmp) for tmp in (0.25, 0.5, 1.0, 2.0, 5.0, 10.0)]
    assert times[0] > times[1] > times[2] > times[3]
    # above Lp TMP = k ln(C_g/C0) (1.4 bar) the flux is gel-limited from the start: no gain from TMP
    assert times[4] == pytest.approx(times[5], rel=1e-7)
    assert times[3] == pytest.approx(times[4], rel=1e-7)


def test_osmotic_flux_rises_ever_more_slowly_with_tmp():
    times = [_time(tmp, "osmotic") for tmp in (0.5, 1.0, 2.0, 4.0, 8.0)]
    gains = -np.diff(times)
    assert np.all(gains > 0)
    assert np.all(np.diff(gains) < 0)  # diminishing returns: the osmotic limit
    assert times[-1] > 0.5 * times[-2]  # far from TMP-proportional at high TMP


@pytest.mark.parametrize("model", ["gel", "osmotic"])
def test_mass_balance_closes_and_transitions_hit_their_targets(model):
    unit = TangentialFlowFiltration("tff", config={"flux_model": model})
    inlets = {"feed": FEED, "buffer": BUFFER}
    r = unit.run(inlets)
    assert r.ok and r.generated == {}
    for comp, residual in r.balance(inlets).items():
        total = sum(s.mass.get(comp, 0.0) for s in inlets.values())
        assert abs(residual) <= 1e-10 * total, comp
    assert [p.ended_by for p in r.phases] == ["condition"] * 3
    assert r.kpis["concentration_factor"] == pytest.approx(10.0, rel=1e-8)
    assert r.kpis["diavolumes"] == pytest.approx(7.0, rel=1e-8)
    assert r.kpis["buffer_used_L"] == pytest.approx(7 * 20.0, rel=1e-9)
    assert r.outlets["buffer_remaining"].volume == pytest.approx(0.2 - 0.14, rel=1e-8)
    assert r.kpis["product_yield"] == pytest.approx(1.0, abs=1e-12)
    # retained roles stay, small solutes are washed out by ~exp(-7), the solvent leaves with the permeate
    assert r.outlets["retentate"].mass["hcp"] == pytest.approx(0.02, rel=1e-12)
    assert r.outlets["retentate"].mass["salts"] / 0.9 == pytest.approx(math.exp(-7) / 10, rel=1e-6)  # /5 UF1, /2 UF2
    assert r.outlets["permeate"].volume == pytest.approx(0.1 + 0.14 - 0.01, rel=1e-9)


def test_gel_limit_shows_as_flux_below_the_water_flux_late_in_the_process():
    r = TangentialFlowFiltration("tff").run({"feed": FEED, "buffer": BUFFER})
    flux = r.series["flux"].to_numpy()
    assert flux[0] == pytest.approx(120.0, rel=1e-9)
    assert flux[-1] == pytest.approx(30.0 * math.log(250.0 / 10.0), rel=1e-6)


def test_bad_input_names_the_field():
    with pytest.raises(ParameterError) as err:
        TangentialFlowFiltration("uf", {"tmp": -1, "membrane_area": "2 kg"})
    assert {f for f, _ in err.value.errors} == {"tmp", "membrane_area"}
    with pytest.raises(ParameterError, match="uf.concentration_factor"):
        TangentialFlowFiltration("uf", {"concentration_factor": 2, "concentration_factor_df": 5})
    with pytest.raises(ParameterError, match=r"uf.config.sieving"):
        TangentialFlowFiltration("uf", config={"sieving": {"salts": 1.5}})
    with pytest.raises(ParameterError, match=r"uf.config.flux_model"):
        TangentialFlowFiltration("uf", config={"flux_model": "cake"})
    unit = TangentialFlowFiltration("uf")
    with pytest.raises(ParameterError, match=r"uf.feed"):
        unit.run({"buffer": BUFFER})
    with pytest.raises(ParameterError, match=r"uf.buffer"):
        unit.run({"feed": FEED})
    with pytest.raises(ParameterError, match=r"uf.buffer.volume"):
        unit.run({"feed": FEED, "buffer": BUFFER.scaled(0.5)})
    with pytest.raises(ParameterError, match=r"uf.buffer.volume"):  # no phases given: the default plan, checked
        unit.run({"feed": FEED, "buffer": BUFFER.scaled(0.5)}, phases=[])


def test_registered_by_kind():
    from bioprocess_twin.catalogue import unit_class

    assert unit_class("tff") is TangentialFlowFiltration


# -- the process model tff_ufdf (the unit's model, standalone) -------------------------------------------
def _phase_rows(series, name):
    return np.flatnonzero(series["phase"].to_numpy() == name)


def test_process_model_default_recipe_runs_uf_df_uf_to_its_targets():
    run = catalogue.get("tff_ufdf").run()
    assert run.ok, run.result.message
    s = run.series
    assert list(dict.fromkeys(s["phase"])) == ["UF1", "DF", "UF2"]
    V = s["V"].to_numpy()
    assert V[0] == pytest.approx(50.0, rel=1e-12)  # the feed charged at the start of UF1
    df, uf2 = _phase_rows(s, "DF"), _phase_rows(s, "UF2")
    assert V[df[0]] == pytest.approx(50.0 / 5, rel=1e-8)  # UF1 ends at V0/CF_df
    np.testing.assert_allclose(V[df], 10.0, rtol=1e-9)  # DF at constant volume
    assert s["diavolumes"].iloc[uf2[0]] == pytest.approx(7.0, rel=1e-8)  # DF ends at 7 diavolumes
    assert V[-1] == pytest.approx(50.0 / 10, rel=1e-8)  # UF2 ends at V0/CF
    # S = 0: not a gram of antigen lost, C = C0 V0/V; a free solute washes out as exp(-N) in DF
    assert run.kpis["product_yield"] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(s["c_antigen"], 1.0 * 50.0 / V, rtol=1e-10)
    N = s["diavolumes"].to_numpy()[df]
    np.testing.assert_allclose(s["c_salts"].to_numpy()[df], 9.0 * np.exp(-N), rtol=1e-6)
    assert run.kpis["buffer_used_L"] == pytest.approx(70.0, rel=1e-8)
    assert run.kpis["process_time_h"] == pytest.approx(
        sum(run.kpis[f"{p}_time_h"] for p in ("UF1", "DF", "UF2")), rel=1e-12
    )


def test_process_model_mass_balance_closes():
    run = catalogue.get("tff_ufdf").run(parameters={"diavolumes": 4, "buffer_salts": "2 g/L"})
    assert run.ok, run.result.message
    res = run.result
    mass, permeate = res.state("mass"), res.state("permeate")  # g
    Vb, Vp, V = res.state("buffer_used"), res.state("permeate_volume"), res.state("V")  # L
    buffer = np.array([0.0, 0.0, 0.0, 2.0, 997.0])  # g/L: antigen, dna, hcp, salts, water
    fed = mass[0] + buffer * (Vb[-1] - Vb[0])
    out = mass[-1] + permeate[-1] - permeate[0]
    np.testing.assert_allclose(out, fed, rtol=1e-9, atol=1e-9 * fed.max())
    assert V[-1] + Vp[-1] - Vp[0] == pytest.approx(V[0] + Vb[-1] - Vb[0], rel=1e-10)
    assert (permeate[-1, :3] == 0).all()  # antigen, DNA and HCP retained


def test_process_model_uf_time_at_constant_flux_matches_hand_calculation():
    # UF only of a dilute feed, gel limit far away: J = Lp TMP = 120 LMH/bar x 1.5 bar = 180 LMH on 2 m^2
    run = catalogue.get("tff_ufdf").run(
        parameters={
            "feed_volume": "20 L",
            "feed_antigen": "10 mg/L",
            "concentration_factor_df": 4,
            "diavolumes": 0,
            "concentration_factor": 4,
            "tmp": "1.5 bar",
            "gel_concentration": 1500,
            "membrane_area": "2 m^2",
        }
    )
    assert run.ok and list(dict.fromkeys(run.series["phase"])) == ["UF1"]
    assert run.series["V"].iloc[-1] == pytest.approx(5.0, rel=1e-8)
    assert run.kpis["process_time_h"] == pytest.approx(15.0 / (180.0 * 2.0), rel=1e-8)
    np.testing.assert_allclose(run.series["flux"], 180.0, rtol=1e-12)
    assert run.kpis["product_concentration_g_per_L"] == pytest.approx(0.04, rel=1e-8)


def test_process_model_rejects_a_final_factor_below_the_df_factor():
    with pytest.raises(ParameterError, match="concentration_factor"):
        catalogue.get("tff_ufdf").run(parameters={"concentration_factor": 2, "concentration_factor_df": 5})


def test_the_unit_has_the_process_model():
    assert TangentialFlowFiltration.process is TffUfdf
    assert TangentialFlowFiltration("u").describe()["process"] == "tff_ufdf"
    unit_model = build_tff_model("gel", COMPONENTS)
    process_model = catalogue.get("tff_ufdf").model
    assert unit_model.parameters.names == process_model.parameters.names
    assert [v.name for v in unit_model.states] == [v.name for v in process_model.states]
