"""The ``quadrature`` engine (placeholder: composite Gauss-Legendre; being replaced)."""

from __future__ import annotations

import numpy as np

from meanfield.tolerances import Z_CUTOFF

__all__ = ["QuadratureEngine", "gauss_expectation"]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(40)


def gauss_expectation(g, mean, var, *, kinks=(), scale=1.0):
    """Return ``E[g(x)]``, x ~ N(mean, var), for a vectorized NumPy callable ``g``."""
    mean, var = np.broadcast_arrays(np.asarray(mean, float), np.asarray(var, float))
    s = np.sqrt(var)
    cuts = [np.full(mean.shape, -Z_CUTOFF), np.full(mean.shape, Z_CUTOFF)]
    for k in (*kinks, 0.0):
        cuts.append(np.clip((k - mean) / s, -Z_CUTOFF, Z_CUTOFF))
    cuts = np.sort(np.stack(cuts, -1), -1)
    total = np.zeros(mean.shape)
    for i in range(cuts.shape[-1] - 1):
        lo, hi = cuts[..., i, None], cuts[..., i + 1, None]
        z = 0.5 * (hi + lo) + 0.5 * (hi - lo) * _NODES
        w = 0.5 * (hi - lo) * _WEIGHTS
        vals = g(mean[..., None] + s[..., None] * z) * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
        total += np.sum(w * vals, -1)
    return total


class QuadratureEngine:
    name = "quadrature"

    def supports(self, act, quantity):
        return True

    def unsupported_reason(self, act, quantity):
        return ""

    def expect(self, act, quantity, mean, var, derivative=None):
        f, df = act.f, act.df
        g = {"f": f, "f2": lambda x: f(x) ** 2, "df2": lambda x: df(x) ** 2}[quantity]
        mean, var = np.broadcast_arrays(np.asarray(mean, float), np.asarray(var, float))
        if derivative == "mean":
            m, v = mean[..., None], var[..., None]
            h = lambda x: g(x) * (x - m) / v  # noqa: E731
        elif derivative == "var":
            m, v = mean[..., None], var[..., None]
            h = lambda x: g(x) * ((x - m) ** 2 - v) / (2 * v * v)  # noqa: E731
        else:
            h = g
        return gauss_expectation(h, mean, var, kinks=act.kinks, scale=act.scale)
