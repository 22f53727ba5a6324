"""Every test gets its own empty user models folder, so no test reads or writes the developer's
``~/.local/share/bioprocess-twin/models`` (tests that need sets write them, or set the variable again)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def user_models_folder(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("user-models")
    monkeypatch.setenv("BIOPROCESS_TWIN_MODELS", str(folder))
    return folder
