"""Aluminium-salt precipitation (alum_alooh, alum_alpo4): Al balance and the physical trends.

Run ``python tests/test_alum_precipitation.py`` to print the trend tables quoted in
docs/models/alum_precipitation.md.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from bioprocess_twin.core import ParameterError, Phase, Recipe
from bioprocess_twin.processes.alum_precipitation import AlOOHPrecipitation, AlPO4Precipitation

PROCESSES = {"alooh": AlOOHPrecipitation(), "alpo4": AlPO4Precipitation()}


@functools.cache
def _run(name: str, params: tuple = (), inputs: tuple = ()):
    run = PROCESSES[name].run(parameters=dict(params), inputs=dict(inputs))
    assert run.ok, run.result.message
    return run


def kpis(name, params=None, inputs=None):
    return _run(name, tuple(sorted((params or {}).items())), tuple(sorted((inputs or {}).items()))).kpis


@pytest.fixture(params=sorted(PROCESSES))
def name(request):
    return request.param


# -- conservation -------------------------------------------------------------------------------
def test_aluminium_is_conserved_between_feed_solution_and_solid(name):
    run = _run(name)
    r, proc = run.result, PROCESSES[name]
    fed, dissolved, solid = r.state("al_fed"), r.state("al_dissolved"), r.state("solid").sum(axis=1)
    assert np.max(np.abs(fed - dissolved - solid)) < 1e-9 * fed[-1]
    op = proc.operating.defaults()
    assert fed[-1] == pytest.approx(op["al_feed_conc"] * op["feed_volume"], rel=1e-9)
    assert r.state("volume")[-1] == pytest.approx(8.0 + op["feed_volume"], rel=1e-9)
    # the solid seen through the size distribution is the same amount
    N = proc.number_concentration(r)
    from_psd = (N * proc.grid.pivots).sum(axis=1) * r.state("volume") * 1e-3 / proc.v_m
    # the PSD clips solver-noise negatives in near-empty classes (measured: -1e-6 mol in all)
    np.testing.assert_allclose(from_psd[-1], solid[-1], rtol=1e-5)
    if name == "alpo4":  # 1:1 phosphate taken up with the Al
        p0 = op["p_al_ratio"] * fed[-1]
        assert np.max(np.abs(p0 - r.state("p_dissolved") - solid)) < 1e-9 * p0


def test_conservation_holds_for_a_two_rate_dosing_recipe():
    proc = PROCESSES["alooh"]
    recipe = Recipe(
        phases=[
            Phase(name="fast", duration=300, inputs={"feed_flow": 0.2, "al_feed": 0.1}),
            Phase(name="slow", duration=600, inputs={"feed_flow": 0.05, "al_feed": 0.025}),
            Phase(name="ageing", duration=900, inputs={"feed_flow": 0.0, "al_feed": 0.0}),
        ]
    )
    run = proc.run(recipe=recipe, times=np.linspace(0, 1800, 91))
    assert run.ok, run.result.message
    r = run.result
    fed = r.state("al_fed")
    assert fed[-1] == pytest.approx(0.1 * 5 + 0.025 * 10, rel=1e-9)  # mol/min x min
    assert np.max(np.abs(fed - r.state("al_dissolved") - r.state("solid").sum(axis=1))) < 1e-9 * fed[-1]
    assert run.kpis["yield_pct"] > 99.0


# -- realistic defaults -------------------------------------------------------------------------
def test_default_run_ends_at_solubility_with_sizes_from_their_definitions(name):
    run, proc = _run(name), PROCESSES[name]
    r, k = run.result, run.kpis
    # the solution was supersaturated while dosing and ageing brings it back to equilibrium with the solid;
    # the solubility at the default pH is sub-micromolar against 100 mmol/L of Al fed
    assert k["S_max"] > 1.0
    assert r.output("supersaturation")[-1] == pytest.approx(1.0, abs=0.05)
    assert k["yield_pct"] > 99.0
    # stirrer: P = Np rho N^3 D^5 (Rushton et al. 1950) and G = (P/(V mu))^(1/2) (Camp & Stein 1943),
    # with the viscosity of water at 25 degC, 0.890 mPa s (CRC Handbook)
    P = r.parameters
    rpm = r.u[-1, r.model.inputs.names.index("stirrer_speed")]
    power = P["power_number"] * P["rho_liquid"] * (rpm / 60) ** 3 * P["impeller_diameter"] ** 5
    V = k["final_volume_L"] * 1e-3
    assert k["power_per_volume_W_per_m3"] == pytest.approx(power / V, rel=1e-9)
    assert k["shear_rate_1_per_s"] == pytest.approx((power / V / 0.890e-3) ** 0.5, rel=0.005)
    # primary particles: the solid volume shared by the nuclei, d_p = (6 V_solid / (pi N))^(1/3)
    solid_m3_per_mL = k["solid_al_g_per_L"] / 26.98 * proc.v_m * 1e-3
    d_p = (6 * solid_m3_per_mL / (np.pi * k["nuclei_per_mL"])) ** (1 / 3)
    assert k["primary_d_nm"] == pytest.approx(d_p * 1e9, rel=1e-6)
    # aggregate sizes: ordered quantiles and span by its definition
    assert k["d10_um"] < k["d50_um"] < k["d90_um"]
    assert k["span"] == pytest.approx((k["d90_um"] - k["d10_um"]) / k["d50_um"], rel=1e-9)


def test_no_precipitate_where_the_solid_dissolves():
    k = kpis("alooh", inputs={"pH": 3.0})  # Al3+ is soluble at pH 3
    assert k["yield_pct"] < 1e-6 and k["S_max"] < 1.0 and k["d50_um"] is None


def test_phosphate_shortfall_limits_the_alpo4_yield():
    k = kpis("alpo4", params={"p_al_ratio": 0.8})
    assert k["yield_pct"] == pytest.approx(80.0, abs=0.5)


# -- trends ---------------------------------------------------------------------------------------
PH_FAR_NEAR = {"alooh": (7.0, 10.5), "alpo4": (7.5, 5.0)}  # PZC 11.4 and 5.0


def test_aggregates_grow_larger_near_the_point_of_zero_charge(name):
    far, near = PH_FAR_NEAR[name]
    k_far, k_near = kpis(name, inputs={"pH": far}), kpis(name, inputs={"pH": near})
    assert k_near["collision_efficiency"] > k_far["collision_efficiency"]
    assert k_near["d50_um"] > 1.5 * k_far["d50_um"], (k_far["d50_um"], k_near["d50_um"])
    assert k_near["yield_pct"] > 99.0 and k_far["yield_pct"] > 99.0
    # the same pH with the PZC moved onto it: only the collision efficiency changes
    k_at_pzc = kpis(name, params={"pzc": far}, inputs={"pH": far})
    assert k_at_pzc["d50_um"] > 1.5 * k_far["d50_um"]
    assert k_at_pzc["S_max"] == pytest.approx(k_far["S_max"], rel=0.05)


def test_faster_stirring_gives_smaller_flocs_once_breakage_dominates(name):
    speeds = (100, 300, 1000)
    d50 = [kpis(name, inputs={"stirrer_speed": n})["d50_um"] for n in speeds]
    assert d50[0] > d50[1] > d50[2], d50
    # breakage-aggregation balance: G_s ~ N^1.5, d ~ G_s^-(y-1)/z = G_s^-0.6 -> d ~ N^-0.9
    slope = np.polyfit(np.log(speeds), np.log(d50), 1)[0]
    assert -1.2 < slope < -0.6, slope
    # it is a steady state: d50 no longer changes over the last 10 min of ageing
    series = _run(name, (), (("stirrer_speed", 100),)).series
    late = series["d50_um"][series.index >= series.index[-1] - 600]
    assert np.ptp(late) < 0.02 * late.iloc[-1]


def test_faster_dosing_raises_supersaturation_and_nucleates_smaller_primaries(name):
    k = [kpis(name, params={"dosing_time": t}) for t in (5, 20, 80)]
    s_max = [x["S_max"] for x in k]
    nuclei = [x["nuclei_per_mL"] for x in k]
    primary = [x["primary_d_nm"] for x in k]
    assert s_max[0] > s_max[1] > s_max[2], s_max
    assert nuclei[0] > nuclei[1] > nuclei[2], nuclei
    assert primary[0] < primary[1] < primary[2], primary


# -- outputs and validation ------------------------------------------------------------------------
def test_distribution_and_series(name):
    run = _run(name)
    dist = run.distribution
    assert len(dist.labels) >= 4 and dist.density.shape == (len(dist.labels), dist.diameter.size)
    dln = np.diff(np.log(PROCESSES[name].grid.edge_diameters))
    np.testing.assert_allclose(dist.density @ dln, 1.0, rtol=1e-9)
    s = run.series
    for col in ("supersaturation", "pH", "d50_um", "yield_pct", "primary_d_nm"):
        assert col in s.columns and col in s.attrs["units"]
    assert s["d50_um"].iloc[-1] == pytest.approx(run.kpis["d50_um"], rel=1e-9)
    assert s["yield_pct"].iloc[-1] > s["yield_pct"].iloc[5]


def test_bad_values_name_the_field(name):
    proc = PROCESSES[name]
    with pytest.raises(ParameterError, match="pH"):
        proc.run(inputs={"pH": 14})
    with pytest.raises(ParameterError, match="stirrer_speed"):
        proc.run(inputs={"stirrer_speed": "3 m"})
    with pytest.raises(ParameterError, match="dosing_time"):
        proc.run(parameters={"dosing_time": -1})
    with pytest.raises(ParameterError, match="k_b"):
        proc.run(parameters={"k_b": 0.0})
    with pytest.raises(ParameterError, match="gamma_s"):
        proc.run(parameters={"gamma_sl": 0.1})  # unknown name, with a hint


# -- trend tables for the docs ---------------------------------------------------------------------
def _tables():
    keys = ("d10_um", "d50_um", "d90_um", "span", "yield_pct", "S_max", "primary_d_nm", "nuclei_per_mL")
    cases = [("defaults", {}, {})]
    cases += [(f"pH {ph}", {}, {"pH": ph}) for ph in (4.5, 5.0, 6.0, 7.0, 7.5, 8.5, 9.5, 10.5)]
    cases += [(f"{n} rpm", {}, {"stirrer_speed": n}) for n in (100, 300, 1000)]
    cases += [(f"dosing {t} min", {"dosing_time": t}, {}) for t in (5, 20, 80)]
    cases += [("5 degC", {}, {"temperature": 278.15}), ("50 degC", {}, {"temperature": 323.15})]
    cases += [("feed 0.25 mol/L", {"al_feed_conc": 0.25}, {}), ("feed 1 mol/L", {"al_feed_conc": 1.0}, {})]
    for name in sorted(PROCESSES):
        print(f"\n### {PROCESSES[name].name}\n")
        print("| case | " + " | ".join(keys) + " |")
        print("|---" * (len(keys) + 1) + "|")
        for label, par, inp in cases:
            k = kpis(name, par, inp)
            print(f"| {label} | " + " | ".join(f"{k[c]:.3g}" for c in keys) + " |")


if __name__ == "__main__":
    _tables()
