r"""Bivariate Gaussian expectations ``E[g1(u1) g2(u2)]`` by an outer rule over an inner expectation.

With ``u1 = sqrt(q1) z1`` and ``u2 = sqrt(q2) (c z1 + s z2)``, ``s = sqrt(1 - c^2)``,

.. math::

    E[g_1(u_1)\, g_2(u_2)] = \int g_1(\sqrt{q_1} z_1)\, H(z_1)\, \varphi(z_1)\, dz_1,
    \qquad H(z_1) = E[g_2(y)],\quad y \sim N(c \sqrt{q_2} z_1,\; q_2 s^2).

The inner expectation ``H`` is a one-dimensional Gaussian expectation whose kink lines
``y = k`` move with ``z1``; it is computed either in closed form (the ``closed`` engine's
output-mean map ``E[f(y)]`` and its mean derivative ``E[f'(y)]``, for the piecewise
exponential-polynomial and erf families) or by :func:`~meanfield.engines.quadrature.gauss_expectation`,
which places its nodes at the moving kinks for every ``z1`` (kink-aware inner nodes).

**Outer rule.** ``H`` is smooth, but where ``s`` is small (``c`` near +-1) it is the
activation smoothed over a width ``s/|c|`` in ``z1`` around ``z1 = k / (c sqrt(q2))``: a
boundary layer. The outer mesh in ``z1`` is the union of

* a base mesh ``0, +-1.2, +-2.5, +-4, +-6, +-Z`` (Z = :data:`~meanfield.tolerances.Z_CUTOFF`);
* the feature points of ``g1`` (its kinks and ``x = 0`` at ``z1 = k/sqrt(q1)``), graded toward
  them down to ``scale/sqrt(q1)``;
* the projected feature points of ``g2`` (``z1 = k / (c sqrt(q2))``), graded down to both the
  smoothing width ``s/|c|`` and ``scale / (|c| sqrt(q2))``;

with a 12-point Gauss-Legendre rule per element (the grading of the one-dimensional engine:
``p +- w u``, ``u = 1, 2.5, 5, 9, 16, 30`` up to 1.2 from ``p``). At ``c = +-1`` (``s = 0``)
``H(z1) = g2(c sqrt(q2) z1)`` exactly and the same mesh (kinks now exact) is used.

**Many values at one (q1, q2).** This direct rule costs ~2-3 ms a value (~250 outer times ~200
inner nodes). :func:`outer_expectation` hands values that share ``(q1, q2)`` with enough others
(in one call or over several) to cached Chebyshev proxies built from it, or, for activations
without kinks, from a polar-Fourier series (:mod:`meanfield.engines._bivariate_proxy`: the
analyticity in ``theta = arccos(c)`` they rest on, their self-checks and what they assume); the
rest, and every value at an all-distinct ``(q1, q2)``, use :func:`direct_expectation`.

Source: the decomposition is the one of Poole et al. (2016), eq. (4) (their ``u1, u2``).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from scipy import special

from meanfield.engines._bivariate_proxy import amortized_expectation
from meanfield.engines.closed import ClosedEngine
from meanfield.engines.quadrature import gauss_expectation
from meanfield.tolerances import Z_CUTOFF

__all__ = ["outer_expectation", "direct_expectation", "inner_closed_available", "bivariate_quadrature"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: Gauss-Legendre order per outer element (as the one-dimensional engine).
_GL_ORDER = 12
_GL_T, _GL_W = np.polynomial.legendre.leggauss(_GL_ORDER)
#: Base mesh of the outer variable z1 (resolves the Gaussian weight).
_BASE_MESH = np.array([-Z_CUTOFF, -6.0, -4.0, -2.5, -1.2, 0.0, 1.2, 2.5, 4.0, 6.0, Z_CUTOFF])
#: Grading multiples toward a feature point (see the one-dimensional engine).
_NEAR_MULTIPLES = np.array([1.0, 2.5, 5.0, 9.0, 16.0, 30.0])
_NEAR_PREVIOUS = np.concatenate([[0.0], _NEAR_MULTIPLES[:-1]])
_NEAR_REACH = 1.2
#: Mesh points closer than this are merged (an element that narrow carries < 1e-14 of the mass).
_MIN_ELEMENT = 1e-14
#: Outer nodes per vectorized chunk (values x outer nodes); the inner rule multiplies this by
#: its own node count, so it stays small enough to keep the temporaries in cache-sized blocks.
_CHUNK_OUTER = 2048

_CLOSED = ClosedEngine()


def inner_closed_available(act):
    """Whether ``E[f(y)]`` (and so ``E[f'(y)]``), y ~ N(m, v), has a usable closed form for ``act``.

    Only the piecewise exponential-polynomial family: the one-dimensional closed engine's erf
    forms (GELU, erf) lose accuracy at small variance and non-zero mean (relative error ~1e-16/v,
    measured: 2e-8 at v = 1e-6), which is exactly the inner integral near c = +-1.
    """
    if _is_gelu(act):
        return True
    if act.template is None or act.template.has(sp.erf, sp.erfc):
        return False
    return _CLOSED.supports(act, "f")


def _is_gelu(act):
    from meanfield.activations import get_activation

    return act.name == "gelu" and act.template is not None and act.template == get_activation("gelu").template


def _gelu_inner(which, m, v):
    r"""GELU's inner expectations, y ~ N(m, v), r = sqrt(1 + v) (Stein's lemma):

    .. math:: E[y \Phi(y)] = m \Phi(m/r) + \frac{v}{r} \varphi(m/r), \qquad
              E[\Phi(y) + y \varphi(y)] = \Phi(m/r) + \frac{m}{r^3} \varphi(m/r).
    """
    r = np.sqrt(1.0 + v)
    t = m / r
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * t * t)
    if which == "f":
        return m * special.ndtr(t) + v / r * pdf
    return special.ndtr(t) + m / (r * r * r) * pdf


def _features(act):
    return np.array(sorted({0.0, *act.kinks}))


def _near(points, width):
    """Graded near mesh around ``points`` (n, F) with widths ``width`` (n, F): (n, F*2U)."""
    off = width[:, :, None] * _NEAR_MULTIPLES
    before = width[:, :, None] * _NEAR_PREVIOUS
    keep = before < _NEAR_REACH
    out = []
    for sign in (1.0, -1.0):
        p = points[:, :, None] + sign * off
        out.append(np.where(keep & np.isfinite(p), p, np.inf).reshape(points.shape[0], -1))
    return out


def _outer_mesh(act1, act2, q1, q2, c, s):
    """Sorted outer mesh rows (inf-padded) and their finite counts."""
    n = q1.size
    f1, f2 = _features(act1), _features(act2)
    r1, r2 = np.sqrt(q1)[:, None], np.sqrt(q2)[:, None]
    p1 = f1 / r1
    w1 = np.broadcast_to(act1.scale / r1, p1.shape)
    ac = np.abs(c)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        p2 = np.where(ac > 0, f2 / (c[:, None] * r2), np.inf)
        w_smooth = np.broadcast_to(s[:, None] / ac, p2.shape)
        w_scale = np.broadcast_to(act2.scale / (ac * r2), p2.shape)
    parts = [np.broadcast_to(_BASE_MESH, (n, _BASE_MESH.size)),
             np.where(np.abs(p1) < Z_CUTOFF, p1, np.inf),
             np.where(np.abs(p2) < Z_CUTOFF, p2, np.inf)]
    parts += _near(p1, w1)
    parts += _near(p2, w_scale)
    # and graded to the smoothing width s/|c| too: a kink smoothed by the inner Gaussian has a
    # corner of that width, and a smooth feature (tanh at large q2) becomes a step of width
    # ~max(s, scale/sqrt(q2))/|c|; the near mesh reaches 30 widths, so both gradings are needed
    parts += _near(np.where(w_smooth > 0, p2, np.inf), w_smooth)
    pts = np.concatenate(parts, axis=1)
    pts = np.where(np.abs(pts) <= Z_CUTOFF, pts, np.inf)
    pts.sort(axis=1)
    with np.errstate(invalid="ignore"):
        dup = (pts[:, 1:] - pts[:, :-1] < _MIN_ELEMENT) & np.isfinite(pts[:, 1:])
    if dup.any():
        pts[:, 1:][dup] = np.inf
        pts.sort(axis=1)
    return pts, np.isfinite(pts).sum(axis=1)


def _inner(act2, which, mean, var, engine):
    """``H = E[g2(y)]``, y ~ N(mean, var) (var may be 0: then ``g2(mean)``)."""
    out = np.empty(mean.shape)
    point = var <= 0
    if point.any():
        out[point] = act2.f(mean[point]) if which == "f" else act2.df(mean[point])
    spread = ~point
    if spread.any():
        m, v = mean[spread], var[spread]
        if engine == "closed" and _is_gelu(act2):
            out[spread] = _gelu_inner(which, m, v)
        elif engine == "closed":
            out[spread] = _CLOSED.expect(act2, "f", m, v, None if which == "f" else "mean")
        else:
            g = act2.f if which == "f" else act2.df
            out[spread] = gauss_expectation(g, m, v, kinks=act2.kinks, scale=act2.scale)
    return out


def outer_expectation(act1, act2, which, q1, q2, c, engine):
    r"""``E[g1(u1) g2(u2)]`` with ``g = f`` (``which="f"``) or ``g = f'`` (``which="df"``).

    With ``act1 is act2``, values that share ``(q1, q2)`` with enough others (in this call or
    earlier ones) come from a cached Chebyshev proxy
    (:func:`meanfield.engines._bivariate_proxy.amortized_expectation`), the rest from
    :func:`direct_expectation`.

    Parameters
    ----------
    act1, act2 : Activation
    which : {"f", "df"}
    q1, q2, c : ndarray
        1-D float arrays of equal length (validated: q > 0, -1 <= c <= 1).
    engine : {"closed", "quadrature"}
        How the inner expectation is computed (closed output-mean map or kink-aware quadrature).

    Returns
    -------
    ndarray
    """
    q1, q2, c = (np.asarray(a, dtype=float).ravel() for a in (q1, q2, c))
    if act1 is act2:
        return amortized_expectation(act1, which, q1, q2, c, engine, direct_expectation)
    return direct_expectation(act1, act2, which, q1, q2, c, engine)


def direct_expectation(act1, act2, which, q1, q2, c, engine):
    """The direct rule of the module docstring (no proxy); arguments as :func:`outer_expectation`."""
    q1, q2, c = (np.asarray(a, dtype=float).ravel() for a in (q1, q2, c))
    s = np.sqrt(np.maximum((1.0 - c) * (1.0 + c), 0.0))
    g1 = act1.f if which == "f" else act1.df
    out = np.empty(q1.shape)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # c = 0: no projected points
        pts, count = _outer_mesh(act1, act2, q1, q2, c, s)
    for cnt in np.unique(count):
        rows = np.flatnonzero(count == cnt)
        step = max(1, _CHUNK_OUTER // ((cnt - 1) * _GL_ORDER))
        for start in range(0, rows.size, step):
            r = rows[start:start + step]
            p = pts[r, :cnt]
            half = 0.5 * (p[:, 1:] - p[:, :-1])
            mid = 0.5 * (p[:, 1:] + p[:, :-1])
            z = (mid[:, :, None] + half[:, :, None] * _GL_T).reshape(r.size, -1)
            w = (half[:, :, None] * (_INV_SQRT_2PI * _GL_W)).reshape(z.shape) * np.exp(-0.5 * z * z)
            mean = (c[r] * np.sqrt(q2[r]))[:, None] * z
            var = np.broadcast_to((q2[r] * s[r] * s[r])[:, None], z.shape)
            h = _inner(act2, which, mean.ravel(), np.ascontiguousarray(var).ravel(), engine)
            out[r] = np.sum(g1(np.sqrt(q1[r])[:, None] * z) * h.reshape(z.shape) * w, axis=1)
    return out


def bivariate_quadrature(act, which, q1, q2, c):
    """Quadrature engine: :func:`outer_expectation` with the kink-aware quadrature inner rule."""
    return outer_expectation(act, act, which, q1, q2, c, "quadrature")
