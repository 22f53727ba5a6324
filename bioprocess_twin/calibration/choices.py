"""What a person may change in a calibration spec before running it, and the spec with those changes.

The dashboard's calibration page offers the spec's unknowns (ticked), the model's other parameters,
the batches to hold out or exclude and the profiles; :func:`fit_choices` lists them and
:func:`with_choices` turns the picks back into a :class:`~.spec.CalibrationSpec`, validated again like a
spec file so a bad pick raises SpecError naming the field (``parameters``: nothing to estimate).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..core.parameters import ParameterError
from ..core.spec import SpecError
from .settings import FitParameter
from .spec import CalibrationSpec, parse_calibration_spec, resolve_model, spec_paths
from .uploads import tag_map_files


def initial_state_unknown(state: str) -> str:
    """The name of a fitted initial state among the unknowns: ``"viable_cells(0)"`` (as in the labels)."""
    return f"{state}(0)"


def unknown_of_label(label: str) -> str:
    """The unknown a label belongs to: ``"K_s[B02]"`` -> ``"K_s"``, ``"X(0)[B02]"`` -> ``"X(0)"``."""
    return label.split("[")[0]


@dataclass(frozen=True)
class FitChoices:
    """``unknowns``: (name, label) of the spec's parameters and initial states; ``other_parameters``: the
    model's parameters neither fitted nor fixed; ``files``: the tag map's files; ``profiles``: the spec's
    profiles; ``about``: one line naming the spec, model and tag map."""

    unknowns: list[tuple[str, str]]
    other_parameters: list[str]
    files: list[str]
    profiles: list[str]
    about: str


def fit_choices(
    spec: CalibrationSpec, base: Path, *, allow_model_code: bool = False, allow_outside_paths: bool = False
) -> FitChoices:
    """The choices the spec offers (its model is resolved, so ParameterError names a bad ``model``; its paths
    are confined to ``base`` and a ``model_file`` is refused unless the caller opts in, as in ``calibrate``)."""
    opt_ins = {"allow_model_code": allow_model_code, "allow_outside_paths": allow_outside_paths}
    paths = spec_paths(spec, base, **opt_ins)
    model = resolve_model(spec, base, **opt_ins)
    unknowns = [(p.name, f"{p.name} ({'one per batch' if p.scope == 'batch' else 'shared'})") for p in spec.parameters]
    unknowns += [(initial_state_unknown(s.state), f"{s.state} at t = 0 (one per batch)") for s in spec.initial_states]
    taken = {p.name for p in spec.parameters} | set(spec.fixed)
    return FitChoices(
        unknowns,
        [n for n in model.parameters.names if n not in taken],
        tag_map_files(paths.data),
        list(spec.profiles),
        f"{spec.name} · model {model.name} {model.version} · tag map {spec.data}",
    )


def with_choices(
    spec: CalibrationSpec,
    base: Path,
    unknowns: Iterable[str],
    other_parameters: Iterable[str] = (),
    held_out: Iterable[str] = (),
    exclude: Iterable[str] = (),
    profiles: bool = False,
    data: str | Path | None = None,
    source: str = "calibration spec",
    *,
    allow_outside_paths: bool = False,
) -> CalibrationSpec:
    """``spec`` estimating only the ticked ``unknowns`` (names from :func:`fit_choices`) plus ``other_parameters``
    (shared, declared bounds), with these held-out and excluded batches, its profiles of unknowns still
    fitted when ``profiles``, the tag map ``data`` (default: the spec's) and nothing saved.

    The spec's own paths are checked against ``base`` (confined unless ``allow_outside_paths``) and become
    absolute; ``data``, a path chosen by the calling program, is taken as given. ``calibrate`` confines the
    result's paths again, to the ``base`` it is given: pass the folder that holds ``data``.
    Raises SpecError naming the field.
    """
    try:  # only the model file's path is resolved here: running it still needs calibrate's opt-in
        own = spec_paths(spec, base, allow_model_code=True, allow_outside_paths=allow_outside_paths)
    except ParameterError as exc:
        raise SpecError(source, exc.errors) from None
    chosen, extra = set(unknowns or []), list(other_parameters or [])
    fitted = chosen | set(extra)
    update = {
        "parameters": [p for p in spec.parameters if p.name in chosen] + [FitParameter(name=n) for n in extra],
        "initial_states": [s for s in spec.initial_states if initial_state_unknown(s.state) in chosen],
        "held_out": list(held_out or []),
        "exclude": list(exclude or []),
        "profiles": [p for p in spec.profiles if unknown_of_label(p) in fitted] if profiles else [],
        "data": str(data if data is not None else own.data),
        "save": None,
    }
    if own.model_file is not None:
        update["model_file"] = str(own.model_file)
    return parse_calibration_spec(spec.model_copy(update=update).model_dump(mode="json"), source)
