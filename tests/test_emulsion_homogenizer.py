"""Squalene O/W emulsion in a high-pressure homogenizer: physics trends, conservation and validation."""

import casadi as ca
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from bioprocess_twin.core import ParameterError, SolverOptions, simulate
from bioprocess_twin.core.compiled import compiler
from bioprocess_twin.core.units import si_scale, to_si
from bioprocess_twin.pbe import size_stats
from bioprocess_twin.processes.emulsion_homogenizer import (
    EmulsionHomogenizer,
    _rhs,
    area_rates,
    initial_state,
    rhs_numpy,
)


@pytest.fixture(scope="module")
def proc():
    return EmulsionHomogenizer()


def pass_ends(run):
    return run.series[run.series["pass_end"]]


def si_factors(model):
    """x_SI = factors * x_declared for the state vector (rhs_numpy works in SI; inv_d32 is declared in 1/um)."""
    return np.concatenate([np.full(v.size, si_scale(v.units)[0]) for v in model.states])


def test_higher_pressure_gives_smaller_droplets(proc):
    pressures = [300, 600, 1000, 1500]
    runs = [proc.run(inputs={"pressure": p}) for p in pressures]
    assert all(r.ok for r in runs)
    z = np.array([r.kpis["z_average_nm"] for r in runs])
    d32 = np.array([r.kpis["d32_nm"] for r in runs])
    assert np.all(np.diff(z) < 0) and np.all(np.diff(d32) < 0), (z, d32)
    # d ~ dp^-b with b of the order reported for homogenizers (0.6-1; Walstra 1993, Chem Eng Sci 48:333)
    b = -np.polyfit(np.log(pressures), np.log(d32), 1)[0]
    assert 0.6 <= b <= 1.0, b
    # dissipation follows eps = dp/(rho t_res) with t_res = V/Q and Q ~ dp^0.5: eps ~ dp^1.5
    eps = np.array([r.kpis["eps_W_per_kg"] for r in runs])
    np.testing.assert_allclose(np.diff(np.log(eps)) / np.diff(np.log(pressures)), 1.5, rtol=1e-9)


def test_more_passes_converge_to_a_plateau(proc):
    run = proc.run(parameters={"n_passes": 12})
    assert run.ok
    z = pass_ends(run)["z_average_nm"].to_numpy()
    drop = -np.diff(z) / z[:-1]
    assert np.all(drop > -1e-3), drop  # no growth from pass to pass
    assert np.all(np.diff(drop[1:]) < 1e-3), drop  # successive changes shrink
    assert drop[-1] < 0.02 and drop[0] > 0.2, drop  # big first steps, < 2 % at the end
    assert run.kpis["last_pass_change_pct"] == pytest.approx(100 * drop[-1])


def test_less_surfactant_means_more_coalescence(proc):
    # mechanism at one and the same drop population: coverage falls, coalescence rises
    op = proc.operators
    y = np.exp(-0.5 * (np.log(op.d / 150e-9) / 0.3) ** 2)
    y /= y.sum()
    s = y @ (1 / op.d)  # 1/d32 in 1/m: _rhs works in SI
    rates, cover = [], []
    for c in (0.5, 1.0, 2.0, 5.0):
        P = proc.model_parameters_si({"tween80": c, "span85": c})
        ph = _rhs(P, to_si(1000.0, "bar"), 293.15, y, s, op)[3]
        rates.append(area_rates(P, ph, y, s, op)[1])
        cover.append(ph["theta"])
    assert np.all(np.diff(cover) > 0), cover
    assert np.all(np.diff(rates) < 0), rates
    # and in a full run: larger drops with less surfactant (surfactant-poor regime)
    lean = proc.run(parameters={"tween80": 1.0, "span85": 1.0})
    rich = proc.run()
    assert lean.kpis["z_average_nm"] > 1.5 * rich.kpis["z_average_nm"]
    assert lean.kpis["coverage"] < rich.kpis["coverage"]


def test_area_rates_split_the_d32_rate(proc):
    # the two area rates are the breakage and coalescence terms of d(1/d32)/dtau, from O(n) weights
    op = proc.operators
    y = np.exp(-0.5 * (np.log(op.d / 400e-9) / 0.5) ** 2)
    y /= y.sum()
    w = 1 / op.d  # SI: 1/d32 = w . y in 1/m
    s = y @ w
    for pressure in (300.0, 1500.0):
        P = proc.model_parameters_si()
        _, ds, _, ph = _rhs(P, to_si(pressure, "bar"), 300.0, y, s, op)
        made, lost = area_rates(P, ph, y, s, op)
        brk = ph["t_res"] * op.breakage @ (ph["g"] * y)
        assert made == pytest.approx(w @ brk / s, rel=1e-12)
        assert made > 0 and lost > 0  # area lost is counted positive
        assert (made - lost) * s == pytest.approx(ds, rel=1e-10)


def test_oil_volume_is_conserved_across_passes(proc):
    run = proc.run(parameters={"n_passes": 8, "points_per_pass": 3}, inputs={"pressure": 1500})
    assert run.ok
    y = run.result.state("y")
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-6)
    # the carried 1/d32 state stays equal to the one computed from the classes
    op = proc.operators
    np.testing.assert_allclose(run.result.state("inv_d32"), y @ (1e-6 / op.d), rtol=1e-4)
    assert run.kpis["oil_balance_error"] < 1e-6


def test_temperature_rises_by_dp_over_rho_cp_per_pass(proc):
    P = proc.model_parameters()
    phi = P["oil_fraction"]
    rho_e = (1 - phi) * P["rho_c"] + phi * P["rho_d"]
    for p in (500, 1500):
        expected = p * 1e5 / (rho_e * P["cp"])
        hot = proc.run(parameters={"cooling": 0, "T_inlet": 10}, inputs={"pressure": p})
        T = hot.result.state("T") - 273.15  # integrated state, no reset between passes
        np.testing.assert_allclose(np.diff(T), expected, rtol=0.01)
        np.testing.assert_allclose(pass_ends(hot)["T_outlet_C"], T[1:], rtol=1e-6)
        cooled = proc.run(parameters={"T_inlet": 10}, inputs={"pressure": p})
        np.testing.assert_allclose(pass_ends(cooled)["T_outlet_C"], 10 + expected, rtol=0.01)
        assert cooled.kpis["T_out_C"] == pytest.approx(10 + expected, rel=0.01)
    # about 2.4 K per 100 bar in water-like emulsions
    assert 100e5 / (rho_e * P["cp"]) == pytest.approx(2.4, rel=0.05)


def test_default_run_sizes_follow_their_definitions_and_shrink_pass_by_pass(proc):
    run = proc.run()
    assert run.ok
    k, P = run.kpis, proc.model_parameters_si()
    # moment-ratio inequalities of any non-degenerate distribution; the DLS Z-average is D[6,5]
    assert k["d10_nm"] < k["d50_nm"] < k["d90_nm"]
    assert k["d32_nm"] < k["d43_nm"] < k["z_average_nm"]
    assert k["span"] == pytest.approx((k["d90_nm"] - k["d10_nm"]) / k["d50_nm"], rel=1e-9)
    assert k["pdi"] > 0
    # Hinze (1955) d_max = 0.725 (sigma/rho_c)^(3/5) eps^(-2/5) at the run's interfacial tension and dissipation
    hinze = 0.725 * (k["sigma_mN_per_m"] * 1e-3 / P["rho_c"]) ** 0.6 * k["eps_W_per_kg"] ** -0.4
    assert k["hinze_dmax_nm"] == pytest.approx(hinze * 1e9, rel=1e-9)
    dist = run.distribution
    assert dist.labels == ["feed"] + [f"pass {i}" for i in range(1, 7)]
    ln_edges = np.log(proc.operators.grid.edge_diameters * 1e9)
    dlnd = np.diff(ln_edges)
    np.testing.assert_allclose(dist.density @ dlnd, 1.0, rtol=1e-9)

    def quantiles(row, q):
        return np.exp(np.interp(q, np.concatenate([[0.0], np.cumsum(row * dlnd)]), ln_edges))

    # the feed is the log-normal pre-emulsion asked for: median feed_d50, standard deviation of ln d feed_gsd
    d16, d50, d84 = quantiles(dist.density[0], [0.1587, 0.5, 0.8413])
    assert d50 == pytest.approx(P["feed_d50"] * 1e9, rel=0.01)
    assert np.log(d84 / d16) / 2 == pytest.approx(P["feed_gsd"], rel=0.02)
    # every pass moves oil volume to smaller drops, and the last one is the product
    medians = np.array([quantiles(row, 0.5) for row in dist.density])
    assert np.all(np.diff(medians) < 0), medians
    assert medians[-1] == pytest.approx(k["d50_nm"], rel=0.01)


def test_numpy_rhs_matches_the_casadi_model(proc):
    """rhs_numpy in SI against the model in its declared units (same state, converted by pint)."""
    model, n = proc.model, proc.operators.grid.n
    P, P_si = proc.model_parameters({"tween80": 1.5}), proc.model_parameters_si({"tween80": 1.5})
    x = initial_state(proc.operators, P_si, to_si(25.0, "degC"))
    x[:n] = 0.7 * x[:n] + 0.3 / n
    x[n] = x[:n] @ (1 / proc.operators.d)
    scale = si_factors(model)
    f_ca = np.array(model.dae(0.0, x / scale, [], model.parameter_vector(P), [800.0])[0]).ravel()
    f_np = rhs_numpy(0.0, x, proc.operators, P_si, to_si(800.0, "bar")) / scale
    np.testing.assert_allclose(f_np, f_ca, rtol=1e-9, atol=1e-12 * np.abs(f_ca).max())


def test_bad_values_raise_parameter_errors_naming_the_field(proc):
    with pytest.raises(ParameterError, match="pressure"):
        proc.run(inputs={"pressure": 3000})
    with pytest.raises(ParameterError, match="squalane"):
        proc.run(parameters={"squalane": 0.05})
    with pytest.raises(ParameterError, match="n_passes"):
        proc.run(parameters={"n_passes": 0})
    with pytest.raises(ParameterError, match="tween80"):
        proc.run(parameters={"tween80": -1})


def test_an_input_given_as_a_parameter_is_pointed_to_inputs(proc):
    with pytest.raises(ParameterError, match="pressure: is an input, not a parameter"):
        proc.run(parameters={"pressure": "800 bar", "n_passes": 0})


def _states(proc):
    """Feed states and a mid-run state, at default and surfactant-poor conditions (other isotherm branch).

    Each as (declared parameters, pressure in bar, state in declared units, NumPy rhs in declared units):
    the model's functions take declared units, ``rhs_numpy`` SI, converted here by pint's factors.
    """
    op, n, scale = proc.operators, proc.operators.grid.n, si_factors(proc.model)
    out = []
    for given, pressure, T_C in (({}, 1000.0, 20.0), ({"tween80": 0.3, "span85": 0.2}, 600.0, 35.0)):
        P, P_si = proc.model_parameters(given), proc.model_parameters_si(given)
        x = initial_state(op, P_si, to_si(T_C, "degC"))
        mid = x.copy()
        mid[:n] = np.exp(-0.5 * (np.log(op.d / 180e-9) / 0.35) ** 2)
        mid[:n] /= mid[:n].sum()
        mid[n] = mid[:n] @ (1 / op.d)

        def f(x_declared, P_si=P_si, dp=to_si(pressure, "bar")):
            return rhs_numpy(0.0, x_declared * scale, op, P_si, dp) / scale

        out += [(P, pressure, x / scale, f), (P, pressure, mid / scale, f)]
    return out


def test_structured_rhs_equals_the_numpy_reference(proc):
    model = proc.model
    for P, pressure, x, rhs in _states(proc):
        f = np.array(model.structured.rhs(x, model.parameter_vector(P), [pressure])).ravel()
        ref = rhs(x)
        np.testing.assert_allclose(f, ref, rtol=1e-12, atol=1e-13 * np.abs(ref).max())


def test_structured_jacobian_equals_finite_differences_and_casadi_ad(proc):
    model = proc.model
    xs = ca.SX.sym("x", model.nx)
    for P, pressure, x, rhs in _states(proc):
        p = model.parameter_vector(P)
        J = np.array(model.structured.jacobian(x, p, [pressure]))
        ad = ca.Function(
            "ad_jacobian", [xs], [ca.jacobian(model.dae(0.0, xs, ca.SX(0, 1), p, np.array([pressure]))[0], xs)]
        )
        np.testing.assert_allclose(J, np.array(ad(x)), rtol=1e-10, atol=1e-12 * np.abs(J).max())
        fd = np.empty_like(J)  # central differences of the NumPy reference
        for i in range(model.nx):
            h = 1e-6 * max(abs(x[i]), 1e-3)
            up, dn = x.copy(), x.copy()
            up[i] += h
            dn[i] -= h
            fd[:, i] = (rhs(up) - rhs(dn)) / (2 * h)
        np.testing.assert_allclose(J, fd, rtol=1e-5, atol=1e-6 * np.abs(J).max())


def test_every_rhs_form_gives_the_scipy_z_average(proc):
    """10 passes with cooling: compiled, VM and symbolic CVODES runs and scipy BDF on rhs_numpy agree."""
    model, op = proc.model, proc.operators
    operating = proc.operating.resolve_si({"n_passes": 10}, "operating")  # what default_recipe receives
    recipe = proc.default_recipe(operating)
    times = proc.default_times(operating, recipe)
    z = {
        form: simulate(model, times, recipe=recipe, options=SolverOptions(rhs=form)).output("z_average")[-1]
        for form in ("compiled", "structured", "symbolic")
    }
    P = proc.model_parameters_si()
    x = initial_state(op, P, 293.15)
    for k in range(10):
        x[op.grid.n + 1] = 293.15
        x = solve_ivp(
            rhs_numpy, (k, k + 1), x, method="BDF", rtol=1e-6, atol=1e-8, args=(op, P, to_si(1000.0, "bar"))
        ).y[:, -1]
    z_scipy = size_stats(P["oil_fraction"] * x[: op.grid.n] / op.grid.pivots, op.grid)["z_average"] * 1e9
    for form, value in z.items():
        assert value == pytest.approx(z_scipy, rel=1e-5), (form, z)
    assert z["compiled"] == pytest.approx(z["structured"], rel=1e-12)  # same functions, same steps


def test_compiled_sensitivities_agree_with_the_declared_equations(proc):
    """The compiled library's forward derivatives (default) against CasADi's AD of the SX equations."""
    model, op = (
        proc.model,
        proc.operating.resolve_si({"n_passes": 3, "T_inlet": 20.0, "cooling": 1, "points_per_pass": 1}),
    )
    recipe = proc.default_recipe(op)
    runs = {
        rhs: simulate(
            model,
            proc.default_times(op, recipe),
            recipe=recipe,
            sensitivities=["C1", "Cc"],
            options=SolverOptions(rhs=rhs),
        )
        for rhs in ("auto", "symbolic")
    }
    for name in ("C1", "Cc"):
        compiled, symbolic = (
            runs[r].sensitivity_frame(name)[["z_average", "d32", "pdi"]].to_numpy()[1:] for r in ("auto", "symbolic")
        )
        assert np.all(np.abs(symbolic[-1, :2]) > 1.0)  # not trivially zero: nm per unit of C1, Cc
        np.testing.assert_allclose(compiled, symbolic, rtol=1e-6, atol=1e-9)
    if compiler():  # the default really ran on the library
        assert any(
            key[-1] == "compiled" and "second_order" in key[-2]
            for key in model.integrator_cache
            if isinstance(key, tuple)
        )
