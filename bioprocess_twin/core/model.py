"""Declare a dynamic model once, symbolically in CasADi.

A model is written in a dozen lines with :class:`ModelBuilder`::

    m = ModelBuilder("monod_batch", version="1.0", time_units="h")
    mu_max = m.parameter(Parameter(name="mu_max", units="1/h", default=0.5, bounds=(0, 3),
                                   source="Monod 1949", description="maximum specific growth rate"))
    K_s = m.parameter(Parameter(name="K_s", units="g/L", default=0.2, bounds=(1e-6, 50)))
    Y = m.parameter(Parameter(name="Y_xs", units="g/g", default=0.5, bounds=(0.01, 1)))
    X = m.state("X", "g/L", initial=0.1)
    S = m.state("S", "g/L", initial=10.0)
    mu = mu_max * S / (K_s + S)          # SI inside: mu_max arrives in 1/s, K_s, X and S in kg/m^3
    m.ode(X, mu * X)
    m.ode(S, -mu * X / Y)
    m.output("mu", mu, "1/h")            # reported in 1/h
    model = m.build()

Units are part of the calculation: users give values in any units pint can convert, and the
equations see SI base units ("SI inside"), so they hold no hand-written unit factors.
States may be vectors (``shape=n``, e.g. the classes of a population balance) and their initial
values may be expressions of parameters. Algebraic states and residuals make the model a DAE,
integrated by IDAS instead of CVODES.

A large ODE model may also give :meth:`ModelBuilder.structured`: the same right-hand side written
with vector and matrix operations (CasADi MX) and its analytic Jacobian. The simulator then uses
them, compiled to C (``core.structured``), for the nominal integration; the declared equations stay
the reference for outputs and sensitivities.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import casadi as ca
import numpy as np

from .parameters import Parameter, ParameterError, ParameterTable
from .units import UnitsError, from_si, parse_units, si_scale, to_magnitude, to_si

UNBOUNDED = (-math.inf, math.inf)
#: how many solver tolerances (atol + rtol |x|) a state may pass its physical bound by: the local error
#: control of CVODES lets the global error grow over many steps, and discretised transport undershoots
BOUND_TOLERANCES = 1000.0
NON_NEGATIVE = (0.0, math.inf)
_ABSOLUTE_TEMPERATURES = {"kelvin", "degree_Celsius", "degree_Fahrenheit", "degree_Rankine"}


def absolute_zero(units: str) -> float | None:
    """Absolute zero in ``units`` when they are an absolute temperature (K, degC, ...), else None."""
    return float(from_si(0.0, units)) if str(parse_units(units)) in _ABSOLUTE_TEMPERATURES else None


def default_bounds(units: str, kind: str) -> tuple[float, float]:
    """States are non-negative unless declared otherwise; an absolute temperature, state or output,
    stays above absolute zero; other outputs are unbounded unless declared."""
    zero = absolute_zero(units)
    if zero is not None:
        return (zero, math.inf)
    return NON_NEGATIVE if kind == "state" else UNBOUNDED


@dataclass(frozen=True)
class Variable:
    """A named block of the state, algebraic or output vector."""

    name: str
    units: str
    size: int
    offset: int
    description: str = ""
    bounds: tuple[float, float] = UNBOUNDED  #: physical bounds, in ``units`` (see ModelBuilder.state)

    @property
    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.size)

    def columns(self) -> list[str]:
        return [self.name] if self.size == 1 else [f"{self.name}[{i}]" for i in range(self.size)]


@dataclass(frozen=True)
class StructuredODE:
    """rhs(x, p, u) and jacobian(x, p, u) of an ODE model, in the model's vector order (see ModelBuilder.structured)."""

    rhs: ca.Function
    jacobian: ca.Function

    def check(self, model: Model, rtol: float = 1e-9):
        """Shapes, and rhs == the declared equations at the default parameters, inputs and initial state."""
        if model.nz:
            raise ValueError(f"model '{model.name}': a structured ODE needs a model without algebraic states")
        sizes = [(model.nx, 1), (model.np, 1), (model.nu, 1)]
        for f, out in ((self.rhs, (model.nx, 1)), (self.jacobian, (model.nx, model.nx))):
            if f.n_in() != 3 or [f.size_in(i) for i in range(3)] != sizes or f.n_out() != 1 or f.size_out(0) != out:
                raise ValueError(
                    f"model '{model.name}': structured function '{f.name()}' must map x{sizes[0]}, "
                    f"p{sizes[1]}, u{sizes[2]} to one {out[0]}x{out[1]} output"
                )
        p, u = model.parameter_vector(), model.input_vector()
        x, _ = model.initial_state(p)
        ref = np.array(model.dae(0.0, x, np.zeros(0), p, u)[0], dtype=float).ravel()
        got = np.array(self.rhs(x, p, u), dtype=float).ravel()
        if not np.allclose(got, ref, rtol=rtol, atol=rtol * max(np.max(np.abs(ref)), 1e-300)):
            worst = int(np.argmax(np.abs(got - ref)))
            raise ValueError(
                f"model '{model.name}': structured rhs differs from the declared equations "
                f"(state {worst}: {got[worst]:.6g} vs {ref[worst]:.6g})"
            )


class ModelBuilder:
    """Collects symbols and equations; :meth:`build` checks them and returns a :class:`Model`.

    SI inside: the equations are written in SI base units whatever units the model declares. Every
    symbol the builder hands out (parameters, inputs, states, algebraic states and ``t``) is the
    declared value converted to SI by pint's factor, :meth:`ode` takes d(state in SI)/d(t in s),
    :meth:`output` takes the SI value, and a symbolic ``initial`` is in SI (a number stays in the
    declared units). The integrator still works in the declared units, so tolerances keep their meaning.
    """

    def __init__(self, name: str, version: str, description: str = "", time_units: str = "s", time_label: str = "time"):
        parse_units(time_units)
        self.name, self.version, self.description, self.time_units = name, version, description, time_units
        self.time_label = time_label  # what the time axis counts, e.g. "pass" for a pass-by-pass model
        self.time_symbol = ca.SX.sym("t")
        #: time as the equations see it, in s
        self.t = self._si(self.time_symbol, time_units)
        self._params: list[tuple[Parameter, ca.SX]] = []
        self._inputs: list[tuple[Parameter, ca.SX]] = []
        self._states: list[dict[str, Any]] = []
        self._algs: list[dict[str, Any]] = []
        self._residuals: list[ca.SX] = []
        self._outputs: list[tuple[str, ca.SX, str, str, tuple[float, float]]] = []
        self._names: set[str] = set()
        self._structured: StructuredODE | None = None

    @staticmethod
    def _si(symbol, units: str):
        return to_si(symbol, units)

    def _claim(self, name: str):
        if not name.isidentifier():
            raise ValueError(f"'{name}' is not a valid name (use letters, digits and _)")
        if name in self._names:
            raise ValueError(f"'{name}' is declared twice in model '{self.name}'")
        self._names.add(name)

    def parameter(self, parameter: Parameter) -> ca.SX:
        """Declare a model parameter; returns its symbol for the equations."""
        self._claim(parameter.name)
        sym = ca.SX.sym(parameter.name)
        self._params.append((parameter, sym))
        return self._si(sym, parameter.units)

    def parameters(self, *declared: Parameter | Iterable[Parameter]) -> dict[str, ca.SX]:
        """Declare many parameters (Parameter objects or tables of them); returns name -> symbol."""
        return {p.name: self.parameter(p) for p in _flatten(declared)}

    def input(self, parameter: Parameter) -> ca.SX:
        """Declare a piecewise-constant input (manipulated or operating variable); returns its symbol."""
        self._claim(parameter.name)
        sym = ca.SX.sym(parameter.name)
        self._inputs.append((parameter, sym))
        return self._si(sym, parameter.units)

    def inputs(self, *declared: Parameter | Iterable[Parameter]) -> dict[str, ca.SX]:
        """Declare many inputs; returns name -> symbol."""
        return {p.name: self.input(p) for p in _flatten(declared)}

    def state(
        self,
        name: str,
        units: str,
        initial,
        shape: int = 1,
        description: str = "",
        bounds: tuple[float, float] | None = None,
    ) -> ca.SX:
        """A differential state. ``bounds`` (in ``units``) are where it can physically be: by default
        non-negative (amounts, volumes, counts, concentrations), above absolute zero for a temperature;
        a state that can be negative (a net amount generated, say) declares ``UNBOUNDED``. Initial
        values, recipe set/add actions and the solution are checked against them."""
        self._claim(name)
        parse_units(units)
        sym = ca.SX.sym(name, shape)
        if isinstance(initial, (ca.SX, ca.MX)):
            initial = from_si(initial, units)
        seen = self._si(sym, units)
        self._states.append(
            {
                "name": name,
                "units": units,
                "sym": sym,
                "initial": initial,
                "description": description,
                "rhs": None,
                "seen": seen,
                "bounds": _checked_bounds(name, bounds if bounds is not None else default_bounds(units, "state")),
            }
        )
        return seen

    def algebraic(self, name: str, units: str, guess, shape: int = 1, description: str = "") -> ca.SX:
        self._claim(name)
        parse_units(units)
        sym = ca.SX.sym(name, shape)
        self._algs.append({"name": name, "units": units, "sym": sym, "initial": guess, "description": description})
        return self._si(sym, units)

    def ode(self, state: ca.SX, rhs):
        """d(state)/dt = rhs, for a symbol returned by :meth:`state` (both in SI, t in s)."""
        for s in self._states:
            if s["seen"] is state:
                if s["rhs"] is not None:
                    raise ValueError(f"state '{s['name']}' already has an equation")
                rhs = ca.SX(rhs)
                if rhs.shape != s["sym"].shape:
                    raise ValueError(f"equation for '{s['name']}' has shape {rhs.shape}, state has {s['sym'].shape}")
                ratio = si_scale(self.time_units)[0] / si_scale(s["units"])[0]
                if ratio != 1.0:  # dx/dt_model = (dx_SI/dt_SI) (dt_SI/dt_model) / (dx_SI/dx)
                    rhs = rhs * ratio
                s["rhs"] = rhs
                return
        raise ValueError("ode(): the first argument must be a symbol returned by state()")

    def alg(self, residual):
        """Algebraic equations 0 = residual; their total size must equal the algebraic states'."""
        self._residuals.append(ca.vec(ca.SX(residual)))

    def output(self, name: str, expr, units: str, description: str = "", bounds: tuple[float, float] | None = None):
        """An output reported in ``units`` (``expr`` in SI); ``bounds`` (in ``units``) are its physical
        range, used to judge measured data (default: above absolute zero for a temperature, else none)."""
        self._claim(name)
        parse_units(units)
        expr = ca.SX(expr)
        if expr.numel() != 1:
            raise ValueError(f"output '{name}' must be a scalar expression")
        bounds = _checked_bounds(name, bounds if bounds is not None else default_bounds(units, "output"))
        self._outputs.append((name, from_si(expr, units), units, description, bounds))

    def structured(self, rhs: ca.Function, jacobian: ca.Function):
        """An equivalent, faster form of the ODE: ``rhs(x, p, u)`` -> dx/dt and ``jacobian(x, p, u)`` -> d rhs/dx.

        x, p and u are the full state, parameter and input vectors in declaration order (in SI;
        dx/dt per second). ``build`` checks that ``rhs`` equals the declared
        equations at the default parameters and initial state.
        """
        self._structured = StructuredODE(rhs, jacobian)

    def build(self) -> Model:
        missing = [s["name"] for s in self._states if s["rhs"] is None]
        if missing:
            raise ValueError(f"model '{self.name}': states without an equation: {', '.join(missing)}")
        if not self._states:
            raise ValueError(f"model '{self.name}' has no states")
        nz_declared = sum(a["sym"].numel() for a in self._algs)
        res = ca.vertcat(*self._residuals) if self._residuals else ca.SX(0, 1)
        if res.numel() != nz_declared:
            raise ValueError(
                f"model '{self.name}': {res.numel()} algebraic equations for {nz_declared} algebraic states"
            )
        if self._structured is not None:
            self._structured = self._structured_in_declared_units()
        return Model(self)

    def _structured_in_declared_units(self) -> StructuredODE:
        """The structured ODE, written in SI, as a function of the declared-unit vectors."""
        given = self._structured
        assert given is not None

        def scales(entries, units_of, size_of):
            f = (
                np.concatenate([np.full(size_of(e), si_scale(units_of(e))[0]) for e in entries])
                if entries
                else np.zeros(0)
            )
            o = (
                np.concatenate([np.full(size_of(e), si_scale(units_of(e))[1]) for e in entries])
                if entries
                else np.zeros(0)
            )
            return f, o

        fx, ox = scales(self._states, lambda s: s["units"], lambda s: s["sym"].numel())
        fp, op = scales(self._params, lambda e: e[0].units, lambda e: 1)
        fu, ou = scales(self._inputs, lambda e: e[0].units, lambda e: 1)
        if (
            all(np.all(f == 1.0) and np.all(o == 0.0) for f, o in ((fx, ox), (fp, op), (fu, ou)))
            and si_scale(self.time_units)[0] == 1.0
        ):
            return given
        x, p, u = ca.MX.sym("x", len(fx)), ca.MX.sym("p", len(fp)), ca.MX.sym("u", len(fu))

        def in_si(v, f, o):  # skip identity scalings, so the compiled code does no needless work
            v = v if np.all(f == 1.0) else v * f
            return v if not np.any(o) else v + o

        args = (in_si(x, fx, ox), in_si(p, fp, op), in_si(u, fu, ou))
        per_time = si_scale(self.time_units)[0] / fx
        rhs = ca.Function(given.rhs.name(), [x, p, u], [given.rhs(*args) * per_time])
        # d rhs_declared / d x_declared = diag(per_time) J_SI diag(fx), elementwise so J keeps its sparsity
        jac = ca.Function(given.jacobian.name(), [x, p, u], [given.jacobian(*args) * ca.DM(np.outer(per_time, fx))])
        return StructuredODE(rhs, jac)


def _checked_bounds(name: str, bounds: tuple[float, float]) -> tuple[float, float]:
    lo, hi = float(bounds[0]), float(bounds[1])
    if not lo < hi:
        raise ValueError(f"'{name}': lower bound {lo} must be below upper bound {hi}")
    return (lo, hi)


def _blocks(entries: Sequence[dict[str, Any]]) -> tuple[Variable, ...]:
    out, offset = [], 0
    for e in entries:
        n = e["sym"].numel()
        out.append(Variable(e["name"], e["units"], n, offset, e["description"], e.get("bounds", UNBOUNDED)))
        offset += n
    return tuple(out)


class Model:
    """An immutable, built model: CasADi functions plus the metadata that describes them."""

    def __init__(self, b: ModelBuilder):
        self.name, self.version, self.description, self.time_units = b.name, b.version, b.description, b.time_units
        self.time_label = b.time_label
        self.parameters = ParameterTable(tuple(p for p, _ in b._params))
        self.inputs = ParameterTable(tuple(p for p, _ in b._inputs))
        self.states = _blocks(b._states)
        self.algebraics = _blocks(b._algs)
        self.outputs = tuple(Variable(n, u, 1, i, d, bnd) for i, (n, _, u, d, bnd) in enumerate(b._outputs))
        lower = [np.full(v.size, v.bounds[0]) for v in self.states]
        upper = [np.full(v.size, v.bounds[1]) for v in self.states]
        #: physical bounds of the state vector, element by element, in declared units
        self.state_lower, self.state_upper = np.concatenate(lower), np.concatenate(upper)
        #: declared units of every name (names are unique across the kinds)
        self.declared_units: dict[str, str] = {p.name: p.units for p in (*self.parameters, *self.inputs)} | {
            v.name: v.units for v in (*self.states, *self.algebraics, *self.outputs)
        }
        t = b.time_symbol
        x = ca.vertcat(*[s["sym"] for s in b._states])
        z = ca.vertcat(*[a["sym"] for a in b._algs]) if b._algs else ca.SX(0, 1)
        p = ca.vertcat(*[s for _, s in b._params]) if b._params else ca.SX(0, 1)
        u = ca.vertcat(*[s for _, s in b._inputs]) if b._inputs else ca.SX(0, 1)
        ode = ca.vertcat(*[s["rhs"] for s in b._states])
        alg = ca.vertcat(*b._residuals) if b._residuals else ca.SX(0, 1)
        y = ca.vertcat(*[e for _, e, _, _, _ in b._outputs]) if b._outputs else ca.SX(0, 1)
        self.nx, self.nz, self.np, self.nu, self.ny = x.numel(), z.numel(), p.numel(), u.numel(), y.numel()
        self.dae = ca.Function(
            f"{self.name}_dae", [t, x, z, p, u], [ode, alg], ["t", "x", "z", "p", "u"], ["ode", "alg"]
        )
        self.output_function = ca.Function(f"{self.name}_y", [t, x, z, p, u], [y], ["t", "x", "z", "p", "u"], ["y"])
        x0 = ca.vertcat(*[_initial(s) for s in b._states])
        z0 = ca.vertcat(*[_initial(a) for a in b._algs]) if b._algs else ca.SX(0, 1)
        self.initial_function = ca.Function(f"{self.name}_x0", [p], [x0, z0], ["p"], ["x0", "z0"])
        self.integrator_cache: dict[Any, ca.Function] = {}  # integrators by shape and options (core.integration)
        self.output_maps: dict[int, ca.Function] = {}  # number of output times -> mapped output_function
        self.structured_oracles: dict[bool, ca.Function | None] = {}
        self.structured = b._structured
        if self.structured is not None:
            self.structured.check(self)

    # -- values -------------------------------------------------------------------------------
    def parameter_vector(self, given: Mapping[str, Any] | None = None) -> np.ndarray:
        values = self.parameters.resolve(given, f"model '{self.name}' parameters")
        return np.array([values[n] for n in self.parameters.names], dtype=float)

    def input_vector(self, given: Mapping[str, Any] | None = None) -> np.ndarray:
        values = self.inputs.resolve(given, f"model '{self.name}' inputs")
        return np.array([values[n] for n in self.inputs.names], dtype=float)

    def units_of(self, name: str) -> str:
        """The declared units of a parameter, input, state, algebraic state or output."""
        if name not in self.declared_units:
            raise KeyError(f"model '{self.name}' declares no '{name}'")
        return self.declared_units[name]

    def from_si(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Values in SI (parameters, inputs, states or outputs, by name) in the model's declared units:
        what ``simulate`` takes from code that computes in SI."""
        return {name: from_si(value, self.units_of(name)) for name, value in values.items()}

    def to_si(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Values in the model's declared units (e.g. a result's final states), by name, in SI."""
        return {name: to_si(value, self.units_of(name)) for name, value in values.items()}

    def bounds_of(self, name: str) -> tuple[float, float]:
        """Physical bounds, in declared units, of a parameter, input, state, algebraic state or output."""
        for table in (self.parameters, self.inputs):
            if name in table:
                return table[name].bounds
        for v in (*self.states, *self.algebraics, *self.outputs):
            if v.name == name:
                return v.bounds
        raise KeyError(f"model '{self.name}' declares no '{name}'")

    def bound_margin(self, X: np.ndarray, atol: float, rtol: float) -> np.ndarray:
        """How far each state element may pass its bounds: BOUND_TOLERANCES solver tolerances, the relative
        part on the largest value (in ``X``, rows of states) of any state declared in the same units. States
        in one unit exchange material (dissolved and solid Al, say), so the error of a small one follows
        the size of the flows from the large ones."""
        largest = np.max(np.abs(np.atleast_2d(X)), axis=0)
        by_units: dict[str, float] = {}
        for v in self.states:
            by_units[v.units] = max(by_units.get(v.units, 0.0), float(np.max(largest[v.slice])))
        scale = np.concatenate([np.full(v.size, by_units[v.units]) for v in self.states])
        return BOUND_TOLERANCES * (atol + rtol * scale)

    def states_outside(self, x: np.ndarray, margin: np.ndarray | float = 0.0) -> list[tuple[str, str]]:
        """``(state name, reason)`` for each state of the vector ``x`` (declared units) with an element
        beyond its physical bounds by more than ``margin``, or not finite; the first such element is named."""
        x = np.asarray(x, dtype=float).ravel()
        bad = ~np.isfinite(x) | (x < self.state_lower - margin) | (x > self.state_upper + margin)
        out = []
        for v in self.states:
            hits = np.flatnonzero(bad[v.slice])
            if not hits.size:
                continue
            k = int(hits[0])
            value, (lo, hi) = x[v.offset + k], v.bounds
            column = v.columns()[k]
            if not np.isfinite(value):
                reason = f"{column} is not finite"
            else:
                side = f"below its lower bound {lo:g}" if value < lo else f"above its upper bound {hi:g}"
                reason = f"{column} = {value:.6g} {v.units} is {side} {v.units}"
            if hits.size > 1:
                reason += f" ({hits.size - 1} more of its elements too)"
            out.append((v.name, reason))
        return out

    def state(self, name: str) -> Variable:
        for v in self.states:
            if v.name == name:
                return v
        raise KeyError(f"model '{self.name}' has no state '{name}'; states: {', '.join(v.name for v in self.states)}")

    def initial_state(
        self,
        p: np.ndarray,
        overrides: Mapping[str, Any] | None = None,
        tolerances: tuple[float, float] = (0.0, 0.0),
    ) -> tuple[np.ndarray, np.ndarray]:
        """The initial states at parameters ``p``, with ``overrides`` (name -> value in declared units);
        a value beyond its physical bounds by more than the solver ``tolerances`` (atol, rtol) is refused."""
        x0, z0 = self.initial_function(p)
        x0 = np.array(x0, dtype=float).ravel()
        errors = []
        for name, value in (overrides or {}).items():
            try:
                var = self.state(name)
            except KeyError as exc:
                errors.append((name, exc.args[0]))
                continue
            try:
                scalar = not isinstance(value, (list, tuple, np.ndarray))
                arr = np.atleast_1d(to_magnitude(value, var.units) if scalar else np.asarray(value, dtype=float))
            except (UnitsError, TypeError, ValueError, OverflowError) as exc:
                shown = exc if isinstance(exc, UnitsError) else f"got {str(value)[:60]!r}"
                errors.append((name, f"expected a number (in {var.units}) or a list of {var.size} numbers; {shown}"))
                continue
            if arr.size not in (1, var.size) or not np.all(np.isfinite(arr)):
                errors.append((name, f"needs {var.size} finite value(s), got {arr.size}"))
                continue
            x0[var.slice] = arr
        if not errors:
            given = set(overrides or {})
            for name, reason in self.states_outside(x0, self.bound_margin(x0, *tolerances)):
                errors.append((name, reason if name in given else f"{reason} (computed from the parameters)"))
        if errors:
            raise ParameterError(errors, f"model '{self.name}' initial states")
        return x0, np.array(z0, dtype=float).ravel()

    def describe(self) -> dict[str, Any]:
        """Everything a user needs to write a spec for this model, as plain data."""

        def blocks(vs):
            return [{"name": v.name, "units": v.units, "size": v.size, "description": v.description} for v in vs]

        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "time_units": self.time_units,
            "time_label": self.time_label,
            "parameters": self.parameters.describe(),
            "inputs": self.inputs.describe(),
            "states": blocks(self.states),
            "algebraics": blocks(self.algebraics),
            "outputs": blocks(self.outputs),
        }

    def __repr__(self):
        return (
            f"Model({self.name!r} v{self.version}: {self.nx} states, {self.nz} algebraics, "
            f"{self.np} parameters, {self.nu} inputs, {self.ny} outputs)"
        )


def _flatten(declared) -> list[Parameter]:
    out: list[Parameter] = []
    for item in declared:
        out.extend([item] if isinstance(item, Parameter) else item)
    return out


def _initial(entry: dict[str, Any]) -> ca.SX:
    value = entry["initial"]
    n = entry["sym"].numel()
    if isinstance(value, ca.SX):
        expr = value
    else:
        arr = np.atleast_1d(np.asarray(value, dtype=float))
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"initial value of '{entry['name']}' is not finite")
        expr = ca.SX(ca.DM(np.broadcast_to(arr, (n,)).copy()))
    if expr.numel() == 1 and n > 1:
        expr = ca.repmat(expr, n, 1)
    if expr.numel() != n:
        raise ValueError(f"initial value of '{entry['name']}' has {expr.numel()} entries, expected {n}")
    return ca.vec(expr)
