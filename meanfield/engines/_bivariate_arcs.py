r"""Polar arc rule: ``K(theta) = E[g(u1) g(u2)]`` for activations whose kinks are all at ``x = 0``.

With ``z1 = rho cos(psi)``, ``z2 = rho sin(psi)`` and ``c = cos(theta)``,

.. math::

    K(\theta) = \frac{1}{2\pi} \int_0^{2\pi} \int_0^\infty
                g(\sqrt{q_1}\,\rho\cos\psi)\, g(\sqrt{q_2}\,\rho\cos(\psi - \theta))\,
                \rho e^{-\rho^2/2}\, d\rho\, d\psi .

If ``g`` is analytic except at ``x = 0``, the integrand is analytic in ``rho`` along every ray
(the signs of both arguments are fixed on a ray) and, for every ``rho``, analytic in ``psi``
except at the four angles ``+-pi/2`` and ``theta +- pi/2`` where one of the cosines changes
sign. So a tensor rule needs no moving kink lines: composite 12-point Gauss-Legendre in ``rho``
on ``0, 1.2, 2.5, 4, 6, 9`` (graded geometrically toward 0 below 1.2 down to ``scale/sqrt(q)``,
the width of the activation's feature there), and in ``psi`` on the (up to) four arcs between those angles,
each graded geometrically (ratio 2) toward both ends from ``0.5 scale/sqrt(q)`` (the width of
the activation's feature at the break on rays with ``rho ~ 2``) and cut into elements no longer
than 1.6. With ``q1 = q2`` the integrand is symmetric about ``psi = theta/2`` (modulo ``pi``) and
half a period suffices. Measured against exact kernels and the direct rule (ReLU, erf, SELU, sSELU with
``beta = 5``, ELU with ``alpha = 3``, ``q`` from ``1e-4`` to ``1e3``): ``< 3e-14`` of the
Cauchy-Schwarz scale; ``1 scale/sqrt(q)`` leaves ``1.5e-11`` for erf, a ratio of 3 or a
10-point rule ``~1e-12``. Each sample costs one evaluation of each factor on its ``(psi nodes) x (rho
nodes)`` grid, with no per-node meshes: ~2-10x less than the nested direct rule.

It samples the ``theta`` proxy of :mod:`meanfield.engines._bivariate_proxy` for engine
``"quadrature"``. Checks (else the caller samples the direct rule instead): the estimated mass
beyond ``rho = 9`` (below ``1e-15`` of the Cauchy-Schwarz scale) and, at ``c = +-1``
where the integral is one-dimensional, agreement with the one-dimensional engine's
``E[g(sqrt(q1) z) g(+-sqrt(q2) z)]`` to ``1e-11`` of the Cauchy-Schwarz scale.
"""

from __future__ import annotations

import math

import numpy as np

from meanfield.engines.quadrature import gauss_expectation
from meanfield.tolerances import Z_CUTOFF

__all__ = ["arc_samples", "arcs_apply"]

_GL_T, _GL_W = np.polynomial.legendre.leggauss(12)
#: rho mesh: base points, and the grading toward 0 below the first base point (geometric, ratio
#: _ARC_RATIO, from scale/sqrt(q): however large q, no element is more than twice its neighbour).
_RHO_BASE = (0.0, 1.2, 2.5, 4.0, 6.0, Z_CUTOFF)
_MIN_ELEMENT = 1e-14
#: psi arcs: grading width in units of scale/sqrt(q), and the longest element.
_ARC_WIDTH = 0.5
_ARC_RATIO = 2.0
_ARC_LONGEST = 1.6
#: Largest estimated integrand mass beyond rho = Z_CUTOFF, relative to the Cauchy-Schwarz scale
#: (the unit of the proxies' accuracy; it bounds E|g1 g2|).
_EDGE_TOL = 1e-15
#: Allowed difference at c = +-1 from the one-dimensional engine (of the Cauchy-Schwarz scale).
_CHECK_TOL = 1e-11


def arcs_apply(act):
    """Whether the arc rule applies: every kink of ``act`` is at ``x = 0``."""
    return all(k == 0.0 for k in act.kinks)


def _rho_rule(a, b, scale):
    pts = set(_RHO_BASE)
    for r in {a, b}:
        width = scale / r
        while width < _RHO_BASE[1]:
            pts.add(width)
            width *= _ARC_RATIO
    p = np.array(sorted(pts))
    p = p[np.concatenate([[True], np.diff(p) > _MIN_ELEMENT])]
    half, mid = 0.5 * np.diff(p), 0.5 * (p[1:] + p[:-1])
    rho = (mid[:, None] + half[:, None] * _GL_T).ravel()
    dens = rho * np.exp(-0.5 * rho * rho)
    return rho, (half[:, None] * _GL_W).ravel() * dens, dens[-1] / rho[-1]


def _grading(width):
    """Distances ``width * 2^k`` from an arc end, up to past ``pi``."""
    return [width * _ARC_RATIO**k for k in range(int(math.log(math.pi / width, _ARC_RATIO)) + 2)]


def _arc_rule(theta, width, symmetric):
    """psi nodes and weights on the arcs between the kink angles, graded toward the kinks.

    The first factor's kinks are at ``+-pi/2``, the second's at ``theta +- pi/2``. Over one
    period, or (``symmetric``: ``q1 = q2``, where the integrand is symmetric about
    ``psi = theta/2`` modulo ``pi``) over the half period ``[theta/2, theta/2 + pi]``. Every arc
    end is graded, the points of symmetry too: near ``theta = 0, pi`` a kink's feature reaches
    across the short arc to them (ungraded there, measured: 3e-12 instead of 2e-14 for erf).
    """
    half_pi, period = 0.5 * math.pi, 2.0 * math.pi
    if symmetric:
        lo, hi, kinks = 0.5 * theta, 0.5 * theta + math.pi, (half_pi, theta + half_pi)
    else:
        lo, hi, kinks = -half_pi, 1.5 * math.pi, (-half_pi, half_pi, theta - half_pi, theta + half_pi)
    at = sorted(lo + (k - lo) % period for k in kinks)
    tol = _MIN_ELEMENT
    points = [lo]
    for p in at:  # interior kinks, coinciding ones merged (theta = 0, pi)
        if points[-1] + tol < p < hi - tol:
            points.append(p)
    points.append(hi)
    grading = _grading(width)
    ends = [lo]
    for x0, x1 in zip(points[:-1], points[1:], strict=True):
        reach = 0.5 * (x1 - x0)
        arc = sorted({x0, x1, *(x0 + d for d in grading if d < reach), *(x1 - d for d in grading if d < reach)})
        for a, b in zip(arc[:-1], arc[1:], strict=True):
            pieces = max(1, math.ceil((b - a) / _ARC_LONGEST))
            ends += [a + (b - a) * (k + 1) / pieces for k in range(pieces)]
    p = np.array(ends)
    half, mid = 0.5 * np.diff(p), 0.5 * (p[1:] + p[:-1])
    return (mid[:, None] + half[:, None] * _GL_T).ravel(), (half[:, None] * _GL_W).ravel()


#: Nodes per vectorized chunk of samples (theta x psi x rho): 512 KB temporaries stay in the L2
#: cache (measured: 2 MB chunks made the SELU proxy ~1.7x slower).
_CHUNK_NODES = 1 << 16


def arc_samples(act, which, q1, q2, c, scale):
    """``K`` at the correlations ``c`` (1-D array), or None where a check fails (module doc).

    ``scale`` is the Cauchy-Schwarz scale, the unit of the end check.
    """
    g = act.f if which == "f" else act.df
    a, b = math.sqrt(q1), math.sqrt(q2)
    rho, w_rho, beyond = _rho_rule(a, b, act.scale)
    thetas = np.arccos(np.clip(c, -1.0, 1.0))
    # one grading width for every arc end: a factor's feature at its kink reaches across a short
    # arc to the other factor's kink (theta near 0 or pi), so per-factor widths (measured) lose
    # 1e-8 there
    width = _ARC_WIDTH * act.scale / max(a, b)
    symmetric = q1 == q2  # then half a period, twice
    rules = [_arc_rule(float(t), width, symmetric) for t in thetas]
    longest = max(r[0].size for r in rules)
    psi = np.zeros((c.size, longest))
    w_psi = np.zeros((c.size, longest))  # padded with zero weights
    for i, (nodes, weights) in enumerate(rules):
        psi[i, :nodes.size], w_psi[i, :nodes.size] = nodes, weights
    out = np.empty(c.size)
    edge_mass = np.empty(c.size)
    step = max(1, _CHUNK_NODES // (longest * rho.size))
    with np.errstate(all="ignore"):
        for start in range(0, c.size, step):
            s = slice(start, start + step)
            h = (g(a * np.cos(psi[s])[:, :, None] * rho)
                 * g(b * np.cos(psi[s] - thetas[s, None])[:, :, None] * rho))
            out[s] = np.sum(w_psi[s] * (h @ w_rho), axis=1) / (math.pi if symmetric else 2.0 * math.pi)
            # |integrand| over psi at the last rho node: the mass beyond the window, estimated
            edge_mass[s] = np.sum(w_psi[s] * np.abs(h[:, :, -1]), axis=1) * beyond
    if not (np.all(np.isfinite(out)) and np.all(edge_mass <= _EDGE_TOL * scale)):
        return None
    for sign in (1.0, -1.0):
        at_end = np.flatnonzero(c == sign)
        if at_end.size:
            def product(z, sign=sign):
                return g(a * z) * g(sign * b * z)

            exact = gauss_expectation(product, 0.0, 1.0, kinks=(0.0,), scale=act.scale / max(a, b))
            if not abs(out[at_end[0]] - exact) <= _CHECK_TOL * scale:
                return None
    return out
