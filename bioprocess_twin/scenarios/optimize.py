"""The optimisation spec of a catalogue process model and its one entry point (``bioprocess-twin optimize``).

```yaml
model: microbial_fed_batch          # a process model of the catalogue
version: 1.0.0+cal.1                # optional: a calibrated set of it
parameters: {S_0: "10 g/L"}         # model parameters, with units where wanted
inputs: {agitation: "800 rpm"}      # the inputs that are not controls, held constant
horizon: 30                         # model time units
intervals: 15
controls: {feed_rate: {min: 0, max: 0.02}}
objective: {name: P, sense: maximize}
path: [{name: DO, min: 30}]
final: [{name: V, max: 1.5}]
pareto: {second: {name: V, sense: minimize}, epsilons: [1.1, 1.3, 1.5]}   # optional
```

Units: bounds, horizon and ε are in the model's declared units (``bioprocess-twin models NAME`` lists them).
An operating parameter (one that shapes a recipe) has no place in a policy and is a named error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from .. import catalogue
from ..core.definitions import calibrated_parameters
from ..core.parameters import ParameterError
from ..core.spec import SpecError, StrictModel, field_errors, read_spec_file
from .pareto import pareto_front
from .policy import Objective, PolicyProblem, optimize_policy


class ParetoSettings(StrictModel):
    second: Objective
    epsilons: list[float] = Field(min_length=1, max_length=200)


class OptimizationSpec(PolicyProblem):
    model: str = Field(max_length=100)
    version: str | None = Field(None, max_length=100)
    pareto: ParetoSettings | None = None


def parse_optimization_spec(data: Any, source: str = "optimization spec") -> OptimizationSpec:
    if not isinstance(data, dict):
        raise SpecError(source, [("(top level)", "expected a mapping with model, horizon, controls and objective")])
    try:
        return OptimizationSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, field_errors(exc)) from None


def load_optimization_spec(path: str | Path) -> OptimizationSpec:
    return parse_optimization_spec(read_spec_file(path), str(path))


def run_optimization(spec: OptimizationSpec) -> dict[str, Any]:
    """Optimise the spec's policy (or trace its Pareto front) on its catalogue model; the result document.
    ``status`` is ``optimal``, ``infeasible`` or ``failed`` (for a front: the worst of its points)."""
    try:
        process = catalogue.get(spec.model)
    except KeyError as exc:
        raise SpecError("optimization spec", [("model", exc.args[0])]) from None
    given = dict(spec.parameters)
    operating = [
        (f"parameters.{k}", "an operating parameter shapes a recipe; a policy has none")
        for k in given
        if k in process.operating
    ]
    if operating:
        raise SpecError("optimization spec", operating)
    try:
        calibrated = calibrated_parameters(process, spec.version) if spec.version else {}
        values, _ = process.split_parameters(calibrated | given)
    except ParameterError as exc:
        raise SpecError("optimization spec", exc.errors) from None
    problem = PolicyProblem.model_validate(
        spec.model_dump(exclude={"model", "version", "pareto"}) | {"parameters": values}
    )
    doc: dict[str, Any] = {"model": process.name, "model_version": spec.version or process.version}
    try:
        if spec.pareto is None:
            result = optimize_policy(process.model, problem)
            return doc | {"kind": "policy", **result.to_dict()}
        points = pareto_front(process.model, problem, spec.pareto.second, spec.pareto.epsilons)
    except ParameterError as exc:
        raise SpecError("optimization spec", exc.errors) from None
    statuses = [p.result.status for p in points]
    worst = next((s for s in ("failed", "infeasible") if s in statuses), "optimal")
    return doc | {
        "kind": "pareto",
        "status": worst,
        "message": "; ".join(f"ε {p.epsilon:g}: {p.result.message}" for p in points if p.result.message),
        "objective": spec.objective.model_dump(),
        "second": spec.pareto.second.model_dump(),
        "points": [p.to_dict() for p in points],
    }
