r"""Numerics of the ``closed`` engine: Gaussian expectations of one term, overflow-safe.

A *term* is ``x^k e^{c x + d x^2} Phi(b x)^j`` on an interval of ``x``; its expectation over
``x ~ N(mean, var)`` is evaluated here (see :mod:`meanfield.engines.closed` for the formulas).
For a piece ``x < a`` and ``x ~ N(m, v)``, completing the square gives, with ``s = sqrt(v)``
and ``t = (m + c v - a)/s``,

.. math:: E[x^k e^{cx} 1_{x<a}] = e^{c a - (m-a)^2/(2v)}
          \\sum_{i=0}^{k} \\binom{k}{i} a^{k-i} (-s)^i G_i(t),
          \\qquad G_i(t) = \\frac{1}{\\sqrt{2\\pi}} \\int_0^\\infty u^i e^{-u^2/2 - t u}\\,du.

``G_0(t) = erfcx(t/sqrt 2)/2`` is the scaled complementary error function; ``G_i`` for
``0 <= t < 50`` comes from a table of ``G_0 .. G_{i+12}`` on a grid of spacing 1/32 and the
exact Taylor series ``G_i(t0 + e) = sum_n (-e)^n/n! G_{i+n}(t0)``; ``t >= 50`` uses the
asymptotic series; for ``t < 0`` the unscaled forward recurrence is stable.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import special

__all__ = ["G_MAX_ORDER", "half_normal_moment", "series_pieces", "series_term", "term_expectation"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

#: ``G_i(t)`` for ``0 <= t < G_TABLE_MAX_T`` comes from a table of ``G_0 .. G_{i+n}`` on a grid
#: of spacing ``G_TABLE_STEP`` and the exact Taylor series ``G_i(t0 + e) = sum_n (-e)^n/n! G_{i+n}(t0)``
#: (``G_i' = -G_{i+1}``); with ``|e| <= 1/64`` the 13th term is below 1e-17 relative.
G_TABLE_STEP = 1.0 / 32.0
G_TABLE_MAX_T = 50.0
G_TAYLOR_TERMS = 13
#: Highest order ``i`` of ``G_i`` the table serves: the largest polynomial degree k of a term on a
#: half-line (ReLU^k has x^(2k) in E f^2; the derivation leaves higher degrees to quadrature).
G_MAX_ORDER = 20
#: Asymptotic series of G_i for t >= G_TABLE_MAX_T: the 12th term is < 1e-20 relative there.
ASYMPTOTIC_TERMS = 12


def _build_g_table():
    """G_i(t) on the grid, i <= G_MAX_ORDER + G_TAYLOR_TERMS, accurate to a few ulps.

    t < 6: 5x40-node Gauss-Legendre of the defining integral, graded toward u = 0 where
    the factor e^(-t u) lives (u^33 e^(-u^2/2) is below 1e-25 of its peak past u = 20); t >= 6: Miller's
    backward recurrence, 60 steps deep (converged to < 3e-16 for t >= 5), normalized by
    G_0 = erfcx(t/sqrt 2)/2. Both checked against mpmath to 2e-15 in tests/test_closed.py.
    """
    grid = np.arange(0.0, G_TABLE_MAX_T + G_TABLE_STEP, G_TABLE_STEP)
    orders = G_MAX_ORDER + G_TAYLOR_TERMS
    table = np.empty((grid.size, orders + 1))
    small = grid < 6.0
    nodes, weights = [], []
    for lo, hi in ((0.0, 0.25), (0.25, 1.0), (1.0, 3.0), (3.0, 6.0), (6.0, 12.0), (12.0, 20.0)):
        n, w = special.roots_legendre(40)
        nodes.append(0.5 * (hi + lo) + 0.5 * (hi - lo) * n)
        weights.append(0.5 * (hi - lo) * w * _INV_SQRT_2PI)
    nodes, weights = np.concatenate(nodes), np.concatenate(weights)
    base = np.exp(-0.5 * nodes**2 - grid[small, None] * nodes) * weights
    table[small] = base @ nodes[:, None] ** np.arange(orders + 1)
    t = grid[~small]
    upper, current, kept = np.zeros_like(t), np.ones_like(t), {}
    for n in range(orders + 60, 0, -1):
        lower = (upper + t * current) / n  # G_{n-1} = (G_{n+1} + t G_n)/n
        if n <= orders:
            kept[n] = current
        upper, current = current, lower
        norm = current.copy()
        upper, current = upper / norm, np.ones_like(norm)
        kept = {key: val / norm for key, val in kept.items()}
    kept[0] = current
    g0 = 0.5 * special.erfcx(t / math.sqrt(2))
    for i in range(orders + 1):
        table[~small, i] = kept[i] * g0
    return table


_G_TABLE = _build_g_table()
_TAYLOR_COEF = np.array([(-1.0) ** n / math.factorial(n) for n in range(G_TAYLOR_TERMS)])
_BVN_NODES, _BVN_WEIGHTS = special.roots_legendre(24)


def _at_zero_half_line(lo, hi):
    return (lo == 0 and hi == math.inf) or (lo == -math.inf and hi == 0)


def series_term(term):
    """Whether an evaluated term ``(lo, hi, k, j, tag, coef, c, d, b)`` joins the small-v series:
    an exp-poly term (no Phi factor) on a half-line anchored at 0."""
    lo, hi, _k, j = term[:4]
    return _at_zero_half_line(lo, hi) and j == 0


#: Use the power series in ``c x`` where ``|c| sqrt(v) <= SERIES_MAX_RATE`` (mean 0 only); with
#: SERIES_TERMS terms the n-th term is at most 1^n / sqrt(n!) of the n = 0 scale, so the remainder
#: is below 1 / sqrt(44!) ~ 1e-27 of it. Up to rate 1 the direct sum of exponential terms still
#: cancels (SELU's e^{2x} - 2 e^x + 1: E f^2 off by 8e-15 at q = 0.3 with the switch at 0.5, issue
#: 18); with the switch at 1 the closed engine is within 2e-15 of 30-digit mpmath on every map.
SERIES_MAX_RATE = 1.0
SERIES_TERMS = 44
@functools.cache
def half_normal_moment(p):
    """``M_p = E[z^p 1_{z > 0}] = 2^((p-1)/2) Gamma((p+1)/2) / sqrt(2 pi)``, any order ``p >= 0``.

    Even ``p``: ``(p - 1)!!/2``, exact; odd ``p``: ``2^((p-1)/2) ((p-1)/2)! / sqrt(2 pi)``, one
    rounding. Exact small values matter: series coefficients that cancel symbolically (SELU's
    ``q phi - E f^2``) then cancel in floating point too.

    >>> half_normal_moment(2), half_normal_moment(14)
    (0.5, 67567.5)
    """
    if p % 2 == 0:
        return float(math.prod(range(p - 1, 0, -2))) / 2
    half = (p - 1) // 2
    return float(2**half * math.factorial(half)) * _INV_SQRT_2PI


def series_pieces(terms, var, shape, mask):
    """Sum of zero-anchored half-line exp-poly terms by the series in ``c x`` (mean 0).

    ``sum_p w_p s^p M_p`` with ``w_p = sum_{terms, n: k + n = p} sign * coef * c^n / n!``: the
    cancelling combinations of coefficients are formed before any power of ``s``.
    """
    weights = {}
    for lo, _hi, k, _j, _tag, coef, c, _d, _b in terms:
        if coef.ndim or c.ndim:  # parameter arrays (family_moments): one weight per value
            coef = np.broadcast_to(coef, shape)[mask]
            c = np.broadcast_to(c, shape)[mask]
        else:  # scalar parameters: the weights are scalars, cheap and exact
            coef, c = float(coef), float(c)
        term = coef
        for n in range(SERIES_TERMS):
            p = k + n
            sign = 1.0 if lo == 0 else (-1.0) ** p
            weights[p] = weights.get(p, 0.0) + sign * term
            term = term * c / (n + 1)
    s = np.sqrt(var)
    total = np.zeros(s.shape)
    lowest = min(weights)
    for p in range(max(weights), lowest - 1, -1):  # Horner in s
        total = total * s + weights.get(p, 0.0) * half_normal_moment(p)
    return total * s**lowest



def term_expectation(k, j, c, d, b, lo, hi, mean, var):
    """E[x^k e^{cx + dx^2} Phi(bx)^j 1_{lo < x < hi}], x ~ N(mean, var)."""
    if lo == -math.inf and hi == math.inf:
        return _whole_line(k, j, c, d, b, mean, var)
    if lo == -math.inf:
        return _below(k, c, hi, mean, var)
    if hi == math.inf:
        # mirror x -> -x: E[x^k e^{cx} 1_{x > a}] = (-1)^k E[u^k e^{-cu} 1_{u < -a}], u ~ N(-m, v)
        return (-1) ** k * _below(k, -c, -lo, -mean, var)
    return _below(k, c, hi, mean, var) - _below(k, c, lo, mean, var)


def _below(k, c, a, mean, var):
    """E[x^k e^{cx} 1_{x < a}], x ~ N(mean, var), overflow-safe (see module docstring)."""
    mean, var, c = np.broadcast_arrays(np.asarray(mean, float), np.asarray(var, float),
                                       np.asarray(c, float))
    s = np.sqrt(var)
    t = (mean + c * var - a) / s
    pos = t >= 0
    all_pos = bool(pos.all())
    # binomial expansion of x^k = (a + (x - a))^k; only i = k survives when a = 0
    orders = range(k + 1) if a != 0 else (k,)
    weights = {i: math.comb(k, i) * (a ** (k - i) if k > i else 1.0) * (-s) ** i for i in orders}
    with np.errstate(over="ignore", under="ignore"):
        scaled = 0.0
        if all_pos or pos.any():
            g = _g_scaled(np.where(pos, t, 0.0) if not all_pos else t, tuple(orders))
            acc = sum(weights[i] * g[i] for i in orders)
            if a == 0 and not mean.any():  # the exponent c a - (m - a)^2/(2v) vanishes
                scaled = acc
            else:
                scaled = np.exp(c * a - (mean - a) ** 2 / (2 * var)) * acc
            if all_pos:
                return scaled
        g = _g_unscaled(np.where(pos, 0.0, t), k)
        acc = sum(weights[i] * g[i] for i in orders)
        plain = np.exp(np.where(pos, 0.0, c * mean + 0.5 * c * c * var)) * acc
        far = t < -COMPLEMENT_T
        if far.any():
            # most of the mass lies below a: the whole-line moment minus the (scaled, t' > 3)
            # upper tail. The expansion about a would cancel like a^k against the moments of
            # x - a (E[x^2 1_{x > -1e8}] at mean 0 came out as garbage).
            # (values outside `far` are computed at a harmless stand-in mean and discarded)
            m_far = np.where(far, mean, a - 4 * s - c * var)
            tilt = np.exp(c * m_far + 0.5 * c * c * var)
            whole = tilt * _raw_moments(k, m_far + c * var, var)[k]
            tail = (-1) ** k * _below(k, -c, -a, -m_far, var)
            with np.errstate(invalid="ignore"):  # inf - inf only where the value overflows too
                plain = np.where(far, whole - tail, plain)
    return np.where(pos, scaled, plain)


#: ``_below`` switches to "whole line minus upper tail" where ``t < -COMPLEMENT_T``: the tail is
#: then below Phi(-3) ~ 1e-3 of the whole, so the subtraction loses under 3 bits.
COMPLEMENT_T = 3.0


def _g_scaled(t, orders):
    """{i: G_i(t) for i in orders} for t >= 0 (array t), each to a few ulps."""
    if max(orders) > G_MAX_ORDER:
        raise ValueError(f"polynomial degree {max(orders)} > {G_MAX_ORDER} in a truncated moment")
    if tuple(orders) == (0,):
        return {0: 0.5 * special.erfcx(t * (1 / math.sqrt(2)))}
    if not t.any():  # G_i(0): the half-normal moments, tabulated exactly
        return {i: np.full(t.shape, half_normal_moment(i)) for i in orders}
    out = {i: np.empty(t.shape) for i in orders}
    table_part = t < G_TABLE_MAX_T
    every = bool(table_part.all())
    if every or table_part.any():
        tt = t if every else t[table_part]
        index = np.rint(tt * (1 / G_TABLE_STEP)).astype(np.intp)
        offset = tt - index * G_TABLE_STEP
        powers = np.empty(offset.shape + (G_TAYLOR_TERMS,))
        powers[..., 0] = 1.0
        for n in range(1, G_TAYLOR_TERMS):
            powers[..., n] = powers[..., n - 1] * offset
        powers *= _TAYLOR_COEF
        rows = _G_TABLE[index]
        for i in orders:
            value = np.einsum("...n,...n->...", rows[..., i:i + G_TAYLOR_TERMS], powers)
            if every:
                out[i] = value
            else:
                out[i][table_part] = value
    if not every:
        far = ~table_part
        ta = t[far]
        inv2 = 1.0 / (ta * ta)
        for i in orders:
            total = np.zeros_like(ta)
            term_coef = float(math.factorial(i))
            for n in range(ASYMPTOTIC_TERMS):
                total = total + (-1) ** n * term_coef * inv2**n
                term_coef *= (i + 2 * n + 1) * (i + 2 * n + 2) / (2 * (n + 1))
            out[i][far] = total * ta ** -(i + 1) * _INV_SQRT_2PI
    return out


def _g_unscaled(t, order):
    """[int_t^inf (u - t)^i phi(u) du for i <= order]; forward recurrence, stable for t <= 0."""
    out = [special.ndtr(-t)]
    if order >= 1:
        out.append(np.exp(-0.5 * t * t) * _INV_SQRT_2PI - t * out[0])
    for i in range(2, order + 1):
        out.append((i - 1) * out[i - 2] - t * out[i - 1])
    return out


def _raw_moments(order, mean, var):
    """[E[x^i] for i <= order], x ~ N(mean, var)."""
    out = [np.ones(np.broadcast_shapes(np.shape(mean), np.shape(var)))]
    if order >= 1:
        out.append(mean + 0 * out[0])
    for i in range(2, order + 1):
        out.append(mean * out[i - 1] + (i - 1) * var * out[i - 2])
    return out


def _phi_moments(order, b, mean, var):
    """[E[x^i Phi(bx)] for i <= order] and the pieces needed for j = 2 (Stein's lemma)."""
    r = 1 + b * b * var
    root = np.sqrt(r)
    if np.any(mean):
        h = b * mean / root
        dens = np.exp(-0.5 * h * h) * _INV_SQRT_2PI / root  # E[phi(bx)]
        out = [special.ndtr(h)]
    else:  # h = 0: Phi(0) = 1/2
        dens = _INV_SQRT_2PI / root
        out = [np.full(np.shape(r), 0.5)]
    inner = _raw_moments(max(order - 1, 0), mean / r, var / r)
    for i in range(1, order + 1):
        prev2 = out[i - 2] if i >= 2 else 0.0
        out.append(mean * out[i - 1] + var * ((i - 1) * prev2 + b * dens * inner[i - 1]))
    return out


def _bvn_equal(h, tilt):
    """Phi_2(h, h; rho) = Phi(h)^2 + (2 pi)^-1 int_0^{asin rho} exp(-h^2/(1 + sin t)) dt.

    ``rho = B/(1 + B)`` with ``tilt = B = b^2 v``; ``asin rho = atan(B/sqrt(1 + 2B))`` is formed
    that way, well conditioned also where rho -> 1 (asin's slope is infinite there: E[(x Phi(x))^2]
    at q = 1e12 was off by 5e-12).
    """
    top = np.arctan2(tilt, np.sqrt(1 + 2 * tilt))
    if not np.any(h):  # Sheppard: Phi_2(0, 0; rho) = 1/4 + asin(rho)/(2 pi)
        return 0.25 + top / (2 * math.pi)
    theta = 0.5 * top[..., None] * (1 + _BVN_NODES)
    integrand = np.exp(-(h[..., None] ** 2) / (1 + np.sin(theta)))
    integral = 0.5 * top * np.sum(_BVN_WEIGHTS * integrand, axis=-1)
    return special.ndtr(h) ** 2 + integral / (2 * math.pi)


def _phi2_moments(order, b, mean, var):
    """[E[x^i Phi(bx)^2] for i <= order] by Stein's lemma."""
    r = 1 + b * b * var
    h = b * mean / np.sqrt(r)
    dens = np.exp(-0.5 * h * h) * _INV_SQRT_2PI / np.sqrt(r)
    inner = _phi_moments(max(order - 1, 0), b, mean / r, var / r)  # E''[x^i Phi(bx)]
    out = [_bvn_equal(h, np.asarray(b * b * var, dtype=float))]
    for i in range(1, order + 1):
        prev2 = out[i - 2] if i >= 2 else 0.0
        out.append(mean * out[i - 1] + var * ((i - 1) * prev2 + 2 * b * dens * inner[i - 1]))
    return out


def _whole_line(k, j, c, d, b, mean, var):
    """E[x^k e^{cx + dx^2} Phi(bx)^j], x ~ N(mean, var), by completing the square.

    With ``D = 1 - 2 d v`` the tilted Gaussian has mean ``(m + c v)/D``, variance ``v/D`` and
    weight ``exp((m c + c^2 v/2 + d m^2)/D) / sqrt(D)``: the exponent is combined analytically
    (never ``m'^2/(2v') - m^2/(2v)``, a difference of two numbers of size m^2/v).
    """
    mean, var = np.asarray(mean, float), np.asarray(var, float)
    c, d, b = (float(v) if np.ndim(v) == 0 else np.asarray(v, float) for v in (c, d, b))
    if 1 <= j <= 2 and 1 <= k <= 2 and isinstance(c, float) and isinstance(d, float) \
            and not c and not d and not mean.any():
        return _centred_phi_moment(k, j, b, var)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        denom = 1 - 2 * d * var
        if not np.any(c) and not np.any(d):  # plain moments: no tilt at all
            new_mean, new_var, scale = mean, var, 1.0
        else:
            new_var = var / denom
            new_mean = (mean + c * var) / denom
            scale = np.exp((mean * c + 0.5 * c * c * var + d * mean * mean) / denom) / np.sqrt(denom)
    if not np.all(denom > 0):  # e^{d x^2} outgrows the Gaussian: the expectation diverges
        scale = np.where(denom > 0, scale, np.inf)
        new_var = np.where(denom > 0, new_var, 1.0)
        new_mean = np.where(denom > 0, new_mean, 0.0)
    if j == 0:
        moment = _raw_moments(k, new_mean, new_var)[k]
    elif j == 1:
        moment = _phi_moments(k, b, new_mean, new_var)[k]
    else:
        moment = _phi2_moments(k, b, new_mean, new_var)[k]
    return scale * moment


def _centred_phi_moment(k, j, b, var):
    """``E[x^k Phi(b x)^j]`` at mean 0 for k, j in {1, 2}: Stein's recursion solved by hand.

    With ``B = b^2 v``: ``E[x Phi] = b v / sqrt(2 pi (1 + B))``, ``E[x^2 Phi] = v/2``,
    ``E[x Phi^2] = 2 E[x Phi] Phi(0) = E[x Phi]``, and
    ``E[x^2 Phi^2] = v (1/4 + atan(B/sqrt(1 + 2B))/(2 pi)) + b^2 v^2 / (pi (1 + B) sqrt(1 + 2B))``
    (GELU's E f^2 in a handful of operations instead of the general recursion).
    """
    if k == 2 and j == 1:
        return 0.5 * var
    tilt = b * b * var
    if k == 1:
        return b * var / np.sqrt(2 * math.pi * (1 + tilt))
    root = np.sqrt(1 + 2 * tilt)
    return var * (0.25 + np.arctan2(tilt, root) / (2 * math.pi)) + tilt * var / (math.pi * (1 + tilt) * root)
