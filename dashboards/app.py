"""The Dash dashboard: a multi-page app over the same SimulationSpec the CLI uses.

Start it with ``bioprocess-twin serve`` or ``python -m dashboards.app``. All CSS is served from
``dashboards/assets`` (Bootstrap 5 from its npm package); nothing is fetched from a CDN. Long
runs are background callbacks executed in worker processes through a disk cache.
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

from dashboards.components import runs

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


def _cache_dir(db_url: str) -> Path:
    """Background-job cache next to an SQLite database file, else in a fresh temporary directory."""
    try:
        url = make_url(db_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            path = Path(url.database).resolve().parent / "dash-cache"
            path.mkdir(parents=True, exist_ok=True)
            return path
    except Exception:  # noqa: BLE001 - any unparsable URL falls back to a temp dir
        pass
    return Path(tempfile.mkdtemp(prefix="bpt-dash-cache-"))


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


def create_app(db_url: str | None = None, demo: bool = True) -> dash.Dash:
    """Build the app on the run database at ``db_url`` (default: see RunStore); seed demo runs if asked."""
    store = runs.configure(db_url)
    if demo:
        try:
            store.seed_demo()
        except Exception as exc:  # noqa: BLE001 - a broken example must not stop the dashboard
            log.warning("demo data not loaded: %s", exc)
    manager = dash.DiskcacheManager(diskcache.Cache(str(_cache_dir(store.url))))
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
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the bioprocess-twin dashboard.")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL of the run database")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8050)
    parser.add_argument("--no-demo", action="store_true", help="do not seed the demo runs")
    args = parser.parse_args(argv)
    create_app(args.db, demo=not args.no_demo).run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":  # pragma: no cover
    main()
