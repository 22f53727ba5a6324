"""What the calibration page keeps on the server: the listed specs and the upload sessions.

The browser never sends a path. It picks a spec by its key (the name of the spec's folder, e.g.
``cho``), and it holds at most one session id, an unguessable token from :func:`secrets.token_urlsafe`.
The server maps a key to a spec file of the list it made at start-up, and an id to a folder under its
own work folder; anything else is refused with a :class:`ParameterError` naming ``spec`` or
``session``, before any file is read, written or deleted.

A session folder holds a copy of the spec's tag map with the uploaded file in place of one of its
files (``calibration.uploads.replace_tag_map_file``) and a manifest written by the server. It is
removed when the user picks another spec, uploads again or goes back to the shipped files, and in
any case once it has been idle for ``max_age`` seconds or when more than ``max_sessions`` exist (the
least recently used go first). See docs/security.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bioprocess_twin.calibration.spec import CalibrationSpec, load_calibration_spec
from bioprocess_twin.calibration.uploads import replace_tag_map_file
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.paths import confined_path, inside
from bioprocess_twin.core.resources import example_path

#: a session id is secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
MANIFEST = "session.json"
#: largest uploaded file, in bytes (the request that carries it is larger by a third: base64)
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
#: a session idle for longer than this (seconds) is removed
MAX_AGE = 12 * 3600
#: at most this many sessions exist at once; the least recently used go first
MAX_SESSIONS = 100
UNKNOWN = "is not a session of this server (it expired, was closed, or was never issued); nothing was changed"


class CalibrationSpecs:
    """The calibration specs the page offers: ``<folder>/<key>/calibration.yaml``, listed once."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder).resolve()
        self._paths = {p.parent.name: p for p in sorted(self.folder.glob("*/calibration.yaml"))}

    def keys(self) -> list[str]:
        return list(self._paths)

    def options(self) -> list[dict]:
        return [{"label": f"{key}/calibration.yaml", "value": key} for key in self._paths]

    def path(self, key) -> Path:
        """The spec file of ``key``; ParameterError on ``spec`` for anything that is not a listed key."""
        if not isinstance(key, str) or key not in self._paths:
            listed = ", ".join(self._paths) or "none"
            raise ParameterError([("spec", f"{_short(key)} is not one of the listed calibration specs ({listed})")])
        return self._paths[key]

    def load(self, key) -> tuple[CalibrationSpec, Path]:
        """The spec and its folder (``load_calibration_spec``)."""
        return load_calibration_spec(self.path(key))

    def tag_map(self, key) -> Path:
        """The spec's own tag map, confined to the spec's folder (ParameterError on ``data``)."""
        spec, base = self.load(key)
        return confined_path(spec.data, base, "data")


@dataclass(frozen=True)
class Session:
    """An upload session: its ``id``, ``folder``, the ``spec`` key it belongs to, the name of the tag-map
    copy in the folder (``tag_map``), the stored name of the upload (``upload``) and the file it ``replaces``."""

    id: str
    folder: Path
    spec: str
    tag_map: str
    upload: str
    replaces: str

    @property
    def tag_map_path(self) -> Path:
        return confined_path(self.tag_map, self.folder, "session")


class SessionStore:
    """Upload sessions in folders ``<root>/<id>`` that only the server names."""

    def __init__(self, root: str | Path, max_age: float = MAX_AGE, max_sessions: int = MAX_SESSIONS):
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self.max_age = max_age
        self.max_sessions = max_sessions

    def create(self, spec: str, tag_map: Path, replaces, filename, contents) -> Session:
        """A new session whose tag-map copy has the upload (a ``data:`` URL from dcc.Upload) in place of the
        file ``replaces``. Raises ParameterError naming the upload, ``replaces`` or ``upload``."""
        data = decode_upload(filename, contents)
        self.sweep(keep=self.max_sessions - 1)
        session_id = secrets.token_urlsafe(32)
        folder = self.root / session_id
        folder.mkdir(mode=0o700)
        try:
            copy = replace_tag_map_file(tag_map, replaces, filename, data, folder)
            session = Session(session_id, folder, spec, copy.tag_map.name, copy.file, copy.replaces)
            manifest = {k: v for k, v in asdict(session).items() if k not in ("id", "folder")}
            (folder / MANIFEST).write_text(json.dumps(manifest))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return session

    def get(self, session_id) -> Session:
        """The session of ``session_id`` (and mark it used); ParameterError on ``session`` when it is unknown."""
        folder = self._folder(session_id)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            session = Session(session_id, folder, **manifest)
        except (OSError, ValueError, TypeError):
            raise ParameterError([("session", f"{_short(session_id)} {UNKNOWN}")]) from None
        os.utime(folder)
        return session

    def remove(self, session_id) -> None:
        """Delete the session's folder; ParameterError on ``session`` (and nothing deleted) when it is unknown."""
        folder = self._folder(session_id)
        shutil.rmtree(folder, ignore_errors=True)

    def ids(self) -> list[str]:
        """Ids of the sessions there are, least recently used first."""
        folders = [p for p in self.root.iterdir() if p.is_dir() and ID_PATTERN.fullmatch(p.name)]
        return [p.name for p in sorted(folders, key=_mtime)]

    def sweep(self, keep: int | None = None) -> int:
        """Remove the sessions idle for longer than ``max_age`` and the least recently used beyond ``keep``
        (default ``max_sessions``); returns how many were removed."""
        keep = self.max_sessions if keep is None else max(0, keep)
        ids = self.ids()
        now = time.time()
        stale = [i for i in ids if now - _mtime(self.root / i) > self.max_age]
        fresh = [i for i in ids if i not in stale]
        doomed = stale + fresh[: max(0, len(fresh) - keep)]
        for session_id in doomed:
            shutil.rmtree(self.root / session_id, ignore_errors=True)
        return len(doomed)

    def _folder(self, session_id) -> Path:
        if not isinstance(session_id, str) or not ID_PATTERN.fullmatch(session_id):
            raise ParameterError([("session", f"{_short(session_id)} {UNKNOWN}")])
        folder = self.root / session_id
        if not folder.is_dir() or folder.is_symlink() or not inside(folder, self.root):
            raise ParameterError([("session", f"{_short(session_id)} {UNKNOWN}")])
        return folder


def decode_upload(filename, contents, limit: int = MAX_UPLOAD_BYTES) -> bytes:
    """The bytes of a dcc.Upload ``data:`` URL, at most ``limit``; ParameterError naming the file otherwise."""
    name = str(filename or "upload")
    if not isinstance(contents, str) or "," not in contents:
        raise ParameterError([(name, "the upload could not be decoded")])
    encoded = contents.split(",", 1)[1]
    if len(encoded) > limit * 4 // 3 + 4:
        raise ParameterError([(name, f"the file is larger than {limit / 2**20:g} MiB")])
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ParameterError([(name, "the upload could not be decoded")]) from None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _short(value) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "..."


# -- the app's lists and store ---------------------------------------------------------------------
_CONFIG: dict = {"specs": None, "sessions": None}


def configure(work_dir: str | Path, specs_folder: str | Path | None = None, **limits) -> SessionStore:
    """Make ``<work_dir>/calibration-sessions`` the session store (stale sessions removed) and list the
    specs of ``specs_folder`` (default: the shipped ``examples/batch_records``)."""
    _CONFIG["specs"] = CalibrationSpecs(specs_folder if specs_folder is not None else example_path("batch_records"))
    store = SessionStore(Path(work_dir) / "calibration-sessions", **limits)
    store.sweep()
    _CONFIG["sessions"] = store
    return store


def specs() -> CalibrationSpecs:
    if _CONFIG["specs"] is None:
        _CONFIG["specs"] = CalibrationSpecs(example_path("batch_records"))
    return _CONFIG["specs"]


def sessions() -> SessionStore:
    if _CONFIG["sessions"] is None:
        raise RuntimeError("the calibration sessions are not configured: build the app with dashboards.app.create_app")
    return _CONFIG["sessions"]
