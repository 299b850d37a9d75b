r"""Polar-Fourier series of ``K(c) = E[g(u1) g(u2)]`` for activations without kinks.

With ``z1 = rho cos(psi)``, ``z2 = rho sin(psi)`` and ``c = cos(theta)``,
``u1 = sqrt(q1) rho cos(psi)`` and ``u2 = sqrt(q2) rho cos(psi - theta)``, so

.. math::

    K(\theta) = \frac{1}{2\pi} \int_0^\infty \rho e^{-\rho^2/2}
                \int_0^{2\pi} h_1(\rho, \psi)\, h_2(\rho, \psi - \theta)\, d\psi\, d\rho,
    \qquad h_i(\rho, \psi) = g(\sqrt{q_i}\, \rho \cos\psi):

for every ``rho`` a circular cross-correlation. Without kinks ``h_i`` is even, periodic and
analytic in ``psi``; with its Fourier coefficients ``hat h_{i,m}(rho)`` (an FFT on
a uniform ``psi`` grid, spectrally accurate) the cross-correlation is a cosine series, and since
``cos(m theta) = T_m(c)``

.. math::

    K = \sum_{m \ge 0} \kappa_m T_m(c), \qquad
    \kappa_m = (2 - \delta_{m0}) \int_0^\infty \rho e^{-\rho^2/2}\,
               \hat h_{1,m}(\rho)\, \hat h_{2,m}(\rho)\, d\rho :

a Chebyshev series in ``c`` from one two-dimensional pass (~2-10 ms at ``q <= 100``). The
``rho`` rule is the one-dimensional engine's composite 12-point Gauss-Legendre rule on
``0, 1.2, 2.5, 4, 6, 9`` graded toward ``rho = 0`` down to ``scale/sqrt(q)`` (the activation's
feature at ``x = 0`` is at ``rho ~ scale/sqrt(q)`` on every ray); a ray at ``rho`` gets a power of
two ``>= 24 sqrt(q) rho / scale`` grid points in ``psi`` (``h`` has features of width
``scale / (sqrt(q) rho)`` there), doubled while the top quarter of its spectrum is above
``1e-14`` of its largest coefficient (aliasing check). The series is refused (the caller then tries
its ``theta`` proxy) if a ray needs more than ``2^15`` points (``q >~ 2e4``), if the
integrand has mass beyond ``rho = 9`` (an exponentially growing activation), or if at
``c = +-1``, where the integral is one-dimensional, it disagrees with the one-dimensional
engine's ``E[g(sqrt(q1) z) g(+-sqrt(q2) z)]`` by more than ``1e-11`` of the Cauchy-Schwarz
scale (an independent check of the ``rho`` rule and of the sum of all modes).

Source: the polar form of the bivariate Gaussian; the cross-correlation theorem for Fourier
series. Used by :mod:`meanfield.engines._bivariate_proxy`.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from meanfield.tolerances import Z_CUTOFF

__all__ = ["polar_series"]

#: Polar series: rho mesh (base points in rho, as the one-dimensional engine's z mesh), its
#: grading toward rho = 0 and the Gauss-Legendre order per element.
_RHO_BASE = (0.0, 1.2, 2.5, 4.0, 6.0, Z_CUTOFF)
_RHO_GRADING = (1.0, 2.5, 5.0, 9.0, 16.0, 30.0)
_GL_T, _GL_W = np.polynomial.legendre.leggauss(12)
_MIN_ELEMENT = 1e-14
#: psi grid points per unit of sqrt(q) rho / scale (tanh's poles at distance pi/2 scale give
#: ~1e-15 at 24), the smallest grid and the largest one tried.
_PSI_PER_UNIT = 24.0
_PSI_MIN = 32
_PSI_MAX = 1 << 15
#: Aliasing check: the top quarter of a ray's spectrum must be below this fraction of its
#: largest coefficient, else the ray's grid is doubled.
_ALIAS_TOL = 1e-14
#: Largest estimated integrand mass beyond rho = Z_CUTOFF (relative to E|g1 g2|).
_EDGE_TOL = 1e-15


def _rho_rule(a, b, scale):
    """Nodes, weights ``w rho e^{-rho^2/2}`` and the last node's mass-beyond factor."""
    pts = set(_RHO_BASE)
    for r in {a, b}:
        pts.update(scale / r * u for u in _RHO_GRADING if scale / r * u < Z_CUTOFF)
    p = np.array(sorted(pts))
    p = p[np.concatenate([[True], np.diff(p) > _MIN_ELEMENT])]
    half = 0.5 * np.diff(p)
    mid = 0.5 * (p[1:] + p[:-1])
    rho = (mid[:, None] + half[:, None] * _GL_T).ravel()
    dens = rho * np.exp(-0.5 * rho * rho)
    weight = (half[:, None] * _GL_W).ravel() * dens
    # density at the last node / its decay rate (~rho) estimates the mass beyond rho = Z
    beyond = dens[-1] / rho[-1]
    return rho, weight, beyond


def polar_series(act, which, q1, q2):
    """``kappa_m`` of ``K = sum kappa_m T_m(c)`` (module docstring), or None where refused."""
    g = act.f if which == "f" else act.df
    a, b = math.sqrt(q1), math.sqrt(q2)
    rho, weight, beyond_factor = _rho_rule(a, b, act.scale)
    want = _PSI_PER_UNIT * max(a, b) * rho / act.scale
    need = np.maximum(_PSI_MIN, 2 ** np.ceil(np.log2(np.maximum(want, 1.0)))).astype(np.int64)
    if need.max() > _PSI_MAX:
        return None
    pending = collections.defaultdict(list)
    for n in np.unique(need):
        pending[int(n)].append(np.flatnonzero(need == n))
    kappa = np.zeros(_PSI_MAX // 2)
    abs_mass = np.zeros(rho.size)
    longest = 0
    with np.errstate(all="ignore"):
        while pending:
            n = min(pending)
            rows = np.concatenate(pending.pop(n))
            x = rho[rows, None] * np.cos((2.0 * math.pi / n) * np.arange(n))
            h1 = g(a * x)
            h2 = h1 if q1 == q2 else g(b * x)
            if not (np.all(np.isfinite(h1)) and np.all(np.isfinite(h2))):
                return None
            s1 = np.fft.rfft(h1, axis=1).real / n
            s2 = s1 if q1 == q2 else np.fft.rfft(h2, axis=1).real / n
            top = slice(3 * n // 8, None)
            alias = np.maximum(np.max(np.abs(s1[:, top]), axis=1) / np.max(np.abs(s1), axis=1),
                               np.max(np.abs(s2[:, top]), axis=1) / np.max(np.abs(s2), axis=1))
            bad = ~(alias <= _ALIAS_TOL)  # NaN (an all-zero ray) counts as resolved below
            bad &= np.max(np.abs(s1), axis=1) * np.max(np.abs(s2), axis=1) > 0
            if bad.any():
                if 2 * n > _PSI_MAX:
                    return None
                pending[2 * n].append(rows[bad])
            ok = ~bad
            m = n // 2  # drop the Nyquist term (below the aliasing tolerance)
            kappa[:m] += weight[rows[ok]] @ (s1[ok, :m] * s2[ok, :m])
            abs_mass[rows[ok]] = np.mean(np.abs(h1[ok] * h2[ok]), axis=1)
            longest = max(longest, m)
    kappa = kappa[:longest]
    kappa[1:] *= 2.0
    total = float(weight @ abs_mass)
    if not (np.isfinite(total) and total > 0):
        return None
    if beyond_factor * abs_mass[-1] > _EDGE_TOL * total:
        return None
    return kappa
