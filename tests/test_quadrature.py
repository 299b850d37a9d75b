"""The quadrature engine (``meanfield.engines.quadrature``) against mpmath references.

Two kinds of reference, both independent of the code under test:

* **Piecewise exponential-linear activations** (relu, lrelu, elu, selu, dselu, sselu,
  lselu, linear, nrelu): exact closed forms evaluated in mpmath at 60 digits. Each piece
  is a sum of terms ``C x^k e^(c x)`` and, for ``x ~ N(m, v)``,
  ``E[x^k e^(cx) 1{x<0}] = e^(cm + c^2 v/2) E[y^k 1{y<0}]`` with ``y ~ N(m + cv, v)``,
  whose truncated moments follow ``I_k = mu I_(k-1) + (k-1) v I_(k-2) -+ sqrt(v) a^(k-1) pdf``.
  These cost well under a millisecond per value, so the grids are dense and extend to
  the sSELU robustness corner (beta = 50, q from 1e-6 to 1e6).
* **Smooth activations** (tanh, sigmoid, softplus, gelu, swish, erf, nswish): 30-digit
  ``mpmath.quad`` (:func:`meanfield.engines.reference.mp_gauss_expectation`). That costs
  0.1-0.5 s per value on a 2-core machine, so these grids are a few points each, chosen at
  the hard places (small and large q; large q is where the 1/sqrt(q)-wide feature at x = 0
  must be graded); ``tests/test_engines.py`` runs the full acceptance grids.

Errors are plain relative errors for E f^2 and E f'^2 (positive). Output means and
derivatives are measured relative to their natural size ``sqrt(E[g^2] E[P^2])`` times the
derivative factor (``P = 1, z, z^2 - 1`` for ``E[g]``, ``s dE/dmean``, ``2 v dE/dvar``; see
the engine's module docstring), e.g. ``sqrt(E f^2)`` for an output mean: their exact value
can be 0 or tiny by cancellation (dphi/dq of ReLU is exactly 0, the SELU output mean at
(0, 1) is ~0), where a plain relative error is meaningless.

Tolerance: the project promises 1e-10 (``ENGINE_RTOL["quadrature"]``); the rule is designed
for and measured at < 1e-13, so these tests assert ``RTOL = 1e-12`` to catch regressions
long before they break the promise.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest

from meanfield.activations import Activation, get_activation
from meanfield.engines.quadrature import QuadratureEngine, gauss_expectation
from meanfield.engines.reference import mp_gauss_expectation
from meanfield.tolerances import ENGINE_RTOL

#: asserted error relative to the natural scale (module docstring); promise is 1e-10
RTOL = 1e-12
ENGINE = QuadratureEngine()
WEIGHTS = (None, "mean", "var")

# ------------------------------------------------------------------------------------------
# exact references for piecewise exponential-linear activations

_DPS = 60  # plenty for truncated moments whose recurrence cancels up to ~20 digits at q=1e6


def _terms(act):
    """``(negative-side terms, positive-side terms)`` of f as lists of (C, k, c): C x^k e^(cx)."""
    p = act.params
    lam = p.get("lam", 1.0)
    neg = {
        "relu": [],
        "lrelu": [(p.get("slope"), 1, 0.0)],
        "elu": [(p.get("alpha"), 0, 1.0), (-p.get("alpha", 0.0), 0, 0.0)],
        "linear": [(1.0, 1, 0.0)],
    }.get(act.name)
    if act.name in ("selu", "dselu"):
        neg = [(lam * p["alpha"], 0, 1.0), (-lam * p["alpha"], 0, 0.0)]
    elif act.name == "sselu":
        neg = [(lam * p["alpha"], 0, p["beta"]), (-lam * p["alpha"], 0, 0.0)]
    elif act.name == "lselu":
        neg = [(lam * p["alpha"], 0, 1.0), (lam * p["beta"], 1, 0.0), (-lam * p["alpha"], 0, 0.0)]
    elif act.name == "nrelu":
        return [(p["shift"], 0, 0.0)], [(p["scale"], 1, 0.0), (p["shift"], 0, 0.0)]
    return neg, [(lam, 1, 0.0)]


def _diff(terms):
    out = []
    for C, k, c in terms:
        if k:
            out.append((C * k, k - 1, c))
        if c:
            out.append((C * c, k, c))
    return out


def _mul(a, b):
    return [(C1 * C2, k1 + k2, c1 + c2) for C1, k1, c1 in a for C2, k2, c2 in b]


def _truncated_moment(k, c, m, v, upper):
    """``E[x^k e^(cx) 1{x > 0 if upper else x < 0}]``, x ~ N(m, v), in mpmath."""
    mu, s = m + c * v, mpmath.sqrt(v)
    alpha = -mu / s
    pdf = mpmath.npdf(alpha)
    moments = [mpmath.ncdf(-alpha) if upper else mpmath.ncdf(alpha)]
    for j in range(1, k + 1):
        boundary = s * pdf if j == 1 else 0  # a^(j-1) pdf with a = 0
        moments.append(mu * moments[j - 1] + (j - 1) * v * (moments[j - 2] if j > 1 else 0)
                       + (boundary if upper else -boundary))
    return mpmath.exp(c * m + c * c * v / 2) * moments[k]


def exact(act, quantity, mean, var, derivative=None):
    """Exact ``E[g]`` or its mean/var derivative for a piecewise exp-linear activation."""
    neg, pos = _terms(act)
    out = np.empty(np.broadcast(mean, var).shape)
    for idx, (m, v) in enumerate(np.broadcast(mean, var)):
        with mpmath.workdps(_DPS):
            m, v = mpmath.mpf(float(m)), mpmath.mpf(float(v))
            s = mpmath.sqrt(v)
            poly = {None: [(1, 0, 0.0)],
                    "mean": [(1 / s, 1, 0.0), (-m / s, 0, 0.0)],
                    "var": [(1 / v, 2, 0.0), (-2 * m / v, 1, 0.0), ((m * m - v) / v, 0, 0.0)],
                    }[derivative]
            total = 0
            for side, upper in ((neg, False), (pos, True)):
                g = {"f": side, "f2": _mul(side, side), "df2": _mul(_diff(side), _diff(side))}[quantity]
                for C, k, c in _mul(g, poly):
                    total += mpmath.mpf(C) * _truncated_moment(k, mpmath.mpf(c), m, v, upper)
            factor = {None: 1, "mean": 1 / s, "var": 1 / (2 * v)}[derivative]
            out.flat[idx] = float(total * factor)
    return out


# ------------------------------------------------------------------------------------------
# helpers


def integrand(act, quantity):
    return {"f": act.f, "f2": lambda x: act.f(x) ** 2, "df2": lambda x: act.df(x) ** 2}[quantity]


def natural_scale(act, quantity, mean, var, derivative=None):
    """``sqrt(E[g^2] E[P^2])`` times the derivative factor: the natural size of ``E[g P]``.

    By Cauchy-Schwarz it bounds ``|E[g P]|``; for ``P = 1`` it is the root-mean-square of
    ``g`` (``sqrt(E f^2)`` for output means). It only sets the unit of the error, so
    computing it with the code under test is harmless.
    """
    g = integrand(act, quantity)
    mean, var = np.broadcast_arrays(np.asarray(mean, float), np.asarray(var, float))
    rms = np.sqrt(gauss_expectation(lambda x: g(x) ** 2, mean, var, kinks=act.kinks,
                                    scale=act.scale))
    factor = {None: 1.0, "mean": 1.0 / np.sqrt(var), "var": math.sqrt(2.0) / (2.0 * var)}
    return rms * factor[derivative]  # E[z^2] = 1, E[(z^2 - 1)^2] = 2


def max_error(got, ref, scale):
    return float(np.max(np.abs(got - ref) / scale))


PIECEWISE = [
    get_activation("relu"),
    get_activation("lrelu", slope=0.2),
    get_activation("elu", alpha=1.3),
    get_activation("selu"),
    get_activation("dselu", lam=1.0358, alpha=1.6194),
    *(get_activation("sselu", lam=1.05, alpha=1.6, beta=b) for b in (0.3, 1.0, 3.0)),
    *(get_activation("lselu", lam=1.05, alpha=1.5, beta=b) for b in (-0.5, 0.5)),
    get_activation("linear"),
    get_activation("nrelu"),
]
SMOOTH = [get_activation(n) for n in ("tanh", "sigmoid", "softplus", "gelu", "swish", "erf",
                                      "nswish")]


def _id(act):
    return repr(act)


# ------------------------------------------------------------------------------------------
# accuracy


@pytest.mark.parametrize("act", PIECEWISE, ids=_id)
def test_piecewise_activations_against_exact_mpmath(act):
    # acceptance grids, denser than required: q in [1e-3, 1e3] for E f^2, E f'^2 and their
    # q-derivatives at mean 0; mean in [-5, 5] x var in [1e-3, 1e2] for E f and its derivatives
    q = np.logspace(-3, 3, 25)
    zeros = np.zeros_like(q)
    for quantity in ("f2", "df2"):
        got = ENGINE.expect(act, quantity, zeros, q)
        ref = exact(act, quantity, zeros, q)
        assert max_error(got, ref, np.abs(ref)) <= RTOL, (quantity, max_error(got, ref, ref))
        got = ENGINE.expect(act, quantity, zeros, q, "var")
        ref = exact(act, quantity, zeros, q, "var")
        err = max_error(got, ref, natural_scale(act, quantity, zeros, q, "var"))
        assert err <= RTOL, (quantity, "var", err)
    mean, var = (a.ravel() for a in np.meshgrid(np.linspace(-5, 5, 11), np.logspace(-3, 2, 6)))
    for derivative in WEIGHTS:
        got = ENGINE.expect(act, "f", mean, var, derivative)
        ref = exact(act, "f", mean, var, derivative)
        scale = natural_scale(act, "f", mean, var, derivative)
        # relu far in its flat tail: both are exactly 0 (scale 0); count 0 == 0 as exact
        err = max_error(got, ref, np.where(scale > 0, scale, 1.0))
        assert err <= RTOL, ("f", derivative, err)


# (mean, var) points of the smooth-activation checks: the mpmath.quad reference is slow
SMOOTH_Q = np.array([1e-3, 0.7, 1e3])
SMOOTH_MV = [(-3.0, 0.05), (0.5, 30.0), (5.0, 1e2)]


@pytest.mark.parametrize("act", SMOOTH, ids=_id)
def test_smooth_activations_against_mpmath_quad(act):
    mp_f, mp_df = act.mpmath_functions()
    mp_g = {"f": mp_f, "f2": lambda x: mp_f(x) ** 2, "df2": lambda x: mp_df(x) ** 2}

    def ref(quantity, m, v, derivative=None):
        g = mp_g[quantity]
        with mpmath.workdps(40):
            mm, vv = mpmath.mpf(m), mpmath.mpf(v)
            h = {None: g,
                 "var": lambda x: g(x) * ((x - mm) ** 2 - vv) / (2 * vv * vv)}[derivative]
            return float(mp_gauss_expectation(h, m, v, act.kinks))

    for quantity in ("f2", "df2"):
        got = ENGINE.expect(act, quantity, np.zeros(3), SMOOTH_Q)
        want = np.array([ref(quantity, 0.0, q) for q in SMOOTH_Q])
        assert max_error(got, want, want) <= RTOL, quantity
    # dphi/dq where the feature at x = 0 is 1/sqrt(q) wide in z
    got = ENGINE.expect(act, "df2", 0.0, 1e3, "var")
    want = ref("df2", 0.0, 1e3, "var")
    assert max_error(got, want, natural_scale(act, "df2", 0.0, 1e3, "var")) <= RTOL
    m, v = np.array(SMOOTH_MV).T
    got = ENGINE.expect(act, "f", m, v)
    want = np.array([ref("f", mi, vi) for mi, vi in SMOOTH_MV])
    assert max_error(got, want, natural_scale(act, "f", m, v)) <= RTOL


@pytest.mark.parametrize("name", ["gelu", "tanh", "swish", "softplus"])
def test_smooth_features_graded_beyond_the_acceptance_range(name):
    # q = 1e6: the soft feature at x = 0 is 1e-3 wide in z; without the graded near mesh
    # phi would be off by ~1e-4 (gelu, swish, softplus) to 100% (tanh) against mpmath.quad
    act = get_activation(name)
    _, mp_df = act.mpmath_functions()
    with mpmath.workdps(40):
        want = float(mp_gauss_expectation(lambda x: mp_df(x) ** 2, 0.0, 1e6, act.kinks))
    got = ENGINE.expect(act, "df2", 0.0, 1e6)
    assert abs(got - want) <= RTOL * want


@pytest.mark.parametrize("beta", [3.0, 20.0, 50.0])
def test_sselu_large_beta_robust_and_accurate(beta):
    # Acceptance: no overflow warning, NaN or inf for sSELU with beta up to 50 and q from
    # 1e-6 to 1e6. exp(2 beta x) on x < 0 is a boundary layer of width 1/(2 beta sqrt(q)) in
    # z (1e-5 at the corner): the graded mesh resolves it, so the error stays at RTOL.
    act = get_activation("sselu", lam=1.05, alpha=1.6, beta=beta)
    q = np.logspace(-6, 6, 49)
    zeros = np.zeros_like(q)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for quantity in ("f2", "df2"):
            for derivative in (None, "var"):
                got = ENGINE.expect(act, quantity, zeros, q, derivative)
                assert np.all(np.isfinite(got))
                ref = exact(act, quantity, zeros, q, derivative)
                scale = np.abs(ref) if derivative is None else natural_scale(
                    act, quantity, zeros, q, derivative)
                assert max_error(got, ref, scale) <= RTOL, (quantity, derivative)
        mean = np.linspace(-5, 5, 49)
        got = ENGINE.expect(act, "f", mean, q)
        assert np.all(np.isfinite(got))
        ref = exact(act, "f", mean, q)
        assert max_error(got, ref, natural_scale(act, "f", mean, q)) <= RTOL


def test_kinks_are_honoured():
    relu = get_activation("relu")
    # phi(q) of ReLU is exactly 1/2: the split at the kink makes it exact (P(x > 0) = 1/2)
    assert abs(float(ENGINE.expect(relu, "df2", 0.0, 1e3)) - 0.5) <= 1e-13
    assert abs(float(ENGINE.expect(relu, "f2", 0.0, 1e3)) / 500.0 - 1.0) <= 1e-13
    assert abs(float(ENGINE.expect(relu, "df2", 0.0, 1e3, "var"))) <= 1e-15  # dphi/dq = 0
    # a step away from 0: E[1{x > 0.7}] = Phi((m - 0.7)/s), also where the kink's z-image
    # is far out or the variance is tiny
    step = Activation.from_callables(lambda x: (x > 0.7) * 1.0, lambda x: 0.0 * x, kinks=(0.7,))
    for m, v in ((0.0, 1e6), (0.7 - 1e-4, 1e-8), (-3.0, 4.0), (5.0, 0.3)):
        want = float(mpmath.ncdf((m - 0.7) / mpmath.sqrt(v)))
        assert abs(float(ENGINE.expect(step, "f", m, v)) - want) <= 1e-14, (m, v)
    # the split is what makes it exact: the same step with its kink withheld is not
    no_kink = Activation.from_callables(lambda x: (x > 0.7) * 1.0, lambda x: 0.0 * x)
    assert abs(float(ENGINE.expect(no_kink, "f", -3.0, 4.0)) - float(mpmath.ncdf(-1.85))) > 1e-8


def test_window_widens_for_tail_kinks_and_tilted_integrands():
    # ReLU's output mean when its kink sits 6, 20 or 30 standard deviations out: the integrand
    # lives only beyond the kink, so the window must follow it to keep relative accuracy
    relu = get_activation("relu")
    for m, v in ((-6.0, 1.0), (-2.0, 0.01), (-3.0, 0.01)):
        want = float(exact(relu, "f", np.array(m), np.array(v)))
        assert 0 < want < 1e-9
        assert abs(float(ENGINE.expect(relu, "f", m, v)) - want) <= RTOL * want, (m, v)
    # E[e^x] = e^(v/2): the integrand e^(s z) phi(z) peaks at z = s = 4 and 10
    var = np.array([1.0, 16.0, 100.0])
    for got in (gauss_expectation(np.exp, 0.0, var), [gauss_expectation(np.exp, 0.0, v) for v in var]):
        np.testing.assert_allclose(got, np.exp(var / 2), rtol=RTOL)


def test_polynomial_moments_are_exact():
    # E[x^k] for x ~ N(m, v): Gauss-Legendre on the split mesh integrates these to rounding
    mean = np.array([[-2.0], [0.0], [0.3], [4.0]])
    var = np.array([1e-3, 1.0, 7.0])
    moments = {1: mean + 0 * var, 2: mean**2 + var, 3: mean**3 + 3 * mean * var,
               4: mean**4 + 6 * mean**2 * var + 3 * var**2}
    for k, want in moments.items():
        got = gauss_expectation(lambda x, k=k: x**k, mean, var)
        assert got.shape == (4, 3)
        # relative to (|m| + s)^k, the size of the integrand where the mass is
        assert np.all(np.abs(got - want) <= 1e-13 * (np.abs(mean) + np.sqrt(var)) ** k), k


def test_large_arrays_match_elementwise_evaluation():
    # Arrays with many values per mean use the Chebyshev-in-log(s) proxy (module docstring);
    # it must agree with the direct rule that small arrays use, to the rule's own accuracy.
    q = np.logspace(-4, 4, 700)
    for act in (get_activation("selu"), get_activation("tanh"),
                get_activation("sselu", lam=1.05, alpha=1.6, beta=50.0)):
        for quantity, mean in (("f2", 0.0), ("df2", 0.0), ("f", 0.0), ("f", -1.7)):
            for derivative in WEIGHTS:
                big = ENGINE.expect(act, quantity, np.full_like(q, mean), q, derivative)
                small = np.concatenate([ENGINE.expect(act, quantity, np.full(7, mean), q[i:i + 7],
                                                      derivative) for i in range(0, q.size, 7)])
                scale = natural_scale(act, quantity, np.full(q.size, mean), q, derivative)
                assert max_error(big, small, scale) <= 1e-13, (act, quantity, mean, derivative)


def test_shapes_and_broadcasting():
    act = get_activation("gelu")
    out = ENGINE.expect(act, "f2", 0.0, 2.0)
    assert isinstance(out, np.ndarray) and out.shape == ()
    out = ENGINE.expect(act, "f", np.zeros((3, 1)), np.ones(4), "mean")
    assert out.shape == (3, 4)
    assert ENGINE.expect(act, "df2", np.zeros(0), np.ones(0)).shape == (0,)
    # g sees 2-D (values, nodes) arrays and may be any elementwise callable
    shapes = set()

    def g(x):
        shapes.add(x.ndim)
        return np.cos(x)

    got = gauss_expectation(g, [0.0, 1.0], [1.0, 0.25])
    np.testing.assert_allclose(got, np.cos([0.0, 1.0]) * np.exp(-np.array([1.0, 0.25]) / 2),
                               rtol=1e-14)
    assert shapes == {2}


def test_engine_interface():
    act = get_activation("tanh")
    assert ENGINE.name == "quadrature"
    assert ENGINE.supports(act, "df2") and ENGINE.unsupported_reason(act, "df2") == ""
    with pytest.raises(ValueError, match="quantity"):
        ENGINE.expect(act, "f3", 0.0, 1.0)
    with pytest.raises(ValueError, match="derivative"):
        ENGINE.expect(act, "f", 0.0, 1.0, "q")
    with pytest.raises(ValueError, match="scale"):
        gauss_expectation(np.tanh, 0.0, 1.0, scale=0.0)


def test_engine_meets_its_promised_tolerance_off_grid():
    # ENGINE_RTOL["quadrature"] is a promise: check it at an off-grid point against mpmath's
    # tanh-sinh written here (tanh's f'^2 = sech^4, at mean 0.7, var 2.3, and its d/dvar)
    act = get_activation("tanh")
    m, v = 0.7, 2.3
    with mpmath.workdps(40):
        s = mpmath.sqrt(v)

        def moment(weight):
            return mpmath.quad(lambda z: mpmath.sech(m + s * z) ** 4 * weight(z) * mpmath.npdf(z),
                               [-mpmath.inf, -m / s, mpmath.inf])
        value = moment(lambda z: 1)
        dvar = moment(lambda z: (z * z - 1) / (2 * v))
    rtol = ENGINE_RTOL["quadrature"]
    assert float(ENGINE.expect(act, "df2", m, v)) == pytest.approx(float(value), rel=rtol)
    assert float(ENGINE.expect(act, "df2", m, v, "var")) == pytest.approx(float(dvar), rel=rtol)
