"""Figures and tables for a production line: the module diagram, stream table, unit trajectories.

The diagram is laid out in pixels (:func:`diagram_layout`): the figure has a fixed size and one axis unit is one
pixel, so every label's box is known before the browser draws it, and :func:`label_boxes` lets a test check that no
two labels overlap. Units sit in columns by flow order; a unit keeps the row of the unit feeding it where it can.
A unit's feeds are listed above its box, a stream's outlet name just right of the box it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bioprocess_twin.core.display import display_units

from .figures import LAYOUT, empty

STATUS_COLOURS = {"ok": "#198754", "failed": "#dc3545", None: "#0d6efd", "not run": "#adb5bd"}
FEED_COLOUR = "#6c757d"
#: pixels: column and row pitch, unit box size, line height of feed names, figure title band
COLUMN_PITCH, ROW_PITCH = 210, 120
BOX_WIDTH, BOX_HEIGHT = 132, 58
FEED_LINE = 13
TITLE_BAND = 40
#: font sizes (px): unit id (bold), unit kind and duration, stream and feed names
UNIT_FONT, DETAIL_FONT, NAME_FONT = 11, 10, 9
#: longest unit id and feed name shown whole (longer ones end in "…"; the hover text has them whole)
MAX_ID_CHARS, MAX_NAME_CHARS = 18, 24
#: average glyph width per px of font size, generous for the dashboard's sans-serif fonts (bold is wider)
GLYPH, BOLD_GLYPH = 0.62, 0.7


@dataclass(frozen=True)
class Label:
    """One text of the diagram: its lines, anchor point (px), anchors, font size and whether it is bold."""

    key: str
    lines: tuple[str, ...]
    x: float
    y: float
    xanchor: str = "center"
    yanchor: str = "middle"
    size: int = NAME_FONT
    bold_first: bool = False

    def box(self) -> tuple[float, float, float, float]:
        """Estimated ``(x0, y0, x1, y1)`` in px (y downwards) of the text."""
        widths = [
            len(line) * self.size * (BOLD_GLYPH if (i == 0 and self.bold_first) else GLYPH)
            for i, line in enumerate(self.lines)
        ]
        w, h = max(widths, default=0.0), 1.25 * self.size * len(self.lines)
        x0 = {"left": self.x, "center": self.x - w / 2, "right": self.x - w}[self.xanchor]
        y0 = {"top": self.y, "middle": self.y - h / 2, "bottom": self.y - h}[self.yanchor]
        return x0, y0, x0 + w, y0 + h


@dataclass
class DiagramLayout:
    """Where everything goes, in px: unit centres, the labels, the arrows and the figure size."""

    centres: dict[str, tuple[float, float]]
    labels: list[Label] = field(default_factory=list)
    arrows: list[tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unit_of(ref: str) -> str:
    return ref.split(".", 1)[0]


def grid(definition: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """(column, row) of each unit: the column is the longest chain of units feeding it; the row is that of the
    first unit feeding it when that place is free, else the first free row."""
    units = list(definition["units"])
    edges = [(_unit_of(c["from"]), _unit_of(c["to"])) for c in definition.get("connections", [])]
    column = {u: 0 for u in units}
    for _ in units:
        for a, b in edges:
            column[b] = max(column[b], column[a] + 1)
    place: dict[str, tuple[int, int]] = {}
    taken: set[tuple[int, int]] = set()
    for col in sorted(set(column.values())):
        for u in (u for u in units if column[u] == col):
            upstream = sorted(place[a][1] for a, b in edges if b == u and a in place)
            row = next((r for r in upstream if (col, r) not in taken), None)
            if row is None:
                row = next(r for r in range(len(units) + 1) if (col, r) not in taken)
            place[u] = (col, row)
            taken.add((col, row))
    return place


def _feeds_of(definition: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {u: [] for u in definition["units"]}
    for name, feed in definition.get("feeds", {}).items():
        out.setdefault(_unit_of(feed["to"]), []).append(name)
    return out


def diagram_layout(definition: dict[str, Any], result: dict[str, Any] | None = None) -> DiagramLayout:
    """The diagram in px: unit boxes on a grid, each with its id, kind and (after a run) duration; feed names
    stacked above the box they enter; each stream's outlet name at the start of its arrow (above it, or under it
    when the arrow rises)."""
    place = grid(definition)
    feeds = _feeds_of(definition)
    rows = max((r for _, r in place.values()), default=0) + 1
    cols = max((c for c, _ in place.values()), default=0) + 1
    top = max((len(feeds[u]) for u, (_, r) in place.items() if r == 0), default=0) * FEED_LINE + 10
    centres = {
        u: (COLUMN_PITCH / 2 + c * COLUMN_PITCH, top + BOX_HEIGHT / 2 + 8 + r * ROW_PITCH)
        for u, (c, r) in place.items()
    }
    out = DiagramLayout(centres, width=cols * COLUMN_PITCH, height=top + rows * ROW_PITCH)
    done = (result or {}).get("units", {})
    for uid, spec in definition["units"].items():
        x, y = centres[uid]
        lines = [_short(uid, MAX_ID_CHARS), _short(spec["kind"], MAX_ID_CHARS)]
        if uid in done:
            lines.append(f"{done[uid]['duration_h']:.1f} h")
        out.labels.append(Label(f"unit:{uid}", tuple(lines), x, y, size=UNIT_FONT, bold_first=True))
        for k, name in enumerate(reversed(feeds[uid])):
            line = "⇣ " + _short(name, MAX_NAME_CHARS)
            out.labels.append(
                Label(f"feed:{name}", (line,), x, y - BOX_HEIGHT / 2 - 3 - k * FEED_LINE, yanchor="bottom")
            )
    leaving: dict[str, int] = {}
    for c in definition.get("connections", []):
        a, b = _unit_of(c["from"]), _unit_of(c["to"])
        (x0, y0), (x1, y1) = centres[a], centres[b]
        start, end = (x0 + BOX_WIDTH / 2, y0), (x1 - BOX_WIDTH / 2, y1)
        out.arrows.append((start, end))
        k = leaving[a] = leaving.get(a, -1) + 1
        outlet = _short(c["from"].split(".", 1)[1], MAX_NAME_CHARS)
        if y1 < y0:  # the arrow rises: its name goes under it
            label = Label(f"stream:{c['from']}", (outlet,), start[0] + 4, y0 + 3 + k * FEED_LINE, "left", "top")
        else:
            label = Label(f"stream:{c['from']}", (outlet,), start[0] + 4, y0 - 3 - k * FEED_LINE, "left", "bottom")
        out.labels.append(label)
    return out


def label_boxes(layout: DiagramLayout) -> dict[str, tuple[float, float, float, float]]:
    return {label.key: label.box() for label in layout.labels}


def diagram_figure(definition: dict[str, Any] | None, result: dict[str, Any] | None = None) -> go.Figure:
    """Units as boxes in flow order, feeds named above the unit they enter, streams as arrows named by their
    outlet; after a run each unit is outlined in its status colour and labelled with its duration. The figure
    has a fixed size in px (:func:`diagram_layout`)."""
    if not definition:
        return empty("Line diagram", "Pick a line.")
    lay = diagram_layout(definition, result)
    fig = go.Figure(
        layout=LAYOUT
        | {
            "title": {"text": f"{definition['name']} {definition['version']}", "y": 0.98, "yanchor": "top"},
            "showlegend": False,
            "autosize": False,
            "width": lay.width,
            "height": lay.height + TITLE_BAND,
            "margin": dict(l=0, r=0, t=TITLE_BAND, b=0, pad=0),
            "hovermode": "closest",
        }
    )
    for (x0, y0), (x1, y1) in lay.arrows:
        fig.add_annotation(
            x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", text="", showarrow=True,
            arrowhead=2, arrowwidth=1.4, arrowcolor="#495057",
        )  # fmt: skip
    units_done = (result or {}).get("units", {})
    not_run = set((result or {}).get("not_run", []))
    hover_x, hover_y, hover_text = [], [], []
    for uid, spec in definition["units"].items():
        x, y = lay.centres[uid]
        status = "not run" if uid in not_run else units_done.get(uid, {}).get("status")
        fig.add_shape(
            type="rect",
            x0=x - BOX_WIDTH / 2,
            x1=x + BOX_WIDTH / 2,
            y0=y - BOX_HEIGHT / 2,
            y1=y + BOX_HEIGHT / 2,
            line=dict(color=STATUS_COLOURS.get(status, "#0d6efd"), width=2),
            fillcolor="rgba(13,110,253,0.06)",
        )
        hover_x.append(x)
        hover_y.append(y)
        hover_text.append(f"{uid}: {spec['kind']} ({status or 'not yet run'})")
    for label in lay.labels:
        kind = label.key.split(":", 1)[0]
        text = "<br>".join(
            f"<b>{line}</b>" if i == 0 and label.bold_first else line for i, line in enumerate(label.lines)
        )
        fig.add_annotation(
            x=label.x, y=label.y, xref="x", yref="y", text=text, showarrow=False, xanchor=label.xanchor,
            yanchor=label.yanchor, align="center" if label.xanchor == "center" else "left",
            font=dict(size=label.size, color="#212529" if kind == "unit" else FEED_COLOUR), name=label.key,
        )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=hover_x,
            y=hover_y,
            mode="markers",
            marker=dict(size=40, opacity=0),
            hovertext=hover_text,
            hoverinfo="text",
            name="units",
            customdata=list(definition["units"]),
        )
    )
    fig.update_xaxes(visible=False, range=[0, lay.width], fixedrange=True)
    fig.update_yaxes(visible=False, range=[lay.height, 0], fixedrange=True)
    return fig


def unit_series_figure(result: dict[str, Any] | None, unit: str | None) -> go.Figure:
    """Every numeric series of one unit against time, one subplot row per quantity with units."""
    series = ((result or {}).get("units", {}).get(unit) or {}).get("series") if unit else None
    if not series:
        return empty("Unit trajectories", "Run the line, then pick a unit.")
    cols = [c for c, v in series["columns"].items() if v and all(isinstance(x, (int, float)) or x is None for x in v)]
    cols = cols[:8]
    fig = make_subplots(rows=len(cols), cols=1, shared_xaxes=True, vertical_spacing=0.03)
    for i, c in enumerate(cols, start=1):
        units = display_units(series.get("units", {}).get(c, ""))
        fig.add_trace(go.Scatter(x=series["time_h"], y=series["columns"][c], mode="lines", name=c), row=i, col=1)
        fig.update_yaxes(title_text=f"{c}<br>({units})" if units else c, title_font=dict(size=10), row=i, col=1)
    fig.update_xaxes(title_text="time (h)", row=len(cols), col=1)
    fig.update_layout(
        LAYOUT | {"title": f"{unit}: trajectories", "showlegend": False, "height": max(320, 150 * len(cols))}
    )
    return fig
