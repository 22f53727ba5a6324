"""One entry point for every scenario analysis: the CLI, the dashboard and Python call :func:`run_scenario`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.spec import SpecError
from .cases import Execution
from .design_space import design_space, grid_values, monte_carlo, set_point
from .sensitivity import sensitivity
from .spec import ScenarioSpec


@dataclass
class ScenarioResult:
    """``status`` is ``ok``, or ``failed`` when no estimate could be made (every Monte Carlo case failed, or a
    sensitivity run failed, which the estimators cannot do without); ``result`` is the analysis' document."""

    name: str
    analysis: str
    status: str
    message: str
    result: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "analysis": self.analysis,
            "status": self.status,
            "message": self.message,
            **self.result,
        }


def run_scenario(spec: ScenarioSpec, base: Mapping[str, Any], execution: Execution | None = None) -> ScenarioResult:
    """Run the analysis the spec names: its design space, a Monte Carlo at its set point, or a global
    sensitivity analysis. Raises SpecError for a spec that does not fit its base spec's model."""
    execution = execution or Execution()
    status, message = "ok", ""
    if spec.analysis == "optimize":
        raise SpecError(
            "scenario", [("analysis", "an optimisation runs with 'bioprocess-twin optimize' (scenarios.optimize)")]
        )
    if spec.analysis == "design_space":
        space = design_space(spec, base, execution)
        failed = sum(p.failed for p in space.points)
        if failed == space.cases:
            status, message = "failed", "every case failed: no probability can be estimated"
        doc = space.to_dict() | {"failed_cases": failed}
    elif spec.analysis == "monte_carlo":
        point = set_point(spec, grid_values(spec))
        result, curve = monte_carlo(spec, base, point, execution)
        if result.failed == result.probability.n:
            status, message = "failed", "every case failed: no probability can be estimated"
        doc = {"point": result.to_dict(), "convergence": curve, "target": spec.design_space.target}
    else:
        found = sensitivity(spec, base, execution)
        if found.failed:
            shown = ", ".join(str(i) for i in found.failed[:10]) + (", ..." if len(found.failed) > 10 else "")
            status, message = "failed", f"{len(found.failed)} of {found.runs} runs failed (cases {shown})"
        doc = found.to_dict()
    doc["responses"] = [r.describe() for r in spec.responses]
    return ScenarioResult(spec.name, spec.analysis, status, message, doc)
