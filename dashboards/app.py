"""The Dash dashboard: a multi-page app over the same SimulationSpec the CLI uses.

Start it with ``bioprocess-twin serve`` or ``python -m dashboards.app``: both serve it with uvicorn
(:mod:`dashboards.server`), not Flask's development server. All CSS is served from
``dashboards/assets`` (Bootstrap 5 from its npm package); nothing is fetched from a CDN. Long
runs are background callbacks executed in worker processes through a disk cache. The app's own
work folder holds that cache and the calibration page's upload sessions (see docs/security.md).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import diskcache
from dash import html
from sqlalchemy.engine import make_url

from dashboards import calibration_sessions
from dashboards.components import runs
from dashboards.server import ServeError, serve

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


#: largest request body the server reads (an upload of MAX_UPLOAD_BYTES is a third larger in base64)
MAX_REQUEST_BYTES = 64 * 1024 * 1024
#: headers on every response: no MIME sniffing, no framing by other sites, no referrer to other sites
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}


def work_folder(db_url: str) -> Path:
    """The app's own folder: the folder of an SQLite database file, else a fresh temporary folder."""
    try:
        url = make_url(db_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            path = Path(url.database).resolve().parent
            path.mkdir(parents=True, exist_ok=True)
            return path
    except Exception:  # noqa: BLE001 - any unparsable URL falls back to a temp dir
        pass
    return Path(tempfile.mkdtemp(prefix="bpt-dashboard-"))


def _navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(p["name"], href=p["relative_path"], active="exact"))
        for p in dash.page_registry.values()
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("bioprocess-twin", href="/", className="fw-bold"),
                dbc.Nav(links, navbar=True, className="me-auto"),
                html.Span("vaccine process digital twin", className="navbar-text small text-white-50"),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        className="mb-3 py-2",
    )


def create_app(
    db_url: str | None = None,
    demo: bool = True,
    work_dir: str | Path | None = None,
    calibration_specs: str | Path | None = None,
) -> dash.Dash:
    """Build the app on the run database at ``db_url`` (default: see RunStore); seed demo runs if asked.

    ``work_dir`` holds the background-job cache and the calibration upload sessions (default: the
    folder of an SQLite database file, else a fresh temporary folder). ``calibration_specs`` is the
    folder whose ``*/calibration.yaml`` the calibration page lists (default: the shipped examples).
    """
    store = runs.configure(db_url)
    if demo:
        try:
            store.seed_demo()
        except Exception as exc:  # noqa: BLE001 - a broken example must not stop the dashboard
            log.warning("demo data not loaded: %s", exc)
    work = Path(work_dir) if work_dir is not None else work_folder(store.url)
    calibration_sessions.configure(work, calibration_specs)
    cache = work / "dash-cache"
    cache.mkdir(parents=True, exist_ok=True)
    manager = dash.DiskcacheManager(diskcache.Cache(str(cache)))
    app = dash.Dash(
        "dashboards",
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        external_stylesheets=[],
        external_scripts=[],
        serve_locally=True,
        background_callback_manager=manager,
        suppress_callback_exceptions=True,
        title="bioprocess-twin",
    )
    navbar = _navbar()
    app.layout = html.Div([navbar, dbc.Container(dash.page_container, fluid=True, className="pb-4")])
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.server.after_request(_security_headers)
    return app


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the bioprocess-twin dashboard.")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL of the run database")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8050)
    parser.add_argument("--no-demo", action="store_true", help="do not seed the demo runs")
    args = parser.parse_args(argv)
    app = create_app(args.db, demo=not args.no_demo)
    try:
        serve(app, args.host, args.port, announce=lambda url: print(f"dashboard on {url}", flush=True))
    except ServeError as exc:
        parser.exit(1, f"error: {exc}\n")


if __name__ == "__main__":  # pragma: no cover
    main()
