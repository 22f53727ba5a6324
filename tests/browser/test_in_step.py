"""The dashboard stays in step with itself, driven in headless Chromium with the real models and solvers.

- The form shows the inputs of the results on screen: a saved run opens with its own inputs in the form, and a
  saved run the form cannot reproduce is not shown beside it.
- Results whose inputs are not the form's are greyed out (class ``results-stale``, a note naming the inputs),
  also after a rejected input; the scale-up page's green "all within ranges" line is hidden with them.
- Number boxes refuse malformed text ("12x0", "1e", "--3", "nan", "inf") with a message naming the field.
- The line page runs the line with the settings of its form; the flowsheet labels do not overlap.
- The plan and scale-up pages show progress while solving and the wall time of the whole call.
"""

from __future__ import annotations

import json
import re

import browser_waits as bw
import pytest
from selenium.webdriver.common.by import By

pytestmark = pytest.mark.browser
MODEL = "emulsion_homogenizer"
MALFORMED = ("12x0", "1e", "--3", "nan", "inf")
STALE = "results-stale"


def number(shown: str) -> float:
    match = re.search(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", shown)
    assert match, f"no number in {shown!r}"
    return float(match.group())


def box(kind: str, name: str) -> str:
    """XPath of a pattern-matching text box (``param``, ``plan-demand``, ``line-setting``)."""
    dom_id = json.dumps({"name": name, "type": kind}, separators=(",", ":"))
    return f"//input[@id='{dom_id}']"


def note(kind: str, name: str) -> str:
    """CSS selector of the note under a pattern-matching box."""
    dom_id = json.dumps({"name": name, "type": kind}, separators=(",", ":"))
    return f"[id='{dom_id}']"


def box_value(duo, kind, name):
    return bw.attribute(duo, box(kind, name), "value", by=By.XPATH)


def box_classes(duo, kind, name):
    """Classes of a box's container (Dash 4 puts a dcc.Input's className on the container of the input)."""
    return (bw.attribute(duo, box(kind, name) + "/..", "class", by=By.XPATH) or "").split()


def greyed_out(duo, selector) -> float:
    """The element's opacity once it is below 1 (dashboard.css fades it in 0.15 s, which a busy machine stretches)."""
    script = f"return getComputedStyle(document.querySelector({selector!r})).opacity;"
    return float(bw.wait_for_js(duo, script, lambda o: o is not None and float(o) < 1, message=f"{selector} faded"))


# -- particle formation ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved_runs(tmp_path_factory):
    """A run database with a run the form can show (#1: 700 bar, 4 passes) and a newer one it cannot (#2: a solver
    tolerance the form has no field for)."""
    from bioprocess_twin.catalogue import run_spec
    from bioprocess_twin.core.spec import SimulationSpec
    from bioprocess_twin.records.store import RunStore

    url = f"sqlite:///{tmp_path_factory.mktemp('in-step') / 'runs.db'}"
    store = RunStore(url)
    shown = SimulationSpec(model=MODEL, inputs={"pressure": "700 bar"}, parameters={"n_passes": 4})
    kept = run_spec(shown)
    assert kept.ok, kept.result.message
    store.save_run(shown, kept, author="engineer A")
    hidden = SimulationSpec(model=MODEL, inputs={"pressure": 1500}, solver={"rtol": 1e-7})
    store.save_run(hidden, run_spec(hidden), author="engineer B")
    return url, kept


@pytest.fixture
def particles(dash_duo, saved_runs, tmp_path):
    import shutil

    from dashboards.app import create_app

    url, kept = saved_runs
    db = tmp_path / "runs.db"  # a copy per test: a test's runs do not leak into the next
    shutil.copy(url.removeprefix("sqlite:///"), db)
    bw.open_page(dash_duo, create_app(f"sqlite:///{db}", demo=False), "", "#run-button", "#dist-graph .main-svg")
    return dash_duo, kept


def test_a_saved_run_opens_with_its_inputs_and_edits_mark_it_stale(particles):
    duo, kept = particles
    # the newest saved run (#2) sets a solver tolerance the form cannot show: #1 is shown, with its inputs
    bw.wait_for_text(duo, "#run-status", contains="saved run #1 ")
    assert number(box_value(duo, "param", "pressure")) == 700
    assert number(box_value(duo, "param", "n_passes")) == 4
    assert STALE not in bw.attribute(duo, "#results-panel", "class")
    assert bw.text(duo, "#results-stale-note").strip() == ""
    assert number(bw.text(duo, "#kpi-z_average_nm")) == pytest.approx(kept.kpis["z_average_nm"], rel=1e-3)

    # a changed input greys the results out and the note names it
    bw.type_into(duo, box("param", "pressure"), "800", by=By.XPATH)
    bw.wait_for_class(duo, "#results-panel", STALE)
    assert "pressure" in bw.wait_for_text(duo, "#results-stale-alert", contains="pressure")
    assert greyed_out(duo, "#results-panel") < 1  # dashboard.css greys them out
    # the same number written otherwise is the same input again
    bw.type_into(duo, box("param", "pressure"), "7e2", by=By.XPATH)
    bw.wait_for_class(duo, "#results-panel", STALE, present=False)
    assert duo.find_elements("#results-stale-alert") == []
    assert duo.get_logs() == [], "console errors"


def test_malformed_numbers_are_refused_by_name_and_the_old_results_stay_greyed(particles):
    duo, kept = particles
    bw.wait_for_text(duo, "#run-status", contains="saved run #1 ")
    for text in MALFORMED:
        bw.type_into(duo, box("param", "pressure"), text, by=By.XPATH)
        shown = bw.wait_for_text(duo, note("param-message", "pressure"), contains=f"'{text}'")
        assert "not a" in shown, shown
        bw.wait_until(duo, lambda d: "is-invalid" in box_classes(duo, "param", "pressure"), message="box not marked")
        bw.wait_for_class(duo, "#results-panel", STALE)
        assert "Not valid: pressure" in bw.text(duo, "#results-stale-alert")
        bw.click(duo, "#run-button")
        error = bw.wait_for_text(duo, "#run-error", contains=f"'{text}'")
        assert "pressure" in error, error
        bw.wait_for_callbacks(duo)
    # nothing ran: the saved runs are the two of the fixture, and the results shown are still run #1's, greyed out
    assert len(bw.texts(duo, "#recent-runs-table tbody tr")) == 2
    assert number(bw.text(duo, "#kpi-z_average_nm")) == pytest.approx(kept.kpis["z_average_nm"], rel=1e-3)
    assert STALE in bw.attribute(duo, "#results-panel", "class")
    assert duo.get_logs() == [], "console errors"


# -- scale-up -------------------------------------------------------------------------------------------------------
SCALEUP_RUNNING = (
    "document.querySelector('#scaleup-run').disabled"
    " && !document.querySelector('#scaleup-progress-wrap').classList.contains('invisible')"
)


@pytest.fixture
def scaleup(dash_duo, tmp_path):
    from dashboards.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False)
    bw.open_page(dash_duo, app, "/scaleup", "#scaleup-table-row-agitation_rpm", "#scaleup-elapsed")
    return dash_duo


def test_scaleup_rejected_input_greys_out_results_and_hides_the_green_banner(scaleup):
    duo = scaleup
    assert bw.displayed(duo, "#scaleup-warning-list")  # the example is within the typical ranges
    assert "within the typical ranges" in bw.text(duo, "#scaleup-warnings")
    volume = number(bw.attribute(duo, "#scaleup-target-volume", "value"))

    bw.type_into(duo, "#scaleup-target-volume", "12x0", tab=True)
    bw.wait_for_text(duo, "#scaleup-target-volume-message", contains="'12x0' is not a number")
    bw.wait_for_class(duo, "#scaleup-results", STALE)
    assert not bw.displayed(duo, "#scaleup-warning-list"), "the green banner stays over stale results"
    bw.click(duo, "#scaleup-run")
    error = bw.wait_for_text(duo, "#scaleup-error-alert", contains="stirred_tank.target_volume")
    assert "'12x0'" in error
    bw.wait_for_callbacks(duo)
    assert STALE in bw.attribute(duo, "#scaleup-results", "class")
    assert not bw.displayed(duo, "#scaleup-warning-list")
    assert "12x0" not in bw.attribute(duo, "#scaleup-spec", "textContent")  # the results are the old ones

    # back to the value of the results: in step again, banner back
    bw.type_into(duo, "#scaleup-target-volume", f"{volume:g}", tab=True)
    bw.wait_for_class(duo, "#scaleup-results", STALE, present=False)
    assert bw.displayed(duo, "#scaleup-warning-list")

    # a run shows progress while it computes, then the wall time of the whole call
    bw.type_into(duo, "#scaleup-target-volume", "5000", tab=True)
    bw.press_and_wait(duo, "#scaleup-run", SCALEUP_RUNNING)
    assert bw.texts(duo, "#scaleup-error .alert") == []
    bw.wait_for_class(duo, "#scaleup-results", STALE, present=False)
    assert "5000 L" in bw.attribute(duo, "#scaleup-spec", "textContent")
    elapsed = bw.text(duo, "#scaleup-elapsed")
    assert "wall time" in elapsed and number(elapsed) > 0, elapsed
    assert duo.get_logs() == [], "console errors"


# -- plan -----------------------------------------------------------------------------------------------------------
PLAN_RUNNING = "!document.querySelector('#plan-progress-wrap').classList.contains('invisible')"


@pytest.fixture
def plan_page(dash_duo, tmp_path):
    from dashboards.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False)
    bw.open_page(dash_duo, app, "/plan", "#plan-run", "#plan-gantt .main-svg")
    return dash_duo


def elapsed_and_solver(duo) -> tuple[float, float, str]:
    """The wall time shown, the solver time under it (exact, from data attributes) and the text of both."""
    attrs = bw.attributes(duo, "#plan-solver-time", "data-elapsed") + bw.attributes(
        duo, "#plan-solver-time", "data-seconds"
    )
    return float(attrs[0]), float(attrs[1]), bw.text(duo, "#plan-elapsed")


def test_plan_shows_progress_and_the_wall_time_of_the_whole_solve(plan_page):
    duo = plan_page
    # the demo campaign: the bar counts the seconds on the server while HiGHS works
    bw.wait_for_text(duo, "#plan-demand-form", contains="adjuvanted_vaccine")
    bw.watch(duo, "counting", "/solving… \\d+ s/.test(document.querySelector('#plan-progress').textContent)")
    bw.press_and_wait(duo, "#plan-run", PLAN_RUNNING)
    bw.wait_seen(duo, "counting")
    bw.wait_for_text(duo, "#plan-status-badge", equals="optimal")
    elapsed, solver, text = elapsed_and_solver(duo)
    assert "wall time" in text and elapsed >= solver > 0, (elapsed, solver, text)

    # an infeasible demand: the wall time covers both solves and the analysis, not the first solve only
    bw.choose(duo, "#plan-picker", "two_step_small.yaml")
    bw.wait_for_element(duo, box("plan-demand", "vaccine_A"), by=By.XPATH)
    bw.wait_for_callbacks(duo)
    bw.wait_for_class(duo, "#plan-results", STALE)  # the campaign's results are not those of this spec
    assert "plan spec" in bw.text(duo, "#plan-stale-alert")
    bw.type_into(duo, box("plan-demand", "vaccine_A"), "0.02", by=By.XPATH)
    bw.press_and_wait(duo, "#plan-run", PLAN_RUNNING)
    bw.wait_for_text(duo, "#plan-status-badge", equals="infeasible")
    bw.wait_for_class(duo, "#plan-results", STALE, present=False)
    elapsed, solver, text = elapsed_and_solver(duo)
    assert elapsed >= solver > 0, (elapsed, solver, text)

    # a malformed demand is refused naming the product; the infeasible result stays, greyed out
    bw.type_into(duo, box("plan-demand", "vaccine_A"), "--3", by=By.XPATH)
    bw.wait_for_text(duo, note("plan-demand-message", "vaccine_A"), contains="'--3' is not a number")
    bw.wait_for_class(duo, "#plan-results", STALE)
    bw.click(duo, "#plan-run")
    bw.wait_for_text(duo, "#plan-error", contains="demand.vaccine_A")
    bw.wait_for_callbacks(duo)
    assert bw.text(duo, "#plan-status-badge") == "infeasible" and STALE in bw.attribute(duo, "#plan-results", "class")
    assert duo.get_logs() == [], "console errors"


# -- production line ------------------------------------------------------------------------------------------------
LINE = "adjuvant_only"
LINE_RUNNING = "!document.querySelector('#line-progress-wrap').classList.contains('invisible')"
PRESSURE = "units.homogenizer.parameters.pressure"
PASSES = "units.homogenizer.parameters.passes"
#: boxes (px) of the diagram's non-empty annotation texts, as the browser draws them
LABEL_BOXES = """
    const out = [];
    document.querySelectorAll('#line-diagram g.annotation').forEach(g => {
        const t = g.querySelector('text');
        if (!t || !t.textContent.trim()) { return; }
        const r = t.getBoundingClientRect();
        out.push([t.textContent, r.left, r.top, r.right, r.bottom]);
    });
    return out.length ? out : null;
"""


def overlapping(boxes) -> list[tuple[str, str]]:
    return [
        (a[0], b[0])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]
    ]


@pytest.fixture(scope="module")
def line_at_500_bar():
    """The shipped line with the homogenizer at 500 bar, edited by hand and run by the library."""
    from bioprocess_twin.line.definition import load_line, parse_line
    from bioprocess_twin.line.flowsheet import run_line

    data = load_line(LINE).model_dump(mode="json", by_alias=True)
    base = run_line(parse_line(data))
    data["units"]["homogenizer"]["parameters"]["pressure"] = "500 bar"
    low = run_line(parse_line(data))
    assert base.ok and low.ok, (base.message, low.message)
    return base, low


@pytest.fixture
def line_page(dash_duo, tmp_path, line_at_500_bar):
    from dashboards.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False)
    bw.open_page(dash_duo, app, "/line", "#line-run", "#line-diagram .main-svg")
    return dash_duo


def test_line_runs_with_the_settings_of_the_form(line_page, line_at_500_bar):
    duo = line_page
    base, low = line_at_500_bar
    assert LINE in bw.text(duo, "#line-picker")
    assert number(box_value(duo, "line-setting", PRESSURE)) == 1000
    assert number(box_value(duo, "line-setting", PASSES)) == 6
    assert number(box_value(duo, "line-setting", "feeds.aqueous_phase.volume")) == pytest.approx(95.45)

    bw.type_into(duo, box("line-setting", PRESSURE), "500", by=By.XPATH)
    bw.press_and_wait(duo, "#line-run", LINE_RUNNING)
    assert bw.texts(duo, "#line-alert .alert") == []
    bw.wait_for_text(duo, "#line-status-badge", equals="ok")
    assert "units.homogenizer.pressure 500 bar" in bw.text(duo, "#line-settings-used")
    z = number(bw.attribute(duo, "#kpi-homogenizer_z_average_nm", "textContent"))
    assert z == pytest.approx(low.results["homogenizer"].kpis["z_average_nm"], rel=1e-3)
    assert z > base.results["homogenizer"].kpis["z_average_nm"]  # less energy per pass: larger droplets
    assert STALE not in bw.attribute(duo, "#line-results", "class")

    # another number of passes: the results are greyed out until the line runs again
    bw.type_into(duo, box("line-setting", PASSES), "8", by=By.XPATH)
    bw.wait_for_class(duo, "#line-results", STALE)
    assert PASSES in bw.text(duo, "#line-stale-alert")
    for text in ("12x0", "6.5"):  # malformed, and not a whole number of passes
        bw.type_into(duo, box("line-setting", PASSES), text, by=By.XPATH)
        bw.wait_for_text(duo, note("line-setting-message", PASSES), contains=f"'{text}'")
        bw.click(duo, "#line-run")
        bw.wait_for_text(duo, "#line-error", contains=PASSES)
        bw.wait_for_callbacks(duo)
    assert number(bw.attribute(duo, "#kpi-homogenizer_z_average_nm", "textContent")) == pytest.approx(z, rel=1e-6)
    assert STALE in bw.attribute(duo, "#line-results", "class")
    assert duo.get_logs() == [], "console errors"


def test_flowsheet_labels_do_not_overlap(line_page):
    duo = line_page
    for name in ("adjuvant_only", "adjuvanted_vaccine"):
        if name != LINE:
            bw.choose(duo, "#line-picker", name)
            bw.wait_for_text(duo, "#line-diagram .gtitle", contains=name)
            bw.wait_for_callbacks(duo)
        boxes = bw.wait_for_js(duo, LABEL_BOXES, lambda b: bool(b), message=f"{name}: no labels drawn")
        assert len(boxes) >= 6, boxes
        assert overlapping(boxes) == [], f"{name}: overlapping labels"
    # after a run every unit is labelled with its duration, still without overlaps
    bw.press_and_wait(duo, "#line-run", LINE_RUNNING, timeout=bw.RUN_TIMEOUT * 2)
    bw.wait_for_text(duo, "#line-status-badge", equals="ok", timeout=bw.RUN_TIMEOUT)
    boxes = bw.wait_for_js(
        duo, LABEL_BOXES, lambda b: bool(b) and sum(" h" in t[0] for t in b) >= 8, message="durations not drawn"
    )
    assert overlapping(boxes) == [], "overlapping labels after the run"
    duo.driver.save_screenshot("/tmp/line_in_step.png")


# -- forged callback requests ---------------------------------------------------------------------------------------
def test_forged_picker_values_are_refused(plan_page, tmp_path):
    """A client that sends a path instead of a listed plan spec or line gets a named refusal; nothing is read."""
    from dash_requests import call, response, texts

    from bioprocess_twin.core.resources import example_path
    from bioprocess_twin.line.definition import line_roots

    duo = plan_page
    outside = tmp_path / "outside.yaml"  # a valid line definition and plan spec, but not a listed one
    outside.write_text((line_roots()[-1] / "adjuvant_only" / "1.0.0.yaml").read_text())
    for value in ("../specs/scaleup_cho_2000L.yaml", str(example_path("plans", "two_step_small.yaml")), str(outside)):
        shown = response(call(duo.server_url, "plan-demand-form.children", {"plan-picker.value": value}))
        assert "not one of the listed plan specs" in texts(shown["plan-demand-form"]["children"]), value
        ran = response(
            call(duo.server_url, "plan-alert.children", {"plan-picker.value": value, "plan-run.n_clicks": 1})
        )
        assert "not one of the listed plan specs" in texts(ran["plan-alert"]["children"]), value
        picked = response(call(duo.server_url, "line-description.children", {"line-picker.value": value}))
        assert "not one of the listed lines" in texts(picked["line-description"]["children"]), value
        assert picked["line-definition"]["data"] is None
    batch = response(
        call(duo.server_url, "line-alert.children", {"line-picker.value": str(outside), "line-run.n_clicks": 1})
    )
    assert "not one of the listed lines" in texts(batch["line-alert"]["children"])
    # malformed pattern-matching groups and a model that is not listed: named refusals, no server error
    run = response(
        call(duo.server_url, "run-data.data", {"model-picker.value": str(outside), "run-button.n_clicks": 1})
    )
    assert "pick a particle model" in texts(run["run-alert"]["children"])
    # no demand boxes sent at all (ids and values None): the spec's own demand, no server error
    run = response(
        call(
            duo.server_url, "plan-alert.children", {"plan-picker.value": "two_step_small.yaml", "plan-run.n_clicks": 1}
        )
    )
    assert run["plan-data"]["data"]["status"] == "optimal" and run["plan-data"]["data"]["inputs_shown"]["values"] == {}
    assert duo.get_logs() == [], "console errors"
