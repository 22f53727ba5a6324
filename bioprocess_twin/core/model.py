"""Declare a dynamic model once, symbolically in CasADi.

A model is written in a dozen lines with :class:`ModelBuilder`::

    m = ModelBuilder("monod_batch", version="1.0", time_units="h")
    mu_max = m.parameter("mu_max", "1/h", 0.5, bounds=(0, 3), source="Monod 1949")
    K_s = m.parameter("K_s", "g/L", 0.2, bounds=(1e-6, 50))
    Y = m.parameter("Y_xs", "g/g", 0.5, bounds=(0.01, 1))
    X = m.state("X", "g/L", initial=0.1)
    S = m.state("S", "g/L", initial=10.0)
    mu = mu_max * S / (K_s + S)
    m.ode(X, mu * X)
    m.ode(S, -mu * X / Y)
    m.output("mu", mu, "1/h")
    model = m.build()

States may be vectors (``shape=n``, e.g. the classes of a population balance) and their initial
values may be expressions of parameters. Algebraic states and residuals make the model a DAE,
integrated by IDAS instead of CVODES.

A large ODE model may also give :meth:`ModelBuilder.structured`: the same right-hand side written
with vector and matrix operations (CasADi MX) and its analytic Jacobian. The simulator then uses
them, compiled to C (``core.structured``), for the nominal integration; the declared equations stay
the reference for outputs and sensitivities.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import casadi as ca
import numpy as np

from .parameters import Parameter, ParameterError, ParameterTable
from .units import parse_units


@dataclass(frozen=True)
class Variable:
    """A named block of the state, algebraic or output vector."""

    name: str
    units: str
    size: int
    offset: int
    description: str = ""

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

    def check(self, model: "Model", rtol: float = 1e-9):
        """Shapes, and rhs == the declared equations at the default parameters, inputs and initial state."""
        if model.nz:
            raise ValueError(f"model '{model.name}': a structured ODE needs a model without algebraic states")
        sizes = [(model.nx, 1), (model.np, 1), (model.nu, 1)]
        for f, out in ((self.rhs, (model.nx, 1)), (self.jacobian, (model.nx, model.nx))):
            if f.n_in() != 3 or [f.size_in(i) for i in range(3)] != sizes or f.n_out() != 1 or f.size_out(0) != out:
                raise ValueError(f"model '{model.name}': structured function '{f.name()}' must map x{sizes[0]}, "
                                 f"p{sizes[1]}, u{sizes[2]} to one {out[0]}x{out[1]} output")
        p, u = model.parameter_vector(), model.input_vector()
        x, _ = model.initial_state(p)
        ref = np.array(model.dae(0.0, x, np.zeros(0), p, u)[0], dtype=float).ravel()
        got = np.array(self.rhs(x, p, u), dtype=float).ravel()
        if not np.allclose(got, ref, rtol=rtol, atol=rtol * max(np.max(np.abs(ref)), 1e-300)):
            worst = int(np.argmax(np.abs(got - ref)))
            raise ValueError(f"model '{model.name}': structured rhs differs from the declared equations "
                             f"(state {worst}: {got[worst]:.6g} vs {ref[worst]:.6g})")


class ModelBuilder:
    """Collects symbols and equations; :meth:`build` checks them and returns a :class:`Model`."""

    def __init__(self, name: str, version: str, description: str = "", time_units: str = "s",
                 time_label: str = "time"):
        parse_units(time_units)
        self.name, self.version, self.description, self.time_units = name, version, description, time_units
        self.time_label = time_label   # what the time axis counts, e.g. "pass" for a pass-by-pass model
        self.t = ca.SX.sym("t")
        self._params: list[tuple[Parameter, ca.SX]] = []
        self._inputs: list[tuple[Parameter, ca.SX]] = []
        self._states: list[dict[str, Any]] = []
        self._algs: list[dict[str, Any]] = []
        self._residuals: list[ca.SX] = []
        self._outputs: list[tuple[str, ca.SX, str, str]] = []
        self._names: set[str] = set()
        self._structured: StructuredODE | None = None

    def _claim(self, name: str):
        if not name.isidentifier():
            raise ValueError(f"'{name}' is not a valid name (use letters, digits and _)")
        if name in self._names:
            raise ValueError(f"'{name}' is declared twice in model '{self.name}'")
        self._names.add(name)

    def parameter(self, name: str, units: str, default: float, bounds=(-np.inf, np.inf),
                  source: str = "", description: str = "", integer: bool = False) -> ca.SX:
        self._claim(name)
        sym = ca.SX.sym(name)
        self._params.append((Parameter(name, units, default, tuple(bounds), source, description, integer), sym))
        return sym

    def input(self, name: str, units: str, default: float, bounds=(-np.inf, np.inf),
              description: str = "", source: str = "") -> ca.SX:
        """A piecewise-constant input (manipulated or operating variable)."""
        self._claim(name)
        sym = ca.SX.sym(name)
        self._inputs.append((Parameter(name, units, default, tuple(bounds), source, description), sym))
        return sym

    def state(self, name: str, units: str, initial, shape: int = 1, description: str = "") -> ca.SX:
        self._claim(name)
        sym = ca.SX.sym(name, shape)
        self._states.append({"name": name, "units": units, "sym": sym, "initial": initial,
                             "description": description, "rhs": None})
        return sym

    def algebraic(self, name: str, units: str, guess, shape: int = 1, description: str = "") -> ca.SX:
        self._claim(name)
        sym = ca.SX.sym(name, shape)
        self._algs.append({"name": name, "units": units, "sym": sym, "initial": guess, "description": description})
        return sym

    def ode(self, state: ca.SX, rhs):
        for s in self._states:
            if s["sym"] is state:
                if s["rhs"] is not None:
                    raise ValueError(f"state '{s['name']}' already has an equation")
                rhs = ca.SX(rhs)
                if rhs.shape != state.shape:
                    raise ValueError(f"equation for '{s['name']}' has shape {rhs.shape}, state has {state.shape}")
                s["rhs"] = rhs
                return
        raise ValueError("ode(): the first argument must be a symbol returned by state()")

    def alg(self, residual):
        """Algebraic equations 0 = residual; their total size must equal the algebraic states'."""
        self._residuals.append(ca.vec(ca.SX(residual)))

    def output(self, name: str, expr, units: str, description: str = ""):
        self._claim(name)
        parse_units(units)
        expr = ca.SX(expr)
        if expr.numel() != 1:
            raise ValueError(f"output '{name}' must be a scalar expression")
        self._outputs.append((name, expr, units, description))

    def structured(self, rhs: ca.Function, jacobian: ca.Function):
        """An equivalent, faster form of the ODE: ``rhs(x, p, u)`` -> dx/dt and ``jacobian(x, p, u)`` -> d rhs/dx.

        x, p and u are the full state, parameter and input vectors in declaration order. ``build``
        checks that ``rhs`` equals the declared equations at the default parameters and initial state.
        """
        self._structured = StructuredODE(rhs, jacobian)

    def build(self) -> "Model":
        missing = [s["name"] for s in self._states if s["rhs"] is None]
        if missing:
            raise ValueError(f"model '{self.name}': states without an equation: {', '.join(missing)}")
        if not self._states:
            raise ValueError(f"model '{self.name}' has no states")
        nz_declared = sum(a["sym"].numel() for a in self._algs)
        res = ca.vertcat(*self._residuals) if self._residuals else ca.SX(0, 1)
        if res.numel() != nz_declared:
            raise ValueError(f"model '{self.name}': {res.numel()} algebraic equations for {nz_declared} algebraic states")
        return Model(self)


def _blocks(entries: Sequence[dict[str, Any]]) -> tuple[Variable, ...]:
    out, offset = [], 0
    for e in entries:
        n = e["sym"].numel()
        out.append(Variable(e["name"], e["units"], n, offset, e["description"]))
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
        self.outputs = tuple(Variable(n, u, 1, i, d) for i, (n, _, u, d) in enumerate(b._outputs))
        t = b.t
        x = ca.vertcat(*[s["sym"] for s in b._states])
        z = ca.vertcat(*[a["sym"] for a in b._algs]) if b._algs else ca.SX(0, 1)
        p = ca.vertcat(*[s for _, s in b._params]) if b._params else ca.SX(0, 1)
        u = ca.vertcat(*[s for _, s in b._inputs]) if b._inputs else ca.SX(0, 1)
        ode = ca.vertcat(*[s["rhs"] for s in b._states])
        alg = ca.vertcat(*b._residuals) if b._residuals else ca.SX(0, 1)
        y = ca.vertcat(*[e for _, e, _, _ in b._outputs]) if b._outputs else ca.SX(0, 1)
        self.nx, self.nz, self.np, self.nu, self.ny = x.numel(), z.numel(), p.numel(), u.numel(), y.numel()
        self.dae = ca.Function(f"{self.name}_dae", [t, x, z, p, u], [ode, alg], ["t", "x", "z", "p", "u"], ["ode", "alg"])
        self.output_function = ca.Function(f"{self.name}_y", [t, x, z, p, u], [y], ["t", "x", "z", "p", "u"], ["y"])
        x0 = ca.vertcat(*[_initial(s) for s in b._states])
        z0 = ca.vertcat(*[_initial(a) for a in b._algs]) if b._algs else ca.SX(0, 1)
        self.initial_function = ca.Function(f"{self.name}_x0", [p], [x0, z0], ["p"], ["x0", "z0"])
        self._integrators: dict[Any, ca.Function] = {}
        self._output_maps: dict[int, ca.Function] = {}      # number of output times -> mapped output_function
        self._structured_oracles: dict[bool, ca.Function | None] = {}
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

    def state(self, name: str) -> Variable:
        for v in self.states:
            if v.name == name:
                return v
        raise KeyError(f"model '{self.name}' has no state '{name}'; states: {', '.join(v.name for v in self.states)}")

    def initial_state(self, p: np.ndarray, overrides: Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
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
                arr = np.atleast_1d(np.asarray(value, dtype=float))
            except (TypeError, ValueError):
                errors.append((name, f"expected a number or a list of {var.size} numbers, got {value!r}"))
                continue
            if arr.size not in (1, var.size) or not np.all(np.isfinite(arr)):
                errors.append((name, f"needs {var.size} finite value(s), got {arr.size}"))
                continue
            x0[var.slice] = arr
        if errors:
            raise ParameterError(errors, f"model '{self.name}' initial states")
        return x0, np.array(z0, dtype=float).ravel()

    def describe(self) -> dict[str, Any]:
        """Everything a user needs to write a spec for this model, as plain data."""
        def blocks(vs):
            return [{"name": v.name, "units": v.units, "size": v.size, "description": v.description} for v in vs]
        return {"name": self.name, "version": self.version, "description": self.description,
                "time_units": self.time_units, "time_label": self.time_label, "parameters": self.parameters.describe(),
                "inputs": self.inputs.describe(), "states": blocks(self.states),
                "algebraics": blocks(self.algebraics), "outputs": blocks(self.outputs)}

    def __repr__(self):
        return (f"Model({self.name!r} v{self.version}: {self.nx} states, {self.nz} algebraics, "
                f"{self.np} parameters, {self.nu} inputs, {self.ny} outputs)")


def _initial(entry: dict[str, Any]) -> ca.SX:
    value = entry["initial"]
    n = entry["sym"].numel()
    if isinstance(value, (ca.SX, ca.MX)):
        expr = ca.SX(value)
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
