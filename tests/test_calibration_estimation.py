"""Estimation, uncertainty, identifiability, goodness of fit and held-out validation on known problems."""

import numpy as np
import pandas as pd
import pytest

from bioprocess_twin.calibration.dataset import BatchData
from bioprocess_twin.calibration.estimation import estimate
from bioprocess_twin.calibration.goodness import fit_metrics, residual_checks, validate
from bioprocess_twin.calibration.settings import ErrorModel, FitInitialState, FitParameter, FitSettings
from bioprocess_twin.calibration.uncertainty import identifiability, parameter_table, profile, standardised_jacobian
from bioprocess_twin.core import ModelBuilder, Parameter, ParameterError, simulate


def batch(name: str, rows: list[tuple[str, float, float]], initial=None, inputs=None) -> BatchData:
    obs = pd.DataFrame(rows, columns=["output", "time", "value"])
    obs["tag"] = obs["output"]
    obs["source"] = "synthetic"
    return BatchData(
        batch=name,
        observations=obs.sort_values(["output", "time"]).reset_index(drop=True),
        inputs=inputs or {},
        initial=initial or {},
        phases=[],
        end=float(obs["time"].max()),
    )


# -- a published problem with a known optimum: alpha-pinene isomerisation -------------------------------------
# Fuguitt & Hawkins 1947 data as used by Box, Hunter, MacGregor & Erjavec 1973 (Technometrics 15:33) and the COPS
# collection (Dolan, More & Munson 2004, ANL/MCS-TM-246): least squares optimum 19.872 at
# k = (5.926e-5, 2.963e-5, 2.047e-5, 2.745e-4, 3.998e-5) 1/min (Tjoa & Biegler 1991, Ind Eng Chem Res 30:376).
PINENE_T = [1230.0, 3060, 4920, 7800, 10680, 15030, 22620, 36420]
PINENE_Y = [
    [88.35, 7.3, 2.3, 0.4, 1.75],
    [76.4, 15.6, 4.5, 0.7, 2.8],
    [65.1, 23.1, 5.3, 1.1, 5.8],
    [50.4, 32.9, 6.0, 1.5, 9.3],
    [37.5, 42.7, 6.0, 1.9, 12.0],
    [25.9, 49.1, 5.9, 2.2, 17.0],
    [14.0, 57.4, 5.1, 2.6, 21.0],
    [4.5, 63.1, 3.8, 2.9, 25.7],
]
PINENE_K = [5.926e-5, 2.963e-5, 2.047e-5, 2.745e-4, 3.998e-5]


def pinene_model():
    m = ModelBuilder("alpha_pinene", version="1", time_units="min")
    k = [m.parameter(Parameter(name=f"k{i + 1}", units="1/min", default=1e-4, bounds=(1e-7, 1e-2))) for i in range(5)]
    y = [m.state(f"y{i + 1}", "percent", 100.0 if i == 0 else 0.0) for i in range(5)]
    m.ode(y[0], -(k[0] + k[1]) * y[0])
    m.ode(y[1], k[0] * y[0])
    m.ode(y[2], k[1] * y[0] - (k[2] + k[3]) * y[2] + k[4] * y[4])
    m.ode(y[3], k[2] * y[2])
    m.ode(y[4], k[3] * y[2] - k[4] * y[4])
    return m.build()


def test_alpha_pinene_reaches_the_published_optimum():
    rows = [(f"y{j + 1}", t, v) for t, ys in zip(PINENE_T, PINENE_Y) for j, v in enumerate(ys)]
    settings = FitSettings(
        parameters=[FitParameter(name=f"k{i + 1}") for i in range(5)],
        objective="wls",
        error_models={f"y{j + 1}": ErrorModel(a=1.0) for j in range(5)},
    )
    est = estimate(pinene_model(), {"fuguitt_hawkins": batch("fuguitt_hawkins", rows)}, settings)
    assert est.status == "converged"
    assert np.sum(est.residuals**2) == pytest.approx(19.872, abs=2e-3)
    assert [est.values[f"k{i + 1}"] for i in range(5)] == pytest.approx(PINENE_K, rel=2e-3)
    table, corr = parameter_table(est)
    assert all(row.ci_low < row.value < row.ci_high for row in table)
    assert np.allclose(np.diag(corr), 1.0) and np.all(np.abs(corr) <= 1.0)


# -- synthetic Monod batches: recovery, coverage, per-batch values, validation ---------------------------------
TRUE = {"mu_max": 0.5, "K_s": 0.8, "Y_xs": 0.45}


#: a user's own model file, as `model_file:` in a calibration spec reads it (tests/test_calibration_cli.py)
MONOD_SOURCE = """
from bioprocess_twin.core import ModelBuilder, Parameter


def build_model():
    m = ModelBuilder("monod_batch", version="1", time_units="h")
    mu_max = m.parameter(Parameter(name="mu_max", units="1/h", default=0.3, bounds=(0.01, 3)))
    K_s = m.parameter(Parameter(name="K_s", units="g/L", default=0.3, bounds=(1e-3, 20)))
    Y = m.parameter(Parameter(name="Y_xs", units="g/g", default=0.3, bounds=(0.01, 1)))
    X = m.state("X", "g/L", 0.1)
    S = m.state("S", "g/L", 10.0)
    mu = mu_max * S / (K_s + S)
    m.ode(X, mu * X)
    m.ode(S, -mu * X / Y)
    return m.build()
"""


def monod_model():
    namespace = {}
    exec(MONOD_SOURCE, namespace)
    return namespace["build_model"]()


def monod_batches(
    seed: int,
    n: int = 4,
    X0=(0.1, 0.15, 0.2, 0.08, 0.12, 0.18),
    S0=(10, 6, 14, 8, 12, 5),
    a=0.05,
    b=0.04,
    times=np.linspace(1, 12, 12),
    truth=TRUE,
):
    rng = np.random.default_rng(seed)
    model = monod_model()
    out = {}
    for i in range(n):
        res = simulate(model, np.concatenate([[0.0], times]), parameters=truth, initial={"X": X0[i], "S": S0[i]})
        rows = []
        for name in ("X", "S"):
            clean = res.state(name)[1:]
            noisy = clean + rng.normal(0, 1, len(clean)) * np.sqrt(a**2 + (b * clean) ** 2)
            rows += [(name, t, v) for t, v in zip(times, noisy)]
        out[f"B{i + 1}"] = batch(f"B{i + 1}", rows, initial={"X": X0[i], "S": S0[i]})
    return out


MONOD_FIT = FitSettings(
    parameters=[FitParameter(name=n) for n in TRUE], error_models={o: ErrorModel(kind="combined") for o in ("X", "S")}
)


def test_monod_parameters_are_recovered_with_intervals_that_cover_them():
    covered, total = 0, 0
    for seed in range(12):
        est = estimate(monod_model(), monod_batches(seed), MONOD_FIT)
        assert est.ok, est.message
        table, _ = parameter_table(est)
        for row in table:
            covered += row.ci_low <= TRUE[row.label] <= row.ci_high
            total += 1
        if seed == 0:
            assert {k: est.values[k] for k in TRUE} == pytest.approx(TRUE, rel=0.1)
            a, b = est.error_params["X"]
            assert 0.01 < a < 0.2 and 0.01 < b < 0.1  # the noise model was 0.05 + 4 %
    # 36 nominal 95 % intervals: expect ~34 to cover; fewer than 30 would be a 1-in-1000 event
    assert covered >= 30, f"{covered} of {total} intervals covered the truth"


def test_per_batch_initial_states_and_parameters_are_estimated_per_batch():
    data = monod_batches(1)
    X0 = {n: b.initial.pop("X") for n, b in data.items()}  # the inoculum is not recorded: fit it
    settings = FitSettings(
        parameters=[FitParameter(name="mu_max"), FitParameter(name="K_s"), FitParameter(name="Y_xs", scope="batch")],
        initial_states=[FitInitialState(state="X", lower=0.01, upper=1.0, start=0.1)],
        error_models={o: ErrorModel(kind="combined") for o in ("X", "S")},
    )
    est = estimate(monod_model(), data, settings)
    for name, x0 in X0.items():
        assert est.values[f"X(0)[{name}]"] == pytest.approx(x0, rel=0.2)
        assert est.values[f"Y_xs[{name}]"] == pytest.approx(TRUE["Y_xs"], rel=0.1)
    assert est.parameter_values("B2")["Y_xs"] == est.values["Y_xs[B2]"]


def test_multiple_starts_find_the_optimum_from_a_poor_guess():
    settings = MONOD_FIT.model_copy(
        update={
            "parameters": [
                FitParameter(name="mu_max", start=2.5),
                FitParameter(name="K_s", start=15.0),
                FitParameter(name="Y_xs", start=0.02),
            ],
            "starts": 6,
        }
    )
    est = estimate(monod_model(), monod_batches(2), settings)
    reference = estimate(monod_model(), monod_batches(2), MONOD_FIT)
    assert len(est.starts) == 6
    assert est.neg2_log_likelihood == pytest.approx(reference.neg2_log_likelihood, abs=1e-3)


def test_profile_interval_agrees_with_the_wald_interval_when_the_problem_is_nearly_linear():
    est = estimate(monod_model(), monod_batches(3), MONOD_FIT)
    table, _ = parameter_table(est)
    wald = next(r for r in table if r.label == "mu_max")
    prof = profile(est, "mu_max", points=13)
    assert prof["ci_low"] == pytest.approx(wald.ci_low, rel=0.05)
    assert prof["ci_high"] == pytest.approx(wald.ci_high, rel=0.05)
    assert not prof["warnings"]


def test_parameters_that_only_appear_as_a_product_are_flagged():
    m = ModelBuilder("decay", version="1", time_units="h")
    k1, k2 = (
        m.parameter(Parameter(name="k1", units="1/h", default=0.5, bounds=(0.01, 10))),
        m.parameter(Parameter(name="k2", units="1", default=2.0, bounds=(0.01, 10))),
    )
    x = m.state("x", "g/L", 1.0)
    m.ode(x, -k1 * k2 * x)
    model = m.build()
    t = np.linspace(0.5, 4, 8)
    data = {"b": batch("b", [("x", ti, float(np.exp(-1.0 * ti))) for ti in t])}
    settings = FitSettings(
        parameters=[FitParameter(name="k1"), FitParameter(name="k2")],
        objective="wls",
        error_models={"x": ErrorModel(a=0.01)},
    )
    est = estimate(model, data, settings)
    report = identifiability(standardised_jacobian(est), ["k1", "k2"])
    assert report["rank"] == 1
    assert any("k1" in w and "k2" in w for w in report["warnings"])
    assert [r["estimable"] for r in report["ranking"]] == [True, False]
    table, _ = parameter_table(est)
    assert all(not np.isfinite(r.se) for r in table)


def test_fit_metrics_and_residual_checks():
    est = estimate(monod_model(), monod_batches(4), MONOD_FIT)
    metrics = fit_metrics(est)
    row = metrics[(metrics.batch == "B1") & (metrics.output == "S")].iloc[0]
    b1 = est.problem.batches[0]
    m = b1.outputs == "S"
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean((est.predictions[: len(b1.y)][m] - b1.y[m]) ** 2)))
    assert row["nrmse"] == pytest.approx(row["rmse"] / np.ptp(b1.y[m]))
    checks = residual_checks(est)
    assert checks["normality"]["p_value"] > 0.01  # the noise is Gaussian
    # a wrong model (no substrate limitation: K_s fixed tiny, Y fixed wrong) leaves patterned residuals
    wrong = FitSettings(
        parameters=[FitParameter(name="mu_max")],
        fixed={"K_s": 1e-3, "Y_xs": 0.3},
        error_models={o: ErrorModel(kind="combined") for o in ("X", "S")},
    )
    bad = residual_checks(estimate(monod_model(), monod_batches(4), wrong))
    assert any("autocorrelated" in w for w in bad["warnings"])


def test_held_out_batches_are_predicted_better_than_the_mean_trajectory():
    data = monod_batches(5, n=6)
    train = {k: data[k] for k in ("B1", "B2", "B3", "B4")}
    held = {k: data[k] for k in ("B5", "B6")}
    est = estimate(monod_model(), train, MONOD_FIT)
    report = validate(est, held, train)
    for row in report["per_output"]:
        assert row["rmse"] < 0.5 * row["naive_rmse"], row
        assert row["skill"] > 0.5
    assert {r["batch"] for r in report["per_batch"]} == {"B5", "B6"}


def test_bad_settings_name_the_field():
    data = monod_batches(0, n=2)
    with pytest.raises(ParameterError) as err:
        estimate(monod_model(), data, FitSettings(parameters=[FitParameter(name="mu_maks")]))
    assert err.value.errors[0][0] == "parameters.mu_maks"
    with pytest.raises(ParameterError) as err:
        estimate(monod_model(), data, FitSettings(parameters=[FitParameter(name="mu_max")], outputs=["P"]))
    assert err.value.errors[0][0] == "outputs.P"
    data["B2"].observations = data["B2"].observations[data["B2"].observations.output == "X"]
    with pytest.raises(ParameterError) as err:
        estimate(monod_model(), data, FitSettings(parameters=[FitParameter(name="mu_max")]))
    assert err.value.errors[0] == ("batches.B2", "no data for output 'S'")
    with pytest.raises(ValueError, match="wls needs"):
        FitSettings(parameters=[FitParameter(name="mu_max")], objective="wls", error_models={"X": ErrorModel()})
