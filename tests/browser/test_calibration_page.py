"""The calibration page in headless Chromium: the CHO demo records' validation report, one real
calibration run (about 25-40 s), and an uploaded broken file whose error names its row, kept in a
session folder of the server whose id (a token, not a path) is all the page holds."""

from __future__ import annotations

import browser_waits as bw
import pytest

from bioprocess_twin.core.resources import example_path

pytestmark = pytest.mark.browser
SPEC = example_path("batch_records", "cho", "calibration.yaml")


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

    bw.open_page(
        dash_duo, create_app(f"sqlite:///{tmp_path / 'runs.db'}", demo=False), "/calibration", "#calibration-run"
    )
    bw.wait_for_text(dash_duo, "#calibration-bad-batches", contains="B08", timeout=bw.RUN_TIMEOUT)  # records read
    bw.wait_for_callbacks(dash_duo)
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


def session_in_store(duo):
    """What the page's session store holds (read from the Dash renderer's state)."""
    return duo.driver.execute_script("""
        const state = window.store.getState();
        let node = state.layout;
        for (const key of state.paths.strs['calibration-session']) { node = node[key]; }
        return node.props.data === undefined ? null : node.props.data;""")


def number(duo, selector) -> float:
    return float(bw.attribute(duo, selector, "textContent"))


RUNNING = "!document.querySelector('#calibration-progress-wrap').classList.contains('invisible')"


def test_validation_report_then_calibrate_the_cho_demo(page, demo_report):
    duo = page
    rows = issue_rows(duo)
    shown = {(r["severity"], r["file"], r["row"], r["column"], r["batch"]) for r in rows}
    errors = [i for i in demo_report.issues if i.severity == "error"]
    assert errors and all(i.batch == "B08" for i in errors)
    for i in errors:  # every error of the faulty batch, with its file, row and column
        assert ("error", i.file, str(i.row), i.column, "B08") in shown, i
    assert len(rows) == len(demo_report.issues)
    assert bw.text(duo, "#kpi-rows_read") == f"{demo_report.rows_read:,}"
    assert "non_numeric 2" in bw.text(duo, "#calibration-dropped")
    # batch choices prefilled from the spec
    assert "B06" in bw.text(duo, "#calibration-held-out")
    assert "B08" in bw.text(duo, "#calibration-exclude")

    bw.press_and_wait(duo, "#calibration-run", RUNNING)  # the progress bar shows while it runs
    assert bw.texts(duo, "#calibration-alert .alert") == []
    bw.wait_for_text(duo, "#calibration-status-badge", equals="ok")

    # mu_max: the plant truth 0.052 (demo_data.CHO_TRUE_PARAMETERS) lies inside the 95 % interval
    row = "#calibration-estimates-row-mu_max"
    low, value, high = (number(duo, f"{row} .col-{k}") for k in ("ci_low", "value", "ci_high"))
    assert low < 0.052 < high and low < value < high
    assert high - low < 0.1 * value  # a real interval, not an unbounded one
    bw.plotted(duo, "calibration-correlation", "g.data[0].z.length", lambda n: n == 10)  # 4 shared + 6 inocula

    # fitted against measured: measured and fitted traces for each of the six fitted outputs
    bw.plotted(duo, "calibration-fit", "g.data.length", lambda n: n == 12)
    bw.plotted(duo, "calibration-fit", "g.data.every(t => t.x.length > 0)", lambda ok: ok is True)
    bw.plotted(duo, "calibration-fit", "g.layout.title.text", lambda title: bool(title) and "B01" in title)
    # held-out batch B06: measured, predicted and naive traces, and its rows in the validation table
    bw.plotted(duo, "calibration-heldout", "g.data.length", lambda n: n == 18)
    held = bw.attributes(duo, "#calibration-validation tbody tr", "id")
    assert len(held) == 6 and all(i.startswith("calibration-validation-row-B06-") for i in held), held
    bw.plotted(duo, "calibration-residuals", "g.data.length", lambda n: n is not None and n >= 6)
    assert "rank 10 of 10" in bw.text(duo, "#calibration-identifiability-after")
    assert duo.get_logs() == [], "console errors"


def test_uploaded_broken_file_and_bad_choices_name_the_problem(page, tmp_path):
    duo = page
    lines = (SPEC.parent / "online.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[21].split(",")  # spreadsheet row 22 (the header is row 1)
    cells[header.index("DO_PV")] = "sensor fault"
    lines[21] = ",".join(cells)
    broken = tmp_path / "online_broken.csv"
    broken.write_text("\n".join(lines) + "\n")

    bw.send_keys(duo, "#calibration-upload input[type=file]", str(broken))
    bw.wait_for_text(duo, "#calibration-upload-active", contains="online_broken.csv")
    # the page holds the session's id only; the upload sits in that session's folder on the server
    bw.wait_for_callbacks(duo)
    session = session_in_store(duo)
    assert isinstance(session, str) and len(session) == 43, session
    folder = tmp_path / "calibration-sessions" / session  # the app's work folder is the run database's
    assert (folder / "online_broken.csv").is_file() and (folder / "tagmap.yaml").is_file()
    bw.wait_until(
        duo,
        lambda d: any(r["file"] == "online_broken.csv" for r in issue_rows(duo)),
        bw.RUN_TIMEOUT,
        "the uploaded file's issues are not listed",
    )
    bw.wait_for_callbacks(duo)
    rows = issue_rows(duo)
    hit = [r for r in rows if r["file"] == "online_broken.csv" and r["row"] == "22"]
    assert hit and hit[0]["severity"] == "error" and hit[0]["column"] == "DO_PV"
    assert "sensor fault" in hit[0]["message"]
    assert "B01" in bw.text(duo, "#calibration-bad-batches")

    # a run that uses the broken batch stops with the file, row and column
    bw.click(duo, "#calibration-run")
    bw.wait_for_text(duo, "#calibration-error", contains="online_broken.csv:22:DO_PV", timeout=bw.RUN_TIMEOUT)
    bw.wait_for_callbacks(duo)
    assert duo.find_elements("#calibration-status-badge") == []

    # back to the shipped files: the upload's error is gone
    bw.click(duo, "#calibration-upload-clear")
    bw.wait_until(
        duo,
        lambda d: (listed := issue_rows(duo)) and not any(r["file"] == "online_broken.csv" for r in listed),
        bw.RUN_TIMEOUT,
        "the uploaded file's issues stay",
    )
    bw.wait_for_callbacks(duo)
    assert "B01" not in bw.text(duo, "#calibration-bad-batches")
    assert session_in_store(duo) is None and not folder.exists()  # the session is closed and removed

    # nothing chosen to estimate: the spec's field is named, nothing runs
    boxes = "#calibration-parameters input[type=checkbox]"
    duo.driver.execute_script(
        "document.querySelectorAll(arguments[0]).forEach(b => { if (b.checked) b.click(); });", boxes
    )  # in one script: no box can be re-rendered in between
    bw.wait_for_js(
        duo,
        f"return !Array.from(document.querySelectorAll('{boxes}')).some(b => b.checked);",
        message="the parameter boxes stay ticked",
    )
    bw.wait_for_callbacks(duo)
    bw.click(duo, "#calibration-run")
    message = bw.wait_for_text(duo, "#calibration-error", contains="parameters", timeout=bw.RUN_TIMEOUT)
    assert "nothing to estimate" in message
    assert duo.get_logs() == [], "console errors"
