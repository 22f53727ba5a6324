"""Fill: dose count by hand, exact balance, overfill trade-off, USP <1151> excess volumes."""

import pytest

from bioprocess_twin.core import ParameterError
from bioprocess_twin.core.streams import Stream
from bioprocess_twin.units.fill import Fill, usp_1151_excess
from bioprocess_twin.units.mixing_tank import lognormal_volume_psd


def bulk(volume_L=10.0):
    V = volume_L / 1e3
    return Stream(
        "bulk",
        V,
        {"water": 1000 * V, "antigen": 0.03 * V, "squalene": 19.5 * V},
        particles=lognormal_volume_psd(150, 0.3),
        dispersed="squalene",
    )


def test_dose_count_by_hand():
    # 10 L - 0.5 L line - 0.2 L heel = 9300 mL; 0.6 mL per vial -> 15500 vials; 1 % rejects -> 15345
    result = Fill("fill").run({"bulk": bulk()})
    k = result.kpis
    assert k["fill_volume_mL"] == pytest.approx(0.6)
    assert k["vials_filled"] == 15500 and k["vials"] == 15345 and k["vials_rejected"] == 155
    assert k["doses"] == 15345
    assert k["dose_yield"] == pytest.approx(15345 * 0.5 / 10_000)
    assert k["fill_time_h"] == pytest.approx(15500 / 100 / 60)
    assert result.duration == pytest.approx(1.0 + 15500 / 6000)
    assert [p.name for p in result.phases] == ["setup", "fill"]


def test_multidose_vials_and_remainder():
    result = Fill("fill", {"doses_per_vial": 10, "overfill": 0.5, "reject_fraction": 0}).run({"bulk": bulk()})
    # 5.5 mL per vial: floor(9300 / 5.5) = 1690 vials, 16900 doses, 5 mL left over
    assert result.kpis["vials"] == 1690 and result.kpis["doses"] == 16900
    assert result.kpis["loss_remainder_mL"] == pytest.approx(9300 - 1690 * 5.5)


def test_mass_balance_is_exact_and_losses_carry_the_bulk_composition():
    feed = {"bulk": bulk()}
    result = Fill("fill").run(feed)
    assert max(abs(x) for x in result.balance(feed).values()) < 1e-15
    filled, losses = result.outlets["filled"], result.outlets["losses"]
    assert filled.volume == pytest.approx(15345 * 0.6e-6)
    assert losses.volume == pytest.approx(0.010 - 15345 * 0.6e-6)
    assert filled.concentration("antigen") == pytest.approx(0.03)
    assert losses.concentration("squalene") == pytest.approx(19.5)
    # filling splits the bulk without changing the emulsion: the vials hold the bulk's droplet sizes
    assert filled.dispersed == "squalene"
    assert filled.particles.statistics() == pytest.approx(feed["bulk"].particles.statistics(), rel=1e-12)
    k = result.kpis
    parts = k["loss_line_mL"] + k["loss_heel_mL"] + k["loss_rejects_mL"] + k["loss_remainder_mL"]
    assert parts == pytest.approx(losses.volume * 1e6)


def test_more_overfill_gives_fewer_vials():
    vials = [Fill("fill", {"overfill": o}).run({"bulk": bulk()}).kpis["vials"] for o in (0.05, 0.10, 0.15)]
    assert vials[0] > vials[1] > vials[2]


def test_usp_1151_excess_volumes():
    assert usp_1151_excess(0.5) == 0.10 and usp_1151_excess(0.5, viscous=True) == 0.12
    assert usp_1151_excess(5.0) == 0.30 and usp_1151_excess(3.0) == 0.30  # next table size up
    assert usp_1151_excess(100.0) == pytest.approx(2.0)  # 2 % above 50 mL
    unit = Fill("fill", {"doses_per_vial": 10}, {"overfill_rule": "usp1151_viscous"})
    assert unit.fill_volume() == pytest.approx((5.5e-6, 0.5e-6), rel=1e-12)  # m^3: 10 x 0.5 mL, viscous


def test_bad_input_names_the_field():
    with pytest.raises(ParameterError, match="fill.bulk"):
        Fill("fill").run({"bulk": bulk(0.5)})
    with pytest.raises(ParameterError, match="reject_fraction"):
        Fill("fill", {"reject_fraction": 0.9})
    with pytest.raises(ParameterError, match="fill.config.overfill_rule"):
        Fill("fill", config={"overfill_rule": "generous"})
    capped = Fill("fill").run({"bulk": bulk()}, phases=[{"name": "fill", "duration": 1.0}])
    assert capped.status == "failed" and "fill" in capped.message
