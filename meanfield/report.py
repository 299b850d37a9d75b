"""``meanfield report``: regenerate the figures and the summary that check the papers' claims.

Each *section* is a function ``section(ctx) -> list[Claim]`` that may write figures into
``ctx.out`` and returns the claims it checked with the measured numbers. The report writes
every figure as PNG and SVG and a ``README.md`` that shows each figure beside its claim and
whether the numbers bear it out. Sections are registered in :data:`SECTIONS`, in order.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import numpy as np

import meanfield as mf

__all__ = ["Claim", "ReportContext", "SECTIONS", "run_report"]


@dataclasses.dataclass
class Claim:
    """One checked statement: where it comes from, what was measured, and whether it holds."""

    source: str
    statement: str
    measured: str
    holds: bool
    figure: str | None = None


@dataclasses.dataclass
class ReportContext:
    out: Path
    full: bool = False


def _savefig(fig, ctx, stem):
    """Write ``stem``.png and ``stem``.svg atomically; return the PNG's file name."""
    for ext in ("png", "svg"):
        target = ctx.out / f"{stem}.{ext}"
        fd, tmp = tempfile.mkstemp(dir=ctx.out, suffix=f".{ext}")
        os.close(fd)
        try:
            fig.savefig(tmp, dpi=130, bbox_inches="tight")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f"{stem}.png"


def published_numbers(ctx):
    """The numbers the papers print, recomputed (no figure)."""
    eps = float(mf.phi("selu", 1.0)) - 1
    a_relu, b_relu = mf.gpn_constants("relu")
    a_lrelu, _ = mf.gpn_constants("lrelu")
    r_relu = float(mf.r_score("relu", 1.0))
    jac = mf.selu_map_jacobian("selu", 0.0, 1.0)
    norm = float(np.linalg.norm(jac, 2))
    return [
        Claim("Chen et al., Sec. 3", "SELU corresponds to eps = phi(1) - 1 = 0.0716",
              f"{eps:.6f}", round(eps, 4) == 0.0716),
        Claim("Lu et al.; Yuan & Zhu App. A.1", "ReLU-GPN is 1.4142 x (a = 1.4142, b = 0)",
              f"a = {a_relu:.6f}, b = {b_relu:.1e}", round(a_relu, 4) == 1.4142 and abs(b_relu) < 1e-12),
        Claim("Yuan & Zhu App. A.1", "LReLU(0.01)-GPN has scale 1.4141", f"a = {a_lrelu:.6f}",
              round(a_lrelu, 4) == 1.4141),
        Claim("Yuan & Zhu, Fig. 2", "the R score of ReLU is -0.383", f"{r_relu:.6f}", round(r_relu, 3) == -0.383),
        Claim("Klambauer et al.", "the SELU map's Jacobian at (0, 1) has spectral norm 0.7877 < 1",
              f"{norm:.6f}", round(norm, 4) == 0.7877),
    ]


def phi_versus_q(ctx):
    """phi(q) against 1/q for common activations (Chen et al., Definition 2)."""
    import matplotlib.pyplot as plt

    q = np.logspace(-1.5, 1.0, 300)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(q, 1 / q, "k--", lw=1.5, label="1/q")
    ax.axhline(1.0, color="0.6", lw=1)
    failing = {}
    for name in ("selu", "elu", "relu", "gelu", "tanh"):
        p = mf.phi(name, q)
        ax.plot(q, p, label=name)
        bad = q[~((p > np.minimum(1, 1 / q)) & (p < np.maximum(1, 1 / q)))]
        failing[name] = (bad.min(), bad.max()) if bad.size else None
    ax.set(xscale="log", yscale="log", xlabel="q = E[h^2]", ylabel=r"$\phi(q) = E[f'(x)^2]$",
           title=r"$\phi(q)$ vs $1/q$ (self-normalization: between 1 and 1/q)")
    ax.legend()
    png = _savefig(fig, ctx, "phi_vs_q")
    selu_bad, relu_bad = failing["selu"], failing["relu"]
    # phi(1) = 1 + eps > 1 = max(1, 1/1): the strict inequality must fail in a neighbourhood of
    # q = 1 whose width is O(eps); Definition 2 can only hold away from the fixed point.
    selu_ok = selu_bad is not None and selu_bad[0] >= 0.85 and selu_bad[1] <= 1.6
    return [Claim("Chen et al., Definition 2",
                  "SELU keeps min(1, 1/q) < phi(q) < max(1, 1/q) on q in [0.03, 10] except in an O(eps) "
                  "neighbourhood of q = 1 (phi(1) = 1 + eps > 1 there); ReLU (phi = 1/2) fails for all q < 2",
                  f"SELU fails on [{selu_bad[0]:.3f}, {selu_bad[1]:.3f}]; ReLU fails on "
                  f"[{relu_bad[0]:.3f}, {relu_bad[1]:.3f}]",
                  selu_ok and relu_bad[0] <= q[0] and relu_bad[1] >= 1.9, png)]


def r_score_versus_sigma(ctx):
    """Yuan & Zhu's Fig. 2: the R score of common activations against the input scale."""
    import matplotlib.pyplot as plt

    sigma = np.linspace(0.05, 3.0, 120)
    fig, ax = plt.subplots(figsize=(6, 4))
    scores = {}
    for name in ("relu", "lrelu", "elu", "selu", "tanh", "swish", "gelu", "sigmoid"):
        r = mf.r_score(name, sigma**2)
        scores[name] = r
        ax.plot(sigma, r, label=name)
    ax.axhline(0.0, color="k", lw=1)
    ax.set(xlabel=r"$\sigma$ (input standard deviation)", ylabel=r"$\mathcal{R}$ score",
           title="R score = ln(Var f / (var E f'^2))  (Yuan & Zhu, Fig. 2)")
    ax.legend(ncol=2)
    png = _savefig(fig, ctx, "r_score")
    worst = max(float(np.max(r)) for r in scores.values())
    relu_spread = float(np.ptp(scores["relu"]))
    return [Claim("Yuan & Zhu, Fig. 2", "R scores are below 0; ReLU's is constant at -0.383",
                  f"max R = {worst:.3g}; ReLU spread {relu_spread:.1e}", worst < 0 and relu_spread < 1e-12, png)]


#: report sections, in order
SECTIONS = [published_numbers, phi_versus_q, r_score_versus_sigma]


def _progress(items, enabled):
    if not enabled:
        return items
    try:
        from tqdm import tqdm
    except ImportError:  # optional dependency: no bar without it
        return items
    return tqdm(items, desc="meanfield report", unit="section")


def run_report(out="figures", *, full=False, progress=True):
    """Run every section into ``out`` and write ``out/README.md``; return the claims."""
    import matplotlib

    matplotlib.use("Agg")
    ctx = ReportContext(Path(out), full=full)
    ctx.out.mkdir(parents=True, exist_ok=True)
    claims = []
    for section in _progress(SECTIONS, progress):
        claims.extend(section(ctx))
    lines = ["# meanfield report", "",
             "Generated by `meanfield report`. Each row is a claim from the papers, what meanfield "
             "measured, and whether the numbers bear it out.", "",
             "| source | claim | measured | holds |", "|---|---|---|---|"]
    for c in claims:
        lines.append(f"| {c.source} | {c.statement} | {c.measured} | {'yes' if c.holds else '**no**'} |")
    for c in claims:
        if c.figure:
            lines += ["", f"## {c.statement}", "", f"![{c.statement}]({c.figure})", "",
                      f"*{c.source}* — measured: {c.measured} — holds: {'yes' if c.holds else 'no'}"]
    fd, tmp = tempfile.mkstemp(dir=ctx.out, suffix=".md")
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, ctx.out / "README.md")
    return claims
