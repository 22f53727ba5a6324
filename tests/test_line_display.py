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


# -- the line page: the flowsheet layout and the settings form ---------------------------------------------------
def _intersect(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("name", ["adjuvant_only", "adjuvanted_vaccine"])
def test_flowsheet_labels_do_not_overlap(name, result):
    """The estimated text boxes of the diagram: no two labels meet, unit labels fit in their box, and no feed or
    stream name lies on a unit box (the browser test measures the drawn boxes too)."""
    from dashboards.components import flowsheet

    definition = load_line(name).model_dump(mode="json", by_alias=True)
    runs = [None, result.to_dict(include_series=False)] if name == "adjuvant_only" else [None]
    for run in runs:
        layout = flowsheet.diagram_layout(definition, run)
        boxes = flowsheet.label_boxes(layout)
        assert len(boxes) == len(definition["units"]) + len(definition["feeds"]) + len(definition["connections"])
        keys = list(boxes)
        assert [(a, b) for i, a in enumerate(keys) for b in keys[i + 1 :] if _intersect(boxes[a], boxes[b])] == []
        units = {
            u: (x - flowsheet.BOX_WIDTH / 2, y - flowsheet.BOX_HEIGHT / 2, x + flowsheet.BOX_WIDTH / 2,
                y + flowsheet.BOX_HEIGHT / 2)
            for u, (x, y) in layout.centres.items()
        }  # fmt: skip
        for key, box in boxes.items():
            kind, _, uid = key.partition(":")
            if kind == "unit":
                x0, y0, x1, y1 = units[uid]
                assert x0 <= box[0] and box[2] <= x1 and y0 <= box[1] and box[3] <= y1, (key, box, units[uid])
            else:
                assert not any(_intersect(box, u) for u in units.values()), key
            assert 0 <= box[0] and box[2] <= layout.width and 0 <= box[1] and box[3] <= layout.height, key
    figure = flowsheet.diagram_figure(definition)
    assert figure.layout.width == layout.width and figure.layout.xaxis.range == (0, layout.width)


def test_line_settings_are_written_into_the_definition_the_library_runs(result):
    from bioprocess_twin.line.definition import parse_line
    from bioprocess_twin.line.edits import line_settings, with_line_settings
    from dashboards.components.line_settings import read_settings

    definition = load_line("adjuvant_only").model_dump(mode="json", by_alias=True)
    known = {s.path: s for s in line_settings(definition)}
    pressure, passes = known["units.homogenizer.parameters.pressure"], known["units.homogenizer.parameters.passes"]
    assert (pressure.value, pressure.units, pressure.bounds, pressure.main) == (1000.0, "bar", (100, 2000), True)
    assert passes.integer and passes.value == 6
    assert known["feeds.aqueous_phase.volume"].value == pytest.approx(95.45)  # "95.45 L"
    assert known["feeds.oil_phase.temperature"].value == pytest.approx(20.0)  # "20 degC"
    assert not known["units.homogenizer.parameters.hold_up_volume"].main  # the unit's default: folded

    entries = {p: str(s.value) for p, s in known.items()}
    entries |= {pressure.path: "500", passes.path: "8", "feeds.aqueous_phase.volume": "90"}
    values, errors = read_settings(known, entries)
    assert errors == []
    edited = with_line_settings(definition, values, known)
    assert edited["units"]["homogenizer"]["parameters"] == {
        "pressure": "500.0 bar",
        "passes": 8,
        "flow_rate": "120 L/h",
    }
    assert edited["feeds"]["aqueous_phase"]["volume"] == "90.0 L"
    assert edited["feeds"]["oil_phase"] == definition["feeds"]["oil_phase"]  # unchanged values are not rewritten
    assert definition["units"]["homogenizer"]["parameters"]["pressure"] == "1000 bar"  # a copy
    out = run_line(parse_line(edited))
    assert out.ok and out.results["homogenizer"].kpis["passes"] == 8
    z = out.results["homogenizer"].kpis["z_average_nm"]
    assert z > result.results["homogenizer"].kpis["z_average_nm"]  # 500 bar: larger droplets

    bad = {pressure.path: "12x0", passes.path: "6.5", "feeds.oil_phase.volume": "-1", "units.nope.parameters.x": "1",
           "units.fill.parameters.fill_rate": "5000"}  # fmt: skip
    _, errors = read_settings(known, bad)
    messages = dict(errors)
    assert set(messages) == set(bad)
    assert "'12x0' is not a number" in messages[pressure.path]
    assert "not a whole number" in messages[passes.path]
    assert "outside" in messages["feeds.oil_phase.volume"] and "outside" in messages["units.fill.parameters.fill_rate"]
