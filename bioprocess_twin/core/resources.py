"""Where shipped data and user data live: the one place that knows.

Shipped with the package (package data, read with :mod:`importlib.resources`, never written):

- ``bioprocess_twin/models``: versioned model definitions ``<model>/<version>.yaml``, any calibrated
  sets shipped with them, and production lines ``lines/<line>/<version>.yaml``;
- ``bioprocess_twin/examples``: example simulation and scale-up specs (``specs/``), plan specs
  (``plans/``) and the demo batch records with their calibration specs (``batch_records/``).

Written by the user (calibrated sets from ``bioprocess-twin calibrate``, own line definitions): the
user models folder, ``$BIOPROCESS_TWIN_MODELS`` when set, else ``$XDG_DATA_HOME/bioprocess-twin/models``
(``~/.local/share/bioprocess-twin/models``). Reading looks there first, then in the shipped models.
"""

from __future__ import annotations

import os
import shutil
from importlib.resources import files
from pathlib import Path

PACKAGE = "bioprocess_twin"
MODELS_ENV = "BIOPROCESS_TWIN_MODELS"


def _package_dir(name: str) -> Path:
    folder = files(PACKAGE) / name
    if not isinstance(folder, Path):  # e.g. imported from a zip file: the data cannot be listed as files
        raise RuntimeError(f"{PACKAGE}/{name} is not a folder on disk ({folder!r}); install the package unzipped")
    return folder


def shipped_models() -> Path:
    """The model definitions and line definitions shipped with the package (read-only)."""
    return _package_dir("models")


def examples_dir() -> Path:
    """The shipped examples: ``specs/``, ``plans/`` and ``batch_records/`` (read-only)."""
    return _package_dir("examples")


def user_models() -> Path:
    """Where user model data is written: ``$BIOPROCESS_TWIN_MODELS``, else the per-user data folder."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home).expanduser() / "bioprocess-twin" / "models"


def model_roots() -> list[Path]:
    """The models folders in reading order: the user's first, then the shipped ones."""
    return [user_models(), shipped_models()]


def find_model_file(*parts: str) -> Path | None:
    """The first existing ``<root>/<parts...>`` over :func:`model_roots`, or None."""
    for root in model_roots():
        path = root.joinpath(*parts)
        if path.is_file():
            return path
    return None


def example_path(*parts: str) -> Path:
    """A shipped example file or folder, e.g. ``example_path("specs", "cho_fed_batch.yaml")``."""
    path = examples_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"no shipped example '{'/'.join(parts)}' in {examples_dir()}")
    return path


def example_files() -> list[str]:
    """Every shipped example file, as a path relative to the examples folder (posix, sorted)."""
    root = examples_dir()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and _shipped(p))


def _shipped(path: Path) -> bool:
    return "__pycache__" not in path.parts and not path.name.startswith(".")


def copy_examples(destination: str | Path) -> list[Path]:
    """Copy the examples tree into ``destination`` (created if missing), keeping relative paths.

    Existing files are never overwritten: when any target exists, nothing is copied and
    FileExistsError names them.
    """
    destination = Path(destination).expanduser()
    if destination.exists() and not destination.is_dir():
        raise NotADirectoryError(f"{destination} exists and is not a folder")
    names = example_files()
    taken = [name for name in names if (destination / name).exists()]
    if taken:
        shown = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
        raise FileExistsError(
            f"{destination} already holds {shown}; choose an empty folder (existing files are never overwritten)"
        )
    source = examples_dir()
    copied = []
    for name in names:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(source / name, "rb") as src, open(target, "xb") as dst:  # "x": never overwrite
            shutil.copyfileobj(src, dst)
        copied.append(target)
    return copied
