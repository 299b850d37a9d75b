"""Engine dispatch for the bivariate maps: validated arrays in, ``E[g(u1) g(u2)]`` out.

``method``: ``"closed"`` (a closed kernel, or a closed inner integral leaving a one-dimensional
outer rule), ``"quadrature"`` (any activation), ``"mpmath"`` (reference), ``"auto"`` (closed
where available, else quadrature). At ``c = 1`` with ``q1 = q2`` the values are exactly the
one-dimensional maps ``second_moment`` and ``phi`` (same engine).
"""

from __future__ import annotations

import numpy as np

from meanfield._validation import as_real_array
from meanfield.activations import Activation, get_activation
from meanfield.engines import METHODS, get_engine
from meanfield.engines.bivariate_closed import closed_kernel
from meanfield.engines.bivariate_quadrature import inner_closed_available, outer_expectation
from meanfield.engines.bivariate_reference import bivariate_mpmath

__all__ = ["as_activation", "check_correlation", "bivariate", "engine_name"]


def as_activation(act):
    """An :class:`Activation` from an activation or a built-in name."""
    return act if isinstance(act, Activation) else get_activation(act)


def check_correlation(c, name="c"):
    """``c`` as a float array after checking it is finite and in [-1, 1]."""
    arr = as_real_array(c, name)
    if np.any(np.abs(arr) > 1):
        bad = arr[np.abs(arr) > 1].ravel()[0]
        raise ValueError(f"{name} must be in [-1, 1] (a correlation); got {bad}")
    return arr


def engine_name(act, method):
    """Resolve ``method`` to ``"kernel"``, ``"closed"`` (closed inner), ``"quadrature"`` or ``"mpmath"``."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if method in ("auto", "closed"):
        if closed_kernel(act) is not None:
            return "kernel"
        if inner_closed_available(act):
            return "closed"
        if method == "closed":
            raise ValueError(f"{act.name} has no closed bivariate form (no closed kernel and no "
                             "closed inner integral); use method='quadrature' or 'auto'")
        return "quadrature"
    return method


def bivariate(act, which, q1, q2, c, method):
    """``E[g(u1) g(u2)]`` (``g = f`` for ``which="f"``, ``f'`` for ``"df"``), broadcast, validated."""
    q1 = as_real_array(q1, "q1", positive=True)
    q2 = as_real_array(q2, "q2", positive=True)
    c = check_correlation(c)
    q1, q2, c = np.broadcast_arrays(q1, q2, c)
    shape = q1.shape
    q1, q2, c = (a.ravel() for a in (q1, q2, c))
    name = engine_name(act, method)
    out = np.empty(q1.shape)
    diag = (c == 1) & (q1 == q2)
    if diag.any():  # the one-dimensional maps, exactly
        quantity = "f2" if which == "f" else "df2"
        engine = get_engine(method, act, quantity)  # the engine second_moment/phi use
        out[diag] = engine.expect(act, quantity, np.zeros(int(diag.sum())), q1[diag])
    rest = ~diag
    if rest.any():
        a, b, r = q1[rest], q2[rest], c[rest]
        if name == "kernel":
            with np.errstate(invalid="ignore"):
                out[rest] = closed_kernel(act)(which, a, b, r, act.params)
        elif name == "mpmath":
            out[rest] = bivariate_mpmath(act, which, a, b, r)
        else:
            out[rest] = outer_expectation(act, act, which, a, b, r, name)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"E[{which}(u1) {which}(u2)] of {act.name} is not finite at the given "
                         "q1, q2, c (the expectation diverges or overflows float64)")
    out = out.reshape(shape)
    return out[()] if out.ndim == 0 else out
