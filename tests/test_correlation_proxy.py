"""The cached Chebyshev proxies of the bivariate maps (meanfield.engines._bivariate_proxy).

Values sharing (q1, q2) come from a proxy: the polar-Fourier series in c (smooth activations,
quadrature engine) or the Lobatto proxy in theta = arccos(c) (everything else). They are checked
against references written here in mpmath, independently of meanfield's engines:

* exact kernels: erf's arcsine kernel and its derivative kernel (Williams 1997),
  E[erf(u1) erf(u2)] = (2/pi) arcsin(2 c sqrt(q1 q2) / sqrt((1 + 2 q1)(1 + 2 q2))),
  E[erf'(u1) erf'(u2)] = (4/pi) / sqrt((1 + 2 q1)(1 + 2 q2) - 4 c^2 q1 q2); ReLU's arc-cosine
  kernel sqrt(q1 q2) (sin t + (pi - t) cos t)/(2 pi) and (pi - t)/(2 pi), t = arccos(c)
  (Cho & Saul 2009);
* a nested 25-digit mpmath integral with a closed inner expectation for GELU (Stein's lemma) and
  SELU (half-line Gaussian moments);

and against the direct rule (bivariate_quadrature.direct_expectation), which tests/test_correlations.py
checks against 30-digit mpmath.

Tolerance: 1e-10 of the Cauchy-Schwarz scale sqrt(E[g(u1)^2] E[g(u2)^2]) (the quadrature
acceptance level of issue 11; a covariance crosses zero as c varies, so the error is measured
against its natural size). The proxies' own target is ~1e-12 of that scale (tail check).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import meanfield as M
from meanfield import get_activation
from meanfield.activations import Activation
from meanfield.engines import _bivariate_proxy as proxy
from meanfield.engines.bivariate_quadrature import direct_expectation

RTOL = 1e-10
#: values per call: above both N_MIN thresholds, and twice it pays for the largest theta level
#: (129 samples), so every call builds its proxy (or finds that none converges)
N = 65


@pytest.fixture(autouse=True)
def _fresh_cache():
    proxy.clear_proxy_cache()
    yield
    proxy.clear_proxy_cache()


def _fn(which):
    return M.covariance if which == "f" else M.derivative_covariance


def _cs(act, which, q1, q2):
    diag = M.second_moment if which == "f" else M.phi
    return math.sqrt(float(diag(act, q1, method="quadrature")) * float(diag(act, q2, method="quadrature")))


def _grid(n=N):
    """c on a grid with both ends and points next to them (theta = arccos(c) uniform, plus ends)."""
    c = np.cos(np.linspace(0.0, math.pi, n))
    c[0], c[-1] = 1.0, -1.0
    return c


# -- exact kernels in mpmath ----------------------------------------------------------------------


def _erf_kernel(which, q1, q2, c):
    with mp.workdps(30):
        q1, q2, c = mp.mpf(q1), mp.mpf(q2), mp.mpf(c)
        if which == "f":
            return 2 / mp.pi * mp.asin(2 * c * mp.sqrt(q1 * q2) / mp.sqrt((1 + 2 * q1) * (1 + 2 * q2)))
        return 4 / mp.pi / mp.sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * c * c * q1 * q2)


def _relu_kernel(which, q1, q2, c):
    with mp.workdps(30):
        t = mp.acos(mp.mpf(c))
        if which == "f":
            return mp.sqrt(mp.mpf(q1) * q2) * (mp.sin(t) + (mp.pi - t) * mp.cos(t)) / (2 * mp.pi)
        return (mp.pi - t) / (2 * mp.pi)


@pytest.mark.parametrize("which", ["f", "df"])
@pytest.mark.parametrize("q1, q2", [(1e-2, 1e-2), (0.5, 2.0), (1e2, 1e2), (1e2, 1e-2)])
@pytest.mark.parametrize("name, kernel, kind", [("erf", _erf_kernel, None), ("relu", _relu_kernel, "theta")])
def test_proxy_matches_exact_kernels(name, kernel, kind, which, q1, q2):
    # erf has no kinks: polar series (resampled in theta where that is shorter); ReLU: theta proxy
    act = get_activation(name)
    c = _grid()
    got = _fn(which)(act, q1, q2, c, method="quadrature")
    built = proxy.cached_proxy(act, which, q1, q2, "quadrature")
    assert built is not None and (kind is None or built.kind == kind)
    scale = _cs(act, which, q1, q2)
    for i in range(0, c.size, 7):
        ref = float(kernel(which, q1, q2, c[i]))
        assert abs(got[i] - ref) <= RTOL * scale, (name, which, q1, q2, c[i], got[i], ref)
    # both ends exactly (theta = 0, pi are Lobatto points; the series sums to them)
    for i in (0, -1):
        assert abs(got[i] - float(kernel(which, q1, q2, c[i]))) <= RTOL * scale


# -- nested mpmath references with closed inner expectations ---------------------------------------


def _inner_gelu(which, m, v):
    r = mp.sqrt(1 + v)
    t = m / r
    if which == "f":  # E[y Phi(y)], y ~ N(m, v) (Stein's lemma)
        return m * mp.ncdf(t) + v / r * mp.npdf(t)
    return mp.ncdf(t) + m / r**3 * mp.npdf(t)  # E[Phi(y) + y phi(y)]


def _inner_selu(which, m, v, lam=1.0507009873554805, alpha=1.6732632423543772):
    s = mp.sqrt(v)
    p_neg = mp.ncdf(-m / s)
    e_neg = mp.exp(m + v / 2) * mp.ncdf(-(m + v) / s)  # E[e^y 1(y < 0)]
    if which == "f":  # lam (E[y 1(y > 0)] + alpha (E[e^y 1(y < 0)] - P(y < 0)))
        return lam * (m * mp.ncdf(m / s) + s * mp.npdf(m / s) + alpha * (e_neg - p_neg))
    return lam * (1 - p_neg + alpha * e_neg)


def _nested(inner, g, which, q1, q2, c):
    """E[g(u1) g(u2)] = int g(sqrt(q1) z) E[g(y)] phi(z) dz, y ~ N(c sqrt(q2) z, q2 (1 - c^2))."""
    with mp.workdps(25):
        q1, q2, c = mp.mpf(q1), mp.mpf(q2), mp.mpf(c)
        a, b = mp.sqrt(q1), mp.sqrt(q2)
        v = q2 * (1 - c * c)
        s = mp.sqrt(1 - c * c)
        # the inner expectation is a step of width ~s (and ~1/sqrt(q)) at z = 0: graded cuts there
        widths = sorted({mp.mpf(w) for w in (0.01, 0.05, 0.25, 1, 4)} | {s * k for k in (1, 4, 16)})
        cuts = [-mp.inf, *[-w for w in reversed(widths)], 0, *widths, mp.inf]
        return mp.quad(lambda z: g(a * z) * inner(which, b * c * z, v) * mp.npdf(z), cuts)


def _gelu_g(which):
    return (lambda x: x * mp.ncdf(x)) if which == "f" else (lambda x: mp.ncdf(x) + x * mp.npdf(x))


def _selu_g(which, lam=1.0507009873554805, alpha=1.6732632423543772):
    if which == "f":
        return lambda x: lam * x if x > 0 else lam * alpha * (mp.exp(x) - 1)
    return lambda x: lam if x > 0 else lam * alpha * mp.exp(x)


# 25-digit nested integrals: ~0.5 s a value; two cases in the default run, the rest marked slow
@pytest.mark.parametrize("which", ["f", "df"])
@pytest.mark.parametrize("name, q1, q2, method, kind", [
    ("gelu", 0.5, 2.0, "quadrature", "polar"),
    pytest.param("gelu", 1e2, 1e2, "quadrature", "theta", marks=pytest.mark.slow),  # long c series
    pytest.param("gelu", 0.5, 2.0, "closed", "theta", marks=pytest.mark.slow),
    ("selu", 0.5, 2.0, "quadrature", "theta"),
    pytest.param("selu", 1e2, 1e-2, "closed", "theta", marks=pytest.mark.slow),
])
def test_proxy_matches_nested_mpmath(name, q1, q2, method, kind, which):
    act = get_activation(name)
    inner, g = (_inner_gelu, _gelu_g(which)) if name == "gelu" else (_inner_selu, _selu_g(which))
    c = _grid()
    got = _fn(which)(act, q1, q2, c, method=method)
    built = proxy.cached_proxy(act, which, q1, q2, method)
    assert built is not None and built.kind == kind
    scale = _cs(act, which, q1, q2)
    for i in (5, 21, 40, 60):  # c = 0.97, 0.50, -0.38, -0.98 (the ends: test above and below)
        ref = float(_nested(inner, g, which, q1, q2, c[i]))
        assert abs(got[i] - ref) <= RTOL * scale, (name, which, q1, q2, c[i], got[i], ref)


# -- against the direct rule ------------------------------------------------------------------------


@given(e1=st.floats(-2, 2), e2=st.floats(-2, 2), which=st.sampled_from(["f", "df"]),
       name=st.sampled_from(["tanh", "softplus", "swish"]),
       grid=st.lists(st.floats(-1.0, 1.0), min_size=N, max_size=N))
def test_polar_series_matches_direct_rule_on_c_grids(e1, e2, which, name, grid):
    # smooth activations: the polar series (or its theta resampling) against the direct rule at
    # random grids of c in [-1, 1], q1, q2 in [1e-2, 1e2]
    q1, q2 = 10.0**e1, 10.0**e2
    act = get_activation(name)
    c = np.array(grid)
    got = _fn(which)(act, q1, q2, c, method="quadrature")
    assert proxy.cached_proxy(act, which, q1, q2, "quadrature") is not None
    pick = np.argsort(c)[[0, N // 2, -1]]  # the extremes of the grid and its median
    ref = direct_expectation(act, act, which, np.full(3, q1), np.full(3, q2), c[pick], "quadrature")
    assert np.max(np.abs(got[pick] - ref)) <= RTOL * _cs(act, which, q1, q2)


@pytest.mark.slow
@given(e1=st.floats(-2, 2), e2=st.floats(-2, 2), which=st.sampled_from(["f", "df"]),
       name=st.sampled_from(["relu", "elu", "selu", "lrelu"]),
       grid=st.lists(st.floats(-1.0, 1.0), min_size=N, max_size=N))
def test_theta_proxy_matches_direct_rule_on_c_grids(e1, e2, which, name, grid):
    # kinks at 0: the theta proxy (17-129 direct samples each, ~0.1-0.4 s an example)
    q1, q2 = 10.0**e1, 10.0**e2
    act = get_activation(name, **({"slope": 0.2} if name == "lrelu" else {}))
    c = np.array(grid)
    got = _fn(which)(act, q1, q2, c, method="quadrature")
    pick = np.argsort(c)[[0, N // 2, -1]]
    ref = direct_expectation(act, act, which, np.full(3, q1), np.full(3, q2), c[pick], "quadrature")
    assert np.max(np.abs(got[pick] - ref)) <= RTOL * _cs(act, which, q1, q2)


def test_theta_proxy_exact_ends_and_diagonal_identity():
    act = get_activation("selu")
    c = _grid()
    for which, diag in (("f", M.second_moment), ("df", M.phi)):
        got = _fn(which)(act, 0.7, 0.7, c, method="quadrature")
        assert proxy.cached_proxy(act, which, 0.7, 0.7, "quadrature").kind == "theta"
        # c = 1 with q1 = q2 is routed to the one-dimensional engine: exactly second_moment / phi
        assert got[0] == diag(act, 0.7, method="quadrature")
        # c = -1 is a Lobatto point: the proxy returns its direct sample up to the Clenshaw
        # sum's rounding (a few ulps of the coefficients' sum, < 1e-15 of the scale)
        ref = direct_expectation(act, act, which, [0.7], [0.7], [-1.0], "quadrature")[0]
        assert abs(got[-1] - ref) <= 1e-14 * _cs(act, which, 0.7, 0.7)
        # q1 != q2 at c = +1 (not the diagonal): the proxy's end value
        off = _fn(which)(act, 0.7, 1.3, c, method="quadrature")
        ref = direct_expectation(act, act, which, [0.7], [1.3], [1.0], "quadrature")[0]
        assert abs(off[0] - ref) <= 1e-14 * _cs(act, which, 0.7, 1.3)


# -- kinks away from 0: the proxy must notice -------------------------------------------------------


def test_kink_away_from_zero_falls_back_to_the_direct_rule():
    # f' of a ReLU shifted to 0.3 is a step at 0.3: its kink lines u = 0.3 do not pass through the
    # origin, K(theta) is not analytic on [0, pi] and its Chebyshev tail stays above 1e-12 up to
    # 129 points: the values must then be the direct rule's, bit for bit
    act = Activation.from_expression("Max(x - 0.3, 0)")
    c = _grid(N + 1)[1:]  # not c = 1: with q1 = q2 that is the one-dimensional phi
    got = M.derivative_covariance(act, 1.0, 1.0, c, method="quadrature")
    assert proxy.cached_proxy(act, "df", 1.0, 1.0, "quadrature") is None
    assert proxy.proxy_cache_info()["failed"] == 1
    ref = direct_expectation(act, act, "df", np.ones(c.size), np.ones(c.size), c, "quadrature")
    np.testing.assert_array_equal(got, ref)
    # the failure is remembered: the next call goes straight to the direct rule
    again = M.derivative_covariance(act, 1.0, 1.0, c[:N // 2], method="quadrature")
    np.testing.assert_array_equal(again, got[:N // 2])
    assert proxy.proxy_cache_info()["failed"] == 1


def test_kink_away_from_zero_converged_proxy_is_accurate():
    # f itself (a shifted ReLU) is smoother: its proxy converges, and then it is accurate. The
    # reference is exact: E[(u1 - k)+ (u2 - k)+] by the closed inner mean of a shifted ReLU
    # (y ~ N(m, v): E[(y - k)+] = (m - k) Phi((m - k)/s) + s phi((m - k)/s)) in a 25-digit outer
    # integral split at the kink z = k/sqrt(q1)
    k = 0.3
    act = Activation.from_expression("Max(x - 0.3, 0)")
    c = _grid()
    got = M.covariance(act, 0.5, 2.0, c, method="quadrature")
    built = proxy.cached_proxy(act, "f", 0.5, 2.0, "quadrature")
    assert built is not None and built.kind == "theta"

    def shifted(i):
        with mp.workdps(25):
            a, b, r = mp.sqrt(0.5), mp.sqrt(2), mp.mpf(c[i])
            s = b * mp.sqrt(1 - r * r)

            def inner(m):
                return (m - k) * mp.ncdf((m - k) / s) + s * mp.npdf((m - k) / s)
            return mp.quad(lambda z: (a * z - k) * inner(b * r * z) * mp.npdf(z), [k / a, mp.inf])

    scale = _cs(act, "f", 0.5, 2.0)
    for i in (9, 30, 50):
        assert abs(got[i] - float(shifted(i))) <= RTOL * scale


# -- the cache --------------------------------------------------------------------------------------


def test_repeated_scalar_calls_build_and_reuse_a_proxy():
    # a fixed-point iteration calls the map at one (q1, q2) over and over: after N_MIN_POLAR
    # values a proxy is built, and later calls are cache hits (and agree with the direct rule)
    values = [float(M.covariance("tanh", 0.8, 0.8, x, method="quadrature"))
              for x in np.linspace(-0.9, 0.9, proxy.N_MIN_POLAR + 3)]
    assert proxy.proxy_cache_info()["built"] == 1
    assert proxy.proxy_cache_info()["hits"] == 3
    act = get_activation("tanh")  # a new object: the key is by name, template and parameters
    assert proxy.cached_proxy(act, "f", 0.8, 0.8, "quadrature") is not None
    ref = direct_expectation(act, act, "f", np.full(len(values), 0.8), np.full(len(values), 0.8),
                             np.linspace(-0.9, 0.9, len(values)), "quadrature")
    assert np.max(np.abs(np.array(values) - ref)) <= RTOL * _cs(act, "f", 0.8, 0.8)


def test_cache_key_separates_parameters_and_callables():
    c = _grid()
    slow, steep = get_activation("lrelu", slope=0.1), get_activation("lrelu", slope=0.1).with_params(slope=0.3)
    M.covariance(slow, 1.0, 2.0, c, method="quadrature")
    M.covariance(steep, 1.0, 2.0, c, method="quadrature")
    assert proxy.proxy_cache_info()["built"] == 2  # two parameter sets, two proxies
    for act in (slow, steep):
        ref = direct_expectation(act, act, "f", [1.0], [2.0], [0.3], "quadrature")[0]
        assert abs(proxy.cached_proxy(act, "f", 1.0, 2.0, "quadrature")(0.3) - ref) <= RTOL * _cs(act, "f", 1.0, 2.0)
    # callables with the same name are told apart by their functions
    one = Activation.from_callables(np.tanh, lambda x: 1 - np.tanh(x) ** 2, name="u", kinks=())
    two = Activation.from_callables(lambda x: 2 * np.tanh(x), lambda x: 2 - 2 * np.tanh(x) ** 2,
                                    name="u", kinks=())
    v1 = M.covariance(one, 1.0, 1.0, c[1:-1], method="quadrature")
    v2 = M.covariance(two, 1.0, 1.0, c[1:-1], method="quadrature")
    np.testing.assert_allclose(v2, 4 * v1, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["selu", "tanh"])
def test_swapped_pairs_share_one_proxy(name):
    # K(q1, q2, c) = K(q2, q1, c) (swap u1 and u2): a kernel matrix's two halves build one proxy
    # and get the same bits; the shared proxy still matches the direct rule in both orders
    act = get_activation(name)
    c = _grid()
    q1 = np.concatenate([np.full(c.size, 0.5), np.full(c.size, 2.0)])
    q2 = q1[::-1].copy()
    got = M.covariance(act, q1, q2, np.concatenate([c, c]), method="quadrature")
    assert proxy.proxy_cache_info()["built"] == 1
    np.testing.assert_array_equal(got[: c.size], got[c.size:])
    assert proxy.cached_proxy(act, "f", 2.0, 0.5, "quadrature") is proxy.cached_proxy(act, "f", 0.5, 2.0, "quadrature")
    ref = direct_expectation(act, act, "f", np.full(3, 2.0), np.full(3, 0.5), c[[1, N // 2, -2]], "quadrature")
    assert np.max(np.abs(got[c.size:][[1, N // 2, -2]] - ref)) <= RTOL * _cs(act, "f", 0.5, 2.0)


def test_distinct_pairs_use_the_direct_rule():
    # every (q1, q2) distinct (the honest worst case): no proxy, the direct rule's values
    act = get_activation("tanh")
    q = np.linspace(0.5, 1.5, 5)
    c = np.linspace(-0.5, 0.5, 5)
    got = M.covariance(act, q, q[::-1], c, method="quadrature")
    assert proxy.proxy_cache_info() == {"entries": 0, "built": 0, "hits": 0, "failed": 0}
    np.testing.assert_array_equal(got, direct_expectation(act, act, "f", q, q[::-1], c, "quadrature"))


def test_cache_is_bounded():
    act = get_activation("erf")
    c = _grid(proxy.N_MIN_POLAR)
    for q in np.linspace(0.1, 1.0, proxy.CACHE_SIZE + 5):
        M.covariance(act, q, 1.0, c, method="quadrature")
    assert proxy.proxy_cache_info()["entries"] == proxy.CACHE_SIZE


# -- the polar arc rule (theta samples for kinks at 0, engine "quadrature") ------------------------


def test_arc_rule_matches_exact_kernels_at_its_samples():
    # the arc rule alone (no proxy) at Lobatto points, q over 7 decades, against the arc-cosine and
    # arcsine kernels (erf has no kinks: the arcs' breaks are then only unnecessary splits)
    from meanfield.engines._bivariate_arcs import arc_samples

    c = proxy._lobatto_c(16)
    for name, kernel in (("relu", _relu_kernel), ("erf", _erf_kernel)):
        act = get_activation(name)
        for which in ("f", "df"):
            for q1, q2 in ((1e-4, 1e3), (0.5, 2.0), (1e2, 1e2)):
                scale = _cs(act, which, q1, q2)
                got = arc_samples(act, which, q1, q2, c, scale)
                ref = np.array([float(kernel(which, q1, q2, x)) for x in c])
                assert np.max(np.abs(got - ref)) <= 1e-13 * scale, (name, which, q1, q2)


def test_arc_rule_refuses_mass_beyond_its_window():
    # f = e^(2x) for x > 0 at q = 30: f(u)^2 phi peaks at |z| ~ 4 sqrt(q) = 22, beyond rho = 9
    from meanfield.engines._bivariate_arcs import arc_samples

    act = Activation.from_expression("Piecewise((exp(2*x), x > 0), (x, True))")
    assert act.kinks == (0.0,)
    # (the last argument, the Cauchy-Schwarz scale, is only the unit of the c = +-1 check; this
    # one's E[f^2] overflows the one-dimensional engine's window, so a stand-in is passed)
    assert arc_samples(act, "f", 30.0, 30.0, np.array([0.0, 0.5]), 1.0) is None


def test_theta_proxy_falls_back_to_direct_samples_when_the_arc_rule_refuses(monkeypatch):
    from meanfield.engines import _bivariate_proxy

    monkeypatch.setattr(_bivariate_proxy, "arc_samples", lambda *args: None)
    act = get_activation("relu")
    c = _grid()
    got = M.covariance(act, 0.5, 2.0, c, method="quadrature")
    assert proxy.cached_proxy(act, "f", 0.5, 2.0, "quadrature").kind == "theta"
    for i in (3, 30, 61):
        assert abs(got[i] - float(_relu_kernel("f", 0.5, 2.0, c[i]))) <= RTOL * _cs(act, "f", 0.5, 2.0)
