"""The particle-formation page driven in headless Chromium with the real emulsion model.

Runs go through the page's background callback (a forked worker with a progress bar), so these
tests cover the whole path: form -> SimulationSpec -> Process.run -> saved record -> figures.
"""

from __future__ import annotations

import json
import re

import browser_waits as bw
import pytest
from selenium.webdriver.common.by import By

MODEL = "emulsion_homogenizer"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def reference_run():
    """One default run in this process: it builds the model and its cached integrators, which the
    page's forked workers inherit (so browser runs take seconds), and it tells how many
    distribution labels a default run has."""
    from bioprocess_twin import catalogue

    run = catalogue.get(MODEL).run()
    assert run.ok, run.result.message
    return run


@pytest.fixture
def page(dash_duo, tmp_path, reference_run):
    from dashboards.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False)
    # the layout has settled when the form and both (empty) graphs are drawn and no callback runs
    bw.open_page(
        dash_duo, app, "", "#run-button", "#param-form input", "#dist-graph .main-svg", "#series-graph .main-svg"
    )
    return dash_duo


def field_xpath(name):
    dom_id = json.dumps({"name": name, "type": "param"}, separators=(",", ":"))
    return f"//input[@id='{dom_id}']"


def message_selector(name):
    """CSS selector of the note under the box of ``name`` (why its entry cannot be used)."""
    dom_id = json.dumps({"name": name, "type": "param-message"}, separators=(",", ":"))
    return f"[id='{dom_id}']"


def field(duo, name, attribute="value"):
    """An attribute of the form's box for parameter ``name`` (read from the box as it is now)."""
    return bw.attribute(duo, field_xpath(name), attribute, by=By.XPATH)


def wait_for_field(duo, name, value):
    """Wait until the form (re-rendered by a callback) shows ``value`` in the box of ``name``."""
    bw.wait_until(
        duo,
        lambda d: d.find_element(By.XPATH, field_xpath(name)).get_attribute("value") == value,
        message=lambda: f"box {name} shows {field(duo, name)!r}, not {value!r}",
    )


def set_field(duo, name, value):
    bw.type_into(duo, field_xpath(name), value, by=By.XPATH)  # debounced boxes send the value on blur


def number(shown):
    match = re.search(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", shown)
    assert match, f"no number in {shown!r}"
    return float(match.group())


RUNNING = (
    "document.querySelector('#run-button').disabled"
    " && !document.querySelector('#progress-wrap').classList.contains('invisible')"
)


def run_and_wait(duo, run_no):
    """Press Run, see the worker start (button disabled, progress bar shown) and finish, then
    check that the run was saved as record ``run_no`` with no alert and wait for the figures."""
    bw.press_and_wait(duo, "#run-button", RUNNING)  # the running state is seen however short the run is
    alerts = bw.texts(duo, "#run-alert .alert")
    assert alerts == [], f"run {run_no} raised an alert: {alerts}"
    bw.wait_for_text(duo, "#run-status", contains=f"run #{run_no} ")
    bw.wait_for_callbacks(duo)  # figures and tables drawn from the new run


def kpi(duo, key):
    return number(bw.text(duo, f"#kpi-{key}"))


def trace_count(duo, graph_id, accept):
    return bw.plotted(duo, graph_id, "g.data.length", accept)


def test_lower_pressure_gives_larger_droplets(page, reference_run):
    duo = page
    assert duo.get_logs() == [], "console errors on page load"
    assert MODEL in bw.text(duo, "#model-picker")
    assert float(field(duo, "pressure")) == 1000
    assert "bounds [100, 2000] bar" in bw.attribute(duo, "#param-form", "textContent")
    assert duo.find_elements("#kpi-z_average_nm") == []  # nothing run yet in a fresh database

    # default conditions (1000 bar); while the worker runs the button is disabled and the progress bar shows
    run_and_wait(duo, 1)
    z_high = kpi(duo, "z_average_nm")
    n_labels = len(reference_run.distribution.labels)
    trace_count(duo, "dist-graph", lambda n: n == n_labels)
    assert z_high == pytest.approx(reference_run.kpis["z_average_nm"], rel=1e-3)  # shown to 4 digits

    # half the pressure: less energy per pass, so larger droplets
    set_field(duo, "pressure", 500)
    run_and_wait(duo, 2)
    z_low = kpi(duo, "z_average_nm")
    trace_count(duo, "dist-graph", lambda n: n == n_labels)
    assert z_low > z_high, f"Z-average at 500 bar ({z_low} nm) not above 1000 bar ({z_high} nm)"
    trace_count(duo, "series-graph", lambda n: n is not None and n >= 1)

    # both runs are saved and listed, newest first
    rows = bw.texts(duo, "#recent-runs-table tbody tr")
    assert len(rows) == 2, rows
    assert rows[0].startswith("2 ") and MODEL in rows[0]
    assert '"pressure": 500' in bw.attribute(duo, "#spec-json", "textContent")

    duo.driver.set_window_size(1400, 1800)
    duo.driver.execute_script("window.scrollTo(0, 0);")
    duo.driver.save_screenshot("/tmp/particles.png")
    assert duo.get_logs() == [], "console errors after the runs"


def test_out_of_bounds_input_names_the_parameter(page):
    duo = page
    set_field(duo, "pressure", 5000)  # bounds are [100, 2000] bar
    # the box says so at once, and the library refuses the run naming the field
    assert "outside [100, 2000] bar" in bw.wait_for_text(duo, message_selector("pressure"), contains="outside")
    bw.click(duo, "#run-button")
    message = bw.wait_for_text(duo, "#run-error", contains="pressure")
    assert "2000" in message
    bw.wait_for_callbacks(duo)
    assert duo.find_elements("#kpi-z_average_nm") == []  # nothing was run
    assert bw.text(duo, "#recent-runs").startswith("No saved runs")


# -- calibrated versions ----------------------------------------------------------------------------------------
CODE = "1.0.0"
CALIBRATED = f"{CODE}+cal.1"
CALIBRATED_VALUES = {"C1": 0.05, "Cc": 0.5}  # code defaults 0.2 and 0.3: larger droplets


@pytest.fixture
def calibrated_root(tmp_path, monkeypatch):
    """A models root with one calibrated emulsion set, in the form `bioprocess-twin calibrate` saves."""
    import yaml

    folder = tmp_path / "models" / MODEL
    folder.mkdir(parents=True)
    (folder / f"{CALIBRATED}.yaml").write_text(
        yaml.safe_dump(
            {
                "kind": "calibrated parameter set",
                "model": MODEL,
                "base_version": CODE,
                "version": CALIBRATED,
                "parameters": CALIBRATED_VALUES,
                "estimates": {},
                "per_batch": {},
                "provenance": {},
            }
        )
    )
    monkeypatch.setenv("BIOPROCESS_TWIN_MODELS", str(tmp_path / "models"))
    return tmp_path / "models"


def test_form_of_a_calibrated_version_sends_only_the_users_changes(calibrated_root, reference_run):
    from bioprocess_twin import catalogue
    from bioprocess_twin.core.parameters import ParameterError
    from dashboards.components import forms

    description = catalogue.describe_version(MODEL, CALIBRATED)
    shown = {p["name"]: p["default"] for p in description["parameters"]}
    assert shown["C1"] == 0.05 and shown["Cc"] == 0.5 and shown["C2"] == 1.0  # C2 keeps the code default
    declared = [p for _, params in forms.fields(description) for p in params]
    ids = [forms.param_id(p["name"]) for p in declared]
    values = [800 if p["name"] == "pressure" else p["default"] for p in declared]  # the form as shown
    spec, errors = forms.spec_from_form(MODEL, description, ids, values)
    assert errors == [] and spec.version == CALIBRATED
    assert spec.parameters == {} and spec.inputs == {"pressure": 800.0}  # the calibrated values are not re-sent
    code_spec, _ = forms.spec_from_form(MODEL, catalogue.describe_version(MODEL, CODE), ids, values)
    assert code_spec.version is None and code_spec.parameters == CALIBRATED_VALUES  # changes from the code's
    (calibrated_root / MODEL / "1.0.0+cal.2.yaml").write_text(
        (calibrated_root / MODEL / f"{CALIBRATED}.yaml").read_text().replace("C1: 0.05", "C1: 50.0")
    )
    with pytest.raises(ParameterError) as info:  # outside the bounds [1e-5, 10]
        catalogue.describe_version(MODEL, "1.0.0+cal.2")
    assert info.value.errors[0][0] == "version" and "C1" in info.value.errors[0][1]


def test_a_calibrated_version_fills_the_form_and_runs(calibrated_root, page):
    from bioprocess_twin.catalogue import run_spec
    from bioprocess_twin.core.spec import SimulationSpec

    duo = page
    assert MODEL in bw.text(duo, "#model-picker")
    assert CODE in bw.text(duo, "#version-picker")
    assert float(field(duo, "C1")) == 0.2

    set_field(duo, "pressure", 800)
    run_and_wait(duo, 1)  # the code's version
    z_code = kpi(duo, "z_average_nm")
    assert f"{MODEL} {CODE} " in bw.text(duo, "#run-status")

    bw.choose(duo, "#version-picker", CALIBRATED)
    wait_for_field(duo, "C1", "0.05")  # the form is redrawn for the version
    bw.wait_for_callbacks(duo)
    assert float(field(duo, "Cc")) == 0.5
    assert float(field(duo, "C2")) == 1.0
    assert float(field(duo, "pressure")) == 800  # the conditions set are kept
    assert "calibrated 0.05 (code 0.2)" in bw.attribute(duo, "#param-form", "textContent")

    run_and_wait(duo, 2)
    assert f"{MODEL} {CALIBRATED} " in bw.text(duo, "#run-status")
    z_cal = kpi(duo, "z_average_nm")
    expected = run_spec(SimulationSpec(model=MODEL, version=CALIBRATED, inputs={"pressure": 800}))
    assert z_cal == pytest.approx(expected.kpis["z_average_nm"], rel=1e-3)
    assert z_cal > 1.05 * z_code, f"calibrated Z-average {z_cal} nm not above the code's {z_code} nm"
    spec_text = bw.attribute(duo, "#spec-json", "textContent")
    assert f'"version": "{CALIBRATED}"' in spec_text and '"C1"' not in spec_text
    rows = bw.texts(duo, "#recent-runs-table tbody tr")
    assert len(rows) == 2 and CALIBRATED in rows[0] and CALIBRATED not in rows[1], rows
    duo.driver.execute_script("window.scrollTo(0, 0);")
    duo.driver.save_screenshot("/tmp/particles_versions.png")

    # another model has no calibrated set and no saved run: the code's version and no results
    bw.choose(duo, "#model-picker", "liposome_microfluidic")
    bw.wait_until(
        duo,
        lambda d: not d.find_elements(By.XPATH, "//input[contains(@id, '\"C1\"')]"),
        message="the emulsion's C1 box stays on the liposome form",
    )
    bw.wait_for_callbacks(duo)
    assert bw.text(duo, "#version-picker").strip() == f"{CODE} (code)"
    bw.wait_for_text(duo, "#run-status", equals="No results yet.")
    # coming back shows the emulsion's newest saved run, with its version and inputs in the form
    bw.choose(duo, "#model-picker", MODEL)
    bw.wait_for_text(duo, "#run-status", contains="saved run #2 ")
    wait_for_field(duo, "C1", "0.05")
    bw.wait_for_callbacks(duo)
    assert bw.text(duo, "#version-picker").strip() == CALIBRATED
    assert float(field(duo, "pressure")) == 800
    assert "results-stale" not in bw.attribute(duo, "#results-panel", "class")
    assert duo.get_logs() == [], "console errors after the runs"
