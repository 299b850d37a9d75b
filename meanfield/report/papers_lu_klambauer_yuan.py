"""Report sections on the other three papers: Yuan & Zhu's R score, Klambauer et al.'s SELU map,
and Lu, Gould & Ajanthan's synthetic study of GPN (signal propagation, Jacobian spectra, width).

Each section is a function ``section(ctx) -> list[Claim]`` (see :mod:`meanfield.report._core`);
:data:`meanfield.report.papers.SECTIONS` lists them in report order beside Chen et al.'s.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.ticker import NullLocator

import meanfield as mf
from meanfield.report._core import Claim, _backend, _savefig, new_figure

__all__ = ["r_score_versus_sigma", "selu_vector_field", "lu_signal_propagation", "lu_derivative_histograms",
           "lu_ratio_versus_width"]


def r_score_versus_sigma(ctx):
    """Yuan & Zhu's Fig. 2: the R score of common activations against the input scale."""
    sigma = np.linspace(0.05, 3.0, 120)
    fig, ax = new_figure(figsize=(6, 4))
    scores = {}
    for name in ("relu", "lrelu", "elu", "selu", "tanh", "swish", "gelu", "sigmoid"):
        r = mf.r_score(name, sigma**2)
        scores[name] = r
        ax.plot(sigma, r, label=name)
    ax.axhline(0.0, color="k", lw=1)
    ax.set(xlabel=r"$\sigma$ (input standard deviation)", ylabel=r"$\mathcal{R}$ score",
           title=r"$\mathcal{R} = \ln(\mathrm{Var}\, f(x) \,/\, \sigma^2 E[f'(x)^2])$, $x \sim N(0, \sigma^2)$"
                 "  (Yuan & Zhu, Fig. 2)")
    ax.legend(ncol=2)
    png = _savefig(fig, ctx, "r_score")
    worst = max(float(np.max(r)) for r in scores.values())
    relu_spread = float(np.ptp(scores["relu"]))
    return [Claim("Yuan & Zhu, Fig. 2", "R scores are below 0; ReLU's is constant at -0.383",
                  f"max R = {worst:.3g}; ReLU spread {relu_spread:.1e}", worst < 0 and relu_spread < 1e-12, png,
                  values={"max_r_score": worst, "relu_spread": relu_spread})]


#: one colour scale for both panels of the vector field (arrow lengths reach 0.67)
_VECTOR_NORM = Normalize(0.0, 0.7)


def selu_vector_field(ctx):
    """Klambauer et al.: the mean/variance map g(mu, nu) - (mu, nu) as a vector field."""
    mu, nu = np.meshgrid(np.linspace(-0.6, 0.6, 17), np.linspace(0.5, 1.6, 17))
    fig, axes = new_figure(1, 2, figsize=(11, 4.8), sharey=True, layout="constrained")
    norms, arrows = [], None
    # with omega = 0 the map does not depend on mu; use Klambauer's non-normalized weights
    # omega = 0.1, tau = 1.05 too, where the fixed point moves but stays attracting
    for ax, (omega, tau) in zip(axes, ((0.0, 1.0), (0.1, 1.05)), strict=True):
        m, v = mf.selu_map("selu", mu, nu, omega, tau)
        arrows = ax.quiver(mu, nu, m - mu, v - nu, np.hypot(m - mu, v - nu), angles="xy", cmap="viridis",
                           norm=_VECTOR_NORM)
        point = (0.0, 1.0)
        for _ in range(500):
            point = tuple(float(c) for c in mf.selu_map("selu", *point, omega, tau))
        norms.append(float(np.linalg.norm(mf.selu_map_jacobian("selu", *point, omega, tau), 2)))
        ax.plot(*point, "r*", ms=14,
                label=rf"fixed point $({point[0]:.3f}, {point[1]:.3f})$, $\|J\|_2 = {norms[-1]:.4f}$")
        ax.set(xlabel=r"mean $\mu$", title=rf"$\omega = {omega}$, $\tau = {tau}$")
        # below the axes: a legend inside would cover arrows
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    axes[0].set_ylabel(r"variance $\nu$")
    fig.colorbar(arrows, ax=axes, shrink=0.9, label=r"arrow length $\|g(\mu, \nu) - (\mu, \nu)\|$")
    fig.suptitle(r"SELU mean/variance map: arrows $g(\mu, \nu) - (\mu, \nu)$ (Klambauer et al.)")
    png = _savefig(fig, ctx, "selu_vector_field")
    return [Claim("Klambauer et al.", "the SELU map has an attracting fixed point near (0, 1), also for "
                  "non-normalized weights (omega = 0.1, tau = 1.05)",
                  f"spectral norms {norms[0]:.4f}, {norms[1]:.4f}", max(norms) < 1, png,
                  values={"spectral_norm_omega_0": norms[0], "spectral_norm_omega_0.1": norms[1]})]


def _lu_runs(ctx):
    """Lu et al.'s synthetic study: L = 200, n = 500, orthogonal weights (cached per report run)."""
    if ctx._lu is None:
        runs = {}
        for name in ("tanh", "selu"):
            base = mf.get_activation(name)
            for act in (base, base.gpn()):
                runs[act.name] = mf.simulate(act, depth=200, width=500, batch=16 if not ctx.full else 64,
                                             weights="orthogonal", seed=1, n_seeds=2,
                                             histogram_layers=[1, 50, 200], backend=_backend(ctx))
        ctx._lu = runs
    return ctx._lu


def lu_signal_propagation(ctx):
    """Lu et al.: |x_l|^2/n and |dE/dW_l|_F over 200 layers, tanh vs tanh-GPN, SELU vs SELU-GPN."""
    runs = _lu_runs(ctx)
    fig, axes = new_figure(2, 2, figsize=(10, 7), layout="constrained")
    for col, name in enumerate(("tanh", "selu")):
        for label in (name, f"{name}-gpn"):
            t = runs[label]
            layers = t.layers
            axes[0, col].plot(layers, t.record("x_sq").mean(0), label=label)
            axes[1, col].semilogy(layers, t.record("grad_w_fro").mean(0), label=label)
        axes[0, col].set(xlabel="layer $l$", ylabel=r"$\|x^l\|_2^2 / n$", title=f"{name}: forward")
        axes[1, col].set(xlabel="layer $l$", ylabel=r"$\|\partial E / \partial W^l\|_F$", title=f"{name}: backward")
        for ax in axes[:, col]:
            ax.legend()
    n_seeds = runs["tanh"].n_seeds
    fig.suptitle(f"Orthogonal weights, $L = 200$, $n = 500$, mean of {n_seeds} nets (Lu, Gould & Ajanthan)")
    png = _savefig(fig, ctx, "lu_signal_propagation")
    tanh_last = float(runs["tanh"].record("x_sq")[:, -1].mean())
    gpn_x = runs["tanh-gpn"].record("x_sq")
    ratio = {k: float(np.mean([r.max() / r.min() for r in runs[k].record("grad_w_fro")])) for k in runs}
    return [
        Claim("Lu et al., synthetic experiments", "tanh's forward signal collapses while tanh-GPN keeps "
              "|x_l|^2/n near 1", f"tanh |x_200|^2/n = {tanh_last:.4f}; tanh-GPN in "
              f"[{gpn_x.min():.2f}, {gpn_x.max():.2f}]",
              tanh_last < 0.05 and 0.7 < gpn_x.min() and gpn_x.max() < 1.4, png,
              values={"tanh_x_sq_200": tanh_last, "tanh_gpn_x_sq_min": float(gpn_x.min()),
                      "tanh_gpn_x_sq_max": float(gpn_x.max())}),
        Claim("Lu et al., synthetic experiments", "SELU's weight gradients explode across layers; SELU-GPN's "
              "stay within a small ratio", f"max/min |dE/dW_l|_F: SELU {ratio['selu']:.0f}, SELU-GPN "
              f"{ratio['selu-gpn']:.2f}", ratio["selu"] > 100 and ratio["selu-gpn"] < 3, png,
              values={"selu_grad_ratio": ratio["selu"], "selu_gpn_grad_ratio": ratio["selu-gpn"]}),
    ]


def lu_derivative_histograms(ctx):
    """Lu et al.: histograms of f'(h_l) (the Jacobian's singular values) for tanh vs tanh-GPN."""
    runs = _lu_runs(ctx)
    fig, axes = new_figure(1, 2, figsize=(10, 4.2), sharey=False, layout="constrained")
    spreads = {}
    for ax, label in zip(axes, ("tanh", "tanh-gpn"), strict=True):
        h = runs[label].histograms
        for i, layer in enumerate(h["layers"]):
            counts, edges = h["df"][0, i], h["df_edges"][0, i]
            centres = 0.5 * (edges[1:] + edges[:-1])
            ax.plot(centres, counts / counts.sum(), drawstyle="steps-mid", label=f"layer {layer}")
            if layer == h["layers"][-1]:
                mean = np.sum(centres * counts) / counts.sum()
                spreads[label] = float(np.sqrt(np.sum((centres - mean) ** 2 * counts) / counts.sum()))
        ax.set(xlabel=r"$f'(h_i^l)$", ylabel="fraction of units", title=label)
        ax.legend()
    # f' here is the activation's derivative (Lu et al. write phi'); phi(q) elsewhere is E[f'^2]
    fig.suptitle(r"Diagonal of the layer Jacobian $\mathrm{diag}\, f'(h^l)$: histograms, $L = 200$, $n = 500$")
    png = _savefig(fig, ctx, "lu_derivative_histograms")
    return [Claim("Lu et al., synthetic experiments", "tanh becomes pseudo-linear (f'(h) concentrates) "
                  "while tanh-GPN stays nonlinear", f"s.d. of f'(h_200): tanh {spreads['tanh']:.3f}, "
                  f"tanh-GPN {spreads['tanh-gpn']:.3f}", spreads["tanh"] < 0.05 < spreads["tanh-gpn"], png,
                  values={"tanh_df_sd_200": spreads["tanh"], "tanh_gpn_df_sd_200": spreads["tanh-gpn"]})]


def lu_ratio_versus_width(ctx):
    """Lu et al.: gradient-norm ratio max_l/min_l |dE/dW_l|_F against width, L = 200."""
    widths = (50, 100, 200, 500, 1000) if ctx.full else (50, 100, 200, 500)
    fig, ax = new_figure(figsize=(6, 4))
    ratios = {}
    for name in ("tanh", "selu"):
        act = mf.get_activation(name).gpn()
        values = []
        for n in widths:
            t = mf.simulate(act, depth=200, width=n, batch=8, weights="orthogonal", seed=2, n_seeds=3,
                            backend=_backend(ctx))
            values.append([r.max() / r.min() for r in t.record("grad_w_fro")])
        values = np.array(values)
        ratios[act.name] = values.mean(1)
        ax.errorbar(widths, values.mean(1), yerr=values.std(1, ddof=1) / np.sqrt(values.shape[1]),
                    marker="o", capsize=3, label=act.name)
    ax.set(xscale="log", xlabel="width $n$", ylabel=r"$\max_l \|\partial E/\partial W^l\|_F \,/\, \min_l$",
           title="Gradient norm ratio, $L = 200$, orthogonal weights (Lu et al.)")
    ax.set_xticks(widths, [str(n) for n in widths])  # the simulated widths
    ax.xaxis.set_minor_locator(NullLocator())
    ax.legend(title=f"mean $\\pm$ s.e. over {values.shape[1]} nets", fontsize=9, title_fontsize=9)
    png = _savefig(fig, ctx, "lu_ratio_vs_width")
    decreasing = all(r[-1] < r[0] for r in ratios.values())
    return [Claim("Lu et al., synthetic experiments", "larger width gives more stable gradients "
                  "(the ratio shrinks with n)",
                  "; ".join(f"{k}: {v[0]:.2f} at n={widths[0]} -> {v[-1]:.2f} at n={widths[-1]}"
                            for k, v in ratios.items()), decreasing, png,
                  values={"widths": list(widths), **{f"{k}_grad_ratio": v.tolist() for k, v in ratios.items()}})]
