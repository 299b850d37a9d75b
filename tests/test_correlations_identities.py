"""Exact identities of the bivariate maps (hypothesis) and argument checking."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import meanfield as M
from meanfield import get_activation

q_values = st.floats(1e-2, 1e2)
c_values = st.floats(-1.0, 1.0)
#: cheap activations covering each engine path: closed kernels, closed inner, quadrature inner
ENGINE_PATHS = ["relu", "erf", "selu", "tanh"]


@pytest.mark.parametrize("method", ["auto", "quadrature"])
@pytest.mark.parametrize("name", ["relu", "erf", "selu", "tanh", "gelu", "lrelu"])
def test_diagonal_is_second_moment_and_phi_exactly(name, method):
    q = np.array([1e-20, 1e-2, 1.0, 37.0, 1e2, 1e12])
    ones = np.ones_like(q)
    np.testing.assert_array_equal(M.covariance(name, q, q, ones, method=method),
                                  M.second_moment(name, q, method=method))
    np.testing.assert_array_equal(M.derivative_covariance(name, q, q, ones, method=method),
                                  M.phi(name, q, method=method))


@given(q1=q_values, q2=q_values, c=c_values, name=st.sampled_from(ENGINE_PATHS))
def test_symmetric_in_q1_q2(q1, q2, c, name):
    # E[f(u1) f(u2)] depends on (q1, q2) symmetrically: swapping relabels z1, z2. The rule is not
    # symmetric (outer z1, inner z2), so the two sides differ by the rules' errors: 1e-12 of the
    # Cauchy-Schwarz scale for the closed paths, 1e-10 for quadrature (the acceptance levels).
    a = M.covariance(name, q1, q2, c)
    b = M.covariance(name, q2, q1, c)
    scale = math.sqrt(M.second_moment(name, q1) * M.second_moment(name, q2))
    assert abs(a - b) <= 1e-10 * scale


@given(q1=q_values, c=st.floats(-0.999, 0.999))
def test_price_theorem(q1, c):
    # d cov / dc = sqrt(q1 q2) E[f'(u1) f'(u2)] (Price): central difference, step 1e-4, error
    # O(h^2 cov''') ~ 1e-8 relative for tanh away from |c| = 1
    h = 1e-4
    q2 = 2.0
    num = (M.covariance("tanh", q1, q2, c + h) - M.covariance("tanh", q1, q2, c - h)) / (2 * h)
    assert num == pytest.approx(math.sqrt(q1 * q2) * M.derivative_covariance("tanh", q1, q2, c),
                                rel=1e-6, abs=1e-9)


@given(weight_var=st.floats(1.2, 4.0), bias_var=st.floats(0.01, 0.5))
def test_chi_c_at_one_is_chi1(weight_var, bias_var):
    # identical formula at c = 1: sigma_w^2 phi(q*) (exact identity of the diagonal)
    assert M.chi_c("tanh", 1.0, weight_var=weight_var, bias_var=bias_var) == pytest.approx(
        M.chi1("tanh", weight_var, bias_var), rel=1e-15)


@pytest.mark.parametrize("name", ["tanh", "relu", "selu", "erf", "softplus"])
def test_cmap_monotone_and_fixes_one(name):
    # monotone f: E[f'(u1) f'(u2)] >= 0, so the c-map is non-decreasing in c; c = 1 is fixed
    c = np.linspace(-1, 1, 41)
    out = M.correlation_map(name, c, weight_var=1.5, bias_var=0.1, q=1.3)
    assert np.all(np.diff(out) >= -1e-13)
    assert out[-1] == pytest.approx(1.0, rel=1e-14)


def test_fixed_points_and_criticality():
    # ReLU: q -> w q / 2 + b has q* = b / (1 - w/2); chi1 = w/2 (phi = 1/2 for every q)
    assert M.fixed_point("relu", 1.0, 0.5) == pytest.approx(1.0, rel=1e-13)
    assert M.chi1("relu", 1.5, 0.1) == pytest.approx(0.75, rel=1e-14)
    assert M.fixed_point("tanh", 0.5) == 0.0
    assert M.critical_weight_var("relu", 0.0) == pytest.approx(2.0, rel=1e-12)
    # without bias the q* = 0 branch of an odd activation ends exactly at w = 1/f'(0)^2 (chi1 = w f'(0)^2
    # there): tanh 1, erf pi/4 (f'(0) = 2/sqrt(pi)); 2 ulp for erf's rounded f'(0)
    assert M.critical_weight_var("tanh", 0.0) == 1.0
    assert M.critical_weight_var("erf", 0.0) == pytest.approx(math.pi / 4, rel=5e-16)
    w = M.critical_weight_var("tanh", 0.05)
    assert M.chi1("tanh", w, 0.05) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="diverges"):
        M.fixed_point("relu", 2.5, 0.1)


def test_depth_scales():
    # ordered phase: c* = 1 and xi_c = -1/log(chi1); at the transition xi_c = inf
    chi = M.chi1("tanh", 0.8, 0.05)
    assert chi < 1
    xi_q, xi_c = M.depth_scales("tanh", 0.8, 0.05)
    assert xi_c == pytest.approx(-1 / math.log(chi), rel=1e-12)
    assert 0 < xi_q < xi_c
    assert M.depth_scales("tanh", 1.0, 0.0)[1] == math.inf
    # chaotic phase: c* < 1 is a fixed point of the c-map, xi_c finite
    c_star = M.correlation_fixed_point("tanh", 3.0, 0.05)
    assert c_star < 1
    assert float(M.correlation_map("tanh", c_star, weight_var=3.0, bias_var=0.05)) == pytest.approx(
        c_star, abs=1e-12)
    assert math.isfinite(M.depth_scales("tanh", 3.0, 0.05)[1])


@pytest.mark.parametrize("kwargs, match", [
    ({"q1": 1.0, "q2": 1.0, "c": 1.5}, "c must be in"),
    ({"q1": 1.0, "q2": 1.0, "c": float("nan")}, "c must be finite"),
    ({"q1": -1.0, "q2": 1.0, "c": 0.0}, "q1 must be > 0"),
    ({"q1": 1.0, "q2": 0.0, "c": 0.0}, "q2 must be > 0"),
    ({"q1": 1.0, "q2": 1.0, "c": "x"}, "c must be a real"),
])
def test_bad_input_names_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        M.covariance("tanh", **kwargs)


@pytest.mark.parametrize("call, match", [
    (lambda: M.correlation_map("tanh", 0.5, weight_var=-1.0), "weight_var must be > 0"),
    (lambda: M.correlation_map("tanh", 0.5, bias_var=-0.1), "bias_var must be >= 0"),
    (lambda: M.chi_c("tanh", -1.01), "c must be in"),
    (lambda: M.fixed_point("tanh", float("nan")), "weight_var must be finite"),
    (lambda: M.covariance("tanh", 1, 1, 0, method="bogus"), "method must be one of"),
    (lambda: M.covariance("tanh", 1, 1, 0, method="closed"), "no closed bivariate form"),
])
def test_bad_layer_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_broadcasting_and_extreme_q():
    out = M.covariance("selu", np.array([[1e-20], [1e12]]), 1.0, np.array([-1.0, 0.0, 1.0]))
    assert out.shape == (2, 3) and np.all(np.isfinite(out))
    act = get_activation("relu")
    # kernel at extreme q: homogeneous of degree 1 in each sqrt(q)
    assert M.covariance(act, 1e12, 1e-20, 0.5) == pytest.approx(
        M.covariance(act, 1.0, 1.0, 0.5) * math.sqrt(1e12 * 1e-20), rel=1e-14)


@given(e1=st.floats(-4, 12), e2=st.floats(-4, 12),
       c=st.one_of(st.floats(-1.0, 1.0), st.sampled_from([-1.0, -0.9999999, 0.9999999, 1.0])),
       name=st.sampled_from(["erf", "relu"]))
def test_quadrature_matches_closed_kernels_at_extremes(e1, e2, c, name):
    # the closed kernels (arcsine, arc-cosine) are exact formulas: the quadrature engine must
    # match them to its 1e-10 (of the Cauchy-Schwarz scale) far outside the acceptance grid,
    # q from 1e-4 to 1e12 and c next to +-1, where the inner smoothing width s/|c| is tiny
    q1, q2 = 10.0**e1, 10.0**e2
    for fn, diag in ((M.covariance, M.second_moment), (M.derivative_covariance, M.phi)):
        exact = fn(name, q1, q2, c, method="closed")
        quad = fn(name, q1, q2, c, method="quadrature")
        scale = math.sqrt(diag(name, q1) * diag(name, q2))
        assert abs(quad - exact) <= 1e-10 * scale, (fn.__name__, q1, q2, c, quad, exact)
