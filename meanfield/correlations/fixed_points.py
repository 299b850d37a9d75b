r"""Fixed points, criticality and depth scales of the q- and c-maps (Schoenholz et al. 2017).

* ``q*``: the stable fixed point of the length map ``q -> sigma_w^2 E[f(sqrt(q) z)^2] + sigma_b^2``
  (Poole et al. 2016, eq. 3) reached from ``q0 = 1``;
* ``chi1 = sigma_w^2 E[f'(sqrt(q*) z)^2]`` (Schoenholz et al. 2017, eq. 6): ``chi1 < 1`` ordered,
  ``chi1 > 1`` chaotic;
* ``c*``: the stable fixed point of the c-map (``1`` in the ordered phase);
* depth scales (Schoenholz et al. 2017, eqs. 7 and 9):
  ``xi_q^-1 = -log(sigma_w^2 dE[f(sqrt(q) z)^2]/dq at q*)`` (= ``-log(chi1 + sigma_w^2 E[f'' f])``
  for smooth f), ``xi_c^-1 = -log(sigma_w^2 E[f'(u1) f'(u2)] at (q*, c*))``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from meanfield.correlations._kernels import as_activation
from meanfield.correlations.maps import _layer_args, chi_c, correlation_map
from meanfield.engines import get_engine

__all__ = ["fixed_point", "chi1", "correlation_fixed_point", "depth_scales",
           "critical_weight_var", "q_floor"]

#: q* below this is reported as the attractor q* = 0; maps "at q* = 0" are evaluated here
#: (the limit q -> 0 of every built-in map is reached to float64 precision long before).
Q_ZERO = 1e-30
#: Largest q searched for a fixed point: beyond it the length map is taken to diverge.
Q_MAX = 1e12
#: Growth factor of the bracket search for q* (up and down from q0 = 1).
_Q_STEP = 4.0
#: |F(q)| / q below this counts as a fixed point at q itself (marginal maps such as ReLU at
#: sigma_w^2 = 2, sigma_b^2 = 0, where every q is fixed; a few ulps of the second moment).
_MARGINAL_RTOL = 1e-13
#: c-map fixed points are searched in [-1, 1 - 10^-k], k up to this (chi1 barely above 1).
_C_GAP_DIGITS = 12
#: Points of the coarse scan of cmap(c) - c over [-1, 1) that brackets the stable c*.
_C_SCAN_POINTS = 17
#: Relative tolerance of the root finders (a few ulps of the maps).
_XTOL = 1e-15


def q_floor(q):
    """``q`` raised to ``Q_ZERO`` = 1e-30 (maps at the attractor ``q* = 0`` use this limit)."""
    return max(float(q), Q_ZERO)


def _second_moment(act, q, method):
    quantity = "f2"
    engine = get_engine(method, act, quantity)
    return float(engine.expect(act, quantity, np.zeros(1), np.array([q]))[0])


def fixed_point(act, weight_var=1.0, bias_var=0.0, *, method="auto"):
    r"""Stable fixed point ``q*`` of the length map (Poole et al. 2016, eq. 3).

    .. math:: q \mapsto \sigma_w^2\, E[f(\sqrt{q} z)^2] + \sigma_b^2

    The fixed point the iteration reaches from ``q0 = 1``: with ``F(q) = map(q) - q``, the
    first sign change of ``F`` found stepping up (``F(1) > 0``) or down (``F(1) < 0``) from 1
    by factors of 4, polished by Brent's method. ``q* = 0`` is returned where ``F < 0`` down
    to ``q = 1e-30`` (zero is the attractor, e.g. tanh with ``sigma_w^2 < 1`` and no bias);
    where every ``q`` is fixed (ReLU at ``sigma_w^2 = 2``, no bias) ``q0 = 1`` is returned.

    Parameters
    ----------
    act : Activation or str
    weight_var : float, > 0
    bias_var : float, >= 0
    method : {"auto", "closed", "quadrature", "mpmath"}

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Bad arguments, or the map diverges (``F > 0`` up to ``q = 1e12``: no finite fixed point).

    Examples
    --------
    >>> fixed_point("relu", 1.0)  # sigma_w^2 < 2: lengths shrink to 0
    0.0
    >>> round(fixed_point("relu", 1.0, 0.5), 12)  # q = q/2 + 1/2
    1.0
    """
    act = as_activation(act)
    weight_var, bias_var = _layer_args(weight_var, bias_var)

    def excess(q):
        return weight_var * _second_moment(act, q, method) + bias_var - q

    q = 1.0
    f = excess(q)
    if abs(f) <= _MARGINAL_RTOL * q:
        return q
    if f > 0:
        while True:
            hi = q * _Q_STEP
            if hi > Q_MAX:
                raise ValueError(
                    f"the length map of {act.name} diverges at weight_var={weight_var}, "
                    f"bias_var={bias_var}: q_l grows past {Q_MAX:g} (no finite fixed point)")
            if excess(hi) <= 0:
                return optimize.brentq(excess, q, hi, xtol=1e-300, rtol=_XTOL)
            q = hi
    while True:
        lo = q / _Q_STEP
        if lo < Q_ZERO:
            return 0.0
        if excess(lo) >= 0:
            return optimize.brentq(excess, lo, q, xtol=1e-300, rtol=_XTOL)
        q = lo


def chi1(act, weight_var=1.0, bias_var=0.0, *, method="auto"):
    r"""``chi1 = sigma_w^2 E[f'(sqrt(q*) z)^2]`` (Schoenholz et al. 2017, eq. 6).

    The slope of the c-map at ``c = 1``; ``chi1 = 1`` is the order-to-chaos transition.
    At ``q* = 0`` the limit ``q -> 0`` is used (``phi`` at ``q = 1e-30``).

    Examples
    --------
    >>> float(chi1("relu", 2.0))
    1.0
    >>> round(float(chi1("tanh", 1.0)), 12)  # q* = 0, tanh'(0)^2 = 1
    1.0
    """
    act = as_activation(act)
    weight_var, bias_var = _layer_args(weight_var, bias_var)
    q = q_floor(fixed_point(act, weight_var, bias_var, method=method))
    engine = get_engine(method, act, "df2")
    return float(weight_var * engine.expect(act, "df2", np.zeros(1), np.array([q]))[0])


def correlation_fixed_point(act, weight_var=1.0, bias_var=0.0, *, method="auto"):
    r"""Stable fixed point ``c*`` of the c-map at ``q*`` (Poole et al. 2016; Schoenholz et al. 2017).

    ``c = 1`` is always fixed; it is stable when ``chi1 <= 1`` (ordered phase), and then
    ``c* = 1``. For ``chi1 > 1`` (chaotic phase) ``c*`` is the first point of ``[-1, 1)`` where
    ``cmap(c) - c`` crosses from positive to non-positive (a scan of 16 equal steps and
    ``1 - 10^-k``, then Brent's method): the attracting crossing. Unstable fixed points, such as
    ``c = -1`` for an odd activation without bias, are crossed the other way and skipped.

    Examples
    --------
    >>> correlation_fixed_point("tanh", 0.5)
    1.0
    >>> abs(correlation_fixed_point("tanh", 2.0, 0.0)) < 1e-12  # odd f, no bias: c* = 0
    True
    """
    act = as_activation(act)
    weight_var, bias_var = _layer_args(weight_var, bias_var)
    if chi1(act, weight_var, bias_var, method=method) <= 1:
        return 1.0
    q = q_floor(fixed_point(act, weight_var, bias_var, method=method))

    def gap(c):
        return float(correlation_map(act, c, weight_var=weight_var, bias_var=bias_var, q=q,
                                     method=method)) - c

    grid = np.concatenate([np.linspace(-1.0, 1.0, _C_SCAN_POINTS)[:-1],
                           1.0 - 10.0 ** -np.arange(2.0, _C_GAP_DIGITS + 1)])
    values = np.asarray(correlation_map(act, grid, weight_var=weight_var, bias_var=bias_var,
                                        q=q, method=method)) - grid
    # the stable fixed point: where cmap(c) - c crosses from > 0 to <= 0 (an unstable one, such
    # as c = -1 for an odd f without bias, is crossed the other way)
    for i in range(grid.size - 1):
        if values[i] > 0 >= values[i + 1]:
            if values[i + 1] == 0:
                return float(grid[i + 1])
            return optimize.brentq(gap, grid[i], grid[i + 1], xtol=1e-15, rtol=_XTOL)
    if values[0] <= 0:
        return -1.0  # cmap(c) <= c everywhere: correlations are driven to -1
    return 1.0


def depth_scales(act, weight_var=1.0, bias_var=0.0, *, method="auto"):
    r"""Depth scales ``(xi_q, xi_c)`` of Schoenholz et al. 2017 (eqs. 7-9).

    .. math:: \xi_q^{-1} = -\log\Big(\sigma_w^2 \frac{d}{dq} E[f(\sqrt q z)^2]\Big|_{q^*}\Big),
              \qquad \xi_c^{-1} = -\log \chi_{c^*},
              \quad \chi_{c^*} = \sigma_w^2 E[f'(u_1) f'(u_2)]\big|_{q^*, c^*}.

    (For smooth f the first slope is ``chi1 + sigma_w^2 E[f'' f]``, Schoenholz et al. eq. 7;
    written as the exact derivative of the second moment it also holds at kinks.) In the ordered
    phase ``c* = 1`` and ``xi_c = -1/log(chi1)``. At the transition ``chi1 = 1`` (and wherever a
    slope is ``>= 1``) the scale is returned as ``math.inf``; a slope of 0 gives ``xi = 0``.

    Returns
    -------
    (xi_q, xi_c) : tuple of float

    Examples
    --------
    >>> xi_q, xi_c = depth_scales("tanh", 1.0, 0.0)  # the critical point of tanh
    >>> xi_c
    inf
    """
    act = as_activation(act)
    weight_var, bias_var = _layer_args(weight_var, bias_var)
    q = q_floor(fixed_point(act, weight_var, bias_var, method=method))
    engine = get_engine(method, act, "f2")
    slope_q = float(weight_var * engine.expect(act, "f2", np.zeros(1), np.array([q]), "var")[0])
    c_star = correlation_fixed_point(act, weight_var, bias_var, method=method)
    slope_c = float(chi_c(act, c_star, weight_var=weight_var, bias_var=bias_var, method=method))
    return _scale(slope_q), _scale(slope_c)


def _scale(slope):
    if slope <= 0:
        return 0.0
    if slope >= 1:
        return math.inf
    return -1.0 / math.log(slope)


def critical_weight_var(act, bias_var=0.0, *, method="auto", bracket=(1e-3, 1e3)):
    r"""The ``sigma_w^2`` with ``chi1(sigma_w^2, sigma_b^2) = 1`` (the order-to-chaos boundary).

    Found by bracketing ``chi1 - 1`` over ``bracket`` (geometric steps of 2) and Brent's method;
    where the length map diverges (no finite ``q*``, e.g. ReLU above ``sigma_w^2 = 2``) the
    net counts as chaotic, so for ReLU the boundary is the divergence at ``sigma_w^2 = 2``.

    Raises
    ------
    ValueError
        ``bias_var < 0``, or no transition inside ``bracket``.

    Examples
    --------
    >>> critical_weight_var("tanh", 0.0)  # the end of the q* = 0 branch, 1/f'(0)^2, exactly
    1.0
    >>> round(critical_weight_var("relu", 0.0), 10)
    2.0
    """
    act = as_activation(act)
    _, bias_var = _layer_args(1.0, bias_var)

    def excess(weight_var):
        try:
            return chi1(act, weight_var, bias_var, method=method) - 1.0
        except ValueError as exc:
            if "diverges" in str(exc):
                return 1.0
            raise

    lo, hi = (float(b) for b in bracket)
    f_lo = excess(lo)
    if f_lo >= 0:
        raise ValueError(f"{act.name} is not ordered at weight_var={lo} (bias_var={bias_var}); "
                         f"no transition in bracket {bracket}")
    w = lo
    while w < hi:
        nxt = min(2 * w, hi)
        if excess(nxt) >= 0:
            root = optimize.brentq(excess, w, nxt, xtol=1e-14, rtol=1e-14)
            return _exact_zero_branch_end(act, bias_var, root)
        w = nxt
    raise ValueError(f"{act.name} stays ordered up to weight_var={hi} (bias_var={bias_var}); "
                     f"no transition in bracket {bracket}")


#: A bracketed root this close (relative) to ``1/f'(0)^2`` is the end of the ``q* = 0`` branch.
_ZERO_BRANCH_RTOL = 1e-6


def _exact_zero_branch_end(act, bias_var, root):
    """``1/f'(0)^2`` where the transition is the end of the ``q* = 0`` branch, else ``root``.

    Without bias and with ``f(0) = 0``, ``q* = 0`` is the fixed point while ``sigma_w^2 f'(0)^2 <= 1``
    and there ``chi1 = sigma_w^2 f'(0)^2`` exactly (Poole et al. 2016, Sec. 3): the boundary is
    ``1/f'(0)^2``. Brent's root is only good to ~3e-9 there (above the boundary ``chi1 - 1`` grows
    like ``(sigma_w^2 - 1/f'(0)^2)^2``, below rounding for the last digits), so the exact value
    replaces it when the two agree to :data:`_ZERO_BRANCH_RTOL`.
    """
    if bias_var != 0:
        return root
    zero = np.zeros(1)
    f0, df0 = float(act.f(zero)[0]), float(act.df(zero)[0])
    if f0 != 0 or not np.isfinite(df0) or df0 == 0:
        return root
    exact = 1.0 / (df0 * df0)
    return exact if abs(root - exact) <= _ZERO_BRANCH_RTOL * exact else root
