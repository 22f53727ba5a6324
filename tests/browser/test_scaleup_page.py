"""The scale-up page in headless Chromium: lab vs target table, ratio chart and warnings follow the form."""

from __future__ import annotations

import re

import browser_waits as bw
import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def page(dash_duo, tmp_path):
    from dashboards.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False)
    bw.open_page(dash_duo, app, "/scaleup", "#scaleup-table-row-agitation_rpm", "#scaleup-ratios .main-svg")
    return dash_duo


def cell(duo, quantity, column):
    return bw.text(duo, f"#scaleup-table-row-{quantity} .col-{column}")


def number(text):
    match = re.search(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", text)
    assert match, f"no number in {text!r}"
    return float(match.group())


def set_box(duo, element_id, value):
    bw.type_into(duo, f"#{element_id}", value, tab=False)


RUNNING = (
    "document.querySelector('#scaleup-run').disabled"
    " && !document.querySelector('#scaleup-progress-wrap').classList.contains('invisible')"
)


def run(duo):
    """Press the button, see the background worker run (button disabled, progress bar shown) and finish, and
    wait until Dash has shown what it computed."""
    bw.press_and_wait(duo, "#scaleup-run", RUNNING)


def test_default_cho_scale_up_then_constant_speed_warns(page):
    duo = page
    assert duo.get_logs() == [], "console errors on page load"
    # the example spec: 50 L -> 2000 L at constant P/V, with NLP aeration sizing
    bw.wait_for_text(duo, "#scaleup-criterion-shown", contains="power_per_volume")
    assert number(cell(duo, "agitation_rpm", "lab")) == 150
    assert number(cell(duo, "ungassed_power_per_volume", "ratio")) == pytest.approx(1.0)
    assert number(cell(duo, "agitation_rpm", "ratio")) == pytest.approx(40 ** (-2 / 9), rel=1e-3)
    assert number(cell(duo, "tip_speed", "ratio")) > 1  # tip speed rises at constant P/V
    assert number(cell(duo, "kla", "optimized")) == pytest.approx(1 / 0.14, rel=1e-3)
    assert "within the typical ranges" in bw.text(duo, "#scaleup-warnings")
    assert "cyipopt" in bw.text(duo, "#scaleup-basis")
    bw.plotted(duo, "scaleup-ratios", "g.data[0].x.length", lambda n: n is not None and n >= 8)

    # constant agitation speed to 10 m3: P/V and tip speed leave the CHO ranges
    bw.choose(duo, "#scaleup-criterion", index=5)
    set_box(duo, "scaleup-target-volume", 10000)
    run(duo)
    bw.wait_for_text(duo, "#scaleup-criterion-shown", contains="speed")
    bw.wait_for_element(duo, "#scaleup-warning-list .range-warning")
    bw.wait_for_callbacks(duo)
    assert number(cell(duo, "agitation_rpm", "ratio")) == pytest.approx(1.0)
    assert number(cell(duo, "volume", "target")) == pytest.approx(10.0)
    assert number(cell(duo, "tip_speed", "ratio")) == pytest.approx(200 ** (1 / 3), rel=1e-3)
    warned = set(
        zip(
            bw.attributes(duo, "#scaleup-warning-list .range-warning", "data-scale"),
            bw.attributes(duo, "#scaleup-warning-list .range-warning", "data-quantity"),
        )
    )
    assert ("target", "tip_speed") in warned and ("target", "power_per_volume") in warned
    assert "10000 L" in bw.attribute(duo, "#scaleup-spec", "textContent")
    duo.driver.save_screenshot("/tmp/scaleup.png")
    assert duo.get_logs() == [], "console errors after the runs"


def test_bad_input_names_the_field(page):
    duo = page
    set_box(duo, "scaleup-target-volume", "")
    run(duo)
    bw.wait_for_text(duo, "#scaleup-error-alert", contains="stirred_tank.target_volume")
    set_box(duo, "scaleup-lab-rpm", "1e")
    bw.click(duo, "#scaleup-run")
    bw.wait_for_text(duo, "#scaleup-error-alert", contains="stirred_tank.agitation")
    assert "'1e' is not a number" in bw.text(duo, "#scaleup-error-alert")


def test_homogenizer_case_keeps_the_dissipation_rate(page):
    duo = page
    bw.choose(duo, "#scaleup-case", index=1)
    bw.wait_for_element(duo, "#scaleup-table-row-residence_time")
    bw.wait_for_callbacks(duo)
    assert number(cell(duo, "dissipation_rate", "ratio")) == pytest.approx(1.0)
    assert number(cell(duo, "flow_rate", "target")) == pytest.approx(100.0)
    set_box(duo, "scaleup-hom-batch", 1000)  # 6 passes x 1000 L at 100 L/h = 60 h
    run(duo)
    bw.wait_for_js(
        duo,
        "return Array.from(document.querySelectorAll('#scaleup-warning-list .range-warning'))"
        ".map(w => w.getAttribute('data-quantity'));",
        lambda warned: "processing_time" in warned,
        message="no processing-time warning",
    )
    bw.wait_for_callbacks(duo)
    assert number(cell(duo, "processing_time", "target")) == pytest.approx(60.0)
