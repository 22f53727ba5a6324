"""The microbial fed-batch unit: balances, an analytic invariant, trends, conditions, errors, use in a line."""

import pytest

from bioprocess_twin.catalogue import unit_class
from bioprocess_twin.core import ParameterError
from bioprocess_twin.core.recipe import Phase
from bioprocess_twin.line.definition import parse_line
from bioprocess_twin.line.flowsheet import run_line
from bioprocess_twin.units.microbial_bioreactor import MicrobialBioreactor, microbial_feed, microbial_medium

INLETS = {"medium": microbial_medium(), "feed": microbial_feed()}


def batch_only(hours: float, **until) -> list[Phase]:
    return [Phase(name="batch", duration=hours, inputs={"feed_rate": 0.0}, points=40, until=until or None)]


@pytest.mark.parametrize("law", ["monod", "haldane", "contois"])
def test_balance_closes_per_component(law):
    result = MicrobialBioreactor("f", config={"growth_law": law}).run(INLETS)
    assert result.ok, result.message
    assert set(result.outlets) == {"broth", "feed_remaining"}
    for comp, kg in result.balance(INLETS).items():
        assert abs(kg) < 1e-12, (comp, kg)
    assert result.generated["biomass"] > 0 > result.generated["glucose"]
    # no more biomass than the yield allows from the glucose used (Pirt: maintenance takes the rest)
    unit = MicrobialBioreactor("f", config={"growth_law": law})
    assert result.generated["biomass"] < unit.parameters.defaults()["Y_xs"] * -result.generated["glucose"]


def test_batch_without_maintenance_keeps_x_plus_yield_times_s():
    """Monod batch, no maintenance: dX = -Y dS, so X + Y S in the broth is invariant."""
    unit = MicrobialBioreactor("f", {"m_s": 0.0, "Y_xs": 0.45})
    result = unit.run({"medium": INLETS["medium"]}, batch_only(6.0))
    start = INLETS["medium"].mass
    end = result.outlets["broth"].mass
    invariant = lambda m: m["biomass"] + 0.45 * m["glucose"]  # noqa: E731
    assert end["biomass"] > 10 * start["biomass"]
    assert invariant(end) == pytest.approx(invariant(start), rel=1e-7)


def test_more_feed_gives_more_biomass_and_more_power_gives_higher_kla():
    low = MicrobialBioreactor("f", {"feed_rate_pct": 0.2}).run(INLETS)
    high = MicrobialBioreactor("f", {"feed_rate_pct": 0.4}).run(INLETS)
    assert high.outlets["broth"].mass["biomass"] > 1.3 * low.outlets["broth"].mass["biomass"]
    gentle = MicrobialBioreactor("f", {"power_per_volume": 500.0}).run(INLETS)
    assert gentle.kpis["kla_1_per_h"] < high.kpis["kla_1_per_h"]
    assert gentle.kpis["min_DO_pct"] < high.kpis["min_DO_pct"]


def test_substrate_inhibition_slows_haldane_growth_at_high_substrate():
    rich = {"medium": microbial_medium(glucose_g_per_L=80.0)}
    monod = MicrobialBioreactor("m").run(rich, batch_only(5.0))
    haldane = MicrobialBioreactor("h", {"K_i": 5.0}, {"growth_law": "haldane"}).run(rich, batch_only(5.0))
    assert haldane.outlets["broth"].mass["biomass"] < 0.5 * monod.outlets["broth"].mass["biomass"]


def test_a_condition_stops_the_batch_when_the_substrate_runs_out():
    unit = MicrobialBioreactor("f")
    result = unit.run({"medium": INLETS["medium"]}, batch_only(30.0, variable="S_conc", op="<", value=0.5, then="stop"))
    assert result.phases[-1].ended_by == "condition"
    assert 3.0 < result.duration < 30.0
    assert result.series["S_conc"].iloc[-1] == pytest.approx(0.5, abs=1e-5)


def test_bad_configs_and_inlets_are_named():
    with pytest.raises(ParameterError) as err:
        MicrobialBioreactor("f", config={"growth_law": "logistic"})
    assert "growth_law" in str(err.value)
    with pytest.raises(ParameterError) as err:
        MicrobialBioreactor("f", config={"impeller": "eggbeater"})
    assert err.value.errors[0][0] == "f.config.impeller"
    unit = MicrobialBioreactor("f")
    no_cells = microbial_medium(biomass_g_per_L=0.0)
    with pytest.raises(ParameterError) as err:
        unit.run({"medium": no_cells, "feed": INLETS["feed"]})
    assert err.value.errors[0][0] == "f.medium.mass.biomass"
    with pytest.raises(ParameterError) as err:
        unit.run({"medium": INLETS["medium"]})
    assert err.value.errors[0][0] == "f.feed"
    with pytest.raises(ParameterError) as err:
        unit.run({"medium": INLETS["medium"], "feed": microbial_feed(volume_L=0.01)})
    assert err.value.errors[0][0] == "f.feed.volume"


def test_runs_in_a_line_by_its_registered_kind():
    assert unit_class("microbial_bioreactor") is MicrobialBioreactor
    line = parse_line(
        {
            "name": "ecoli",
            "version": "0.1",
            "units": {
                "fermenter": {
                    "kind": "microbial_bioreactor",
                    "parameters": {"culture_hours": "20 h"},
                    "config": {"product": "protein"},
                }
            },
            "feeds": {
                "medium": {
                    "to": "fermenter.medium",
                    "volume": "1 L",
                    "concentrations": {"biomass": "0.1 g/L", "glucose": "10 g/L"},
                },
                "glucose_feed": {"to": "fermenter.feed", "volume": "0.1 L", "concentrations": {"glucose": "500 g/L"}},
            },
        }
    )
    result = run_line(line)
    assert result.ok, result.message
    assert max(abs(v) for v in result.line_balance().values()) < 1e-12
    assert result.kpis()["fermenter.final_biomass_g_per_L"] > 5
    assert result.results["fermenter"].outlets["broth"].mass["protein"] > 0
