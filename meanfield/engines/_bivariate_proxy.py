r"""Amortized bivariate expectations: one proxy per ``(activation, g, q1, q2)``, any number of ``c``.

The direct rule of :mod:`meanfield.engines.bivariate_quadrature` costs ~2.5 ms a value (an outer
graded rule over a kink-aware inner rule). The c-map and correlation use cases evaluate many
values that share ``(q1, q2)``: a grid of ``c`` at the fixed point, or the same ``q`` called over
and over by a fixed-point iteration. For those, ``K(c) = E[g(u1) g(u2)]`` (``g = f`` or ``f'``) is
built once as a Chebyshev proxy, cached, and evaluated for every ``c``.

**Polar form.** With ``z1 = rho cos(psi)``, ``z2 = rho sin(psi)`` and ``c = cos(theta)``,
``theta in [0, pi]``,

.. math::

    u_1 = \sqrt{q_1}\, \rho \cos\psi, \qquad u_2 = \sqrt{q_2}\, \rho \cos(\psi - \theta), \qquad
    K(\theta) = \frac{1}{2\pi} \int_0^\infty \rho e^{-\rho^2/2}
                \int_0^{2\pi} h_1(\rho, \psi)\, h_2(\rho, \psi - \theta)\, d\psi\, d\rho,

``h_i(rho, psi) = g(sqrt(q_i) rho cos psi)``: for every ``rho`` a circular cross-correlation.

**Smooth activations (no kinks), engine "quadrature": polar-Fourier series.** For every ``rho``
the ``psi`` integral is a circular cross-correlation of two even, periodic, analytic functions:
an FFT turns it into a Chebyshev series ``K = sum_m kappa_m T_m(c)`` in ``c`` itself, from one
two-dimensional pass (:mod:`meanfield.engines._bivariate_polar`, with its checks). A series
longer than 129 terms (large ``q``: ``K`` has a boundary layer at ``c = +-1``) is resampled as
the ``theta`` proxy below when that converges with fewer terms.

**Any activation with its kinks at 0: Chebyshev proxy in theta.** For a ``g`` that is analytic
except at ``x = 0`` (ReLU, leaky ReLU, ELU, the SELU family, and every smooth activation),
``h_1(rho, .)`` is analytic except at ``psi = +-pi/2`` and ``h_2(rho, . - theta)`` except at
``theta +- pi/2``, for every ``rho``. For ``theta`` in ``(0, pi)`` these four points are
distinct; splitting the ``psi`` integral there gives a finite sum of integrals of analytic
integrands over arcs whose ends move linearly with ``theta``, so ``K`` is analytic in
``theta`` on the closed interval ``[0, pi]`` (the points only merge at the ends, where each
one-sided piece continues analytically; for entire pieces such as ReLU's, ELU's and SELU's the
``rho`` integral converges uniformly for complex ``theta`` near ``[0, pi]`` because the Gaussian
beats their growth; for meromorphic ones such as tanh's the strip narrows with ``rho``, and the
claim rests on the measured geometric decay of the coefficients and on the tail check). The
``sqrt(1 - c^2)`` singularities of the kernels in
``c`` are gone: ReLU's arc-cosine kernel is ``(sin t + (pi - t) cos t)/(2 pi)`` and
``E[f' f'] = (pi - t)/(2 pi)``, entire in ``t``. The proxy samples ``K`` at the
Chebyshev-Lobatto points of ``theta in [0, pi]`` (which include ``theta = 0, pi``, i.e.
``c = +-1``, where it is exact up to the Clenshaw sum's rounding), 17 of them, nested to 33,
65 and 129 while the last quarter of the Chebyshev coefficients exceeds ``1e-12`` of the
Cauchy-Schwarz scale ``sqrt(E[g(u1)^2] E[g(u2)^2])``. The samples come from the polar arc rule
(:mod:`meanfield.engines._bivariate_arcs`: the same split of ``psi`` at the four kink angles as a
tensor Gauss-Legendre rule, ~3-5x cheaper) for engine ``"quadrature"`` when every kink is at 0,
else (or where its checks fail) from the direct rule. Measured on the built-ins, degree
15-110 reaches ``1e-13`` of that scale for ``q`` in ``[1e-2, 1e2]``. A kink away from 0
(``Max(x - 0.3, 0)``, a ``with_params`` shift) moves the kink lines off the rays and the argument
fails: the coefficients may stop decaying (those of ``f'`` of that shifted ReLU do), the tail
check then fails at 129 points and the values use the direct rule; where they still fall below
the tolerance (``f`` of it), the proxy is used and is as accurate as the check says.

**When.** A ``(q1, q2)`` gets a proxy once the values requested for it (in this call and
earlier ones) reach :data:`N_MIN_POLAR` (series; it costs a few direct values) or
:data:`N_MIN_THETA` (theta proxy: 17-129 direct values, refined only as far as twice the
values seen so far pay for). Built proxies, and ``(q1, q2)`` for which none converged, sit in
an LRU cache of :data:`CACHE_SIZE` entries keyed by the activation (name, SymPy template,
parameter values, kinks, scale; for callables the identity of ``f`` and ``f'``), ``g``, the
inner engine and ``(q1, q2)``.
"""

from __future__ import annotations

import collections
import math

import numpy as np
from numpy.polynomial import chebyshev

from meanfield.engines._bivariate_arcs import arc_samples, arcs_apply
from meanfield.engines._bivariate_polar import polar_series
from meanfield.engines.quadrature import gauss_expectation

__all__ = ["CACHE_SIZE", "N_MIN_POLAR", "N_MIN_THETA", "Proxy", "amortized_expectation",
           "clear_proxy_cache", "proxy_cache_info", "cached_proxy"]

#: Values sharing (q1, q2) before the polar-Fourier series is built (it costs ~1-4 direct values).
N_MIN_POLAR = 8
#: Values sharing (q1, q2) before the theta proxy is built (it costs 17-129 direct values).
N_MIN_THETA = 48
#: Proxies (or "none converged" markers) kept, least recently used dropped first.
CACHE_SIZE = 128
#: Per-(q1, q2) request counters kept (values seen so far, partial theta samples).
_COUNTER_SIZE = 1024

#: Chebyshev-Lobatto levels of the theta proxy (N intervals, N + 1 points; nested).
_THETA_LEVELS = (16, 32, 64, 128)
#: The last quarter of the theta coefficients must be below this fraction of the
#: Cauchy-Schwarz scale: the interpolation error is of the size of that tail, and the direct
#: samples carry ~1e-14 of the scale, so 1e-12 separates convergence from sampling noise.
_THETA_TAIL_TOL = 1e-12
#: The theta proxy may take at most this many direct samples per value requested so far.
_THETA_BUDGET = 2

#: The polar series is checked at c = +-1 against the one-dimensional engine's
#: E[g(a z) g(+-b z)]: allowed difference (relative to the Cauchy-Schwarz scale);
#: coefficients below _TRIM_TOL of that scale are dropped from the series' end.
_CHECK_TOL = 1e-11
_TRIM_TOL = 1e-18


class Proxy:
    """A built proxy: ``K(c)`` as a Chebyshev series in ``c`` or in ``x = 1 - 2 arccos(c)/pi``.

    Attributes
    ----------
    kind : {"polar", "theta"}
        Polar-Fourier series in ``c`` or the Chebyshev proxy in ``theta``.
    coef : ndarray
        Chebyshev coefficients.
    scale : float
        The Cauchy-Schwarz scale ``sqrt(E[g(u1)^2] E[g(u2)^2])``. The samples come from the polar arc rule
(:mod:`meanfield.engines._bivariate_arcs`: the same split of ``psi`` at the four kink angles as a
tensor Gauss-Legendre rule, ~3-5x cheaper) for engine ``"quadrature"`` when every kink is at 0,
else (or where its checks fail) from the direct rule.
    """

    def __init__(self, kind, coef, scale):
        self.kind = kind
        self.coef = coef
        self.scale = scale

    def __call__(self, c):
        """``K`` at the correlations ``c`` (array in ``[-1, 1]``)."""
        c = np.asarray(c, dtype=float)
        if self.kind == "polar":
            return chebyshev.chebval(c, self.coef)
        x = 1.0 - (2.0 / math.pi) * np.arccos(np.clip(c, -1.0, 1.0))
        return chebyshev.chebval(x, self.coef)


class _Counter:
    """Values seen for one (q1, q2) and the theta samples taken so far."""

    __slots__ = ("seen", "level", "samples", "polar_tried", "scale", "arcs", "act")

    def __init__(self, act, arcs):
        # holding the activation keeps the ids in a callables key from being reused while the
        # counter (and its samples) lives
        self.act = act
        self.seen = 0
        self.level = 0
        self.samples = None
        self.polar_tried = False
        self.scale = None
        self.arcs = arcs  # sample with the polar arc rule (else the direct rule)


_FAILED = "failed"
_PROXIES = collections.OrderedDict()
_COUNTERS = collections.OrderedDict()
_STATS = {"built": 0, "hits": 0, "failed": 0}


def clear_proxy_cache():
    """Forget every built proxy and request counter (benchmarks use it for cold timings)."""
    _PROXIES.clear()
    _COUNTERS.clear()
    for k in _STATS:
        _STATS[k] = 0


def proxy_cache_info():
    """``{"entries", "built", "hits", "failed"}``: cache size and counts since the last clear."""
    return {"entries": len(_PROXIES), **_STATS}


def _activation_key(act):
    """Hashable identity of an activation including its parameter values.

    Template activations (built-ins, expressions, affine/GPN versions) are equal when name,
    template, parameter values, kinks and scale are (``get_activation`` builds a new object per
    call, ``with_params`` one per parameter set); callables by the identity of ``f`` and ``f'``
    (the cache entry keeps the activation, so those identities are not reused while it lives).
    """
    common = (act.name, tuple(sorted(act.params.items())), act.kinks, act.scale)
    if act.template is not None:
        return ("template", act.template, *common)
    return ("callables", id(act._f), id(act._df), *common)


def cached_proxy(act, which, q1, q2, engine):
    """The built :class:`Proxy` for these arguments (either order of ``q1, q2``), or None."""
    low, high = sorted((float(q1), float(q2)))
    entry = _PROXIES.get((_activation_key(act), which, engine, low, high))
    return entry[0] if entry is not None and entry[0] is not _FAILED else None


def _remember(table, key, value, size):
    table[key] = value
    table.move_to_end(key)
    while len(table) > size:
        table.popitem(last=False)


def _cs_scale(act, which, q1, q2):
    g = act.f if which == "f" else act.df

    def g2(x):
        return np.square(g(x))

    m1 = gauss_expectation(g2, 0.0, q1, kinks=act.kinks, scale=act.scale)
    m2 = m1 if q1 == q2 else gauss_expectation(g2, 0.0, q2, kinks=act.kinks, scale=act.scale)
    return float(np.sqrt(m1 * m2))


# -- polar-Fourier series ---------------------------------------------------------------------


def _build_polar(act, which, q1, q2, scale):
    kappa = polar_series(act, which, q1, q2)
    if kappa is None:
        return None
    big = np.flatnonzero(np.abs(kappa) > _TRIM_TOL * scale)
    kappa = kappa[: (big[-1] + 1) if big.size else 1]
    # independent check at both ends, where the 2-D integral is 1-D: E[g(a z) g(+-b z)]
    g = act.f if which == "f" else act.df
    a, b = math.sqrt(q1), math.sqrt(q2)
    width = act.scale / max(a, b)
    for sign in (1.0, -1.0):
        def product(z, sign=sign):
            return g(a * z) * g(sign * b * z)

        exact = gauss_expectation(product, 0.0, 1.0, scale=width)
        if not abs(chebyshev.chebval(sign, kappa) - exact) <= _CHECK_TOL * scale:
            return None
    if kappa.size > _THETA_LEVELS[-1] + 1:
        # a long series in c (large q: K has a boundary layer at c = +-1) is usually a much
        # shorter one in theta: resample it at the Lobatto points, keep whichever is shorter
        for n in _THETA_LEVELS:
            coef = _lobatto_coefficients(chebyshev.chebval(_lobatto_c(n), kappa))
            if np.max(np.abs(coef[n - n // 4:])) <= _THETA_TAIL_TOL * scale:
                return Proxy("theta", coef, scale)
    return Proxy("polar", kappa, scale)


# -- theta proxy ------------------------------------------------------------------------------


def _lobatto_c(n, odd_only=False):
    """``c = cos(theta_j)`` at the Lobatto points ``theta_j = (pi/2)(1 - cos(pi j / n))``."""
    j = np.arange(1, n, 2) if odd_only else np.arange(n + 1)
    c = np.cos(0.5 * math.pi * (1.0 - np.cos(math.pi * j / n)))
    if not odd_only:
        c[0], c[-1] = 1.0, -1.0  # exactly the ends
    return c


def _lobatto_coefficients(values):
    """Chebyshev coefficients of the interpolant through Lobatto samples (DCT-I)."""
    n = values.size - 1
    ext = np.concatenate([values, values[-2:0:-1]])
    coef = np.fft.rfft(ext).real / n
    coef[0] *= 0.5
    coef[n] *= 0.5
    return coef[: n + 1]


def _refine_theta(counter, act, which, q1, q2, engine, direct):
    """Sample and refine the theta proxy as far as the budget allows; a Proxy, _FAILED or None."""
    while True:
        level = counter.level
        n_next = _THETA_LEVELS[level] if level < len(_THETA_LEVELS) else None
        if n_next is None:
            return _FAILED
        if n_next + 1 > _THETA_BUDGET * counter.seen:
            return None  # not yet paid for: keep the samples, use the direct rule meanwhile
        if counter.samples is None:
            c_new = _lobatto_c(n_next)
        else:
            c_new = _lobatto_c(n_next, odd_only=True)
        if counter.arcs:
            vals = arc_samples(act, which, q1, q2, c_new, counter.scale)
            if vals is None:  # a check of the arc rule failed: start again with the direct rule
                counter.arcs, counter.samples, counter.level = False, None, 0
                continue
        else:
            vals = direct(act, act, which, np.full(c_new.size, q1), np.full(c_new.size, q2), c_new, engine)
        if not np.all(np.isfinite(vals)):
            return _FAILED
        if counter.samples is None:
            samples = vals
        else:
            samples = np.empty(n_next + 1)
            samples[0::2] = counter.samples
            samples[1::2] = vals
        counter.samples = samples
        counter.level = level + 1
        coef = _lobatto_coefficients(samples)
        tail = np.max(np.abs(coef[n_next - n_next // 4:]))
        if tail <= _THETA_TAIL_TOL * counter.scale:
            return Proxy("theta", coef, counter.scale)


def _proxy_for(act, which, q1, q2, engine, count, direct):
    """The proxy for one (q1, q2) group of ``count`` values, or None (use the direct rule)."""
    key = (_activation_key(act), which, engine, q1, q2)
    entry = _PROXIES.get(key)
    if entry is not None:
        _PROXIES.move_to_end(key)
        if entry[0] is _FAILED:
            return None
        _STATS["hits"] += 1
        return entry[0]
    counter = _COUNTERS.get(key)
    if counter is None:
        counter = _Counter(act, arcs=engine == "quadrature" and arcs_apply(act))
    _remember(_COUNTERS, key, counter, _COUNTER_SIZE)
    counter.seen += count
    polar = engine == "quadrature" and not act.kinks
    if counter.seen < (N_MIN_POLAR if polar and not counter.polar_tried else N_MIN_THETA):
        return None
    if counter.scale is None:
        counter.scale = _cs_scale(act, which, q1, q2)
        if not (math.isfinite(counter.scale) and counter.scale > 0):
            result = _FAILED
            _remember(_PROXIES, key, (result, act), CACHE_SIZE)
            _COUNTERS.pop(key, None)
            _STATS["failed"] += 1
            return None
    result = None
    if polar and not counter.polar_tried:
        counter.polar_tried = True
        result = _build_polar(act, which, q1, q2, counter.scale)
    if result is None and counter.seen >= N_MIN_THETA:
        result = _refine_theta(counter, act, which, q1, q2, engine, direct)
    if result is None:
        return None
    _remember(_PROXIES, key, (result, act), CACHE_SIZE)
    _COUNTERS.pop(key, None)
    if result is _FAILED:
        _STATS["failed"] += 1
        return None
    _STATS["built"] += 1
    return result


def amortized_expectation(act, which, q1, q2, c, engine, direct):
    """``E[g(u1) g(u2)]`` by cached proxies where ``(q1, q2)`` repeat, else by ``direct``.

    Parameters
    ----------
    act : Activation
    which : {"f", "df"}
    q1, q2, c : ndarray
        Validated 1-D float arrays of equal length.
    engine : {"closed", "quadrature"}
        Inner rule of the direct samples (the polar series is used for "quadrature" only).
    direct : callable
        ``direct(act1, act2, which, q1, q2, c, engine)``, the direct rule.

    Notes
    -----
    A proxy is keyed by ``(min(q1, q2), max(q1, q2))``: ``E[g(u1) g(u2)]`` is unchanged when
    ``(q1, u1)`` and ``(q2, u2)`` swap places, so both orders share one proxy and give the same value.

    Returns
    -------
    ndarray
    """
    out = np.empty(q1.shape)
    if q1.size == 0:
        return out
    # K is symmetric in (q1, q2) (swap u1 and u2), so (q1, q2) and (q2, q1) share one proxy
    # (both halves of a kernel matrix, one build)
    low, high = np.minimum(q1, q2), np.maximum(q1, q2)
    if np.all(low == low[0]) and np.all(high == high[0]):  # the c-map case: one (q1, q2)
        pairs, order, bounds = [(low[0], high[0])], np.arange(q1.size), [0, q1.size]
    else:  # complex numbers sort by (real, imag): one sort groups the pairs
        pairs, inverse = np.unique(low + 1j * high, return_inverse=True)
        pairs = [(p.real, p.imag) for p in pairs]
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(pairs) + 1))
    rest = []
    for i, (a, b) in enumerate(pairs):
        members = order[bounds[i]:bounds[i + 1]]
        proxy = _proxy_for(act, which, float(a), float(b), engine, members.size, direct)
        if proxy is None:
            rest.append(members)
        else:
            out[members] = proxy(c[members])
    if rest:
        idx = np.concatenate(rest)
        out[idx] = direct(act, act, which, q1[idx], q2[idx], c[idx], engine)
    return out
