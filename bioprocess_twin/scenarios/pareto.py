"""A Pareto front of two objectives of a policy by the ε-constraint method.

The first objective is optimised while the second is held to a bound ε at the end of the horizon
(Haimes, Lasdon & Wismer 1971, IEEE Trans. Syst. Man Cybern. SMC-1:296): a second objective to be
minimised becomes ``second <= ε``, one to be maximised ``second >= ε``. Each ε is one NLP of
:func:`.policy.optimize_policy`, started from the policy of the ε before it, so the front is traced
continuously. Where the bound is active its price (Lagrange multiplier) is the local exchange rate
between the two objectives: how much of the first is gained per unit the second is allowed to worsen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.model import Model
from ..core.parameters import ParameterError
from .policy import Bound, Objective, PolicyProblem, PolicyResult, optimize_policy

MAX_POINTS = 200


@dataclass
class ParetoPoint:
    epsilon: float
    first: float  # the first objective at this point's optimum
    second: float  # the second objective there
    price: float  # gain of the first per unit the bound on the second is relaxed (0 when not active)
    result: PolicyResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "epsilon": self.epsilon,
            "first": self.first,
            "second": self.second,
            "price": self.price,
            "status": self.result.status,
            "message": self.result.message,
            "controls": self.result.controls,
        }


def pareto_front(
    model: Model,
    problem: PolicyProblem,
    second: Objective | Mapping[str, Any],
    epsilons: Sequence[float],
    start: Mapping[str, Sequence[float]] | None = None,
) -> list[ParetoPoint]:
    """Optimise ``problem.objective`` with ``second`` bounded by each ε in turn (in the order given)."""
    second = second if isinstance(second, Objective) else Objective.model_validate(dict(second))
    if not 1 <= len(epsilons) <= MAX_POINTS:
        raise ParameterError([("epsilons", f"give 1 to {MAX_POINTS} bounds, not {len(epsilons)}")], "Pareto front")
    side = "max" if second.sense == "minimize" else "min"
    points = []
    for epsilon in epsilons:
        bound = Bound(name=second.name, **{side: float(epsilon)})
        result = optimize_policy(model, problem.model_copy(update={"final": [*problem.final, bound]}), start)
        report = next(c for c in result.constraints if c.kind == "final" and c.name == second.name and c.side == side)
        points.append(
            ParetoPoint(
                epsilon=float(epsilon),
                first=result.objective,
                second=_final(result, second.name),
                price=report.multiplier if report.active_at else 0.0,
                result=result,
            )
        )
        if result.status == "optimal":
            start = result.controls
    return points


def _final(result: PolicyResult, name: str) -> float:
    values = result.states.get(name) or result.outputs.get(name) or [float("nan")]
    return float(values[-1])
