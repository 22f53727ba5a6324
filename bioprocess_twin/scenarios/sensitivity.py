"""Global sensitivity of the response KPIs to the factors and uncertain parameters, through SALib.

- **Sobol** first-order and total indices (Saltelli et al. 2010, Comput. Phys. Commun. 181:259): a
  scrambled Sobol sequence of N·(k+2) runs for k inputs (``SALib.sample.sobol``), indices with bootstrap
  intervals (``SALib.analyze.sobol``).
- **Morris** screening (Morris 1991, Technometrics 33:161): ``trajectories`` one-at-a-time paths on a grid
  of ``levels`` (``SALib.sample.morris``), μ* (mean absolute elementary effect, with its bootstrap interval)
  and σ (``SALib.analyze.morris``).

The inputs are the factors (uniform over their range or levels' span; an integer factor is rounded in
its case) and the uncertain parameters with their distributions (normal, lognormal as SALib's ``lognorm``
on the natural logarithm, uniform). Local sensitivities, d(output)/d(parameter) along the trajectory, come
from CVODES instead: ``sensitivities: true`` in a simulation spec.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from ..core.spec import SpecError
from .cases import Execution, check_paths, run_values
from .spec import ScenarioSpec


@dataclass
class Sensitivity:
    method: str
    inputs: list[str]
    runs: int
    failed: list[int]
    #: per KPI, per index name (S1, S1_conf, ST, ST_conf; or mu_star, mu_star_conf, sigma), one value per input
    indices: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def problem(spec: ScenarioSpec) -> dict[str, Any]:
    """The SALib problem: one input per factor (a case value path) and per uncertain parameter."""
    names, bounds, dists = [], [], []
    for f in spec.factors:
        names.append(f.path)
        bounds.append(list(f.bounds()))
        dists.append("unif")
    for name, d in spec.uncertainty.parameters.items():
        names.append(f"parameters.{name}")
        first, second = d.pair()
        if d.distribution == "lognormal":
            bounds.append([math.log(first), math.log(second)])
        else:
            bounds.append([first, second])
        dists.append({"normal": "norm", "lognormal": "lognorm", "uniform": "unif"}[d.distribution])
    return {"num_vars": len(names), "names": names, "bounds": bounds, "dists": dists}


def sensitivity(spec: ScenarioSpec, base: Mapping[str, Any], execution: Execution | None = None) -> Sensitivity:
    """Sobol indices or Morris screening of every response KPI (``spec.sensitivity``)."""
    errors = check_paths(spec, base)
    if spec.uncertainty.calibrated:
        errors.append(
            ("uncertainty.calibrated", "Sobol and Morris take independent inputs: give the parameters' distributions")
        )
    task = problem(spec)
    if task["num_vars"] < 1:
        errors.append(("factors", "a sensitivity analysis needs at least one factor or uncertain parameter"))
    if errors:
        raise SpecError("scenario", errors)
    settings = spec.sensitivity
    if settings.method == "sobol":
        X = sobol_sample.sample(task, settings.base_samples, calc_second_order=False, seed=spec.seed)
    else:
        X = morris_sample.sample(task, settings.trajectories, num_levels=settings.levels, seed=spec.seed)
    values = [dict(zip(task["names"], map(float, row), strict=True)) for row in X]
    outcomes = run_values(spec, base, values, execution or Execution(), {"design": settings.method})
    failed = [o.index for o in outcomes if o.status != "ok"]
    result = Sensitivity(settings.method, task["names"], len(outcomes), failed)
    if failed:  # the estimators need every run: report which failed rather than indices over a biased set
        return result
    keys: tuple[str, ...]
    for response in spec.responses:
        Y = np.array([o.kpis.get(response.kpi) for o in outcomes], dtype=float)
        if settings.method == "sobol":
            found = sobol_analyze.analyze(
                task,
                Y,
                calc_second_order=False,
                num_resamples=settings.resamples,
                conf_level=settings.confidence,
                seed=spec.seed,
            )
            keys = ("S1", "S1_conf", "ST", "ST_conf")
        else:
            found = morris_analyze.analyze(
                task,
                X,
                Y,
                num_resamples=settings.resamples,
                conf_level=settings.confidence,
                num_levels=settings.levels,
                seed=spec.seed,
            )
            keys = ("mu_star", "mu_star_conf", "sigma")
        result.indices[response.kpi] = {k: [float(v) for v in np.asarray(found[k])] for k in keys}
    return result
