"""Mixing tank: blend by hand, q.s. to a target, mixing-time trends, premix d32 vs rotor speed."""

import math

import pytest

from bioprocess_twin.core import ParameterError
from bioprocess_twin.core.streams import Stream
from bioprocess_twin.correlations import agitation
from bioprocess_twin.units.mixing_tank import MixingTank, lognormal_volume_psd, premix_d32


def inlets():
    return {
        "antigen": Stream("antigen", 0.010, {"water": 10.0, "antigen": 0.040, "salts": 0.09}, 278.15),
        "adjuvant": Stream(
            "adjuvant",
            0.050,
            {"water": 47.5, "squalene": 2.145, "polysorbate_80": 0.25},
            293.15,
            lognormal_volume_psd(150, 0.3),
            "squalene",
        ),
        "buffer": Stream("buffer", 0.100, {"water": 100.0, "salts": 0.9, "citrate": 0.2}, 293.15),
    }


def max_abs(balance):
    return max(abs(x) for x in balance.values())


def test_blend_concentrations_by_hand_and_exact_balance():
    feed = inlets()
    result = MixingTank("tank", {"hold_up_volume": 1.6}).run(feed)
    assert result.ok
    assert max_abs(result.balance(feed)) < 1e-12
    blend = result.outlets["blend"]
    # 160 L in, 1.6 L (1 %) held up
    assert blend.volume == pytest.approx(0.1584)
    assert blend.concentration("antigen") == pytest.approx(0.040 / 0.160)  # 0.25 g/L
    assert blend.concentration("salts") == pytest.approx(0.99 / 0.160)
    assert blend.concentration("squalene") == pytest.approx(2.145 / 0.160)
    assert blend.temperature == pytest.approx((0.01 * 278.15 + 0.15 * 293.15) / 0.16)
    assert result.outlets["hold_up_loss"].mass["antigen"] == pytest.approx(0.040 * 0.01)
    assert blend.particles is not None and blend.dispersed == "squalene"
    assert result.kpis["c_antigen_g_per_L"] == pytest.approx(0.25)


def test_target_concentration_draws_only_the_buffer_needed():
    feed = inlets()
    result = MixingTank("tank", {"target_concentration": "0.4 g/L", "hold_up_volume": 0}).run(feed)
    # 40 g antigen in 60 L -> 100 L at 0.4 g/L: 40 L of the 100 L buffer
    assert result.outlets["blend"].volume == pytest.approx(0.100)
    assert result.outlets["blend"].concentration("antigen") == pytest.approx(0.4)
    assert result.outlets["unused_diluent"].volume == pytest.approx(0.060)
    assert result.outlets["unused_diluent"].mass["salts"] == pytest.approx(0.9 * 0.6)
    assert result.kpis["diluent_used_L"] == pytest.approx(40.0)
    assert max_abs(result.balance(feed)) < 1e-12
    with pytest.raises(ParameterError, match="tank.target_concentration"):
        MixingTank("tank", {"target_concentration": 0.1}).run(feed)  # needs 340 L of buffer


def test_mixing_time_falls_with_speed_and_rises_with_scale():
    small = MixingTank("t", {"tank_volume": 200, "agitation": 100})
    fast = MixingTank("t", {"tank_volume": 200, "agitation": 200})
    large = MixingTank("t", {"tank_volume": 2000, "agitation": 100})
    t_small = small.mixing(0.2, 1000)["mixing_time_s"]
    assert fast.mixing(0.2, 1000)["mixing_time_s"] == pytest.approx(t_small / 2)  # theta ~ 1/N
    assert large.mixing(2.0, 1000)["mixing_time_s"] == pytest.approx(t_small)  # same N, same geometry
    # equal tip speed at 10x volume: N ~ 1/D ~ V^(-1/3), so theta rises by 10^(1/3)
    tip = MixingTank("t", {"tank_volume": 2000, "agitation": 100 / 10 ** (1 / 3)})
    assert tip.mixing(2.0, 1000)["mixing_time_s"] == pytest.approx(t_small * 10 ** (1 / 3))
    # Grenville/Nienow by hand for the full 200 L tank with a pitched-blade turbine, H = T, D/T = 0.33
    T = (4 * 0.2 / math.pi) ** (1 / 3)
    Np = agitation.IMPELLERS["pitched_blade"].power_number
    assert t_small == pytest.approx(5.20 / (100 / 60 * Np ** (1 / 3)) / 0.33**2)
    assert small.mixing(0.2, 1000)["tank_diameter_m"] == pytest.approx(T)


def test_batch_time_is_fill_plus_mixing_plus_hold():
    feed = inlets()
    unit = MixingTank("tank", {"transfer_rate": "8 L/min", "mixing_times": 5, "hold_time": 2})
    result = unit.run(feed)
    theta = result.kpis["mixing_time_s"]
    assert [p.name for p in result.phases] == ["fill", "mix", "hold"]
    assert result.duration == pytest.approx(160 / 8 / 60 + 5 * theta / 3600 + 2)
    shortened = unit.run(feed, phases=[{"name": "hold", "duration": 0.5}])
    assert shortened.duration == pytest.approx(result.duration - 1.5)
    capped = unit.run(feed, phases=[{"name": "mix", "duration": 1e-4}])
    assert capped.status == "failed" and "mix" in capped.message
    with pytest.raises(ParameterError, match="tank.phases.stir"):
        unit.run(feed, phases=[{"name": "stir", "duration": 1}])


def oil_and_water():
    return {
        "oil": Stream("oil", 0.005, {"squalene": 4.29}),
        "aqueous": Stream("aqueous", 0.095, {"water": 95.0, "polysorbate_80": 0.5, "sorbitan_trioleate": 0.5}),
    }


def test_premix_d32_falls_with_rotor_speed_as_we_to_the_minus_0_6():
    feed = oil_and_water()
    d32 = {}
    for rpm in (2000, 4000):
        result = MixingTank("pre", {"rotor_speed": rpm}, {"mode": "premix"}).run(feed)
        assert result.ok and max_abs(result.balance(feed)) < 1e-12
        blend = result.outlets["blend"]
        assert blend.dispersed == "squalene"
        d32[rpm] = blend.particles.statistics()["d32_nm"]
        assert d32[rpm] == pytest.approx(result.kpis["premix_d32_nm"], rel=0.01)
    assert d32[4000] / d32[2000] == pytest.approx(2**-1.2, rel=0.01)  # We ~ N^2 -> d32 ~ N^-1.2
    # 10 cm head at 3600 rpm, sigma 10 mN/m, phi 0.05: a 1-3 um pre-emulsion
    d = premix_d32(0.10, 60.0, 0.010, 0.05, 1000.0) * 1e9
    assert d == pytest.approx(0.035 * 1.15 * 0.1 * (1000 * 60**2 * 0.1**3 / 0.01) ** -0.6 * 1e9)
    assert 1000 < d < 3000


def test_bad_input_names_the_field():
    with pytest.raises(ParameterError, match="tank.config.impeller"):
        MixingTank("tank", config={"impeller": "egg_beater"})
    with pytest.raises(ParameterError, match="tank.adjuvant"):
        MixingTank("tank").run({"antigen": inlets()["antigen"]})
    with pytest.raises(ParameterError, match="tank.tank_volume"):
        MixingTank("tank", {"tank_volume": 50}).run(inlets())
    with pytest.raises(ParameterError, match="agitation"):
        MixingTank("tank", {"agitation": -5})
    with pytest.raises(ParameterError, match="config.diluent"):
        MixingTank("tank", {"target_concentration": 1}, {"diluent": "wfi"})


def test_configurable_inlets_and_optional_buffer():
    feed = {
        "drug": Stream("drug", 0.02, {"water": 20.0, "antigen": 0.01}),
        "alum": Stream("alum", 0.02, {"water": 20.0, "salts": 0.1}),
    }
    unit = MixingTank("tank", config={"inlets": ["drug", "alum"], "optional_inlets": []})
    result = unit.run(feed)
    assert result.outlets["blend"].concentration("antigen") == pytest.approx(
        0.01 / 0.04
    )  # hold-up keeps the composition
    assert max_abs(result.balance(feed)) < 1e-12
    no_buffer = {k: v for k, v in inlets().items() if k != "buffer"}
    assert MixingTank("tank").run(no_buffer).ok
