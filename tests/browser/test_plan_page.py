"""The Plan page in headless Chromium: pick a plan spec, change the demand, run the real MILP, see the
Gantt chart, KPIs and the infeasibility report update."""
from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser
SMALL = "two_step_small.yaml"


@pytest.fixture
def page(dash_duo, tmp_path):
    from dashboards.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False)
    dash_duo.start_server(app)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/plan", timeout=30)
    dash_duo.wait_for_element("#plan-run", timeout=30)
    dash_duo.wait_for_element("#plan-gantt .main-svg", timeout=30)
    return dash_duo


def pick_plan(duo, name):
    duo.select_dcc_dropdown("#plan-picker", value=name)
    demand_box(duo, "vaccine_A")          # the demand form of the small plan is shown


def demand_box(duo, product):
    dom_id = json.dumps({"name": product, "type": "plan-demand"}, separators=(",", ":"))
    return WebDriverWait(duo.driver, 10).until(lambda d: d.find_element(By.XPATH, f"//input[@id='{dom_id}']"))


def set_demand(duo, product, million_doses):
    box = demand_box(duo, product)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(str(million_doses), Keys.TAB)


def run(duo, expect_status):
    button = duo.find_element("#plan-run")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button)
    button.click()
    duo.wait_for_text_to_equal("#plan-status-badge", expect_status, timeout=120)


def gantt_bars(duo) -> dict[str, int]:
    """Bars per trace name in the Gantt chart."""
    return duo.driver.execute_script(
        "const d = document.querySelector('#plan-gantt .js-plotly-plot').data;"
        "const out = {}; d.forEach(t => out[t.name] = t.x.length); return out;")


def test_demand_change_updates_gantt_and_kpis(page):
    duo = page
    assert duo.get_logs() == [], "console errors on page load"
    pick_plan(duo, SMALL)
    assert float(demand_box(duo, "vaccine_A").get_attribute("value")) == pytest.approx(0.01)

    run(duo, "optimal")                                      # 10 000 doses: 2 reactors, 4400 EUR
    assert duo.find_element("#plan-kpi-total_cost").text == "4,400"
    assert duo.find_element("#plan-kpi-modules").text == "3"
    assert "reactor" in duo.find_element("#plan-kpi-bottleneck").text
    bars = gantt_bars(duo)
    assert bars["vaccine_A"] == 20                           # 10 batches on the reactors + 10 on the filler
    assert bars["cleaning"] == 20 and bars["changeover"] == 2
    assert duo.find_elements("#plan-infeasible") == []

    set_demand(duo, "vaccine_A", 0.006)                      # 6 000 doses fit one reactor: 2600 EUR
    run(duo, "optimal")
    duo.wait_for_text_to_equal("#plan-kpi-total_cost", "2,600", timeout=30)
    assert duo.find_element("#plan-kpi-modules").text == "2"
    assert gantt_bars(duo)["vaccine_A"] == 12
    rows = [r.text for r in duo.find_elements("#plan-modules-table tbody tr")]
    assert rows[0].startswith("reactor 1")

    duo.driver.set_window_size(1400, 1600)
    duo.driver.save_screenshot("/tmp/plan_small.png")
    assert duo.get_logs() == [], "console errors after the runs"


def test_infeasible_demand_shows_the_report(page):
    duo = page
    pick_plan(duo, SMALL)
    set_demand(duo, "vaccine_A", 0.02)                       # 20 batches; 3 reactors make at most 18
    run(duo, "infeasible")
    text = duo.find_element("#plan-infeasible").text
    assert "vaccine_A" in text and "module type reactor (max 3 modules) limits" in text
    assert "1,030 h needed vs 900 h available" in text
    assert duo.find_elements("#plan-kpi-total_cost") == []
    assert gantt_bars(duo) == {}                             # the Gantt chart is emptied
    set_demand(duo, "vaccine_A", -1)
    duo.find_element("#plan-run").click()
    duo.wait_for_element("#plan-error", timeout=30)
    assert "demand.vaccine_A" in duo.find_element("#plan-error").text


def test_demo_campaign_gantt(page):
    duo = page
    assert "adjuvanted_vaccine" in duo.find_element("#plan-demand-form").text
    run(duo, "optimal")
    bars = gantt_bars(duo)
    assert {"adjuvanted_vaccine", "adjuvant_only", "plain_vaccine"} <= set(bars)
    assert int(duo.find_element("#plan-kpi-modules").text) >= 10
    duo.driver.set_window_size(1400, 1800)
    duo.driver.save_screenshot("/tmp/plan_demo.png")
