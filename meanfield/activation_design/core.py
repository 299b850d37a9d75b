"""``design``: parameters of a parametric activation that meet mean-field conditions (DESIGN.md, Design).

The problem is

.. math:: \\min_\\theta\\; J(\\theta) \\quad\\text{s.t.}\\quad c_i(\\theta) = t_i,\\;
          l_k \\le \\theta_k \\le u_k

with ``c_i`` and ``J`` conditions of :mod:`meanfield.activation_design.conditions` (Gaussian functionals of
the activation). Every functional comes with its exact gradient in ``theta``: the family is
differentiated symbolically (SymPy) and the gradient integrated on the same quadrature nodes as the
value, ``d/dtheta E[h] = E[dh/dtheta]``.

* **Square systems** (as many conditions as unknowns, no objective): damped Newton with the exact
  Jacobian from each start (``start`` first, then ``n_starts`` deterministic random points); the
  first root inside the bounds with all residuals ``<= tol`` wins (further distinct roots are kept
  in ``other_roots``).
* **With an objective**: SLSQP (exact gradients) from every start, the best feasible local optimum
  wins; it is then polished: unknowns at an active bound are fixed and, if that leaves a square
  system, Newton solves it to ``tol``; otherwise minimum-norm Gauss-Newton steps project the point
  onto the conditions (moving the objective by the square of the projection, ~1e-20).

If no start reaches ``tol``, :class:`DesignError` (a ValueError) reports the smallest residuals
found and where.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from meanfield._validation import check_finite_scalar
from meanfield.activation_design._families import family_of
from meanfield.activation_design._solvers import DesignError, _solve_program, _solve_square
from meanfield.activation_design.conditions import Evaluator, parse_condition

__all__ = ["DesignError", "DesignResult", "design", "DESIGN_TOL"]

#: Largest residual of a returned design (the conditions are O(1) quantities).
DESIGN_TOL = 1e-12
@dataclass(frozen=True)
class DesignResult:
    """A designed activation.

    Attributes
    ----------
    params : dict
        Every parameter of the family (unknowns solved, the rest as given).
    unknowns : tuple of str
    conditions : dict
        ``{condition text: target}``.
    residuals : dict
        ``{condition text: value - target}`` at ``params`` (float64 quadrature; exact to ~1e-15).
    values : dict
        ``{condition text: value}``.
    objective : str or None
    objective_value : float or None
    activation : Activation
        An ordinary meanfield activation (every map, the simulator and ``check`` take it).
    other_roots : tuple of dict
        Parameters of further solutions found from other starts (square systems).
    method : str
        ``"newton"`` (square system), ``"slsqp"`` (with objective or inequalities) or ``"exact"``
        (the family solved its own problem: a :class:`~meanfield.solver.SeluProgram`
        from :func:`~meanfield.solver.selu_problem`, by the one-dimensional reduction).
    detail : object or None
        The exact solver's own result (a :class:`~meanfield.solver.Solution`) when ``method == "exact"``.
    """

    params: dict
    unknowns: tuple
    conditions: dict
    residuals: dict
    values: dict
    objective: str | None
    objective_value: float | None
    activation: object = field(repr=False)
    other_roots: tuple = field(default=(), repr=False)
    method: str = "newton"
    detail: object = field(default=None, repr=False)

    @property
    def max_residual(self):
        """Largest absolute residual (0 when there are no equality conditions)."""
        return max((abs(v) for v in self.residuals.values()), default=0.0)

    def to_dict(self):
        """JSON-friendly dict of every field (the activation as its ``to_dict``)."""
        return {"params": dict(self.params), "unknowns": list(self.unknowns),
                "conditions": dict(self.conditions), "residuals": dict(self.residuals),
                "values": dict(self.values), "max_residual": self.max_residual,
                "objective": self.objective, "objective_value": self.objective_value,
                "other_roots": [dict(r) for r in self.other_roots], "method": self.method,
                "activation": self.activation.to_dict()}


class _Problem:
    """The parsed problem: family, unknowns, equality/inequality conditions, objective, bounds."""

    def __init__(self, family, unknowns, conditions, objective, bounds):
        self.family = family
        self.unknowns = tuple(unknowns)
        self.equalities, self.inequalities = [], []
        for text, target in conditions.items():
            cond = parse_condition(text)
            if isinstance(target, (tuple, list)):
                if len(target) != 2:
                    raise ValueError(f"condition {text!r}: an inequality is (low, high), None for open; got {target!r}")
                lo, hi = (None if t is None else check_finite_scalar(t, f"bound of {text!r}") for t in target)
                self.inequalities.append((cond, lo, hi))
            else:
                self.equalities.append((cond, check_finite_scalar(target, f"target of {text!r}")))
        self.objective = parse_condition(objective) if objective is not None else None
        self.order = max([c.order for c, _ in self.equalities] + [c.order for c, _, _ in self.inequalities]
                         + [self.objective.order if self.objective else 1])
        self.bounds = []
        for name in self.unknowns:
            lo, hi = (bounds or {}).get(name, (None, None))
            lo = -math.inf if lo is None else check_finite_scalar(lo, f"lower bound of {name}")
            hi = math.inf if hi is None else check_finite_scalar(hi, f"upper bound of {name}")
            if not lo < hi:
                raise ValueError(f"bounds of {name} must have low < high; got ({lo:g}, {hi:g})")
            self.bounds.append((lo, hi))
        self.bounds = np.array(self.bounds, dtype=float).reshape(-1, 2)

    def theta(self, x, base):
        return {**base, **dict(zip(self.unknowns, (float(v) for v in x), strict=True))}

    def evaluate(self, x, base):
        """``(r, J, ineq, ineq_jac, obj, obj_grad)`` at unknowns ``x``."""
        ev = Evaluator(self.family, self.theta(x, base), self.unknowns, self.order)
        r = np.empty(len(self.equalities))
        jac = np.empty((len(self.equalities), len(self.unknowns)))
        for i, (cond, target) in enumerate(self.equalities):
            v, g = ev.value(cond)
            r[i], jac[i] = v - target, g
        ineq, ineq_jac = [], []
        for cond, lo, hi in self.inequalities:
            v, g = ev.value(cond)
            if lo is not None:
                ineq.append(v - lo)
                ineq_jac.append(g)
            if hi is not None:
                ineq.append(hi - v)
                ineq_jac.append(-g)
        obj = ev.value(self.objective) if self.objective else (0.0, np.zeros(len(self.unknowns)))
        return r, jac, np.array(ineq), np.array(ineq_jac).reshape(-1, len(self.unknowns)), obj[0], obj[1]

    def inside(self, x, slack=0.0):
        return bool(np.all(x >= self.bounds[:, 0] - slack) and np.all(x <= self.bounds[:, 1] + slack))


def design(act, unknowns, conditions, objective=None, bounds=None, start=None, *, n_starts=12, seed=0,
           tol=DESIGN_TOL):
    """Choose an activation's parameters so that mean-field conditions hold (optionally optimal).

    Parameters
    ----------
    act : Activation, str or family
        An :class:`~meanfield.activations.Activation` with a SymPy template (built-in or
        :meth:`~meanfield.activations.Activation.from_expression`), a built-in name, a SymPy
        expression string in ``x`` (its other symbols are parameters, valued by ``start``), or a
        family such as ``AffineFamily`` (DKS/TAT's affine transform, ``meanfield.activation_design``).
    unknowns : sequence of str
        The parameters to solve for; the others keep their values.
    conditions : dict
        ``{condition: target}``; a target ``(low, high)`` (None for open) is an inequality. See
        :data:`~meanfield.activation_design.conditions.CONDITIONS` for the names, e.g. ``"phi(1)"``,
        ``"second_moment(1)"``, ``"mean"``, ``"q_slope(1)"``, ``"c_slope(1)"``, ``"c_curvature(1)"``,
        ``"c_map(0)"``, ``"gamma1"``, ``"output_mean(0, 2)"``.
    objective : str, optional
        A condition expression to minimize (e.g. ``"gamma1"``); the global optimum over the
        feasible set is sought from ``n_starts`` starts.
    bounds : dict, optional
        ``{unknown: (low, high)}``, None for open.
    start : dict, optional
        Values of parameters: start values of unknowns, values of an expression's fixed parameters.
    n_starts : int
        Random starts besides ``start`` (deterministic with ``seed``).
    tol : float
        Largest residual accepted (default :data:`DESIGN_TOL` = 1e-12).

    Returns
    -------
    DesignResult

    Raises
    ------
    ValueError
        Unknown condition or parameter names, bad targets or bounds, an over- or underdetermined
        problem without objective. :class:`DesignError` (a ValueError): no start met ``tol``;
        the message gives the smallest residuals found.

    Examples
    --------
    Chen et al.'s dSELU (eq. 5) as a design problem:

    >>> res = design("dselu", ["lam", "alpha"], {"phi(1)": 1.06, "second_moment(1)": 1.0},
    ...              start={"lam": 1.0, "alpha": 1.5})
    >>> res.max_residual <= 1e-12, round(res.params["lam"], 6)  # = solve("dselu", 0.06)
    (True, 1.117532)
    """
    start = dict(start or {})
    for k, v in start.items():
        start[k] = check_finite_scalar(v, f"start value of {k}")
    family = family_of(act, start if isinstance(act, str) else None)
    if isinstance(unknowns, str):
        unknowns = [unknowns]
    unknowns = tuple(unknowns)
    if not unknowns:
        raise ValueError("unknowns must name at least one parameter")
    bad = [u for u in unknowns if u not in family.names]
    if bad or len(set(unknowns)) != len(unknowns):
        raise ValueError(f"unknowns {bad or list(unknowns)} are not (distinct) parameters of the activation; its "
                         f"parameters are {', '.join(family.names) or 'none'}")
    bad = [k for k in start if k not in family.names]
    if bad:
        raise ValueError(f"start names {bad}, which are not parameters of the activation; its parameters are "
                         f"{', '.join(family.names) or 'none'}")
    unknown_bounds = [k for k in (bounds or {}) if k not in unknowns]
    if unknown_bounds:
        raise ValueError(f"bounds given for {unknown_bounds}, which are not unknowns {list(unknowns)}")
    if not isinstance(conditions, dict) or not conditions:
        raise ValueError("conditions must be a non-empty dict {condition: target}")
    family.check_unknowns(unknowns)
    problem = _Problem(family, unknowns, conditions, objective, bounds)
    n_eq = len(problem.equalities)
    if objective is None and not problem.inequalities:
        if n_eq < len(unknowns):
            raise ValueError(f"{n_eq} equality conditions for {len(unknowns)} unknowns: give an objective or "
                             f"more conditions (or fewer unknowns)")
        if n_eq > len(unknowns):
            raise ValueError(f"{n_eq} equality conditions for {len(unknowns)} unknowns: overdetermined")
    if problem.order >= 2:
        _check_smooth_derivative(family, {**family.values, **start})
    base = {**family.values, **start}
    exact = getattr(family, "exact_solution", None)  # a family that can solve its own problem exactly
    detail = exact(unknowns, conditions, objective, bounds, start) if exact is not None else None
    if detail is not None:
        x = np.array([detail.params[u] for u in unknowns], dtype=float)
        roots = tuple(np.array([r[u] for u in unknowns], dtype=float) for r in detail.other_roots)
        return _result(problem, x, base, roots, method="exact", detail=detail)
    x0 = np.array([base[u] for u in unknowns], dtype=float)
    x0 = np.clip(x0, problem.bounds[:, 0], problem.bounds[:, 1])
    if objective is None and not problem.inequalities:
        x, roots = _solve_square(problem, x0, base, n_starts, seed, tol)
        return _result(problem, x, base, roots, method="newton")
    return _result(problem, _solve_program(problem, x0, base, n_starts, seed, tol), base, (), method="slsqp")


def _check_smooth_derivative(family, theta):
    """c_curvature needs f'' without delta functions: f' must not jump at a kink."""
    for k in family.kinks(theta):
        h = 1e-9 * max(1.0, abs(k))
        x = np.array([k - h, k + h])
        vals, _ = family.evaluate(theta, x, (), 1)
        if abs(vals[1][1] - vals[1][0]) > 1e-6 * max(1.0, float(np.max(np.abs(vals[1])))):
            raise ValueError(f"c_curvature needs a continuous f' (C''(1) = q^2 E[f''^2]/Q is infinite when f' jumps, "
                             f"as at x = {k:g})")


def _result(problem, x, base, roots, method, detail=None):
    theta = problem.theta(x, base)
    ev = Evaluator(problem.family, theta, problem.unknowns, problem.order)
    values, residuals = {}, {}
    for cond, target in problem.equalities:
        v = float(ev.value(cond)[0])
        values[cond.text], residuals[cond.text] = v, v - target
    for cond, _, _ in problem.inequalities:
        values[cond.text] = float(ev.value(cond)[0])
    obj = float(ev.value(problem.objective)[0]) if problem.objective else None
    others = tuple(problem.theta(r, base) for r in roots)
    return DesignResult(params=theta, unknowns=problem.unknowns,
                        conditions={c.text: t for c, t in problem.equalities}
                        | {c.text: (lo, hi) for c, lo, hi in problem.inequalities},
                        residuals=residuals, values=values,
                        objective=problem.objective.text if problem.objective else None,
                        objective_value=obj, other_roots=others, method=method, detail=detail,
                        activation=detail.activation if detail is not None else problem.family.activation(theta))
