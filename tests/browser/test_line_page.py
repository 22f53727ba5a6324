"""The production-line page in headless Chromium, running the shipped adjuvant-only line for real."""

from __future__ import annotations

import re

import browser_waits as bw
import pytest

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

    bw.open_page(
        dash_duo,
        create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False),
        "/line",
        "#line-run",
        "#line-diagram .main-svg",
    )
    return dash_duo


#: the unit labels of the diagram (annotations named "unit:<id>")
LABELS = "(g.layout.annotations || []).filter(a => (a.name || '').startsWith('unit:')).map(a => a.text)"
KPI_UNITS = (
    "const v = document.getElementById(arguments[0]); const row = v.closest('tr');"
    "return row ? row.lastElementChild.textContent : v.parentElement.querySelector('.kpi-units').textContent;"
)
RUNNING = "!document.querySelector('#line-progress-wrap').classList.contains('invisible')"


def test_run_a_batch_and_inspect_streams_and_units(page, reference):
    duo = page
    assert LINE in bw.text(duo, "#line-picker")
    texts = bw.plotted(duo, "line-diagram", LABELS, lambda labels: labels is not None and len(labels) == 4)
    assert all(re.search(r"<b>(premix|homogenizer|sterile_filter|fill)</b>", t) for t in texts), texts
    assert duo.find_elements("#kpi-fill_doses") == []

    bw.press_and_wait(duo, "#line-run", RUNNING)  # the progress bar shows while the batch runs
    assert bw.texts(duo, "#line-alert .alert") == []
    bw.wait_for_text(duo, "#line-status-badge", equals="ok")

    doses = float(bw.attribute(duo, "#kpi-fill_doses", "textContent"))  # may sit in the folded table
    assert doses == pytest.approx(reference.results["fill"].kpis["doses"], rel=1e-3)
    # each KPI is shown in the units its unit declares (the card's units, or the folded table's last cell)
    for key, shown in (("homogenizer.energy_density_MJ_per_m3", "MJ/m³"), ("fill.fill_volume_mL", "mL")):
        assert reference.kpi_units()[key] in ("MJ/m^3", "mL")
        units = duo.driver.execute_script(KPI_UNITS, "kpi-" + key.replace(".", "_"))
        assert units.strip() == shown, (key, units)
    rows = bw.texts(duo, "#stream-table tbody tr")
    assert len(rows) - 1 == len(reference.streams())  # a header row, then one row per stream
    # after the run the diagram labels each unit with its duration
    bw.plotted(duo, "line-diagram", LABELS, lambda labels: bool(labels) and all(" h" in t for t in labels))

    bw.choose(duo, "#unit-picker", "sterile_filter")
    bw.plotted(duo, "unit-series", "g.layout.title.text", lambda title: bool(title) and "sterile_filter" in title)
    bw.plotted(duo, "unit-series", "g.data.length", lambda n: n is not None and n >= 1)
    assert duo.get_logs() == [], "console errors"
