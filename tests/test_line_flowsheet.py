"""Production-line runner: wiring checks, schedule from unit procedures, mass balances that close."""

import math

import pytest
import yaml

from bioprocess_twin import catalogue
from bioprocess_twin.core import ModelBuilder, Parameter, ParameterError, ParameterTable
from bioprocess_twin.core.phased import run_phases
from bioprocess_twin.core.recipe import Phase, Transition
from bioprocess_twin.core.streams import Stream, UnitOperation, UnitResult
from bioprocess_twin.core.units import from_si
from bioprocess_twin.line.definition import load_line, parse_line
from bioprocess_twin.line.flowsheet import build_line, run_line


def _reactor_model():
    m = ModelBuilder("a_to_b", "1.0", time_units="h")
    k = m.parameter(Parameter(name="k", units="1/h", default=0.2, bounds=(0, 10)))
    a = m.state("A", "kg", initial=1.0)
    b = m.state("B", "kg", initial=0.0)
    m.ode(a, -k * a)
    m.ode(b, k * a)
    return m.build()


class ToyReactor(UnitOperation):
    """First-order A -> B in a closed vessel; the default phase runs until A falls to 10 %."""

    kind = "toy_reactor"
    parameters = ParameterTable((Parameter(name="k", units="1/h", default=0.2, bounds=(0, 10)),))
    model = _reactor_model()

    def run(self, inlets, phases=None):
        self.check_inlets(inlets)
        feed = inlets["inlet"]
        a0 = feed.mass.get("A", 0.0)
        phases = phases or [Phase(name="react", duration=100, until=Transition(variable="A", op="<=", value=0.1 * a0))]
        out = run_phases(
            self.model, phases, parameters=self.model.from_si({"k": self.values["k"]}), initial={"A": a0, "B": 0.0}
        )
        a, b = out.result.state("A")[-1], out.result.state("B")[-1]
        mass = dict(feed.mass) | {"A": a, "B": feed.mass.get("B", 0.0) + b}
        return UnitResult(
            self.name,
            self.kind,
            out.result.status,
            out.result.message,
            {"outlet": Stream("product", feed.volume, mass)},
            generated={"A": -b, "B": b},
            duration=out.end,
            phases=out.phases,
            kpis={"conversion": b / a0},
        )


class ToySplitter(UnitOperation):
    kind = "toy_splitter"
    parameters = ParameterTable(
        (
            Parameter(name="fraction", units="1", default=0.5, bounds=(0, 1)),
            Parameter(name="time", units="h", default=1.0, bounds=(0, 100)),
        )
    )
    outlets = ("top", "bottom")

    def run(self, inlets, phases=None):
        feed = inlets["inlet"]
        f = self.values["fraction"]
        return UnitResult(
            self.name,
            self.kind,
            "ok",
            "",
            {"top": feed.scaled(f, "top"), "bottom": feed.scaled(1 - f, "bottom")},
            duration=from_si(self.values["time"], "h"),
        )


class ToyMixer(UnitOperation):
    kind = "toy_mixer"
    inlets = ("first", "second")
    optional_inlets = ("second",)

    def run(self, inlets, phases=None):
        return UnitResult(
            self.name, self.kind, "ok", "", {"outlet": Stream.mix("blend", list(inlets.values()))}, duration=0.5
        )


@pytest.fixture(autouse=True, scope="module")
def toy_units():
    """The toy units exist for this module's tests only, so other modules see just the shipped kinds."""
    for cls in (ToyReactor, ToySplitter, ToyMixer):
        catalogue.register_unit(cls)
    yield
    for cls in (ToyReactor, ToySplitter, ToyMixer):
        catalogue.unregister_unit(cls.kind)


LINE = {
    "name": "toy",
    "version": "1.0.0",
    "units": {
        "split": {"kind": "toy_splitter", "parameters": {"fraction": 0.25, "time": "30 min"}},
        "react": {"kind": "toy_reactor", "parameters": {"k": "0.5 1/h"}},
        "mix": {"kind": "toy_mixer"},
    },
    "feeds": {"charge": {"to": "split.inlet", "volume": "100 L", "concentrations": {"A": "10 g/L"}}},
    "connections": [
        {"from": "split.top", "to": "react.inlet"},
        {"from": "react.outlet", "to": "mix.first"},
        {"from": "split.bottom", "to": "mix.second"},
    ],
    "procedure": [{"unit": "mix", "delay": 2.0}],
}


def test_line_runs_in_flow_order_and_its_balances_close():
    res = run_line(parse_line(LINE))
    assert res.ok and res.line.order == ["split", "react", "mix"]
    t_react = math.log(10) / 0.5  # A falls to 10 % at k t = ln 10
    assert res.results["react"].duration == pytest.approx(t_react, rel=1e-5)  # CVODES rtol 1e-6
    t_react = res.results["react"].duration
    assert res.starts == pytest.approx({"split": 0.0, "react": 0.5, "mix": 0.5 + t_react + 2.0})
    assert res.duration == pytest.approx(0.5 + t_react + 2.0 + 0.5)
    a_in = 0.25 * 1.0  # 1 kg of A, a quarter into the reactor
    assert res.results["react"].generated["B"] == pytest.approx(0.9 * a_in, rel=1e-6)
    for unit, bal in res.unit_balances().items():
        assert max(abs(v) for v in bal.values()) < 1e-9, unit
    line = res.line_balance()
    assert max(abs(v) for v in line.values()) < 1e-9 and set(line) >= {"A", "B", "water"}
    blend = res.results["mix"].outlets["outlet"]
    assert blend.mass["A"] == pytest.approx(0.75 + 0.1 * a_in, rel=1e-6)
    assert res.line.products == ["mix.outlet"]
    assert [s.unit for s in res.schedule] == ["split", "react", "mix"]


def test_phases_from_the_recipe_override_the_unit_defaults():
    doc = LINE | {
        "procedure": [
            {
                "unit": "react",
                "phases": [
                    {"name": "hold", "duration": 1.0},
                    {"name": "react", "duration": 50, "until": {"variable": "B", "op": ">=", "value": 0.125}},
                ],
            }
        ]
    }
    res = run_line(parse_line(doc))
    react = res.results["react"]
    assert [p.name for p in react.phases] == ["hold", "react"]
    assert react.duration == pytest.approx(
        math.log(2) / 0.5, rel=1e-5
    )  # half of 0.25 kg converted (it reacts during the hold too)
    assert [p.ended_by for p in react.phases] == ["duration", "condition"]


def test_wiring_errors_are_all_named():
    bad = LINE | {
        "units": LINE["units"]
        | {"extra": {"kind": "toy_reactr"}, "react": {"kind": "toy_reactor", "parameters": {"k": -1}}},
        "connections": [
            {"from": "split.top", "to": "react.inlet"},
            {"from": "split.top", "to": "react.inlet"},
            {"from": "split.side", "to": "mix.first"},
            {"from": "nowhere.out", "to": "mix.second"},
        ],
    }
    with pytest.raises(ParameterError) as err:
        build_line(parse_line(bad))
    fields = dict(err.value.errors)
    assert "did you mean 'toy_reactor'" in fields["units.extra.kind"]
    assert "units.react.parameters.k" in fields
    assert "already fed" in fields["connections[1].to"]
    assert "no outlet 'side'" in fields["connections[2].from"]
    assert "unknown unit 'nowhere'" in fields["connections[3].from"]
    assert "neither fed nor connected" in fields["units.mix"]


def test_a_cycle_is_rejected():
    doc = LINE | {"connections": LINE["connections"] + [{"from": "mix.outlet", "to": "split.inlet"}], "feeds": {}}
    with pytest.raises(ParameterError, match="cycle"):
        build_line(parse_line(doc))


def test_bad_feed_and_unknown_fields_are_named(tmp_path):
    doc = LINE | {"feeds": {"charge": {"to": "split.inlet", "volume": "100 kg", "concentrations": {"A": "10 g/L"}}}}
    with pytest.raises(ParameterError) as err:
        run_line(parse_line(doc))
    assert err.value.errors[0][0] == "feeds.charge"
    with pytest.raises(ParameterError) as err:
        parse_line(LINE | {"unitz": {}})
    assert err.value.errors[0][0] == "unitz"


def test_lines_load_by_name_version_or_path(tmp_path):
    for v in ("1.0.0", "1.2.0", "1.10.0"):
        (tmp_path / "toy").mkdir(exist_ok=True)
        (tmp_path / "toy" / f"{v}.yaml").write_text(yaml.safe_dump(LINE | {"version": v}))
    assert load_line("toy", tmp_path).version == "1.10.0"
    assert load_line("toy@1.2.0", tmp_path).version == "1.2.0"
    assert load_line(tmp_path / "toy" / "1.0.0.yaml", tmp_path).version == "1.0.0"
    with pytest.raises(ParameterError, match="no version 9"):
        load_line("toy@9", tmp_path)
    with pytest.raises(ParameterError, match="known: toy"):
        load_line("nope", tmp_path)


def test_cli_line_run_prints_json_and_names_bad_fields(tmp_path):
    import json

    from typer.testing import CliRunner

    from bioprocess_twin.cli import app

    good = tmp_path / "toy.yaml"
    good.write_text(yaml.safe_dump(LINE))
    res = CliRunner().invoke(app, ["line", "run", str(good), "--json", "--no-series"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "ok" and doc["line"] == "toy" and "series" not in doc["units"]["react"]
    assert max(abs(v) for v in doc["balance"]["line_kg"].values()) < 1e-9
    assert [s["from"] for s in doc["streams"]][:1] == ["feed:charge"]

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(LINE | {"connections": [{"from": "split.sideways", "to": "react.inlet"}]}))
    res = CliRunner().invoke(app, ["line", "run", str(bad), "--json"])
    assert res.exit_code == 2
    errors = json.loads(res.stdout)["errors"]
    assert any(e["field"] == "connections[0].from" and "sideways" in e["message"] for e in errors)
    res = CliRunner().invoke(app, ["line", "run", "no_such_line", "--json"])
    assert res.exit_code == 2 and "no line 'no_such_line'" in res.stdout
