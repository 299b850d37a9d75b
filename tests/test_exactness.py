"""Regression tests for issue 14 ("exact everywhere a user can reach") and its companions.

Every reference here is independent of meanfield's engines: mpmath integrals written in this
file (``_mp_expect``), or exact identities (moments of a Gaussian, Sheppard's formula). Tolerances
are the engines' promises (ENGINE_RTOL: 1e-12 closed, 1e-10 quadrature) unless stated.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import meanfield as mf
from meanfield.errors import NumericalWarning

mpmath.mp.dps = 40


def _mp_expect(g, mean, var, cuts=(), fine=False):
    """E[g(x)], x ~ N(mean, var), by mpmath tanh-sinh in z, split at 0 and at the cuts' z-images.

    ``fine`` also splits at every half-integer z in [-15, 15]: for integrands tilted hard across
    the Gaussian (GELU far in its tail) two halves alone came out 2e-3 off."""
    m, s = mpmath.mpf(mean), mpmath.sqrt(mpmath.mpf(var))
    extra = [mpmath.mpf(k) / 2 for k in range(-30, 31)] if fine else []
    pts = sorted({mpmath.mpf(0), *extra, *((mpmath.mpf(c) - m) / s for c in cuts)})
    pts = [-mpmath.inf, *pts, mpmath.inf]
    dens = 1 / mpmath.sqrt(2 * mpmath.pi)
    return mpmath.fsum(mpmath.quad(lambda z: g(m + s * z) * mpmath.exp(-z * z / 2) * dens, [a, b])
                       for a, b in zip(pts, pts[1:], strict=False))


# ------------------------------------------------------------------------------------------------
# item 1: whole-line terms at non-zero mean (exponents combined analytically)

def test_gelu_output_mean_at_large_mean_tiny_var():
    m, v = 27.505563856821645, 1.5209936464046335e-12
    ref = _mp_expect(lambda x: x * mpmath.ncdf(x), m, v)
    assert float(mf.output_mean("gelu", m, v)) == pytest.approx(float(ref), rel=1e-12)  # was 24.27


def test_linear_output_mean_is_the_mean_exactly():
    m, v = -4.7964637559786105, 0.0015876862442097354
    assert float(mf.output_mean("linear", m, v, method="closed")) == m  # E[x] = m, was off 2.7e-12


# ------------------------------------------------------------------------------------------------
# item 3: dphi_dq by quadrature at small q (Stein: dphi/dq -> g''(0)/2, g = f'^2)

@pytest.mark.parametrize(("name", "limit"), [("tanh", -2.0), ("swish", 0.25),
                                             ("sigmoid", -1 / 32), ("softplus", 1 / 16)])
@pytest.mark.parametrize("q", [1e-20, 1e-16, 1e-12])
def test_dphi_dq_small_q(name, limit, q):
    # limit = g''(0)/2 computed by hand (tanh: f'^2 = sech^4, g'' = -4 at 0); the O(q) correction
    # is below 1e-11 relative at q <= 1e-12
    assert float(mf.dphi_dq(name, q)) == pytest.approx(limit, rel=1e-10)


# ------------------------------------------------------------------------------------------------
# item 4: parameters change kinks and quadrature scale

def test_with_params_rederives_scale_and_kinks():
    base = mf.get_activation("sselu", lam=1.0, alpha=1.0, beta=1.0)
    fast = base.with_params(beta=50.0)
    assert fast.scale == pytest.approx(1 / 50)
    closed = float(mf.phi(fast, 1.0, method="closed"))
    assert float(mf.phi(fast, 1.0, method="quadrature")) == pytest.approx(closed, rel=1e-10)
    act = mf.Activation.from_expression("Piecewise((x, x > t), (0, True))", params={"t": 0.5})
    moved = act.with_params(t=1.5)
    assert moved.kinks == (1.5,)
    # phi = P(x > 1.5) for x ~ N(0, 0.01): the tail mass, exactly 1 - Phi(15)
    assert float(mf.phi(moved, 0.01)) == pytest.approx(float(mpmath.ncdf(-15)), rel=1e-9)


# ------------------------------------------------------------------------------------------------
# item 5: selu_map's variance is the central moment

@pytest.mark.slow  # 200 random draws against 60-digit mpmath: ~8 s
def test_selu_map_variance_nonnegative_and_exact():
    # linear / ReLU at mean 1e8: Var y = 1 cannot come from E[y^2] - E[y]^2 in float64 (the old
    # answer was 0); the shifted closed form f(1e8 + u) - E f gives it exactly
    for name in ("linear", "relu"):
        _, var = mf.selu_map(name, 1e8, 1.0, omega=1.0)
        assert float(var) == pytest.approx(1.0, rel=1e-12)
    rng = np.random.default_rng(3)
    mu, nu = rng.uniform(-3, 3, 200), 10 ** rng.uniform(-3, 1, 200)
    for m, v in zip(mu, nu, strict=True):
        try:
            _, var = mf.selu_map("erf", m, v, omega=1.0)
        except ValueError:
            continue
        assert var > 0


def test_selu_map_variance_against_mpmath():
    m, v = 2.5, 1e-4  # E[f^2] and E[f]^2 agree to 7 digits: the direct difference loses them
    ref_mean = _mp_expect(mpmath.erf, m, v)
    ref_var = _mp_expect(lambda x: (mpmath.erf(x) - ref_mean) ** 2, m, v)
    _, var = mf.selu_map("erf", m, v, omega=1.0)
    assert float(var) == pytest.approx(float(ref_var), rel=1e-8)  # centred quadrature of rounded f


# ------------------------------------------------------------------------------------------------
# item 6: erf's second moment keeps relative accuracy at every q

@pytest.mark.parametrize("q", [1e-20, 1e-12, 1e-6, 1.0, 1e6, 1e12])
def test_erf_second_moment_relative_accuracy(q):
    # exact identity (Williams 1997): E[erf(x)^2] = (2/pi) asin(2q/(1 + 2q))
    ref = 2 / mpmath.pi * mpmath.asin(2 * mpmath.mpf(q) / (1 + 2 * mpmath.mpf(q)))
    for method in ("auto", "closed", "quadrature"):
        assert float(mf.second_moment("erf", q, method=method)) == pytest.approx(float(ref), rel=1e-13)


# ------------------------------------------------------------------------------------------------
# item 7: sSELU with slow beta at large q

def test_sselu_small_beta_large_q():
    act = mf.get_activation("sselu", lam=1.0, alpha=1.0, beta=0.036)
    q = 8.9e6
    closed = float(mf.phi(act, q, method="closed"))
    assert float(mf.phi(act, q, method="quadrature")) == pytest.approx(closed, rel=1e-10)


# ------------------------------------------------------------------------------------------------
# item 8: delta never returns cancelled digits silently

@pytest.mark.parametrize(("name", "params"), [
    ("selu", {}), ("sselu", {"lam": 1.05, "alpha": 1.6, "beta": 0.7}), ("elu", {})])
@pytest.mark.parametrize("q", [1e-20, 1e-16, 1e-8, 1e-3])
def test_delta_small_q_relative_accuracy(name, params, q):
    # reference: the x > 0 halves exactly (lam^2/2 and lam^2 q/2), the x < 0 halves by 60-digit
    # tanh-sinh with many levels; delta ~ 0.184 q for SELU is then resolved to ~1e-40 absolute
    act = mf.get_activation(name, **params)
    lam = act.params.get("lam", 1.0)
    alpha = act.params.get("alpha", 1.0)
    beta = act.params.get("beta", 1.0)
    with mpmath.workdps(60):
        qm = mpmath.mpf(q)
        s = mpmath.sqrt(qm)

        def neg(g):
            return mpmath.quad(lambda z: g(s * z) * mpmath.npdf(z), [-mpmath.inf, -8, -2, 0],
                               maxdegree=12)
        phi = lam**2 / 2 + neg(lambda x: (lam * alpha * beta * mpmath.exp(beta * x)) ** 2)
        second = lam**2 * qm / 2 + neg(lambda x: (lam * alpha * mpmath.expm1(beta * x)) ** 2)
        ref = qm * phi / second - 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        value = float(mf.delta(act, q))
    assert value == pytest.approx(float(ref), rel=1e-12)  # was 0.0 / negative at q <= 1e-16


_SMOOTH_MP = {
    "tanh": lambda x: mpmath.tanh(x),
    "erf": lambda x: mpmath.erf(x),
    "gelu": lambda x: x * mpmath.ncdf(x),
    "swish": lambda x: x / (1 + mpmath.exp(-x)),
}


@pytest.mark.parametrize("name", sorted(_SMOOTH_MP))
@pytest.mark.parametrize("q", [1e-20, 1e-12, 1e-6])
def test_delta_small_q_smooth_activations(name, q):
    """Smooth f with f(0) = 0: q E f'^2 and E f^2 agree to O(q^2) (tanh, erf: O(q^3)), so the
    subtraction cancels every digit (tanh gave 0.0 at q = 1e-12); the heat-equation series replaces
    it. Reference: 80-digit mpmath, f' by mpmath.diff of the function written here; 1e-12 relative."""
    f = _SMOOTH_MP[name]
    with mpmath.workdps(80):
        qm = mpmath.mpf(q)
        s = mpmath.sqrt(qm)

        def gauss(g):
            return mpmath.quad(lambda z: g(s * z) * mpmath.npdf(z), [-mpmath.inf, -6, 0, 6, mpmath.inf])
        second = gauss(lambda x: f(x) ** 2)
        slope = gauss(lambda x: mpmath.diff(f, x) ** 2)
        ref = qm * slope / second - 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        value = float(mf.delta(name, q))
    assert value == pytest.approx(float(ref), rel=1e-12)


def test_delta_warns_where_it_cannot_be_accurate():
    # between the series' reach (its last term above 1e-17 of the sum at q = 1e-3) and q = 1e-2,
    # delta = q phi / E f^2 - 1 by quadrature keeps only ~1e-9 of tanh's delta ~ 1.3e-6: it says so
    with pytest.warns(NumericalWarning, match="delta_q"):
        mf.delta("tanh", 1e-3)


# ------------------------------------------------------------------------------------------------
# item 10 and the crashes

def test_divergent_singularity_is_refused():
    with pytest.raises(ValueError, match="diverges"):
        mf.expect("1/x", 0.0, 1.0)
    with pytest.raises(ValueError, match="diverges"):  # |x|^(-1/2) is integrable, its square not
        mf.second_moment(mf.Activation.from_expression("1/sqrt(Abs(x))"), 1.0)


def test_parameter_kinks_and_high_powers():
    act = mf.Activation.from_expression("Max(x, a)", params={"a": 0.5})
    # phi = P(x > a) = Phi(-a/sqrt(q)) exactly
    assert float(mf.phi(act, 1.0)) == pytest.approx(float(mpmath.ncdf(-0.5)), rel=1e-12)
    relu7 = mf.Activation.from_expression("Max(x, 0)**7")
    # E[relu(x)^14] = M_14 = 13!!/2 at q = 1
    assert float(mf.second_moment(relu7, 1.0)) == pytest.approx(135135 / 2, rel=1e-12)
    ref = _mp_expect(lambda x: max(x, 0) ** 7, 0.3, 1.0)
    assert float(mf.output_mean(relu7, 0.3, 1.0)) == pytest.approx(float(ref), rel=1e-12)


def test_gpn_sign_accepts_one_element_array():
    a, b = mf.gpn_constants("relu", sign=np.array([1]))
    assert a == pytest.approx(math.sqrt(2), rel=1e-14) and abs(b) < 1e-14


# ------------------------------------------------------------------------------------------------
# issue 15: overflow is a ValueError, not a RuntimeWarning; chunked memory; float32 kept

def test_overflow_is_a_value_error_without_runtime_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="float64"):
            mf.second_moment(mf.get_activation("selu", lam=1e200), 1.0)
        value = float(mf.second_moment("selu", 1e308))  # representable: lam^2 q / 2 + O(1)
    assert value == pytest.approx(mf.SELU_LAMBDA**2 * 1e308 / 2, rel=1e-12)


def test_float32_input_gives_float32_output():
    q = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    out = mf.second_moment("tanh", q)
    assert out.dtype == np.float32
    m = np.linspace(-1, 1, 5, dtype=np.float32)
    assert mf.output_mean("tanh", m, np.float32(1.0)).dtype == np.float32


def test_chunked_scattered_pairs_match_unchunked():
    rng = np.random.default_rng(0)
    m, v = rng.uniform(-3, 3, 10_000), 10 ** rng.uniform(-2, 2, 10_000)
    whole = mf.output_mean("tanh", m, v)
    parts = np.concatenate([mf.output_mean("tanh", m[i:i + 999], v[i:i + 999])
                            for i in range(0, m.size, 999)])
    np.testing.assert_allclose(whole, parts, rtol=1e-13)


@pytest.mark.slow
def test_scattered_pairs_memory_is_bounded():
    # issue 15: 1e6 scattered (mean, var) pairs took 1.8 kB per value; the maps now work in
    # chunks, so the peak beyond the output stays a fixed few MB plus the validated inputs
    import tracemalloc

    rng = np.random.default_rng(0)
    n = 100_000
    m, v = rng.uniform(-3, 3, n), 10 ** rng.uniform(-2, 2, n)
    mf.output_mean("tanh", m[:10], v[:10])
    tracemalloc.start()
    try:
        out = mf.output_mean("tanh", m, v)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (peak - out.nbytes) / n <= 200


# ------------------------------------------------------------------------------------------------
# issue 16: callables with undeclared kinks and no derivative

def test_from_callables_detects_kink_and_derives():
    shifted = mf.Activation.from_callables(lambda x: np.maximum(x - 0.3, 0.0))
    assert shifted.kinks == pytest.approx((0.3,), abs=1e-12)
    # phi = P(x > 0.3) = Phi(-3) at q = 0.01; was 20% off with the kink undeclared
    assert float(mf.phi(shifted, 0.01)) == pytest.approx(float(mpmath.ncdf(-3)), rel=1e-9)
    smooth = mf.Activation.from_callables(np.tanh)  # complex step: exact to rounding
    x = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(smooth.df(x), 1 / np.cosh(x) ** 2, rtol=1e-14)
    assert smooth.kinks == ()


# ------------------------------------------------------------------------------------------------
# acceptance: engines agree over the extended range; no silent non-finite / negative variance

_EDGE_Q = [1e-20, 1e-12, 1e-6, 1.0, 1e6, 1e12]


@pytest.mark.parametrize("name", ["relu", "selu", "elu", "gelu", "erf", "linear"])
@pytest.mark.parametrize("quantity", ["f2", "df2"])
def test_closed_matches_mpmath_on_extended_q(name, quantity):
    act = mf.get_activation(name)
    mp_f, mp_df = act.mpmath_functions()
    g = (lambda x: mp_f(x) ** 2) if quantity == "f2" else (lambda x: mp_df(x) ** 2)
    fn = mf.second_moment if quantity == "f2" else mf.phi
    for q in _EDGE_Q:
        ref = _mp_expect(g, 0, q)
        assert float(fn(act, q, method="closed")) == pytest.approx(float(ref), rel=1e-12), q


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "swish"])
@pytest.mark.parametrize("quantity", ["f2", "df2"])
def test_quadrature_matches_mpmath_on_extended_q(name, quantity):
    act = mf.get_activation(name)
    mp_f, mp_df = act.mpmath_functions()
    g = (lambda x: mp_f(x) ** 2) if quantity == "f2" else (lambda x: mp_df(x) ** 2)
    fn = mf.second_moment if quantity == "f2" else mf.phi
    for q in _EDGE_Q[::2] if quantity == "f2" else _EDGE_Q[1::2]:  # sampled: 3 per case
        ref = _mp_expect(g, 0, q)
        assert float(fn(act, q)) == pytest.approx(float(ref), rel=1e-10), q


def test_shipped_closed_forms_are_used():
    # a fresh derivation for a built-in would mean the shipped table is stale or unused
    from meanfield.engines import _closed_derivation, closed

    closed.derive.cache_clear()
    calls = []
    original = _closed_derivation.derive_spec
    closed.derive_spec, was = (lambda *a, **k: calls.append(a) or original(*a, **k)), closed.derive_spec
    try:
        for name in ("relu", "selu", "gelu", "erf"):
            act = mf.get_activation(name)
            closed.derive(act.template, tuple(act.params), "f2", None)
    finally:
        closed.derive_spec = was
    assert calls == []


@pytest.mark.slow
def test_shipped_closed_forms_are_current():
    from meanfield.engines._closed_ship import shipped_table
    from meanfield.engines._closed_shipped import SHIPPED

    fresh = shipped_table()
    assert set(fresh) == set(SHIPPED)
    for key, spec in fresh.items():
        want = spec if isinstance(spec, str) else {"terms": spec["terms"], "jumps": spec["jumps"]}
        got = SHIPPED[key]
        if isinstance(want, str):
            assert isinstance(got, str)
        else:
            assert [tuple(t) for t in got["terms"]] == [tuple(t) for t in want["terms"]], key
            assert [tuple(j) for j in got["jumps"]] == [tuple(j) for j in want["jumps"]], key


@pytest.mark.slow
@pytest.mark.parametrize("name", ["relu", "selu", "gelu", "erf", "tanh", "swish"])
def test_output_mean_matches_mpmath_on_extended_range(name):
    act = mf.get_activation(name)
    lam, alpha = mf.SELU_LAMBDA, mf.SELU_ALPHA
    mp_f = {"relu": lambda x: max(x, 0),  # written here, tail-accurate (ncdf, not 1 + erf)
            "selu": lambda x: lam * x if x > 0 else lam * alpha * mpmath.expm1(x),
            "gelu": lambda x: x * mpmath.ncdf(x), "erf": mpmath.erf, "tanh": mpmath.tanh,
            "swish": lambda x: x / (1 + mpmath.exp(-x))}[name]
    rng = np.random.default_rng(1)
    for m, v in zip(rng.uniform(-30, 30, 12), 10 ** rng.uniform(-12, 8, 12), strict=True):
        ref = _mp_expect(mp_f, m, v, cuts=act.kinks, fine=True)
        try:
            got = float(mf.output_mean(act, m, v))
        except ValueError:
            continue  # refused explicitly: allowed where float64 cannot represent the answer
        rtol = 1e-12 if mf.ENGINES["closed"].supports(act, "f") else 1e-10
        assert got == pytest.approx(float(ref), rel=rtol, abs=1e-300), (m, v)


_PUBLIC = ["relu", "lrelu", "elu", "selu", "tanh", "sigmoid", "softplus", "gelu", "swish", "erf",
           "linear"]


@settings(deadline=None, max_examples=40)
@given(name=st.sampled_from(_PUBLIC),
       mean=st.floats(-30, 30), log_var=st.floats(-12, 8), log_q=st.floats(-20, 12))
def test_maps_never_silently_nonfinite_or_negative(name, mean, log_var, log_q):
    var, q = 10.0**log_var, 10.0**log_q
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", NumericalWarning)  # a stated loss of accuracy is allowed
        calls = [lambda: mf.second_moment(name, q), lambda: mf.phi(name, q),
                 lambda: mf.dphi_dq(name, q), lambda: mf.delta(name, q),
                 lambda: mf.gamma(name, q), lambda: mf.output_mean(name, mean, var),
                 lambda: mf.selu_map(name, mean, var, omega=1.0),
                 lambda: mf.selu_map_jacobian(name, mean, var, omega=1.0)]
        for i, call in enumerate(calls):
            try:
                out = call()
            except ValueError:
                continue
            arrays = [np.asarray(o) for o in (out if isinstance(out, tuple) else (out,))]
            assert all(np.all(np.isfinite(a)) for a in arrays), (i, out)
            if i == 6:
                assert float(out[1]) >= 0
            if i in (0, 1):
                assert float(out) >= 0
