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
