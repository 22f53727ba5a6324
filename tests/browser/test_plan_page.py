"""The Plan page in headless Chromium: pick a plan spec, change the demand, run the real MILP, see the
Gantt chart, KPIs and the infeasibility report update."""

from __future__ import annotations

import json

import browser_waits as bw
import pytest
from selenium.webdriver.common.by import By

pytestmark = pytest.mark.browser
SMALL = "two_step_small.yaml"


@pytest.fixture
def page(dash_duo, tmp_path):
    from dashboards.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False)
    bw.open_page(dash_duo, app, "/plan", "#plan-run", "#plan-gantt .main-svg")
    return dash_duo


def pick_plan(duo, name):
    bw.choose(duo, "#plan-picker", name)
    bw.wait_for_element(duo, demand_box("vaccine_A"), by=By.XPATH)  # the demand form of the small plan
    bw.wait_for_callbacks(duo)


def demand_box(product):
    dom_id = json.dumps({"name": product, "type": "plan-demand"}, separators=(",", ":"))
    return f"//input[@id='{dom_id}']"


def set_demand(duo, product, million_doses):
    bw.type_into(duo, demand_box(product), million_doses, by=By.XPATH)


def run(duo, expect_status):
    """Run the MILP (the button is disabled while it solves) and wait for the result to be shown."""
    bw.press_and_wait(duo, "#plan-run", "document.querySelector('#plan-run').disabled")
    bw.wait_for_text(duo, "#plan-status-badge", equals=expect_status)


GANTT = (
    "const g = document.querySelector('#plan-gantt .js-plotly-plot'); if (!g || !g.data) { return null; }"
    " const out = {}; g.data.forEach(t => out[t.name] = t.x.length); return out;"
)


def gantt_bars(duo, accept) -> dict[str, int]:
    """Bars per trace name in the Gantt chart, once the redrawn chart is accepted."""
    return bw.wait_for_js(duo, GANTT, lambda bars: bars is not None and accept(bars), message="Gantt chart")


def test_demand_change_updates_gantt_and_kpis(page):
    duo = page
    assert duo.get_logs() == [], "console errors on page load"
    pick_plan(duo, SMALL)
    assert float(bw.attribute(duo, demand_box("vaccine_A"), "value", by=By.XPATH)) == pytest.approx(0.01)

    run(duo, "optimal")  # 10 000 doses: 2 reactors, 4400 EUR
    assert bw.text(duo, "#plan-kpi-total_cost") == "4,400"
    assert bw.text(duo, "#plan-kpi-modules") == "3"
    assert "reactor" in bw.text(duo, "#plan-kpi-bottleneck")
    bars = gantt_bars(duo, lambda bars: "vaccine_A" in bars)
    assert bars["vaccine_A"] == 20  # 10 batches on the reactors + 10 on the filler
    assert bars["cleaning"] == 20 and bars["changeover"] == 2
    assert duo.find_elements("#plan-infeasible") == []

    set_demand(duo, "vaccine_A", 0.006)  # 6 000 doses fit one reactor: 2600 EUR
    run(duo, "optimal")
    assert bw.text(duo, "#plan-kpi-total_cost") == "2,600"
    assert bw.text(duo, "#plan-kpi-modules") == "2"
    gantt_bars(duo, lambda bars: bars.get("vaccine_A") == 12)  # the chart is redrawn for the new plan
    rows = bw.texts(duo, "#plan-modules-table tbody tr")
    assert rows[0].startswith("reactor 1"), rows

    duo.driver.set_window_size(1400, 1600)
    duo.driver.save_screenshot("/tmp/plan_small.png")
    assert duo.get_logs() == [], "console errors after the runs"


def test_infeasible_demand_shows_the_report(page):
    duo = page
    pick_plan(duo, SMALL)
    set_demand(duo, "vaccine_A", 0.02)  # 20 batches; 3 reactors make at most 18
    run(duo, "infeasible")
    report = bw.text(duo, "#plan-infeasible")
    assert "vaccine_A" in report and "module type reactor (max 3 modules) limits" in report
    assert "1,030 h needed vs 900 h available" in report
    assert duo.find_elements("#plan-kpi-total_cost") == []
    gantt_bars(duo, lambda bars: bars == {})  # the Gantt chart is emptied
    set_demand(duo, "vaccine_A", -1)
    bw.click(duo, "#plan-run")
    bw.wait_for_text(duo, "#plan-error", contains="demand.vaccine_A")


def test_demo_campaign_gantt(page):
    duo = page
    bw.wait_for_text(duo, "#plan-demand-form", contains="adjuvanted_vaccine")
    run(duo, "optimal")
    gantt_bars(duo, lambda bars: {"adjuvanted_vaccine", "adjuvant_only", "plain_vaccine"} <= set(bars))
    assert int(bw.text(duo, "#plan-kpi-modules")) >= 10
    duo.driver.set_window_size(1400, 1800)
    duo.driver.save_screenshot("/tmp/plan_demo.png")
