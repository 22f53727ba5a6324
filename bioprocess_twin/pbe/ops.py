"""Math dispatch between NumPy arrays and CasADi symbols.

Every PBE term is written once with these helpers.  When any argument is a
CasADi ``SX``/``MX``/``DM`` the CasADi function is used (so the expression
stays symbolic and can be integrated by CVODES); otherwise NumPy is used.
"""

from __future__ import annotations

import casadi
import numpy as np

_CASADI_TYPES = (casadi.SX, casadi.MX, casadi.DM)


def is_casadi(*xs) -> bool:
    """True when any argument is a CasADi matrix (SX, MX or DM)."""
    return any(isinstance(x, _CASADI_TYPES) for x in xs)


def is_symbolic(*xs) -> bool:
    """True when any argument is a CasADi SX/MX expression (not a DM number)."""
    return any(isinstance(x, (casadi.SX, casadi.MX)) for x in xs)


def exp(x):
    return casadi.exp(x) if is_casadi(x) else np.exp(x)


def sqrt(x):
    return casadi.sqrt(x) if is_casadi(x) else np.sqrt(x)


def log(x):
    return casadi.log(x) if is_casadi(x) else np.log(x)


def power(x, a):
    """x**a for arrays or CasADi expressions (a may itself be symbolic)."""
    if is_casadi(x, a):
        return casadi.power(x, a)
    return np.power(x, a)


def fmax(a, b):
    return casadi.fmax(a, b) if is_casadi(a, b) else np.maximum(a, b)


def fmin(a, b):
    return casadi.fmin(a, b) if is_casadi(a, b) else np.minimum(a, b)


def fabs(x):
    return casadi.fabs(x) if is_casadi(x) else np.abs(x)


def sign(x):
    return casadi.sign(x) if is_casadi(x) else np.sign(x)


def scale(factor, array):
    """``factor * array`` where ``array`` is numeric and ``factor`` may be symbolic.

    A symbolic scalar times an N x N numeric matrix gives N^2 SX nodes (one
    product per entry); the numeric part is never re-derived symbolically.
    """
    array = np.asarray(array, dtype=float)
    if is_casadi(factor):
        return factor * casadi.DM(array)
    return factor * array


def column(x):
    """Return a column vector: NumPy 1-D array or CasADi n x 1 matrix."""
    if is_casadi(x):
        if x.shape[1] != 1 and x.shape[0] == 1:
            return x.T
        return x
    return np.asarray(x, dtype=float).reshape(-1)


def to_casadi(x):
    """Convert numbers/arrays to a CasADi column/matrix, keep CasADi as is."""
    if is_casadi(x):
        return x
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    return casadi.DM(arr)


def matvec(op, x):
    """Sparse/dense operator (scipy.sparse or ndarray) times vector ``x``.

    For CasADi ``x`` the operator becomes a sparse ``DM``; the product then
    has one SX node per structural non-zero of ``op``.
    """
    if is_casadi(x):
        return casadi.mtimes(casadi.DM(op), x)
    return op @ x
