"""Aeration sizing NLP through Pyomo + cyipopt (PyNumero's ASL library must be built: this FAILS, never skips).

Minimise Pg + w Qg subject to kLa >= kLa_req and the shear/gas limits. In log variables this is a
geometric program (monomial constraints, posynomial objective), so the KKT point is the global optimum
and has a closed form: with only the kLa constraint binding, w Qg = (beta/alpha) Pg.
"""

from __future__ import annotations

import math

import pytest

from bioprocess_twin.core import ParameterError
from bioprocess_twin.correlations import agitation as ag
from bioprocess_twin.scaleup import closed_form_optimum, kla_required, size_aeration, sparging_energy, translate

VESSEL = ag.Vessel.from_volume(2.0, 1.5, 1 / 3, "pitched_blade", 2)


def test_pynumero_asl_library_is_built():
    import pyomo.environ as pe
    from pyomo.contrib.pynumero.asl import AmplInterface

    assert AmplInterface.available(), "run bash .ci/bootstrap setup (builds PyNumero against libamplsolver-dev)"
    assert pe.SolverFactory("cyipopt").available(exception_flag=False)


def test_kla_required_and_sparging_energy_by_hand():
    assert kla_required(1.0, 0.3, 0.2) == pytest.approx(1.0 / (0.2 - 0.06))  # 7.14 1/h
    assert kla_required(1.0, 0.3, 0.2, oxygen_fraction=1.0) == pytest.approx(1.0 / (0.2 / 0.2095 - 0.06))
    with pytest.raises(ParameterError, match="do_setpoint"):
        kla_required(1.0, 1.2, 0.2)
    # isothermal compression to 2 m of water at 60 % efficiency
    assert sparging_energy(2.0) == pytest.approx(101325 * math.log(1 + 1000 * 9.80665 * 2 / 101325) / 0.6)


# non-coalescing media reward gas less (beta/alpha = 0.29); a cheaper gas keeps that optimum inside the
# Michel-Miller range Pg < P0
@pytest.mark.parametrize("correlation, gas_price", [("van_t_riet_coalescing", 1.0), ("van_t_riet_non_coalescing", 0.1)])
@pytest.mark.parametrize("k_req", [5.0, 12.0])
def test_interior_optimum_matches_the_closed_form(correlation, gas_price, k_req):
    w = gas_price * sparging_energy(VESSEL.liquid_height)
    d = size_aeration(VESSEL, k_req, correlation=correlation, gas_energy=w, vvm_min=1e-4, vvm_max=1.0)
    assert d.ok, d.message
    assert d.active == ["kla >= required"]
    N, Qg = closed_form_optimum(VESSEL, k_req, w, correlation=correlation)
    assert d.N == pytest.approx(N, rel=1e-6) and d.Qg == pytest.approx(Qg, rel=1e-6)
    k = ag.KLA_CORRELATIONS[correlation]
    pg = d.objective - w * d.Qg
    assert w * d.Qg == pytest.approx(k.beta / k.alpha * pg, rel=1e-6)  # stationarity: w y = (b/a) x
    assert d.operation["kla"] == pytest.approx(k_req, rel=1e-6)
    assert d.operation["gassed_power"] == pytest.approx(pg, rel=1e-6)


def test_perturbing_the_optimum_costs_more():
    """Any other point on the kLa = required curve costs more (checks the optimum, not just stationarity)."""
    w, k_req = sparging_energy(VESSEL.liquid_height), 8.0
    d = size_aeration(VESSEL, k_req, gas_energy=w, vvm_min=1e-4, vvm_max=1.0)
    from bioprocess_twin.scaleup.stirred_tank import speed_for_kla

    for factor in (0.7, 0.9, 1.1, 1.4):
        Qg = d.Qg * factor
        N = speed_for_kla(VESSEL, Qg, k_req / 3600, ag.RHO_WATER, "van_t_riet_coalescing")
        pg = ag.describe_operation(VESSEL, N, Qg)["gassed_power"]
        assert pg + w * Qg > d.objective


def test_tip_speed_bound_active_closed_form():
    """With the tip speed capped below the free optimum, N sits on the cap and Qg solves kLa = required."""
    w, k_req = sparging_energy(VESSEL.liquid_height), 12.0
    N_free, _ = closed_form_optimum(VESSEL, k_req, w)
    D, V, A = VESSEL.impeller_diameter, VESSEL.volume, VESSEL.cross_section
    u_max = 0.8 * math.pi * N_free * D
    d = size_aeration(VESSEL, k_req, gas_energy=w, tip_speed_max=u_max, vvm_min=1e-4, vvm_max=1.0)
    assert d.ok and set(d.active) == {"kla >= required", "tip_speed <= max"}
    N = u_max / (math.pi * D)
    B = VESSEL.n_impellers * ag.MICHEL_MILLER_C_SI * (VESSEL.power_number * 1000.0) ** 0.9 * D**5.85 * N**3.15
    a, alpha, beta = 0.026, 0.4, 0.5  # Pg = B Qg^-0.252; kLa = a (Pg/V)^alpha (Qg/A)^beta
    Qg = (k_req / 3600 / (a * (B / V) ** alpha * A**-beta)) ** (1 / (beta - 0.252 * alpha))
    assert d.N == pytest.approx(N, rel=1e-6) and d.Qg == pytest.approx(Qg, rel=1e-6)
    assert d.Qg > closed_form_optimum(VESSEL, k_req, w)[1]  # less agitation is paid for with more gas


def test_infeasible_demand_is_reported_not_raised():
    d = size_aeration(VESSEL, 200.0)
    assert not d.ok and "no operating point reaches kLa 200" in d.message
    assert d.status != "optimal"
    d = size_aeration(VESSEL, 5.0, mixing_time_max=10.0)
    assert not d.ok and "mixing-time limit" in d.message and "tip-speed limit" in d.message


def test_translate_sizes_the_target_with_the_nlp():
    spec = {
        "kind": "stirred_tank",
        "stirred_tank": {
            "lab": {
                "volume": "50 L",
                "aspect_ratio": 1.5,
                "d_over_t": 0.4,
                "impeller": "pitched_blade",
                "n_impellers": 2,
            },
            "agitation": "150 rpm",
            "vvm": 0.04,
            "target_volume": "2000 L",
            "oxygen": {"our": "1 mmol/L/h", "do_setpoint": 30},
        },
    }
    r = translate(spec)
    assert r.design["ok"] and r.ok
    assert r.row("kla")["optimized"] == pytest.approx(1 / 0.14, rel=1e-6)
    assert r.row("tip_speed")["optimized"] <= 2.0 + 1e-9
    spec["stirred_tank"]["oxygen"]["our"] = "20 mmol/L/h"  # far beyond air sparging in these limits
    r = translate(spec)
    assert not r.design["ok"] and not r.ok
    assert any(w["limit"] == "aeration_sizing" for w in r.warnings)
    assert any(w["limit"] == "kla_required" and w["scale"] == "target" for w in r.warnings)
