"""The production-line page in headless Chromium, running the shipped adjuvant-only line for real."""
from __future__ import annotations

import re

import pytest
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser
LINE = "adjuvant_only"


@pytest.fixture(scope="module")
def reference():
    """The same batch run in this process: the expected numbers, and warm model caches for the workers."""
    from bioprocess_twin.line.definition import load_line
    from bioprocess_twin.line.flowsheet import run_line

    result = run_line(load_line(LINE))
    assert result.ok, result.message
    return result


@pytest.fixture
def page(dash_duo, tmp_path, reference):
    from dashboards.app import create_app

    dash_duo.start_server(create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False))
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/line", timeout=30)
    dash_duo.wait_for_element("#line-run", timeout=30)
    dash_duo.wait_for_element("#line-diagram .main-svg", timeout=30)
    return dash_duo


def plotted(duo, graph_id, expression):
    return duo.driver.execute_script(f"const g = document.querySelector('#{graph_id} .js-plotly-plot'); return {expression};")


def test_run_a_batch_and_inspect_streams_and_units(page, reference):
    duo = page
    assert LINE in duo.find_element("#line-picker").text
    texts = plotted(duo, "line-diagram", "g.data.filter(t => t.mode === 'text').map(t => t.text[0])")
    assert len(texts) == 4 and all(re.search(r"<b>(premix|homogenizer|sterile_filter|fill)</b>", t) for t in texts)
    assert duo.find_elements("#kpi-fill_doses") == []

    duo.find_element("#line-run").click()
    WebDriverWait(duo.driver, 10).until(lambda d: d.execute_script(
        "return !document.querySelector('#line-progress-wrap').classList.contains('invisible');"))
    duo.wait_for_text_to_equal("#line-status-badge", "ok", timeout=120)
    assert duo.find_elements("#line-alert .alert") == []

    doses = float(duo.find_element("#kpi-fill_doses").get_attribute("textContent"))   # may sit in the folded table
    assert doses == pytest.approx(reference.results["fill"].kpis["doses"], rel=1e-3)
    rows = duo.find_elements("#stream-table tbody tr")
    assert len(rows) - 1 == len(reference.streams())            # a header row, then one row per stream
    # after the run the diagram labels each unit with its duration
    texts = plotted(duo, "line-diagram", "g.data.filter(t => t.mode === 'text').map(t => t.text[0])")
    assert all(" h" in t for t in texts)

    duo.select_dcc_dropdown("#unit-picker", value="sterile_filter")
    WebDriverWait(duo.driver, 20).until(lambda d: "sterile_filter" in (d.execute_script(
        "const g = document.querySelector('#unit-series .js-plotly-plot'); return g.layout.title.text;") or ""))
    assert plotted(duo, "unit-series", "g.data.length") >= 1
    assert duo.get_logs() == [], "console errors"
