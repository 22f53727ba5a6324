"""The particle-formation page driven in headless Chromium with the real emulsion model.

Runs go through the page's background callback (a forked worker with a progress bar), so these
tests cover the whole path: form -> SimulationSpec -> Process.run -> saved record -> figures.
"""
from __future__ import annotations

import json
import re

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

MODEL = "emulsion_homogenizer"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def reference_run():
    """One default run in this process: it builds the model and its cached integrators, which the
    page's forked workers inherit (so browser runs take seconds), and it tells how many
    distribution labels a default run has."""
    import bioprocess_twin.units.emulsion_homogenizer  # noqa: F401  (registers it even before units/__init__ does)
    from bioprocess_twin.core import registry

    run = registry.get(MODEL).run()
    assert run.ok, run.result.message
    return run


@pytest.fixture
def page(dash_duo, tmp_path, reference_run):
    from dashboards.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False)
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#run-button", timeout=30)
    dash_duo.wait_for_element("#param-form input", timeout=30)
    for graph in ("#dist-graph", "#series-graph"):      # wait for the layout to settle
        dash_duo.wait_for_element(f"{graph} .main-svg", timeout=30)
    return dash_duo


def field(duo, name):
    dom_id = json.dumps({"name": name, "type": "param"}, separators=(",", ":"))
    return duo.driver.find_element(By.XPATH, f"//input[@id='{dom_id}']")


def set_field(duo, name, value):
    box = field(duo, name)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(str(value), Keys.TAB)      # the boxes are debounced: the value is sent on blur


def number(text):
    match = re.search(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", text)
    assert match, f"no number in {text!r}"
    return float(match.group())


def click(duo, selector):
    element = duo.find_element(selector)
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    element.click()


def run_and_wait(duo, run_no, timeout=120):
    """Press Run, see the worker start (button disabled, progress bar shown) and finish, then
    check that the run was saved as record ``run_no`` with no alert."""
    click(duo, "#run-button")
    WebDriverWait(duo.driver, 10).until(lambda d: d.execute_script(
        "return document.querySelector('#run-button').disabled"
        " && !document.querySelector('#progress-wrap').classList.contains('invisible');"))
    duo.wait_for_element("#run-button:not([disabled])", timeout=timeout)
    duo.wait_for_element("#progress-wrap.invisible", timeout=10)
    alerts = [a.text for a in duo.find_elements("#run-alert .alert")]
    assert alerts == [], f"run {run_no} raised an alert: {alerts}"
    duo.wait_for_contains_text("#run-status", f"run #{run_no} ", timeout=10)


def trace_count(duo, graph_id):
    return duo.driver.execute_script(
        f"return document.querySelector('#{graph_id} .js-plotly-plot').data.length;")


def test_lower_pressure_gives_larger_droplets(page, reference_run):
    duo = page
    assert duo.get_logs() == [], "console errors on page load"
    assert MODEL in duo.find_element("#model-picker").text
    assert float(field(duo, "pressure").get_attribute("value")) == 1000
    assert field(duo, "pressure").get_attribute("max") == "2000"
    assert duo.find_elements("#kpi-z_average_nm") == []          # nothing run yet in a fresh database

    # default conditions (1000 bar); while the worker runs the button is disabled and the progress bar shows
    run_and_wait(duo, 1)
    z_high = number(duo.find_element("#kpi-z_average_nm").text)
    n_labels = len(reference_run.distribution.labels)
    assert trace_count(duo, "dist-graph") == n_labels
    assert z_high == pytest.approx(reference_run.kpis["z_average_nm"], rel=1e-3)   # shown to 4 digits

    # half the pressure: less energy per pass, so larger droplets
    set_field(duo, "pressure", 500)
    run_and_wait(duo, 2)
    z_low = number(duo.find_element("#kpi-z_average_nm").text)
    assert trace_count(duo, "dist-graph") == n_labels
    assert z_low > z_high, f"Z-average at 500 bar ({z_low} nm) not above 1000 bar ({z_high} nm)"
    assert trace_count(duo, "series-graph") >= 1

    # both runs are saved and listed, newest first
    rows = duo.find_elements("#recent-runs-table tbody tr")
    assert len(rows) == 2
    assert rows[0].text.startswith("2 ") and MODEL in rows[0].text
    assert '"pressure": 500' in duo.find_element("#spec-json").get_attribute("textContent")

    duo.driver.set_window_size(1400, 1800)
    duo.driver.execute_script("window.scrollTo(0, 0);")
    duo.driver.save_screenshot("/tmp/particles.png")
    assert duo.get_logs() == [], "console errors after the runs"


def test_out_of_bounds_input_names_the_parameter(page):
    duo = page
    set_field(duo, "pressure", 5000)          # bounds are [100, 2000] bar
    click(duo, "#run-button")
    duo.wait_for_element("#run-error", timeout=30)
    text = duo.find_element("#run-error").text
    assert "pressure" in text and "2000" in text
    assert duo.find_elements("#kpi-z_average_nm") == []          # nothing was run
    assert duo.find_element("#recent-runs").text.startswith("No saved runs")


# -- calibrated versions ----------------------------------------------------------------------------------------
CODE = "1.0.0"
CALIBRATED = f"{CODE}+cal.1"
CALIBRATED_VALUES = {"C1": 0.05, "Cc": 0.5}      # code defaults 0.2 and 0.3: larger droplets


@pytest.fixture
def calibrated_root(tmp_path, monkeypatch):
    """A models root with one calibrated emulsion set, in the form `bioprocess-twin calibrate` saves."""
    import yaml

    folder = tmp_path / "models" / MODEL
    folder.mkdir(parents=True)
    (folder / f"{CALIBRATED}.yaml").write_text(yaml.safe_dump({
        "kind": "calibrated parameter set", "model": MODEL, "base_version": CODE, "version": CALIBRATED,
        "parameters": CALIBRATED_VALUES, "estimates": {}, "per_batch": {}, "provenance": {}}))
    monkeypatch.setenv("BIOPROCESS_TWIN_MODELS", str(tmp_path / "models"))
    return tmp_path / "models"


def test_form_of_a_calibrated_version_sends_only_the_users_changes(calibrated_root, reference_run):
    from bioprocess_twin.core.parameters import ParameterError
    from dashboards.components import forms

    description = forms.describe_version(MODEL, CALIBRATED)
    shown = {p["name"]: p["default"] for p in description["parameters"]}
    assert shown["C1"] == 0.05 and shown["Cc"] == 0.5 and shown["C2"] == 1.0          # C2 keeps the code default
    declared = [p for _, params in forms.fields(description) for p in params]
    ids = [forms.param_id(p["name"]) for p in declared]
    values = [800 if p["name"] == "pressure" else p["default"] for p in declared]      # the form as shown
    spec, errors = forms.spec_from_form(MODEL, description, ids, values)
    assert errors == [] and spec.version == CALIBRATED
    assert spec.parameters == {} and spec.inputs == {"pressure": 800.0}   # the calibrated values are not re-sent
    code_spec, _ = forms.spec_from_form(MODEL, forms.describe_version(MODEL, CODE), ids, values)
    assert code_spec.version is None and code_spec.parameters == CALIBRATED_VALUES   # changes from the code's
    (calibrated_root / MODEL / "1.0.0+cal.2.yaml").write_text(
        (calibrated_root / MODEL / f"{CALIBRATED}.yaml").read_text().replace("C1: 0.05", "C1: 50.0"))
    with pytest.raises(ParameterError) as info:                   # outside the bounds [1e-5, 10]
        forms.describe_version(MODEL, "1.0.0+cal.2")
    assert info.value.errors[0][0] == "version" and "C1" in info.value.errors[0][1]


def test_a_calibrated_version_fills_the_form_and_runs(calibrated_root, page):
    from bioprocess_twin.core.spec import SimulationSpec

    duo = page
    assert MODEL in duo.find_element("#model-picker").text
    assert CODE in duo.find_element("#version-picker").text
    assert float(field(duo, "C1").get_attribute("value")) == 0.2

    set_field(duo, "pressure", 800)
    run_and_wait(duo, 1)                                         # the code's version
    z_code = number(duo.find_element("#kpi-z_average_nm").text)
    assert f"{MODEL} {CODE} " in duo.find_element("#run-status").text

    duo.select_dcc_dropdown("#version-picker", value=CALIBRATED)
    WebDriverWait(duo.driver, 20).until(lambda d: field(duo, "C1").get_attribute("value") == "0.05")
    assert float(field(duo, "Cc").get_attribute("value")) == 0.5
    assert float(field(duo, "C2").get_attribute("value")) == 1.0
    assert float(field(duo, "pressure").get_attribute("value")) == 800     # the conditions set are kept
    assert "calibrated 0.05 (code 0.2)" in duo.find_element("#param-form").get_attribute("textContent")

    run_and_wait(duo, 2)
    duo.wait_for_contains_text("#run-status", f"{MODEL} {CALIBRATED} ", timeout=10)
    z_cal = number(duo.find_element("#kpi-z_average_nm").text)
    expected = SimulationSpec(model=MODEL, version=CALIBRATED, inputs={"pressure": 800}).run()
    assert z_cal == pytest.approx(expected.kpis["z_average_nm"], rel=1e-3)
    assert z_cal > 1.05 * z_code, f"calibrated Z-average {z_cal} nm not above the code's {z_code} nm"
    spec_text = duo.find_element("#spec-json").get_attribute("textContent")
    assert f'"version": "{CALIBRATED}"' in spec_text and '"C1"' not in spec_text
    rows = duo.find_elements("#recent-runs-table tbody tr")
    assert CALIBRATED in rows[0].text and CALIBRATED not in rows[1].text
    duo.driver.execute_script("window.scrollTo(0, 0);")
    duo.driver.save_screenshot("/tmp/particles_versions.png")

    # another model has no calibrated set; coming back starts again from the code's version
    duo.select_dcc_dropdown("#model-picker", value="liposome_microfluidic")
    WebDriverWait(duo.driver, 20).until(lambda d: not d.find_elements(By.XPATH, "//input[contains(@id, '\"C1\"')]"))
    assert duo.find_element("#version-picker").text.strip() == f"{CODE} (code)"
    duo.select_dcc_dropdown("#model-picker", value=MODEL)
    WebDriverWait(duo.driver, 20).until(lambda d: field(duo, "C1").get_attribute("value") == "0.2")
    assert duo.find_element("#version-picker").text.strip() == f"{CODE} (code)"
    assert duo.get_logs() == [], "console errors after the runs"
