"""The run database as the dashboard sees it: one configured URL, a store per process, a table.

Background callbacks run in forked worker processes; a SQLAlchemy engine must not cross a fork,
so each process opens its own :class:`RunStore` on the configured URL.
"""

from __future__ import annotations

import os
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from bioprocess_twin import catalogue
from bioprocess_twin.core.display import describe_kpi, format_value, headline_kpis
from bioprocess_twin.core.kpi_units import declared_units
from bioprocess_twin.records.store import RunStore

from .common import timestamp

_CONFIG: dict[str, Any] = {"url": None}
_STORES: dict[int, RunStore] = {}


def configure(db_url: str | None) -> RunStore:
    """Open (creating if needed) the run database and make it the dashboard's store."""
    store = RunStore(db_url)
    _CONFIG["url"] = store.url
    _STORES.clear()
    _STORES[os.getpid()] = store
    return store


def store() -> RunStore:
    pid = os.getpid()
    if pid not in _STORES:
        _STORES[pid] = RunStore(_CONFIG["url"])
    return _STORES[pid]


def _kpi_columns(rows: list[dict[str, Any]], n: int = 3) -> list[str]:
    return headline_kpis((k for r in rows for k in (r.get("kpis") or {})), n)


def recent_runs_table(limit: int = 10, model: str | None = None) -> html.Div | dbc.Table:
    """The latest saved runs, newest first (optionally only one model's)."""
    try:
        rows = store().list_runs(limit=limit if model is None else 5 * limit)
    except Exception as exc:  # the page must still load when the database is unreachable
        return dbc.Alert(f"Run database unavailable: {exc}", color="warning", className="small mb-0")
    if model is not None:
        rows = [r for r in rows if r["model"] == model][:limit]
    if not rows:
        return html.Div("No saved runs yet.", className="text-secondary small", id="recent-runs-empty")
    kcols = _kpi_columns(rows)
    declared: dict[str, str] = {}
    for model in {r["model"] for r in rows}:
        try:
            declared |= catalogue.kpi_units(model)
        except KeyError:  # a run of a model this installation no longer has: units from the key's words
            pass
    kviews = [describe_kpi(k, None, declared_units(k, declared)) for k in kcols]
    klabels = [f"{v.label} ({v.display_units})" if v.display_units else v.label for v in kviews]
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in ["#", "created (UTC)", "author", "model", "version", "status"] + klabels + ["results SHA-256"]
            ]
        )
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(r["id"]),
                    html.Td(timestamp(r["created_at"])),
                    html.Td(r.get("author", "")),
                    html.Td(r["model"]),
                    html.Td(r["model_version"]),
                    html.Td(
                        html.Span(
                            r["status"], className="badge " + ("bg-success" if r["status"] == "ok" else "bg-danger")
                        )
                    ),
                    *[html.Td(format_value((r.get("kpis") or {}).get(k))) for k in kcols],
                    html.Td(html.Code(r["results_sha256"][:12], title=r["results_sha256"])),
                ]
            )
            for r in rows
        ]
    )
    return dbc.Table(
        [head, body],
        id="recent-runs-table",
        size="sm",
        striped=True,
        hover=True,
        responsive=True,
        className="mb-0 small",
    )
