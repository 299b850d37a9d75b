"""Tests of the simulator's memory bound, overflow detection, like-for-like statistics, stability
of the theory, biases and correlated inputs (issues 11, 14, 15, 16, 18).

Statistical tolerances come from the sample size (standard errors over independent nets, t
quantiles for their degrees of freedom); exact references are computed here with mpmath or
closed forms, independently of meanfield's engines.
"""

from __future__ import annotations

import math
import tracemalloc
import warnings

import mpmath
import numpy as np
import pytest
from scipy import stats

from meanfield import NumericalWarning, UnstableTheoryWarning
from meanfield.activations import get_activation
from meanfield.backends import get_backend
from meanfield.cli import main
from meanfield.simulation import (
    DEFAULT_BATCH,
    DEFAULT_N_SEEDS,
    estimate_memory,
    load_trace,
    simulate,
    theory_profile,
)

# ------------------------------------------------------------------------------------------------
# memory (issue 18)


def test_peak_memory_within_documented_formula():
    """With 2 batch > width only h_l is kept: NumPy's traced peak stays under estimate_memory.

    Before, x_{l-1} was kept beside f'(h_l), twice the kept bytes (1.3 MB here, above the
    0.84 MB estimate). The lower bound shows the formula is not vacuous: the kept h_l are there.
    """
    depth, width, batch = 40, 32, 64
    kept = 8 * depth * width * batch
    simulate("relu", depth=2, width=width, batch=batch, n_seeds=1, backend="numpy")  # warm caches
    tracemalloc.start()
    try:
        simulate("relu", depth=depth, width=width, batch=batch, n_seeds=1, cache_weights=False,
                 backend="numpy")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = estimate_memory(depth, width, batch)  # cache_weights=False
    assert estimate_memory(depth, width, batch, cache_weights=True) == estimate + 8 * depth * width**2
    assert 0.8 * kept <= peak <= estimate, (peak, kept, estimate)


def test_refuses_up_front_when_memory_is_short(monkeypatch):
    be = get_backend("numpy")
    monkeypatch.setattr(type(be), "available_memory", lambda self: 10**6)
    with pytest.raises(ValueError, match=r"needs about .* GiB of memory .* only 0.000931 GiB is available"):
        simulate("relu", depth=50, width=100, batch=64, backend="numpy")
    monkeypatch.undo()
    # the case on the command line: exit 2, one line, the estimate
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(["simulate", "relu", "--width", "10000000", "--backend", "numpy"])
    assert code == 2


def test_cli_memory_refusal_is_one_line(capsys):
    assert main(["simulate", "relu", "--width", "10000000", "--backend", "numpy"]) == 2
    err = capsys.readouterr().err
    assert "GiB" in err and err.count("\n") == 1 and "Traceback" not in err


# ------------------------------------------------------------------------------------------------
# overflow and bad input (issues 14 item 9, 15)


def test_overflow_is_detected_and_recorded():
    """ReLU, weight_var 4, float32: q_l = 2^l overflows float32 (3.4e38) near layer 128, and the
    backward gradients grow as 2^(L-l) from the top, so they overflow at the first layers."""
    with pytest.warns(NumericalWarning, match="not finite from layer 1"):
        tr = simulate("relu", depth=150, width=64, weight_var=4.0, dtype="float32", n_seeds=2,
                      backend="numpy")
    bad = tr.nonfinite_layers
    assert tr.first_nonfinite_layer == 1
    assert bad["grad_w_fro"][0] == 1
    assert 120 <= bad["q"][0] <= 135 and bad["q"][-1] == 150  # log2(3.4e38 / 64) = 122
    assert np.all(np.isfinite(tr.q[:, : bad["q"][0] - 1]))
    d = tr.to_dict(theory=False)
    assert d["first_nonfinite_layer"] == 1 and d["nonfinite"]["q"][-1] == 150


def test_cli_overflow_exit_status_and_one_line_warnings(capsys):
    """Issue 15: `simulate relu --weight-var 1e6 --depth 100` printed multi-line RuntimeWarnings."""
    code = main(["simulate", "relu", "--weight-var", "1e6", "--depth", "100", "--width", "32",
                 "--backend", "numpy"])
    err = capsys.readouterr().err
    assert code == 1
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("meanfield: warning: ") for line in lines), err
    assert any("not finite from layer" in line for line in lines)
    assert "RuntimeWarning" not in err


@pytest.mark.parametrize("kwargs,match", [
    (dict(input_mean=1e200), r"input_mean\*\*2 .* must be finite"),
    (dict(seed=2**63 - 1, n_seeds=2), r"seed must be <= 2\*\*63 - n_seeds"),
    (dict(bias_var=-1.0), r"bias_var must be >= 0"),
    (dict(bias_var=float("nan")), "bias_var"),
    (dict(bias_var=True), "bias_var"),
    (dict(input_correlation=0.5, batch=1), "batch >= 2"),
    (dict(input_correlation=-0.5, batch=4), r"\[-0.333333, 1\]"),
    (dict(input_correlation=1.5, batch=4), "input_correlation"),
    (dict(input_correlation="0.5", batch=4), "input_correlation"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate("relu", **{"depth": 2, "width": 4, "backend": "numpy", **kwargs})


def test_cli_input_mean_overflow_exit_2(capsys):
    assert main(["simulate", "relu", "--input-mean", "1e200", "--backend", "numpy"]) == 2
    err = capsys.readouterr().err
    assert "input_mean" in err and err.count("\n") == 1


# ------------------------------------------------------------------------------------------------
# like-for-like statistics and defaults (issue 16)


def test_grad_w_fro_is_compared_as_rms():
    """Linear net, depth 1, batch 1: |dL/dW_1|_F = |g| |x_0| with |g|, |x_0| independent chi_n.

    Exactly: E|g||x| = (sqrt(2) Gamma((n+1)/2) / Gamma(n/2))^2 = 3.5343 for n = 4, while the
    theory predicts sqrt(E|g|^2 E|x|^2) = n = 4. With 400 nets the RMS agrees with the theory
    (|z| < 4, normal approximation of the delta-method standard error) and the seed mean with the
    exact chi mean (|z| < 4), 5 standard errors below the theory.
    """
    n = 4
    tr = simulate("linear", depth=1, width=n, batch=1, n_seeds=400, backend="numpy")
    th = tr.theory()
    assert th.grad_w_fro[0] == pytest.approx(n, rel=1e-12)
    assert abs(tr.zscore("grad_w_fro")[0]) < 4
    chi_mean = float(mpmath.sqrt(2) * mpmath.gamma((n + 1) / 2) / mpmath.gamma(n / 2))
    assert abs(tr.seed_mean("grad_w_fro")[0] - chi_mean**2) < 4 * tr.stderr("grad_w_fro")[0]
    value, se = tr.seed_statistic("grad_w_fro")
    assert value[0] == pytest.approx(np.sqrt(np.mean(tr.grad_w_fro[:, 0] ** 2)))
    d = tr.to_dict()
    assert d["simulation"]["grad_w_fro"]["compare"] == "rms"
    assert d["simulation"]["q"]["compare"] == "mean"


def test_theory_gradient_ratio_is_phi_power():
    """At SELU's fixed point q = 1, |dL/dW_l|_F^2 grows by phi(1) per layer backwards, so the ratio
    over L layers is phi(1)^((L-1)/2), phi(1) = E[f'(z)^2] from a 30-digit mpmath integral."""
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    with mpmath.workdps(30):
        def density(z):
            return mpmath.exp(-z * z / 2) / mpmath.sqrt(2 * mpmath.pi)
        phi1 = mpmath.quad(lambda z: (lam * alpha * mpmath.exp(z)) ** 2 * density(z), [-mpmath.inf, 0]) \
            + lam**2 / 2
    depth = 21
    th = theory_profile("selu", depth=depth, width=64)
    assert th.gradient_ratio == pytest.approx(float(phi1) ** ((depth - 1) / 2), rel=1e-9)
    tr = simulate("selu", depth=depth, width=64, n_seeds=2, backend="numpy")
    assert tr.gradient_ratio().shape == (2,) and np.all(tr.gradient_ratio() >= 1)


def test_shared_defaults():
    from meanfield.cli import build_parser

    args = build_parser().parse_args(["simulate", "selu"])
    assert (args.batch, args.seeds) == (DEFAULT_BATCH, DEFAULT_N_SEEDS)
    tr = simulate("selu", depth=2, width=8, backend="numpy")
    assert tr.n_seeds == DEFAULT_N_SEEDS >= 2 and tr.batch == DEFAULT_BATCH
    assert np.all(np.isfinite(tr.stderr("q"))) and np.all(np.isfinite(tr.zscore("q")))


# ------------------------------------------------------------------------------------------------
# stability of the theory (issue 16)


def _stein_jacobian(f, mu_n, weight_var):
    """Jacobian of (m, s) -> (E f(h), E f(h)^2) at h ~ N(0, 1), by Stein's identities in mpmath:
    dE g/dM = E[z g(z)], dE g/dV = E[(z^2 - 1) g(z)] / 2 (independent of meanfield's engines)."""
    with mpmath.workdps(30):
        def e(g):
            dens = lambda z: mpmath.exp(-z * z / 2) / mpmath.sqrt(2 * mpmath.pi)  # noqa: E731
            return mpmath.quad(lambda z: g(z) * dens(z), [-mpmath.inf, 0, mpmath.inf])
        f2 = lambda z: f(z) ** 2  # noqa: E731
        jac = [[mu_n * e(lambda z: z * f(z)), weight_var * e(lambda z: (z * z - 1) * f(z)) / 2],
               [mu_n * e(lambda z: z * f2(z)), weight_var * e(lambda z: (z * z - 1) * f2(z)) / 2]]
    return np.array([[float(v) for v in row] for row in jac])


def _selu_mp(z):
    lam, alpha = mpmath.mpf("1.0507009873554805"), mpmath.mpf("1.6732632423543772")
    return lam * z if z > 0 else lam * alpha * (mpmath.exp(z) - 1)


def test_unstable_fixed_point_is_reported():
    """The issue's case: SELU with weight_mean = 2/512 sits on (m, s) = (0, 1), unstable."""
    width = 512
    with pytest.warns(UnstableTheoryWarning, match="unstable"):
        th = theory_profile("selu", depth=10, width=width, weight_mean=2 / width)
    radius = np.abs(np.linalg.eigvals(_stein_jacobian(_selu_mp, 2.0, 1.0))).max()
    assert th.stability == pytest.approx(np.full(10, radius), rel=1e-9)
    assert radius > 1.5 and th.unstable_from == 1 and th.unstable.all()
    # zero-mean weights: the same fixed point is stable (the q-map's slope)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnstableTheoryWarning)
        stable = theory_profile("selu", depth=10, width=width)
    slope = _stein_jacobian(_selu_mp, 0.0, 1.0)[1, 1]
    assert stable.stability == pytest.approx(np.full(10, slope), rel=1e-9)
    assert slope < 1 and stable.unstable_from is None


@pytest.mark.slow
def test_simulation_leaves_the_unstable_branch():
    """The finite net does leave it: q_10 is far above the theory's 1 (measured 4822 with 8 seeds)."""
    with pytest.warns(UnstableTheoryWarning):
        tr = simulate("selu", depth=10, width=512, weight_mean=2 / 512, n_seeds=4, backend="numpy")
        assert tr.theory().unstable_from == 1
    assert np.all(tr.q[:, -1] > 10)


# ------------------------------------------------------------------------------------------------
# biases and correlated inputs (issue 11)


def test_bias_in_the_q_recursion():
    """Linear net: q_l = wv q_{l-1} + bv exactly, q_l = wv^l s_0 + bv (wv^l - 1) / (wv - 1)."""
    wv, bv, s0, depth = 0.8, 0.3, 1.5, 6
    th = theory_profile("linear", depth=depth, width=256, weight_var=wv, bias_var=bv, input_var=s0)
    layers = np.arange(1, depth + 1)
    assert th.q == pytest.approx(wv**layers * s0 + bv * (wv**layers - 1) / (wv - 1), rel=1e-13)
    # simulation: 4 nets, t statistics with 3 degrees of freedom, Bonferroni over the layers at 1%
    tr = simulate("linear", depth=depth, width=256, weight_var=wv, bias_var=bv, input_var=s0,
                  seed=3, backend="numpy")
    crit = float(stats.t.isf(0.01 / (2 * depth), 3))
    assert np.abs(tr.zscore("q")).max() < crit
    no_bias = theory_profile("linear", depth=depth, width=256, weight_var=wv, input_var=s0)
    assert np.abs((tr.seed_mean("q") - no_bias.q) / tr.stderr("q")).max() > crit  # the test has power
    assert tr.params["bias_var"] == bv


def test_correlated_inputs_exact_cases():
    """c0 = 1: all inputs equal, so c_l = 1; c0 = -1 with 2 inputs and odd tanh without bias:
    h_b = -h_a in every layer, so c_l = -1. The theory's c-map keeps both (covariance at c = +-1)."""
    tr = simulate("tanh", depth=4, width=32, batch=3, input_correlation=1.0, n_seeds=2, backend="numpy")
    assert tr.c == pytest.approx(np.ones((2, 4)), abs=1e-12)
    assert tr.theory().c == pytest.approx(np.ones(4), abs=1e-12)
    tr = simulate("tanh", depth=4, width=32, batch=2, input_correlation=-1.0, n_seeds=2, backend="numpy")
    assert tr.c == pytest.approx(-np.ones((2, 4)), abs=1e-12)
    assert tr.theory().c == pytest.approx(-np.ones(4), abs=1e-12)


def test_input_correlation_of_the_draws():
    """The inputs' entries have pairwise correlation c0: over 20 nets x 8 x 200 entries the sample
    correlation of the first layer's pre-activations (linear, weight_var 1, so E h_a h_b = c0) has
    s.e. about (1 - c0^2) / sqrt(20 * 200) = 0.012 at c0 = 0.3; 5 s.e. allowed."""
    tr = simulate("linear", depth=1, width=200, batch=8, input_correlation=0.3, n_seeds=20, backend="numpy")
    assert abs(tr.c[:, 0].mean() - 0.3) < 5 * 0.012


def test_c_record_round_trips(tmp_path):
    tr = simulate("tanh", depth=3, width=16, batch=4, input_correlation=0.5, bias_var=0.1, n_seeds=2,
                  backend="numpy")
    back = load_trace(tr.save(tmp_path / "c.npz"))
    assert np.array_equal(back.c, tr.c) and back.params["input_correlation"] == 0.5
    assert back.theory().c == pytest.approx(tr.theory().c, rel=1e-12)
    plain = simulate("tanh", depth=3, width=16, n_seeds=2, backend="numpy")
    assert plain.c is None and not plain.theory().has_c
    with pytest.raises(ValueError, match="no record 'c'"):
        plain.record("c")


@pytest.mark.slow
def test_tanh_correlation_map_acceptance():
    """Issue 11: tanh at (weight_var, bias_var) = (2.5, 0.3), width 1000, 4 seeds: simulated c_l
    against the c-map within Monte-Carlo error.

    Tolerance: per layer t = (mean c - theory) / s.e. with the s.e. of 4 nets (3 degrees of
    freedom, pooled over layers l - 2 .. l + 2 so that one layer's chance-small spread does not
    give a spuriously tiny s.e.); critical value t_3 at 1% two-sided, Bonferroni over the 10
    layers (12.9). The O(1/n) = 0.001 finite-width bias is < 0.3 s.e. The check has power: the
    c-map without the bias is rejected.
    """
    depth = 10
    kw = dict(depth=depth, width=1000, batch=8, weight_var=2.5, bias_var=0.3, input_correlation=0.2)
    tr = simulate("tanh", n_seeds=4, seed=11, backend="numpy", **kw)
    th = tr.theory()
    crit = float(stats.t.isf(0.01 / (2 * depth), 3))
    sd = tr.c.std(axis=0, ddof=1)
    pooled = np.array([np.sqrt(np.mean(sd[max(0, j - 2):j + 3] ** 2)) for j in range(depth)]) / 2
    z = (tr.seed_mean("c") - th.c) / pooled
    print(f"c sim {tr.seed_mean('c')}, theory {th.c}, z {z}")
    assert np.abs(z).max() < crit
    wrong = theory_profile("tanh", **{**kw, "bias_var": 0.0})
    assert np.abs((tr.seed_mean("c") - wrong.c) / pooled).max() > crit


def test_cli_bias_and_correlation(capsys):
    assert main(["simulate", "tanh", "--depth", "3", "--width", "32", "--batch", "4", "--seeds", "2",
                 "--weight-var", "2.5", "--bias-var", "0.3", "--input-correlation", "0.5",
                 "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "c sim" in out and "grad_w_fro rms sim" in out
    assert main(["simulate", "tanh", "--input-correlation", "2", "--backend", "numpy"]) == 2
    assert "input_correlation" in capsys.readouterr().err


def test_theory_c_needs_zero_mean_weights():
    th = theory_profile("tanh", depth=3, width=64, weight_mean=0.01, input_correlation=0.5)
    assert not th.has_c and np.all(np.isnan(th.c))
    centered = theory_profile("tanh", depth=3, width=64, weight_mean=0.01, centralize_weights=True,
                              input_correlation=0.5)
    assert centered.has_c
    # math.isclose: layer 1's c is (weight_var c0 + bias_var) / (weight_var + bias_var) exactly
    assert math.isclose(centered.c[0], 0.5, rel_tol=1e-15)


def test_activation_object_and_gpn_with_bias():
    act = get_activation("tanh").gpn()
    tr = simulate(act, depth=3, width=16, batch=2, bias_var=0.2, n_seeds=2, backend="numpy")
    assert np.all(np.isfinite(tr.q)) and tr.theory().q[0] == pytest.approx(1.2)
