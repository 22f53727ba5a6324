"""The calibration page's server-side state: listed specs by key, upload sessions by unguessable id.

Real folders and the shipped CHO demo; every forged key or id is a ParameterError naming ``spec`` or
``session``, and nothing outside the store's root is touched.
"""

from __future__ import annotations

import base64
import os
import time

import pytest

from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.resources import example_path
from dashboards.calibration_sessions import CalibrationSpecs, SessionStore, decode_upload

CHO = example_path("batch_records", "cho")
CSV = "data:text/csv;base64," + base64.b64encode((CHO / "online.csv").read_bytes()).decode()


def fields(exc: pytest.ExceptionInfo) -> list[str]:
    return [f for f, _ in exc.value.errors]


@pytest.fixture
def store(tmp_path):
    return SessionStore(tmp_path / "work" / "calibration-sessions", max_age=3600, max_sessions=3)


def test_only_listed_keys_name_a_spec():
    specs = CalibrationSpecs(example_path("batch_records"))
    assert specs.keys() == ["cho", "emulsion"]
    assert specs.path("cho") == CHO / "calibration.yaml"
    for forged in ("../cho", str(CHO / "calibration.yaml"), "cho/calibration.yaml", None, ["cho"], {"dir": "/"}):
        with pytest.raises(ParameterError) as exc:
            specs.path(forged)
        assert fields(exc) == ["spec"]


def test_a_session_is_a_token_and_a_folder_inside_the_root(store, tmp_path):
    session = store.create("cho", CHO / "tagmap.yaml", "online.csv", "../../../up load.csv", CSV)
    assert len(session.id) == 43 and session.folder == store.root / session.id
    assert session.upload == "up_load.csv" and (session.folder / "up_load.csv").is_file()
    assert session.tag_map_path == session.folder / "tagmap.yaml"
    assert store.get(session.id) == session
    assert oct(store.root.stat().st_mode & 0o777) == "0o700"
    assert not list(tmp_path.glob("up*load.csv")) and not list((tmp_path / "work").glob("up*load.csv"))
    store.remove(session.id)
    assert not session.folder.exists() and store.ids() == []


def test_forged_ids_are_refused_and_delete_nothing(store, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (store.root / ("B" * 43)).symlink_to(victim, target_is_directory=True)
    forged = [str(victim), "../victim", "A" * 43, "B" * 43, {"dir": str(victim)}, 42, "A" * 42 + "/"]
    for session_id in forged:
        for action in (store.get, store.remove):
            with pytest.raises(ParameterError) as exc:
                action(session_id)
            assert fields(exc) == ["session"]
    assert victim.is_dir()


def test_a_bad_upload_leaves_no_session(store):
    for filename, contents, field in (
        ("notes.txt", CSV, "notes.txt"),  # a type the importer does not read
        ("online.csv", "data:text/csv;base64,@@@", "online.csv"),  # not base64
        ("online.csv", None, "online.csv"),
    ):
        with pytest.raises(ParameterError) as exc:
            store.create("cho", CHO / "tagmap.yaml", "online.csv", filename, contents)
        assert fields(exc) == [field]
    with pytest.raises(ParameterError) as exc:
        store.create("cho", CHO / "tagmap.yaml", "../tagmap.yaml", "online.csv", CSV)
    assert fields(exc) == ["replaces"]
    assert store.ids() == [] and list(store.root.iterdir()) == []


def test_idle_and_surplus_sessions_are_swept(store):
    made = [store.create("cho", CHO / "tagmap.yaml", "online.csv", "online.csv", CSV).id for _ in range(3)]
    now = time.time()
    for age, session_id in zip((7200, 60, 30), made, strict=True):
        os.utime(store.root / session_id, (now - age, now - age))
    assert store.sweep() == 1 and store.ids() == made[1:]  # idle for two hours, max_age one hour
    newest = store.create("cho", CHO / "tagmap.yaml", "online.csv", "online.csv", CSV).id
    extra = store.create("cho", CHO / "tagmap.yaml", "online.csv", "online.csv", CSV).id
    assert store.ids() == [made[2], newest, extra]  # at most three: the least recently used went first
    store.get(made[2])  # using a session keeps it
    assert store.ids()[-1] == made[2]


def test_decode_upload_limits_the_size():
    with pytest.raises(ParameterError, match="big.csv.*larger than"):
        decode_upload("big.csv", "data:text/csv;base64," + base64.b64encode(b"x" * 2000).decode(), limit=1000)
    assert decode_upload("small.csv", "data:text/csv;base64," + base64.b64encode(b"x" * 10).decode(), 1000) == b"x" * 10
