"""Stirred-vessel correlations: hand-computed numbers, physical trends, symbolic use, input errors."""

import math

import casadi as ca
import numpy as np
import pyomo.environ as pe
import pytest

from bioprocess_twin.core import ParameterError
from bioprocess_twin.correlations import agitation as ag


def test_power_number_definition_by_hand():
    # P = Np rho N^3 D^5: Rushton, water, 2 rev/s, D = 0.1 m -> 5 * 1000 * 8 * 1e-5 = 0.4 W
    assert ag.ungassed_power(5.0, 1000.0, 2.0, 0.1) == pytest.approx(0.4, rel=1e-12)
    assert ag.ungassed_power(5.0, 1000.0, 2.0, 0.1, n_impellers=3) == pytest.approx(1.2, rel=1e-12)
    assert ag.tip_speed(2.0, 0.1) == pytest.approx(0.2 * math.pi)
    assert ag.reynolds(2.0, 0.1, 1000.0, 1e-3) == pytest.approx(20000.0)
    assert ag.superficial_gas_velocity(math.pi / 4 * 1e-3, 1.0) == pytest.approx(1e-3)
    assert ag.vvm(1e-3, 0.06) == pytest.approx(1.0)
    assert ag.gas_flow_from_vvm(1.0, 0.06) == pytest.approx(1e-3)
    assert ag.otr(10 / 3600, 0.2, 0.06) == pytest.approx(10 / 3600 * 0.14)
    assert ag.energy_dissipation(50.0, 1000.0, 1.0) == pytest.approx(0.05)
    # eta = (nu^3/eps)^(1/4): nu = 1e-6, eps = 1 W/kg -> 1e-4.5 m = 31.6 um
    assert ag.kolmogorov_length(1.0, 1e-6) == pytest.approx(10**-4.5)
    assert ag.kolmogorov_shear_rate(1.0, 1e-6) == pytest.approx(1000.0)


def test_van_t_riet_numbers():
    # coalescing: 0.026 * 100^0.4 * 0.01^0.5 = 0.026 * 6.3096 * 0.1
    assert ag.kla(100.0, 0.01) == pytest.approx(0.026 * 100**0.4 * 0.1, rel=1e-12)
    assert ag.kla(100.0, 0.01) == pytest.approx(0.016405, rel=1e-4)
    assert ag.kla(100.0, 0.01, "van_t_riet_non_coalescing") == pytest.approx(0.002 * 100**0.7 * 0.01**0.2)
    assert set(ag.KLA_CORRELATIONS) >= {"van_t_riet_coalescing", "van_t_riet_non_coalescing", "linek_coalescing"}


def test_michel_miller_constant_is_the_imperial_one_in_si():
    # 1 hp, 100 rpm, 1 ft, 10 ft^3/min in the original units: Pg = 0.08 (1 * 100 * 1 / 10^0.56)^0.45 hp
    hp, ft = 745.7, 0.3048
    expected_hp = 0.08 * (1.0 * 100.0 * 1.0 / 10**0.56) ** 0.45
    si = ag.gassed_power_michel_miller(hp, 100 / 60, ft, 10 * ft**3 / 60)
    assert si / hp == pytest.approx(expected_hp, rel=1e-9)
    assert ag.MICHEL_MILLER_C_SI == pytest.approx(0.706, abs=2e-3)


def test_kla_rises_with_power_and_gas_velocity():
    for name in ag.KLA_CORRELATIONS:
        pv = np.array([5.0, 20.0, 80.0])
        assert np.all(np.diff(ag.kla(pv, 2e-3, name)) > 0), name
        vs = np.array([5e-4, 2e-3, 8e-3])
        assert np.all(np.diff(ag.kla(50.0, vs, name)) > 0), name


def test_gassed_power_below_ungassed_and_falls_with_gas_flow():
    N, D = 2.0, 0.2
    P0 = ag.ungassed_power(5.0, 1000.0, N, D)
    Qg = np.array([2e-4, 5e-4, 1e-3])
    Pg = ag.gassed_power_michel_miller(P0, N, D, Qg)
    assert np.all(Pg < P0)
    assert np.all(np.diff(Pg) < 0)


def test_mixing_time_falls_with_speed_and_matches_grenville():
    N = np.array([0.5, 1.0, 2.0])
    theta = ag.mixing_time(N, 0.5, 1.5, 1.5, 5.0)
    assert np.all(np.diff(theta) < 0)
    assert theta[0] * 0.5 == pytest.approx(theta[2] * 2.0)  # theta ~ 1/N
    # H = T, D/T = 1/3, Np = 5: N theta = 5.20 * 9 / 5^(1/3) = 27.37
    assert theta[1] == pytest.approx(5.20 * 9 / 5 ** (1 / 3), rel=1e-12)
    tall = ag.mixing_time(1.0, 0.5, 1.5, 3.0, 5.0)
    assert tall == pytest.approx(theta[1] * 2**2.5)


def test_vessel_from_volume_geometry():
    v = ag.Vessel.from_volume(2.0, aspect_ratio=2.0, d_over_t=0.4, impeller="pitched_blade", n_impellers=2)
    assert math.pi * v.tank_diameter**2 * v.liquid_height / 4 == pytest.approx(2.0)
    assert v.aspect_ratio == pytest.approx(2.0) and v.d_over_t == pytest.approx(0.4)
    assert v.power_number == ag.IMPELLERS["pitched_blade"].power_number
    big = v.scaled(16.0)
    assert big.tank_diameter / v.tank_diameter == pytest.approx(2.0)  # (16/2)^(1/3)
    assert big.d_over_t == pytest.approx(0.4) and big.n_impellers == 2


def test_impeller_library():
    assert ag.IMPELLERS["rushton"].power_number == pytest.approx(5.0)
    assert 1.0 < ag.IMPELLERS["pitched_blade"].power_number < 1.6
    assert ag.IMPELLERS["marine"].power_number < 0.6
    assert all(imp.source for imp in ag.IMPELLERS.values())
    with pytest.raises(ParameterError, match="impeller"):
        ag.find_impeller("paddle_wheel")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(volume=-1.0, tank_diameter=1.0, liquid_height=1.0, impeller_diameter=0.3), "volume"),
        (dict(volume=0.785, tank_diameter=1.0, liquid_height=1.0, impeller_diameter=0.3, impeller="x"), "impeller"),
        (dict(volume=0.785, tank_diameter=1.0, liquid_height=1.0, impeller_diameter=0.9), "impeller_diameter"),
        (dict(volume=2.0, tank_diameter=1.0, liquid_height=1.0, impeller_diameter=0.3), "volume"),
        (dict(volume=0.785, tank_diameter=1.0, liquid_height=1.0, impeller_diameter=0.3, n_impellers=0), "n_impellers"),
    ],
)
def test_vessel_errors_name_the_field(kwargs, field):
    with pytest.raises(ParameterError) as info:
        ag.Vessel(**kwargs)
    assert field in [f for f, _ in info.value.errors]


def test_unknown_kla_correlation_is_named():
    with pytest.raises(ParameterError, match="kla_correlation"):
        ag.kla(10.0, 1e-3, "magic")


def test_casadi_and_pyomo_expressions_go_through_the_same_functions():
    N, Qg = ca.SX.sym("N"), ca.SX.sym("Qg")
    D, T = 0.4, 1.2
    P0 = ag.ungassed_power(5.0, 1000.0, N, D)
    Pg = ag.gassed_power_michel_miller(P0, N, D, Qg)
    k = ag.kla(Pg / 1.5, ag.superficial_gas_velocity(Qg, T))
    theta = ag.mixing_time(N, D, T, T, 5.0)
    f = ca.Function("f", [N, Qg], [P0, Pg, k, theta, ag.tip_speed(N, D)])
    got = [float(x) for x in f(1.5, 1e-3)]
    p0 = ag.ungassed_power(5.0, 1000.0, 1.5, D)
    pg = ag.gassed_power_michel_miller(p0, 1.5, D, 1e-3)
    want = [
        p0,
        pg,
        ag.kla(pg / 1.5, ag.superficial_gas_velocity(1e-3, T)),
        ag.mixing_time(1.5, D, T, T, 5.0),
        ag.tip_speed(1.5, D),
    ]
    assert got == pytest.approx(want, rel=1e-12)
    # derivative of P0 with respect to N: 3 Np rho N^2 D^5
    dP = ca.Function("dP", [N], [ca.jacobian(P0, N)])
    assert float(dP(1.5)) == pytest.approx(3 * 5.0 * 1000.0 * 1.5**2 * D**5)
    m = pe.ConcreteModel()
    m.N = pe.Var(initialize=1.5)
    expr = ag.kla(ag.ungassed_power(5.0, 1000.0, m.N, D) / 1.5, 2e-3)
    assert pe.value(expr) == pytest.approx(ag.kla(p0 / 1.5, 2e-3))


def test_describe_operation_is_consistent():
    v = ag.Vessel.from_volume(2.0, 1.5, 1 / 3, "pitched_blade", 2)
    N, Qg = 1.5, ag.gas_flow_from_vvm(0.05, 2.0)
    op = ag.describe_operation(v, N, Qg)
    assert set(op) == set(ag.OPERATION_QUANTITIES)
    assert op["agitation_rpm"] == pytest.approx(90.0)
    assert op["vvm"] == pytest.approx(0.05) and op["gas_flow"] == pytest.approx(100.0)  # L/min
    assert op["ungassed_power"] == pytest.approx(2 * 1.3 * 1000 * N**3 * v.impeller_diameter**5)
    assert op["gassed_power"] < op["ungassed_power"]
    assert op["power_per_volume"] == pytest.approx(op["gassed_power"] / 2.0)
    assert op["kla"] == pytest.approx(3600 * ag.kla(op["power_per_volume"], op["superficial_gas_velocity"] / 1e3))
    assert op["eps_mean"] == pytest.approx(op["power_per_volume"] / 1000.0)
    assert op["eps_max"] > op["eps_mean"]
    no_gas = ag.describe_operation(v, N, 0.0)
    assert no_gas["gassed_power"] == no_gas["ungassed_power"] and no_gas["kla"] == 0.0
    with pytest.raises(ParameterError) as info:
        ag.describe_operation(v, -1.0, Qg)
    assert info.value.errors[0][0] == "N"
