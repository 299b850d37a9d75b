"""Report section on activation design: DKS/TAT-shaped activations and Chen et al.'s sSELU/lSELU.

All are points of one condition space (docs: theory/design): the local maps at ``q = 1`` with
``Q(1) = 1`` are ``C(0) = E[f]^2``, ``C'(1) = E[f'^2] = phi(1)`` and ``C''(1) = E[f''^2]``; DKS
(Martens et al. 2021) fixes ``C(0) = 0``, ``Q'(1) = 1`` and ``C'(1)^depth``; TAT (Zhang et al.
2022) fixes ``C'(1) = 1`` and ``depth * C''(1)``; Chen et al. fix ``C'(1) = 1 + eps`` and minimize
``gamma1``. Each section is a function ``section(ctx) -> list[Claim]`` (see :mod:`meanfield.report._core`).
"""

from __future__ import annotations

import numpy as np

import meanfield as mf
from meanfield.report._core import Claim, _savefig, new_figure

__all__ = ["SECTIONS"]

#: depth of the MLP the transforms are built for (dks's examples and the benchmark use 10)
DEPTH = 10
#: Chen et al.'s eps of the SELU-family members drawn beside the transforms
CHEN_EPS = 0.03


def _net_c_map(act, c, depth):
    """The depth-fold composition of the local C map ``C(c) = Sigma(c)/Q(1)`` at q = 1."""
    q1 = float(mf.second_moment(act, 1.0))
    out = np.asarray(c, dtype=float)
    for _ in range(depth):
        out = np.asarray(mf.covariance(act, 1.0, 1.0, np.clip(out, -1.0, 1.0))) / q1
    return out


def shaped_activations(ctx):
    """DKS/TAT transforms (depth 10) beside the untransformed activations and sSELU/lSELU: f and c-maps."""
    bases = ("softplus", "tanh", "elu", "swish")
    shaped = {}
    for name in bases:
        shaped[f"{name}-DKS"] = (mf.dks_transform(name, DEPTH), mf.get_activation(name))
        shaped[f"{name}-TAT"] = (mf.tat_transform(name, DEPTH), mf.get_activation(name))
    chen = {f"{fam}(eps={CHEN_EPS})": mf.solve(fam, CHEN_EPS).activation for fam in ("sselu", "lselu")}
    x = np.linspace(-4, 4, 401)
    c = np.linspace(-1.0, 1.0, 41 if ctx.full else 21)
    fig, axes = new_figure(2, 3, figsize=(15, 8.5), layout="constrained")
    for i, name in enumerate(bases):
        color = f"C{i}"
        base = mf.get_activation(name)
        axes[0, 0].plot(x, base.f(x), color=color, ls=":", lw=1, label=f"{name}")
        axes[0, 0].plot(x, shaped[f"{name}-DKS"][0].activation.f(x), color=color, label=f"{name} DKS")
        axes[0, 1].plot(x, base.f(x), color=color, ls=":", lw=1)
        axes[0, 1].plot(x, shaped[f"{name}-TAT"][0].activation.f(x), color=color, label=f"{name} TAT")
        q_base = float(mf.second_moment(base, 1.0))
        axes[1, 0].plot(c, np.asarray(mf.covariance(base, 1.0, 1.0, c)) / q_base, color=color, ls=":", lw=1)
        axes[1, 0].plot(c, mf.covariance(shaped[f"{name}-DKS"][0].activation, 1.0, 1.0, c), color=color,
                        label=f"{name} DKS")
        axes[1, 1].plot(c, _net_c_map(shaped[f"{name}-DKS"][0].activation, c, DEPTH), color=color,
                        label=f"{name} DKS")
        axes[1, 1].plot(c, _net_c_map(shaped[f"{name}-TAT"][0].activation, c, DEPTH), color=color, ls="--",
                        label=f"{name} TAT")
    for j, (label, act) in enumerate(chen.items()):
        axes[0, 2].plot(x, act.f(x), color=f"C{4 + j}", label=label)
        axes[1, 2].plot(c, np.asarray(mf.covariance(act, 1.0, 1.0, c)), color=f"C{4 + j}", label=label)
    selu = mf.get_activation("selu")
    axes[0, 2].plot(x, selu.f(x), "k:", lw=1, label="SELU")
    axes[1, 2].plot(c, mf.covariance(selu, 1.0, 1.0, c), "k:", lw=1, label="SELU")
    for ax in axes[1]:
        ax.plot(c, c, color="0.6", lw=0.8)
        ax.set(xlabel="$c$")
    axes[0, 0].set(title="DKS-shaped (solid) vs untransformed (dotted)", xlabel="$x$", ylabel="$f(x)$")
    axes[0, 1].set(title="TAT-shaped (solid) vs untransformed (dotted)", xlabel="$x$")
    axes[0, 2].set(title=f"Chen et al.: sSELU, lSELU ($\\epsilon$ = {CHEN_EPS}), SELU", xlabel="$x$")
    axes[1, 0].set(title="local C map at $q = 1$: $\\Sigma(c)/Q(1)$", ylabel="$C(c)$")
    axes[1, 1].set(title=f"network C map, {DEPTH} layers (DKS solid, TAT dashed)")
    axes[1, 2].set(title="local C map at $q = 1$ ($Q(1) = 1$ for all three)")
    for ax in axes.ravel():
        ax.legend(fontsize=7)
    png = _savefig(fig, ctx, "design_shaped_activations")
    claims = []
    # DKS: net C'(1) = 1.5 (slope of the composed map at 1, one-sided difference of exact values)
    h = 1e-4
    dks_slopes = {n: float((1 - _net_c_map(t.activation, 1 - h, DEPTH)) / h) for n, (t, _) in shaped.items()
                  if n.endswith("DKS")}
    dks_c0 = {n: float(mf.covariance(t.activation, 1.0, 1.0, 0.0)) for n, (t, _) in shaped.items()
              if n.endswith("DKS")}
    # one-sided difference: error ~ h C''/2 of the net map (C'' ~ 5 here), so 5e-3 tolerance
    ok = all(abs(s - 1.5) < 5e-3 for s in dks_slopes.values()) and all(abs(v) < 1e-12 for v in dks_c0.values())
    claims.append(Claim(
        "Martens et al. 2021 (DKS), Sec. 4-5; dks 0.1.2",
        f"DKS transforms make a {DEPTH}-layer MLP's C map have C(0) = 0 and slope C'(1) = 1.5 (local slope "
        f"1.5^(1/{DEPTH}) = {1.5 ** (1 / DEPTH):.6f} per layer)",
        ", ".join(f"{n}: C'(1) = {s:.4f}, C(0) = {dks_c0[n]:.1e}" for n, s in dks_slopes.items()),
        bool(ok), png))
    # TAT: net C'(1) = 1 and net C''(1) = 0.3 (second difference of the composed map at 1)
    tat_curv = {}
    for n, (t, _) in shaped.items():
        if n.endswith("TAT"):
            v = _net_c_map(t.activation, np.array([1 - 2 * h, 1 - h]), DEPTH)
            tat_curv[n] = float((v[0] - 2 * v[1] + 1) / h**2)
    claims.append(Claim(
        "Zhang et al. 2022 (TAT), Sec. 4; dks 0.1.2",
        f"TAT transforms make a {DEPTH}-layer MLP's C map have C'(1) = 1 and C''(1) = 0.3 (0.03 per layer)",
        ", ".join(f"{n}: C''(1) = {v:.4f}" for n, v in tat_curv.items()),
        # second difference: truncation ~ h C'''(1) ~ 1e-4, rounding ~ 1e-16/h^2 = 1e-8
        bool(all(abs(v - 0.3) < 5e-3 for v in tat_curv.values())), png))
    # Chen et al.: at Q(1) = 1 the local C'(1) is phi(1) = 1 + eps (DKS's slope)
    chen_slopes = {n: float((1 - mf.covariance(a, 1.0, 1.0, 1 - h)) / h) for n, a in chen.items()}
    chen_phi = {n: float(mf.phi(a, 1.0)) for n, a in chen.items()}
    claims.append(Claim(
        "Chen et al., eq. 6 and Table 5; DKS's local C'(1)",
        f"sSELU/lSELU at eps = {CHEN_EPS} have Q(1) = 1 and local C'(1) = phi(1) = 1 + eps: Chen et al.'s "
        f"condition is DKS's slope condition at one layer",
        ", ".join(f"{n}: C'(1) = {chen_slopes[n]:.4f} (one-sided difference), phi(1) = {chen_phi[n]:.12f}"
                  for n in chen),
        bool(all(abs(v - 1 - CHEN_EPS) < 1e-12 for v in chen_phi.values())
             and all(abs(s - 1 - CHEN_EPS) < 5e-3 for s in chen_slopes.values())), png))
    return claims


SECTIONS = [shaped_activations]
