"""The maps: the papers' published numbers, identities, broadcasting and input validation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REQUIRED_PARAMS

import meanfield as mf

# -- published numbers (each compared at the precision the paper prints) ----------------------

def test_selu_eps_is_0_0716():
    # Chen et al. Sec. 3: "the original configuration of SELU can be obtained by setting eps = 0.0716"
    assert float(mf.phi("selu", 1.0) - 1) == pytest.approx(0.0716, abs=5e-5)
    assert float(mf.phi("selu", 1.0, method="mpmath") - 1) == pytest.approx(0.0716, abs=5e-5)


def test_gpn_constants_of_relu_and_lrelu():
    # Yuan & Zhu, App. A.1 / Lu et al.: ReLU-GPN = 1.4142 x (b = 0); LReLU(0.01)-GPN scale 1.4141
    a, b = mf.gpn_constants("relu")
    assert a == pytest.approx(np.sqrt(2), rel=1e-14) and abs(b) < 1e-14
    a, _ = mf.gpn_constants("lrelu")
    assert round(float(a), 4) == 1.4141
    assert float(a) == pytest.approx(np.sqrt(2 / 1.0001), rel=1e-14)  # E f'^2 = (1 + 0.01^2)/2


def test_r_score_of_relu():
    # Yuan & Zhu, Fig. 2: R of ReLU is -0.383 at every sigma; exactly ln(1 - 1/pi)
    for var in (0.01, 1.0, 30.0):
        assert float(mf.r_score("relu", var)) == pytest.approx(np.log(1 - 1 / np.pi), rel=1e-13)
    assert round(float(mf.r_score("relu", 1.0)), 3) == -0.383


def test_klambauer_jacobian_spectral_norm():
    # Klambauer et al.: J(0, 1) = ((0, 0.088834), (0, 0.782648)), spectral norm 0.7877
    jac = mf.selu_map_jacobian("selu", 0.0, 1.0)
    # the paper prints 6 truncated decimals (0.0888347... appears as 0.088834)
    np.testing.assert_allclose(jac, [[0.0, 0.088834], [0.0, 0.782648]], atol=1e-6)
    assert round(float(np.linalg.norm(jac, 2)), 4) == 0.7877
    ref = mf.selu_map_jacobian("selu", 0.0, 1.0, method="mpmath")
    np.testing.assert_allclose(jac, ref, rtol=1e-12, atol=1e-15)


# -- identities -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["relu", "lrelu", "selu", "gelu", "tanh", "sselu", "erf"])
def test_gpn_version_satisfies_both_equalities(name):
    act = mf.get_activation(name, **REQUIRED_PARAMS.get(name, {}))
    for sign in (1, -1):
        gpn = act.gpn(sign=sign)
        assert float(mf.second_moment(gpn, 1.0, method="mpmath")) == pytest.approx(1.0, rel=1e-12)
        assert float(mf.phi(gpn, 1.0, method="mpmath")) == pytest.approx(1.0, rel=1e-12)
        assert sign * float(mf.output_mean(gpn, 0.0, 1.0)) >= -1e-12  # the chosen root's sign


def test_gpn_fixed_points():
    # DESIGN.md: exp(x - 1) and sqrt(2) sin(x + pi/4) are GPN with non-negative mean: a = 1, b = 0
    for text in ("exp(x - 1)", "sqrt(2)*sin(x + pi/4)"):
        act = mf.Activation.from_expression(text)
        a, b = mf.gpn_constants(act, method="quadrature" if "sin" in text else "auto")
        assert a == pytest.approx(1.0, rel=1e-10) and b == pytest.approx(0.0, abs=1e-9)


def test_delta_gamma_and_gamma1_definitions():
    act = mf.get_activation("sselu", **REQUIRED_PARAMS["sselu"])
    q = np.array([0.3, 0.9, 1.0, 1.7, 5.0])
    p, m2 = mf.phi(act, q), mf.second_moment(act, q)
    np.testing.assert_allclose(mf.delta(act, q), q * p / m2 - 1, rtol=1e-14)
    g = mf.gamma(act, q)
    np.testing.assert_allclose(g[:2], 1 - (p[:2] - 1) / (1 / q[:2] - 1), rtol=1e-13)
    np.testing.assert_allclose(g[3:], (p[3:] - 1 / q[3:]) / (1 - 1 / q[3:]), rtol=1e-13)
    assert g[2] == mf.gamma1(act)
    # gamma1 = |dphi/dq(1) + 1| against an independent 40-digit integral of the score form
    # dphi/dq = E[f'(x)^2 (x^2 - q)] / (2 q^2) at q = 1, sSELU's f' written out by hand; the
    # closed engine promises 1e-12 relative
    import mpmath

    lam, alpha, beta = (act.params[k] for k in ("lam", "alpha", "beta"))
    with mpmath.workdps(40):
        def weighted(z, lo, hi):
            fp = lam if lo >= 0 else lam * alpha * beta * mpmath.exp(beta * z)
            return fp**2 * (z * z - 1) / 2 * mpmath.npdf(z)
        dphi = mpmath.quad(lambda z: weighted(z, -1, 0), [-mpmath.inf, 0]) + \
            mpmath.quad(lambda z: weighted(z, 0, 1), [0, mpmath.inf])
    assert float(mf.gamma1(act)) == pytest.approx(abs(float(dphi) + 1), rel=1e-12)
    # dphi/dq is exact: compare with a central difference at its own truncation error, h^2 phi'''
    h = 1e-4
    fd = (mf.phi(act, 1 + h) - mf.phi(act, 1 - h)) / (2 * h)
    assert float(mf.dphi_dq(act, 1.0)) == pytest.approx(float(fd), abs=1e-7)


def test_relu_like_maps_are_exact():
    q = np.logspace(-3, 3, 13)
    np.testing.assert_allclose(mf.second_moment("relu", q), q / 2, rtol=1e-14)
    np.testing.assert_allclose(mf.phi("relu", q), 0.5, rtol=1e-15)
    np.testing.assert_array_equal(mf.dphi_dq("relu", q), 0.0)  # no jump term at a kink at 0
    np.testing.assert_allclose(mf.delta("linear", q), 0.0, atol=1e-15)
    np.testing.assert_allclose(mf.second_moment("linear", q), q, rtol=1e-14)


def test_normalization_factor_and_normalized_activations():
    rho, rho_p, lam = mf.normalization_factor("relu", 2.0)
    assert rho == pytest.approx(0.5 - 1 / (2 * np.pi), rel=1e-14) and rho_p == pytest.approx(0.5, rel=1e-15)
    assert lam == pytest.approx(np.sqrt((rho + rho_p) / (2 * rho * rho_p)), rel=1e-15)
    nrelu = mf.get_activation("nrelu", var=2.0)
    assert abs(float(mf.output_mean(nrelu, 0.0, 2.0))) < 1e-14  # centred at its input variance
    # the normalized activation's rho, rho' are lam^2 rho, lam^2 rho': harmonic mean 1 (Yuan & Zhu eq. 13)
    r2, rp2, _ = mf.normalization_factor(nrelu, 2.0)
    assert 2 * r2 * rp2 / (r2 + rp2) == pytest.approx(1.0, rel=1e-13)


def test_selu_map_fixed_point_and_broadcasting():
    m, v = mf.selu_map("selu", 0.0, 1.0)
    assert abs(m) < 1e-14 and v == pytest.approx(1.0, rel=1e-14)
    mu = np.linspace(-1, 1, 5)[:, None]
    nu = np.array([0.5, 1.0, 2.0])
    m, v = mf.selu_map("selu", mu, nu, omega=0.3, tau=1.2)
    assert m.shape == v.shape == (5, 3)
    assert mf.selu_map_jacobian("selu", mu, nu, 0.3, 1.2).shape == (5, 3, 2, 2)
    assert mf.phi("selu", np.ones((2, 3))).shape == (2, 3)
    assert isinstance(mf.phi("selu", 1.0), float | np.floating)


def test_expect_with_strings_and_callables():
    assert float(mf.expect("x**4", 0.0, 2.0)) == pytest.approx(12.0, rel=1e-14)
    assert float(mf.expect("exp(a*x)", 0.5, 2.0, params={"a": 0.3})) == pytest.approx(
        np.exp(0.3 * 0.5 + 0.09), rel=1e-14)
    got = mf.expect(np.abs, 0.0, 1.0, kinks=(0.0,))
    assert float(got) == pytest.approx(np.sqrt(2 / np.pi), rel=1e-12)
    with pytest.raises(ValueError, match="closed engine needs a SymPy"):
        mf.expect(np.abs, 0.0, 1.0, method="closed")
    with pytest.raises(ValueError, match="g must be"):
        mf.expect(3.0)


# -- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: mf.phi("selu", -1.0), r"q must be > 0 \(valid range: \(0, inf\)\); got -1.0"),
    (lambda: mf.second_moment("selu", 0.0), "q must be > 0"),
    (lambda: mf.delta("selu", np.nan), "q must be finite; got nan"),
    (lambda: mf.dphi_dq("selu", [1.0, np.inf]), "q must be finite; got inf"),
    (lambda: mf.output_mean("selu", 0.0, 0.0), "var must be > 0"),
    (lambda: mf.output_mean("selu", np.nan, 1.0), "mean must be finite"),
    (lambda: mf.selu_map("selu", 0.0, -1.0), "nu must be > 0"),
    (lambda: mf.selu_map("selu", 0.0, 1.0, tau=0.0), "tau must be > 0"),
    (lambda: mf.selu_map_jacobian("selu", 0.0, 1.0, omega=np.nan), "omega must be finite"),
    (lambda: mf.normalization_factor("relu", -2.0), "var must be > 0"),
    (lambda: mf.r_score("relu", "abc"), "var must be a real number"),
    (lambda: mf.gpn_constants("relu", sign=2), "sign must be"),
    (lambda: mf.phi("relu", 1.0, method="simpson"), "method must be one of"),
    (lambda: mf.gpn_constants(mf.Activation.from_callables(np.ones_like, np.zeros_like)),
     "constant activation"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_divergent_expectation_is_an_error_not_nan():
    act = mf.Activation.from_expression("exp(x**2)")
    with pytest.raises(ValueError, match="not finite"):
        mf.second_moment(act, 1.0)
