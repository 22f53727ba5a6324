"""What a line run gives people to read: the stream table (volume in L, temperature in degC by pint, main
solutes) and the summary KPIs with the largest line mass-balance residual, from a real batch of the shipped
adjuvant-only line; and a plan's demand in millions of doses."""

from __future__ import annotations

import pytest

from bioprocess_twin.core.resources import example_path
from bioprocess_twin.core.spec import SpecError
from bioprocess_twin.core.units import ureg
from bioprocess_twin.line.definition import load_line
from bioprocess_twin.line.flowsheet import run_line
from bioprocess_twin.line.plan_spec import load_plan_spec


@pytest.fixture(scope="module")
def result():
    out = run_line(load_line("adjuvant_only"))
    assert out.ok, out.message
    return out


def test_the_stream_table_has_one_row_per_stream_in_display_units(result):
    rows, streams = result.stream_table(), result.streams()
    assert len(rows) == len(streams) > 0
    for row, s in zip(rows, streams):
        stream = s["stream"]
        assert (row["from"], row["to"]) == (s["from"], s["to"])
        assert row["volume_L"] == pytest.approx(ureg.Quantity(stream.volume, "m^3").to("L").magnitude, abs=1e-3)
        assert row["T_C"] == pytest.approx(ureg.Quantity(stream.temperature, "K").to("degC").magnitude, abs=0.01)
        solutes = {k: stream.concentration(k) for k in stream.mass if k != "water" and stream.concentration(k) > 0}
        named = [part.rsplit(" ", 1) for part in row["main solutes (g/L)"].split(", ") if part]
        assert [n for n, _ in named] == sorted(solutes, key=solutes.get, reverse=True)[:4]
        assert all(float(c) == pytest.approx(solutes[n], rel=1e-3) for n, c in named)
        if stream.particles is None:
            assert row["d50_nm"] is None
        else:
            assert row["d50_nm"] == pytest.approx(stream.particles.statistics()["d50_nm"], abs=0.05)
    assert any(r["d50_nm"] for r in rows) and any(r["T_C"] != 0 for r in rows)


def test_the_summary_kpis_lead_with_duration_units_and_the_balance_residual(result):
    kpis = result.summary_kpis()
    assert list(kpis)[:3] == ["batch_duration_h", "units_run", "line_balance_residual_kg"]
    assert kpis["batch_duration_h"] == result.duration and kpis["units_run"] == len(result.results) == 4
    worst = max(abs(v) for v in result.line_balance().values())
    assert kpis["line_balance_residual_kg"] == result.balance_residual() == worst
    assert worst < 1e-6  # the line balance closes
    assert {k: v for k, v in kpis.items() if "." in k} == {k: v for k, v in result.kpis().items() if "." in k}
    assert kpis["fill.doses"] == result.results["fill"].kpis["doses"]


def test_a_plan_demand_in_millions_of_doses():
    spec = load_plan_spec(example_path("plans", "two_step_small.yaml"))
    doses = spec.demand()["vaccine_A"]
    assert spec.demand("Mdose")["vaccine_A"] == pytest.approx(ureg.Quantity(doses, "dose").to("Mdose").magnitude)
    changed = spec.with_demand({"vaccine_A": 0.006}, "Mdose")
    assert changed.product("vaccine_A").demand_doses == pytest.approx(6000.0)
    assert spec.product("vaccine_A").demand_doses == doses  # a copy
    assert spec.with_demand({"vaccine_A": 7000}).product("vaccine_A").demand_doses == 7000
    for demand, words in (
        ({"vaccine_A": "lots"}, "expected a number"),
        ({"vaccine_A": -1.0}, "greater"),
        ({"vaccine_Z": 1.0}, "unknown product"),
    ):
        with pytest.raises(SpecError) as info:
            spec.with_demand(demand, "Mdose")
        assert any(words in m for _, m in info.value.errors), info.value.errors
        assert any(f.startswith("demand") or "demand_doses" in f for f, _ in info.value.errors)
