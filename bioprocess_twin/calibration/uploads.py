"""Use an uploaded batch-record file in place of one file of a tag map, without touching the original.

:func:`replace_tag_map_file` writes, into a folder the caller gives (a fresh temporary folder, say), a
copy of the tag map and of each of its files, with the upload in place of the file it replaces. The
copy is validated as a tag map before it is returned, so what the importer reads next is a valid
:class:`~.tagmap.TagMap`. The upload's name keeps only safe characters and never leaves the folder.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..core.parameters import ParameterError
from ..core.paths import confined_path
from ..core.spec import read_spec_file
from .tagmap import FILE_SUFFIXES, TagMap, load_tag_map

EXCEL_SUFFIXES = (".xlsx", ".xlsm")


def _file_entries(raw) -> list[dict]:
    """The file entries (mappings) of a tag map document, as written (unvalidated)."""
    entries = raw.get("files") if isinstance(raw, dict) else None
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def tag_map_files(tag_map: str | Path) -> list[str]:
    """The ``path`` of every file entry of the tag map file, as written in it (unvalidated)."""
    return [str(e["path"]) for e in _file_entries(read_spec_file(tag_map)) if "path" in e]


def safe_file_name(filename: str | None, default: str = "upload") -> str:
    """The last part of ``filename`` with every character other than letters, digits, ``._-`` made ``_``."""
    name = Path(str(filename or default).replace("\\", "/")).name or default
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


@dataclass(frozen=True)
class ReplacedTagMap:
    """The copy: its ``tag_map`` file, the ``folder`` it sits in, the stored name of the upload (``file``),
    the tag-map file it ``replaces``, and the validated copy (``parsed``)."""

    tag_map: Path
    folder: Path
    file: str
    replaces: str
    parsed: TagMap


def replace_tag_map_file(
    tag_map: str | Path,
    replaces: str,
    filename: str | None,
    data: bytes,
    folder: str | Path,
    *,
    allow_outside: bool = False,
) -> ReplacedTagMap:
    """Copy the tag map at ``tag_map`` and its files into ``folder``, with ``data`` (a file called
    ``filename``) in place of its file ``replaces``.

    The upload keeps its (made safe) name so import reports name it; a clash with another file of the
    tag map gets the prefix ``upload_``. An Excel ``sheet`` is dropped when a non-Excel file replaces an
    Excel one. The files copied must lie inside the tag map's folder (``core.paths.confined_path``)
    unless the caller trusts the tag map (``allow_outside=True``). Raises ParameterError on
    ``replaces`` (not a file of the tag map), on the file name (a type the importer does not read)
    or on ``files.<i>.path`` (a path that leaves the folder), and SpecError when the copy is not a
    valid tag map. Nothing is written before the paths are checked.
    """
    original, folder = Path(tag_map), Path(folder)
    raw = read_spec_file(original)
    entries = _file_entries(raw)
    missing = [(f"files.{i}.path", "every file entry needs a path") for i, e in enumerate(entries) if "path" not in e]
    if missing:
        raise ParameterError(missing, f"tag map {original.name}")
    paths = [e["path"] for e in entries]
    if replaces not in paths:
        raise ParameterError([("replaces", f"pick one of the tag map's files: {', '.join(map(str, paths))}")])
    name = safe_file_name(filename)
    if Path(name).suffix.lower() not in FILE_SUFFIXES:
        raise ParameterError([(filename or "upload", "upload a CSV, Excel (.xlsx) or Parquet file")])
    if name in {Path(str(p)).name for p in paths if p != replaces}:
        name = f"upload_{name}"
    sources, errors = {}, []
    for k, entry in enumerate(entries):
        if entry["path"] != replaces:
            try:
                sources[k] = confined_path(
                    str(entry["path"]), original.parent, f"files.{k}.path", allow_outside=allow_outside
                )
            except ParameterError as exc:
                errors += exc.errors
            except (OSError, RuntimeError, ValueError) as exc:  # a symbolic-link loop, a name the system refuses
                errors.append((f"files.{k}.path", f"cannot be resolved: {exc}"))
    if errors:
        raise ParameterError(errors, f"tag map {original.name}")
    folder.mkdir(parents=True, exist_ok=True)
    used = {name}
    for k, entry in enumerate(entries):
        if entry["path"] == replaces:
            entry["path"] = name
            (folder / name).write_bytes(data)
            if Path(name).suffix.lower() not in EXCEL_SUFFIXES:
                entry.pop("sheet", None)
        else:
            copied = Path(str(entry["path"])).name
            if copied in used:  # two files of the same name in different folders: keep both
                copied = f"{k}_{copied}"
            used.add(copied)
            entry["path"] = copied
            if _is_file(sources[k]):
                shutil.copyfile(sources[k], folder / copied)
    copy = folder / original.name
    copy.write_text(yaml.safe_dump(raw, sort_keys=False))
    return ReplacedTagMap(copy, folder, name, replaces, load_tag_map(copy))


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system
        return False
