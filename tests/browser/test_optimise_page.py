"""The optimise page in headless Chromium: a small real optimisation of the CHO fed-batch feed, end to end, from the
shipped CHO feed-profile example the page opens with.

The problems are chosen so that the answer is known without the optimiser: the liquid volume only grows by the
feed, V(T) = V0 + sum_k u_k dt, so maximising V(48 h) under V(48 h) <= 2.2 L from 2 L gives 2.2 L with the bound
active at price 1 (one more litre allowed is one more litre reached), whatever the cells do; and on a front of
V against the feed used (fed_volume <= eps), V = 2 L + eps at every point, again at price 1. A bad spec is refused
naming its field, and a forged request for a model that is not listed is refused."""

from __future__ import annotations

import json
from pathlib import Path

import browser_waits as bw
import pytest
import yaml
from dash_requests import call, response, texts
from selenium.webdriver.common.by import By

import bioprocess_twin

pytestmark = pytest.mark.browser

RUNNING = (
    "document.querySelector('#optimise-run').disabled"
    " && !document.querySelector('#optimise-progress-wrap').classList.contains('invisible')"
)
#: seconds: one small optimisation (two intervals of the CHO model) on a loaded machine
OPTIMISE_TIMEOUT = 600


def shipped_example(model: str) -> dict:
    """The shipped optimisation spec of ``model``, read here from the package's examples folder."""
    folder = Path(bioprocess_twin.__file__).parent / "examples" / "optimisation"
    docs = [yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yaml"))]
    return next(d for d in docs if d.get("model") == model)


def control(kind: str, name: str = "feed_rate") -> str:
    """CSS selector of a control row's box (Dash writes a pattern-matching id as sorted, compact JSON)."""
    return "[id='" + json.dumps({"name": name, "type": kind}, sort_keys=True, separators=(",", ":")) + "']"


@pytest.fixture
def page(dash_duo, tmp_path):
    from dashboards.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False)
    bw.open_page(dash_duo, app, "/optimise", "#optimise-run", "#optimise-policy .main-svg")
    return dash_duo


def pick(duo, selector: str, label: str) -> None:
    """Pick a dropdown option by its label. The menu scrolls to the current choice, and its search box then
    covers the options above it, so the option is scrolled to the middle of the menu before it is clicked."""

    def attempt(driver):
        if not driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-options"):
            box = driver.find_element(By.CSS_SELECTOR, selector)
            driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", box)
            box.click()
            return False
        options = driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-options .dash-dropdown-option")
        target = next((o for o in options if o.get_attribute("textContent").strip() == label), None)
        if target is None:
            return False
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", target)
        target.click()
        return True

    bw.wait_until(duo, attempt, message=f"{selector}: no option {label!r}")
    bw.wait_for_text(duo, selector, contains=label)
    bw.close_menus(duo)


def small_problem(duo, objective: str = "V (L)") -> None:
    """Two 24 h intervals of the CHO default problem, maximising the volume, solved to a tolerance of 1e-7 (a bound
    counts as active within 1e-6 of it; the page's 1e-4 for the 14-day problem stops short of that)."""
    bw.type_into(duo, "#optimise-horizon", "48")
    bw.type_into(duo, "#optimise-intervals", "2")
    pick(duo, "#optimise-objective", objective)
    bw.click(duo, "#optimise-form .accordion-button")
    bw.type_into(duo, "#optimise-tolerance", "1e-7")


def wait_marked(duo, element_id: str, marked: bool = True) -> None:
    """Wait until a box is (or is no longer) marked invalid (Dash 4 puts a text box's class on its container)."""
    bw.wait_for_js(
        duo,
        f"const e = document.getElementById({element_id!r}); return !!e && !!e.closest('.is-invalid');",
        accept=lambda v: v is marked,
        message=f"{element_id} {'not ' if marked else ''}marked invalid",
    )


def number(duo, selector: str) -> float:
    return float(bw.text(duo, selector).split()[0])


def test_the_cho_feed_problem_reaches_the_volume_bound_at_price_one(page):
    duo = page
    # the page opens with the shipped CHO feed-profile example, on at most 8 intervals
    example = shipped_example("cho_fed_batch")
    assert float(bw.attribute(duo, "#optimise-horizon", "value")) == example["horizon"]
    assert int(bw.attribute(duo, "#optimise-intervals", "value")) == min(example["intervals"], 8)
    feed = example["controls"]["feed_rate"]
    assert float(bw.attribute(duo, control("optimise-max"), "value")) == feed["max"]
    assert float(bw.attribute(duo, control("optimise-initial"), "value")) == feed["initial"]
    assert example["objective"]["name"] in bw.text(duo, "#optimise-objective")
    assert example["path"][0]["name"] in bw.text(duo, "#optimise-path-0-name")
    assert float(bw.attribute(duo, "#optimise-path-0-min", "value")) == example["path"][0]["min"]
    assert example["final"][0]["name"] in bw.text(duo, "#optimise-final-0-name")
    agitation = str(example["inputs"]["agitation"]).split()  # "300 rpm": the model's agitation is in rpm
    assert agitation[1:] in ([], ["rpm"])
    assert float(bw.attribute(duo, control("optimise-value", "agitation"), "value")) == float(agitation[0])

    small_problem(duo)
    bw.type_into(duo, "#optimise-final-0-max", "2.2")
    bw.press_and_wait(duo, "#optimise-run", RUNNING, timeout=OPTIMISE_TIMEOUT)
    bw.wait_for_text(duo, "#optimise-status-badge", equals="optimal", timeout=OPTIMISE_TIMEOUT)
    assert number(duo, "#optimise-optimum") == pytest.approx(2.2, abs=1e-4)
    assert int(bw.text(duo, "#optimise-iterations")) >= 1

    # the policy: a step line over the 3 boundaries, within the bounds, that feeds exactly the 0.2 L allowed
    x = bw.plotted(duo, "optimise-policy", "g.data[0].x", lambda v: v is not None and len(v) == 3)
    assert x == pytest.approx([0, 24, 48])
    assert bw.plotted(duo, "optimise-policy", "g.data[0].line.shape") == "hv"
    feed = bw.plotted(duo, "optimise-policy", "g.data[0].y")[:2]
    assert all(-1e-9 <= u <= 0.01 + 1e-9 for u in feed)
    assert sum(u * 24 for u in feed) == pytest.approx(0.2, abs=1e-4)  # V(48 h) - V(0) = sum u dt

    # the constraint table: V <= 2.2 binds at the end with price 1; DO stays at or above 30 %
    row = "#optimise-constraint-final-V-max"
    assert bw.text(duo, f"{row} .col-active").startswith("yes")
    assert float(bw.text(duo, f"{row} .col-price")) == pytest.approx(1.0, rel=1e-3)
    assert float(bw.text(duo, f"{row} .col-value")) == pytest.approx(2.2, abs=1e-4)
    assert float(bw.text(duo, "#optimise-constraint-path-DO-min .col-value")) >= 30 - 1e-3
    assert float(bw.text(duo, "#optimise-constraint-control-feed_rate-max .col-value")) <= 0.01 + 1e-9
    # the trajectories of the objective and of the constrained quantities (V, DO), at the 3 boundaries
    assert bw.plotted(duo, "optimise-trajectories", "g.data.filter(t => t.mode === 'lines+markers').length") == 2
    volume = bw.plotted(duo, "optimise-trajectories", "g.data[0].y")
    assert volume[0] == pytest.approx(2.0) and volume[-1] == pytest.approx(2.2, abs=1e-4)
    assert "results-stale" not in bw.attribute(duo, "#optimise-results", "class")

    bw.type_into(duo, "#optimise-horizon", "50")  # another horizon greys the results out, naming it
    bw.wait_for_class(duo, "#optimise-results", "results-stale")
    assert "horizon" in bw.text(duo, "#optimise-stale-alert")
    bw.type_into(duo, "#optimise-horizon", "4.8e1")  # the same number written otherwise is in step again
    bw.wait_for_class(duo, "#optimise-results", "results-stale", present=False)
    assert duo.get_logs() == [], "console errors"


def test_a_pareto_front_of_volume_against_feed_lies_on_the_mass_balance(page):
    duo = page
    small_problem(duo)
    bw.click(duo, "#optimise-pareto")
    pick(duo, "#optimise-second", "fed_volume (L)")
    assert "minimize" in bw.text(duo, "#optimise-second-sense")
    bw.type_into(duo, "#optimise-epsilons", "0.1, 0.15")
    bw.press_and_wait(duo, "#optimise-run", RUNNING, timeout=OPTIMISE_TIMEOUT)
    bw.wait_for_text(duo, "#optimise-status-badge", equals="optimal", timeout=OPTIMISE_TIMEOUT)
    assert bw.text(duo, "#optimise-optimum") == "2 of 2"
    first = bw.plotted(duo, "optimise-front", "g.data[1].y", lambda v: v is not None and len(v) == 2)
    second = bw.plotted(duo, "optimise-front", "g.data[1].x")
    assert second == pytest.approx([0.1, 0.15], abs=1e-4)
    assert first == pytest.approx([2.1, 2.15], abs=1e-4)  # V = V0 + the feed used
    for i in range(2):
        assert float(bw.text(duo, f"#optimise-point-{i} .col-price")) == pytest.approx(1.0, rel=1e-3)
    # one policy per epsilon
    assert bw.plotted(duo, "optimise-policy", "g.data.length") == 2


def test_the_progress_shows_the_iteration_and_cancel_stops_the_run(page):
    """A front of ten points of the page's own 14-day titre problem (two seconds or more each here) runs long
    enough for the progress to show an iteration under the bar, the share of points done in it; Cancel then
    stops the worker and nothing is shown."""
    duo = page
    bw.click(duo, "#optimise-pareto")
    pick(duo, "#optimise-second", "fed_volume (L)")
    bw.type_into(duo, "#optimise-epsilons", ", ".join(f"{0.1 + 0.05 * i:g}" for i in range(10)))
    bw.click(duo, "#optimise-run")
    shown = bw.wait_for_text(duo, "#optimise-progress-text", contains="iteration", timeout=OPTIMISE_TIMEOUT)
    assert "titre" in shown and "violation" in shown and "of 10)" in shown
    assert bw.text(duo, "#optimise-progress").strip().endswith("%")
    bw.click(duo, "#optimise-cancel")
    bw.wait_for_js(
        duo,
        "return !document.querySelector('#optimise-run').disabled"
        " && document.querySelector('#optimise-progress-wrap').classList.contains('invisible');",
        message="Cancel does not end the run",
    )
    assert bw.text(duo, "#optimise-status") == "Not run yet."


def test_a_bad_spec_is_refused_naming_its_field(page):
    duo = page
    bw.type_into(duo, "#optimise-horizon", "12x0")  # not a number: the box is marked and the field named at once
    wait_marked(duo, "optimise-horizon")
    assert "horizon" in bw.text(duo, "#optimise-form-alert")
    bw.click(duo, "#optimise-run")
    bw.wait_for_text(duo, "#optimise-error-alert", contains="horizon")
    assert "not a number" in bw.text(duo, "#optimise-error-alert")

    bw.type_into(duo, "#optimise-horizon", "48")
    bw.type_into(duo, control("optimise-min"), "0.02")  # above the max: the library's validation names the control
    wait_marked(duo, "optimise-horizon", False)
    bw.click(duo, "#optimise-run")
    bw.wait_for_text(duo, "#optimise-error-alert", contains="controls.feed_rate")
    assert "min must be below max" in bw.text(duo, "#optimise-error-alert")
    assert bw.text(duo, "#optimise-status") == "Not run yet."  # nothing ran


def test_a_forged_request_for_a_model_that_is_not_listed_is_refused(page):
    duo = page
    shown = response(
        call(
            duo.server_url,
            "optimise-status.children",
            {
                "optimise-run.n_clicks": 1,
                "optimise-model.value": "../../etc/passwd",
                "optimise-horizon.value": "48",
                "optimise-intervals.value": "2",
            },
        )
    )
    assert "not one of the listed process models" in texts(shown["optimise-error"]["children"])
    assert "optimise-result" not in shown
