"""The scale-up page in headless Chromium: lab vs target table, ratio chart and warnings follow the form."""
from __future__ import annotations

import re

import pytest
from selenium.webdriver.common.keys import Keys

pytestmark = pytest.mark.browser


@pytest.fixture
def page(dash_duo, tmp_path):
    from dashboards.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False)
    dash_duo.start_server(app)
    dash_duo.wait_for_page(url=dash_duo.server_url + "/scaleup", timeout=30)
    dash_duo.wait_for_element("#scaleup-table-row-agitation_rpm", timeout=30)
    dash_duo.wait_for_element("#scaleup-ratios .main-svg", timeout=30)
    return dash_duo


def cell(duo, quantity, column):
    return duo.find_element(f"#scaleup-table-row-{quantity} .col-{column}").text


def number(text):
    match = re.search(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", text)
    assert match, f"no number in {text!r}"
    return float(match.group())


def set_box(duo, element_id, value):
    box = duo.find_element(f"#{element_id}")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    if value != "":
        box.send_keys(str(value))


def run(duo):
    button = duo.find_element("#scaleup-run")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button)
    button.click()


def bar_count(duo):
    return duo.driver.execute_script(
        "return document.querySelector('#scaleup-ratios .js-plotly-plot').data[0].x.length;")


def test_default_cho_scale_up_then_constant_speed_warns(page):
    duo = page
    assert duo.get_logs() == [], "console errors on page load"
    # the example spec: 50 L -> 2000 L at constant P/V, with NLP aeration sizing
    duo.wait_for_contains_text("#scaleup-criterion-shown", "power_per_volume", timeout=10)
    assert number(cell(duo, "agitation_rpm", "lab")) == 150
    assert number(cell(duo, "ungassed_power_per_volume", "ratio")) == pytest.approx(1.0)
    assert number(cell(duo, "agitation_rpm", "ratio")) == pytest.approx(40 ** (-2 / 9), rel=1e-3)
    assert number(cell(duo, "tip_speed", "ratio")) > 1                     # tip speed rises at constant P/V
    assert number(cell(duo, "kla", "optimized")) == pytest.approx(1 / 0.14, rel=1e-3)
    assert "within the typical ranges" in duo.find_element("#scaleup-warnings").text
    assert "cyipopt" in duo.find_element("#scaleup-basis").text
    assert bar_count(duo) >= 8

    # constant agitation speed to 10 m3: P/V and tip speed leave the CHO ranges
    duo.select_dcc_dropdown("#scaleup-criterion", index=5)
    set_box(duo, "scaleup-target-volume", 10000)
    run(duo)
    duo.wait_for_contains_text("#scaleup-criterion-shown", "speed", timeout=20)
    duo.wait_for_element("#scaleup-warning-list .range-warning", timeout=20)
    assert number(cell(duo, "agitation_rpm", "ratio")) == pytest.approx(1.0)
    assert number(cell(duo, "volume", "target")) == pytest.approx(10.0)
    assert number(cell(duo, "tip_speed", "ratio")) == pytest.approx(200 ** (1 / 3), rel=1e-3)
    warned = {(w.get_attribute("data-scale"), w.get_attribute("data-quantity"))
              for w in duo.find_elements("#scaleup-warning-list .range-warning")}
    assert ("target", "tip_speed") in warned and ("target", "power_per_volume") in warned
    assert "10000 L" in duo.find_element("#scaleup-spec").get_attribute("textContent")
    duo.driver.save_screenshot("/tmp/scaleup.png")
    assert duo.get_logs() == [], "console errors after the runs"


def test_bad_input_names_the_field(page):
    duo = page
    set_box(duo, "scaleup-target-volume", "")
    run(duo)
    duo.wait_for_element("#scaleup-error-alert", timeout=20)
    assert "stirred_tank.target_volume" in duo.find_element("#scaleup-error-alert").text


def test_homogenizer_case_keeps_the_dissipation_rate(page):
    duo = page
    duo.select_dcc_dropdown("#scaleup-case", index=1)
    duo.wait_for_element("#scaleup-table-row-residence_time", timeout=20)
    assert number(cell(duo, "dissipation_rate", "ratio")) == pytest.approx(1.0)
    assert number(cell(duo, "flow_rate", "target")) == pytest.approx(100.0)
    set_box(duo, "scaleup-hom-batch", 1000)                  # 6 passes x 1000 L at 100 L/h = 60 h
    run(duo)
    duo.wait_for_element("#scaleup-warning-list .range-warning", timeout=20)
    warned = [w.get_attribute("data-quantity") for w in duo.find_elements("#scaleup-warning-list .range-warning")]
    assert "processing_time" in warned
    assert number(cell(duo, "processing_time", "target")) == pytest.approx(60.0)
