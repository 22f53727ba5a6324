"""The calibration page in headless Chromium against hostile input: forged callback requests sent while the
page runs, forged session ids put into the page's store, and a listed spec that would run Python code.

Each must be refused with a visible message that names the field, and change nothing: no file outside
the app's session folders is read, written or deleted, and the page goes on working.
"""

from __future__ import annotations

import shutil

import browser_waits as bw
import pytest
from dash_requests import call, response, texts

from bioprocess_twin.core.resources import example_path

pytestmark = pytest.mark.browser
SHIPPED = example_path("batch_records", "cho")
REFUSED = "not a session of this server"


@pytest.fixture
def folders(tmp_path):
    """Listed specs (the CHO demo as ``cho``, and ``code``: the same with a model_file), a victim folder
    shaped like another user's session, and the app's work folder."""
    specs = tmp_path / "specs"
    shutil.copytree(SHIPPED, specs / "cho")
    code = specs / "code"
    shutil.copytree(SHIPPED, code)
    (code / "evil.py").write_text("from pathlib import Path\nPath(__file__).with_name('ran.txt').write_text('ran')\n")
    text = (code / "calibration.yaml").read_text()
    (code / "calibration.yaml").write_text(text.replace("model: cho_fed_batch", "model_file: evil.py"))
    victim = tmp_path / "victim" / "bpt-calibration-other-user"
    victim.mkdir(parents=True)
    (victim / "tagmap.yaml").write_text("files: []\n")
    return {"specs": specs, "code": code, "victim": victim, "work": tmp_path / "work"}


@pytest.fixture
def page(dash_duo, tmp_path, folders):
    from dashboards.app import create_app

    app = create_app(
        f"sqlite:///{tmp_path / 'runs.db'}", demo=False, work_dir=folders["work"], calibration_specs=folders["specs"]
    )
    bw.open_page(dash_duo, app, "/calibration", "#calibration-run")
    bw.wait_for_text(dash_duo, "#calibration-bad-batches", contains="B08", timeout=bw.RUN_TIMEOUT)  # records read
    bw.wait_for_callbacks(dash_duo)
    return dash_duo


def sessions(folders) -> list[str]:
    return sorted(p.name for p in (folders["work"] / "calibration-sessions").iterdir())


def session_in_store(duo):
    """What the page's session store holds (read from the Dash renderer's state)."""
    return duo.driver.execute_script("""
        const state = window.store.getState();
        let node = state.layout;
        for (const key of state.paths.strs['calibration-session']) { node = node[key]; }
        return node.props.data === undefined ? null : node.props.data;""")


def put_in_store(duo, value) -> None:
    """Set the session store as a forged client would (dash_clientside.set_props), which triggers its callbacks."""
    duo.driver.execute_script("window.dash_clientside.set_props('calibration-session', {data: arguments[0]});", value)


def test_forged_callback_requests_are_refused_while_the_page_runs(page, folders):
    duo = page
    victim, outside = folders["victim"], folders["code"]
    forged = {"dir": str(victim), "tag_map": str(outside / "tagmap.yaml"), "spec": "cho"}
    shown = response(
        call(
            duo.server_url,
            "calibration-report.children",
            {"calibration-spec.value": "cho", "calibration-session.data": forged},
        )
    )
    assert REFUSED in texts(shown["calibration-report"]["children"]) and shown["calibration-issues"]["data"] == []
    shown = response(
        call(
            duo.server_url, "calibration-report.children", {"calibration-spec.value": str(outside / "calibration.yaml")}
        )
    )
    assert "not one of the listed calibration specs" in texts(shown["calibration-report"]["children"])
    picked = response(
        call(
            duo.server_url,
            "calibration-about.children",
            {"calibration-spec.value": "cho", "calibration-session.data": str(victim)},
        )
    )
    assert REFUSED in texts(picked["calibration-upload-note"]["children"])
    ran = response(
        call(
            duo.server_url,
            "calibration-result.data",
            {
                "calibration-run.n_clicks": 1,
                "calibration-spec.value": "../code",
                "calibration-parameters.value": ["q_p"],
            },
        )
    )
    assert ran["calibration-result"]["data"] is None
    assert "not one of the listed calibration specs" in texts(ran["calibration-alert"]["children"])

    assert victim.is_dir() and (victim / "tagmap.yaml").is_file(), "another user's folder was deleted"
    assert not (outside / "ran.txt").exists() and sessions(folders) == []
    # the page itself is untouched: its report still lists the demo's faulty batch and no alert is shown
    assert "B08" in bw.text(duo, "#calibration-bad-batches")
    assert bw.texts(duo, "#calibration-alert .alert") == []
    assert duo.get_logs() == [], "console errors"


def test_a_forged_session_id_is_refused_on_the_page(page, folders):
    duo = page
    victim = folders["victim"]
    for forged in ("A" * 43, {"dir": str(victim), "tag_map": str(folders["code"] / "tagmap.yaml")}, str(victim)):
        put_in_store(duo, forged)
        message = bw.wait_for_text(duo, "#calibration-records-error", contains=REFUSED)
        assert "session" in message
        bw.wait_for_callbacks(duo)
        assert duo.find_elements("#calibration-issues td") == []  # nothing was read
        assert victim.is_dir() and sessions(folders) == []
        # going back to the shipped files with the forged id: refused, nothing deleted
        bw.click(duo, "#calibration-upload-clear")
        bw.wait_for_text(duo, "#calibration-upload-error", contains=REFUSED)
        bw.wait_for_callbacks(duo)
        assert victim.is_dir() and session_in_store(duo) is None
        bw.wait_for_text(duo, "#calibration-bad-batches", contains="B08", timeout=bw.RUN_TIMEOUT)  # shipped again

    # a real upload opens a session: the page holds its id, a token, and the folder is the server's
    bw.send_keys(duo, "#calibration-upload input[type=file]", str(SHIPPED / "online.csv"))
    bw.wait_for_text(duo, "#calibration-upload-active", contains="online.csv")
    bw.wait_for_callbacks(duo)
    held = session_in_store(duo)
    assert isinstance(held, str) and len(held) == 43 and sessions(folders) == [held]
    assert (folders["work"] / "calibration-sessions" / held / "online.csv").is_file()
    assert duo.get_logs() == [], "console errors"


def test_a_spec_that_runs_code_is_refused_on_the_page(page, folders):
    duo = page
    bw.choose(duo, "#calibration-spec", "code/calibration.yaml")
    message = bw.wait_for_text(duo, "#calibration-spec-error", contains="model_file")
    assert "trusted" in message or "opt" in message, message
    bw.wait_for_text(duo, "#calibration-records-error", contains="model_file")
    bw.wait_for_callbacks(duo)
    bw.click(duo, "#calibration-run")
    bw.wait_for_text(duo, "#calibration-error", contains="model_file", timeout=bw.RUN_TIMEOUT)
    bw.wait_for_callbacks(duo)
    assert not (folders["code"] / "ran.txt").exists(), "the spec's model_file was run"
    assert duo.find_elements("#calibration-status-badge") == []
    assert duo.get_logs() == [], "console errors"
