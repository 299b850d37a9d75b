"""The engines behind every map: dispatch, chunking, and the checks on their results.

:func:`_moment` is the one place a map asks an engine (:mod:`meanfield.engines`) for a Gaussian
expectation: it picks the engine (``method``), refuses non-integrable singularities before a
quadrature would return a finite number for them, evaluates in chunks of
:data:`CHUNK_VALUES`, and turns an overflow into a ValueError naming the map and the point.
:mod:`meanfield.maps` and :mod:`meanfield._selu_map` build on it.
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings

import numpy as np

from meanfield.activations import Activation, get_activation
from meanfield.engines import get_engine

__all__ = ["CHUNK_VALUES"]


def _act(act):
    return act if isinstance(act, Activation) else get_activation(act)


def _out(arr, like=None):
    """A float array (0-d -> NumPy scalar) in ``like``'s dtype when that is float32/float16."""
    dtype = np.result_type(*like) if like else np.float64
    if dtype not in (np.float32, np.float16):
        dtype = np.float64
    arr = np.asarray(arr, dtype=dtype)
    return arr[()] if arr.ndim == 0 else arr


def _dtypes(*values):
    """The floating dtypes of the user's array arguments (results keep float32 input float32)."""
    return [v.dtype for v in values if isinstance(v, np.ndarray) and v.dtype.kind == "f"]


#: Values per engine call. Memory stays bounded (issue 15: the quadrature's (values x nodes)
#: temporaries took 1.8 kB per value on 1e6 scattered pairs before), and the closed engine's
#: per-value temporaries (125 kB) stay below glibc's mmap threshold (128 KiB), so they are
#: reused from the heap instead of being mapped and page-faulted on every call (issue 18: a
#: fresh process was 2-4x slower than a warm one).
CHUNK_VALUES = {"closed": 16000, "quadrature": 4096, "mpmath": 4096}


#: the mean of x ~ N(0, q) for the maps at mean 0, broadcast by the engines (no array of zeros)
_ZERO = np.zeros(())

_QUANTITY_NAMES = {"f": "E[f(x)]", "f2": "E[f(x)^2]", "df2": "E[f'(x)^2]"}


def _moment(act, quantity, mean, var, method, derivative=None):
    """One engine expectation, evaluated in chunks, with overflow turned into a ValueError."""
    engine = get_engine(method, act, quantity)
    if engine.name != "closed":  # closed forms exist only for integrable pieces
        _check_integrable(act, quantity)
    mean, var = np.asarray(mean, float), np.asarray(var, float)
    shape = np.broadcast_shapes(mean.shape, var.shape)
    with contextlib.ExitStack() as stack:
        # a RuntimeWarning from an intermediate overflow never reaches the user: the result is
        # checked below and either finite or refused (the closed engine's NumPy arithmetic only
        # warns through errstate; the other engines call SymPy-generated and user code too)
        stack.enter_context(np.errstate(all="ignore"))
        if engine.name != "closed":
            stack.enter_context(warnings.catch_warnings())
            warnings.simplefilter("ignore", RuntimeWarning)
        chunk = CHUNK_VALUES.get(engine.name, 4096)
        size = math.prod(shape)
        if size <= chunk:
            out = np.asarray(engine.expect(act, quantity, mean, var, derivative), dtype=float)
        else:
            out = np.empty(shape)
            flat_out = out.reshape(-1)
            flat = [a if a.ndim == 0 else np.broadcast_to(a, shape).reshape(-1) for a in (mean, var)]
            for start in range(0, size, chunk):
                part = slice(start, start + chunk)
                flat_out[part] = engine.expect(act, quantity, *(a if a.ndim == 0 else a[part]
                                                               for a in flat), derivative)
        if out.shape != shape:
            out = np.broadcast_to(out, shape)
    # one reduction without a temporary: the sum of finite values is finite unless it overflows,
    # and any inf or nan makes it non-finite; only then is every value checked
    with np.errstate(all="ignore"):
        total = float(np.add.reduce(out, axis=None)) if out.size else 0.0
    if not math.isfinite(total) and not np.all(np.isfinite(out)):
        bad = np.flatnonzero(~np.isfinite(out).ravel())[0]
        what = _QUANTITY_NAMES[quantity] + ("" if derivative is None else f" (d/d{derivative})")
        at_mean = np.broadcast_to(mean, shape).ravel()[bad]
        at_var = np.broadcast_to(var, shape).ravel()[bad]
        raise ValueError(
            f"{what} of {act.name} at mean={at_mean:.6g}, var={at_var:.6g} "
            f"is not finite: the expectation diverges or overflows float64")
    return out


@functools.lru_cache(maxsize=128)
def _non_integrable_point(template, params, quantity):
    """A real point where ``g`` (= f, f^2 or f'^2) has a non-integrable singularity, or None.

    SymPy's ``singularities`` finds the poles; one at ``a`` is not integrable against the
    Gaussian when ``|g(x)| |x - a|`` does not tend to 0 (order >= 1: ``1/x``; ``|x|^(-1/2)`` is
    integrable, its square is not). Quadrature at fixed nodes would return a finite number.
    """
    import sympy as sp

    from meanfield.expressions import X

    expr = template.subs({sp.Symbol(k, real=True): v for k, v in params})
    g = {"f": expr, "f2": expr**2, "df2": sp.diff(expr, X) ** 2}[quantity]
    try:
        points = sp.singularities(g, X, sp.S.Reals)
    except (NotImplementedError, TypeError, ValueError):
        return None
    if not isinstance(points, sp.FiniteSet):
        return None
    for a in points:
        try:
            lim = sp.limit(sp.Abs(g) * sp.Abs(X - a), X, a)
        except (NotImplementedError, TypeError, ValueError):
            continue
        if lim != 0:
            return float(a)
    return None


def _check_integrable(act, quantity):
    if act.template is None:
        return
    point = _non_integrable_point(act.template, tuple(act.params.items()), quantity)
    if point is not None:
        raise ValueError(f"{_QUANTITY_NAMES[quantity]} of {act.name} diverges: the integrand has "
                         f"a non-integrable singularity at x = {point:.6g}")
