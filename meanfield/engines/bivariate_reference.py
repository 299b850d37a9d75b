r"""Arbitrary-precision bivariate expectations ``E[g(u1) g(u2)]`` (the ``mpmath`` engine).

Nested one-dimensional integrals in mpmath (slow: a reference, not a workhorse):

.. math:: E[g(u_1) g(u_2)] = \int g(\sqrt{q_1} z_1)\, E[g(y)]\, \varphi(z_1)\, dz_1,
          \qquad y \sim N(c\sqrt{q_2}\, z_1,\; q_2 (1 - c^2)),

the outer integral split at the kinks of ``g(u1)`` and at the projected kinks
``z1 = k/(c sqrt(q2))`` of the inner one, the inner one by
:func:`~meanfield.engines.reference.mp_gauss_expectation` (split at its kinks).
"""

from __future__ import annotations

import mpmath
import numpy as np

from meanfield.engines.reference import mp_gauss_expectation
from meanfield.tolerances import REFERENCE_DPS

__all__ = ["bivariate_mpmath"]

#: Outer window |z1| <= 12: the Gaussian weight beyond is < 1e-31 (below 30 digits of O(1) values).
_TAIL_Z = 12
_GUARD_DIGITS = 8


def _one(g, kinks, q1, q2, c, dps):
    with mpmath.workdps(dps + _GUARD_DIGITS):
        q1, q2, c = mpmath.mpf(q1), mpmath.mpf(q2), mpmath.mpf(c)
        r1, r2 = mpmath.sqrt(q1), mpmath.sqrt(q2)
        v = q2 * (1 - c) * (1 + c)
        cuts = {mpmath.mpf(0), mpmath.mpf(-_TAIL_Z), mpmath.mpf(_TAIL_Z)}
        cuts.update(mpmath.mpf(k) / r1 for k in kinks)
        if c != 0:
            cuts.update(mpmath.mpf(k) / (c * r2) for k in kinks)
        cuts = sorted(x for x in cuts if abs(x) <= _TAIL_Z)
        norm = 1 / mpmath.sqrt(2 * mpmath.pi)

        def inner(z1):
            mean = c * r2 * z1
            if v == 0:
                return g(mean)
            return mp_gauss_expectation(g, mean, v, kinks, dps)

        def integrand(z1):
            return g(r1 * z1) * inner(z1) * mpmath.exp(-z1 * z1 / 2) * norm

        return mpmath.quad(integrand, cuts, maxdegree=8)


def bivariate_mpmath(act, which, q1, q2, c, dps=REFERENCE_DPS):
    """``E[g(u1) g(u2)]`` with ``g = f`` or ``f'`` (``which``), elementwise over 1-D arrays."""
    fns = act.mpmath_functions()
    if fns is None:
        raise ValueError(f"the mpmath engine needs a SymPy expression or mpmath callables; "
                         f"{act.name} was built from NumPy callables only (pass mp_f=, mp_df=)")
    g = fns[0] if which == "f" else fns[1]
    out = np.empty(np.shape(q1))
    for i, (a, b, r) in enumerate(zip(q1, q2, c, strict=True)):
        out[i] = float(_one(g, act.kinks, a, b, r, dps))
    return out
