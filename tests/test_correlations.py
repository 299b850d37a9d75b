"""Bivariate maps (covariance, derivative_covariance, c-map) against a 30-digit mpmath reference.

The reference is written here, independently of meanfield's engines: the outer integral over
z1 is mpmath's tanh-sinh rule (split at 0, where every built-in's kink and its projection lie);
the inner expectation over y ~ N(c sqrt(q2) z1, q2 (1 - c^2)) is the textbook closed form of
each family (half-line Gaussian moments of y and e^(beta y), Stein's lemma for GELU and erf), or
a nested mpmath integral for tanh/sigmoid/softplus/swish (slow tests only).

Tolerance: relative to the Cauchy-Schwarz scale sqrt(E[g(u1)^2] E[g(u2)^2]) >= |E[g(u1) g(u2)]|
(the quantity's natural size, as for the one-dimensional engines: a covariance can cross zero as
c varies, where no method has relative accuracy), 1e-12 for closed forms and 1e-10 for
quadrature (the issue's acceptance levels).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

import meanfield as M
from meanfield import get_activation
from tests._reference_table import ReferenceTable
from tests.conftest import REQUIRED_PARAMS

DPS = 30
CLOSED_RTOL = 1e-12
QUADRATURE_RTOL = 1e-10

#: built-ins whose inner expectation has a textbook closed form (written below)
PIECEWISE = ("relu", "lrelu", "elu", "selu", "dselu", "sselu", "lselu", "linear")
SMOOTH_CLOSED_INNER = ("gelu", "erf")
NESTED = ("tanh", "sigmoid", "softplus", "swish")


def _family(act):
    """(lam, alpha, beta_exp, gamma_lin, a, b): f = a * g + b with g the SELU-type form."""
    p = dict(act.params)
    a, b = p.pop("scale", 1.0), p.pop("shift", 0.0)
    name = act.name.removesuffix("-gpn")
    if name == "relu":
        return 1, 0, 1, 0, a, b
    if name == "lrelu":
        return 1, 0, 1, p["slope"], a, b
    if name == "linear":
        return 1, 0, 1, 1, a, b
    if name == "elu":
        return 1, p["alpha"], 1, 0, a, b
    if name in ("selu", "dselu"):
        return p["lam"], p["alpha"], 1, 0, a, b
    if name == "sselu":
        return p["lam"], p["alpha"], p["beta"], 0, a, b
    if name == "lselu":
        return p["lam"], p["alpha"], 1, p["beta"], a, b
    raise KeyError(name)


def _Phi(x):
    return mp.ncdf(x)


def _phi(x):
    return mp.npdf(x)


def inner_closed(act, which, m, v):
    """E[g(y)], y ~ N(m, v) (g = f or f'), in mpmath; v > 0."""
    s = mp.sqrt(v)
    name = act.name.removesuffix("-gpn")
    p = act.params
    a, b = p.get("scale", 1), p.get("shift", 0)
    if name == "gelu":
        r = mp.sqrt(1 + v)
        val = (m * _Phi(m / r) + v * _phi(m / r) / r if which == "f"
               else _Phi(m / r) + m * _phi(m / r) / r**3)
    elif name == "erf":
        val = (mp.erf(m / mp.sqrt(1 + 2 * v)) if which == "f"
               else 2 / mp.sqrt(mp.pi) * mp.exp(-m * m / (1 + 2 * v)) / mp.sqrt(1 + 2 * v))
    else:
        lam, alpha, beta, gamma, a, b = (mp.mpf(x) for x in _family(act))
        p_neg = _Phi(-m / s)
        y_pos = m * _Phi(m / s) + s * _phi(m / s)
        y_neg = m - y_pos
        e_neg = mp.exp(beta * m + beta * beta * v / 2) * _Phi(-(m + beta * v) / s)
        if which == "f":
            val = lam * y_pos + lam * (alpha * e_neg + gamma * y_neg - alpha * p_neg)
        else:
            val = lam * (1 - p_neg) + lam * (alpha * beta * e_neg + gamma * p_neg)
    return a * val + (b if which == "f" else 0)


def inner_nested(act, which, m, v):
    f, df = act.mpmath_functions()
    g = f if which == "f" else df
    s = mp.sqrt(v)
    return mp.quad(lambda z: g(m + s * z) * _phi(z), [-mp.inf, -m / s, mp.inf])


def reference(act, which, q1, q2, c, dps=DPS):
    """(E[g(u1) g(u2)], Cauchy-Schwarz scale) to ``dps`` digits."""
    f, df = act.mpmath_functions()
    g = f if which == "f" else df
    nested = act.name.removesuffix("-gpn") in NESTED
    with mp.workdps(dps + 5):
        q1, q2, c = mp.mpf(q1), mp.mpf(q2), mp.mpf(c)
        r1, r2 = mp.sqrt(q1), mp.sqrt(q2)
        v = q2 * (1 - c) * (1 + c)

        def h(z):
            if v == 0:
                return g(c * r2 * z)
            return (inner_nested if nested else inner_closed)(act, which, c * r2 * z, v)

        cuts = [-mp.inf, -12, 0, 12, mp.inf]
        # the inner expectation is a step of width ~sqrt(1 - c^2) (and ~1/sqrt(q) for smooth f) at
        # z1 = 0: graded breakpoints there (with only 0 as a breakpoint tanh-sinh misses 6% of
        # tanh's value at q = 100, c = 0.999; a 4001^2 trapezoid grid confirms the engine there)
        s = mp.sqrt(v) / r2 if v else mp.mpf(0)
        widths = {mp.mpf(x) for x in (0.01, 0.05, 0.25, 1, 4)} | {s * k for k in (1, 4, 16) if s}
        cuts = sorted(set(cuts[1:-1]) | {w for w in widths if w < 12} | {-w for w in widths if w < 12})
        cuts = [-mp.inf, *cuts, mp.inf]
        val = mp.quad(lambda z: g(r1 * z) * h(z) * _phi(z), cuts)
        m1 = mp.quad(lambda z: g(r1 * z) ** 2 * _phi(z), cuts)
        m2 = mp.quad(lambda z: g(r2 * z) ** 2 * _phi(z), cuts)
        return val, mp.sqrt(m1 * m2)


#: the references of the points below, computed once by :func:`reference` (tests/_reference_table.py)
TABLE = ReferenceTable("correlations")
#: the nested (tanh, sigmoid, softplus, swish) ones apart: minutes per point, regenerated separately
TABLE_NESTED = ReferenceTable("correlations_nested")


def _table(act):
    return TABLE_NESTED if act.name.removesuffix("-gpn") in NESTED else TABLE


def reference_key(act, which, q1, q2, c, dps=DPS):
    return _table(act).key(act.name, {k: float(v) for k, v in act.params.items()}, which, float(q1), float(q2),
                     float(c), dps)


def stored_reference(act, which, q1, q2, c, dps=DPS, record=None):
    """:func:`reference` at this point, from the stored table when it holds the point.

    ``record=True`` stores a newly computed point (benchmarks/bench_correlations.py does, so that
    its references are computed once and checked with the others by tests/test_reference_tables.py).
    """
    return _table(act).get(reference_key(act, which, q1, q2, c, dps),
                           lambda: reference(act, which, q1, q2, c, dps=dps), record=record)


def builtin(name):
    return get_activation(name, **REQUIRED_PARAMS.get(name, {}))


def _check(act, which, points, method, rtol, methods=None):
    """Compare ``method`` (or each of ``methods``: {method: rtol}) with the reference at ``points``."""
    methods = methods or {method: rtol}
    fn = M.covariance if which == "f" else M.derivative_covariance
    q1, q2, c = (np.array(x, dtype=float) for x in zip(*points, strict=True))
    got = {m: fn(act, q1, q2, c, method=m) for m in methods}
    worst = dict.fromkeys(methods, 0.0)
    for i, (a, b, r) in enumerate(points):
        ref, scale = stored_reference(act, which, a, b, r)
        for m, tol in methods.items():
            err = abs(got[m][i] - float(ref)) / float(scale)
            worst[m] = max(worst[m], err)
            assert err <= tol, (act.name, which, m, a, b, r, got[m][i], float(ref), err)
    return worst


BOTH = {"closed": CLOSED_RTOL, "quadrature": QUADRATURE_RTOL}


FAST_POINTS = [(1.0, 1.0, 0.3), (100.0, 0.01, -1.0), (0.01, 2.0, 0.999999), (3.0, 0.5, 1.0)]
GRID_Q = (1e-2, 1.0, 1e2)
GRID_C = (-1.0, -0.999999, -0.5, 0.0, 0.3, 0.99, 1.0)
FULL_POINTS = [(a, b, r) for a in GRID_Q for b in GRID_Q for r in GRID_C]


@pytest.mark.parametrize("which", ["f", "df"])
def test_relu_kernel_matches_mpmath_fast(which):
    _check(builtin("relu"), which, FAST_POINTS[:2], "auto", CLOSED_RTOL)


def test_selu_closed_inner_matches_mpmath_fast():
    _check(builtin("selu"), "f", FAST_POINTS[2:3], "closed", CLOSED_RTOL)


def test_gelu_closed_inner_matches_mpmath_fast():
    _check(builtin("gelu"), "df", FAST_POINTS[2:3], "closed", CLOSED_RTOL)


def test_quadrature_matches_mpmath_fast():
    _check(builtin("lselu"), "f", FAST_POINTS[1:2], "quadrature", QUADRATURE_RTOL)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["f", "df"])
@pytest.mark.parametrize("name", ["erf", "selu"])
def test_auto_matches_mpmath_more(name, which):
    _check(builtin(name), which, FAST_POINTS, "auto", CLOSED_RTOL)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["f", "df"])
@pytest.mark.parametrize("name", ["gelu", "sselu"])
def test_auto_matches_mpmath_points(name, which):
    _check(builtin(name), which, FAST_POINTS, "auto", CLOSED_RTOL)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["f", "df"])
@pytest.mark.parametrize("name", PIECEWISE + ("erf",))
def test_engines_match_mpmath_grid(name, which):
    _check(builtin(name), which, FULL_POINTS, None, None, BOTH)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["f", "df"])
def test_gelu_matches_mpmath_grid(which):
    # GELU: closed inner integral (Stein's lemma) with the outer rule, and quadrature
    _check(builtin("gelu"), which, FULL_POINTS, None, None, BOTH)


# nested 30-digit mpmath integrals: 5-10 minutes per test on 2 cores, too long for every CI run
@pytest.mark.slow
@pytest.mark.reference
@pytest.mark.parametrize("which", ["f", "df"])
@pytest.mark.parametrize("name", NESTED)
def test_quadrature_smooth_matches_nested_mpmath(name, which):
    pts = [(1.0, 1.0, 0.3), (100.0, 0.01, -1.0), (100.0, 100.0, 0.999), (0.01, 1.0, -0.5)]
    _check(builtin(name), which, pts, "auto", QUADRATURE_RTOL)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["f", "df"])
@pytest.mark.parametrize("family", ["selu", "sselu", "lselu", "elu", "lrelu"])
def test_random_family_parameters(family, which):
    from tests.conftest import PARAM_RANGES

    rng = np.random.default_rng(zlib_seed(family))
    pts = [(1.0, 1.0, 0.5), (50.0, 0.02, -0.9), (2.0, 2.0, 1.0), (0.05, 30.0, -1.0)]
    for _ in range(4):
        params = {k: rng.uniform(*r) for k, r in PARAM_RANGES[family].items()}
        act = get_activation(family, **params)
        _check(act, which, pts, None, None, BOTH)


def zlib_seed(text):
    import zlib

    return zlib.crc32(text.encode())


@pytest.mark.slow
@pytest.mark.parametrize("which", ["f", "df"])
def test_gpn_versions_match_mpmath(which):
    act = get_activation("selu").gpn()
    _check(act, which, FAST_POINTS[:3], "auto", CLOSED_RTOL)


def test_closed_kernels_exact_values():
    # ReLU at c = 0: sqrt(q1 q2)/(2 pi); at c = -1 exactly 0 (disjoint supports)
    assert M.covariance("relu", 4.0, 9.0, 0.0) == pytest.approx(6 / (2 * math.pi), rel=1e-15)
    assert M.covariance("relu", 4.0, 9.0, -1.0) == 0.0
    # near c = -1 the series keeps relative accuracy: J1 = delta^3/3 + O(delta^5)
    c = -1 + 1e-12
    delta = math.acos(-c)
    expected = 1 / (2 * math.pi) * (delta**3 / 3 - delta**5 / 30)
    assert M.covariance("relu", 1.0, 1.0, c) == pytest.approx(expected, rel=1e-12)
