"""Mean-field maps of an activation (DESIGN.md, section Notation).

All maps take an activation (an :class:`~meanfield.activations.Activation` or a
built-in name), broadcast over array arguments like NumPy, and accept
``method="auto" | "closed" | "quadrature" | "mpmath"`` (see :mod:`meanfield.engines`).
Throughout, ``z ~ N(0, 1)`` and ``x ~ N(0, q)``.

>>> round(float(phi("selu", 1.0)) - 1, 4)  # Chen et al.: SELU has eps = 0.0716
0.0716
>>> [round(float(v), 4) for v in gpn_constants("relu")]  # Lu et al.: ReLU-GPN = 1.4142 x
[1.4142, 0.0]
>>> round(float(r_score("relu", 1.0)), 3)  # Yuan & Zhu, Fig. 2
-0.383
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings

import numpy as np

from meanfield._delta_series import delta_small_q
from meanfield._validation import as_real_array, check_sign
from meanfield.activations import Activation, get_activation
from meanfield.engines import get_engine
from meanfield.errors import NumericalWarning

__all__ = [
    "second_moment",
    "phi",
    "dphi_dq",
    "delta",
    "gamma",
    "gamma1",
    "output_mean",
    "selu_map",
    "selu_map_jacobian",
    "gpn_constants",
    "normalization_factor",
    "r_score",
    "expect",
]


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


def second_moment(act, q, *, method="auto"):
    """Second moment of the activation's output, ``E[f(x)^2]``, x ~ N(0, q).

    The q-map with unit weight variance and no bias (Chen et al., eq. 2 and A.1):
    ``q_l = second_moment(q_{l-1})``.

    Parameters
    ----------
    act : Activation or str
    q : array_like
        Pre-activation second moment(s), ``q > 0``.
    method : {"auto", "closed", "quadrature", "mpmath"}

    Returns
    -------
    ndarray or float

    Examples
    --------
    >>> float(second_moment("relu", 2.0))  # q/2 for ReLU
    1.0
    """
    act = _act(act)
    like = _dtypes(q)
    q = as_real_array(q, "q", positive=True)
    return _out(_moment(act, "f2", _ZERO, q, method), like)


def phi(act, q, *, method="auto"):
    """``phi(q) = E[f'(x)^2]``, x ~ N(0, q) (Chen et al., eq. 6).

    The second moment of the activation Jacobian's singular values; Definition 2
    asks ``phi(1) = 1 + eps`` and ``min(1, 1/q) < phi(q) < max(1, 1/q)``.

    >>> float(phi("relu", 3.0))
    0.5
    """
    act = _act(act)
    like = _dtypes(q)
    q = as_real_array(q, "q", positive=True)
    return _out(_moment(act, "df2", _ZERO, q, method), like)


def dphi_dq(act, q, *, method="auto"):
    """Exact derivative ``d phi / d q`` (no finite difference).

    For ``g = f'^2`` with kinks ``a_i`` where ``g`` jumps by ``J_i``,

    .. math:: \\frac{d\\phi}{dq} = \\frac{E[x\\,g'(x)]}{2q}
              + \\sum_i J_i \\frac{a_i}{2q} \\frac{e^{-a_i^2/2q}}{\\sqrt{2\\pi q}}

    (closed engine) or equivalently ``E[g(x)(x^2 - q)]/(2 q^2)`` (other engines).

    >>> float(dphi_dq("linear", 1.0))
    0.0
    """
    act = _act(act)
    like = _dtypes(q)
    q = as_real_array(q, "q", positive=True)
    return _out(_moment(act, "df2", _ZERO, q, method, derivative="var"), like)


def delta(act, q, *, method="auto"):
    """``delta_q = q phi(q) / E[f(x)^2] - 1``, i.e. ``(1 + delta_q) E[f^2] = E[f'^2] E[x^2]``.

    Chen et al., eq. 2 and A.4; ``1 + delta_q`` is the per-layer gradient growth
    rate of Proposition 3.1.

    >>> float(delta("relu", 5.0))
    0.0
    """
    act = _act(act)
    like = _dtypes(q)
    q = as_real_array(q, "q", positive=True)
    second = _moment(act, "f2", _ZERO, q, method)
    if np.any(second <= 0):
        raise ValueError(f"E[f(x)^2] of {act.name} vanishes; delta_q is undefined")
    scaled = q * _moment(act, "df2", _ZERO, q, method)
    out = np.asarray(scaled / second - 1)
    exact = delta_small_q(act, q, second, method, out)
    # the subtraction amplifies the moments' rounding (~1e-15 relative) by (1 + delta)/|delta|
    with np.errstate(divide="ignore"):
        lost = np.where((out == 0) | exact | (q >= DELTA_WARN_MAX_Q), 0.0,
                        DELTA_MOMENT_RTOL * (scaled / second + 1) / np.abs(out))
    if np.any(lost > DELTA_WARN_RTOL):
        worst = float(q.ravel()[np.argmax(lost.ravel())])
        warnings.warn(f"delta_q of {act.name} at q={worst:.3g} keeps only a relative accuracy of "
                      f"{float(np.max(lost)):.1g}: q phi(q) and E[f^2] agree to within rounding",
                      NumericalWarning, stacklevel=2)
    return _out(out, like)


#: Relative accuracy of the moments delta is formed from, and the accuracy below which delta
#: warns (a NumericalWarning) that the subtraction q phi / E[f^2] - 1 has cancelled its digits.
DELTA_MOMENT_RTOL = 4e-16
DELTA_WARN_RTOL = 1e-10
#: The warning covers the small-q cancellation (delta_q = O(q) as q -> 0, where the series is not
#: available) only: at larger q a delta near 0 is a property of the activation (piecewise-linear f,
#: a GPN activation at q = 1), computed to an absolute accuracy of ~1e-16, not a loss of digits.
DELTA_WARN_MAX_Q = 1e-2


def gamma1(act, *, method="auto"):
    """``gamma_{q=1} = |d phi/dq (1) + 1|`` (Proposition 3.1, Table 5): smaller is stronger.

    >>> float(gamma1("linear"))  # phi = 1 everywhere: no self-normalization
    1.0
    """
    return _out(np.abs(dphi_dq(_act(act), 1.0, method=method) + 1))


def gamma(act, q, *, method="auto"):
    """``gamma_q`` of Chen et al., eq. 8: phi(q) as an interpolation between 1 and 1/q.

    ``q < 1``: ``1 - (phi(q) - 1)/(1/q - 1)``; ``q > 1``: ``(phi(q) - 1/q)/(1 - 1/q)``;
    ``q = 1``: :func:`gamma1`. Definition 2 holds at ``q`` exactly when ``0 < gamma_q < 1``.
    Near ``q = 1`` with ``phi(1) = 1 + eps != 1`` the ratio diverges like ``eps/|q - 1|``.

    >>> float(gamma("relu", 4.0))  # phi = 1/2: (1/2 - 1/4)/(3/4)
    0.333333333333...
    """
    act = _act(act)
    like = _dtypes(q)
    q = as_real_array(q, "q", positive=True)
    p = _moment(act, "df2", _ZERO, q, method)
    with np.errstate(divide="ignore", invalid="ignore"):
        below = 1 - (p - 1) / (1 / q - 1)
        above = (p - 1 / q) / (1 - 1 / q)
    out = np.where(q < 1, below, above)
    if np.any(q == 1):
        out = np.where(q == 1, gamma1(act, method=method), out)
    return _out(out, like)


def output_mean(act, mean, var, *, method="auto"):
    """``E[f(x)]``, x ~ N(mean, var): the output-mean map (Chen et al., eq. 12, Fig. 3).

    >>> round(float(output_mean("selu", 0.0, 1.0)), 12)  # SELU's fixed point has mean 0
    0.0
    """
    act = _act(act)
    like = _dtypes(mean, var)
    mean = as_real_array(mean, "mean")
    var = as_real_array(var, "var", positive=True)
    mean, var = np.broadcast_arrays(mean, var)
    return _out(_moment(act, "f", mean, var, method), like)


def _selu_args(mu, nu, omega, tau):
    mu = as_real_array(mu, "mu")
    nu = as_real_array(nu, "nu", positive=True)
    omega = as_real_array(omega, "omega")
    tau = as_real_array(tau, "tau", positive=True)
    return np.broadcast_arrays(mu, nu, omega, tau)


def selu_map(act, mu, nu, omega=0.0, tau=1.0, *, method="auto"):
    """Klambauer et al.'s mean/variance map ``g: (mu, nu) -> (mu~, nu~)``.

    ``mu~ = E[f(y)]``, ``nu~ = Var[f(y)] = E[(f(y) - mu~)^2]`` with ``y ~ N(mu*omega, nu*tau)``;
    ``omega`` and ``tau`` are n times the mean and second moment of the weights.

    The variance is the central moment: ``E[f^2] - mu~^2`` is used only where it keeps
    ``VARIANCE_CANCELLATION`` (a factor 1e3 of the engines' ~1e-15 rounding); elsewhere
    (``|mu~|`` large against the spread: linear at mean 1e8, erf at large mean and small
    variance) the centred integrand ``(f(y) - mu~)^2`` is integrated directly, and where even
    that cannot resolve the spread in float64 a ValueError says so.

    Returns
    -------
    (mean, variance) : tuple of arrays

    Examples
    --------
    >>> m, v = selu_map("selu", 0.0, 1.0)
    >>> round(float(m), 10), round(float(v), 10)  # the fixed point (0, 1)
    (0.0, 1.0)
    >>> [float(v) for v in selu_map("linear", 1e8, 1.0, omega=1.0)]  # Var y = 1 exactly
    [100000000.0, 1.0]
    """
    act = _act(act)
    like = _dtypes(mu, nu)
    mu, nu, omega, tau = _selu_args(mu, nu, omega, tau)
    m, v = mu * omega, nu * tau
    first = _moment(act, "f", m, v, method)
    second = _moment(act, "f2", m, v, method)
    variance = _central(act, m, v, method, first, second, second - first**2, None)
    return _out(first, like), _out(variance, like)


#: ``E[f^2] - (E f)^2`` is trusted where ``(E f^2 + (E f)^2) / Var f`` (the factor by which the
#: subtraction amplifies the moments' rounding, ~1e-15) stays below this: the result then keeps
#: 1e-12 relative accuracy. Larger factors switch to the centred integrand.
VARIANCE_CANCELLATION = 1e3
#: The centred integrand ``(f - mu)^2`` is evaluated from rounded values of ``f``: its relative
#: error is about ``2 eps max|f| / sd``; beyond this bound float64 cannot resolve the variance.
CENTRED_RTOL = 1e-10


def _central(act, m, v, method, first, second, direct, derivative, parts=None):
    """``Var f`` (or its derivative in mean/var) with the cancellation guard described above.

    ``direct`` is the moment formula's value; ``parts`` the absolute sizes of its terms
    (default ``E f^2 + (E f)^2``). Values whose amplification exceeds the guard are recomputed
    as quadratures of ``(f - E f)^2`` (times ``z/s`` or ``(z^2 - 1)/(2v)`` for derivatives).
    """
    from meanfield.engines.quadrature import gauss_expectation, gauss_expectation_weighted

    size = np.abs(second) + first**2 if parts is None else parts
    direct = np.asarray(direct, dtype=float)
    limit = VARIANCE_CANCELLATION if method != "mpmath" else 1e15
    with np.errstate(divide="ignore", invalid="ignore"):
        bad = ~(size <= limit * np.abs(direct)) & (size > 0)
    if derivative is None:
        bad |= direct < 0
    if not bad.any():
        return np.maximum(direct, 0.0) if derivative is None else direct
    out = np.array(direct, dtype=float)
    flat_out = out.reshape(-1)
    mb, vb, fb = (np.broadcast_to(a, out.shape).reshape(-1) for a in (m, v, first))
    second_b = np.broadcast_to(second, out.shape).reshape(-1)
    for i in np.flatnonzero(bad.reshape(-1)):
        mu, mean, var = float(fb[i]), float(mb[i]), float(vb[i])

        def centred(x, mu=mu):
            return np.square(act.f(x) - mu)

        if derivative is None:
            shifted = _shifted_closed_variance(act, mean, var, mu)
            if shifted is not None:
                flat_out[i] = shifted
                continue
        variance = float(gauss_expectation(centred, mean, var, kinks=act.kinks, scale=act.scale))
        spread = np.sqrt(max(variance, 0.0))
        noise = 2 * np.finfo(float).eps * (abs(mu) + np.sqrt(abs(second_b[i])))
        if not spread > 0 or noise > CENTRED_RTOL * spread:
            raise ValueError(
                f"Var f(y) of {act.name} at mean={mean:.6g}, var={var:.6g} is below what float64 "
                f"values of f near {mu:.6g} can resolve (spread {spread:.3g}, rounding {noise:.3g})")
        if derivative is None:
            flat_out[i] = variance
        else:
            flat_out[i] = float(gauss_expectation_weighted(centred, mean, var, derivative,
                                                           kinks=act.kinks, scale=act.scale))
    return out


def _shifted_closed_variance(act, mean, var, mu):
    """``Var f(y)``, y ~ N(mean, var), from the closed form of ``g(u) = f(mean + u) - mu``.

    The shift is done in SymPy on the expression, so constants cancel exactly (linear at mean
    1e8: ``g(u) = u``) and ``Var g = E g^2 - (E g)^2`` at mean 0 has nothing left to cancel.
    None when the shifted expression has no closed form (erf at a non-zero mean) or the
    subtraction still loses more than :data:`VARIANCE_CANCELLATION`.
    """
    from meanfield.engines import ENGINES
    from meanfield.engines.closed import derive

    if act.template is None or not ENGINES["closed"].supports(act, "f2"):
        return None
    shifted = _shifted_expression(act.expr, float(mean), float(mu))
    zero, v = np.zeros(()), np.asarray(float(var))
    try:
        with np.errstate(all="ignore"):
            second = float(derive(shifted, (), "f2")({}, zero, v))
            first = float(derive(shifted, (), "f")({}, zero, v))
    except ValueError:  # NotClosedForm included
        return None
    variance = second - first * first
    if not (variance > 0 and second + first * first <= VARIANCE_CANCELLATION * variance):
        return None
    return variance


@functools.lru_cache(maxsize=64)
def _shifted_expression(expr, mean, mu):
    """``f(mean + u) - mu`` as a SymPy expression in ``u`` (named x)."""
    import sympy as sp

    from meanfield.expressions import X

    return sp.piecewise_fold(expr.subs(X, X + sp.Float(mean, 17)) - sp.Float(mu, 17))


def selu_map_jacobian(act, mu, nu, omega=0.0, tau=1.0, *, method="auto"):
    """2x2 Jacobian of :func:`selu_map` with respect to ``(mu, nu)``, shape ``(..., 2, 2)``.

    Rows are ``(mu~, nu~)``, columns ``(mu, nu)``. Exact: ``d/dmu = omega d/dm``,
    ``d/dnu = tau d/dv`` of the Gaussian expectations, computed by the engine; the variance
    row is the derivative of the central moment, ``d E[f^2] - 2 E[f] d E[f]``, recomputed from
    the centred integrand where that difference cancels (as in :func:`selu_map`).
    Klambauer et al.: at SELU's fixed point (0, 1) with ``omega=0, tau=1`` the
    spectral norm is 0.7877 < 1 (the map is a contraction).

    >>> J = selu_map_jacobian("selu", 0.0, 1.0)
    >>> round(float(np.linalg.norm(J, 2)), 4)
    0.7877
    """
    act = _act(act)
    like = _dtypes(mu, nu)
    mu, nu, omega, tau = _selu_args(mu, nu, omega, tau)
    m, v = mu * omega, nu * tau
    first = _moment(act, "f", m, v, method)
    second = _moment(act, "f2", m, v, method)
    d1_dm = _moment(act, "f", m, v, method, "mean")
    d1_dv = _moment(act, "f", m, v, method, "var")
    d2_dm = _moment(act, "f2", m, v, method, "mean")
    d2_dv = _moment(act, "f2", m, v, method, "var")
    dvar_dm = _central(act, m, v, method, first, second, d2_dm - 2 * first * d1_dm, "mean",
                       parts=np.abs(d2_dm) + np.abs(2 * first * d1_dm))
    dvar_dv = _central(act, m, v, method, first, second, d2_dv - 2 * first * d1_dv, "var",
                       parts=np.abs(d2_dv) + np.abs(2 * first * d1_dv))
    jac = np.empty(m.shape + (2, 2))
    jac[..., 0, 0] = omega * d1_dm
    jac[..., 0, 1] = tau * d1_dv
    jac[..., 1, 0] = omega * dvar_dm
    jac[..., 1, 1] = tau * dvar_dv
    return _out(jac, like)


def gpn_constants(act, *, sign=1, method="auto"):
    """``(a, b)`` making ``a f + b`` Gaussian-Poincare normalized (Lu, Gould, Ajanthan).

    ``E[(a f(z) + b)^2] = E[(a f'(z))^2] = 1`` with ``a = E[f'(z)^2]^(-1/2)`` and
    ``b = -a E[f(z)] + sign * sqrt(1 - a^2 Var[f(z)])``. The root is real by the
    Gaussian-Poincare inequality ``Var f <= E f'^2``; ``sign=+1`` (default) gives the
    non-negative-mean version, continuous in the activation's parameters.

    >>> a, b = gpn_constants("lrelu")  # Yuan & Zhu: LReLU(0.01)-GPN has a = 1.4141
    >>> round(float(a), 4)
    1.4141
    """
    act = _act(act)
    if isinstance(sign, np.ndarray) and sign.size == 1:
        sign = sign.item()
    sign = check_sign(sign)
    one, zero = np.ones(()), np.zeros(())
    p = float(_moment(act, "df2", zero, one, method))
    if p <= 0:
        raise ValueError(f"E[f'(z)^2] of {act.name} is 0: a constant activation has no GPN version")
    a = p**-0.5
    first = float(_moment(act, "f", zero, one, method))
    var_f = float(_moment(act, "f2", zero, one, method)) - first**2
    slack = 1 - a * a * var_f
    if slack < 0:
        # Var f <= E f'^2 (Gaussian-Poincare), so only rounding makes slack negative.
        if slack < -1e-9:
            raise ValueError(f"Var f(z) > E f'(z)^2 for {act.name}: the Gaussian-Poincare "
                             "inequality fails, so f' does not match f (check the derivative)")
        slack = 0.0
    return a, float(-a * first + sign * np.sqrt(slack))  # both Python floats


def normalization_factor(act, var=1.0, *, method="auto"):
    """Yuan & Zhu's ``(rho, rho', lam)`` at input variance ``var`` (eq. 5, 6, 13, 31).

    ``rho = Var[f(x)]/var``, ``rho' = E[f'(x)^2]``, ``lam = sqrt((rho + rho')/(2 rho rho'))``
    with x ~ N(0, var).

    >>> rho, rho_p, lam = normalization_factor("linear", 2.0)
    >>> float(rho), float(rho_p), float(lam)
    (1.0, 1.0, 1.0)
    """
    act = _act(act)
    var = as_real_array(var, "var", positive=True)
    zero = np.zeros_like(var)
    first = _moment(act, "f", zero, var, method)
    rho = (_moment(act, "f2", zero, var, method) - first**2) / var
    rho_p = _moment(act, "df2", zero, var, method)
    if np.any(rho <= 0) or np.any(rho_p <= 0):
        raise ValueError(f"{act.name} has zero output variance or zero derivative at this var")
    lam = np.sqrt((rho + rho_p) / (2 * rho * rho_p))
    return _out(rho), _out(rho_p), _out(lam)


def r_score(act, var=1.0, *, method="auto"):
    """Yuan & Zhu's R score ``ln(Var[f(x)] / (var E[f'(x)^2]))``, x ~ N(0, var) (eq. 19).

    Never positive (Gaussian-Poincare); 0 only for linear functions.

    >>> float(r_score("linear", 3.0))
    0.0
    """
    rho, rho_p, _ = normalization_factor(act, var, method=method)
    return _out(np.log(np.asarray(rho) / np.asarray(rho_p)))


def expect(g, mean=0.0, var=1.0, *, method="auto", kinks=None, params=None):
    """General Gaussian expectation ``E[g(x)]``, x ~ N(mean, var).

    Parameters
    ----------
    g : Activation, str, or callable
        An activation, a SymPy expression string in ``x`` (parsed safely), or a
        vectorized NumPy callable (quadrature engine only).
    mean, var : array_like
    method : {"auto", "closed", "quadrature", "mpmath"}
    kinks : sequence of float, optional
        Points where a callable ``g`` is not smooth (the quadrature splits there); ``None``
        detects them numerically (see :meth:`~meanfield.activations.Activation.from_callables`).
    params : dict, optional
        Parameter values for an expression string.

    Examples
    --------
    >>> float(expect("x**4", 0.0, 2.0))  # 3 var^2
    12.0
    """
    if isinstance(g, Activation):
        act = g
    elif isinstance(g, str):
        act = Activation.from_expression(g, params=params)
    elif callable(g):
        act = Activation.from_callables(g, None, name="g", kinks=kinks)
    else:
        raise ValueError(f"g must be an Activation, an expression string or a callable; got {g!r}")
    return output_mean(act, mean, var, method=method)
