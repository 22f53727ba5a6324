"""The scenarios page in headless Chromium: a small design space of the shipped emulsion scenario runs in the
background with a case counter, draws the P map with its target contour, the PARs and the convergence of P,
and greys out when a setting changes; a forged request for a spec that is not listed is refused."""

from __future__ import annotations

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
