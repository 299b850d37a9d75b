"""Property-based tests of the self-normalization propositions (issue: properties and report).

The checks live in :mod:`meanfield.properties` so users can run them on their own activations;
here hypothesis drives them over families (SELU-like parameters, GPN versions of the zoo, user
expressions), q values and fan-ins, and each proposition is shown to *fail* on a deliberately
wrong activation. Monte-Carlo properties use tolerances scaled to the sample size.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import meanfield as mf
from meanfield import properties as props

selu_like = st.builds(lambda lam, alpha: mf.get_activation("selu", lam=lam, alpha=alpha),
                      st.floats(0.5, 2.0), st.floats(0.1, 3.0))
zoo = st.sampled_from(["relu", "lrelu", "elu", "selu", "tanh", "sigmoid", "softplus", "gelu",
                       "swish", "erf"]).map(mf.get_activation)
solved = st.builds(lambda case, eps: mf.solve(case[0], eps=eps, centralized=case[1]).activation,
                   st.sampled_from([("dselu", False), ("sselu", False), ("lselu", False), ("sselu", True),
                                    ("lselu", True)]), st.floats(0.005, 0.1))
user_expressions = st.sampled_from([
    "x*tanh(x)", "Piecewise((x, x > 0), (0.3*x, True))", "x + 0.2*x**2", "sin(x) + x",
    "Max(x, 0) - 0.1", "x*erf(x)", "exp(x/3)",
]).map(mf.Activation.from_expression)


# -- properties that hold for every activation --------------------------------------------

@pytest.mark.slow  # ~10-17 s: 40 hypothesis examples of several engine calls each
@given(act=st.one_of(selu_like, zoo, user_expressions), var=st.floats(0.01, 20.0))
def test_poincare_holds_for_any_activation(act, var):
    result = props.check_poincare(act, var=(var,))
    assert result.passed, result.detail


@pytest.mark.slow  # ~10-17 s: 40 hypothesis examples of several engine calls each
@given(act=st.one_of(selu_like, zoo, user_expressions), sign=st.sampled_from([1, -1]))
def test_gpn_versions_satisfy_both_equalities(act, sign):
    assert props.check_gpn(act, sign=sign).passed


@pytest.mark.slow  # 4-13 s: user expressions compile on first use
@given(act=st.one_of(selu_like, zoo, user_expressions))
def test_gpn_has_zero_mean_only_if_linear(act):
    result = props.check_gpn_zero_mean_linear(act)
    assert result.passed and result.margin > 0, result.detail


@given(act=st.one_of(selu_like, zoo), q0=st.floats(0.2, 5.0))
def test_backward_identity_along_the_recursion(act, q0):
    result = props.check_backward_identity(act, q0=q0, depth=12)
    assert result.passed, result.detail


@given(act=selu_like)
def test_gamma_tends_to_gamma1_near_the_fixed_point(act):
    assert props.check_gamma_linearization(act).passed


@pytest.mark.slow  # ~10-17 s: 40 hypothesis examples of several engine calls each
@given(act=solved)
def test_solver_outputs_are_self_normalizing(act):
    # Definition 2 and Proposition 3.1 for the solver's activations at random eps (plain and
    # centralized): the two equalities to 1e-10, the inequality off the O(eps) band around q = 1,
    # gamma_q in (0, 1), and q_l contracting to the fixed point at the rate eq. 26 gives.
    for check in (props.check_definition2, props.check_gamma_range, props.check_q_contraction):
        result = check(act)
        assert result.passed, (act, result.detail, result.counterexample)


def test_selu_satisfies_every_check():
    results = {r.name: r for r in props.check_activation("selu")}
    assert all(r.passed for r in results.values()), {k: r.detail for k, r in results.items() if not r.passed}
    assert results["selu_contraction"].margin == pytest.approx(1 - 0.7877, abs=1e-4)


# -- each proposition fails on a deliberately wrong activation ------------------------------

def test_definition2_fails_for_relu_with_a_counterexample():
    result = props.check_definition2("relu")
    assert not result.passed and result.margin < 0
    assert result.counterexample["q"] < 1 and result.counterexample["phi"] == pytest.approx(0.5)
    assert "phi(1) - 1 = -0.5 is not > 0" in result.detail


def test_proposition_3_1_fails_for_relu_and_tanh():
    for name in ("relu", "tanh"):
        assert not props.check_gamma_range(name).passed
        result = props.check_q_contraction(name)
        assert not result.passed and result.counterexample["ratio"] >= 1


def test_proposition_3_2_fails_when_mu_n_exceeds_one():
    # the check's "after f" number is E selu(x), x ~ N(mu N m, 1): compare with 30-digit mpmath
    # quadrature written here (engines promise 1e-10; the detail prints 4 significant digits)
    import mpmath

    mpmath.mp.dps = 30
    lam, alpha = mpmath.mpf(mf.SELU_LAMBDA), mpmath.mpf(mf.SELU_ALPHA)
    for mu_n, holds in ((0.5, True), (2.0, False)):
        result = props.check_mean_normalization("selu", weight_mean=mu_n / 500, fan_in=500)
        assert result.passed is holds and (result.margin > 0) is holds
        shift = mpmath.mpf(mu_n)

        def selu_density(z, shift=shift):
            x = z + shift
            return (lam * x if x > 0 else lam * alpha * (mpmath.exp(x) - 1)) * mpmath.npdf(z)

        reference = float(mpmath.quad(selu_density, [-mpmath.inf, -shift, mpmath.inf]))
        assert f"after f (var 1): {reference:.4g}" in result.detail
    assert result.counterexample == {"weight_mean": 2.0 / 500, "fan_in": 500.0, "mu_N": result.counterexample["mu_N"]}


def test_poincare_fails_for_a_wrong_derivative():
    wrong = mf.Activation.from_callables(np.sin, lambda x: 0.5 * np.cos(x), name="sin with f'/2")
    result = props.check_poincare(wrong)
    assert not result.passed and result.counterexample["r_score"] > 0


def test_gpn_equalities_fail_for_a_non_gpn_activation():
    result = props.check_gpn_equalities("relu")
    assert not result.passed and "E[f^2] = 0.5" in result.detail


def test_klambauer_contraction_fails_without_an_attracting_fixed_point():
    # 300 steps suffice to see it (relu/tanh drift to nu -> 0; linear stays put with ||J|| = 1)
    assert not props.check_selu_contraction("relu", iterations=300).passed
    assert not props.check_selu_contraction("tanh", iterations=300).passed
    assert not props.check_selu_contraction("linear", iterations=300).passed  # ||J|| = 1: not a contraction


# -- Monte-Carlo versions (tolerances from the sample size) ---------------------------------

def test_proposition_3_2_simulated():
    # Gaussian weights with mean mu: E[h] = mu N mean(x). With x_0 of mean 1 the first layer's
    # pre-activation mean over n*batch entries has standard error ~ sqrt((1 + N mu^2...)/...),
    # estimated from the seeds; require agreement within 4 standard errors.
    width, batch = 256, 64
    for mu_n in (0.25, 2.0):
        trace = mf.simulate("linear", depth=1, width=width, batch=batch, weight_mean=mu_n / width,
                            input_mean=1.0, input_var=1.0, seed=3, n_seeds=8, backend="numpy")
        means = trace.record("mean")[:, 0]  # linear: x_1 = h_1
        err = means.std(ddof=1) / np.sqrt(means.size)
        assert abs(means.mean() - mu_n) <= 4 * err + 1e-12, (mu_n, means.mean(), err)
    assert abs(means.mean()) > 1  # mu N = 2: the mean is amplified, not normalized


@pytest.mark.slow  # ~15 s of Monte Carlo
def test_backward_identity_in_simulated_nets():
    # Proposition 3.1 in a Gaussian net: q_l prod(1 + delta_{q_{i-1}}) E|dL/dh_l|^2 is constant
    # in l (eq. 23). Measured on 6 seeds x 32 columns of width 512: compare layer 1 with layer L
    # using the seeds' spread of the log-ratio as the Monte-Carlo error (4 standard errors).
    act = mf.get_activation("selu")
    depth = 8
    trace = mf.simulate(act, depth=depth, width=512, batch=32, seed=11, n_seeds=6, backend="numpy")
    q = trace.record("q")
    grad = trace.record("grad_h_sq")
    deltas = mf.delta(act, q[:, :-1])  # delta at q_{l-1}, l = 2..L
    invariant = np.log(q[:, -1] * grad[:, -1] * np.prod(1 + deltas, axis=1)) - np.log(q[:, 0] * grad[:, 0])
    err = invariant.std(ddof=1) / np.sqrt(invariant.size)
    assert abs(invariant.mean()) <= 4 * err + 0.01, (invariant.mean(), err)


@given(mu_n=st.floats(0.01, 5.0), fan_in=st.integers(1, 4096), mean=st.floats(-30, 30).filter(lambda m: abs(m) > 1e-3))
def test_proposition_3_2_threshold(mu_n, fan_in, mean):
    # the verdict agrees with what the mean-field map does to a mean: for the identity activation
    # the pre-activation mean after one layer is output_mean(linear, mu N m, 1) (an engine call,
    # not the check's arithmetic); the mean is normalized (shrinks) exactly when the check passes
    result = props.check_mean_normalization(weight_mean=mu_n / fan_in, fan_in=fan_in, input_mean=mean)
    after = float(mf.output_mean("linear", mu_n * mean, 1.0))
    shrinks = abs(after) < abs(mean)
    assert result.passed == shrinks
    # the margin is the relative shrinkage 1 - |E h| / |m| (engines: 1e-10 relative)
    assert result.margin == pytest.approx(1 - abs(after) / abs(mean), rel=1e-9, abs=1e-9)


@settings(max_examples=12)  # each example solves and checks (~0.4 s)
@given(case=st.sampled_from([("sselu", False), ("lselu", False), ("sselu", True), ("dselu", False)]),
       eps=st.floats(0.01, 0.08), decimals=st.integers(4, 9))
def test_rounded_solver_parameters_pass_within_the_derived_tolerance(case, eps, decimals):
    # Rounding the solver's parameters to `decimals` moves E f^2 away from 1 by at most
    # sum |dEf^2/dp_i| * 0.5e-decimals to first order (second order: ~1e-8 relative at 4 decimals);
    # the derived tolerance must cover it, and a tolerance of 1e-10 must not once the move is larger.
    sol = mf.solve(case[0], eps=eps, centralized=case[1])
    rounded = sol.activation.with_params(**{k: round(v, decimals) for k, v in sol.params.items()})
    second = float(mf.second_moment(rounded, 1.0))
    tol = props.equality_tolerance(rounded)
    assert abs(second - 1) <= tol * (1 + 1e-6)
    assert tol <= 20 * 10.0 ** -decimals  # |dEf^2/dp| <= ~10 for these families: not a blanket pass
    result = props.check_definition2(rounded)
    assert result.passed, result.detail
    if abs(second - 1) > 1e-9:
        assert not props.check_definition2(rounded, tol=1e-10).passed


def test_q_star_is_the_q_map_fixed_point():
    # q* solves E f(sqrt(q) z)^2 = q: check the residual with the mpmath engine (30 digits)
    act = mf.get_activation("sselu", lam=1.0, alpha=2.618672, beta=0.560804)
    q_star = props.q_fixed_point(act)
    assert abs(float(mf.second_moment(act, q_star, method="mpmath")) - q_star) < 1e-13
    assert q_star != 1.0 and abs(q_star - 1) < 1e-5
    assert np.isnan(props.q_fixed_point("relu"))  # q -> q/2 has no fixed point in [0.5, 2]
