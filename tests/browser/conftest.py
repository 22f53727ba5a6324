"""Browser-test set-up: headless Chromium without extra pytest flags, and root-safe Chrome options.

``.ci/bootstrap test`` runs plain ``python -m pytest``; the dash testing plugin only goes headless
with ``--headless``, so it is switched on here. Chrome runs as root in CI, hence ``--no-sandbox``.
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROME_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--window-size=1400,1000",
    "--disable-extensions",
    "--disable-default-apps",
]


def pytest_configure(config):
    # headless unless the developer asked to watch (BPT_BROWSER_HEADED=1)
    if not os.environ.get("BPT_BROWSER_HEADED") and hasattr(config.option, "headless"):
        config.option.headless = True
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium and "DASH_TEST_CHROMEPATH" not in os.environ:
        os.environ["DASH_TEST_CHROMEPATH"] = chromium


def pytest_setup_options():
    """Hook of the dash testing plugin: Chrome options for every dash_duo browser."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    return options


def pytest_collection_modifyitems(config, items):
    """Skip (with the reason) when no Chromium/chromedriver is installed, instead of erroring."""
    missing = [b for b in ("chromedriver",) if shutil.which(b) is None]
    if not (shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")):
        missing.append("chromium")
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"browser tests need {', '.join(missing)} on PATH")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
