"""The numerical solvers of :func:`~meanfield.activation_design.core.design`: Newton and SLSQP.

* Square systems: damped Newton with the exact Jacobian from each start (``_solve_square``).
* With an objective or inequalities: SLSQP from every start, each local optimum polished onto
  the conditions (``_solve_program``, ``_polish``).

A problem is a ``_Problem`` of :mod:`meanfield.activation_design.core` (``evaluate``, ``theta``,
``inside``, ``bounds``, ``equalities``, ``unknowns``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DesignError"]

#: Newton stops below this residual: the float64 noise floor of the moments is 1e-16..5e-16, where
#: further steps only wander (and DESIGN_TOL is 1000 times larger).
_NEWTON_TARGET = 1e-15
#: Near the noise floor a step that does not reduce the residual is not retried with shorter steps.
_FLOOR = 1e-13
_MAX_NEWTON = 60
#: Newton gives up on a start when a step needs more than this many quarterings ...
_MAX_HALVINGS = 8
#: ... or when the residual is still above _SLOW_LEVEL after _SLOW_ITER iterations.
_SLOW_ITER, _SLOW_LEVEL = 15, 1e-3


class DesignError(ValueError):
    """The conditions could not be met to tolerance (infeasible, or no start converged)."""


def _evaluate_or_none(problem, x, base):
    try:
        out = problem.evaluate(x, base)
    except (ValueError, FloatingPointError, ZeroDivisionError):
        return None, math.inf
    r = out[0]
    return out, (float(np.max(np.abs(r))) if np.all(np.isfinite(r)) else math.inf)


def _newton(problem, x0, base, fixed=None, max_iter=_MAX_NEWTON):
    """Damped Newton (min-norm Gauss-Newton when not square) on the equalities; returns (x, max |r|).

    Each accepted step's evaluation is reused for the next Jacobian. A start is abandoned when a
    step cannot reduce the residual in :data:`_MAX_HALVINGS` quarterings or when it is still above
    :data:`_SLOW_LEVEL` after :data:`_SLOW_ITER` iterations (it is heading for no root).
    """
    x = np.array(x0, dtype=float)
    free = np.ones(x.size, dtype=bool) if fixed is None else ~fixed
    out, norm = _evaluate_or_none(problem, x, base)
    for it in range(max_iter):
        if out is None or norm <= _NEWTON_TARGET or (it >= _SLOW_ITER and norm > _SLOW_LEVEL):
            break
        r, jac = out[0], out[1][:, free]
        if not np.all(np.isfinite(jac)):
            break
        step = np.linalg.lstsq(jac, r, rcond=None)[0]
        t = 1.0
        for _ in range(_MAX_HALVINGS if norm > _FLOOR else 1):
            trial = x.copy()
            trial[free] -= t * step
            out_t, norm_t = _evaluate_or_none(problem, trial, base)
            if norm_t < norm:
                break
            t /= 4
        else:
            break
        x, out, norm = trial, out_t, norm_t
    return x, norm


def _starts(problem, x0, n_starts, seed):
    rng = np.random.default_rng(seed)
    out = [np.array(x0, dtype=float)]
    lo, hi = problem.bounds[:, 0], problem.bounds[:, 1]
    both = np.isfinite(lo) & np.isfinite(hi)
    # bounds spanning decades on the positive axis are sampled log-uniformly
    logs = both & (lo > 0) & (hi > 100 * np.where(lo > 0, lo, 1.0))
    for _ in range(n_starts):
        scale = np.maximum(1.0, np.abs(x0))
        x = x0 + scale * rng.uniform(-1.0, 1.0, size=x0.size)
        x[both] = rng.uniform(lo[both], hi[both])
        x[logs] = np.exp(rng.uniform(np.log(lo[logs]), np.log(hi[logs])))
        out.append(np.clip(x, lo, hi))
    return out


def _closest_text(problem, best):
    if best[1] is None:
        return "no start could be evaluated"
    x, r = best[1], best[2]
    pts = ", ".join(f"{u}={v:.8g}" for u, v in zip(problem.unknowns, x, strict=True))
    res = ", ".join(f"{c.text} - {t:g} = {v:.3g}" for (c, t), v in zip(problem.equalities, r, strict=True))
    return f"closest point found: {pts} with residuals {res}"


def _solve_square(problem, x0, base, n_starts, seed, tol, starts=None, accept=None):
    best = (math.inf, None, None)
    roots = []
    for xs in (starts if starts is not None else _starts(problem, x0, n_starts, seed)):
        x, norm = _newton(problem, xs, base)
        if norm < best[0]:
            best = (norm, x, problem.evaluate(x, base)[0])
        if norm <= tol and problem.inside(x, 1e-12) and (accept is None or accept(problem.theta(x, base))):
            if not any(np.allclose(x, y, rtol=1e-9, atol=1e-12) for y in roots):
                roots.append(x)
            break  # the first root from the ordered starts wins (start first, as dks does)
    if not roots:
        raise DesignError(f"the conditions could not be met to {tol:g} (infeasible, or outside the starts' reach); "
                          + _closest_text(problem, best))
    return roots[0], tuple(roots[1:])


def _solve_program(problem, x0, base, n_starts, seed, tol):
    from scipy import optimize  # lazily: scipy.optimize is slow to import

    def fun(x):
        return problem.evaluate(x, base)

    cache = {}

    def at(x):
        key = x.tobytes()
        if key not in cache:
            try:
                cache[key] = fun(x)
            except (ValueError, FloatingPointError, ZeroDivisionError):
                cache[key] = None
        return cache[key]

    def obj(x):
        v = at(x)
        return (math.inf, np.zeros(x.size)) if v is None else (v[4], v[5])

    cons = []
    if problem.equalities:
        n_eq = len(problem.equalities)
        cons.append({"type": "eq", "fun": lambda x: at(x)[0] if at(x) is not None else np.full(n_eq, 1e3),
                     "jac": lambda x: at(x)[1] if at(x) is not None else np.zeros((n_eq, x.size))})
    if problem.inequalities:
        cons.append({"type": "ineq", "fun": lambda x: at(x)[2], "jac": lambda x: at(x)[3]})
    bounds = [(None if not math.isfinite(lo) else lo, None if not math.isfinite(hi) else hi)
              for lo, hi in problem.bounds]
    best = (math.inf, None, None)
    candidates = []
    for xs in _starts(problem, x0, n_starts, seed):
        try:
            res = optimize.minimize(lambda x: obj(x)[0], xs, jac=lambda x: obj(x)[1], method="SLSQP",
                                    bounds=bounds, constraints=cons, options={"ftol": 1e-14, "maxiter": 100})
        except (ValueError, FloatingPointError, ZeroDivisionError, np.linalg.LinAlgError):
            continue
        x = _polish(problem, res.x, base)
        v = at(x)
        if v is None:
            continue
        norm = float(np.max(np.abs(v[0]))) if v[0].size else 0.0
        feasible = norm <= tol and problem.inside(x, 1e-12) and (not v[2].size or np.min(v[2]) >= -tol)
        if norm < best[0]:
            best = (norm, x, v[0])
        if feasible:
            candidates.append((v[4], x))
    if not candidates:
        raise DesignError(f"no feasible point met the conditions to {tol:g}; " + _closest_text(problem, best))
    candidates.sort(key=lambda c: c[0])
    return candidates[0][1]


def _polish(problem, x, base):
    """Fix unknowns at active bounds, then Newton (square) or min-norm Gauss-Newton on the equalities."""
    if not problem.equalities:
        return np.clip(x, problem.bounds[:, 0], problem.bounds[:, 1])
    x = np.clip(np.asarray(x, dtype=float), problem.bounds[:, 0], problem.bounds[:, 1])
    span = np.maximum(1.0, np.abs(x))
    at_bound = (np.abs(x - problem.bounds[:, 0]) <= 1e-7 * span) | (np.abs(x - problem.bounds[:, 1]) <= 1e-7 * span)
    x = np.where(np.abs(x - problem.bounds[:, 0]) <= 1e-7 * span, problem.bounds[:, 0], x)
    x = np.where(np.abs(x - problem.bounds[:, 1]) <= 1e-7 * span, problem.bounds[:, 1], x)
    polished, _ = _newton(problem, x, base, fixed=at_bound)
    return polished
