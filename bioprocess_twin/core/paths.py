"""Paths named inside specs and tag maps: confined to the folder of the document that names them.

A spec, tag map or calibration spec may come from someone else. The files it names must lie inside
its own folder: no absolute path, no ``..``, and no symbolic link that leads out. A caller that
trusts the document (a person running their own files at the command line) may opt out with
``allow_outside=True``. See docs/security.md.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from .parameters import ParameterError

#: longest path text accepted in a document (longer names fail in the file system, not here)
MAX_PATH_CHARS = 1024


def escape_reason(value: str) -> str | None:
    """Why the path text ``value`` could leave its folder, or None when it stays inside (text only)."""
    text = str(value)
    if not text.strip():
        return "is empty"
    if len(text) > MAX_PATH_CHARS:
        return f"is longer than {MAX_PATH_CHARS} characters"
    if "\x00" in text:
        return "contains a NUL character"
    pure = PurePath(text.replace("\\", "/"))
    if pure.is_absolute() or text.startswith(("/", "\\", "~")) or (len(text) > 1 and text[1] == ":"):
        return "must be relative to the document's folder, not absolute"
    if ".." in pure.parts:
        return "must stay inside the document's folder (no '..')"
    return None


def confined_path(value: str | Path, base: str | Path, field: str, *, allow_outside: bool = False) -> Path:
    """``base / value`` resolved, refused (ParameterError on ``field``) if it leaves ``base``.

    ``allow_outside`` is the caller's opt-in for documents it trusts: any path is then accepted, a
    relative one still taken from ``base``.
    """
    try:
        base = Path(base).resolve()
        if allow_outside:
            return (base / Path(str(value)).expanduser()).resolve()
        reason = escape_reason(str(value))
        if reason:
            raise ParameterError([(field, f"'{_short(value)}' {reason}")])
        resolved = (base / str(value)).resolve()
    except (RuntimeError, OSError) as exc:  # a symbolic-link loop, a name too long for the file system
        raise ParameterError([(field, f"'{_short(value)}' cannot be resolved: {exc}")]) from None
    if not resolved.is_relative_to(base):
        raise ParameterError([(field, f"'{_short(value)}' leads outside the document's folder (a symbolic link)")])
    return resolved


def inside(path: str | Path, root: str | Path) -> bool:
    """True when ``path`` (resolved, symbolic links followed) lies in ``root``."""
    return Path(path).resolve().is_relative_to(Path(root).resolve())


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
