"""The Gaussian quadrature rule the design solver integrates with (nodes in x, weights of N(mean, var)).

Composite Gauss-Legendre in ``z = (x - mean)/sqrt(var)`` on ``[-Z, Z]``, split at the activation's
kinks (so every panel integrates a smooth function) and into panels no wider than
:data:`PANEL_WIDTH`, :data:`PANEL_NODES` nodes each. On a panel of half-width h an n-node rule
errs by ~``rho^(-2n)``, ``rho = d/h + sqrt(1 + (d/h)^2)``, for an integrand analytic within ``d`` of
the real axis: tanh's poles at ``u = i pi/2`` are ``pi/(2 input_scale)`` away in z, so at
``input_scale <= 2`` (``d/h >= 1.57``, ``rho >= 3.4``) 16 nodes on width-1 panels err by < 1e-16
(the transforms have ``input_scale < 1``: far smaller). The Gaussian mass beyond ``|z| = 12`` is
below 1e-32. The window widens (``gauss_rule``'s ``widen``) when an integrand still matters at
its ends (exponentially growing activations).

All moments of one (mean, var) share the nodes, so ``E f``, ``E f^2``, ``E f'^2``, ``E f''^2`` and
their gradients cost one evaluation of the family plus dot products.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["PANEL_NODES", "PANEL_WIDTH", "WINDOW_Z", "gauss_rule"]

#: Half-width in z of the integration window (Gaussian tail mass beyond: 2e-33).
WINDOW_Z = 12.0
#: Widest panel in z.
PANEL_WIDTH = 1.0
#: Gauss-Legendre nodes per panel.
PANEL_NODES = 16

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@functools.cache
def _legendre():
    t, w = np.polynomial.legendre.leggauss(PANEL_NODES)
    t.setflags(write=False)
    w.setflags(write=False)
    return t, w


def gauss_rule(mean, var, kinks=(), widen=(0.0, 0.0)):
    """Nodes ``x`` and weights ``w`` with ``sum(w g(x)) = E[g(x)]``, x ~ N(mean, var); also ``z``.

    Parameters
    ----------
    mean, var : float
    kinks : sequence of float
        x-locations where the integrand may be non-smooth (panel boundaries).
    widen : (float, float)
        Extra z-width below and above the window.
    """
    s = math.sqrt(var)
    lo, hi = -WINDOW_Z - widen[0], WINDOW_Z + widen[1]
    cuts = tuple(sorted({lo, hi, *((k - mean) / s for k in kinks if lo < (k - mean) / s < hi)}))
    z, wz = _z_rule(cuts)
    return mean + s * z, wz, z


@functools.lru_cache(maxsize=256)
def _z_rule(cuts):
    """Nodes and Gaussian weights in z for the panel cuts ``cuts`` (cached: kink-free rules repeat)."""
    edges = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        n = max(1, math.ceil((b - a) / PANEL_WIDTH))
        edges.append(np.linspace(a, b, n + 1)[:-1])
    edges = np.append(np.concatenate(edges), cuts[-1])
    t, w = _legendre()
    half = np.diff(edges)[:, None] / 2
    mid = (edges[:-1] + edges[1:])[:, None] / 2
    z = (mid + half * t).ravel()
    wz = (half * w).ravel() * _INV_SQRT_2PI * np.exp(-0.5 * z * z)
    z.setflags(write=False)
    wz.setflags(write=False)
    return z, wz
