"""The ``mpmath`` engine: arbitrary-precision reference for every Gaussian expectation.

Each value is one adaptive tanh-sinh integral (:func:`mpmath.quad`) in the
standardized variable ``z = (x - mean)/sqrt(var)``, split at the activation's
kinks and at ``x = 0`` and ``z = 0``, at :data:`meanfield.tolerances.REFERENCE_DPS`
digits plus guard digits. Derivatives use the Gaussian score identities

.. math::

    \\partial_m E[g] = E[g(x)(x - m)]/v, \\qquad
    \\partial_v E[g] = E[g(x)((x - m)^2 - v)]/(2 v^2),

which need no derivative of ``g`` and are exact; at 40 working digits their
cancellation is harmless. Slow (milliseconds per value): it is the yardstick the
other engines are tested against, not a workhorse.
"""

from __future__ import annotations

import mpmath
import numpy as np

from meanfield.tolerances import REFERENCE_DPS

__all__ = ["MpmathEngine", "mp_gauss_expectation"]

_GUARD_DIGITS = 8
TAIL_Z = 12


def mp_gauss_expectation(g, mean, var, breakpoints=(), dps=REFERENCE_DPS):
    """Return ``E[g(x)]``, x ~ N(mean, var), as an mpmath number (``g`` takes mpf scalars).

    Examples
    --------
    >>> import mpmath
    >>> float(mp_gauss_expectation(lambda x: x * x, 0.5, 2.0))  # var + mean^2
    2.25
    """
    with mpmath.workdps(dps + _GUARD_DIGITS):
        m, v = mpmath.mpf(mean), mpmath.mpf(var)
        s = mpmath.sqrt(v)
        cuts = {mpmath.mpf(0), -m / s}
        cuts.update((mpmath.mpf(b) - m) / s for b in breakpoints)
        # the tails past |z| = 12 (Gaussian weight < 1e-31) get their own intervals: tanh-sinh
        # then spends its nodes where the mass is and still integrates any tail growth exactly
        cuts.update((mpmath.mpf(-TAIL_Z), mpmath.mpf(TAIL_Z)))
        # a kink far in the tail starts a piece whose mass sits within ~1/|c| of it: give
        # tanh-sinh nodes there (it otherwise spreads them over the transformed half-line)
        for c in list(cuts):
            if abs(c) > TAIL_Z / 2:
                cuts.update(c + mpmath.sign(c) * d / abs(c) for d in (0.25, 1, 4, 16, 64))
        cuts = sorted(c for c in cuts if abs(c) < 60)
        norm = 1 / mpmath.sqrt(2 * mpmath.pi)

        def integrand(z):
            return g(m + s * z) * mpmath.exp(-z * z / 2) * norm

        points = [-mpmath.inf, *cuts, mpmath.inf]
        intervals = list(zip(points, points[1:], strict=False))
        parts = [mpmath.quad(integrand, iv, maxdegree=10, error=True) for iv in intervals]
        # intervals below 10^-(dps+2) of the whole need no relative accuracy of their own
        floor = sum(abs(value) for value, _ in parts) * mpmath.mpf(10) ** -(dps + 2)
        total = mpmath.mpf(0)
        for iv, (value, err) in zip(intervals, parts, strict=True):
            if value != 0 and err > max(abs(value) * mpmath.mpf(10) ** -(dps + 2), floor):
                # mpmath.quad stops on an *absolute* error estimate, so an interval worth 1e-120
                # comes back with few correct digits: integrate it again scaled to O(1)
                scale = abs(value)
                value = scale * mpmath.quad(lambda z, c=scale: integrand(z) / c, iv, maxdegree=10)
            total += value
        return total



class MpmathEngine:
    """Arbitrary-precision reference engine (see module docstring)."""

    name = "mpmath"

    def __init__(self, dps=REFERENCE_DPS):
        self.dps = dps

    def supports(self, act, quantity):
        return act.mpmath_functions() is not None

    def unsupported_reason(self, act, quantity):
        return (f"the mpmath engine needs a SymPy expression or mpmath callables; "
                f"{act.name} was built from NumPy callables only (pass mp_f=, mp_df=)")

    def expect(self, act, quantity, mean, var, derivative=None):
        mp_f, mp_df = act.mpmath_functions()
        base = {"f": mp_f, "f2": lambda x: mp_f(x) ** 2, "df2": lambda x: mp_df(x) ** 2}[quantity]
        mean, var = np.broadcast_arrays(np.asarray(mean, float), np.asarray(var, float))
        out = np.empty(mean.shape)
        for idx in np.ndindex(mean.shape):
            m, v = mean[idx], var[idx]
            out[idx] = float(self._one(base, m, v, derivative, act.kinks))
        return out

    def _one(self, g, m, v, derivative, kinks):
        if derivative is None:
            return mp_gauss_expectation(g, m, v, kinks, self.dps)
        with mpmath.workdps(self.dps + _GUARD_DIGITS):
            mm, vv = mpmath.mpf(m), mpmath.mpf(v)
            if derivative == "mean":
                return mp_gauss_expectation(lambda x: g(x) * (x - mm) / vv, m, v, kinks, self.dps)
            return mp_gauss_expectation(lambda x: g(x) * ((x - mm) ** 2 - vv) / (2 * vv * vv),
                                        m, v, kinks, self.dps)
