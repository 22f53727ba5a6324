"""The probability of meeting every specification, estimated from Monte Carlo cases, with its Wilson interval.

Of ``n`` sampled batches, ``k`` meet every CQA: P̂ = k/n. The Wilson score interval (Wilson 1927,
J. Am. Stat. Assoc. 22:209) at confidence 1 − α, with z the 1 − α/2 normal quantile:

    centre = (P̂ + z²/(2n)) / (1 + z²/n)
    half   = z / (1 + z²/n) · sqrt(P̂(1 − P̂)/n + z²/(4n²))

Unlike the normal (Wald) interval it stays inside [0, 1] and is not empty at k = 0 or k = n, which is
where a design space's probabilities live.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from scipy.stats import norm

from .spec import Response


@dataclass(frozen=True)
class Probability:
    """P̂ = k/n with its Wilson interval at ``confidence``."""

    k: int
    n: int
    low: float
    high: float
    confidence: float = 0.95

    @property
    def p(self) -> float:
        return self.k / self.n if self.n else math.nan

    def to_dict(self) -> dict[str, float]:
        return {"p": self.p, "k": self.k, "n": self.n, "low": self.low, "high": self.high}


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k`` of ``n`` (``(0, 1)`` when n is 0)."""
    if not 0 <= k <= n:
        raise ValueError(f"k must lie in [0, n]; got k={k}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
    if n == 0:
        return 0.0, 1.0
    z = float(norm.ppf(0.5 + confidence / 2))
    p = k / n
    scale = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if k == 0 else max(0.0, centre - half)  # exactly 0 and 1 at the ends, where round-off would miss them
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def probability(k: int, n: int, confidence: float = 0.95) -> Probability:
    low, high = wilson_interval(k, n, confidence)
    return Probability(k, n, low, high, confidence)


def meets_spec(kpis: Mapping[str, float | None], responses: Sequence[Response]) -> bool:
    """True when every response's KPI is present and within its specification."""
    return all(r.met(kpis.get(r.kpi)) for r in responses)


def probability_in_spec(
    outcomes: Iterable[Mapping[str, float | None] | None], responses: Sequence[Response], confidence: float = 0.95
) -> Probability:
    """P(every CQA in spec) over the cases' KPIs; a case that failed (None) counts as out of spec."""
    results = [o is not None and meets_spec(o, responses) for o in outcomes]
    return probability(sum(results), len(results), confidence)
