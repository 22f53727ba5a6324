"""``bioprocess-twin serve`` for real: a subprocess on a free port, driven over HTTP as a hostile client would.

The server must be uvicorn (not Werkzeug's development server), serve the page and every asset it
links, refuse forged callback requests (paths, forged sessions, a spec that runs code) without
reading, writing or deleting anything outside its session folders, run background callbacks in
worker processes, and stop cleanly on Ctrl-C.
"""

from __future__ import annotations

import base64
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from dash_requests import call, response, texts

from bioprocess_twin.core.resources import example_path

EXE = Path(sys.executable).parent / "bioprocess-twin"
START_TIMEOUT = 240
SECRET = "SECRET-MARK-4711"
SHIPPED = example_path("batch_records", "cho")

pytestmark = pytest.mark.skipif(not EXE.exists(), reason="console script not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``bioprocess-twin serve --no-demo`` on a free port with its run database (and work folder) in ``work``."""

    def __init__(self, work: Path, port: int | None = None):
        self.work = work
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = work.parent / f"serve-{self.port}.log"
        work.mkdir(parents=True, exist_ok=True)
        command = [str(EXE), "serve", "--no-demo", "--port", str(self.port), "--db", f"sqlite:///{work / 'runs.db'}"]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, cwd=work.parent)

    def output(self) -> str:
        return self.log.read_text()

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.output()}")
            try:  # the port listens before the app is built: a request can wait in its queue until then
                if requests.get(self.url + "/", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.2)  # polling interval
        raise AssertionError(f"serve did not answer within {START_TIMEOUT} s:\n{self.output()}")

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C, and the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A folder with the server's work folder and, beside it, files no request may reach."""
    root = tmp_path_factory.mktemp("serve")
    outside = root / "outside"
    shutil.copytree(SHIPPED, outside)
    lines = (outside / "online.csv").read_text().splitlines()
    header, cells = lines[0].split(","), lines[5].split(",")
    cells[header.index("DO_PV")] = SECRET  # a vulnerable server echoes this cell into its issues table
    lines[5] = ",".join(cells)
    (outside / "online.csv").write_text("\n".join(lines) + "\n")
    (outside / "evil.py").write_text(
        "from pathlib import Path\nPath(__file__).with_name('ran.txt').write_text('ran')\n"
    )
    spec = (outside / "calibration.yaml").read_text().replace("model: cho_fed_batch", "model_file: evil.py")
    (outside / "calibration.yaml").write_text(spec)
    victim = root / "victim" / "bpt-calibration-other-user"  # shaped like a session folder of the old page
    victim.mkdir(parents=True)
    (victim / "tagmap.yaml").write_text("files: []\n")
    return root


@pytest.fixture(scope="module")
def servers(root):
    """Two servers started side by side: the one the requests go to, and a spare to stop with SIGTERM."""
    started = {"main": Server(root / "work"), "spare": Server(root / "spare")}
    try:
        for one in started.values():
            one.wait_until_up()
        yield started
    finally:
        for one in started.values():
            one.kill()


@pytest.fixture(scope="module")
def server(servers):
    return servers["main"]


def snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root`` but outside ``skip``, with its size and modification time."""
    found = {}
    for path in root.rglob("*"):
        if path == skip or skip in path.parents or path.suffix == ".log":
            continue
        stat = path.stat()
        found[path.relative_to(root).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def sessions(server: Server) -> list[str]:
    return sorted(p.name for p in (server.work / "calibration-sessions").iterdir())


def data_url(path: Path) -> str:
    return "data:text/csv;base64," + base64.b64encode(path.read_bytes()).decode()


def test_serves_the_page_and_its_assets_with_uvicorn(server):
    assert re.search(rf"dashboard on http://127\.0\.0\.1:{server.port}/", server.output())
    page = requests.get(server.url + "/calibration", timeout=60)
    assert page.status_code == 200 and 'id="_dash-config"' in page.text
    served_by = page.headers.get("server", "")
    assert served_by == "uvicorn", page.headers
    assert not any("werkzeug" in v.lower() for v in page.headers.values()), page.headers
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    linked = re.findall(r'(?:src|href)="(/(?:assets|_dash-component-suites)/[^"]+)"', page.text)
    assert any(u.startswith("/assets/00-bootstrap.min.css") for u in linked), linked
    assert any("dash_renderer" in u for u in linked), linked
    for url in linked + ["/_dash-layout", "/_dash-dependencies", "/assets/dashboard.css"]:
        answer = requests.get(server.url + url, timeout=60)
        assert answer.status_code == 200 and answer.content, url
        assert answer.headers.get("server") == "uvicorn", url
    assert "WARNING: This is a development server" not in server.output()


def test_forged_callback_requests_are_refused(server, root):
    outside = root / "outside"
    before = snapshot(root, server.work)
    forged_sessions = [
        {"dir": str(root / "victim" / "bpt-calibration-other-user"), "tag_map": str(outside / "tagmap.yaml")},
        str(outside),
        "../../outside",
        "A" * 43,  # the shape of a session id, but never issued
    ]
    forged_specs = [str(outside / "calibration.yaml"), "../../outside/calibration.yaml", "cho/../../outside"]

    # the validation report: neither a spec path nor a forged session reads a file
    for spec in forged_specs:
        shown = response(call(server.url, "calibration-report.children", {"calibration-spec.value": spec}))
        report = texts(shown["calibration-report"]["children"])
        assert "spec" in report and "not one of the listed calibration specs" in report, report
        assert shown["calibration-issues"]["data"] == []
    for session in forged_sessions:
        values = {"calibration-spec.value": "cho", "calibration-session.data": session}
        answer = call(server.url, "calibration-report.children", values)
        report = texts(response(answer)["calibration-report"]["children"])
        assert "session" in report and "not a session of this server" in report, report
        assert SECRET not in answer.text and response(answer)["calibration-issues"]["data"] == []

    # picking a spec or uploading with a forged session deletes nothing and opens no session
    for session in forged_sessions:
        picked = response(
            call(
                server.url,
                "calibration-about.children",
                {"calibration-spec.value": "cho", "calibration-session.data": session},
            )
        )
        assert "not a session of this server" in texts(picked["calibration-upload-note"]["children"])
        uploaded = response(
            call(
                server.url,
                "calibration-upload.contents",
                {
                    "calibration-upload.contents": data_url(SHIPPED / "online.csv"),
                    "calibration-upload.filename": "online.csv",
                    "calibration-upload-target.value": "online.csv",
                    "calibration-spec.value": "cho",
                    "calibration-session.data": session,
                },
            )
        )
        assert uploaded["calibration-session"]["data"] is None
        assert "not a session of this server" in texts(uploaded["calibration-upload-note"]["children"])

    # a calibration run (a background callback, in a worker process) with a spec path or a spec that runs code
    for spec in (str(outside / "calibration.yaml"), "outside"):
        values = {
            "calibration-run.n_clicks": 1,
            "calibration-spec.value": spec,
            "calibration-parameters.value": ["q_p"],
        }
        ran = response(call(server.url, "calibration-result.data", values))
        assert ran["calibration-result"]["data"] is None
        assert "not one of the listed calibration specs" in texts(ran["calibration-alert"]["children"])
    values = {
        "calibration-run.n_clicks": 1,
        "calibration-spec.value": "cho",
        "calibration-session.data": forged_sessions[0],
        "calibration-parameters.value": ["q_p"],
    }
    ran = response(call(server.url, "calibration-result.data", values))
    assert "not a session of this server" in texts(ran["calibration-alert"]["children"])

    # a forged result is only drawn, and a malformed one is named
    shown = response(call(server.url, "calibration-status.children", {"calibration-result.data": {"status": "ok"}}))
    assert "result: malformed" in texts(shown["calibration-status"]["children"]).replace(" : ", ": ")

    assert not (outside / "ran.txt").exists(), "the spec's model_file was run"
    assert snapshot(root, server.work) == before, "a file outside the work folder was written or deleted"
    assert sessions(server) == []


def test_an_upload_stays_inside_its_session_folder(server, root):
    before = snapshot(root, server.work)
    values = {
        "calibration-upload.contents": data_url(SHIPPED / "online.csv"),
        "calibration-upload.filename": "../../../escaped name.csv",
        "calibration-upload-target.value": "online.csv",
        "calibration-spec.value": "cho",
    }
    shown = response(call(server.url, "calibration-upload.contents", values))
    session_id = shown["calibration-session"]["data"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", session_id), session_id  # a token, no path
    assert "escaped_name.csv" in texts(shown["calibration-upload-note"]["children"])
    folder = server.work / "calibration-sessions" / session_id
    assert sessions(server) == [session_id] and (folder / "escaped_name.csv").is_file()
    assert list(root.rglob("escaped*")) == [folder / "escaped_name.csv"]
    assert snapshot(root, server.work) == before

    report = response(
        call(
            server.url,
            "calibration-report.children",
            {"calibration-spec.value": "cho", "calibration-session.data": session_id},
        )
    )
    assert "B08" in texts(report["calibration-report"]["children"])  # the records were read from the session
    assert any(row["file"] == "escaped_name.csv" for row in report["calibration-issues"]["data"])
    # the same id for another spec is refused; "use the shipped files" closes the session
    other = response(
        call(
            server.url,
            "calibration-report.children",
            {"calibration-spec.value": "emulsion", "calibration-session.data": session_id},
        )
    )
    assert "belongs to spec 'cho'" in texts(other["calibration-report"]["children"])
    closed = response(
        call(
            server.url,
            "calibration-upload.contents",
            {
                "calibration-upload-clear.n_clicks": 1,
                "calibration-spec.value": "cho",
                "calibration-session.data": session_id,
            },
        )
    )
    assert closed["calibration-session"]["data"] is None and sessions(server) == []


def test_a_taken_port_is_a_named_error(server, root):
    second = Server(root / "second", port=server.port)
    try:
        assert second.process.wait(START_TIMEOUT) == 2
    finally:
        second.kill()
    assert "--host/--port" in second.output() and str(server.port) in second.output()


def test_ctrl_c_stops_the_server_cleanly(server):
    assert server.interrupt() == 0, server.output()
    out = server.output()
    assert "dashboard stopped" in out and "Traceback" not in out, out
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/", timeout=5)
    with sqlite3.connect(server.work / "runs.db") as db:  # --db was used, and --no-demo seeded nothing
        assert db.execute("select count(*) from run_records").fetchone() == (0,)


def test_sigterm_stops_the_server_cleanly(servers):
    spare = servers["spare"]
    spare.process.send_signal(signal.SIGTERM)
    assert spare.process.wait(60) == 0, spare.output()
    assert "dashboard stopped" in spare.output() and "Traceback" not in spare.output()
