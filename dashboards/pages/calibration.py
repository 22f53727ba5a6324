"""Calibration: pick or upload batch records, see their validation report, fit, and judge the fit.

The page builds a :class:`CalibrationSpec` from one of the listed specs (by default the shipped
``examples/batch_records/*/calibration.yaml``) and the user's choices, imports the records with
``load_batch_records`` and runs ``calibration.run.calibrate`` in a background worker, exactly as
``bioprocess-twin calibrate SPEC`` does, without the opt-ins for model code or outside paths: a spec
with ``model_file`` is refused. No path travels from the browser: it picks a spec by key and holds
at most an upload session's id; both are checked on the server (:mod:`dashboards.calibration_sessions`),
and an upload is written only into its session's folder. No science lives here.
"""

from __future__ import annotations

import dash
import pandas as pd
from dash import Input, Output, State, callback, ctx, html

from bioprocess_twin.calibration.choices import fit_choices, with_choices
from bioprocess_twin.calibration.dataset import load_batch_records
from bioprocess_twin.calibration.run import calibrate
from bioprocess_twin.calibration.spec import resolve_model
from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.paths import confined_path
from bioprocess_twin.core.spec import SpecError
from dashboards import calibration_sessions
from dashboards.components import calibration_figures as cf
from dashboards.components import figures, kpis
from dashboards.components.calibration_controls import ISSUE_COLUMNS, SHIPPED, page_layout, profile_options
from dashboards.components.common import error_alert, progress_reporter

dash.register_page(__name__, path="/calibration", name="Calibration", order=40, title="Calibration · bioprocess-twin")

BAD_INPUT = (SpecError, ParameterError)


# -- specs and sessions: everything the browser sends is checked here --------------------------------
def records_source(spec_key, session_id):
    """The listed spec, its folder, the folder the records are read from and the tag map there: the
    session's copy after an upload, else the spec's own. ParameterError on ``spec``, ``session`` or ``data``."""
    spec, base = calibration_sessions.specs().load(spec_key)
    if session_id is None:
        return spec, base, base, confined_path(spec.data, base, "data")
    session = calibration_sessions.sessions().get(session_id)
    if session.spec != spec_key:
        raise ParameterError([("session", f"the upload belongs to spec '{session.spec}', not '{spec_key}'")])
    return spec, base, session.folder, session.tag_map_path


def build_spec(spec_key, session_id, chosen, extra, held_out, exclude, with_profiles: bool):
    """The listed spec with the page's choices and the session's records; validated again like a spec
    file (SpecError names the field). Returns the spec and the folder its records are confined to."""
    spec, base, folder, tag_map = records_source(spec_key, session_id)
    label = f"{spec_key}/{calibration_sessions.specs().path(spec_key).name} with the page's choices"
    return with_choices(spec, base, chosen, extra, held_out, exclude, with_profiles, tag_map, label), folder


def choices(spec_key) -> dict:
    """Options and starting values of the controls, from the spec (and its model's parameters)."""
    if spec_key is None:
        return {"params": [], "checked": [], "extra": [], "files": [], "profiles": [], "about": "No specs listed."}
    c = fit_choices(*calibration_sessions.specs().load(spec_key))
    return {
        "params": [{"label": label, "value": name} for name, label in c.unknowns],
        "checked": [name for name, _ in c.unknowns],
        "extra": c.other_parameters,
        "files": c.files,
        "profiles": c.profiles,
        "about": c.about,
    }


def layout(**_):
    listed = calibration_sessions.specs()
    keys = listed.keys()
    selected = keys[0] if keys else None
    try:
        c = choices(selected)
    except BAD_INPUT as exc:
        c = choices(None) | {
            "about": error_alert("This calibration spec is not valid", exc.errors, "calibration-spec-error")
        }
    return page_layout(listed.options(), selected, c)


# -- callbacks: records ---------------------------------------------------------------------------
@callback(
    Output("calibration-about", "children"),
    Output("calibration-parameters", "options"),
    Output("calibration-parameters", "value"),
    Output("calibration-extra", "options"),
    Output("calibration-extra", "value"),
    Output("calibration-upload-target", "options"),
    Output("calibration-upload-target", "value"),
    Output("calibration-profiles", "options"),
    Output("calibration-session", "data", allow_duplicate=True),
    Output("calibration-upload-note", "children", allow_duplicate=True),
    Input("calibration-spec", "value"),
    State("calibration-session", "data"),
    prevent_initial_call=True,
)
def pick_spec(spec_key, session_id):
    """Another spec: its choices; the upload session of the previous one is closed."""
    note = SHIPPED
    if session_id is not None:
        try:
            calibration_sessions.sessions().remove(session_id)
        except ParameterError as exc:
            note = error_alert("The session is refused", exc.errors, "calibration-upload-error")
    try:
        c = choices(spec_key)
    except BAD_INPUT as exc:
        alert = error_alert("This calibration spec is not valid", exc.errors, "calibration-spec-error")
        return alert, [], [], [], [], [], None, [], None, note
    return (
        c["about"],
        c["params"],
        c["checked"],
        c["extra"],
        [],
        c["files"],
        c["files"][0] if c["files"] else None,
        profile_options(c["profiles"]),
        None,
        note,
    )


@callback(
    Output("calibration-session", "data"),
    Output("calibration-upload-note", "children"),
    Output("calibration-upload", "contents"),
    Input("calibration-upload", "contents"),
    Input("calibration-upload-clear", "n_clicks"),
    State("calibration-upload", "filename"),
    State("calibration-upload-target", "value"),
    State("calibration-spec", "value"),
    State("calibration-session", "data"),
    prevent_initial_call=True,
)
def upload_records(contents, _clear, filename, replaces, spec_key, session_id):
    """An upload opens a new session (closing the previous one); "use the shipped files" closes it."""
    try:
        if session_id is not None:
            calibration_sessions.sessions().remove(session_id)
        if ctx.triggered_id == "calibration-upload-clear" or not contents:
            return None, SHIPPED, None
        tag_map = calibration_sessions.specs().tag_map(spec_key)
        session = calibration_sessions.sessions().create(spec_key, tag_map, replaces, filename, contents)
    except BAD_INPUT as exc:
        return None, error_alert("The upload cannot be used", exc.errors, "calibration-upload-error"), None
    note = html.Span(
        [html.Code(session.upload), f" replaces {session.replaces} for this session."], id="calibration-upload-active"
    )
    return session.id, note, None


@callback(
    Output("calibration-report", "children"),
    Output("calibration-issues", "data"),
    Output("calibration-held-out", "options"),
    Output("calibration-held-out", "value"),
    Output("calibration-exclude", "options"),
    Output("calibration-exclude", "value"),
    Input("calibration-spec", "value"),
    Input("calibration-session", "data"),
    State("calibration-held-out", "value"),
    State("calibration-exclude", "value"),
)
def show_records(spec_key, session_id, held_out, exclude):
    """The import report of the chosen records; batch choices from the spec, kept across uploads."""
    if spec_key is None:
        return "No calibration spec is listed.", [], [], [], [], []
    try:
        spec, base, _, tag_map = records_source(spec_key, session_id)
        records = load_batch_records(tag_map, model=resolve_model(spec, base))
    except BAD_INPUT as exc:
        alert = error_alert("The tag map or spec has problems", exc.errors, "calibration-records-error")
        return alert, [], [], [], [], []
    except Exception as exc:  # noqa: BLE001 - report, never crash the page
        alert = error_alert(
            "The records could not be read", [(type(exc).__name__, str(exc))], "calibration-records-error"
        )
        return alert, [], [], [], [], []
    batches = list(records.batches)
    if ctx.triggered_id != "calibration-session":
        held_out, exclude = spec.held_out, spec.exclude
    report = records.report.to_dict()
    rows = [{c: i[c] for c in ISSUE_COLUMNS} for i in report["issues"]]
    return (
        cf.records_summary(report, batches),
        rows,
        batches,
        [b for b in _names(held_out) if b in batches],
        batches,
        [b for b in _names(exclude) if b in batches],
    )


def _names(values) -> list:
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


# -- callbacks: run -------------------------------------------------------------------------------
@callback(
    Output("calibration-result", "data"),
    Output("calibration-alert", "children"),
    Input("calibration-run", "n_clicks"),
    State("calibration-spec", "value"),
    State("calibration-session", "data"),
    State("calibration-parameters", "value"),
    State("calibration-extra", "value"),
    State("calibration-held-out", "value"),
    State("calibration-exclude", "value"),
    State("calibration-profiles", "value"),
    background=True,
    prevent_initial_call=True,
    running=[
        (Output("calibration-run", "disabled"), True, False),
        (Output("calibration-progress-wrap", "className"), "mt-2", "mt-2 invisible"),
    ],
    progress=[Output("calibration-progress", "value"), Output("calibration-progress", "label")],
)
def run_calibration(set_progress, _n, spec_key, session_id, chosen, extra, held_out, exclude, profiles):
    # calibrate reports a few times per fit (per start, error-model stage and profile): no throttling needed
    report = progress_reporter(set_progress, interval=0.0)

    report(0, "importing")
    try:
        spec, folder = build_spec(
            spec_key, session_id, _names(chosen), _names(extra), _names(held_out), _names(exclude), bool(profiles)
        )
        result = calibrate(spec, folder, progress=report)
    except BAD_INPUT as exc:
        return None, error_alert("The calibration cannot run", exc.errors, "calibration-error")
    except Exception as exc:  # noqa: BLE001 - report, never crash the worker silently
        return None, error_alert(
            "The calibration could not be completed", [(type(exc).__name__, str(exc))], "calibration-error"
        )
    doc = result.to_json(include_points=True)  # unbounded intervals stay visible as "inf"
    alert = (
        None
        if result.status == "ok"
        else error_alert("The estimation failed", [("estimation", doc["message"])], "calibration-failed")
    )
    return doc, alert


# -- callbacks: results ---------------------------------------------------------------------------
@callback(
    Output("calibration-status", "children"),
    Output("calibration-kpis", "children"),
    Output("calibration-estimates-wrap", "children"),
    Output("calibration-correlation", "figure"),
    Output("calibration-fit-batch", "options"),
    Output("calibration-fit-batch", "value"),
    Output("calibration-heldout-batch", "options"),
    Output("calibration-heldout-batch", "value"),
    Output("calibration-validation-wrap", "children"),
    Output("calibration-residuals", "figure"),
    Output("calibration-metrics-wrap", "children"),
    Output("calibration-identifiability", "children"),
    Output("calibration-warnings", "children"),
    Input("calibration-result", "data"),
)
def show_result(doc):
    empty = (
        kpis.kpi_cards(None),
        None,
        figures.empty("Correlation"),
        [],
        None,
        [],
        None,
        None,
        figures.empty("Standardised residuals"),
        None,
        None,
        None,
    )
    if not doc:
        return ("Not run yet.", *empty)
    try:
        fitted = doc["batches"]["fitted"]
        held = (doc.get("validation") or {}).get("batches") or []
        return (
            cf.status_line(doc),
            cf.summary_cards(doc),
            cf.estimates_table(doc),
            cf.correlation_figure(doc),
            fitted,
            fitted[0] if fitted else None,
            held,
            held[0] if held else None,
            cf.validation_tables(doc),
            cf.residual_figure(doc),
            cf.metrics_tables(doc),
            cf.identifiability_text(doc),
            cf.warning_list(doc),
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):  # not a result this server made
        return (
            error_alert("The result cannot be shown", [("result", "malformed")], "calibration-result-error"),
            *empty,
        )


@callback(
    Output("calibration-fit", "figure"), Input("calibration-fit-batch", "value"), State("calibration-result", "data")
)
def show_fit(batch, doc):
    if not doc or not batch:
        return figures.empty("Fitted against measured", "Run the calibration to see it.")
    try:
        points = pd.DataFrame(doc["points"])
        return cf.curves_figure(
            points[points["batch"] == batch],
            doc["units"],
            f"Fitted against measured: {batch}",
            [("measured", "measured", "markers", None), ("fitted", "fitted", "lines", None)],
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return figures.empty("Fitted against measured", "The result cannot be shown.")


@callback(
    Output("calibration-heldout", "figure"),
    Input("calibration-heldout-batch", "value"),
    State("calibration-result", "data"),
)
def show_heldout(batch, doc):
    if not doc or not batch:
        return figures.empty(
            "Held-out predictions", "No batch is held out." if doc else "Run the calibration to see it."
        )
    try:
        points = pd.DataFrame(doc["validation"]["points"])
        return cf.curves_figure(
            points[points["batch"] == batch],
            doc["units"],
            f"Held-out batch {batch}, not fitted",
            [
                ("value", "measured", "markers", None),
                ("pred", "model prediction", "lines", None),
                ("naive", "mean of training batches", "lines", "dot"),
            ],
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return figures.empty("Held-out predictions", "The result cannot be shown.")
