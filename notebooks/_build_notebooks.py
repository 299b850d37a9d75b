"""Write (and optionally execute) the example notebooks in this folder.

The notebooks are generated from the cell sources below so that they can be regenerated and
reviewed as plain Python. Usage, from the repository root::

    python notebooks/_build_notebooks.py                  # write the four .ipynb files (no outputs)
    python notebooks/_build_notebooks.py --execute        # write, run at normal size, save outputs
    python notebooks/_build_notebooks.py --execute 04     # only notebooks whose name contains "04"
    MEANFIELD_NOTEBOOK_SMALL=1 python notebooks/_build_notebooks.py --execute --no-save
                                                          # quick smoke run at CI sizes

Executing needs ``nbclient``, ``nbformat`` and ``ipykernel`` (the ``test`` extra). Each
notebook reads ``MEANFIELD_NOTEBOOK_SMALL``: when it is ``"1"`` the notebook runs at the small
sizes CI uses (``tests/test_notebooks.py``); the committed outputs come from a normal-size run.
"""

# Cell sources are notebook content (markdown tables, LaTeX), not package code: long lines are fine.
# ruff: noqa: E501

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: the header cell every notebook starts with: imports and the size switch
SETUP = """\
import os

import matplotlib.pyplot as plt
import numpy as np

import meanfield as mf

# CI runs every notebook with MEANFIELD_NOTEBOOK_SMALL=1 (tests/test_notebooks.py): same code, small sizes.
SMALL = os.environ.get("MEANFIELD_NOTEBOOK_SMALL") == "1"
plt.rcParams.update({"figure.dpi": 120, "axes.grid": True, "grid.alpha": 0.3})
np.set_printoptions(precision=4, suppress=True)
print(f"meanfield {mf.__version__}, numpy {np.__version__}; sizes: {'small (CI)' if SMALL else 'normal'}")
"""


def md(text):
    import nbformat

    return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text, header=""):
    import nbformat

    return nbformat.v4.new_code_cell(header + textwrap.dedent(text).strip("\n"))


# ------------------------------------------------------------------------------------------------
# 01: phi(q) against 1/q for your own activation


def notebook_01():
    return [
        md("""
        # 01 · $\\phi(q)$ against $1/q$ for your own activation

        Chen et al. (*Redefining the self-normalization property*, Definition 2) call an activation $f$
        self-normalizing when, with $z \\sim N(0, 1)$ and $x \\sim N(0, q)$,

        $$\\phi(1) = 1 + \\epsilon, \\qquad E[f(z)^2] = 1, \\qquad \\min(1, 1/q) < \\phi(q) < \\max(1, 1/q),
        \\qquad \\phi(q) = E[f'(x)^2].$$

        The first two equations make $q = 1$ a fixed point of the forward second moment and of the backward
        gradient norm (up to the slow growth $1 + \\epsilon$); the inequality makes that fixed point attracting.
        How strongly is measured by $\\gamma_q$ (eq. 8), the position of $\\phi(q)$ between $1$ and $1/q$
        ($0$ = on the curve $1/q$, strongest; $1$ = on the line $1$, none), and the gradient grows by
        $1 + \\delta_q = q\\,\\phi(q) / E[f(x)^2]$ per layer (Proposition 3.1).

        This notebook builds an activation of your own from a SymPy expression with a free parameter,
        normalizes it, and compares $\\phi(q)$, $\\delta_q$ and $\\gamma_q$ with SELU's.
        """),
        code(header=SETUP, text="""
        N_Q = 80 if SMALL else 400      # points of the q grids
        """),
        md("""
        ## A user activation with a parameter

        As an example we take a *scaled CELU* (Barron, 2017): like ELU, but with the saturation level $a$ also
        setting the curvature, so that $f$ is continuously differentiable for every $a$,

        $$f(x) = \\lambda x \\;(x > 0), \\qquad f(x) = \\lambda\\, a\\,(e^{x/a} - 1) \\;(x \\le 0).$$

        `Activation.from_expression` parses the string with SymPy (no code is executed), finds the kink at 0
        and derives closed forms of every Gaussian expectation once for the whole family; `with_params` gives
        the family member at other parameter values. Replace the expression by your own.
        """),
        code("""
        scelu = mf.Activation.from_expression(
            "lam*Piecewise((x, x > 0), (a*(exp(x/a) - 1), True))", params={"lam": 1.0, "a": 1.0}, name="sCELU")
        print(scelu, "kinks:", scelu.kinks)
        print("f(-2, 0, 2) =", scelu.f(np.array([-2.0, 0.0, 2.0])), "  f'(-2, 0, 2) =", scelu.df(np.array([-2.0, 0.0, 2.0])))
        """),
        md("""
        The scale $\\lambda$ enters $E[f(z)^2]$ as $\\lambda^2$, so the second equation of Definition 2 fixes it:
        $\\lambda(a) = E[f_{\\lambda=1}(z)^2]^{-1/2}$. Each $a$ then has its own $\\epsilon = \\phi(1) - 1$ and
        $\\gamma_{q=1} = |\\phi'(1) + 1|$ (`mf.gamma1`, exact derivative, no finite difference). SELU is the
        reference: $\\epsilon = 0.0716$, $\\gamma_{q=1} = 0.806$.
        """),
        code("""
        def normalized(a):
            \"\"\"The family member with parameter a, scaled to E[f(z)^2] = 1.\"\"\"
            act = scelu.with_params(a=a, lam=1.0)
            return act.with_params(lam=float(mf.second_moment(act, 1.0)) ** -0.5)


        selu = mf.get_activation("selu")
        A_VALUES = [0.25, 0.5, 1.0, 2.0, 4.0]
        family = {a: normalized(a) for a in A_VALUES}

        print(f"{'activation':>14} {'lambda':>8} {'E f(z)^2':>9} {'eps':>8} {'gamma1':>7} {'E f(z)':>7}")
        for label, act in [("SELU", selu)] + [(f"sCELU a={a:g}", act) for a, act in family.items()]:
            print(f"{label:>14} {act.params['lam']:8.4f} {float(mf.second_moment(act, 1.0)):9.6f} "
                  f"{float(mf.phi(act, 1.0)) - 1:8.5f} {float(mf.gamma1(act)):7.4f} {float(mf.output_mean(act, 0.0, 1.0)):7.4f}")
        """),
        md("""
        The closed forms are checked against the 30-digit mpmath reference engine (any map takes
        `method="closed" | "quadrature" | "mpmath"`):
        """),
        code("""
        act = family[1.0]
        for method in ("closed", "quadrature", "mpmath"):
            print(f"{method:>10}: phi(1) = {float(mf.phi(act, 1.0, method=method)):.15f}, "
                  f"dphi/dq(1) = {float(mf.dphi_dq(act, 1.0, method=method)):.15f}")
        """),
        md("""
        ### Choosing the parameter for a target $\\epsilon$

        Chen et al. (2020b) suggest $\\epsilon \\approx 1/L$ for a net of depth $L$. With $\\epsilon(a)$ computed
        exactly, any scalar root finder picks $a$; here for $L = 60$:
        """),
        code("""
        from scipy.optimize import brentq

        target = 1 / 60
        a_star = brentq(lambda a: float(mf.phi(normalized(a), 1.0)) - 1 - target, 0.5, 8.0, xtol=1e-12)
        mine = normalized(a_star)
        print(f"a = {a_star:.6f}, lambda = {mine.params['lam']:.6f}: eps = {float(mf.phi(mine, 1.0)) - 1:.6f} "
              f"(target {target:.6f}), gamma1 = {float(mf.gamma1(mine)):.4f}")
        """),
        md("""
        ## $\\phi(q)$ against $1/q$

        Definition 2 asks $\\phi(q)$ to lie strictly between the line $1$ and the curve $1/q$ (shaded).
        """),
        code("""
        q = np.linspace(0.02, 2.0, N_Q)
        fig, (ax, axf) = plt.subplots(1, 2, figsize=(11, 4.2))
        ax.fill_between(q, np.minimum(1, 1 / q), np.maximum(1, 1 / q), color="C7", alpha=0.15,
                        label="Definition 2: between 1 and 1/q")
        ax.plot(q, 1 / q, "k--", lw=1.2, label="1/q")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.plot(q, mf.phi(selu, q), "k", lw=2.2, label="SELU")
        for i, (a, act) in enumerate(family.items()):
            ax.plot(q, mf.phi(act, q), color=f"C{i}", label=f"sCELU, a = {a:g}")
        ax.plot(q, mf.phi(mine, q), color="C9", ls=":", lw=2.2, label=f"sCELU, a = {a_star:.3f} (eps = 1/60)")
        ax.set(xlim=(0, 2), ylim=(0.4, 2.2), xlabel="q  (second moment of the pre-activation)",
               ylabel=r"$\\phi(q) = E[f'(x)^2]$, $x \\sim N(0, q)$", title=r"$\\phi(q)$ against $1/q$")
        ax.legend(fontsize=8)

        x = np.linspace(-5, 3, 400)
        axf.plot(x, selu.f(x), "k", lw=2.2, label="SELU")
        for i, (a, act) in enumerate(family.items()):
            axf.plot(x, act.f(x), color=f"C{i}", label=f"sCELU, a = {a:g}")
        axf.set(xlabel="x", ylabel="f(x)", title=r"the activations (scaled to $E[f(z)^2] = 1$)")
        axf.legend(fontsize=8)
        fig.tight_layout()
        plt.show()
        """),
        md("""
        No member of this family bends towards $1/q$ as far as SELU does (their $\\gamma_{q=1} \\approx 0.9$ against
        SELU's $0.81$): large $a$ approaches a scaled linear function ($\\phi \\to 1$, no self-normalization), and the
        sharpest member ($a = 0.25$) keeps $\\phi(q) > 1 = \\max(1, 1/q)$ for $q > 1$, outside the band.

        ## $1 + \\delta_q$ and $\\gamma_q$

        `mf.delta` is $\\delta_q$ (the gradient grows by $1 + \\delta_q$ per layer, Proposition 3.1; $\\delta_1 = \\epsilon$
        here because $E[f(z)^2] = 1$) and `mf.gamma` is $\\gamma_q$ of eq. 8 (it diverges like $\\epsilon/|q - 1|$ at
        $q = 1$, where `mf.gamma` returns $\\gamma_{q=1}$ instead).
        """),
        code("""
        q_below = np.linspace(0.05, 0.85, N_Q // 2)
        q_above = np.linspace(1.25, 4.0, N_Q // 2)
        fig, (axd, axg) = plt.subplots(1, 2, figsize=(11, 4.2))
        curves = [("SELU", selu, "k")] + [(f"sCELU, a = {a:g}", act, f"C{i}") for i, (a, act) in enumerate(family.items())]
        for label, act, color in curves:
            axd.plot(q, 1 + mf.delta(act, q), color=color, label=label)
            for part in (q_below, q_above):
                axg.plot(part, mf.gamma(act, part), color=color, label=label if part is q_below else None)
            axg.plot([1.0], [float(mf.gamma1(act))], "o", color=color, ms=5)
        axd.set(xlabel="q", ylabel=r"$1 + \\delta_q$  (gradient growth per layer)",
                title=r"$1 + \\delta_q = q\\,\\phi(q) / E[f(x)^2]$")
        axd.legend(fontsize=8)
        axg.axhspan(0, 1, color="C7", alpha=0.15, label=r"$0 < \\gamma_q < 1$")
        axg.set(ylim=(0.3, 1.3), xlabel=r"q  (dots: $\\gamma_{q=1} = |\\phi'(1) + 1|$)",
                ylabel=r"$\\gamma_q$  (smaller = stronger)", title=r"$\\gamma_q$ (Chen et al., eq. 8)")
        axg.legend(fontsize=8, loc="upper right")
        fig.tight_layout()
        plt.show()
        """),
        md("""
        ## Checking Definition 2

        `meanfield.properties.check_definition2` checks the two equalities (to `tol`) and the inequality on a
        log-spaced grid of $q \\in [0.1, 10]$. Because $\\phi(1) = 1 + \\epsilon > 1$, the strict inequality must fail
        in an $O(\\epsilon)$ neighbourhood of $q = 1$; that band, $(1 - 2\\epsilon/\\gamma_1, 1 + 2\\epsilon/(1 - \\gamma_1))$,
        is excluded (see the function's docstring). The margin is the smallest relative distance of $\\phi$ to the
        nearer bound; a failure comes with a counterexample.
        """),
        code("""
        from meanfield.properties import check_definition2

        checks = [("SELU", selu)] + [(f"sCELU a={a:g}", act) for a, act in family.items()] + [(f"sCELU a={a_star:.3f}", mine)]
        for label, act in checks:
            r = check_definition2(act)
            print(f"{label:>15}: {'holds' if r.passed else 'FAILS':5}  margin {r.margin:+.4f}   {r.detail}")
            if r.counterexample:
                print(f"{'':>17}counterexample: {r.counterexample}")
        """),
        md("""
        The sharpest member ($a = 0.25$) fails: $\\phi(q)$ rises above $\\max(1, 1/q) = 1$ for $q$ beyond the band.
        An unnormalized member fails the second equation instead:
        """),
        code("""
        r = check_definition2(scelu)   # lambda = 1, a = 1 (plain CELU = ELU): E f(z)^2 != 1
        print(r.passed, "|", r.detail)
        """),
        md("""
        **Next:** `02_solve_parameters.ipynb` solves $(\\lambda, \\alpha, \\beta)$ of dSELU, sSELU and lSELU for a
        given $\\epsilon$; `03_property_checks.ipynb` runs every check of `meanfield.properties` (Propositions 3.1 and
        3.2, GPN, Klambauer's map) on any activation.
        """),
    ]


# ------------------------------------------------------------------------------------------------
# 02: solving (lambda, alpha, beta) at a given eps


def notebook_02():
    return [
        md("""
        # 02 · Solving $(\\lambda, \\alpha, \\beta)$ for a given $\\epsilon$

        `meanfield.solve(family, eps, ...)` returns the self-normalizing parameters of the SELU family
        (DESIGN.md, *Solver*; Chen et al., *Redefining the self-normalization property*):

        | family | form for $x \\le 0$ ($\\lambda x$ for $x > 0$) | what is solved |
        |---|---|---|
        | `"selu"` | $\\lambda\\alpha(e^x - 1)$ | Klambauer's fixed point: $E f(z) = 0$, $\\mathrm{Var} f(z) = 1$ |
        | `"dselu"` | $\\lambda\\alpha(e^x - 1)$ | $\\phi(1) = 1 + \\epsilon$, $E f(z)^2 = 1$ (Chen et al. 2020b) |
        | `"sselu"` | $\\lambda\\alpha(e^{\\beta x} - 1)$ | $\\min \\gamma_{q=1}$ s.t. $\\phi(1) = 1 + \\epsilon$, $E f(z)^2 = 1$, $\\lambda \\ge \\lambda_{min}$ (eq. 11) |
        | `"lselu"` | $\\lambda(\\alpha e^x + \\beta x - \\alpha)$ | the same program |
        | `centralized=True` | sSELU / lSELU | $\\phi(1) = 1 + \\epsilon$, $E f(z) = 0$, $E f(z)^2 = 1$ (Sec. 5) |
        | `lam=` | sSELU / lSELU | the two equalities at a fixed $\\lambda$ (Fig. 1) |

        Here $\\gamma_{q=1} = |\\phi'(1) + 1|$: smaller is stronger self-normalization (Prop. 3.1), while the
        gradient grows by $1 + \\delta_q$ per layer, with $\\delta_1 = \\epsilon$. This notebook reads off the trade-off
        between the two.
        """),
        code(header=SETUP, text="""
        EPS_SWEEP = np.linspace(0.005, 0.1, 8 if SMALL else 39)    # gamma1 against eps
        LAMS = np.linspace(0.7, 1.38, 6 if SMALL else 35)          # Fig. 6: lambda sweep at fixed eps
        Q = np.linspace(0.01, 2.0, 60 if SMALL else 400)            # q grid on (0, 2]
        VARIANTS = [("dselu", False), ("sselu", False), ("lselu", False), ("sselu", True), ("lselu", True)]


        def label(family, centralized):
            return {"dselu": "dSELU", "sselu": "sSELU", "lselu": "lSELU"}[family] + (" (centralized)" if centralized else "")
        """),
        md("""
        ## SELU and a first solve

        With no $\\epsilon$, `"selu"` recovers Klambauer's constants and its implied $\\epsilon = \\phi(1) - 1 = 0.0716$.
        """),
        code("""
        selu = mf.solve("selu")
        print(selu.params, "| mode:", selu.mode, "| residuals:", selu.residuals)
        print(f"eps = phi(1) - 1 = {selu.eps:.4f}, gamma1 = {selu.gamma1:.4f}")
        """),
        md("""
        A `Solution` carries the parameters, the ready-to-use activation, $\\gamma_{q=1}$, the residual of every
        equation (recomputed from the closed forms; the solver refuses anything above $10^{-12}$) and
        `to_dict()` for JSON. For eq. 11 the bound $\\lambda \\ge 1$ is active at the optimum.
        """),
        code("""
        sol = mf.solve("sselu", 0.03)
        print(sol.params, f"gamma1 = {sol.gamma1:.6f}", "constraint active:", sol.constraint_active)
        print("residuals:", sol.residuals)
        act = sol.activation   # = mf.get_activation("sselu", **sol.params)
        print(f"check with the maps: phi(1) = {float(mf.phi(act, 1.0)):.15f}, E f^2 = {float(mf.second_moment(act, 1.0)):.15f}, "
              f"E f = {float(mf.output_mean(act, 0.0, 1.0)):+.4f}")
        print({k: v for k, v in sol.to_dict().items() if k in ("family", "eps", "mode", "params", "gamma1")})
        """),
        md("""
        The centralized systems also zero the output mean. Chen et al. (App. A.4) report $\\lambda = 1.0360$ (sSELU) and
        $1.0362$ (lSELU) at $\\epsilon = 0.03$:
        """),
        code("""
        for family in ("sselu", "lselu"):
            c = mf.solve(family, 0.03, centralized=True)
            print(f"centralized {family}: lambda = {c.params['lam']:.4f}, alpha = {c.params['alpha']:.4f}, "
                  f"beta = {c.params['beta']:.4f}, gamma1 = {c.gamma1:.4f}, E f(z) = {float(mf.output_mean(c.activation, 0.0, 1.0)):+.1e}")
        """),
        md("""
        ## The Table 5 analogue

        `mf.parameter_table()` solves every variant at Chen et al.'s $\\epsilon \\in \\{0.01, 0.017, 0.03, 0.06\\}$
        (`.to_csv()` / `.to_json()` export it). $E f(z)$ is the output mean at the fixed point.
        """),
        code("""
        table = mf.parameter_table()
        print(f"{'variant':>20} {'eps':>6} {'lambda':>8} {'alpha':>8} {'beta':>8} {'gamma1':>7} {'E f(z)':>8} {'max resid':>9}")
        for s in table:
            beta = f"{s.params['beta']:8.4f}" if "beta" in s.params else f"{'-':>8}"
            name = "SELU" if s.family == "selu" else label(s.family, s.centralized)
            print(f"{name:>20} {s.eps:6.4f} {s.params['lam']:8.4f} {s.params['alpha']:8.4f} {beta} {s.gamma1:7.4f} "
                  f"{round(float(mf.output_mean(s.activation, 0.0, 1.0)), 4) + 0.0:+8.4f} {s.max_residual:9.1e}")
        """),
        md("""
        At equal $\\epsilon$ (up to about 0.07, beyond which dSELU's $\\lambda$ drops below 1, outside eq. 11's bound),
        sSELU and lSELU have a smaller $\\gamma_{q=1}$ (stronger self-normalization) than dSELU, and
        at $\\epsilon = 0.06$ they reach SELU's $\\gamma_{q=1} \\approx 0.806$ with a slower gradient growth
        ($1.06$ against $1.0716$ per layer), as Chen et al. (App. D) observe. Centralizing costs a little
        $\\gamma_{q=1}$ and lifts $\\lambda$ above 1.

        ## $\\gamma_{q=1}$ against $\\epsilon$

        An array `eps` returns a `SolutionTable` (one solve per entry; the expensive moments are tabulated once per family).
        """),
        code("""
        sweeps = {v: mf.solve(v[0], EPS_SWEEP, centralized=v[1]) for v in VARIANTS}
        fig, (ax, axl) = plt.subplots(1, 2, figsize=(11, 4))
        for i, ((family, centralized), tab) in enumerate(sweeps.items()):
            style = dict(color=f"C{i}", ls="--" if centralized else "-", label=label(family, centralized))
            ax.plot(EPS_SWEEP, [s.gamma1 for s in tab], **style)
            axl.plot(EPS_SWEEP, [s.params["lam"] for s in tab], **style)
        for a in (ax, axl):
            a.axvline(1 / 60, color="0.5", lw=0.8, ls=":")
        ax.plot([selu.eps], [selu.gamma1], "k*", ms=12, label="SELU")
        axl.plot([selu.eps], [selu.params["lam"]], "k*", ms=12, label="SELU")
        ax.set(xlabel=r"$\\epsilon$  ($\\phi(1) = 1 + \\epsilon$; dotted: $1/L$ for $L = 60$)",
               ylabel=r"$\\gamma_{q=1} = |\\phi'(1) + 1|$  (smaller = stronger)", title=r"self-normalization strength")
        axl.set(xlabel=r"$\\epsilon$", ylabel=r"$\\lambda$", title=r"$\\lambda$ of the solution ($\\lambda \\geq 1$ active for eq. 11)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        plt.show()
        """),
        md("""
        ## $\\phi(q)$ and $1 + \\delta_q$ of the solutions (Chen et al., Fig. 1 and 2)

        Left: $\\phi(q)$ at $\\epsilon = 0.03$ against $1/q$. Right panels: the per-layer gradient growth $1 + \\delta_q$
        for several $\\epsilon$; it equals $1 + \\epsilon$ at the fixed point $q = 1$ and grows with $q$.
        """),
        code("""
        fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
        ax = axes[0]
        ax.fill_between(Q, np.minimum(1, 1 / Q), np.maximum(1, 1 / Q), color="C7", alpha=0.15, label="between 1 and 1/q")
        ax.plot(Q, 1 / Q, "k--", lw=1, label="1/q")
        ax.plot(Q, mf.phi(selu.activation, Q), "k", lw=2, label="SELU")
        for i, v in enumerate(VARIANTS):
            s = mf.solve(v[0], 0.03, centralized=v[1])
            ax.plot(Q, mf.phi(s.activation, Q), color=f"C{i}", ls="--" if v[1] else "-", label=label(*v))
        ax.set(ylim=(0.5, 2.0), xlabel="q", ylabel=r"$\\phi(q)$", title=r"$\\phi(q)$ at $\\epsilon = 0.03$")
        ax.legend(fontsize=7)
        for ax, family in zip(axes[1:], ("dselu", "sselu", "lselu")):
            for j, eps in enumerate((0.01, 0.03, 0.05, 0.07)):
                s = mf.solve(family, eps)
                ax.plot(Q, 1 + mf.delta(s.activation, Q), color=f"C{j}", label=f"eps = {eps}")
            ax.set(xlabel="q", ylabel=r"$1 + \\delta_q$", title=f"{label(family, False)}: gradient growth per layer", ylim=(0.99, 1.13))
            ax.legend(fontsize=8)
        fig.tight_layout()
        plt.show()
        """),
        md("""
        ## $\\max_{q \\in (0, 2]} (1 + \\delta_q)$ against $\\lambda$ (Chen et al., Fig. 6)

        With `lam=` fixed, the two equalities determine $\\alpha, \\beta$; sweeping $\\lambda$ shows why eq. 11 asks
        $\\lambda \\ge 1$: the worst-case gradient growth over $q \\in (0, 2]$ falls as $\\lambda$ grows (the positive part,
        for which $E f^2 = E f'^2 E x^2$ exactly, carries more of the second moment), while $\\gamma_{q=1}$ rises.
        Values of $\\lambda$ where the equalities have no solution are skipped.
        """),
        code("""
        fig, (axd, axg) = plt.subplots(1, 2, figsize=(11, 4))
        for i, family in enumerate(("sselu", "lselu")):
            for eps, ls in ((0.03, "-"), (0.06, "--")):
                lams, worst, g1 = [], [], []
                for lam in LAMS:
                    try:
                        s = mf.solve(family, eps, lam=lam)
                    except mf.SolverError:   # no (alpha, beta) solves the equalities at this lambda
                        continue
                    lams.append(lam)
                    worst.append(float(np.max(1 + mf.delta(s.activation, Q))))
                    g1.append(s.gamma1)
                axd.plot(lams, worst, color=f"C{i + 1}", ls=ls, marker=".", label=f"{label(family, False)}, eps = {eps}")
                axg.plot(lams, g1, color=f"C{i + 1}", ls=ls, marker=".", label=f"{label(family, False)}, eps = {eps}")
        for eps, marker in ((0.03, "o"), (0.06, "s")):
            d = mf.solve("dselu", eps)
            axd.plot(d.params["lam"], np.max(1 + mf.delta(d.activation, Q)), "k" + marker, label=f"dSELU, eps = {eps}")
            axg.plot(d.params["lam"], d.gamma1, "k" + marker, label=f"dSELU, eps = {eps}")
        for a in (axd, axg):
            a.axvline(1.0, color="0.5", lw=0.8, ls=":")
        axd.set(xlabel=r"$\\lambda$", ylabel=r"$\\max_{q \\in (0, 2]} (1 + \\delta_q)$", title="worst gradient growth per layer")
        axg.set(xlabel=r"$\\lambda$", ylabel=r"$\\gamma_{q=1}$", title="self-normalization strength (smaller = stronger)")
        axg.legend(fontsize=8, loc="upper left")
        fig.tight_layout()
        plt.show()
        """),
        md("""
        ## Reading the trade-off

        * Larger $\\epsilon$ buys a smaller $\\gamma_{q=1}$ (stronger pull to $q = 1$) but a faster gradient growth
          $1 + \\delta_q$, which also grows with $q$; $\\epsilon \\approx 1/L$ keeps $(1 + \\epsilon)^L$ near $e$.
        * At fixed $\\epsilon$, $\\gamma_{q=1}$ decreases as $\\lambda$ decreases while $\\max_q (1 + \\delta_q)$ increases, so the optimum
          of eq. 11 sits on the bound $\\lambda = \\lambda_{min}$; `lam_min=` moves it.
        * sSELU and lSELU beat dSELU at the same $\\epsilon$ (up to about 0.07); the centralized versions trade a little $\\gamma_{q=1}$ for
          $E f(z) = 0$.

        **Next:** `03_property_checks.ipynb` checks the solved activations against every proposition;
        `04_signal_propagation.ipynb` simulates deep nets (pass `sol.activation` to `mf.simulate`).
        """),
    ]


# ------------------------------------------------------------------------------------------------
# 03: property checks


def notebook_03():
    return [
        md("""
        # 03 · Checking the self-normalization propositions on any activation

        `meanfield.properties.check_activation(act)` runs every check of the module on one activation and returns
        a list of `CheckResult` (`name`, `source`, `passed`, `margin` — positive when the property holds, in its own
        units — `detail` in the paper's terms, and a `counterexample` when it fails):

        | check | statement | source |
        |---|---|---|
        | `definition2` | $\\phi(1) = 1 + \\epsilon$, $E f(z)^2 = 1$, $\\min(1, 1/q) < \\phi(q) < \\max(1, 1/q)$ | Chen et al., Def. 2 |
        | `gamma_range` | $0 < \\gamma_q < 1$ | Prop. 3.1 (eq. 8) |
        | `gamma_linearization` | $\\gamma_q \\to \\lvert\\phi'(1) + 1\\rvert$ near $q = 1$ | Prop. 3.1 (A.2) |
        | `q_contraction` | $\\lvert q_{l+1} - 1\\rvert < \\lvert q_l - 1\\rvert$ along the q-map | Prop. 3.1 (A.2, eq. 26) |
        | `backward_identity` | $q_l \\prod_i (1 + \\delta_{q_{i-1}}) E\\|\\partial L/\\partial h_l\\|^2 = q_0 E\\|\\partial L/\\partial h_0\\|^2$ | Prop. 3.1 (A.2, eq. 23) |
        | `mean_normalization` | weights of mean $\\mu$ scale the mean by $\\mu N < 1$ | Prop. 3.2 |
        | `poincare` | $\\mathrm{Var} f(x) \\le \\mathrm{var}\\, E f'(x)^2$ | Gaussian-Poincaré |
        | `gpn`, `gpn_zero_mean_linear` | $E[\\hat f^2] = E[\\hat f'^2] = 1$; a GPN function has zero mean only if linear | Lu et al.; Yuan & Zhu |
        | `selu_contraction` | the mean/variance map has an attracting fixed point | Klambauer et al. |

        Each `check_*` function is also callable on its own, with its options (q range, depth, tolerances).
        """),
        code(header=SETUP, text="""
        from meanfield.properties import check_activation, check_definition2, check_poincare, check_q_contraction

        N_RANDOM = 16 if SMALL else 200   # random draws of the hypothesis-style loop


        def show(results, title):
            \"\"\"Print a list of CheckResult as a table, with the counterexample of each failure.\"\"\"
            print(f"{title}: {sum(bool(r.passed) for r in results)}/{len(results)} checks hold")
            for r in results:
                print(f"  {r.name:>21} {'holds' if r.passed else 'FAILS':5} margin {r.margin:+9.3g}  {r.detail}")
                if not r.passed and r.counterexample:
                    print(f"  {'':>21} counterexample: {r.counterexample}")
        """),
        md("""
        ## SELU

        Everything holds. (`mean_normalization` is Proposition 3.2 with its default $\\mu = 5 \\cdot 10^{-4}$, $N = 1000$.)
        """),
        code("""
        show(check_activation("selu"), "SELU")
        """),
        md("""
        ## A solved sSELU

        The optimum of Chen et al.'s eq. 11 at $\\epsilon = 0.03$ (notebook 02): a smaller $\\epsilon$ than SELU's, hence slower
        gradient growth (`backward_identity` reports the mean growth per layer).
        """),
        code("""
        sol = mf.solve("sselu", 0.03)
        print(sol.params)
        show(check_activation(sol.activation), "sSELU at eps = 0.03")
        """),
        md("""
        ## ReLU: failures and their counterexamples

        ReLU has $\\phi(q) = 1/2$ for every $q$ and $E f(z)^2 = 1/2$: the q-map halves the second moment each layer, so no
        fixed point at $q = 1$ exists.
        """),
        code("""
        relu_results = check_activation("relu")
        show(relu_results, "ReLU")
        """),
        md("""
        The counterexamples are concrete: where $\\phi$ leaves the band, and which step of the q-map moves away from 1.
        """),
        code("""
        relu, selu = mf.get_activation("relu"), mf.get_activation("selu")
        by_name = {r.name: r for r in relu_results}
        cx = by_name["definition2"].counterexample
        step = by_name["q_contraction"].counterexample

        q = np.linspace(0.05, 3.0, 300)
        fig, (ax, axq) = plt.subplots(1, 2, figsize=(11, 4))
        ax.fill_between(q, np.minimum(1, 1 / q), np.maximum(1, 1 / q), color="C7", alpha=0.15, label="Definition 2 band")
        ax.plot(q, mf.phi(relu, q), "C3", label="ReLU")
        ax.plot(q, mf.phi(selu, q), "k", label="SELU")
        ax.plot([cx["q"]], [cx["phi"]], "rx", ms=12, mew=2, label=f"counterexample q = {cx['q']:.3g}")
        ax.set(ylim=(0, 3), xlabel="q", ylabel=r"$\\phi(q)$", title="definition2: the counterexample")
        ax.legend(fontsize=8)

        depth = 12
        for act, color in ((relu, "C3"), (selu, "k")):
            for q0, ls in ((step["q0"], "-"), (2.0, "--")):
                qs = [q0]
                for _ in range(depth):
                    qs.append(float(mf.second_moment(act, qs[-1])))
                axq.plot(range(depth + 1), qs, color=color, ls=ls, marker=".", label=f"{act.name}, q0 = {q0:g}")
        axq.axhline(1.0, color="0.5", lw=0.8)
        axq.set(yscale="log", xlabel="layer l", ylabel=r"$q_l$ (q-map $q_{l+1} = E f(\\sqrt{q_l} z)^2$)",
                title=f"q_contraction: step {step['layer']} from q0 = {step['q0']:g} has ratio {step['ratio']:.2f} > 1")
        axq.legend(fontsize=8)
        fig.tight_layout()
        plt.show()
        """),
        md("""
        ## A user expression

        The scaled CELU of notebook 01, normalized to $E f(z)^2 = 1$, at $a = 2$. It satisfies Definition 2 but, having no
        third parameter, not $E f(z) = 0$: Klambauer's mean/variance map has its fixed point at a positive mean.
        """),
        code("""
        scelu = mf.Activation.from_expression(
            "lam*Piecewise((x, x > 0), (a*(exp(x/a) - 1), True))", params={"lam": 1.0, "a": 2.0}, name="sCELU(a=2)")
        mine = scelu.with_params(lam=float(mf.second_moment(scelu, 1.0)) ** -0.5)
        show(check_activation(mine), f"{mine!r}")
        """),
        md("""
        A check that fails for *every* correct activation points at a bug in the activation itself. An activation built
        from NumPy callables with a wrong derivative violates the Gaussian-Poincaré inequality
        ($\\mathrm{Var} f > \\mathrm{var}\\, E f'^2$, R score $> 0$); checks that need the GPN constants then refuse it:
        """),
        code("""
        wrong = mf.Activation.from_callables(np.tanh, lambda x: 0.5 / np.cosh(x) ** 2, name="tanh with f' off by 2")
        r = check_poincare(wrong)
        print(r.passed, "|", r.detail, "| counterexample:", r.counterexample)
        try:
            check_activation(wrong)
        except ValueError as exc:
            print("check_activation:", exc)
        """),
        md("""
        ## A hypothesis-style loop over random parameters

        Draw sSELU parameters $(\\alpha, \\beta)$ at random, rescale $\\lambda$ so that $E f(z)^2 = 1$ (so $\\epsilon = \\phi(1) - 1$
        is whatever the draw gives), and record two kinds of property:

        * **invariants**, which must hold for every activation (any failure is a bug): the Gaussian-Poincaré
          inequality, the GPN equalities, the $\\gamma_q$ linearization and the backward identity;
        * **Definition 2 / q-contraction**, which hold only in part of the parameter space.

        (The package's own test-suite runs the same functions under `hypothesis`: `tests/test_properties.py`.)
        """),
        code("""
        from meanfield.properties import check_backward_identity, check_gamma_linearization, check_gpn

        rng = np.random.default_rng(2024)
        base = mf.get_activation("sselu", lam=1.0, alpha=1.0, beta=1.0)
        draws = []
        for _ in range(N_RANDOM):
            alpha, beta = rng.uniform(0.2, 5.0), rng.uniform(0.05, 3.0)
            act = base.with_params(alpha=alpha, beta=beta, lam=1.0)
            act = act.with_params(lam=float(mf.second_moment(act, 1.0)) ** -0.5)
            invariants = [check_poincare(act), check_gpn(act), check_gamma_linearization(act), check_backward_identity(act)]
            d2 = check_definition2(act)
            draws.append(dict(alpha=alpha, beta=beta, lam=act.params["lam"], eps=float(mf.phi(act, 1.0)) - 1,
                              invariant_failures=[r.name for r in invariants if not r.passed],
                              definition2=d2, contraction=check_q_contraction(act)))

        broken = [d for d in draws if d["invariant_failures"]]
        holds = np.array([bool(d["definition2"].passed) for d in draws])
        contracts = np.array([bool(d["contraction"].passed) for d in draws])
        print(f"{N_RANDOM} draws: invariants violated in {len(broken)}; Definition 2 holds in {holds.sum()}, "
              f"q-contraction in {contracts.sum()}; both agree in {(holds == contracts).sum()} draws")
        for d in broken:
            print("  invariant failure:", d)
        """),
        md("""
        Where does Definition 2 fail? Below, each draw in the $(\\alpha, \\beta)$ plane, with the solver's eq. 11 optima
        ($\\lambda = 1$) for $\\epsilon$ from 0.005 to 0.1 for orientation. The failures, sorted by how badly they fail, come with
        their counterexamples:
        """),
        code("""
        alphas = np.array([d["alpha"] for d in draws])
        betas = np.array([d["beta"] for d in draws])
        eps = np.array([d["eps"] for d in draws])
        fig, ax = plt.subplots(figsize=(7, 5))
        sc = ax.scatter(alphas[holds], betas[holds], c=eps[holds], cmap="viridis", marker="o", s=30,
                        vmin=eps.min(), vmax=eps.max(), label="Definition 2 holds")
        ax.scatter(alphas[~holds], betas[~holds], c=eps[~holds], cmap="viridis", marker="X", s=70,
                   edgecolors="r", linewidths=0.8, vmin=eps.min(), vmax=eps.max(), label="Definition 2 fails")
        optima = mf.solve("sselu", np.linspace(0.005, 0.1, 12))
        ax.plot([s.params["alpha"] for s in optima], [s.params["beta"] for s in optima], "k.-",
                label=r"eq. 11 optima ($\\lambda = 1$), $\\epsilon$ = 0.005 ... 0.1")
        fig.colorbar(sc, ax=ax, label=r"$\\epsilon = \\phi(1) - 1$ of the draw")
        ax.set(xlabel=r"$\\alpha$", ylabel=r"$\\beta$", title=r"random sSELU draws, $\\lambda$ set by $E f(z)^2 = 1$")
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
        plt.show()

        failures = sorted((d for d in draws if not d["definition2"].passed), key=lambda d: d["definition2"].margin)
        for d in failures[:5]:
            r = d["definition2"]
            print(f"alpha = {d['alpha']:.3f}, beta = {d['beta']:.3f}, lam = {d['lam']:.4f}, eps = {d['eps']:.4f}: "
                  f"margin {r.margin:+.4f}, counterexample {r.counterexample}")
        """),
        md("""
        The failures cluster at large $\\beta$ (a sharp bend of the negative branch, hence a large $\\epsilon$ and a small
        $\\lambda$), where $\\phi(q)$ stays above $1 = \\max(1, 1/q)$ for $q > 1$; the eq. 11 optima lie far from them.
        Definition 2 and the q-contraction mostly agree: both say whether the fixed point $q = 1$ attracts.
        """),
        md("""
        **Next:** run the checks on your own activation (notebook 01 shows how to build one) or on a table of solved
        parameters (`mf.solve(family, eps_array)`, notebook 02); `meanfield check NAME` does the same from the shell.
        """),
    ]


# ------------------------------------------------------------------------------------------------
# 04: signal propagation in deep random nets, Monte Carlo against mean-field theory


def notebook_04():
    return [
        md("""
        # 04 · Signal propagation: Monte Carlo against mean-field theory

        Lu, Gould & Ajanthan (*bidirectional self-normalizing networks*) show that deep fully connected nets
        (constant width $n$, no bias) keep both the forward signal $\\|x_l\\|^2/n$ and the gradients
        $\\|\\partial E/\\partial W_l\\|_F$ of the same size in every layer when the weights are **orthogonal** and the
        activation is **Gaussian-Poincaré normalized** (GPN): $\\hat f = a f + b$ with
        $E[\\hat f(z)^2] = E[\\hat f'(z)^2] = 1$. Their synthetic experiment uses $L = 200$, $n = 500$ and compares
        tanh with tanh-GPN and SELU with SELU-GPN.

        `meanfield.simulate` runs that experiment (forward pass $h_l = W_l x_{l-1}$, $x_l = f(h_l)$, backward pass
        from the random loss $E = g \\cdot x_L$, $g \\sim N(0, I)$) and `Trace.theory()` predicts every recorded
        quantity from the mean-field recursion $q_l = \\sigma_w^2 E[f(h)^2]$,
        $E\\|\\partial E/\\partial h_{l-1}\\|^2 = \\sigma_w^2 \\phi(q_{l-1}) E\\|\\partial E/\\partial h_l\\|^2$
        (Chen et al., Prop. A.1, A.2, 3.1). Error bars are $\\pm 2$ standard errors over independent nets (seeds).
        """),
        code(header=SETUP, text="""
        if SMALL:
            DEPTH, WIDTH, BATCH, SEEDS = 16, 64, 4, 3
            WIDTHS = [16, 32, 64]
        else:
            DEPTH, WIDTH, BATCH, SEEDS = 200, 500, 8, 3      # Lu et al.: L = 200, n = 500
            WIDTHS = [50, 100, 200, 500]
        BACKEND = "numpy"   # "auto" runs on a CUDA GPU through CuPy when one is usable
        print(f"depth {DEPTH}, width {WIDTH}, batch {BATCH}, {SEEDS} seeds")
        """),
        md("""
        ## The activations and their GPN versions

        `act.gpn()` returns $a f + b$ with the constants of `mf.gpn_constants` ($b$ taken with the sign that gives a
        non-negative mean). GPN versions of nonlinear functions cannot have zero mean (the mean is
        $\\sqrt{1 - e^{R}}$ with $R$ Yuan & Zhu's R score).
        """),
        code("""
        tanh, selu = mf.get_activation("tanh"), mf.get_activation("selu")
        ACTS = {"tanh": tanh, "tanh-GPN": tanh.gpn(), "SELU": selu, "SELU-GPN": selu.gpn()}
        print(f"{'activation':>10} {'a':>8} {'b':>8} {'E f(z)^2':>9} {'E f_(z)^2':>10} {'E f(z)':>8}")
        for name, act in ACTS.items():
            a, b = (act.params["scale"], act.params["shift"]) if "scale" in act.params else (1.0, 0.0)
            print(f"{name:>10} {a:8.4f} {b:+8.4f} {float(mf.second_moment(act, 1.0)):9.6f} "
                  f"{float(mf.phi(act, 1.0)):10.6f} {round(float(mf.output_mean(act, 0.0, 1.0)), 4) + 0.0:+8.4f}")
        print("(f_ = f', so E f_(z)^2 = phi(1))")
        """),
        md("""
        ## Simulate: 4 activations x {Gaussian, orthogonal} weights

        Gaussian weights have i.i.d. entries $N(0, 1/n)$; orthogonal ones are Haar-uniform (here applied as
        Householder reflectors, never formed). Net `s` uses the same random streams for every activation, so the
        comparison between activations is paired.
        """),
        code("""
        from tqdm import tqdm   # text bars (tqdm.auto needs ipywidgets for its widget)

        traces = {}
        configs = [(name, weights) for weights in ("gaussian", "orthogonal") for name in ACTS]
        for name, weights in tqdm(configs, desc="simulating", unit="config"):
            traces[name, weights] = mf.simulate(ACTS[name], depth=DEPTH, width=WIDTH, batch=BATCH, weights=weights,
                                                n_seeds=SEEDS, seed=0, backend=BACKEND)
        print(len(traces), "configurations simulated, e.g.", traces["SELU", "gaussian"])
        """),
        md("""
        ## Forward $\\|x_l\\|^2/n$ and backward $\\|\\partial E/\\partial W_l\\|_F$ over layers

        The theory predicts the *mean square* $E\\|\\partial E/\\partial W_l\\|_F^2$ (`theory().grad_w_fro` is its
        square root). Over many layers the gradient norm of a finite-width net fluctuates multiplicatively, so
        the plain seed mean of the norm falls below that root mean square (Jensen); `Trace.seed_statistic` therefore
        gives the root mean square over seeds, $(\\frac1S \\sum_s \\|\\partial E/\\partial W_l\\|_F^2)^{1/2}$, with a
        delta-method standard error for `grad_w_fro`, and the seed mean with its standard error for $\\|x_l\\|^2/n$:
        each record compared like with like.

        Lines: seed statistic; bars: $\\pm 2$ standard errors; dashed: `Trace.theory()`, the same for both weight kinds.
        """),
        code("""
        STYLE = {"gaussian": ("C0", "Gaussian weights"), "orthogonal": ("C3", "orthogonal weights")}
        RECORDS = [("x_sq", r"$\\|x_l\\|^2 / n$  (seed mean)"),
                   ("grad_w_fro", r"$\\|\\partial E / \\partial W_l\\|_F$  (rms over seeds)")]
        fig, axes = plt.subplots(2, len(ACTS), figsize=(14, 6.5), sharex=True, layout="constrained")
        for col, name in enumerate(ACTS):
            for row, (record, label) in enumerate(RECORDS):
                ax = axes[row, col]
                for weights, (color, wlabel) in STYLE.items():
                    tr = traces[name, weights]
                    value, se = tr.seed_statistic(record)   # seed mean or rms, as the theory predicts
                    ax.plot(tr.layers, value, color=color, lw=1.2, label=wlabel)
                    step = max(1, tr.depth // 20)
                    sel = slice(step - 1, None, step)
                    ax.errorbar(tr.layers[sel], value[sel], yerr=2 * se[sel], fmt="none", ecolor=color,
                                capsize=2, lw=0.8)
                theory = getattr(traces[name, "gaussian"].theory(), record)
                ax.plot(tr.layers, theory, "k--", lw=1.2, label="mean-field theory")
                if theory.max() > 10 * theory.min():
                    ax.set_yscale("log")
                else:
                    ax.set_ylim(0.6 * theory.min(), 1.4 * theory.max())
                if row == 0:
                    ax.set_title(name)
                if row == 1:
                    ax.set_xlabel("layer l")
                if col == 0:
                    ax.set_ylabel(label)
        axes[0, 0].legend(fontsize=8)
        fig.suptitle(f"Signal propagation, $L = {DEPTH}$, $n = {WIDTH}$, batch {BATCH}, {SEEDS} seeds per curve "
                     "(bars: $\\pm 2$ s.e.)")
        plt.show()
        """),
        md("""
        ## Numbers: last-layer signal, gradient size and the gradient norm ratio

        Lu et al. summarize a run by the gradient norm ratio $\\max_l \\|\\partial E/\\partial W_l\\|_F / \\min_l
        \\|\\partial E/\\partial W_l\\|_F$ (1 = perfectly bidirectional; per net, then mean $\\pm$ s.e. over seeds). The
        theory's ratio is that of its root-mean-square profile; a finite net's ratio also contains its
        layer-to-layer noise, so it exceeds 1 even where the theory is flat.
        """),
        code("""
        print(f"{'activation':>10} {'weights':>10} | {'|x_L|^2/n':>17} {'theory':>7} | {'rms |dE/dW_1|':>14} "
              f"{'/ theory':>8} | {'grad norm ratio':>17} {'theory':>7}")
        for (name, weights), tr in traces.items():
            th = tr.theory()
            x_last, x_se = tr.seed_mean("x_sq")[-1], tr.stderr("x_sq")[-1]
            rms = tr.seed_rms("grad_w_fro")
            r = tr.gradient_ratio()   # one per net
            print(f"{name:>10} {weights:>10} | {x_last:9.4g} +- {x_se:6.2g} {th.x_sq[-1]:7.4g} | {rms[0]:14.4g} "
                  f"{rms[0] / th.grad_w_fro[0]:8.3f} | {r.mean():8.4g} +- {r.std(ddof=1) / np.sqrt(r.size):6.2g} "
                  f"{th.gradient_ratio:7.4g}")
        """),
        md(READING_04),
        code("""
        fig, ax = plt.subplots(figsize=(6, 4))
        for color, name in (("C2", "tanh-GPN"), ("C4", "SELU-GPN")):
            means, errs = [], []
            for n in tqdm(WIDTHS, desc=f"{name} by width", unit="width"):
                if n == WIDTH:   # reuse the main run
                    tr = traces[name, "orthogonal"]
                else:
                    tr = mf.simulate(ACTS[name], depth=DEPTH, width=n, batch=BATCH, weights="orthogonal",
                                     n_seeds=SEEDS, seed=0, backend=BACKEND)
                r = tr.gradient_ratio()
                means.append(r.mean())
                errs.append(r.std(ddof=1) / np.sqrt(r.size))
            ax.errorbar(WIDTHS, means, yerr=2 * np.array(errs), marker="o", capsize=3, color=color, label=name)
            print(f"{name}: gradient norm ratio by width", {n: round(float(m), 3) for n, m in zip(WIDTHS, means)})
        ax.set(xscale="log", xlabel="width $n$",
               ylabel=r"$\\max_l \\|\\partial E/\\partial W_l\\|_F \\,/\\, \\min_l \\|\\partial E/\\partial W_l\\|_F$",
               title=f"orthogonal weights, $L = {DEPTH}$ (mean $\\pm$ 2 s.e. over {SEEDS} nets)")
        ax.set_xticks(WIDTHS, [str(n) for n in WIDTHS])
        ax.minorticks_off()
        ax.legend()
        plt.show()
        """),
        md("""
        **Next:** swap in your own activation (`mf.Activation.from_expression`, notebook 01) or a solved sSELU/lSELU
        (`mf.solve`, notebook 02); try `weight_mean` / `centralize_weights=True` (Chen et al., Prop. 3.2 and weight
        centralization) or `input_var` (mixup shrinks the input second moment); `Trace.save` keeps a run with its
        provenance, and `histogram_layers=` records the distribution of $x_l$ and $f'(h_l)$.
        """),
    ]


READING_04 = """
Reading the figure and the table:

* **tanh** with $\\sigma_w^2 = 1$ and no bias sits at the critical point $\\phi(0) = 1$: the forward signal is lost
  only algebraically, $q_l \\approx 1/(2l)$, and the gradient stays nearly flat. **tanh-GPN** keeps $\\|x_l\\|^2/n \\approx 1$.
* **SELU**'s squared gradient grows by $1 + \\delta_q \\approx 1 + \\epsilon = 1.0716$ per layer towards the input
  (Chen et al., Prop. 3.1), so the norm grows by $\\sqrt{1.0716}$: a ratio of $1.0716^{(L-1)/2}$ across the net.
  **SELU-GPN** has $E[\\hat f'(z)^2] = 1$ and a flat mean-field gradient.
* $\\|x_l\\|^2/n$ follows the theory with both weight kinds. The gradient of a finite net wanders
  multiplicatively around the flat GPN profile (a product over layers: correlated from layer to layer and
  skewed), so with a few nets its root mean square strays by up to about 25% from the flat theory, more often
  below it (the mean square is carried by rare large values that three nets seldom sample), within the wide
  error bars. Gaussian weights spread more from net to net than orthogonal ones (their products have
  a wider singular-value spectrum), which is why Lu et al. pair GPN with orthogonal weights.

## Width dependence

Lu et al. prove that the gradient stays bounded with high probability when the width is large enough. The
gradient norm ratio of tanh-GPN and SELU-GPN with orthogonal weights as the width grows:
"""


NOTEBOOKS = {
    "01_phi_versus_q.ipynb": notebook_01,
    "02_solve_parameters.ipynb": notebook_02,
    "03_property_checks.ipynb": notebook_03,
    "04_signal_propagation.ipynb": notebook_04,
}


def build(name):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = NOTEBOOKS[name]()
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating gives reviewable diffs
        cell.id = f"{name[:2]}-{i:02d}"
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    nbformat.validate(nb)
    return nb


def execute(nb, *, cwd, timeout=600):
    """Run ``nb`` in place with a fresh python3 kernel started in ``cwd``; returns seconds."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main(argv=None):
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="*", help="build only notebooks whose file name contains one of these")
    parser.add_argument("--execute", action="store_true", help="run each notebook and keep its outputs")
    parser.add_argument("--no-save", action="store_true", help="do not write the .ipynb files")
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write the notebooks to (default: here)")
    args = parser.parse_args(argv)
    # the kernel imports this checkout's meanfield even when it is not installed
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend, so that figures are saved as outputs
    names = [n for n in NOTEBOOKS if not args.only or any(o in n for o in args.only)]
    for name in names:
        nb = build(name)
        if args.execute:
            seconds = execute(nb, cwd=HERE)
            print(f"{name}: executed in {seconds:.1f} s "
                  f"({'small' if os.environ.get('MEANFIELD_NOTEBOOK_SMALL') == '1' else 'normal'} sizes)")
        if not args.no_save:
            args.out.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, args.out / name)
            print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
