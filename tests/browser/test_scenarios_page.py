"""The scenarios page in headless Chromium: a small design space of the shipped emulsion scenario runs in the
background with a case counter, draws the P map with its target contour, the PARs and the convergence of P,
and greys out when a setting changes; two results kept for comparison are shown side by side, and stay kept
when the page is loaded again; a forged request for a spec that is not listed is refused."""

from __future__ import annotations

import json

import browser_waits as bw
import pytest
from dash_requests import call, response, texts

pytestmark = pytest.mark.browser

RUNNING = (
    "document.querySelector('#scenario-run').disabled"
    " && !document.querySelector('#scenario-progress-wrap').classList.contains('invisible')"
)


@pytest.fixture
def page(dash_duo, tmp_path):
    from dashboards.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False)
    bw.open_page(dash_duo, app, "/scenarios", "#scenario-run", "#scenario-map .main-svg")
    return dash_duo


def test_a_small_design_space_runs_and_draws_its_map(page):
    duo = page
    assert bw.attribute(duo, "#scenario-samples", "value") == "100"  # the shipped spec's settings
    bw.type_into(duo, "#scenario-samples", "2", tab=False)
    bw.type_into(duo, "#scenario-grid", "2", tab=False)
    bw.press_and_wait(duo, "#scenario-run", RUNNING)
    bw.wait_for_text(duo, "#scenario-status-badge", equals="ok")
    assert "z_average_nm in [140, 180]" in bw.text(duo, "#scenario-responses")
    assert "In the design space" in bw.text(duo, "#scenario-inside")
    # 3 pressures (700, 1300 and the set point 1150) x the spec's 5 pass counts, P in [0, 1], the P = 0.9 contour
    shape = bw.plotted(duo, "scenario-map", "[g.data[0].x.length, g.data[0].y.length]", lambda v: v == [3, 5])
    assert shape == [3, 5]
    z = bw.plotted(duo, "scenario-map", "g.data[0].z.flat()", bool)
    assert all(0 <= v <= 1 for v in z)
    assert bw.plotted(duo, "scenario-map", "g.data[1].contours.start", lambda v: v is not None) == 0.9
    bw.plotted(duo, "scenario-par", "g.data.length", lambda n: n is not None and n >= 2)
    bw.plotted(duo, "scenario-convergence", "g.data[1].y.length", lambda n: n is not None and n >= 1)
    assert "results-stale" not in bw.attribute(duo, "#scenario-results", "class")

    bw.type_into(duo, "#scenario-samples", "3")  # a changed setting greys the results out (sent on leaving the box)
    bw.wait_for_class(duo, "#scenario-results", "results-stale")
    assert "samples per point" in bw.text(duo, "#scenario-stale-alert")
    bw.type_into(duo, "#scenario-grid", "2x")  # not a number: named under its box
    bw.wait_for_text(duo, "#scenario-grid-message", contains="not a number")
    assert duo.get_logs() == [], "console errors"


def compare_table(duo) -> list[list[str]]:
    """The comparison table as rows of cell texts (the header row first)."""
    return duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#scenario-compare-table tr'))"
        ".map(r => Array.from(r.children).map(c => c.innerText.replace(/\\s+/g, ' ').trim()));"
    )


def row(table: list[list[str]], label: str) -> list[str]:
    return next(r[1:] for r in table if r and r[0] == label)


def test_two_kept_design_spaces_are_compared_side_by_side(page):
    duo = page
    assert "Nothing kept yet" in bw.text(duo, "#scenario-compare-empty")
    assert bw.attribute(duo, "#scenario-keep", "disabled") == "true"  # nothing to keep before a run
    bw.type_into(duo, "#scenario-grid", "2", tab=False)
    for samples in ("2", "4"):
        bw.type_into(duo, "#scenario-samples", samples, tab=False)
        bw.press_and_wait(duo, "#scenario-run", RUNNING)
        bw.wait_for_text(duo, "#scenario-status-badge", equals="ok")
        bw.click(duo, "#scenario-keep")
        bw.wait_for_text(duo, "#scenario-keep", equals="Kept")  # the same result is kept once
    bw.wait_until(duo, lambda d: len(compare_table(duo)) > 1 and len(compare_table(duo)[0]) == 3)
    table = compare_table(duo)
    assert [h.replace("×", "").strip() for h in table[0][1:]] == ["#1", "#2"]
    assert row(table, "samples per point") == ["2", "4"]
    assert row(table, "analysis") == ["Design space and PAR"] * 2
    assert row(table, "status") == ["ok", "ok"]
    # P at the set point with its Wilson interval from the samples run there: n = 2 and n = 4
    p_texts = row(table, "P(in spec) at the set point")
    assert p_texts[0].endswith("n 2)") and p_texts[1].endswith("n 4)")
    for text in p_texts:
        p, low, high = (float(x) for x in text.replace("(", " ").replace("–", " ").replace(";", " ").split()[:3])
        assert 0 <= low <= p <= high <= 1
    assert row(table, "grid points with P ≥ 0.9")[0].endswith("of 15")  # 3 pressures x 5 pass counts
    # the two maps side by side, each over the 3 x 5 grid
    for i in range(2):
        shape = bw.plotted(duo, f"scenario-compare-graph-{i}", "[g.data[0].x.length, g.data[0].y.length]")
        assert shape == [3, 5]
    top = [bw.read(duo, f"#scenario-compare-graph-{i}", lambda e: e.rect["y"]) for i in range(2)]
    assert top[0] == pytest.approx(top[1], abs=2)  # next to each other, not one under the other

    duo.driver.refresh()  # kept in the browser session: a reload shows them again
    bw.wait_for_element(duo, "#scenario-compare-table")
    bw.wait_for_callbacks(duo)
    assert len(compare_table(duo)[0]) == 3
    bw.click(duo, "[id='" + compare_remove_id(compare_key(duo, 0)) + "']")  # remove #1
    bw.wait_until(duo, lambda d: len(compare_table(duo)[0]) == 2)
    assert compare_table(duo)[0][1].replace("×", "").strip() == "#2"
    bw.click(duo, "#scenario-kept-clear")
    bw.wait_for_element(duo, "#scenario-compare-empty")
    assert duo.get_logs() == [], "console errors"


def compare_key(duo, i: int) -> str:
    """The key of the i-th kept result, from the session store."""
    kept = duo.driver.execute_script("return window.sessionStorage.getItem('scenario-kept');")
    return json.loads(kept)[i]["key"]


def compare_remove_id(key: str) -> str:
    return json.dumps({"key": key, "type": "scenario-kept-remove"}, sort_keys=True, separators=(",", ":"))


def test_a_fifth_kept_result_pushes_out_the_oldest(page):
    duo = page
    kept = [{"key": str(i), "number": i, "result": {"analysis": "monte_carlo"}} for i in range(1, 5)]
    shown = response(
        call(
            duo.server_url,
            "scenario-kept.data",
            {
                "scenario-keep.n_clicks": 1,
                "scenario-result.data": {"key": "new", "result": {"analysis": "monte_carlo"}},
                "scenario-kept.data": kept,
            },
        )
    )
    after = shown["scenario-kept"]["data"]
    assert [k["key"] for k in after] == ["2", "3", "4", "new"]
    assert after[-1]["number"] == 5


def test_a_forged_request_for_a_spec_that_is_not_listed_is_refused(page):
    duo = page
    shown = response(
        call(
            duo.server_url,
            "scenario-status.children",
            {
                "scenario-run.n_clicks": 1,
                "scenario-picker.value": "../specs/emulsion_homogenizer",
                "scenario-analysis.value": "design_space",
                "scenario-samples.value": "2",
                "scenario-grid.value": "2",
                "scenario-target.value": "0.9",
                "scenario-base-samples.value": "256",
            },
        )
    )
    assert "not one of the listed specs" in texts(shown["scenario-error"]["children"])
    assert "scenario-map" not in shown  # nothing was run or drawn


def test_a_sweep_larger_than_the_server_allows_is_refused_before_it_runs(page):
    duo = page
    shown = response(
        call(
            duo.server_url,
            "scenario-status.children",
            {
                "scenario-run.n_clicks": 1,
                "scenario-picker.value": "emulsion_100L_window",
                "scenario-analysis.value": "design_space",
                "scenario-samples.value": "2000",  # 15 grid points: 30,000 cases, above the page's 20,000
                "scenario-grid.value": "2",
                "scenario-target.value": "0.9",
                "scenario-base-samples.value": "256",
            },
        )
    )
    assert "30,000 cases exceed the 20,000 allowed here" in texts(shown["scenario-error"]["children"])
    assert "scenario-map" not in shown
