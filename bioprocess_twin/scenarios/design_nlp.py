"""The NLP of one combination of a static design optimisation (:mod:`.design`) as cyipopt takes it: the objective
KPI and the constraint rows over the factors scaled to [0, 1], the elastic problem that finds the least-infeasible
point, and the report of every constraint with its price from IPOPT's multipliers. ``case`` is the combination
(``design._Case``): its ``kpis(s, gradient)``, ``needed`` KPIs, ``variables`` and ``problem``. cyipopt's
``intermediate`` callback reports each IPOPT iteration to a ``progress`` callable (:mod:`.progress`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cyipopt
import numpy as np

from .progress import OptimisationProgress, Progress, Relay
from .spec import KpiObjective, OptimizeSettings

#: a bound is active within this share of itself (at least 1 unit), or of the factor's range
ACTIVE_TOLERANCE = 1e-5
#: a constraint is violated beyond this share of its bound (at least 1 unit)
FEASIBILITY_TOLERANCE = 1e-6
#: an elastic multiplier holds a constraint at its bound above this share of the violations' cost weight
TIGHT = 1e-6
INF = 1e20  # IPOPT's infinity


@dataclass(frozen=True)
class Row:
    """A KPI held within limits: a response of the spec, or the ε bound of a Pareto point."""

    kind: str  # "response" or "epsilon"
    kpi: str
    min: float | None = None
    max: float | None = None


@dataclass
class DesignConstraint:
    """A KPI limit or a factor bound at the reported point: its value, whether it is active, its price (the gain
    in the objective, in its sense, per unit of ``units`` the bound is relaxed) and its violation."""

    kind: str  # "response", "epsilon" or "factor"
    name: str  # the KPI or the factor path
    side: str  # "min" or "max"
    bound: float
    value: float | None
    units: str
    active: bool
    multiplier: float
    price_units: str
    violation: float


class Nlp:
    """The NLP of one combination for cyipopt: min ± objective s.t. the rows, over s in [0, 1]^n."""

    def __init__(self, case: Any, objective: KpiObjective, rows: Sequence[Row]):
        self.case, self.goal, self.rows = case, objective, list(rows)
        self.sign = -1.0 if objective.sense == "maximize" else 1.0
        self.io = case.needed.index(objective.kpi)
        self.ir = [case.needed.index(r.kpi) for r in self.rows]
        self.cl = np.array([-INF if r.min is None else r.min for r in self.rows])
        self.cu = np.array([INF if r.max is None else r.max for r in self.rows])
        self.weights = np.array([1.0 / max(1.0, *(abs(b) for b in (r.min, r.max) if b is not None)) for r in rows])
        self.iterations = 0
        self.relay, self.stage, self.offset = Relay(None), "", 0
        self.solving: cyipopt.Problem | None = None

    def _values(self, s, gradient=False):
        k, G = self.case.kpis(s[: len(self.case.variables)], gradient)
        if not np.all(np.isfinite(k)) or (G is not None and not np.all(np.isfinite(G))):
            raise cyipopt.CyIpoptEvaluationError()  # IPOPT cuts its step back
        return k, G

    def objective(self, s):
        return self.sign * self._values(s)[0][self.io]

    def gradient(self, s):
        return self.sign * self._values(s, True)[1][self.io]

    def constraints(self, s):
        return self._values(s)[0][self.ir]

    def jacobian(self, s):
        return self._values(s, True)[1][self.ir].ravel()

    def intermediate(self, alg_mod, iter_count, obj_value, inf_pr, *args):
        self.iterations = int(iter_count)
        if self.relay.progress is None:
            return True
        try:
            objective, violation = self.progress_values(float(obj_value), float(inf_pr))
            at = self.offset + int(iter_count)
            report = OptimisationProgress(self.stage, at, objective, violation, None, self.goal.kpi)
        except BaseException as exc:  # noqa: BLE001 - a signal (the wall-clock limit) while here: stop, raise later
            self.relay.error = self.relay.error or exc
            return False
        return self.relay(report)

    def progress_values(self, obj_value: float, inf_pr: float) -> tuple[float, float]:
        """The objective in its own sense and IPOPT's primal infeasibility, for a progress report."""
        return self.sign * obj_value, inf_pr

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(len(self.case.variables)), np.ones(len(self.case.variables))

    def run(
        self,
        x0: np.ndarray,
        settings: OptimizeSettings,
        progress: Progress | None = None,
        stage: str = "",
        offset: int = 0,
    ) -> tuple[np.ndarray, dict, int]:
        """IPOPT from x0; ``progress`` hears of each iteration under ``stage``, numbered on from ``offset`` (the
        iterations of the combination's earlier solves); if it raises, IPOPT stops there and the exception
        propagates."""
        lb, ub = self.bounds()
        problem = cyipopt.Problem(n=len(x0), m=len(self.cl), problem_obj=self, lb=lb, ub=ub, cl=self.cl, cu=self.cu)
        options = {"print_level": 0, "sb": "yes", "linear_solver": "mumps", "hessian_approximation": "limited-memory"}
        options |= {"tol": settings.tolerance, "max_iter": settings.max_iterations, "honor_original_bounds": "yes"}
        for key, value in options.items():
            problem.add_option(key, value)
        self.iterations, self.relay, self.stage, self.offset, self.solving = 0, Relay(progress), stage, offset, problem
        try:
            x, info = problem.solve(np.clip(x0, lb, ub))
        finally:
            self.solving = None
        self.relay.reraise()
        return np.asarray(x, dtype=float), info, self.iterations

    def violations(self, k: np.ndarray) -> list[float]:
        """Each row's violation relative to its bound (at least 1); a NaN row counts 1."""
        g = k[self.ir]
        out = np.maximum(np.maximum(self.cl - g, g - self.cu), 0.0) * self.weights
        return [float(v) if math.isfinite(v) else 1.0 for v in out]

    def sides(self, k: np.ndarray):
        """(row index, row, side, bound, gap) of every limit: the gap is > 0 inside, < 0 when violated."""
        for i, r in enumerate(self.rows):
            value = float(k[self.ir[i]])
            for side, bound in (("min", r.min), ("max", r.max)):
                if bound is not None:
                    yield i, r, side, bound, (value - bound if side == "min" else bound - value)

    def report(self, x: np.ndarray, k: np.ndarray, info: Mapping[str, Any] | None) -> list[DesignConstraint]:
        """Every row side and factor bound at x, with prices from IPOPT's multipliers when ``info`` is given."""
        units = self.case.problem.kpi_units
        per = f"{units.get(self.goal.kpi) or '1'} per "
        lam = None if info is None else np.asarray(info["mult_g"], dtype=float)
        out = []
        for i, r, side, bound, gap in self.sides(k):
            active = bool(abs(gap) <= ACTIVE_TOLERANCE * max(1.0, abs(bound)))  # False for NaN
            # IPOPT minimises f = ±objective with L = f + λ g: λ >= 0 at an active upper bound (how much f falls per
            # unit the bound is raised), λ <= 0 at a lower one; the gain per unit of relaxation is ±λ
            price = float(lam[i]) * (1.0 if side == "max" else -1.0) if lam is not None and active else 0.0
            violation = max(0.0, -gap) if math.isfinite(gap) else math.inf
            u, value = units.get(r.kpi, ""), finite_or_none(float(k[self.ir[i]]))
            out.append(
                DesignConstraint(r.kind, r.kpi, side, bound, value, u, active, price, per + (u or "1"), violation)
            )
        for j, v in enumerate(self.case.variables):
            for side, bound, at, key in (("min", v.low, 0.0, "mult_x_L"), ("max", v.high, 1.0, "mult_x_U")):
                active = abs(float(x[j]) - at) <= ACTIVE_TOLERANCE
                # a bound multiplier (>= 0) is the fall of f per unit of s the bound is relaxed; per factor unit:
                price = float(info[key][j]) / (v.high - v.low) if info is not None and active else 0.0
                value, u = v.value(float(x[j])), v.units
                out.append(
                    DesignConstraint("factor", v.path, side, bound, value, u, active, price, per + (u or "1"), 0.0)
                )
        return out


class Elastic(Nlp):
    """The least-infeasible point: min Σ w_i (p_i + q_i) s.t. cl <= g(s) + p - q <= cu, p, q >= 0."""

    def __init__(self, nlp: Nlp):
        super().__init__(nlp.case, nlp.goal, nlp.rows)
        self.n, self.m = len(nlp.case.variables), len(nlp.rows)

    def slacks(self, x: np.ndarray) -> np.ndarray:
        g = self.case.kpis(x)[0][self.ir]
        g = np.where(np.isfinite(g), g, np.clip(0.0, self.cl, self.cu))
        return np.concatenate([np.maximum(self.cl - g, 0.0), np.maximum(g - self.cu, 0.0)])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(self.n + 2 * self.m), np.concatenate([np.ones(self.n), np.full(2 * self.m, INF)])

    def objective(self, s):
        return float(np.dot(self.weights, s[self.n : self.n + self.m] + s[self.n + self.m :]))

    def gradient(self, s):
        return np.concatenate([np.zeros(self.n), self.weights, self.weights])

    def progress_values(self, obj_value: float, inf_pr: float) -> tuple[float, float]:
        """The objective KPI at IPOPT's current point (NaN if it cannot tell) and the total violation this NLP
        minimises (its own objective)."""
        point = self.solving.get_current_iterate(scaled=False) if self.solving is not None else None
        if point is None:
            return math.nan, obj_value
        k = self.case.kpis(np.asarray(point["x"], dtype=float)[: self.n])[0]
        return float(k[self.io]), obj_value

    def constraints(self, s):
        return self._values(s)[0][self.ir] + s[self.n : self.n + self.m] - s[self.n + self.m :]

    def jacobian(self, s):
        eye = np.eye(self.m)
        return np.hstack([self._values(s, True)[1][self.ir], eye, -eye]).ravel()

    def binding(self, info: Mapping[str, Any], x: np.ndarray) -> list[str]:
        """The constraints that cannot be met together: those violated at x, and those at their bounds whose
        elastic multiplier is not zero (they keep the violation from shrinking)."""
        k, lam = self.case.kpis(x)[0], np.asarray(info["mult_g"], dtype=float)
        units, out = self.case.problem.kpi_units, []
        for i, r, side, bound, gap in self.sides(k):
            tight = abs(gap) <= ACTIVE_TOLERANCE * max(1.0, abs(bound)) and abs(lam[i]) > TIGHT * self.weights[i]
            if gap < -FEASIBILITY_TOLERANCE * max(1.0, abs(bound)) or tight:
                out.append(constraint_text(r.kpi, side, bound, units.get(r.kpi, ""), gap))
        for j, v in enumerate(self.case.variables):
            for side, at, key in (("min", 0.0, "mult_x_L"), ("max", 1.0, "mult_x_U")):
                if abs(float(x[j]) - at) <= ACTIVE_TOLERANCE and abs(float(info[key][j])) > TIGHT * max(self.weights):
                    out.append(
                        "factor " + constraint_text(v.path, side, v.low if side == "min" else v.high, v.units, 0.0)
                    )
        return out


def constraint_text(name: str, side: str, bound: float, units: str, gap: float) -> str:
    """``z_average_nm <= 180 (short by 7.7 nm)``, or ``(at its bound)`` when nothing is short."""
    where = f"short by {-gap:.4g} {units}".rstrip() if gap < 0 else "at its bound"
    return f"{name} {'>=' if side == 'min' else '<='} {bound:g}{' ' + units if gap >= 0 and units else ''} ({where})"


def finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
