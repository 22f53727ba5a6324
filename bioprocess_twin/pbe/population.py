"""Assembled number population balance and its CVODES solution.

    dN_i/dt = nucleation + growth + aggregation + breakage

for the class numbers N_i (#/m^3) on a :class:`~bioprocess_twin.pbe.grid.Grid`.
Each term is described in its module: :mod:`.growth` (Gunawan et al. 2004),
:mod:`.aggregation` (Kumar & Ramkrishna 1996; Kumar et al. 2006) and
:mod:`.breakage` (Kumar & Ramkrishna 1996).  The same code evaluates the RHS
on NumPy arrays and on CasADi SX/MX symbols; :mod:`.compiled` turns it into a
compiled ODE with an analytic Jacobian for ``solve`` with numeric rate terms.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import casadi
import numpy as np
import pandas as pd

from bioprocess_twin.core.structured import compile_ode, solver_options

from . import ops
from .aggregation import make_aggregation
from .breakage import FixedPivotBreakage
from .compiled import CompiledPBE, NotNumeric, Terms
from .grid import Grid
from .growth import FiniteVolumeGrowth, nucleation_rhs
from .kernels import kernel_matrix, selection_vector
from .statistics import STAT_UNITS, diameter_moment, moments, size_stats

RATE_TERMS = frozenset({"nucleation", "nucleation_size", "growth", "aggregation", "selection", "daughter"})
#: default absolute tolerance, as a fraction of rtol times the number scale of the problem (``solve``)
ATOL_PER_RTOL = 1e-6


class PBESolveError(RuntimeError):
    """CVODES failed to integrate the population balance."""


class PopulationBalance:
    """Discretised 1-D number PBE in particle volume.

    Parameters
    ----------
    grid : Grid
    aggregation_method : ``"fixed_pivot"`` or ``"cell_average"``
    limiter : growth flux limiter, ``"koren"`` (default), ``"van_leer"``,
        ``"minmod"``, ``"superbee"`` or ``"upwind"`` (first order)

    Precomputed operators (built on first use, constant for the grid):
    ``aggregation_operators`` (pair bookkeeping and sparse maps),
    ``growth_operator`` and ``breakage_operator(daughter)``.
    """

    def __init__(self, grid: Grid, aggregation_method: str = "fixed_pivot", limiter: str = "koren"):
        if not isinstance(grid, Grid):
            raise ValueError(f"grid: expected a Grid, got {type(grid).__name__}")
        if aggregation_method not in ("fixed_pivot", "cell_average"):
            raise ValueError(
                f"aggregation_method: expected 'fixed_pivot' or 'cell_average', got {aggregation_method!r}"
            )
        self.grid = grid
        self.aggregation_method = aggregation_method
        self.limiter = limiter
        self.growth_operator = FiniteVolumeGrowth(grid, limiter)
        self._breakage: dict[Any, Any] = {}
        self.integrator_cache: dict[Any, casadi.Function] = {}
        self._compiled: dict[Any, Any] = {}  # Terms -> compiled external DAE (None: no working compiler)

    @cached_property
    def aggregation_operators(self):
        """:class:`FixedPivotAggregation` or :class:`CellAverageAggregation`."""
        return make_aggregation(self.grid, self.aggregation_method)

    def breakage_operator(self, daughter="binary_uniform") -> FixedPivotBreakage:
        """Cached :class:`FixedPivotBreakage` for a daughter distribution."""
        key = daughter if isinstance(daughter, str) else id(daughter)
        if key not in self._breakage:
            # keep the daughter object referenced so its id stays unique
            self._breakage[key] = (daughter, FixedPivotBreakage(self.grid, daughter))
        return self._breakage[key][1]

    # -- right-hand side -----------------------------------------------------
    def rhs(
        self,
        N,
        *,
        nucleation=None,
        nucleation_size=None,
        growth=None,
        aggregation=None,
        selection=None,
        daughter="binary_uniform",
    ):
        """dN/dt (#/m^3/s) for NumPy or CasADi ``N``.

        nucleation : B0 (#/m^3/s), number or CasADi scalar; into class 0, or
            split at volume ``nucleation_size`` (m^3).
        growth : G_v = dv/dt (m^3/s) at the n+1 edges, a scalar, or a callable
            G_v(v); see :func:`volume_growth_from_length` for G_L -> G_v.
        aggregation : kernel callable beta(v_i, v_j) (m^3/s), scalar, or n x n matrix.
        selection : breakage rate S(v) (1/s): callable, scalar or n values.
        daughter : ``"binary_uniform"``, ``"binary_equal"``, a Daughter, a
            callable b(v, v_parent) or an n x n matrix n_ik.

        Returns a NumPy 1-D array, or a CasADi n x 1 column if anything is symbolic.
        """
        n = self.grid.n
        N = ops.column(N)
        if N.shape[0] != n:
            raise ValueError(f"N: expected {n} class values, got {N.shape[0]}")
        terms = []
        if nucleation is not None:
            terms.append(nucleation_rhs(self.grid, nucleation, nucleation_size))
        if growth is not None:
            terms.append(self.growth_operator.rhs(N, growth))
        if aggregation is not None:
            beta = kernel_matrix(aggregation, self.grid.pivots)
            terms.append(self.aggregation_operators.rhs(N, beta))
        if selection is not None:
            S = selection_vector(selection, self.grid.pivots)
            terms.append(self.breakage_operator(daughter).rhs(N, S))
        if not terms:
            return type(N).zeros(n, 1) if ops.is_casadi(N) else np.zeros(n)
        if ops.is_casadi(N) or any(ops.is_casadi(t) for t in terms):
            out = ops.to_casadi(terms[0])
            for t in terms[1:]:
                out = out + ops.to_casadi(t)
            if ops.is_symbolic(N) and isinstance(out, casadi.DM):
                out = type(N)(out)  # keep the caller's symbolic type
            return out
        return np.sum(terms, axis=0)

    def growth_outflow(self, N, growth):
        """(number, volume) rate leaving through the top edge (#/m^3/s, m^3/m^3/s)."""
        return self.growth_operator.outflow(ops.column(N), growth)

    # -- integration ---------------------------------------------------------
    def solve(
        self,
        N0,
        times,
        *,
        rtol: float = 1e-8,
        atol: float | None = None,
        parameters: dict | None = None,
        options: dict | None = None,
        symbolic: str = "SX",
        rhs: str = "auto",
        **rate_terms,
    ) -> PBESolution:
        """Integrate with CasADi CVODES and return a :class:`PBESolution`.

        ``rate_terms`` are the keywords of :meth:`rhs`.  If they contain CasADi
        symbols other than N, give their values in ``parameters`` ({symbol: value}).
        ``atol`` (#/m^3) defaults to ``rtol * ATOL_PER_RTOL * scale`` (ATOL_PER_RTOL = 1e-6) with scale the
        larger of sum(N0) and B0 * (t_end - t0) for a numeric nucleation rate
        (1 if both are zero: then give ``atol`` yourself).
        ``options`` are passed to the CasADi integrator.

        ``rhs`` chooses the form of the equations CVODES integrates:

        * ``"compiled"``: numeric rate terms only. Their values are the parameters of one ODE per
          grid and choice of terms, compiled to C with an analytic Jacobian (:mod:`.compiled`) and
          cached on disk; later solves with any kernel values reuse its integrator.
        * ``"symbolic"``: the rhs built on CasADi symbols for these rate terms, with CasADi's AD
          Jacobian. ``symbolic="MX"`` builds it much faster for large grids (n > ~150: the SX
          Jacobian is built entry by entry); symbolic parameters must then be MX.
        * ``"auto"`` (default): compiled when there is aggregation or breakage (a dense Jacobian,
          which CasADi builds slowly), the rate terms are numeric, ``parameters`` is empty and a C
          compiler works; symbolic otherwise. Growth and nucleation alone give a banded Jacobian
          that CasADi builds in milliseconds, less than a compile costs.
        """
        unknown = set(rate_terms) - RATE_TERMS
        if unknown:
            raise ValueError(f"rate terms: unknown {sorted(unknown)}; expected some of {sorted(RATE_TERMS)}")
        if rhs not in ("auto", "compiled", "symbolic"):
            raise ValueError(f"rhs: expected 'auto', 'compiled' or 'symbolic', got {rhs!r}")
        N0 = np.asarray(N0, dtype=float).reshape(-1)
        if N0.size != self.grid.n:
            raise ValueError(f"N0: expected {self.grid.n} class values, got {N0.size}")
        times = np.asarray(times, dtype=float).reshape(-1)
        if times.size < 2 or np.any(np.diff(times) <= 0):
            raise ValueError("times: need >= 2 strictly increasing values")
        if symbolic not in ("SX", "MX"):
            raise ValueError(f"symbolic: expected 'SX' or 'MX', got {symbolic!r}")
        if atol is None:
            atol = rtol * ATOL_PER_RTOL * _number_scale(N0, times, rate_terms.get("nucleation"))
        opts = {"reltol": rtol, "abstol": atol, "max_num_steps": 100000}
        opts.update(options or {})
        F, p_val = None, None
        coupled = rate_terms.get("aggregation") is not None or rate_terms.get("selection") is not None
        if rhs == "compiled" or (rhs == "auto" and coupled):
            F, p_val, why_not = self._compiled_integrator(times, opts, rate_terms, parameters)
            if F is None and rhs == "compiled":
                raise ValueError(f"rhs: 'compiled' is not possible here: {why_not}")
        if F is None:
            F, p_val = self._symbolic_integrator(times, opts, rate_terms, parameters, symbolic)
        try:
            res = F(x0=N0, p=p_val) if p_val is not None else F(x0=N0)
        except RuntimeError as err:
            raise PBESolveError(f"CVODES failed on the population balance: {err}") from err
        xf = np.asarray(res["xf"], dtype=float)
        N = np.vstack([N0, xf.T])
        return PBESolution(t=times, N=N, grid=self.grid)

    def _compiled_integrator(self, times, opts, rate_terms, parameters):
        """(integrator, p, None) of the compiled form, or (None, None, reason) when it does not apply."""
        if parameters:
            return None, None, "parameters are given (symbolic rate terms)"
        daughter = rate_terms.get("daughter", "binary_uniform")
        breakage = rate_terms.get("selection") is not None
        if breakage:
            self.breakage_operator(daughter)  # keeps the daughter referenced: its id stays unique
        try:
            terms = Terms.of(
                rate_terms, (daughter if isinstance(daughter, str) else id(daughter)) if breakage else None
            )
            ode = CompiledPBE(self, terms, daughter)
            p = ode.parameters(rate_terms)
        except NotNumeric as err:
            return None, None, f"rate term '{err}' holds CasADi symbols"
        dae = _cached(self._compiled, terms, lambda: compile_ode(f"pbe_n{self.grid.n}", "pbe_dae", *ode.functions()))
        if dae is None:
            return None, None, "no working C compiler ($CC or gcc)"
        solver = solver_options() if terms.aggregation or terms.selection else {}  # dense Jacobian: LAPACK LU
        F = _cached(
            self.integrator_cache,
            ("compiled", terms, tuple(times), repr(sorted(opts.items()))),
            lambda: casadi.integrator("pbe", "cvodes", dae, float(times[0]), list(times[1:]), {**solver, **opts}),
        )
        return F, p, None

    def _symbolic_integrator(self, times, opts, rate_terms, parameters, symbolic):
        """(integrator, p) of the rhs built on CasADi symbols, cached by a fingerprint of the ODE."""
        x = getattr(casadi, symbolic).sym("N", self.grid.n)
        try:
            ode = ops.to_casadi(self.rhs(x, **rate_terms))
        except (TypeError, NotImplementedError, RuntimeError) as err:
            raise ValueError(f"symbolic: rate terms do not combine with {symbolic} (mixing SX and MX?): {err}") from err
        dae = {"x": x, "ode": ode}
        p_val = None
        free = {s.name() for s in casadi.symvar(ode) if not casadi.depends_on(x, s)}
        if free:
            given = {sym.name(): (sym, val) for sym, val in (parameters or {}).items()}
            missing = free - set(given)
            if missing:
                raise ValueError(f"parameters: give values for symbols {sorted(missing)}")
            used = sorted(given)
            dae["p"] = casadi.vertcat(*[given[k][0] for k in used])
            p_val = casadi.vertcat(*[casadi.DM(given[k][1]) for k in used])
        try:
            F = _cached(
                self.integrator_cache,
                ("symbolic", _fingerprint(dae, times, opts)),
                lambda: casadi.integrator("pbe", "cvodes", dae, float(times[0]), list(times[1:]), opts),
            )
        except RuntimeError as err:
            raise PBESolveError(f"CVODES failed on the population balance: {err}") from err
        return F, p_val


def _cached(store: dict, key, make, size: int = 8):
    """``store[key]``, made on first use; the oldest entry goes when ``size`` are kept (builds cost far more
    than solves, and a sweep over many kernels or daughters must not hold every one)."""
    if key not in store:
        if len(store) >= size:
            store.pop(next(iter(store)))
        store[key] = make()
    return store[key]


def _fingerprint(dae, times, opts) -> str:
    """Identity of an integrator: the serialised ODE graph (constants included), output times and options."""
    args = [dae["x"]] + ([dae["p"]] if "p" in dae else [])
    text = casadi.Function("pbe_rhs", args, [dae["ode"]]).serialize()
    return hashlib.sha256((text + repr(list(times)) + repr(sorted(opts.items()))).encode()).hexdigest()


def _number_scale(N0, times, nucleation) -> float:
    scale = float(np.abs(N0).sum())
    if nucleation is not None and not ops.is_symbolic(nucleation):
        scale = max(scale, abs(float(nucleation)) * float(times[-1] - times[0]))
    return scale if scale > 0.0 else 1.0


@dataclass(frozen=True)
class PBESolution:
    """Solution of :meth:`PopulationBalance.solve`: ``N[t_index, class]`` (#/m^3)."""

    t: np.ndarray
    N: np.ndarray
    grid: Grid

    def moment(self, k: float = 0) -> np.ndarray:
        """Volume moment sum_i N_i x_i^k per time."""
        return moments(self.N, self.grid, k)

    def diameter_moment(self, k: float = 0) -> np.ndarray:
        """Diameter moment sum_i N_i d_i^k per time."""
        return diameter_moment(self.N, self.grid, k)

    def density(self) -> np.ndarray:
        """Number density n(x_i, t) = N_i / (v_{i+1} - v_i) (#/m^3 per m^3)."""
        return self.N / self.grid.widths

    def stats(self) -> pd.DataFrame:
        """:func:`size_stats` per time, columns named with units (e.g. ``d32 [m]``)."""
        s = size_stats(self.N, self.grid)
        df = pd.DataFrame({f"{k} [{STAT_UNITS[k]}]": v for k, v in s.items()})
        df.insert(0, "t [s]", self.t)
        return df
