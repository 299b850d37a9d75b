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

import warnings

import numpy as np

from meanfield._delta_series import delta_small_q
from meanfield._moments import _ZERO, _act, _dtypes, _moment, _out
from meanfield._selu_map import CENTRED_RTOL, VARIANCE_CANCELLATION, selu_map, selu_map_jacobian
from meanfield._validation import as_real_array, check_sign
from meanfield.activations import Activation
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
    "VARIANCE_CANCELLATION",
    "CENTRED_RTOL",
]


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
