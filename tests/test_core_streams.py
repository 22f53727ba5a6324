"""Streams: mixing conserves every component, particle blends, validation names the field."""

import numpy as np
import pytest

from bioprocess_twin.core import ParameterError
from bioprocess_twin.core.streams import ParticleSize, Stream, UnitResult


def psd(center_nm):
    d = np.geomspace(10, 10_000, 60)
    return ParticleSize(d, np.exp(-0.5 * (np.log(d / center_nm) / 0.3) ** 2))


def test_mixing_conserves_mass_and_volume_and_weights_temperature():
    a = Stream("a", 0.010, {"water": 10.0, "antigen": 0.002}, temperature=278.15)
    b = Stream(
        "b", 0.030, {"water": 29.0, "squalene": 1.3}, temperature=298.15, particles=psd(150), dispersed="squalene"
    )
    m = Stream.mix("blend", [a, b])
    assert m.volume == pytest.approx(0.040)
    assert m.mass == pytest.approx({"water": 39.0, "antigen": 0.002, "squalene": 1.3})
    assert m.temperature == pytest.approx((0.01 * 278.15 + 0.03 * 298.15) / 0.04)
    assert m.concentration("antigen") == pytest.approx(0.05)  # 2 g in 40 L
    assert m.particles is not None and m.particles.statistics()["d50_nm"] == pytest.approx(150, rel=0.02)


def test_blend_is_weighted_by_dispersed_mass():
    small = Stream("s", 0.01, {"squalene": 3.0}, particles=psd(100), dispersed="squalene")
    large = Stream("l", 0.01, {"squalene": 1.0}, particles=psd(1000), dispersed="squalene")
    blend = Stream.mix("m", [small, large]).particles
    below_300 = blend.volume_fraction[blend.diameter_nm < 300].sum()
    assert below_300 == pytest.approx(0.75, abs=1e-3)


def test_percentiles_of_a_lognormal():
    stats = psd(200).statistics()
    assert stats["d50_nm"] == pytest.approx(200, rel=1e-2)
    assert stats["d90_nm"] / stats["d50_nm"] == pytest.approx(np.exp(1.2816 * 0.3), rel=2e-2)


def test_bad_streams_name_the_field():
    with pytest.raises(ParameterError) as err:
        Stream("feed", -1.0, {"water": float("nan")}, temperature=-3)
    fields = [f for f, _ in err.value.errors]
    assert fields == ["feed.volume", "feed.mass.water", "feed.temperature"]
    with pytest.raises(ParameterError, match="dispersed"):
        Stream("e", 1.0, {"squalene": 1.0}, particles=psd(150))


def test_unit_balance_closes_only_with_generation():
    feed = {"in": Stream("in", 1.0, {"glucose": 10.0, "water": 990.0})}
    out = {"out": Stream("out", 1.0, {"glucose": 2.0, "water": 990.0, "biomass": 4.0})}
    r = UnitResult("br", "bioreactor", "ok", "", out, generated={"glucose": -8.0, "biomass": 4.0})
    assert r.balance(feed) == pytest.approx({"biomass": 0.0, "glucose": 0.0, "water": 0.0})
    r.generated = {}
    assert r.balance(feed)["glucose"] == pytest.approx(8.0)


def test_supplied_utilities_count_as_inputs():
    out = {"pool": Stream("pool", 0.002, {"water": 2.0, "salts": 0.1})}
    r = UnitResult("col", "chromatography", "ok", "", out)
    assert r.balance({})["salts"] == pytest.approx(-0.1)
    r.supplied = {"elution_buffer": Stream("default elution buffer", 0.002, {"water": 2.0, "salts": 0.1})}
    assert r.balance({}) == pytest.approx({"salts": 0.0, "water": 0.0})
