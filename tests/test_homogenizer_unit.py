"""Homogenizer unit: the emulsion model applied to a stream; size trends, balance, time = n V / Q."""

import math

import pytest

from bioprocess_twin.core import ParameterError
from bioprocess_twin.core.streams import Stream
from bioprocess_twin.processes.emulsion_homogenizer import EmulsionHomogenizer
from bioprocess_twin.units.homogenizer import Homogenizer
from bioprocess_twin.units.mixing_tank import lognormal_volume_psd

RHO_SQUALENE = 858.0


def pre_emulsion(volume_L=100.0, surfactant_g_per_L=5.0, d50_nm=2000.0, width=0.5, oil_fraction=0.05):
    V = volume_L / 1e3
    mass = {
        "water": 1000 * V * (1 - oil_fraction),
        "squalene": RHO_SQUALENE * oil_fraction * V,
        "polysorbate_80": surfactant_g_per_L * V,
        "sorbitan_trioleate": surfactant_g_per_L * V,
        "citrate": 2.0 * V,
    }
    return Stream("feed", V, mass, 293.15, lognormal_volume_psd(d50_nm, width), "squalene")


def run(parameters=None, feed=None, **config):
    feed = feed or pre_emulsion()
    unit = Homogenizer("hpH", parameters, config or None)
    result = unit.run({"feed": feed})
    assert result.ok, result.message
    return result


def test_stream_maps_to_model_parameters():
    feed = pre_emulsion(oil_fraction=0.04, surfactant_g_per_L=3.0, d50_nm=1500, width=0.4)
    p = Homogenizer("hpH").model_parameters(feed)
    assert p["oil_fraction"] == pytest.approx(0.04)
    assert p["tween80"] == pytest.approx(3.0) and p["span85"] == pytest.approx(3.0)
    assert p["feed_d50"] == f"{feed.particles.statistics()['d50_nm']} nm"
    assert float(p["feed_d50"].split()[0]) == pytest.approx(1500, rel=0.02)
    assert p["feed_gsd"] == pytest.approx(0.4, rel=0.03)


def test_higher_pressure_gives_smaller_droplets_and_hotter_chamber():
    low, high = (run({"pressure": p, "passes": 3}) for p in (500, 1500))
    assert high.kpis["z_average_nm"] < 0.75 * low.kpis["z_average_nm"]
    assert high.kpis["d50_nm"] < low.kpis["d50_nm"]
    # 2.46 K per 100 bar (docs/models/emulsion_homogenizer.md)
    rise = high.kpis["chamber_outlet_C"] - low.kpis["chamber_outlet_C"]
    assert rise == pytest.approx(1000 / 100 * 2.46, rel=0.05)


def test_more_surfactant_in_the_feed_gives_smaller_droplets_and_less_coalescence():
    poor = run({"passes": 4}, feed=pre_emulsion(surfactant_g_per_L=1.0))
    rich = run({"passes": 4}, feed=pre_emulsion(surfactant_g_per_L=5.0))
    assert rich.kpis["z_average_nm"] < 0.6 * poor.kpis["z_average_nm"]
    assert rich.kpis["coalescence_per_pass"] < poor.kpis["coalescence_per_pass"]
    assert rich.kpis["coverage"] > poor.kpis["coverage"]


def test_mass_balance_closes_exactly_and_outlet_carries_the_new_size():
    feed = pre_emulsion()
    result = run({"hold_up_volume": 2.0}, feed=feed)
    balance = result.balance({"feed": feed})
    assert set(balance) == {"water", "squalene", "polysorbate_80", "sorbitan_trioleate", "citrate"}
    assert max(abs(x) for x in balance.values()) < 1e-12
    out, loss = result.outlets["emulsion"], result.outlets["hold_up_loss"]
    assert loss.volume == pytest.approx(2e-3) and out.volume == pytest.approx(0.098)
    assert out.concentration("squalene") == pytest.approx(feed.concentration("squalene"))
    stats = out.particles.statistics()
    assert stats["d50_nm"] == pytest.approx(result.kpis["d50_nm"], rel=0.01)
    # the size is the emulsion model's for this stream: 5 % oil, 5 g/L of each surfactant, a 2 um feed (width 0.5)
    alone = EmulsionHomogenizer().run(
        parameters={
            "oil_fraction": 0.05,
            "tween80": 5.0,
            "span85": 5.0,
            "feed_d50": "2000 nm",
            "feed_gsd": 0.5,
            "n_passes": 6,
        },
        inputs={"pressure": 1000},
    )
    assert result.kpis["z_average_nm"] == pytest.approx(alone.kpis["z_average_nm"], rel=1e-4)
    assert result.kpis["z_average_nm"] < 2000 / 2  # the feed was broken up
    assert out.dispersed == "squalene" and out.temperature == pytest.approx(feed.temperature)


def test_process_time_is_passes_times_volume_over_flow():
    result = run({"passes": 4, "flow_rate": "2 L/min"}, feed=pre_emulsion(volume_L=50))
    assert result.duration == pytest.approx(4 * 50 / 120)
    assert result.kpis["process_time_h"] == pytest.approx(result.duration)
    assert [p.name for p in result.phases] == ["pass 1", "pass 2", "pass 3", "pass 4"]
    assert result.phases[2].start == pytest.approx(2 * 50 / 120)
    assert list(result.series.index) == pytest.approx([k * 50 / 120 for k in range(1, 5)])


def test_without_cooling_the_product_leaves_hot():
    result = run({"passes": 2, "cooling": 0, "pressure": 800})
    T_out = result.outlets["emulsion"].temperature - 273.15
    assert T_out == pytest.approx(result.kpis["chamber_outlet_C"])
    assert T_out == pytest.approx(20 + 2 * 8 * 2.46, rel=0.05)  # two passes of heat


def test_phases_step_the_pressure_per_pass():
    feed = pre_emulsion()
    unit = Homogenizer("hpH", {"pressure": 300})
    stepped = unit.run({"feed": feed}, phases=[{"name": "p1"}, {"name": "p2", "inputs": {"pressure": 1500}}])
    flat = unit.run({"feed": feed}, phases=[{"name": "p1"}, {"name": "p2"}])
    assert stepped.kpis["passes"] == 2 and stepped.kpis["z_average_nm"] < flat.kpis["z_average_nm"]
    with pytest.raises(ParameterError, match="phases.p1.inputs.flow"):
        unit.run({"feed": feed}, phases=[{"name": "p1", "inputs": {"flow": 1}}])


def test_bad_input_names_the_field():
    with pytest.raises(ParameterError, match="hold_up_volume"):
        run({"hold_up_volume": 99.0}, feed=pre_emulsion(volume_L=10))
    with pytest.raises(ParameterError, match="oil_fraction"):
        run(feed=pre_emulsion(oil_fraction=0.5))
    with pytest.raises(ParameterError, match="model_parameters.tween80"):
        Homogenizer("hpH", config={"model_parameters": {"tween80": 1.0}})
    with pytest.raises(ParameterError, match="passes"):
        Homogenizer("hpH", {"passes": 2.5})
    assert math.isfinite(run({"passes": 1}).kpis["span"])
