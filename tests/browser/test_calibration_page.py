"""The calibration page in headless Chromium: the CHO demo records' validation report, one real
calibration run (about 25-40 s), and an uploaded broken file whose error names its row."""
from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "data" / "batch_records" / "cho" / "calibration.yaml"


@pytest.fixture(scope="module")
def demo_report():
    """The CHO demo records imported in this process: the issues the page must list (and a warm model)."""
    from bioprocess_twin.calibration.dataset import load_batch_records
    from bioprocess_twin.calibration.spec import load_calibration_spec, resolve_model

    spec, base = load_calibration_spec(SPEC)
    return load_batch_records(base / spec.data, model=resolve_model(spec, base)).report


@pytest.fixture
def page(dash_duo, tmp_path, demo_report):
    from dashboards.app import create_app

    dash_duo.start_server(create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False))
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/calibration", timeout=30)
    dash_duo.wait_for_element("#calibration-run", timeout=30)
    dash_duo.wait_for_contains_text("#calibration-bad-batches", "B08", timeout=60)
    return dash_duo


def issue_rows(duo) -> list[dict]:
    """The rows of the validation report's issues table (every page of it)."""
    return duo.driver.execute_script("""
        const rows = [];
        document.querySelectorAll('#calibration-issues tr').forEach(tr => {
            const cells = tr.querySelectorAll('td[data-dash-column]');
            if (cells.length) { const r = {}; cells.forEach(td => r[td.dataset.dashColumn] = td.innerText.trim());
                                rows.push(r); }
        });
        return rows;""")


def plotted(duo, graph_id, expression):
    return duo.driver.execute_script(f"const g = document.querySelector('#{graph_id} .js-plotly-plot'); return {expression};")


def number(duo, selector) -> float:
    return float(duo.find_element(selector).get_attribute("textContent"))


def test_validation_report_then_calibrate_the_cho_demo(page, demo_report):
    duo = page
    rows = issue_rows(duo)
    shown = {(r["severity"], r["file"], r["row"], r["column"], r["batch"]) for r in rows}
    errors = [i for i in demo_report.issues if i.severity == "error"]
    assert errors and all(i.batch == "B08" for i in errors)
    for i in errors:   # every error of the faulty batch, with its file, row and column
        assert ("error", i.file, str(i.row), i.column, "B08") in shown, i
    assert len(rows) == len(demo_report.issues)
    assert duo.find_element("#kpi-rows_read").text == f"{demo_report.rows_read:,}"
    assert "non_numeric 2" in duo.find_element("#calibration-dropped").text
    # batch choices prefilled from the spec
    assert "B06" in duo.find_element("#calibration-held-out").text
    assert "B08" in duo.find_element("#calibration-exclude").text

    duo.find_element("#calibration-run").click()
    WebDriverWait(duo.driver, 20).until(lambda d: d.execute_script(
        "return !document.querySelector('#calibration-progress-wrap').classList.contains('invisible');"))
    duo.wait_for_text_to_equal("#calibration-status-badge", "ok", timeout=180)
    assert duo.find_elements("#calibration-alert .alert") == []

    # mu_max: the plant truth 0.052 (demo_data.CHO_TRUE_PARAMETERS) lies inside the 95 % interval
    row = "#calibration-estimates-row-mu_max"
    low, value, high = (number(duo, f"{row} .col-{k}") for k in ("ci_low", "value", "ci_high"))
    assert low < 0.052 < high and low < value < high
    assert high - low < 0.1 * value              # a real interval, not an unbounded one
    assert plotted(duo, "calibration-correlation", "g.data[0].z.length") == 10   # 4 shared + 6 inocula

    # fitted against measured: measured and fitted traces for each of the six fitted outputs
    assert plotted(duo, "calibration-fit", "g.data.length") == 12
    assert plotted(duo, "calibration-fit", "g.data.every(t => t.x.length > 0)")
    assert "B01" in plotted(duo, "calibration-fit", "g.layout.title.text")
    # held-out batch B06: measured, predicted and naive traces, and its rows in the validation table
    assert plotted(duo, "calibration-heldout", "g.data.length") == 18
    held = [e.get_attribute("id") for e in duo.find_elements("#calibration-validation tbody tr")]
    assert len(held) == 6 and all(i.startswith("calibration-validation-row-B06-") for i in held)
    assert plotted(duo, "calibration-residuals", "g.data.length") >= 6
    assert "rank 10 of 10" in duo.find_element("#calibration-identifiability-after").text
    assert duo.get_logs() == [], "console errors"


def test_uploaded_broken_file_and_bad_choices_name_the_problem(page, tmp_path):
    duo = page
    lines = (SPEC.parent / "online.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[21].split(",")                      # spreadsheet row 22 (the header is row 1)
    cells[header.index("DO_PV")] = "sensor fault"
    lines[21] = ",".join(cells)
    broken = tmp_path / "online_broken.csv"
    broken.write_text("\n".join(lines) + "\n")

    duo.find_element("#calibration-upload input[type=file]").send_keys(str(broken))
    duo.wait_for_contains_text("#calibration-upload-active", "online_broken.csv", timeout=30)
    WebDriverWait(duo.driver, 60).until(lambda d: any(
        r["file"] == "online_broken.csv" for r in issue_rows(duo)))
    rows = issue_rows(duo)
    hit = [r for r in rows if r["file"] == "online_broken.csv" and r["row"] == "22"]
    assert hit and hit[0]["severity"] == "error" and hit[0]["column"] == "DO_PV"
    assert "sensor fault" in hit[0]["message"]
    assert "B01" in duo.find_element("#calibration-bad-batches").text

    # a run that uses the broken batch stops with the file, row and column
    duo.find_element("#calibration-run").click()
    duo.wait_for_contains_text("#calibration-error", "online_broken.csv:22:DO_PV", timeout=60)
    assert duo.find_elements("#calibration-status-badge") == []

    # back to the shipped files: the upload's error is gone
    duo.find_element("#calibration-upload-clear").click()
    WebDriverWait(duo.driver, 60).until(lambda d: rows and not any(
        r["file"] == "online_broken.csv" for r in issue_rows(duo)))
    assert "B01" not in duo.find_element("#calibration-bad-batches").text

    # nothing chosen to estimate: the spec's field is named, nothing runs
    for box in duo.find_elements("#calibration-parameters input[type=checkbox]"):
        if box.is_selected():
            duo.driver.execute_script("arguments[0].click();", box)
    duo.find_element("#calibration-run").click()
    duo.wait_for_contains_text("#calibration-error", "parameters", timeout=60)
    assert "nothing to estimate" in duo.find_element("#calibration-error").text
    assert duo.get_logs() == [], "console errors"
