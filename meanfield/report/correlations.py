"""Report sections on two-input correlations: the order-to-chaos phase diagram, c-maps of the SELU
family, simulated correlations against the c-map recursion, and the depth scale xi_c.

Poole et al. 2016 (c-map, chi1 = 1 boundary); Schoenholz et al. 2017 (depth scales, Fig. 1).
Each section is a function ``section(ctx) -> list[Claim]`` (see :mod:`meanfield.report._core`).
"""

from __future__ import annotations

import math

import numpy as np

import meanfield as mf
from meanfield.correlations.phase import critical_line, phase_grid
from meanfield.report._core import Claim, _backend, _savefig, new_figure

__all__ = ["SECTIONS"]

#: eps of the solved SELU-family members whose c-maps are drawn (Chen et al.'s eps = 0.03 column)
CMAP_EPS = 0.03
#: the bias variance of the xi_c-versus-sigma_w^2 cut
XI_BIAS_VAR = 0.05


def tanh_phase_diagram(ctx):
    """(a) tanh's phase diagram in the (sigma_w^2, sigma_b^2) plane: chi1 = 1 line, xi_c as colour."""
    n_w, n_b = (40, 16) if ctx.full else (8, 3)
    weights = np.linspace(0.25, 4.0, n_w)
    biases = np.linspace(0.0, 0.3, n_b)
    grid = phase_grid("tanh", weights, biases)
    line_b = np.linspace(0.0, 0.3, 7)
    line_w = critical_line("tanh", line_b)
    fig, ax = new_figure(figsize=(6, 4.2))
    mesh = ax.pcolormesh(weights, biases, np.log10(np.minimum(grid["xi_c"], 1e3)), shading="nearest",
                         cmap="viridis")
    fig.colorbar(mesh, ax=ax, label=r"$\log_{10}\xi_c$ (capped at $10^3$)")
    ax.plot(line_w, line_b, "w-o", ms=4, label=r"$\chi_1 = 1$")
    ax.set(xlabel=r"$\sigma_w^2$", ylabel=r"$\sigma_b^2$",
           title="tanh: ordered (left of the line) and chaotic phases")
    ax.legend(loc="upper left")
    png = _savefig(fig, ctx, "corr_phase_tanh")
    # every grid point left of the line is ordered (chi1 < 1), right of it chaotic
    w_crit = np.interp(biases, line_b, line_w)
    left = weights[None, :] < w_crit[:, None]
    consistent = np.all((grid["chi1"] < 1) == left)
    w0 = line_w[0]
    return [Claim("Poole et al. 2016, Fig. 2; Schoenholz et al. 2017, Fig. 1",
                  "tanh: the chi1 = 1 line starts at sigma_w^2 = 1 for sigma_b^2 = 0, rises with "
                  "sigma_b^2 and separates chi1 < 1 (ordered) from chi1 > 1 (chaotic) on the grid",
                  f"critical sigma_w^2 = {w0:.8f} at sigma_b^2 = 0, {line_w[-1]:.4f} at 0.3; "
                  f"grid phases consistent = {int(consistent)}",
                  bool(abs(w0 - 1) < 1e-6 and np.all(np.diff(line_w) > 0) and consistent), png)]


def selu_family_cmaps(ctx):
    """(b) c-maps of SELU, dSELU, sSELU, lSELU and their GPN versions at their fixed points."""
    acts = {"SELU": mf.get_activation("selu")}
    for family in ("dselu", "sselu", "lselu"):
        acts[family.replace("selu", "SELU")] = mf.solve(family, eps=CMAP_EPS).activation
    c = np.linspace(-1.0, 1.0, 41 if ctx.full else 11)
    fig, axes = new_figure(1, 2, figsize=(10, 4))
    rows = {}
    for i, (label, act) in enumerate(acts.items()):
        for ax, version, a in ((axes[0], label, act), (axes[1], f"{label}-GPN", act.gpn())):
            q_star = mf.fixed_point(a)
            cmap = mf.correlation_map(a, c)
            chi = mf.chi1(a)
            c_star = mf.correlation_fixed_point(a)
            rows[version] = (q_star, chi, c_star, bool(np.all(np.diff(cmap) > 0)))
            ax.plot(c, cmap, color=f"C{i}", label=f"{version}: $\\chi_1$ = {chi:.4f}, c* = {c_star:.3f}")
    for ax, title in zip(axes, ("solved parameters (eps = 0.03; SELU: eps = 0.0716)", "GPN versions"),
                         strict=True):
        ax.plot(c, c, "k:", lw=1)
        ax.set(xlabel=r"$c_l$", ylabel=r"$c_{l+1}$", title=title)
        ax.legend(fontsize=7)
    png = _savefig(fig, ctx, "corr_cmaps_selu_family")
    plain = {k: v for k, v in rows.items() if not k.endswith("GPN")}
    gpn = {k: v for k, v in rows.items() if k.endswith("GPN")}
    eps_ok = all(abs(v[0] - 1) < 1e-9 and v[1] > 1 and v[2] < 1 for v in plain.values())
    gpn_ok = all(abs(v[0] - 1) < 1e-9 and abs(v[1] - 1) < 1e-9 for v in gpn.values())
    monotone = all(v[3] for v in rows.values())
    measured = "; ".join(f"{k}: q* = {v[0]:.6f}, chi1 = {v[1]:.6f}, c* = {v[2]:.4f}" for k, v in rows.items())
    return [Claim("Chen et al. (phi(1) = 1 + eps); Lu et al. (GPN); Poole et al. 2016",
                  "at q* = 1 the SELU family has chi1 = phi(1) = 1 + eps > 1 (chaotic: c* < 1), "
                  "its GPN versions have chi1 = 1 exactly (edge of chaos); every c-map is increasing",
                  measured, bool(eps_ok and gpn_ok and monotone), png)]


def simulated_correlations(ctx):
    """(c) simulated c_l (mean and s.d. over seeds) against the c-map recursion, tanh."""
    width, depth, seeds = (1000, 30, 8) if ctx.full else (300, 15, 4)
    cases = {"near criticality (2.5, 0.3)": (2.5, 0.3), "chaotic (4.0, 0.05)": (4.0, 0.05)}
    fig, ax = new_figure(figsize=(6, 4))
    z_max = {}
    layers = np.arange(1, depth + 1)
    for i, (label, (w, b)) in enumerate(cases.items()):
        trace = mf.simulate("tanh", depth=depth, width=width, batch=4, weight_var=w, bias_var=b,
                            input_correlation=0.2, n_seeds=seeds, seed=7, backend=_backend(ctx))
        mean, se = trace.seed_statistic("c")
        sd = trace.c.std(axis=0, ddof=1)
        theory = trace.theory().c
        ax.errorbar(layers, mean, yerr=sd, fmt="o", ms=3, color=f"C{i}", label=f"simulated, {label}")
        ax.plot(layers, theory, "-", color=f"C{i}", label=f"c-map recursion, chi1 = {mf.chi1('tanh', w, b):.3f}")
        z_max[label] = float(np.max(np.abs(mean - theory) / se))
    ax.set(xlabel="layer l", ylabel=r"$c_l$", title=f"tanh, width {width}, {seeds} seeds, c_0 = 0.2")
    ax.legend(fontsize=7)
    png = _savefig(fig, ctx, "corr_simulated_c")
    # z-scores over `depth` layers x 2 cases: |z| <= 4 for Gaussian errors (the seed means of 4
    # seeds are t-distributed with 3 d.o.f.; finite-width O(1/width) bias adds to it)
    z_limit = 5.0
    return [Claim("Poole et al. 2016, Fig. 3",
                  "tanh: the simulated mean correlation c_l follows the c-map recursion within "
                  "Monte-Carlo error, near criticality and in the chaotic phase",
                  ", ".join(f"max |z| {k} = {v:.2f}" for k, v in z_max.items()),
                  all(v <= z_limit for v in z_max.values()), png)]


def xi_c_versus_weight_var(ctx):
    """(d) xi_c against sigma_w^2 for tanh at sigma_b^2 = 0.05 with the predicted divergence."""
    w_crit = mf.critical_weight_var("tanh", XI_BIAS_VAR)
    offsets = np.geomspace(1e-3, 1.0, 12 if ctx.full else 4)
    weights = np.concatenate([w_crit - offsets[::-1] * (w_crit - 0.25), w_crit + offsets * 2.0])
    xi_c = np.array([mf.depth_scales("tanh", w, XI_BIAS_VAR)[1] for w in weights])
    chi = np.array([mf.chi1("tanh", w, XI_BIAS_VAR) for w in weights])
    fig, ax = new_figure(figsize=(6, 4))
    ax.semilogy(weights, xi_c, "o-", ms=4, label=r"$\xi_c$")
    ax.axvline(w_crit, color="k", ls="--", lw=1, label=rf"$\chi_1 = 1$: $\sigma_w^2$ = {w_crit:.4f}")
    ordered = weights < w_crit
    ax.semilogy(weights[ordered], -1 / np.log(chi[ordered]), "k:", lw=1,
                label=r"ordered: $-1/\log\chi_1$")
    ax.set(xlabel=r"$\sigma_w^2$", ylabel=r"$\xi_c$ (layers)",
           title=rf"tanh, $\sigma_b^2$ = {XI_BIAS_VAR}: $\xi_c$ diverges at the transition")
    ax.legend(fontsize=8)
    png = _savefig(fig, ctx, "corr_xi_c_vs_weight_var")
    near = np.argsort(np.abs(weights - w_crit))[:2]
    far = [0, -1]
    growth = float(np.min(xi_c[near]) / np.max(xi_c[far]))
    return [Claim("Schoenholz et al. 2017, Fig. 1, eq. 9",
                  "xi_c grows without bound toward the chi1 = 1 point from both sides (ordered: "
                  "xi_c = -1/log chi1)",
                  f"critical sigma_w^2 = {w_crit:.6f}; xi_c at 1e-3 from it / xi_c at the ends = {growth:.1f}",
                  bool(growth > 10 and math.isfinite(growth)), png)]


SECTIONS = [tanh_phase_diagram, selu_family_cmaps, simulated_correlations, xi_c_versus_weight_var]
