"""Liposome formation by microfluidic mixing: empirical trends, conservation and closure physics."""

import numpy as np
import pytest

from bioprocess_twin.core import ParameterError
from bioprocess_twin.processes.liposome_microfluidic import (
    LiposomeMicrofluidic,
    closure_barrier,
    closure_radius,
    vesicle_diameter,
)


@pytest.fixture(scope="module")
def process():
    return LiposomeMicrofluidic()


@pytest.fixture(scope="module")
def run(process):
    cache = {}

    def _run(**kw):
        params = {k: v for k, v in kw.items() if k not in process.model.inputs}
        inputs = {k: v for k, v in kw.items() if k in process.model.inputs}
        key = tuple(sorted((k, str(v)) for k, v in kw.items()))
        if key not in cache:
            out = process.run(parameters=params, inputs=inputs)
            assert out.ok, out.result.message
            cache[key] = out
        return cache[key]

    return _run


def z_avg(out):
    return out.kpis["z_average_nm"]


def test_size_falls_with_flow_rate_ratio(run):
    sizes = [z_avg(run(flow_rate_ratio=f)) for f in (1, 3, 5)]
    d50 = [run(flow_rate_ratio=f).kpis["d50_nm"] for f in (1, 3, 5)]
    assert sizes[0] > sizes[1] > sizes[2]
    assert d50[0] > d50[1] > d50[2]
    assert sizes[0] > 1.5 * sizes[2]  # FRR is the dominant handle (Kastner 2014)


def test_size_falls_with_total_flow_rate(run):
    sizes = [z_avg(run(total_flow_rate=q)) for q in (1, 4, 16)]
    assert sizes[0] > sizes[1] > sizes[2]
    tmix = [run(total_flow_rate=q).kpis["mixing_time_ms"] for q in (1, 4, 16)]
    assert tmix[0] > tmix[1] > tmix[2]
    # chaotic advection in a staggered-herringbone mixer (Stroock et al. 2002): t_mix = lam ln(Pe)/U with
    # U = TFR/(w h) and Pe = U w/D, so a bit less than inversely proportional to TFR (at 25 degC)
    P = run().result.parameters
    w, h = P["channel_width"] * 1e-6, P["channel_height"] * 1e-6  # um -> m
    lam, D = P["stretching_length"] * 1e-3, P["ethanol_diffusivity"]  # mm -> m; m^2/s
    for q, t in zip((1, 4, 16), tmix):
        U = q * 1e-6 / 60 / (w * h)
        assert t == pytest.approx(1e3 * lam * np.log(U * w / D) / U, rel=1e-9), q


def test_size_rises_with_lipid_concentration(run):
    sizes = [z_avg(run(lipid_concentration=c)) for c in (5, 10, 20)]
    assert sizes[0] < sizes[1] < sizes[2]


@pytest.mark.parametrize("frr", [1, 3, 5])
def test_final_ethanol_fraction_is_one_over_one_plus_frr(run, frr):
    out = run(flow_rate_ratio=frr)
    phi = out.result.state("ethanol_fraction")
    assert phi[0] == pytest.approx(1.0)
    assert np.all(np.diff(phi) <= out.result.options["atol"])  # dilution only, to solver tolerance
    assert out.kpis["ethanol_fraction_final"] == pytest.approx(1 / (1 + frr), rel=1e-4)


@pytest.mark.parametrize("case", [{}, {"flow_rate_ratio": 1, "total_flow_rate": 1, "lipid_concentration": 20}])
def test_lipid_mass_is_conserved(process, run, case):
    out = run(**case)
    r = out.result
    c0 = r.parameters["lipid_concentration"]
    total = r.state("lipid_free") + r.state("lipid_fragments").sum(axis=1) + r.state("lipid_vesicles").sum(axis=1)
    np.testing.assert_allclose(total, c0, rtol=1e-6)
    # lipid really moves: most of it ends in vesicles, little stays dissolved
    assert r.state("lipid_vesicles")[-1].sum() > 0.9 * c0
    assert out.kpis["vesicle_lipid_fraction"] + out.kpis["fragment_lipid_fraction"] + out.kpis[
        "free_lipid_fraction"
    ] == pytest.approx(1.0, abs=1e-6)


def test_closure_radius_balances_disc_and_vesicle_energies():
    kappa, kbar, edge = 8.5e-20, -0.9 * 8.5e-20, 5e-12
    r_star = closure_radius(kappa, kbar, edge)
    assert r_star == pytest.approx((2 * kappa + kbar) / edge)
    # disc of equal area: pi R_d^2 = 4 pi R*^2; its rim energy equals the vesicle's bending energy
    r_disc = 2 * r_star
    assert 2 * np.pi * r_disc * edge == pytest.approx(4 * np.pi * (2 * kappa + kbar))
    # Fromherz barrier: full bending energy for a tiny disc, none from R_v = 2 R* on
    e_b = 4 * np.pi * (2 * kappa + kbar)
    assert closure_barrier(1e-12, kappa, kbar, edge) == pytest.approx(e_b, rel=1e-3)
    assert closure_barrier(2 * r_star, kappa, kbar, edge) == 0.0
    barrier = closure_barrier(np.array([0.5, 1.0, 1.5]) * r_star, kappa, kbar, edge)
    assert np.all(np.diff(barrier) < 0)
    # equal areas: the vesicle diameter of a disc of face area A is its disc radius
    assert vesicle_diameter(np.pi * (60e-9) ** 2) == pytest.approx(60e-9)


def test_model_closure_radius_matches_formula(run):
    out = run(flow_rate_ratio=3)
    p = out.result.parameters
    phi_f = 0.25
    edge = p["edge_tension_water"] * 1e-12 * np.exp(-phi_f / p["edge_tension_ethanol_scale"])
    expected = (2 + p["gaussian_modulus_ratio"]) * p["bending_modulus"] / edge * 1e9
    assert out.kpis["closure_radius_nm"] == pytest.approx(expected, rel=1e-6)
    # vesicles close between R* and 2 R* (barrier vanishes at 2 R*)
    radius = out.kpis["d50_nm"] / 2
    assert expected * 0.9 < radius < 2.5 * expected


def test_edge_tension_and_bending_modulus_set_the_size(run):
    base = z_avg(run())
    assert z_avg(run(edge_tension_water=20.0)) < base < z_avg(run(edge_tension_water=8.0))
    assert z_avg(run(bending_modulus=1.2e-19)) > base


def test_default_run_statistics_and_vesicle_count(process, run):
    out = run()
    k = out.kpis
    assert k["d10_nm"] < k["d50_nm"] < k["d90_nm"] and k["pdi"] >= 0
    assert k["span"] == pytest.approx((k["d90_nm"] - k["d10_nm"]) / k["d50_nm"], rel=1e-9)
    assert k["vesicle_lipid_fraction"] > 0.95  # formation is complete within formation_time
    assert not out.result.warnings
    # vesicle count from the lipid in vesicles: a closed bilayer of diameter d holds 2 pi d^2 / a_L lipids
    # (two leaflets), at the concentration of the mixed stream (basis x final ethanol fraction)
    P = out.result.parameters
    d = vesicle_diameter(process.grid.pivots)
    per_vesicle = 2 * np.pi * d**2 / (P["area_per_lipid"] * 1e-18) * P["lipid_molar_mass"] * 1e-3 / 6.02214076e23
    lipid = out.result.state("lipid_vesicles")[-1]  # mg/mL = kg/m^3 per class, per volume of ethanol stream
    count = (lipid / per_vesicle).sum() * k["ethanol_fraction_final"] * 1e-6
    assert k["vesicle_count_per_mL"] == pytest.approx(count, rel=1e-6)
    dist = out.distribution
    dln = np.diff(np.log(vesicle_diameter(process.grid.edges)))
    np.testing.assert_allclose(dist.density @ dln, 1.0, rtol=1e-9)
    assert len(dist.labels) == dist.density.shape[0] >= 3
    s = out.series
    assert {"ethanol_fraction", "supersaturation", "fragment_count", "vesicle_count", "z_average"} <= set(s.columns)
    assert s.attrs["units"]["z_average"] == "nm"
    assert s["supersaturation"].max() > 1.0


def test_units_are_converted(run):
    assert z_avg(run(temperature="310.15 K")) == pytest.approx(z_avg(run(temperature=37.0)), rel=1e-9)
    assert z_avg(run(lipid_concentration="0.01 g/mL")) == pytest.approx(z_avg(run()), rel=1e-9)


@pytest.mark.parametrize(
    "params, inputs, name",
    [
        ({"lipid_concentration": -1.0}, {}, "lipid_concentration"),
        ({"bending_modulus": "1 m"}, {}, "bending_modulus"),
        ({"formation_time": 0.0}, {}, "formation_time"),
        ({}, {"flow_rate_ratio": 0.0}, "flow_rate_ratio"),
        ({}, {"total_flow_rate": 1000.0}, "total_flow_rate"),
        ({}, {"temperature": "500 K"}, "temperature"),
    ],
)
def test_bad_input_raises_parameter_error_naming_it(process, params, inputs, name):
    with pytest.raises(ParameterError, match=name):
        process.run(parameters=params, inputs=inputs)


def test_incomplete_formation_is_flagged(process):
    out = process.run(parameters={"formation_time": 0.006})
    assert out.ok
    assert any("formation incomplete" in w for w in out.result.warnings)
