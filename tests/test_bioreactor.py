"""Bioreactor kinetics against closed forms, the unit's mass balance, and physical trends."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from bioprocess_twin.catalogue import run_spec
from bioprocess_twin.core import ParameterError, SolverOptions, simulate
from bioprocess_twin.core.recipe import Phase, Transition
from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import load_spec
from bioprocess_twin.processes.cho_fed_batch import ChoFedBatch
from bioprocess_twin.processes.culture_kinetics import NUMPY, growth_rate
from bioprocess_twin.processes.microbial_fed_batch import MicrobialFedBatch, build_microbial_model
from bioprocess_twin.units.cho_bioreactor import CHOBioreactor, cho_feed, cho_medium

TIGHT = SolverOptions(rtol=1e-10, atol=1e-12)
#: no O2 limitation, no maintenance: the textbook batch
IDEAL = {"m_s": 0.0, "K_DO": 0.0, "m_o": 0.0, "Y_xo": 1.0}


def batch(law, params, t_end, n=21):
    model = build_microbial_model(law)
    return simulate(model, np.linspace(0, t_end, n), parameters=IDEAL | params, options=TIGHT)


def test_monod_batch_conserves_x_plus_y_s():
    r = batch("monod", {"K_s": 0.5, "X_0": 0.05, "S_0": 10.0, "Y_xs": 0.45}, 12.0)
    X, S = r.output("X_conc"), r.output("S_conc")
    assert X[-1] > 2.0  # grew through most of the substrate
    np.testing.assert_allclose(X + 0.45 * S, 0.05 + 0.45 * 10.0, rtol=1e-8)


def test_exponential_growth_when_substrate_is_in_excess():
    r = batch("monod", {"K_s": 0.0, "X_0": 0.01, "S_0": 50.0, "mu_max": 0.5}, 6.0)
    np.testing.assert_allclose(r.output("X_conc"), 0.01 * np.exp(0.5 * r.t), rtol=1e-8)


def test_haldane_optimum_at_sqrt_ks_ki():
    P = {"mu_max": 1.0, "K_s": 0.3, "K_i": 12.0}
    best = minimize_scalar(
        lambda s: -growth_rate("haldane", P, s, 1.0, NUMPY),
        bounds=(1e-3, 100),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert best.x == pytest.approx(math.sqrt(0.3 * 12.0), rel=1e-6)


def test_contois_rate_depends_on_substrate_per_biomass():
    P = {"mu_max": 0.8, "K_x": 0.4}
    a, b = (growth_rate("contois", P, s, x, NUMPY) for s, x in ((2.0, 1.0), (6.0, 3.0)))
    assert a == pytest.approx(b, rel=1e-14)
    assert a == pytest.approx(0.8 * 2.0 / (0.4 * 1.0 + 2.0), rel=1e-14)


def test_luedeking_piret_growth_associated_product():
    r = batch("monod", {"alpha": 0.3, "beta": 0.0, "X_0": 0.1, "S_0": 8.0, "P_0": 0.2}, 10.0)
    X, P = r.output("X_conc"), r.output("P_conc")
    np.testing.assert_allclose(P - 0.2, 0.3 * (X - 0.1), rtol=1e-8, atol=1e-10)


def test_maintenance_lowers_the_biomass_made_from_the_substrate():
    with_m = batch("monod", {"m_s": 0.1, "X_0": 0.5, "S_0": 5.0}, 4.0)
    without = batch("monod", {"X_0": 0.5, "S_0": 5.0}, 4.0)
    assert without.output("S_conc")[-1] < 1e-6 and with_m.output("S_conc")[-1] < 1e-6  # both exhausted
    assert with_m.output("X_conc")[-1] < without.output("X_conc")[-1] - 0.05  # less biomass per S


# -- the production unit ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def unit_run():
    unit = CHOBioreactor("br1")
    inlets = {"medium": cho_medium(2.0), "feed": cho_feed(1.0)}
    return unit, inlets, unit.run(inlets)


def test_default_culture_obeys_its_cell_product_and_nitrogen_balances(unit_run):
    unit, _, r = unit_run
    assert r.ok, r.message
    assert [p.name for p in r.phases] == ["batch", "fed_batch"]
    P = unit.parameters.defaults()
    s = r.series
    t, X = s.index.to_numpy(), s["viable_cells"].to_numpy()  # viable cells in the vessel (Gcount)
    mu, mu_d = s["mu"].to_numpy(), s["mu_d"].to_numpy()
    # d ln(Xv V)/dt = mu - mu_d (the feed carries no cells); dead cells = integral of mu_d Xv V
    assert math.log(X[-1] / X[0]) == pytest.approx(np.trapezoid(mu - mu_d, t), rel=0.01)
    assert s["dead_cells"].iloc[-1] - s["dead_cells"].iloc[0] == pytest.approx(np.trapezoid(mu_d * X, t), rel=0.01)
    # the VCD peaks where net growth equals the dilution by feed: mu - mu_d - F/V changes sign there
    net = mu - mu_d - s["feed_rate"].to_numpy() / s["V"].to_numpy()
    k = int(np.argmax(s["vcd"]))
    assert net[k - 1] > 0 > net[k + 1], net[k - 1 : k + 2]
    assert r.kpis["peak_day"] == pytest.approx(t[k] / 24)
    # Luedeking-Piret with alpha_p = 0: product = integral of q_p Q10^((T - T_ref)/10) Xv V dt (mg)
    assert P["alpha_p"] == 0.0
    q_p = P["q_p"] * P["Q10_productivity"] ** ((s["temperature"].to_numpy() - P["T_ref"]) / 10)
    assert s["temperature"].iloc[-1] < P["T_ref"]  # the shift to 32 degC is in the run
    assert s["antigen"].iloc[-1] == pytest.approx(np.trapezoid(q_p * X, t), rel=0.01)
    assert r.kpis["final_titre_g_per_L"] == pytest.approx(s["antigen"].iloc[-1] / s["V"].iloc[-1] / 1e3, rel=1e-9)
    # nitrogen: a glutamine consumed by cells gives Y_amm_gln ammonia, one that decomposes gives one
    gln_used, amm_made = -s["gen_glutamine"].iloc[-1], s["gen_ammonia"].iloc[-1]
    assert P["Y_amm_gln"] * gln_used < amm_made < gln_used
    # lactate: at most Y_lac_glc per glucose, and consumed again once growth slows (the lactate switch)
    assert 0 < s["gen_lactate"].iloc[-1] < P["Y_lac_glc"] * -s["gen_glucose"].iloc[-1]
    assert r.kpis["final_lactate_mM"] < 0.5 * r.kpis["max_lactate_mM"]


def test_unit_mass_balance_closes_per_component(unit_run):
    r_unit, inlets, r = unit_run
    total_in = {c: sum(s.mass.get(c, 0.0) for s in inlets.values()) for c in r.balance(inlets)}
    for comp, residual in r.balance(inlets).items():
        scale = max(total_in[comp], abs(r.generated.get(comp, 0.0)), 1e-9)
        assert abs(residual) <= 1e-9 * scale, (comp, residual)
    # the feed really entered: leaving it out of the inlets leaves exactly the fed share unbalanced
    fed_share = r.kpis["feed_used_L"] / (inlets["feed"].volume * 1e3)
    wrong = r.balance({"medium": inlets["medium"]})
    assert wrong["glucose"] == pytest.approx(-inlets["feed"].mass["glucose"], rel=1e-9)  # used + remaining
    # continuous feed of feed_rate_pct of the initial volume per day from the end of the batch phase
    P = r_unit.parameters.defaults()
    fed_days = r.kpis["duration_days"] - P["batch_days"]
    per_day = P["feed_rate_pct"] / 100 * inlets["medium"].volume * 1e3  # L/day
    assert r.kpis["feed_used_L"] == pytest.approx(per_day * fed_days, rel=1e-9)
    assert 0 < fed_share < 1
    assert r.generated["glucose"] < 0 < r.generated["lactate"]
    assert r.generated["cells"] > 10 * inlets["medium"].mass["cells"]


def test_viability_trigger_ends_the_fed_batch_at_the_crossing():
    unit = CHOBioreactor("br2", {"viability_threshold": 85.0})
    r = unit.run({"medium": cho_medium(2.0), "feed": cho_feed(1.0)})
    assert r.phases[-1].ended_by == "condition"
    assert r.duration < 14 * 24
    assert r.kpis["final_viability_pct"] == pytest.approx(85.0, abs=1e-6)
    assert r.series["viability"].iloc[:-1].min() > 85.0 - 1e-9


def test_bad_parameters_configs_and_inlets_are_named():
    with pytest.raises(ParameterError, match="mu_maxx"):
        CHOBioreactor("b", {"mu_maxx": 0.04})
    with pytest.raises(ParameterError, match="mu_max"):
        CHOBioreactor("b", {"mu_max": "0.04 m"})
    with pytest.raises(ParameterError, match="KI_amm.*outside the bounds"):
        CHOBioreactor("b", {"KI_amm": -1})
    with pytest.raises(ParameterError, match="b.config.impeller"):
        CHOBioreactor("b", config={"impeller": "eggbeater"})
    unit = CHOBioreactor("b")
    no_cells = cho_medium(2.0, seed_density=0.0)
    with pytest.raises(ParameterError, match="b.medium.mass.cells"):
        unit.run({"medium": no_cells, "feed": cho_feed()})
    with pytest.raises(ParameterError, match="b.feed.volume"):
        unit.run({"medium": cho_medium(2.0), "feed": cho_feed(0.1)})
    with pytest.raises(ParameterError, match="b.feed"):
        unit.run({"medium": cho_medium(2.0)})
    with pytest.raises(ParameterError, match="mu_maxx"):
        ChoFedBatch().run(parameters={"mu_maxx": 1})


def test_batch_only_phases_run_without_feed_and_close():
    unit = CHOBioreactor("b")
    inlets = {"medium": cho_medium(1.0)}
    r = unit.run(
        inlets,
        phases=[
            Phase(
                name="batch",
                duration=96,
                inputs={"feed_rate": 0.0},
                until=Transition(variable="glucose_conc", op="<", value=5.0),
            )
        ],
    )
    assert r.ok and "feed_remaining" not in r.outlets
    assert max(abs(v) for v in r.balance(inlets).values()) < 1e-12


# -- trends ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cho():
    return ChoFedBatch()


def test_higher_agitation_gives_higher_do(cho):
    def min_do(rpm):
        run = cho.run(inputs={"agitation": rpm, "do_control": 0}, parameters={"culture_days": 2})
        return run.kpis["min_DO_pct"], run.kpis["kla_1_per_h"]

    (do_lo, kla_lo), (do_hi, kla_hi) = min_do(150), min_do(300)
    assert kla_hi > kla_lo and do_hi > do_lo + 5


def test_more_feed_raises_titre_up_to_a_point(cho):
    titre = {
        f: cho.run(parameters={"feed_rate": f, "glucose_shot": 0}).kpis["final_titre_g_per_L"] for f in (0.0, 3.0, 40.0)
    }
    assert titre[3.0] > titre[0.0] and titre[3.0] > titre[40.0]


def test_ammonia_raises_death(cho):
    lo = cho.run(parameters={"ammonia_0": 0.5, "culture_days": 5})
    hi = cho.run(parameters={"ammonia_0": 12.0, "culture_days": 5})
    assert hi.result.output("mu_d")[0] > 2 * lo.result.output("mu_d")[0]
    assert hi.kpis["final_viability_pct"] < lo.kpis["final_viability_pct"]


def test_temperature_shift_slows_growth_and_raises_productivity(cho):
    run = cho.run(parameters={"shift_day": 6})
    df = run.result.frame(include_vectors=False)
    before, after = df.loc[142.0], df.loc[146.0]
    assert after["specific_productivity"] == pytest.approx(before["specific_productivity"] * 2**0.5, rel=0.05)
    assert after["mu"] < 0.75 * before["mu"]


def test_kla_correlation_is_selectable():
    inlets = {"medium": cho_medium(2.0), "feed": cho_feed(1.0)}
    phases = [Phase(name="batch", duration=24, inputs={"feed_rate": 0.0})]
    a = CHOBioreactor("a").run(inlets, phases)
    b = CHOBioreactor("b", config={"kla_correlation": "linek_coalescing"}).run(inlets, phases)
    assert a.kpis["kla_1_per_h"] != pytest.approx(b.kpis["kla_1_per_h"], rel=0.05)


def test_specs_run(cho):
    run = run_spec(load_spec(example_path("specs", "cho_fed_batch.yaml")))
    assert run.ok and run.kpis["peak_vcd_1e6_per_mL"] > 5
    run = run_spec(load_spec(example_path("specs", "microbial_fed_batch.yaml")))
    assert run.ok and run.kpis["final_biomass_g_per_L"] > 5
    assert run.result.model.name == MicrobialFedBatch().model.name == "microbial_fed_batch"
    # the spec's substrate is all accounted for, and no more biomass is made than Y_xs allows (Pirt)
    df, P = run.result.frame(include_vectors=False), run.result.parameters
    used = -df["gen_S"].iloc[-1]
    supplied = P["S_0"] * P["initial_volume"] + P["feed_substrate"] * df["fed_volume"].iloc[-1]
    assert used == pytest.approx(supplied - df["S"].iloc[-1], rel=1e-6)
    assert 0 < df["gen_X"].iloc[-1] < P["Y_xs"] * used
