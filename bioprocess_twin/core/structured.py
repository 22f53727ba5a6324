"""CVODES problem functions from a model's structured ODE (rhs and analytic Jacobian), compiled or not.

The simulator integrates every chunk in normalised time s in [0, 1] (see ``simulation.integrator``):
states [x, clock], parameters [p, u, span], dx/ds = span f(x, p, u), dclock/ds = span. This module
writes that system, and its Jacobian span df/dx, from ``model.structured`` (see
``ModelBuilder.structured``), instead of letting CasADi differentiate the declared equations:

- ``compiled``: one C library (``core.compiled``, cached on disk) holds the DAE and the two
  functions CVODES calls, ``daeF`` (right-hand side) and ``jacF`` (Jacobian). CasADi's integrator
  takes ``daeF``/``jacF`` from the library of an external DAE as they are, so each call is one C
  call with no graph around it.
- otherwise: CasADi MX functions in the virtual machine, the Jacobian given as the rhs's
  ``custom_jacobian``.

The Jacobian of a structured ODE is typically dense (a population balance couples every class),
so CVODES factorises it with dense LAPACK LU (``lapacklu``), with CasADi's OpenBLAS kept to one
thread: for matrices of this size its threads only add overhead on a shared machine.

Forward sensitivities (``core.trajectory``) use the compiled form too: its library also holds
``fwd1_daeF``, the forward derivative of the right-hand side in any direction of (x, p), by
CasADi's AD of the structured MX graph. CasADi's sensitivity integrator calls it once per
direction and reuses ``jacF`` for the Newton matrix. The virtual-machine form is for nominal runs
only: its custom Jacobian has no parameter columns, so its parameter derivatives would be zero.
"""

from __future__ import annotations

import ctypes
import os
from functools import lru_cache

import casadi as ca

from .compiled import compile_functions
from .model import Model

_EMPTY = ca.MX(0, 1)


def _normalised(model: Model):
    """Symbols (t, x, z, p, u) of the normalised DAE, its right-hand side and its Jacobian wrt x."""
    nx, npar, nu = model.nx, model.np, model.nu
    t, x, z = ca.MX.sym("t"), ca.MX.sym("x", nx + 1), ca.MX.sym("z", 0)
    p, u = ca.MX.sym("p", npar + nu + 1), ca.MX.sym("u", 0)
    args = (x[:nx], p[:npar], p[npar : npar + nu])
    assert model.structured is not None
    span = p[npar + nu]
    ode = ca.vertcat(span * model.structured.rhs(*args), span)
    jac = ca.diagcat(span * model.structured.jacobian(*args), ca.MX(1, 1))  # clock: no dependence, zero row
    return (t, x, z, p, u), ode, jac


def solver_options() -> dict:
    """CasADi integrator options for a structured ODE: dense LU (see the module docstring)."""
    _single_threaded_openblas()
    return {"linear_solver": "lapacklu"}


@lru_cache(maxsize=1)
def _single_threaded_openblas() -> bool:
    """Set CasADi's bundled OpenBLAS to one thread unless OPENBLAS_NUM_THREADS says otherwise."""
    if "OPENBLAS_NUM_THREADS" in os.environ:
        return False
    try:
        lib = ctypes.CDLL(os.path.join(os.path.dirname(ca.__file__), "libcasadi-tp-openblas.so.0"))
        lib.openblas_set_num_threads(1)
        return True
    except (OSError, AttributeError):
        return False


def oracle(model: Model, compiled: bool) -> ca.Function | None:
    """The DAE Function for ``ca.integrator``; None if ``compiled`` and no compiler is available."""
    cache = model.structured_oracles
    if compiled not in cache:
        cache[compiled] = _compiled(model) if compiled else _virtual_machine(model)
    return cache[compiled]


def _declared(model: Model):
    """As :func:`_normalised`, from the declared equations of an ODE model that gives no structured form
    (the Jacobian by CasADi's AD of the SX equations, clock column included)."""
    nx, npar, nu = model.nx, model.np, model.nu
    xs, ps = ca.SX.sym("x", nx + 1), ca.SX.sym("p", npar + nu + 1)
    span = ps[npar + nu]
    ode, _ = model.dae(xs[nx], xs[:nx], ca.SX(0, 1), ps[:npar], ps[npar : npar + nu])
    rhs = ca.vertcat(span * ode, span)
    f = ca.Function("declared", [xs, ps], [rhs, ca.jacobian(rhs, xs)])
    t, x, z = ca.MX.sym("t"), ca.MX.sym("x", nx + 1), ca.MX.sym("z", 0)
    p, u = ca.MX.sym("p", npar + nu + 1), ca.MX.sym("u", 0)
    ode_mx, jac_mx = f(x, p)
    return (t, x, z, p, u), ode_mx, jac_mx


def _compiled(model: Model) -> ca.Function | None:
    structured = model.structured is not None
    sym, ode, jac = _normalised(model) if structured else _declared(model)
    version = "".join(c if c.isalnum() else "_" for c in model.version)
    suffix = "" if structured else "_declared"
    return compile_ode(f"{model.name}_v{version}{suffix}", f"{model.name}_dae", sym, ode, jac, forward=True)


def compile_ode(library: str, dae_name: str, sym, ode: ca.MX, jac: ca.MX, forward: bool = False) -> ca.Function | None:
    """An external DAE ``dae_name`` for ``ca.integrator``, compiled with its ``daeF`` and ``jacF``.

    ``sym`` are the MX symbols (t, x, z, p, u) of the ODE ``ode`` (no algebraic states) and ``jac`` is
    d ode / dx. ``forward`` adds ``fwd1_daeF`` for forward sensitivities. None if no compiler works.
    """
    nx = sym[1].numel()
    names = ["t", "x", "z", "p", "u"]
    dae_f = ca.Function("daeF", list(sym), [ode, _EMPTY], names, ["ode", "alg"])
    functions = [
        ca.Function(dae_name, list(sym), [ode, _EMPTY, _EMPTY, _EMPTY], ca.dyn_in(), ca.dyn_out()),
        dae_f,
        ca.Function("quadF", list(sym), [_EMPTY], names, ["quad"]),
        ca.Function(
            "jacF",
            list(sym),
            [jac, ca.MX(0, nx), ca.MX(nx, 0), ca.MX(0, 0)],
            names,
            ["jac_ode_x", "jac_alg_x", "jac_ode_z", "jac_alg_z"],
        ),
    ]
    if forward:
        fwd = dae_f.forward(1)  # CasADi's External finds it by name: fwd<n>_<function>
        functions.append(ca.Function("fwd1_daeF", fwd.mx_in(), fwd.call(fwd.mx_in()), fwd.name_in(), fwd.name_out()))
    lib = compile_functions(library, functions)
    return None if lib is None else lib[dae_name]


def _virtual_machine(model: Model) -> ca.Function:
    (t, x, z, p, u), ode, jac = _normalised(model)
    name = f"{model.name}_ode"
    out = ca.MX.sym("out_ode", ca.Sparsity(x.numel(), 1))
    jac_f = ca.Function(
        f"jac_{name}",
        [x, p, out],
        [jac, ca.MX(x.numel(), p.numel())],
        ["x", "p", "out_ode"],
        ["jac_ode_x", "jac_ode_p"],
    )
    f = ca.Function(
        name, [x, p], [ode], ["x", "p"], ["ode"], {"custom_jacobian": jac_f, "jac_penalty": 0, "max_num_dir": x.numel()}
    )
    xs, ps = ca.MX.sym("x", x.numel()), ca.MX.sym("p", p.numel())  # fresh symbols keep the call (not inlined)
    return ca.Function(
        f"{model.name}_dae",
        [t, xs, z, ps, u],
        [f(xs, ps), _EMPTY, _EMPTY, _EMPTY],
        ca.dyn_in(),
        ca.dyn_out(),
        {"max_num_dir": x.numel()},
    )  # one batch of AD directions
