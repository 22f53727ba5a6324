"""Scale-up criteria (textbook exponents), translate(), warnings, spec errors and homogenizer scale-up."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bioprocess_twin.catalogue import run_spec
from bioprocess_twin.core.spec import parse_spec
from bioprocess_twin.correlations import agitation as ag
from bioprocess_twin.scaleup import CRITERIA, ScaleUpSpecError, parse_scaleup_spec, scale_operation, translate

VOLUMES = np.array([0.05, 0.5, 5.0, 50.0])  # m^3, a factor 1000 in volume
LAB = ag.Vessel.from_volume(0.05, 1.5, 0.4, "pitched_blade", 2)
N_LAB, QG_LAB = 2.5, ag.gas_flow_from_vvm(0.04, 0.05)


def slopes(criterion, gas_basis="vvm"):
    """log-log slope versus V of every describe_operation quantity under geometric similarity."""
    ops = []
    for V in VOLUMES:
        target = LAB.scaled(V)
        N, Qg = scale_operation(LAB, N_LAB, QG_LAB, target, criterion, gas_basis)
        ops.append(ag.describe_operation(target, N, Qg))
    logv = np.log(VOLUMES)
    return {k: np.polyfit(logv, np.log([op[k] for op in ops]), 1)[0] for k in ops[0]}


def test_constant_power_per_volume_exponents():
    s = slopes("power_per_volume")
    assert s["ungassed_power_per_volume"] == pytest.approx(0.0, abs=1e-9)
    assert s["agitation_rpm"] == pytest.approx(-2 / 9, abs=1e-9)  # N ~ V^(-2/9)
    assert s["tip_speed"] == pytest.approx(1 / 9, abs=1e-9)  # tip speed rises
    assert s["mixing_time"] == pytest.approx(2 / 9, abs=1e-9)  # mixing time rises
    assert s["reynolds"] == pytest.approx(4 / 9, abs=1e-9)
    assert s["vvm"] == pytest.approx(0.0, abs=1e-9) and s["superficial_gas_velocity"] == pytest.approx(1 / 3)
    assert s["kla"] > 0  # same P/V, faster gas: kLa up


def test_constant_tip_speed_exponents():
    s = slopes("tip_speed")
    assert s["tip_speed"] == pytest.approx(0.0, abs=1e-9)
    assert s["ungassed_power_per_volume"] == pytest.approx(-1 / 3, abs=1e-9)  # P/V falls ~V^(-1/3)
    assert s["agitation_rpm"] == pytest.approx(-1 / 3, abs=1e-9)
    assert s["mixing_time"] == pytest.approx(1 / 3, abs=1e-9)


def test_constant_speed_and_mixing_time_exponents():
    for criterion in ("speed", "mixing_time"):  # identical under geometric similarity
        s = slopes(criterion)
        assert s["agitation_rpm"] == pytest.approx(0.0, abs=1e-9)
        assert s["mixing_time"] == pytest.approx(0.0, abs=1e-9)
        assert s["ungassed_power_per_volume"] == pytest.approx(2 / 3, abs=1e-9)
        assert s["tip_speed"] == pytest.approx(1 / 3, abs=1e-9)


def test_constant_kla_and_vvm():
    s = slopes("kla", gas_basis="superficial_velocity")
    assert s["kla"] == pytest.approx(0.0, abs=1e-7)
    assert s["superficial_gas_velocity"] == pytest.approx(0.0, abs=1e-9)
    assert s["power_per_volume"] == pytest.approx(0.0, abs=1e-7)  # same kLa and v_s need the same Pg/V
    s = slopes("kla", gas_basis="vvm")
    assert s["kla"] == pytest.approx(0.0, abs=1e-7)
    assert s["power_per_volume"] < 0  # faster gas: less power for the same kLa
    s = slopes("vvm")
    assert s["vvm"] == pytest.approx(0.0, abs=1e-9)
    assert s["superficial_gas_velocity"] == pytest.approx(1 / 3, abs=1e-9)
    assert s["kla"] > 0


def test_non_similar_target_keeps_the_criterion():
    target = ag.Vessel.from_volume(2.0, 2.0, 0.3, "rushton", 3)
    for criterion, key in (
        ("power_per_volume", "ungassed_power_per_volume"),
        ("tip_speed", "tip_speed"),
        ("mixing_time", "mixing_time"),
        ("speed", "agitation_rpm"),
        ("kla", "kla"),
    ):
        N, Qg = scale_operation(LAB, N_LAB, QG_LAB, target, criterion)
        lab, tgt = ag.describe_operation(LAB, N_LAB, QG_LAB), ag.describe_operation(target, N, Qg)
        assert tgt[key] == pytest.approx(lab[key], rel=1e-9), criterion


def cho_spec(**changes):
    case = {
        "lab": {"volume": "50 L", "aspect_ratio": 1.5, "d_over_t": 0.4, "impeller": "pitched_blade", "n_impellers": 2},
        "agitation": "150 rpm",
        "vvm": 0.04,
        "target_volume": "2000 L",
        "criterion": "power_per_volume",
    }
    limits = changes.pop("limits", {})
    case.update(changes)
    return {"kind": "stirred_tank", "stirred_tank": case, "limits": limits}


def test_translate_table_and_scenario():
    r = translate(cho_spec())
    assert r.kind == "stirred_tank" and r.design is None and r.ok
    assert set(CRITERIA) >= {"power_per_volume", "tip_speed", "kla", "vvm", "mixing_time", "speed"}
    row = r.row("ungassed_power_per_volume")
    assert row["ratio"] == pytest.approx(1.0) and row["units"] == "W/m^3"
    assert r.row("agitation_rpm")["lab"] == pytest.approx(150.0)
    assert r.row("agitation_rpm")["ratio"] == pytest.approx(40 ** (-2 / 9))
    assert r.target_scenario["agitation_rpm"] == pytest.approx(r.row("agitation_rpm")["target"])
    assert r.target_scenario["vessel"]["volume"] == pytest.approx(2.0)
    assert "V^-2/9" in r.basis
    frame = r.frame()
    assert list(frame.columns[:5]) == ["label", "units", "lab", "target", "ratio"]
    assert r.warnings == []  # this design stays in the CHO ranges


def test_warnings_when_results_leave_typical_ranges():
    r = translate(cho_spec(criterion="speed"))  # constant N to 2000 L: far too much power and tip speed
    hits = {(w["scale"], w["quantity"]) for w in r.warnings}
    assert ("target", "tip_speed") in hits and ("target", "power_per_volume") in hits
    assert not any(w["scale"] == "lab" for w in r.warnings)
    tip = next(w for w in r.warnings if w["quantity"] == "tip_speed")
    assert tip["bound"] == 2.0 and tip["value"] > 2.0 and "Nienow" in tip["message"]
    # a stricter limit from the spec applies; the source of the default is kept in the message
    r = translate(cho_spec(limits={"tip_speed_max": "1.2 m/s"}))
    assert [w["limit"] for w in r.warnings] == ["tip_speed_max"]
    # mixing time: a small limit is broken at the target only (it grows with scale at constant P/V)
    r = translate(cho_spec(limits={"mixing_time_max": "60 s"}))
    assert [(w["scale"], w["quantity"]) for w in r.warnings] == [("target", "mixing_time")]


def test_low_reynolds_and_flooding_warnings():
    spec = cho_spec(lab={"volume": "1 L", "impeller": "rushton"}, agitation="60 rpm", vvm=2.0)
    r = translate(spec)
    lab = {w["quantity"] for w in r.warnings if w["scale"] == "lab"}
    assert "reynolds" in lab and "gas_flow" in lab  # laminar-transitional and a flooded Rushton


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(lab={"volume": -1}), "stirred_tank.lab.volume"),
        (dict(target_volume="2 m"), "stirred_tank.target_volume"),
        (dict(criterion="froude"), "stirred_tank.criterion"),
        (dict(kla_correlation="magic"), "stirred_tank.kla_correlation"),
        (dict(gas_flow="10 L/min"), "stirred_tank"),  # both vvm and gas_flow
        (dict(target={"impeller": "paddle"}), "stirred_tank.target.impeller"),
        (dict(oxygen={"our": "1 mmol/L/h", "do_setpoint": 150}), "stirred_tank.oxygen.do_setpoint"),
    ],
)
def test_spec_errors_name_the_field(change, field):
    with pytest.raises(ScaleUpSpecError) as info:
        parse_scaleup_spec(cho_spec(**change))
    assert field in [f for f, _ in info.value.errors], info.value.errors


def test_spec_section_must_match_kind_and_limits_are_checked():
    with pytest.raises(ScaleUpSpecError, match="homogenizer"):
        parse_scaleup_spec({"kind": "homogenizer", "stirred_tank": cho_spec()["stirred_tank"]})
    with pytest.raises(ScaleUpSpecError, match="limits.kla_maxx"):
        parse_scaleup_spec(cho_spec(limits={"kla_maxx": 3}))
    with pytest.raises(ScaleUpSpecError, match="tip_speed_max"):
        parse_scaleup_spec(cho_spec(limits={"tip_speed_max": "3 bar"}))


# -- homogenizer ---------------------------------------------------------------------------------
def homogenizer_spec(target=None, lab=None, **limits):
    return {
        "kind": "homogenizer",
        "homogenizer": {
            "lab": {
                "pressure": "1000 bar",
                "n_passes": 3,
                "flow_rate": "250 mL/min",
                "chamber_volume": "40 nL",
                "batch_volume": "5 L",
                "T_inlet": "10 degC",
                **(lab or {}),
            },
            "target": {"flow_rate": "100 L/h", "batch_volume": "100 L", **(target or {})},
        },
        "limits": limits,
    }


def test_homogenizer_same_energy_density_by_hand():
    r = translate(homogenizer_spec())
    row = {x["quantity"]: x for x in r.rows}
    assert row["pressure"]["target"] == 1000 and row["n_passes"]["target"] == 3
    assert row["flow_rate"]["lab"] == pytest.approx(15.0) and row["flow_rate"]["target"] == pytest.approx(100.0)
    assert row["chamber_volume"]["target"] == pytest.approx(40 * 100 / 15)
    assert row["residence_time"]["lab"] == pytest.approx(40e-12 / (15 / 3.6e6) * 1e6)  # 9.6 us
    assert row["residence_time"]["ratio"] == pytest.approx(1.0)
    rho_e = 0.95 * 1000 + 0.05 * 858
    assert row["dissipation_rate"]["target"] == pytest.approx(1e8 / (rho_e * 9.6e-6))
    assert row["dissipation_rate"]["ratio"] == pytest.approx(1.0)
    assert row["processing_time"]["target"] == pytest.approx(3 * 100 / 100)  # passes V / Q
    assert row["cooling_duty"]["target"] == pytest.approx(100 / 3.6e6 * 1e8 / 1e3)  # 2.78 kW
    assert row["temperature_rise"]["target"] == pytest.approx(1e8 / (rho_e * 4100))
    assert 2.3 < row["temperature_rise"]["target"] / 10 < 2.6  # ~2.4 K per 100 bar
    assert row["energy_density"]["target"] == pytest.approx(300.0)  # MJ/m^3
    assert r.warnings == []


def test_homogenizer_warnings():
    r = translate(
        homogenizer_spec(target={"batch_volume": "1000 L", "chamber_volume": "40 nL"}, lab={"T_inlet": "20 degC"})
    )
    hits = {(w["scale"], w["limit"]) for w in r.warnings}
    assert ("lab", "outlet_temperature_max") in hits and ("target", "outlet_temperature_max") in hits
    assert ("target", "processing_time_max") in hits  # 3 x 1000 L at 100 L/h = 30 h
    assert ("target", "dissipation_mismatch_max") in hits  # unscaled chamber: t_res 6.7x shorter
    r = translate(homogenizer_spec(target={"pressure": "800 bar"}))
    assert any(w["limit"] == "same_energy_density" for w in r.warnings)


def z_average(scenario):
    run = run_spec(parse_spec(scenario))
    assert run.ok, run.result.message
    return run.kpis["z_average_nm"]


def test_homogenizer_target_scenario_keeps_the_z_average():
    """Lab and target scenarios through the emulsion model: the same size; an unscaled chamber is not."""
    r = translate(homogenizer_spec())
    lab, target = z_average(r.lab_scenario), z_average(r.target_scenario)
    assert 0 < lab < 2000 / 2  # the model's 2 um pre-emulsion was broken up
    assert target == pytest.approx(lab, rel=1e-6)
    wrong = translate(homogenizer_spec(target={"chamber_volume": "40 nL"}))
    # the unscaled zone: same energy density but eps 6.7x higher for a 6.7x shorter time -> another size
    assert abs(z_average(wrong.target_scenario) / lab - 1) > 0.05
    assert math.isfinite(wrong.row("dissipation_rate")["ratio"]) and wrong.row("dissipation_rate")["ratio"] > 5


def test_spec_quantities_reach_the_equations_in_si():
    """Each quantity field declares its units; ``si`` converts by pint (rpm, L/min, percent, degC, bar)."""
    spec = parse_scaleup_spec(
        {
            "kind": "stirred_tank",
            "stirred_tank": {
                "lab": {"volume": "50 L"},
                "agitation": "150 rpm",
                "gas_flow": "3 L/min",
                "target_volume": "2 m^3",
                "oxygen": {"our": "1 mmol/L/h", "do_setpoint": 30},
            },
        }
    )
    case = spec.stirred_tank
    assert case.agitation == 150.0 and case.si("agitation") == pytest.approx(2.5, rel=1e-14)  # 1/s
    assert case.lab_gas_flow() == pytest.approx(5e-5, rel=1e-14)  # m^3/s
    assert case.oxygen.si("do_setpoint") == pytest.approx(0.3, rel=1e-14)
    assert case.oxygen.si("our") == pytest.approx(1 / 3600, rel=1e-14)  # mol/m^3/s
    case = parse_scaleup_spec(homogenizer_spec(lab={"T_inlet": "10 degC"})).homogenizer
    assert case.lab.si("T_inlet") == pytest.approx(283.15, rel=1e-14)
    assert case.lab.si("pressure") == pytest.approx(1e8, rel=1e-14)
    with pytest.raises(KeyError):
        case.lab.si("n_passes")  # a count, not a quantity
