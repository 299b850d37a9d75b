"""The quadrature engine's Chebyshev proxy: many values of one mean, interpolated in ``t = ln s``.

For fixed mean ``m``, ``E[g(m + s z) P(z)]`` is analytic in ``t = ln s`` for ``|Im t| < pi/4``
whatever ``g`` is (the Gaussian ``exp(-x^2 / (2 s^2))`` stays integrable there), so on panels of
width :data:`_PROXY_PANEL` in ``t`` it is a rapidly converging Chebyshev series. The proxy
samples each panel holding at least :data:`_PROXY_MIN_COUNT` values at :data:`_PROXY_POINTS`
Chebyshev points with the engine's direct rule, divides by a log-linear fit of ``E[|g P|]``
(so that the error stays relative to each value's own size), and interpolates; a panel whose
last :data:`_PROXY_TAIL_TERMS` coefficients are not below :data:`_PROXY_TAIL_TOL`, or whose fit
strays, is left to the direct rule. Details and measurements: ``benchmarks/quadrature_notes.md``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["chebyshev_proxy"]

#: Chebyshev proxy (see module docstring): panel width in t = ln s (a factor 4 in s, 16 in
#: var), points per panel, and the tolerance on the normalized tail coefficients. With a
#: factor-4 panel and the pi/4 analyticity strip the coefficients of the built-in maps
#: fall below 1e-14 after ~13-21 terms; 28 points leave a margin, and the tail test
#: catches anything slower.
_PROXY_PANEL = math.log(4.0)
_PROXY_POINTS = 28
#: Normalized (by the fitted natural scale) size the last three Chebyshev coefficients may
#: have; the direct rule itself is good to ~1e-15 of E[|g P|], so 1e-14 is at its noise.
_PROXY_TAIL_TOL = 1e-14
_PROXY_TAIL_TERMS = 3
#: The normalization makes the error relative to each value's own E[|g P|] only if the
#: log-linear fit is close to it: panels where log E[|g P|] strays by more than ln 8 from
#: the fit (a kink sweeping through the Gaussian tail) use the direct rule instead.
_PROXY_LOG_SPREAD = math.log(8.0)
#: A panel is interpolated only when it holds at least this many values (below, the direct
#: rule on the values themselves is cheaper than sampling the panel).
_PROXY_MIN_COUNT = 2 * _PROXY_POINTS
#: Skip the proxy bookkeeping when the (mean, panel) table would be much larger than the
#: input (means that are all distinct): no panel could reach _PROXY_MIN_COUNT anyway.
_PROXY_MAX_KEYS_PER_VALUE = 4

_CHEB_THETA = np.cos(np.pi * (np.arange(_PROXY_POINTS) + 0.5) / _PROXY_POINTS)
# DCT-II matrix: coefficients c = _CHEB_DCT @ samples of the interpolant at _CHEB_THETA.
_CHEB_DCT = (2.0 / _PROXY_POINTS) * np.cos(
    np.pi * np.outer(np.arange(_PROXY_POINTS), np.arange(_PROXY_POINTS) + 0.5) / _PROXY_POINTS)
_CHEB_DCT[0] *= 0.5


def chebyshev_proxy(direct, g, m, s, features, scale, weight, out, todo):
    """Chebyshev-in-``ln s`` proxy for panels with many values of one mean (module doc).

    ``direct(g, m, s, features, scale, weight) -> (E[g P], E[|g P|])`` is the engine's direct
    rule, used for the samples. Fills ``out`` (the un-factored ``E[g P]``) where used and clears
    ``todo`` there.
    """
    t = np.log(s)
    panel = np.floor(t / _PROXY_PANEL).astype(np.int64)
    if m.min() == m.max():  # the common case: maps over q at mean 0
        means, group = m[:1], np.zeros(m.size, dtype=np.int64)
    else:
        means, group = np.unique(m, return_inverse=True)
    pmin = panel.min()
    span = int(panel.max() - pmin) + 1
    if means.size * span > _PROXY_MAX_KEYS_PER_VALUE * m.size:
        return  # scattered (mean, var) pairs: too few values share a panel
    key = group * span + (panel - pmin)
    counts = np.bincount(key, minlength=means.size * span)
    chosen = np.flatnonzero(counts >= _PROXY_MIN_COUNT)
    if chosen.size == 0:
        return
    p_chosen = (chosen % span + pmin).astype(float)
    t_samp = _PROXY_PANEL * (p_chosen[:, None] + 0.5 * (_CHEB_THETA + 1.0))
    m_samp = np.broadcast_to(means[chosen // span][:, None], t_samp.shape)
    J, S = direct(g, m_samp.ravel(), np.exp(t_samp).ravel(), features, scale, weight)
    J = J.reshape(t_samp.shape)
    S = S.reshape(t_samp.shape)
    usable = np.all((S > 0) & np.isfinite(S) & np.isfinite(J), axis=1)
    logs = np.log(np.where(usable[:, None], S, 1.0))  # (unusable rows: any finite stand-in)
    a0 = logs.mean(axis=1)
    a1 = logs @ _CHEB_THETA / np.dot(_CHEB_THETA, _CHEB_THETA)
    fit = a0[:, None] + a1[:, None] * _CHEB_THETA
    coef = (J / np.exp(fit)) @ _CHEB_DCT.T
    usable &= np.max(np.abs(coef[:, -_PROXY_TAIL_TERMS:]), axis=1) <= _PROXY_TAIL_TOL
    usable &= np.max(np.abs(logs - fit), axis=1) <= _PROXY_LOG_SPREAD
    if not usable.any():
        return
    good = np.flatnonzero(usable)
    row_of_key = np.full(counts.size, -1, dtype=np.int64)
    row_of_key[chosen[good]] = np.arange(good.size)
    row = row_of_key[key]
    order = np.argsort(row, kind="stable")
    bounds = np.searchsorted(row[order], np.arange(-1, good.size) + 0.5)
    for i, panel_row in enumerate(good):  # Clenshaw for sum_k c_k T_k(theta), per panel
        members = order[bounds[i]:bounds[i + 1]]
        theta = 2.0 * (t[members] / _PROXY_PANEL - p_chosen[panel_row]) - 1.0
        c = coef[panel_row]
        two_theta = 2.0 * theta
        b1 = np.full(members.size, c[-1])
        b2 = np.zeros(members.size)
        for k in range(_PROXY_POINTS - 2, 0, -1):
            b0 = two_theta * b1
            b0 -= b2
            b0 += c[k]
            b1, b2 = b0, b1
        value = theta * b1
        value -= b2
        value += c[0]
        value *= np.exp(a0[panel_row] + a1[panel_row] * theta)
        out[members] = value
        todo[members] = False
