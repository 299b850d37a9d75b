"""Tests of meanfield.simulation.simulate, Trace and the ``meanfield simulate`` command.

Statistical tolerances are Monte-Carlo standard errors (s.e.) across independent nets
(seeds), never fixed guesses; each test states the sample size and the multiple of the
s.e. it allows. Every simulation is seeded, so the tests are deterministic.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import fsolve

from meanfield import maps
from meanfield.activations import Activation, get_activation
from meanfield.backends import get_backend
from meanfield.cli import main
from meanfield.simulation import (
    Trace,
    TraceTheory,
    layer_weights,
    load_trace,
    simulate,
    theory_profile,
)
from meanfield.tolerances import SIMULATION_RTOL
from meanfield.trace import RECORDS

# ------------------------------------------------------------------------------------------------
# activations of acceptance point (1)


def _solve_lam_alpha(family, eps, **fixed):
    """``(lam, alpha)`` with ``phi(1) = 1 + eps`` and ``E f(z)^2 = 1`` (Chen et al., eq. 7)."""

    def residual(v):
        act = get_activation(family, lam=v[0], alpha=v[1], **fixed)
        return [float(maps.phi(act, 1.0)) - 1 - eps, float(maps.second_moment(act, 1.0)) - 1]

    sol, _, ier, msg = fsolve(residual, (1.1, 1.2), full_output=True, xtol=1e-12)
    assert ier == 1, msg
    assert max(abs(r) for r in residual(sol)) < 1e-10
    return get_activation(family, lam=float(sol[0]), alpha=float(sol[1]), **fixed)


@pytest.fixture(scope="module")
def activations():
    """SELU; dSELU at the depth-aware eps = 1/L = 1/32 (Chen et al. 2020b: lam = 1.2684,
    alpha = 0.9159); sSELU at beta = 1.3 and lSELU at beta = 0.2 with phi(1) = 1.03 and
    E f^2 = 1 (solved here with fsolve on meanfield.maps: sSELU lam = 1.3239, alpha = 0.6156;
    lSELU lam = 1.1405, alpha = 0.9980)."""
    return {
        "selu": get_activation("selu"),
        "dselu": _solve_lam_alpha("dselu", 1 / 32),
        "sselu": _solve_lam_alpha("sselu", 0.03, beta=1.3),
        "lselu": _solve_lam_alpha("lselu", 0.03, beta=0.2),
    }


def _z(samples, predicted, window=2):
    """Per-layer z-scores of the seed mean of ``samples`` (n_seeds, L) against ``predicted``.

    The standard error of layer l is ``sd / sqrt(n_seeds)`` with the seeds' relative
    spread ``sd / |mean|`` pooled (root mean square) over layers l - window .. l + window:
    it changes slowly with depth, and a single layer's estimate from few seeds is itself
    noisy enough to produce spuriously tiny standard errors.
    """
    mean = samples.mean(axis=0)
    rel_var = (samples.std(axis=0, ddof=1) / np.abs(mean)) ** 2
    depth = len(mean)
    pooled = np.array([rel_var[max(0, j - window):j + window + 1].mean() for j in range(depth)])
    se = np.sqrt(pooled) * np.abs(mean) / math.sqrt(samples.shape[0])
    return (mean - predicted) / se


# ------------------------------------------------------------------------------------------------
# acceptance (1): the mean-field recursion within Monte-Carlo error, depth 32, width 1024

N_SEEDS = 12
#: Critical |t| for the per-layer comparisons of one case: 4 quantities x 32 layers = 128
#: t statistics with N_SEEDS - 1 = 11 degrees of freedom, Bonferroni at 1% per case:
#: P(|t_11| > 6.09) = 0.01 / 128 (conservative: the layers are strongly correlated and the
#: pooled standard errors of ``_z`` have more degrees of freedom). The known O(L/n)
#: finite-width bias of the mean-field recursion (at n = 1024, about -0.5% in q and +2.3%
#: in the layer-1 gradient for Gaussian weights, measured with 16-64 seeds; 4-10x smaller
#: for orthogonal weights) is at most 1.5 s.e. here.
Z_MAX = float(stats.t.isf(0.01 / (2 * 128), N_SEEDS - 1))


@pytest.mark.slow
@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("name", ["selu", "dselu", "sselu", "lselu"])
def test_theory_matches_simulation(activations, name, weights):
    act = activations[name]
    tr = simulate(act, depth=32, width=1024, batch=16, weights=weights, seed=100,
                  n_seeds=N_SEEDS, backend="numpy")
    th = tr.theory()
    z = {k: _z(tr.record(k), getattr(th, k)) for k in ("q", "x_sq", "grad_h_sq")}
    # E|dL/dW|_F^2 is what the recursion predicts; the norm itself has a Jensen bias
    z["grad_w_fro^2"] = _z(tr.grad_w_fro**2, th.grad_w_fro**2)
    worst = {k: float(np.abs(v).max()) for k, v in z.items()}
    print(f"{name} {weights}: max |z| {worst}; gradient growth "
          f"{tr.seed_mean('grad_h_sq')[0] / tr.seed_mean('grad_h_sq')[-1]:.3f} "
          f"(theory {th.grad_h_sq[0] / th.grad_h_sq[-1]:.3f})")
    for k, v in worst.items():
        assert v < Z_MAX, f"{k}: max |z| = {v:.2f} over layers"
    # the check has power: a theory with a 10% larger weight variance is rejected
    # (relative s.e. of q is 0.6% for Gaussian and 0.2% for orthogonal weights here)
    wrong = theory_profile(act, depth=32, width=1024, batch=16, weight_var=1.1)
    assert np.abs(_z(tr.q, wrong.q)).max() > Z_MAX


# ------------------------------------------------------------------------------------------------
# acceptance (2): Lu et al.'s synthetic study, L = 200, n = 500, orthogonal weights

LU = dict(depth=200, width=500, batch=8, weights="orthogonal", n_seeds=2, seed=0,
          backend="numpy")


@pytest.mark.slow
def test_lu_tanh_pseudo_linearity_vs_gpn():
    """Tanh's forward signal collapses and its Jacobian turns linear; tanh-GPN keeps both.

    Measured (seeds 0, 1): tanh |x_200|^2/n = 0.0025 (theory 0.0025, q_l ~ 1/(2l)) with
    f'(h_200) = 0.997 +- 0.003; tanh-GPN |x_l|^2/n in [0.89, 1.12], mean 1.003 over the 200
    layers, with f'(h_200) spread 0.46.
    """
    tanh = simulate("tanh", histogram_layers=[200], bins=40, **LU)
    gpn = simulate(get_activation("tanh").gpn(), histogram_layers=[200], bins=40, **LU)
    th = tanh.theory()
    last = slice(-10, None)  # the last 10 layers
    assert np.all(tanh.x_sq[:, last] < 0.01)
    assert np.allclose(tanh.x_sq[:, -1], th.x_sq[-1], rtol=0.1)
    # tanh-GPN's fixed point q = 1: |x_l|^2/n fluctuates around 1 with s.d. 0.036 per layer
    # at n = 500 (measured); the mean over 2 x 200 layers has s.e. <= 0.036 sqrt(10 / 400)
    # = 0.006 even for a correlation length of 10 layers, so 0.05 is > 8 s.e.
    assert np.all((gpn.x_sq > 0.5) & (gpn.x_sq < 1.5))
    assert abs(gpn.x_sq.mean() - 1) < 0.05
    sd_tanh, sd_gpn = _hist_sd(tanh, "df"), _hist_sd(gpn, "df")
    print(f"tanh x_sq[200] = {tanh.x_sq[:, -1]}, f' s.d. {sd_tanh}; "
          f"tanh-GPN x_sq range [{gpn.x_sq.min():.3f}, {gpn.x_sq.max():.3f}], f' s.d. {sd_gpn}")
    assert np.all(sd_tanh < 0.01)  # pseudo-linear: f'(h) is the constant 1
    assert np.all(sd_gpn > 0.3)  # nonlinear


@pytest.mark.slow
def test_lu_selu_gradient_explosion_vs_gpn():
    """SELU's weight-gradient norms explode across layers; SELU-GPN's stay within a small ratio.

    Theory: |dL/dW_l|_F^2 grows by (1 + delta_q) = 1.0716 per layer backwards, so
    max/min over 200 layers is 1.0716^(199/2) = 971. Measured ratios 1017 and 908 (SELU) and
    1.9 and 1.6 (SELU-GPN, whose theory is 1; the spread is the finite-width fluctuation
    that Lu et al. show shrinking with n).
    """
    selu = simulate("selu", **LU)
    gpn = simulate(get_activation("selu").gpn(), **LU)
    ratio = selu.grad_w_fro.max(axis=1) / selu.grad_w_fro.min(axis=1)
    ratio_gpn = gpn.grad_w_fro.max(axis=1) / gpn.grad_w_fro.min(axis=1)
    th = selu.theory()
    th_ratio = th.grad_w_fro.max() / th.grad_w_fro.min()
    print(f"SELU grad ratio {ratio} (theory {th_ratio:.0f}); SELU-GPN {ratio_gpn}")
    assert 900 < th_ratio < 1050
    assert np.all(ratio > 300) and np.all(np.abs(np.log(ratio / th_ratio)) < np.log(2))
    assert np.all(ratio_gpn < 3)
    # the explosion runs backwards: layer 1 carries the largest gradient
    assert np.all(np.argmax(selu.grad_w_fro, axis=1) < 5)


def _hist_sd(trace, key, index=-1):
    counts = trace.histograms[key][:, index]
    edges = trace.histograms[f"{key}_edges"][:, index]
    mid = (edges[:, 1:] + edges[:, :-1]) / 2
    m = (counts * mid).sum(1) / counts.sum(1)
    return np.sqrt((counts * (mid - m[:, None]) ** 2).sum(1) / counts.sum(1))


# ------------------------------------------------------------------------------------------------
# acceptance (3): Chen et al., Proposition 3.2


@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_prop_3_2_mean_scales_with_mu_n(weights):
    """E[h_l] = mu N E[x_{l-1}]: the product with W_l shrinks the mean iff mu < 1/N.

    Per net, h_mean_l = mu n mean(x_{l-1}) + (1/n) sum_i z_i xbar_i with z_i the
    fluctuation of column i's sum (variance weight_var, independent of x_{l-1}), whose
    s.d. is at most sqrt(weight_var x_sq_{l-1} / n); |z| < 5 in those units.
    """
    n, depth = 256, 8
    ratios = {}
    for c in (0.5, 2.0):
        tr = simulate("selu", depth=depth, width=n, batch=8, weights=weights, weight_mean=c / n,
                      input_mean=1.0, input_var=1.0, n_seeds=4, seed=7, backend="numpy")
        mean_prev = np.hstack([np.ones((4, 1)), tr.mean[:, :-1]])  # E[x_0] = input_mean
        xsq_prev = np.hstack([np.full((4, 1), 2.0), tr.x_sq[:, :-1]])
        # layer 1 also carries the sample mean of x_0: s.d. sqrt(input_var / (n batch))
        bound = np.sqrt(xsq_prev / n)
        bound[:, 0] += c * math.sqrt(1 / (n * 8))
        assert np.abs(tr.h_mean - c * mean_prev).max() < 5 * bound.max()
        assert np.all(np.abs(tr.h_mean - c * mean_prev) < 5 * bound)
        ratios[c] = (tr.h_mean / mean_prev)[:, :3]
        # the theory's profile follows Prop. 3.2 exactly
        th = tr.theory()
        assert np.allclose(th.h_mean[1:], c * th.mean[:-1], rtol=1e-12)
        assert th.h_mean[0] == pytest.approx(c * 1.0)
    print(f"{weights}: h_mean_l / mean_(l-1) at l = 1..3: mu n = 0.5: {ratios[0.5].mean(0)}, "
          f"mu n = 2: {ratios[2.0].mean(0)}")
    # (the z bound above puts layer 1's ratio within 5 * 0.09 of mu n)
    assert np.all(ratios[0.5][:, 0] < 1)  # the mean shrinks through W: mu < 1/N
    assert np.all(ratios[2.0] > 1)  # and grows: mu > 1/N
    # weight centralization removes the mu n factor
    tr = simulate("selu", depth=depth, width=n, batch=8, weights=weights, weight_mean=2.0 / n,
                  centralize_weights=True, input_mean=1.0, n_seeds=4, seed=7, backend="numpy")
    xsq_prev = np.hstack([np.full((4, 1), 2.0), tr.x_sq[:, :-1]])
    assert np.all(np.abs(tr.h_mean) < 5 * np.sqrt(xsq_prev / n))
    # and the simulated q follows the zero-mean theory, not the mu n = 2 one: t statistics with
    # 4 seeds (3 degrees of freedom), Bonferroni over the 8 layers at 1%
    crit = float(stats.t.isf(0.01 / (2 * depth), 3))
    z_right = tr.zscore("q")
    wrong = theory_profile("selu", depth=depth, width=n, batch=8, weight_mean=2.0 / n, input_mean=1.0)
    z_wrong = (tr.seed_mean("q") - wrong.q) / tr.stderr("q")
    assert np.abs(z_right).max() < crit, z_right
    assert np.abs(z_wrong).max() > crit, z_wrong


# ------------------------------------------------------------------------------------------------
# acceptance (4): reproducibility and precision


@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_same_seed_is_bit_identical(weights):
    kw = dict(depth=6, width=48, batch=4, weights=weights, seeds=[3, 11], backend="numpy",
              histogram_layers=[2, 6], bins=10)
    a = simulate("selu", **kw)
    b = simulate("selu", **kw)
    c = simulate("selu", cache_weights=False, **kw)  # weights redrawn in the backward pass
    for k in RECORDS:
        assert np.array_equal(a.record(k), b.record(k)), k
        assert np.array_equal(a.record(k), c.record(k)), k
    for k in a.histograms:
        assert np.array_equal(a.histograms[k], b.histograms[k])
    # the seed axis: net s is the same in any company
    solo = simulate("selu", **{**kw, "seeds": [11]})
    assert np.array_equal(solo.q[0], a.q[1])
    assert not np.array_equal(a.q[0], a.q[1])
    # explicit seeds and seed/n_seeds agree
    ranged = simulate("selu", **{**kw, "seeds": None}, seed=3, n_seeds=2)
    assert ranged.seeds.tolist() == [3, 4] and np.array_equal(ranged.q[0], a.q[0])


@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_float32_and_float64(weights):
    """Both precisions simulate the same nets (draws in float64, rounded once)."""
    kw = dict(depth=16, width=128, batch=8, weights=weights, n_seeds=2, backend="numpy")
    a = simulate("selu", dtype="float64", **kw)
    b = simulate("selu", dtype="float32", **kw)
    assert b.dtype == "float32" and a.dtype == "float64"
    rtol = SIMULATION_RTOL[np.dtype(np.float32)]
    for k in RECORDS:
        scale = np.sqrt(a.x_sq) if k in ("mean", "h_mean") else np.abs(a.record(k))
        assert np.all(np.abs(b.record(k) - a.record(k)) <= rtol * scale), k


@pytest.mark.parametrize("weights,batch,mean,centralize", [
    ("gaussian", 2, 0.0, False), ("orthogonal", 2, 0.0, False),  # implicit Haar (3 b < n)
    ("orthogonal", 5, 0.1, False),  # dense Haar
    ("orthogonal", 2, 0.2, True), ("gaussian", 3, 0.3, True), ("gaussian", 2, 0.05, False)])
def test_records_match_explicit_backprop(weights, batch, mean, centralize):
    """Every record against a plain NumPy forward/backward pass on the same weights,
    and dL/dW_l against central finite differences of the loss."""
    n, depth, seed = 8, 3, 5
    act = get_activation("elu", alpha=0.7)
    kw = dict(width=n, weights=weights, weight_var=1.3, weight_mean=mean,
              centralize_weights=centralize)
    tr = simulate(act, depth=depth, batch=batch, input_mean=0.2, input_var=0.8, seed=seed,
                  backend="numpy", **kw)
    ws = [layer_weights(seed, layer, **kw) for layer in range(1, depth + 1)]
    be = get_backend("numpy")
    rng = be.rng(seed, 0)
    x0 = rng.standard_normal((batch, n)).T * math.sqrt(0.8) + 0.2
    g = rng.standard_normal((batch, n)).T

    def forward(ws):
        xs, hs = [x0], []
        for w in ws:
            hs.append(w @ xs[-1])
            xs.append(act.f(hs[-1]))
        return xs, hs

    xs, hs = forward(ws)
    d = g * act.df(hs[-1])
    grads = [None] * depth
    for j in range(depth - 1, -1, -1):
        grads[j] = d
        if j:
            d = act.df(hs[j - 1]) * (ws[j].T @ d)
    expected = {
        "q": [np.mean(np.sum(h * h, 0) / n) for h in hs],
        "h_mean": [h.mean() for h in hs],
        "mean": [x.mean() for x in xs[1:]],
        "x_sq": [np.mean(np.sum(x * x, 0) / n) for x in xs[1:]],
        "grad_h_sq": [np.mean(np.sum(d * d, 0)) for d in grads],
        "grad_w_fro": [np.linalg.norm(grads[j] @ xs[j].T) for j in range(depth)],
    }
    for k, v in expected.items():
        assert np.allclose(tr.record(k)[0], v, rtol=1e-12, atol=1e-14), k

    def loss(ws):
        return float(np.sum(g * forward(ws)[0][-1]))

    h = 1e-6
    for j in range(depth):
        fd = np.empty((n, n))
        for a in range(n):
            for b in range(n):
                up = [w.copy() for w in ws]
                dn = [w.copy() for w in ws]
                up[j][a, b] += h
                dn[j][a, b] -= h
                fd[a, b] = (loss(up) - loss(dn)) / (2 * h)
        assert np.linalg.norm(fd) == pytest.approx(tr.grad_w_fro[0, j], rel=1e-6)


# ------------------------------------------------------------------------------------------------
# theory


def test_theory_recursions():
    # identity: q_l = weight_var^l s_0, phi = 1, gradients weight_var^(L-l) n
    th = theory_profile("linear", depth=4, width=10, batch=3, weight_var=2.0, input_var=0.5,
                        input_mean=0.5)
    assert isinstance(th, TraceTheory)
    assert np.allclose(th.q, 0.75 * 2.0 ** np.arange(1, 5))
    assert np.allclose(th.grad_h_sq, 10 * 2.0 ** np.arange(3, -1, -1))
    assert np.allclose(th.grad_w_fro**2, 3 * th.grad_h_sq * 10 * np.r_[0.75, th.x_sq[:-1]])
    assert np.allclose(th.delta, 0)
    # mixup with gamma = 0.7 lowers the input second moment by gamma^2 + (1 - gamma)^2 = 0.58
    mix = theory_profile("selu", depth=2, width=10, input_var=0.7**2 + 0.3**2)
    assert mix.q[0] == pytest.approx(0.58) and mix.input_second_moment == pytest.approx(0.58)
    # Chen et al., Prop. 3.1: q_{l-1} E|dL/dh_{l-1}|^2 = (1 + delta_{q_{l-1}}) q_l E|dL/dh_l|^2
    for act in ("selu", "tanh", "gelu"):
        th = theory_profile(act, depth=12, width=100, input_var=1.7)
        assert np.allclose(th.q[:-1] * th.grad_h_sq[:-1],
                           (1 + th.delta[:-1]) * th.q[1:] * th.grad_h_sq[1:], rtol=1e-10)
        assert np.allclose(th.delta, maps.delta(act, th.q), rtol=1e-10, atol=1e-12)
        assert np.allclose(th.q[1:], maps.second_moment(act, th.q[:-1]), rtol=1e-12)
        assert th.grad_h_sq[-1] == pytest.approx(100 * maps.phi(act, th.q[-1]))
    # SELU's fixed point: q = 1 and gradient growth 1 + eps = 1.0716 per layer
    th = theory_profile("selu", depth=5, width=50)
    assert np.allclose(th.q, 1, atol=1e-9)
    assert np.allclose(th.grad_h_sq[:-1] / th.grad_h_sq[1:], 1.0716, atol=1e-4)
    with pytest.raises(ValueError, match="weight_var"):
        theory_profile("selu", depth=2, width=3, weight_var=-1)


@pytest.mark.parametrize("kwargs,match", [
    (dict(weight_var=float("inf")), r"weight_var .*\(valid range: \(0, inf\)\)"),
    (dict(weight_var="x"), "weight_var"), (dict(depth=0), "depth"),
    (dict(input_var=-1.0), r"input_var must be >= 0"),
    (dict(input_var=0.0, input_mean=0.0), "input second moment"),
    (dict(input_mean=float("nan")), "input_mean"),
])
def test_theory_profile_checks_arguments_like_simulate(kwargs, match):
    base = dict(depth=2, width=3)
    for func in (theory_profile, functools.partial(simulate, backend="numpy")):
        with pytest.raises(ValueError, match=match):
            func("selu", **{**base, **kwargs})


# ------------------------------------------------------------------------------------------------
# arguments, histograms, progress


@pytest.mark.parametrize("kwargs,match", [
    (dict(depth=0), "depth"), (dict(depth=2.5), "depth"), (dict(width=0), "width"),
    (dict(batch=0), "batch"), (dict(weights="uniform"), "weights"),
    (dict(weight_var=0.0), "weight_var"), (dict(weight_var=float("nan")), "weight_var"),
    (dict(weight_mean=float("inf")), "weight_mean"), (dict(input_var=-1.0), "input_var"),
    (dict(input_var=0.0, input_mean=0.0), "input second moment"),
    (dict(dtype="float16"), "dtype"), (dict(backend="jax"), "backend"),
    (dict(seed=-1), "seed"), (dict(n_seeds=0), "n_seeds"), (dict(seeds=[1, 1]), "distinct"),
    (dict(seeds=[1], n_seeds=2), "either"), (dict(seeds=[]), "empty"),
    (dict(seeds="12"), "seeds"), (dict(histogram_layers=[0]), "histogram_layers"),
    (dict(histogram_layers=[5]), "histogram_layers"), (dict(bins=0), "bins"),
    (dict(bins=[1.0, 0.0]), "bins"), (dict(centralize_weights=1), "centralize_weights"),
    (dict(progress="yes"), "progress"), (dict(cache_weights="no"), "cache_weights"),
])
def test_bad_arguments(kwargs, match):
    base = dict(depth=4, width=8, backend="numpy")
    with pytest.raises(ValueError, match=match):
        simulate("relu", **{**base, **kwargs})


def test_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation"):
        simulate("nope", depth=2, width=4)


def test_histograms_and_seed_none():
    tr = simulate("tanh", depth=5, width=32, batch=3, n_seeds=2, seed=None,
                  histogram_layers=[5, 1, 5], bins=np.linspace(-1, 1, 9), backend="numpy")
    hist = tr.histograms
    assert hist["layers"].tolist() == [1, 5]
    assert hist["x"].shape == (2, 2, 8) and hist["x_edges"].shape == (2, 2, 9)
    assert np.all(hist["x"].sum(-1) == 32 * 3)  # tanh lies in the shared edges [-1, 1]
    assert np.all(hist["df"].sum(-1) == 32 * 3)
    assert tr.seeds[1] == tr.seeds[0] + 1 and 0 <= tr.seeds[0] < 2**63
    # the defaults: DEFAULT_N_SEEDS = 4 nets of DEFAULT_BATCH = 16 inputs
    auto = simulate("relu", depth=2, width=16, histogram_layers=2, bins=5, backend="numpy")
    assert auto.histograms["x"].shape == (4, 1, 5) and np.all(auto.histograms["x"].sum(-1) == 16 * 16)


def test_progress_bar(monkeypatch, capsys):
    pytest.importorskip("tqdm")
    simulate("relu", depth=3, width=8, progress=True, backend="numpy")
    assert "simulate" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tqdm", None)  # not importable: silently nothing
    tr = simulate("relu", depth=3, width=8, progress=True, backend="numpy")
    assert capsys.readouterr().err == "" and tr.depth == 3


def test_trace_statistics_and_repr():
    tr = simulate("selu", depth=3, width=16, batch=2, n_seeds=3, backend="numpy")
    assert tr.q.shape == (3, 3) and tr.layers.tolist() == [1, 2, 3]
    assert tr.n_seeds == 3 and tr.depth == 3 and tr.width == 16 and tr.batch == 2
    assert tr.weights == "gaussian" and tr.backend == "numpy"
    assert np.allclose(tr.stderr("q"), tr.q.std(0, ddof=1) / math.sqrt(3))
    assert np.allclose(tr.zscore("q"), (tr.q.mean(0) - tr.theory().q) / tr.stderr("q"))
    assert tr.theory() is tr.theory()
    one = simulate("selu", depth=2, width=8, n_seeds=1, backend="numpy")
    assert np.all(np.isnan(one.stderr("q")))  # documented: no spread to estimate from one net
    with pytest.raises(ValueError, match="n_seeds >= 2"):
        one.zscore("q")
    assert "selu" in repr(tr) and "n_seeds=3" in repr(tr)
    with pytest.raises(ValueError, match="name must be one of"):
        tr.seed_mean("nope")
    d = tr.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["params"]["width"] == 16 and d["seeds"] == [0, 1, 2]
    assert set(d["simulation"]) == set(RECORDS) and len(d["theory"]["q"]) == 3
    prov = tr.provenance
    assert {"meanfield_version", "numpy_version", "created", "elapsed_s", "device"} <= set(prov)


# ------------------------------------------------------------------------------------------------
# storage


def _small_trace(act="selu"):
    return simulate(act, depth=4, width=16, batch=3, n_seeds=2, seed=9, weights="orthogonal",
                    histogram_layers=[1, 4], bins=6, backend="numpy")


def _assert_same(a, b):
    for k in RECORDS:
        assert np.array_equal(a.record(k), b.record(k)), k
    assert a.seeds.tolist() == b.seeds.tolist()
    assert a.params == b.params and a.backend == b.backend and a.dtype == b.dtype
    assert a.activation_info == b.activation_info
    assert a.provenance == b.provenance
    assert set(a.histograms) == set(b.histograms)
    for k in a.histograms:
        assert np.array_equal(a.histograms[k], b.histograms[k]), k
    assert np.allclose(b.theory().q, a.theory().q, rtol=1e-12)


@pytest.mark.parametrize("suffix", [".npz", ".nc"])
@pytest.mark.parametrize("act", ["selu", "tanh-gpn", "nrelu", "expr"])
def test_save_load_roundtrip(tmp_path, suffix, act):
    if suffix == ".nc":
        pytest.importorskip("xarray")
    if act == "tanh-gpn":
        act = get_activation("tanh").gpn()
    elif act == "expr":
        act = Activation.from_expression("Piecewise((x, x > 0), (a*x, True))", params={"a": 0.2},
                                         name="leaky")
    tr = _small_trace(act)
    path = tmp_path / f"trace{suffix}"
    assert tr.save(path) == str(path)
    back = load_trace(path)
    assert isinstance(back, Trace)
    _assert_same(tr, back)
    assert back.activation is not None and back.activation.name == tr.activation.name
    assert sorted(os.listdir(tmp_path)) == [path.name]  # no temporary file left


def test_save_rejects_other_suffixes(tmp_path):
    tr = _small_trace()
    with pytest.raises(ValueError, match=r"\.npz or \.nc"):
        tr.save(tmp_path / "trace.csv")
    with pytest.raises(ValueError, match=r"\.npz or \.nc"):
        load_trace(tmp_path / "trace.txt")
    np.savez(tmp_path / "other.npz", metadata=np.array(json.dumps({"format": "x"})),
             **{k: np.zeros((1, 1)) for k in RECORDS})
    with pytest.raises(ValueError, match="not a meanfield trace"):
        load_trace(tmp_path / "other.npz")


def test_save_is_atomic(tmp_path, monkeypatch):
    tr = _small_trace()
    path = tmp_path / "trace.npz"
    path.write_bytes(b"previous")

    def broken(fh, **arrays):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        tr.save(path)
    assert path.read_bytes() == b"previous"  # untouched
    assert sorted(os.listdir(tmp_path)) == ["trace.npz"]  # no partial temporary file
    monkeypatch.undo()
    fresh = tmp_path / "new.npz"
    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError):
        tr.save(fresh)
    assert not fresh.exists()


def test_to_xarray():
    xr = pytest.importorskip("xarray")
    tr = _small_trace()
    ds = tr.to_xarray(theory=True)
    assert isinstance(ds, xr.Dataset)
    assert ds["q"].dims == ("seed", "layer")
    assert ds["layer"].values.tolist() == [1, 2, 3, 4]
    assert ds["seed"].values.tolist() == [9, 10]
    assert np.array_equal(ds["grad_w_fro"].values, tr.grad_w_fro)
    assert ds["theory_q"].dims == ("layer",)
    assert ds["x_hist"].dims == ("seed", "hist_layer", "bin")
    attrs = ds.attrs
    assert attrs["backend"] == "numpy" and attrs["dtype"] == "float64"
    assert attrs["activation"] == "selu" and "lam" in json.loads(attrs["activation_params"])
    assert attrs["width"] == 16 and attrs["weights"] == "orthogonal"
    assert attrs["meanfield_version"] and list(attrs["seeds"]) == [9, 10]
    assert json.loads(attrs["metadata"])["format"] == "meanfield.Trace"


def test_to_xarray_without_xarray(monkeypatch):
    tr = _small_trace()
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match="xarray"):
        tr.to_xarray()
    with pytest.raises(ImportError, match="xarray"):
        tr.save("never-written.nc")
    assert not os.path.exists("never-written.nc")


# ------------------------------------------------------------------------------------------------
# command line


def test_cli_table(capsys):
    assert main(["simulate", "selu", "--depth", "20", "--width", "32", "--batch", "2",
                 "--seeds", "2", "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].startswith("selu: depth=20 width=32")
    assert "q sim" in lines[1] and "grad_w_fro theory" in lines[1]
    assert len(lines) == 2 + 12  # at most 12 layers shown, first and last included
    assert lines[2].split()[0] == "1" and lines[-1].split()[0] == "20"


def test_cli_json_out_plot(tmp_path, capsys):
    out, png = tmp_path / "t.npz", tmp_path / "t.png"
    assert main(["simulate", "tanh", "--gpn", "--depth", "5", "--width", "24", "--seeds", "2",
                 "--weights", "orthogonal", "--dtype", "float32", "--backend", "numpy",
                 "--out", str(out), "--plot", str(png), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["activation"]["name"] == "tanh-gpn" and data["dtype"] == "float32"
    assert len(data["simulation"]["q"]["mean"]) == 5 and len(data["theory"]["q"]) == 5
    assert data["files"] == {"out": str(out), "plot": str(png)}
    assert load_trace(out).dtype == "float32"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["simulate", "sselu", "--param", "lam=1.3", "--param", "alpha=0.6",
                 "--param", "beta=1.3", "--depth", "2", "--width", "8", "--backend", "numpy",
                 "--out", str(tmp_path / "s.npz")]) == 0
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("argv,match", [
    (["simulate", "nope"], "unknown activation"),
    (["simulate", "selu", "--depth", "0"], "depth"),
    (["simulate", "selu", "--weights", "uniform"], "invalid choice"),
    (["simulate", "selu", "--param", "lam"], "KEY=VALUE"),
    (["simulate", "selu", "--out", "x.csv"], "--out"),
    (["simulate", "selu", "--plot", "x.pdf"], "--plot"),
    (["simulate", "sselu"], "needs parameter"),
    (["simulate", "selu", "--seeds", "0"], "n_seeds"),
])
def test_cli_usage_errors(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1 and "Traceback" not in err
