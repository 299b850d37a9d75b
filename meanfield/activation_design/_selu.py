"""The SELU family's exact solver: the one-dimensional reduction (DESIGN.md, section Solver).

The mathematics (reduction to one variable, why the optimum is global, several roots) is in the
docstring of :mod:`meanfield.solver`. :func:`meanfield.design <meanfield.activation_design.core.design>`
calls :func:`_solve_one` / :func:`_solve_selu` for the problems of
:mod:`meanfield.activation_design._selu_front` (what :func:`~meanfield.solver.solve` states).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from meanfield.activation_design._selu_curve import (
    _M0,
    _brent_root,
    _canonical_params,
    _curve,
    _level_set,
    _newton,
    _polish_fixed_lam,
    _polish_free_lam,
    _q_range_text,
)
from meanfield.activation_design._solution import (
    SolverError,
    _equations,
    _finish,
    _gamma1,
    _selu_equations,
)
from meanfield.activations import get_activation
from meanfield.engines.closed import family_moments
from meanfield.maps import selu_map_jacobian

__all__ = ["FAMILIES", "LAM_FLOOR", "LAM_MAX", "SELU_MOMENT_MAX", "SELU_MOMENT_MIN", "TABLE_EPS"]

#: Families :func:`solve` accepts.
FAMILIES = ("selu", "dselu", "sselu", "lselu")

#: The eps of Chen et al.'s Table 5 (App. D).
TABLE_EPS = (0.01, 0.017, 0.03, 0.06)

#: Range of ``var + mean^2`` (= E f^2) and ``var * tau`` for family "selu": the equations hold squares of
#: these scales, so they must stay well inside float64 (1e-150 .. 1e150).
SELU_MOMENT_MIN, SELU_MOMENT_MAX = 1e-150, 1e150

#: Smallest ``lam`` / ``lam_min`` accepted: at the optimum ``alpha ~ 5/lam`` and ``lam^2`` enters the
#: equations, so ``lam`` must keep ``lam^2`` a normal float64 and ``alpha`` finite (1e-100: both hold
#: with 100 orders of magnitude to spare).
LAM_FLOOR = 1e-100

#: Upper bound of ``lam``: ``E f^2 = lam^2 (1/2 + r^2 a) = 1`` with ``a >= 0`` forces ``lam <= sqrt 2``
#: (equality only for the degenerate ReLU-like point ``r = 0``, which has ``eps = 0``).
LAM_MAX = math.sqrt(2.0)


#: Relative height below which a discrete local minimum of |gamma1| on the grid is rounding noise
#: (|gamma1| = |1 + eps W/Q| is computed to ~1e-16 relative; a real minimum dips by far more).
_FLAT_GAMMA = 1e-13


def _solve_dselu(eps):
    curve = _curve("dselu")
    tab = curve.table
    q = float(tab["Q"][0])
    if not eps < q:
        raise SolverError(f"eps = {eps:g} is infeasible for dselu: phi(1) = 1 + eps, E[f^2] = 1 has a "
                          f"solution exactly for {_q_range_text(curve, 1.0)}")
    params = _polish_free_lam(curve, 0.0, eps)
    return _finish("dselu", params, eps, False, "equalities")


def _gamma_of(curve, t, eps):
    # not abs(1 + eps * _signed_ratio(curve, t)): eps * (c / (b - a)) rounds differently in ~15% of t
    mom = curve.moments(np.asarray(t, dtype=float), "abc")
    a, b, c = (float(mom[k]) for k in "abc")
    return abs(1 + eps * c / (b - a))


def _solve_optimum(family, eps, lam_min):
    from scipy import optimize  # lazily, as in _brent_root

    curve = _curve(family)
    tab = curve.table
    slack = 1 - lam_min**2 / 2
    level = eps / slack  # feasible iff Q(t) >= level
    q, w = tab["Q"], tab["W"]
    feasible = q >= level
    with np.errstate(all="ignore"):
        g = np.where(feasible, 1 + eps * w / q, np.nan)
    candidates = []  # (t, kind)
    for t in _level_set(curve, level):
        candidates.append((t, "boundary"))
    i, j = curve.pairs()
    both = feasible[i] & feasible[j]
    for k in np.flatnonzero(both & (g[i] * g[j] < 0)):
        lo, hi = curve.interval(i[k], j[k])
        candidates.append((_brent_root(lambda t: 1 + eps * _signed_ratio(curve, t), lo, hi), "zero"))
    n = curve.grid.size
    idx = np.arange(n) if curve.cyclic else np.arange(1, n - 1)
    prev, nxt = (idx - 1) % n, (idx + 1) % n
    absg = np.abs(g)
    # a discrete local minimum that is a real dip, not rounding noise on a flat |gamma1| (tiny eps)
    dip = np.maximum(absg[prev], absg[nxt]) - absg[idx] > _FLAT_GAMMA * np.maximum(absg[idx], 1.0)
    local = (feasible[idx] & feasible[prev] & feasible[nxt] & (absg[idx] <= absg[prev]) & (absg[idx] <= absg[nxt])
             & dip)
    for pos in np.flatnonzero(local):  # prev/nxt are aligned with idx: index them by position
        k = idx[pos]
        lo, _ = curve.interval(prev[pos], k)
        _, hi = curve.interval(k, nxt[pos])
        if lo > curve.grid[k]:
            lo -= curve.period
        res = optimize.minimize_scalar(lambda t: _gamma_of(curve, t, eps), bounds=(lo, hi), method="bounded",
                                       options={"xatol": 1e-12})
        if curve.q_of(res.x) >= level:
            candidates.append((float(res.x), "interior"))
    if not curve.cyclic:
        for end in (0, n - 1):
            if feasible[end]:
                candidates.append((float(curve.grid[end]), "edge"))
    if not candidates:
        raise SolverError(
            f"eps = {eps:g} is infeasible for {family} with lam >= {lam_min:g}: the solvable range found "
            f"is {_q_range_text(curve, slack)}")
    scored = sorted(((_gamma_of(curve, t, eps), kind, curve.canonical(t)) for t, kind in candidates),
                    key=lambda c: (c[0], c[1] != "boundary"))
    _, kind, t = scored[0]
    if kind == "edge":
        where = "lower" if t == curve.grid[0] else "upper"
        raise SolverError(
            f"eps = {eps:g} with lam >= {lam_min:g}: {family} has no minimizer inside the scanned domain "
            f"({curve.domain_text()}): gamma1 keeps decreasing towards its {where} end. The constraints "
            f"are feasible for {_q_range_text(curve, slack)}, but the infimum of gamma1 is not attained "
            f"at this eps")
    if kind == "boundary":
        params = _polish_fixed_lam(curve, t, lam_min, eps)
    else:
        params = _polish_free_lam(curve, t, eps)
    params = _canonical_params(family, params)
    return _finish(family, params, eps, False, "optimum", lam_min=lam_min,
                   constraint_active=kind == "boundary")


def _signed_ratio(curve, t):
    mom = curve.moments(np.asarray(t, dtype=float), "abc")
    return float(mom["c"] / (mom["b"] - mom["a"]))


def _root_summary(params, gamma1, reason):
    return {"lam": float(params["lam"]), "alpha": float(params["alpha"]),
            "beta": float(params["beta"]) if "beta" in params else None,
            "gamma1": float(gamma1), "reason": reason}


def _solve_fixed_lam(family, eps, lam):
    curve = _curve(family)
    slack = 1 - lam**2 / 2
    roots = sorted({round(curve.canonical(t), 13) for t in _level_set(curve, eps / slack)})
    if not roots:
        raise SolverError(
            f"eps = {eps:g} is infeasible for {family} at lam = {lam:g}: the solvable range found is "
            f"{_q_range_text(curve, slack)}")
    scored = sorted((_gamma_of(curve, t, eps), t) for t in roots)
    solutions = []
    for g1, t in scored:
        params = _canonical_params(family, _polish_fixed_lam(curve, t, lam, eps))
        solutions.append((g1, params))
    _, best = solutions[0]
    others = [_root_summary(p, g1, "larger gamma1") for g1, p in solutions[1:]]
    return _finish(family, best, eps, False, "fixed-lam", other_roots=others)


def _centralized(mom):
    """``(eps, lam, r)`` of the centralized family (``E f = 0``, ``E f^2 = 1``) from moments ``a, b, m``."""
    a, b, m = (np.asarray(mom[k], dtype=float) for k in "abm")
    with np.errstate(all="ignore"):
        r = np.where(m < 0, -_M0 / m, np.nan)
        big_a = 0.5 + r * r * a
        return (0.5 + r * r * b) / big_a - 1, 1 / np.sqrt(big_a), r


def _solve_centralized(family, eps, lam_min):
    curve = _curve(family)
    eps_grid, lam_grid, _ = _centralized(curve.table)

    def centralized_at(t):
        return [float(v) for v in _centralized(curve.moments(np.asarray(t, dtype=float), "abm"))]

    i, j = curve.pairs()
    s = eps_grid - eps
    hits = np.flatnonzero(np.isfinite(s[i]) & np.isfinite(s[j]) & ((s[i] == 0) | (s[i] * s[j] < 0)))
    roots = []
    for k in hits:
        lo, hi = curve.interval(i[k], j[k])
        t = _brent_root(lambda t: centralized_at(t)[0] - eps, lo, hi)
        _, lam, rr = centralized_at(t)
        roots.append((t, lam, rr))
    if not roots:
        ok = np.isfinite(eps_grid)
        allowed = ok & (lam_grid >= lam_min)
        span = (f"[{np.min(eps_grid[allowed]):.6g}, {np.max(eps_grid[allowed]):.6g}]" if allowed.any()
                else "empty")
        raise SolverError(
            f"eps = {eps:g} is infeasible for centralized {family}: phi(1) = 1 + eps, E[f] = 0, E[f^2] = 1 "
            f"has solutions for eps in [{np.min(eps_grid[ok]):.6g}, {np.max(eps_grid[ok]):.6g}] "
            f"({span} with lam >= {lam_min:g}); scanned domain: {curve.domain_text()}")
    polished = []
    for t, lam, rr in roots:
        def fun(x):
            return _equations(curve.template, curve.params(x[:, 2], x[:, 1], x[:, 0]), eps, True)

        x = _newton(fun, [lam, rr, t])
        params = {k: float(v) for k, v in curve.params(x[2], x[1], x[0]).items()}
        polished.append((params, _gamma1(curve.template, params)))
    lam_cut = lam_min * (1 - 1e-12)
    allowed = [(p, g1) for p, g1 in polished if p["lam"] >= lam_cut]
    if not allowed:
        found = ", ".join(f"lam = {p['lam']:.6g}" for p, _ in polished)
        raise SolverError(f"centralized {family} at eps = {eps:g} has no root with lam >= {lam_min:g} "
                          f"(roots found: {found}); lower lam_min to accept one")
    allowed.sort(key=lambda pg: pg[1])
    best = allowed[0][0]
    others = [_root_summary(p, g1, "larger gamma1") for p, g1 in allowed[1:]]
    others += [_root_summary(p, g1, f"lam < lam_min = {lam_min:g}") for p, g1 in polished
               if p["lam"] < lam_cut]
    return _finish(family, best, eps, True, "centralized", lam_min=lam_min, other_roots=others)


_X = sp.Symbol("x", real=True)
#: SELU's two pieces at lam = alpha = 1: their supports are disjoint, so E f = lam (P1 + alpha N1) and
#: E f^2 = lam^2 (P2 + alpha^2 N2) with P, N the moments of these (no difference of large numbers).
_SELU_POSITIVE = sp.Piecewise((_X, _X > 0), (0, True))
_SELU_NEGATIVE = sp.Piecewise((0, _X > 0), (sp.exp(_X) - 1, True))


def _solve_selu(mean, var, omega, tau):
    """Klambauer's fixed point: E f(y) = mean, Var f(y) = var, y ~ N(mean omega, var tau); unknowns lam, alpha."""
    template = get_activation("selu").template
    m_y, v_y = mean * omega, var * tau
    with np.errstate(all="ignore"):
        m_pos, s_pos = (float(family_moments(_SELU_POSITIVE, {}, q, m_y, v_y)) for q in ("f", "f2"))
        m_neg, s_neg = (float(family_moments(_SELU_NEGATIVE, {}, q, m_y, v_y)) for q in ("f", "f2"))
    if not all(math.isfinite(v) for v in (m_pos, s_pos, m_neg, s_neg)) or s_neg <= 0:
        raise ValueError(f"mean = {mean:g}, var = {var:g} (omega = {omega:g}, tau = {tau:g}): the moments of "
                         f"y ~ N({m_y:g}, {v_y:g}) are not representable in float64")
    target = var + mean * mean  # E f^2
    if mean == 0:
        alphas = [m_pos / -m_neg]
    else:
        # (m+ + alpha m-)^2 = rho (s+ + alpha^2 s-), rho = mean^2 / E f^2, sign(m+ + alpha m-) = sign(mean)
        rho = mean * mean / target
        coef = [m_neg**2 - rho * s_neg, 2 * m_pos * m_neg, m_pos**2 - rho * s_pos]
        alphas = [float(z.real) for z in np.roots(coef) if abs(z.imag) <= 1e-12 * max(1.0, abs(z))]
        alphas = [al for al in alphas if al > 0 and np.sign(m_pos + al * m_neg) == np.sign(mean)]
    if not alphas:
        raise SolverError(
            f"no SELU fixed point (lam > 0, alpha > 0) with mean = {mean:g}, var = {var:g}, omega = {omega:g}, "
            f"tau = {tau:g}: E f(y) / sqrt(E f(y)^2) ranges over ({m_neg / math.sqrt(s_neg):.6g}, "
            f"{m_pos / math.sqrt(s_pos):.6g}) for this y, and mean / sqrt(var + mean^2) = "
            f"{mean / math.sqrt(target):.6g}")
    found = []
    for alpha0 in alphas:
        lam0 = math.sqrt(target / (s_pos + alpha0**2 * s_neg))

        def fun(x):
            return _selu_equations(template, {"lam": x[:, 0], "alpha": x[:, 1]}, mean, var, omega, tau,
                                   scaled=True)

        x = _newton(fun, [lam0, alpha0])
        params = {"lam": float(x[0]), "alpha": float(x[1])}
        jac = selu_map_jacobian(get_activation("selu", **params), mean, var, omega, tau)
        found.append((float(np.max(np.abs(np.linalg.eigvals(jac)))), params))
    found.sort(key=lambda sp_: sp_[0])
    others = [{**p, "beta": None, "gamma1": None, "reason": f"less attracting (spectral radius {rad:.4g})"}
              for rad, p in found[1:]]
    return _finish("selu", found[0][1], None, False, "fixed-point", other_roots=others, mean=mean, var=var,
                   omega=omega, tau=tau)


def _solve_one(family, eps, centralized, lam, lam_min):
    if family == "dselu":
        return _solve_dselu(eps)
    if lam is not None:
        return _solve_fixed_lam(family, eps, lam)
    if centralized:
        return _solve_centralized(family, eps, lam_min)
    return _solve_optimum(family, eps, lam_min)
