"""Klambauer et al.'s mean/variance map of SELU networks and its Jacobian (re-exported by :mod:`meanfield.maps`).

``g: (mu, nu) -> (mu~, nu~)`` with ``mu~ = E f(y)``, ``nu~ = Var f(y)``, ``y ~ N(mu omega, nu tau)``
(Klambauer et al. 2017, eq. 4-5; the summary in ``papers/self-normalizing-networks-summary.md``).
The variance is the central moment, guarded against the cancellation of ``E f^2 - (E f)^2``.
"""

from __future__ import annotations

import functools

import numpy as np

from meanfield._moments import _act, _dtypes, _moment, _out
from meanfield._validation import as_real_array

__all__ = ["selu_map", "selu_map_jacobian", "VARIANCE_CANCELLATION", "CENTRED_RTOL"]


def _input_moments(act, mu, nu, omega, tau, method):
    """What both maps start from: the checked arguments and ``E f(y)``, ``E f(y)^2``.

    Returns ``(act, like, omega, tau, m, v, first, second)`` with ``y ~ N(m, v)``,
    ``m = mu omega``, ``v = nu tau`` (all broadcast) and ``like`` the dtypes of ``mu, nu``.
    """
    act = _act(act)
    like = _dtypes(mu, nu)
    mu = as_real_array(mu, "mu")
    nu = as_real_array(nu, "nu", positive=True)
    omega = as_real_array(omega, "omega")
    tau = as_real_array(tau, "tau", positive=True)
    mu, nu, omega, tau = np.broadcast_arrays(mu, nu, omega, tau)
    m, v = mu * omega, nu * tau
    return act, like, omega, tau, m, v, _moment(act, "f", m, v, method), _moment(act, "f2", m, v, method)


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
    act, like, _, _, m, v, first, second = _input_moments(act, mu, nu, omega, tau, method)
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
    act, like, omega, tau, m, v, first, second = _input_moments(act, mu, nu, omega, tau, method)
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
