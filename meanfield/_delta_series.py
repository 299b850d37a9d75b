r"""``delta_q`` at small ``q`` without cancellation: exact series of its numerator.

``delta_q = (q E[f'^2] - E[f^2]) / E[f^2]`` (Chen et al., eq. 2) is ``O(q)`` as ``q -> 0`` while
both terms of the numerator are ``O(q)`` themselves, so the subtraction loses every digit
(tanh at ``q = 1e-12`` gave exactly 0). Two exact series replace it there:

* the SELU family and other closed-engine templates: the closed engine's
  :func:`~meanfield.engines.closed.delta_numerator_series` (a power series in ``sqrt(q)``);
* any other smooth template (no kink within :data:`KINK_CLEARANCE` of 0): the heat-equation
  (Stein) series of a Gaussian expectation, ``E[g(\sqrt q z)] = \sum_k g^{(2k)}(0) q^k / (2^k k!)``
  (asymptotic; e.g. Bogachev, *Gaussian Measures*, 1.2), applied to ``g = f'^2`` and ``g = f^2``:

  .. math:: q E[f'^2] - E[f^2] = \sum_{k \ge 0} \frac{q^k}{2^k k!}
            \Big( q\, (f'^2)^{(2k)}(0) - (f^2)^{(2k)}(0) \Big),

  whose terms are exact numbers (SymPy derivatives at 0), so no digits cancel. It is used where
  ``q <= SERIES_MAX_Q`` and its last term is below :data:`SERIES_TAIL_RTOL` of the sum.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["delta_small_q", "KINK_CLEARANCE", "SERIES_MAX_Q", "SERIES_ORDER", "SERIES_TAIL_RTOL"]

#: Largest q the heat-equation series is tried at (tanh's terms shrink by ~0.8 q k per order).
SERIES_MAX_Q = 1e-3
#: Number of terms k = 0 .. SERIES_ORDER - 1 of each series.
SERIES_ORDER = 8
#: The series is used only where its last term is below this fraction of the sum.
SERIES_TAIL_RTOL = 1e-17
#: A kink closer than this to 0 makes f non-smooth where the small-q Gaussian lives (beyond it,
#: a kink at k contributes ~exp(-k^2 / (2 q)) <= exp(-500) at q <= SERIES_MAX_Q).
KINK_CLEARANCE = 1.0


def delta_small_q(act, q, second, method, out):
    """Replace ``out`` (delta) at small q by an exact series; returns the mask of replaced values."""
    from meanfield.engines import ENGINES
    from meanfield.engines.closed import SERIES_MAX_RATE, delta_numerator_series

    none = np.zeros(np.shape(out), dtype=bool)
    if method not in ("auto", "closed", "quadrature") or act.template is None:
        return none
    second = np.broadcast_to(second, np.shape(out))
    q = np.broadcast_to(q, np.shape(out))
    if method != "quadrature" and ENGINES["closed"].supports(act, "f2"):
        found = delta_numerator_series(act.template, tuple(act.params), act.params)
        if found is not None:
            table, rate = found
            s = np.sqrt(q)
            use = s * rate <= SERIES_MAX_RATE
            if use.any():
                numerator = np.zeros(s[use].shape)
                if table:
                    for p in range(max(table), -1, -1):
                        numerator = numerator * s[use] + table.get(p, 0.0)
                out[use] = numerator / second[use]
            return use
    # the heat-equation series: only where it is needed (small q, f(0) = 0 so that the two terms
    # cancel) and f is smooth near 0
    if not (q <= SERIES_MAX_Q).any() or any(abs(float(k)) < KINK_CLEARANCE for k in act.kinks):
        return none
    with np.errstate(all="ignore"):
        if float(np.asarray(act.f(np.zeros(1))).ravel()[0]) != 0.0:
            return none
    coefficients = _heat_coefficients(act.template, tuple(sorted(act.params.items())))
    if coefficients is None:
        return none
    use = np.array(q <= SERIES_MAX_Q)  # an array even for a scalar q
    qs = q[use]
    numerator = np.zeros(qs.shape)
    for k in range(SERIES_ORDER - 1, -1, -1):  # Horner in q
        numerator = numerator * qs + coefficients[k]
    last = np.abs(coefficients[SERIES_ORDER - 1]) * qs ** (SERIES_ORDER - 1)
    good = last <= SERIES_TAIL_RTOL * np.abs(numerator)
    use[use] = good  # keep the values whose series converged
    out[use] = numerator[good] / second[use]
    return use


@functools.lru_cache(maxsize=64)
def _heat_coefficients(template, params):
    """Coefficients ``a_j`` of ``q E f'^2 - E f^2 = sum_j a_j q^j``, j < SERIES_ORDER, or None.

    From the Taylor coefficients ``c_n`` of f at 0 (SymPy's ``series``): ``(g)^{(2k)}(0) / (2^k k!)
    = [x^{2k}] g * (2k - 1)!!`` for ``g = f^2`` and ``g = f'^2`` (products of truncated series).
    """
    import sympy as sp

    from meanfield.expressions import X

    n_terms = 2 * SERIES_ORDER + 1
    try:
        f = template.subs({sp.Symbol(n, real=True): sp.nsimplify(v) for n, v in params})
        poly = sp.series(f, X, 0, n_terms + 1).removeO()
        c = [sp.expand(poly.coeff(X, n)) for n in range(n_terms + 1)]
        # exact arithmetic: the low orders cancel exactly (tanh: a_0 = a_1 = a_2 = 0), which a float
        # convolution would leave as ~1e-16 and so swamp the O(q^3) numerator at small q
        a = [sp.Integer(0)] * (SERIES_ORDER + 1)
        for k in range(SERIES_ORDER):
            value = sum(c[i] * c[2 * k - i] for i in range(2 * k + 1))
            slope = sum((i + 1) * c[i + 1] * (2 * k - i + 1) * c[2 * k - i + 1] for i in range(2 * k + 1))
            double_factorial = sp.factorial2(2 * k - 1)
            a[k] -= value * double_factorial
            a[k + 1] += slope * double_factorial
        out = tuple(float(sp.expand(v)) for v in a[:SERIES_ORDER])
    except (TypeError, ValueError, ZeroDivisionError, NotImplementedError, sp.PoleError):
        return None
    return out if all(math.isfinite(v) for v in out) else None
