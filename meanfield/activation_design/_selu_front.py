"""The SELU-family front end: :func:`solve`, :func:`parameter_table` and :func:`selu_problem`.

Each problem of :func:`solve` (Klambauer et al.'s fixed point; Chen et al.'s eq. 5, eq. 11, the
centralized and the fixed-``lam`` systems) is stated as a :func:`~meanfield.activation_design.core.design`
problem by :func:`selu_problem`, whose activation is a :class:`SeluProgram`: the built-in family
carrying the exact one-dimensional reduction (``_selu.py``, ``_selu_curve.py``; the mathematics is
in :mod:`meanfield.solver`). ``design`` solves such a problem with that reduction
(fast, and the optimum proven global), so :func:`solve` is ``design(**selu_problem(...)).detail``:
one entry point, one statement of the conditions, and ``design``'s residuals (its own quadrature)
check the reduction's answer.
"""

from __future__ import annotations

import numpy as np

from meanfield._validation import check_finite_scalar, check_real_type
from meanfield.activation_design._families import SymbolicFamily, _builtin_with_defaults
from meanfield.activation_design._selu import (
    FAMILIES,
    LAM_FLOOR,
    LAM_MAX,
    SELU_MOMENT_MAX,
    SELU_MOMENT_MIN,
    TABLE_EPS,
    _solve_one,
    _solve_selu,
)
from meanfield.activation_design._solution import SolutionTable
from meanfield.activation_design.core import design

__all__ = ["SeluProgram", "parameter_table", "selu_problem", "solve"]


class SeluProgram(SymbolicFamily):
    """A built-in SELU family (``selu``, ``dselu``, ``sselu``, ``lselu``) with the problem :func:`solve` states.

    An ordinary ``SymbolicFamily`` for :func:`~meanfield.activation_design.core.design`,
    plus :meth:`exact_solution`, which solves its own problem by the one-dimensional reduction.

    Parameters
    ----------
    family : str
    problem : tuple
        ``(unknowns, conditions, objective, bounds)`` of the design problem this program is.
    eps, centralized, lam, lam_min, mean, var, omega, tau
        As in :func:`solve` (already validated there or by :func:`selu_problem`).
    """

    def __init__(self, family, problem, *, eps=None, centralized=False, lam=None, lam_min=1.0, mean=0.0,
                 var=1.0, omega=0.0, tau=1.0):
        super().__init__(_builtin_with_defaults(family, {}))
        self.family = family
        unknowns, conditions, objective, bounds = problem
        self.problem = (tuple(unknowns), dict(conditions), objective, dict(bounds))
        self.options = {"eps": eps, "centralized": centralized, "lam": lam, "lam_min": lam_min, "mean": mean,
                        "var": var, "omega": omega, "tau": tau}

    def exact_solution(self, unknowns, conditions, objective, bounds, start):
        """The reduction's :class:`~meanfield.solver.Solution` if the problem is this program's, else None.

        Any change to the conditions, unknowns, objective, bounds or a fixed ``lam`` makes it an
        ordinary problem for the general engine of ``design``.
        """
        if (tuple(unknowns), dict(conditions), objective, dict(bounds or {})) != self.problem:
            return None
        if self.options["lam"] is not None and (start or {}).get("lam") != self.options["lam"]:
            return None
        o = self.options
        if self.family == "selu":
            return _solve_selu(o["mean"], o["var"], o["omega"], o["tau"])
        return _solve_one(self.family, o["eps"], o["centralized"], o["lam"], o["lam_min"])


def _through_design(family, eps=None, **options):
    """:func:`solve`'s answer: the exact reduction, reached through ``design``."""
    return design(**selu_problem(family, eps, **options)).detail


def _check_range(value, name):
    value = check_finite_scalar(value, name)
    if not LAM_FLOOR <= value < LAM_MAX:
        raise ValueError(f"{name} must be in [{LAM_FLOOR:g}, {LAM_MAX:.10g}) (lam <= sqrt(2) always; below "
                         f"{LAM_FLOOR:g} the solution's alpha ~ 1/lam overflows float64); got {value:g}")
    return value


def solve(family, eps=None, *, centralized=False, lam=None, lam_min=1.0, mean=0.0, var=1.0, omega=0.0,
          tau=1.0):
    """Solve for the self-normalizing parameters of a SELU-family activation.

    Parameters
    ----------
    family : {"selu", "dselu", "sselu", "lselu"}
        See the module docstring for each problem (Klambauer et al.; Chen et al., eq. 5, 11, Sec. 5).
    eps : float or array_like, optional
        ``phi(1) = 1 + eps`` with ``eps > 0`` (required except for ``"selu"``, which takes none).
        An array solves a sweep and returns a :class:`SolutionTable` in its (flattened) order.
    centralized : bool
        sselu/lselu only: solve ``phi(1) = 1 + eps, E f = 0, E f^2 = 1`` (Chen et al., Sec. 5)
        instead of the program eq. 11. Roots with ``lam < lam_min`` are rejected; among the rest
        the one with the smallest ``gamma1`` is returned (the others are in ``other_roots``).
    lam : float, optional
        sselu/lselu only: fix ``lam`` in ``(0, sqrt 2)`` and solve the two equalities for
        ``alpha, beta`` (Chen et al., Fig. 1); of several roots the smallest ``gamma1`` wins.
    lam_min : float
        The bound ``lam >= lam_min`` of eq. 11 (Chen et al. use 1), in ``(0, sqrt 2)``; ignored
        for selu/dselu and when ``lam`` is given. ``gamma1`` keeps decreasing towards a degenerate
        ``lam -> 0`` limit, so the bound is active at the optimum.
    mean, var : float
        selu only: the fixed point ``(mean, var)`` of ``(E f(y), Var f(y))``, var > 0, with
        ``y ~ N(mean * omega, var * tau)`` as in :func:`~meanfield.maps.selu_map`.
    omega, tau : float
        selu only: the input convention. ``omega = 0, tau = 1`` (default) is Klambauer et al.'s
        normalized weights (sum of weights 0, sum of squares 1), so ``y ~ N(0, var)``;
        ``omega = 1, tau = 1`` is the SNNs notebook's ``getSeluParameters(mean, var)`` convention
        (``y ~ N(mean, var)``; at (-0.1, 2) it gives lam = 1.0738512, alpha = 1.9769022).

    Returns
    -------
    Solution or SolutionTable

    Raises
    ------
    ValueError
        Bad arguments (unknown family, eps <= 0 or not finite, options that do not apply).
    SolverError
        (a ValueError) No solution: eps, lam or lam_min outside the feasible range found (the
        message states that range), or residuals above :data:`RESIDUAL_TOL` after polishing.

    Examples
    --------
    >>> sol = solve("dselu", 0.06)
    >>> sol.max_residual <= 1e-12  # RESIDUAL_TOL
    True
    >>> opt = solve("sselu", 0.06)
    >>> opt.params["lam"], opt.constraint_active, opt.gamma1 < sol.gamma1
    (1.0, True, True)
    """
    key = str(family).lower() if isinstance(family, str) else family
    if key not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}; got {family!r}")
    if not isinstance(centralized, (bool, np.bool_)):
        raise ValueError(f"centralized must be True or False; got {centralized!r}")
    centralized = bool(centralized)
    if key != "selu" and (mean != 0.0 or var != 1.0 or omega != 0.0 or tau != 1.0):
        raise ValueError("mean, var, omega and tau set the fixed point of family 'selu' only")
    if key in ("selu", "dselu"):
        if centralized:
            raise ValueError(f"centralized applies to sselu and lselu only ({key} has two parameters)")
        if lam is not None:
            raise ValueError(f"lam= applies to sselu and lselu only ({key} has two parameters and two equations)")
    if centralized and lam is not None:
        raise ValueError("lam= and centralized=True are exclusive (three equations for two unknowns)")
    lam_min = _check_range(lam_min, "lam_min")
    if lam is not None:
        lam = _check_range(lam, "lam")
    if key == "selu":
        if eps is not None:
            raise ValueError("family 'selu' takes no eps (its eps = phi(1) - 1 follows from the fixed point)")
        mean = check_finite_scalar(mean, "mean")
        var = check_finite_scalar(var, "var")
        omega = check_finite_scalar(omega, "omega")
        tau = check_finite_scalar(tau, "tau")
        if var <= 0:
            raise ValueError(f"var must be > 0 (valid range: (0, inf)); got {var:g}")
        if tau <= 0:
            raise ValueError(f"tau must be > 0 (y ~ N(mean omega, var tau)); got {tau:g}")
        if not (SELU_MOMENT_MIN <= var + mean * mean <= SELU_MOMENT_MAX and var * tau <= SELU_MOMENT_MAX
                and var * tau >= SELU_MOMENT_MIN):
            raise ValueError(
                f"mean = {mean:g}, var = {var:g}: var + mean^2 and var * tau must lie in "
                f"[{SELU_MOMENT_MIN:g}, {SELU_MOMENT_MAX:g}] (E f^2 and the input variance are squared "
                f"in the equations and must stay finite float64)")
        return _through_design("selu", mean=mean, var=var, omega=omega, tau=tau)
    if eps is None:
        raise ValueError(f"eps is required for family {key!r} (phi(1) = 1 + eps, eps > 0)")
    check_real_type(eps, "eps")  # "0.03" and True would convert silently
    try:
        eps_arr = np.asarray(eps, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"eps must be a real number or an array of them; got {eps!r}") from exc
    bad = eps_arr[~(np.isfinite(eps_arr) & (eps_arr > 0))]
    if bad.size:
        raise ValueError(f"eps must be finite and > 0 (valid range: (0, inf)); got {bad.ravel()[0]}")
    if eps_arr.ndim == 0:
        return _through_design(key, float(eps_arr), centralized=centralized, lam=lam, lam_min=lam_min)
    return SolutionTable(_through_design(key, float(e), centralized=centralized, lam=lam, lam_min=lam_min)
                         for e in eps_arr.ravel())


def parameter_table(eps=TABLE_EPS, *, lam_min=1.0):
    """The analogue of Chen et al.'s Table 5: SELU, then dSELU, sSELU, lSELU and centralized sSELU, lSELU.

    Parameters
    ----------
    eps : sequence of float
        Default :data:`TABLE_EPS` = (0.01, 0.017, 0.03, 0.06).
    lam_min : float
        Bound of the program eq. 11 and root filter of the centralized system.

    Returns
    -------
    SolutionTable
        ``1 + 5 len(eps)`` solutions, grouped by (family, centralized), eps ascending within.
    """
    eps = np.atleast_1d(np.asarray(eps, dtype=float))
    out = [solve("selu")]
    for family, centralized in (("dselu", False), ("sselu", False), ("lselu", False),
                                ("sselu", True), ("lselu", True)):
        out.extend(solve(family, eps, centralized=centralized, lam_min=lam_min))
    return SolutionTable(out)


def selu_problem(family, eps=None, *, centralized=False, lam=None, lam_min=1.0, mean=0.0, var=1.0, omega=0.0,
                 tau=1.0):
    """The problem :func:`solve` solves, as keyword arguments of :func:`~meanfield.activation_design.core.design`.

    ``act`` is a :class:`SeluProgram`: the built-in family, carrying the exact one-dimensional
    reduction of :mod:`meanfield.solver` for these conditions.
    :func:`~meanfield.activation_design.core.design` uses that reduction
    (it also proves the optimum global) whenever it is given the problem unchanged, and its general
    engine (quadrature with exact gradients, multi-start) otherwise; both agree to ~1e-13
    (tests/test_design.py). :func:`solve` is ``design(**selu_problem(...)).detail``.

    Returns
    -------
    dict
        ``act, unknowns, conditions, objective, bounds, start``.

    Examples
    --------
    >>> from meanfield.activation_design import design
    >>> res = design(**selu_problem("sselu", 0.03, centralized=True))
    >>> round(res.params["lam"], 4)  # Chen et al., App. A.4
    1.036
    """
    key = str(family).lower()
    if key not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}; got {family!r}")
    if key == "selu":
        y_mean, y_var = mean * omega, var * tau
        names, objective = ["lam", "alpha"], None
        conditions = {f"output_mean({y_mean!r}, {y_var!r})": mean,
                      f"output_second_moment({y_mean!r}, {y_var!r})": var + mean * mean}
        bounds = {"lam": (0.0, None), "alpha": (0.0, None)}
        start = {"lam": 1.05, "alpha": 1.67}
        options = {"mean": mean, "var": var, "omega": omega, "tau": tau}
    else:
        names, conditions, objective, bounds, start = _chen_problem(key, eps, centralized, lam, lam_min)
        options = {"eps": float(eps), "centralized": centralized, "lam": lam, "lam_min": lam_min}
    program = SeluProgram(key, (names, conditions, objective, bounds), **options)
    return {"act": program, "unknowns": names, "conditions": conditions, "objective": objective,
            "bounds": bounds, "start": start}


def _chen_problem(key, eps, centralized, lam, lam_min):
    if eps is None:
        raise ValueError(f"eps is required for family {key!r}")
    conditions = {"phi(1)": 1.0 + float(eps), "second_moment(1)": 1.0}
    names = ["lam", "alpha"] if key == "dselu" else ["lam", "alpha", "beta"]
    start = {"lam": 1.0, "alpha": 1.5, **({"beta": 0.5} if key != "dselu" else {})}
    bounds = {"alpha": (0.0, None)}
    if key == "sselu":
        bounds["beta"] = (0.01, 100.0)
    objective = None
    if key != "dselu":
        if centralized:
            conditions["mean"] = 0.0
            bounds["lam"] = (lam_min, None)
            del bounds["alpha"]  # the centralized roots have either sign of alpha; lam >= lam_min picks one
        elif lam is not None:
            names.remove("lam")
            start["lam"] = float(lam)
            objective = "gamma1"
        else:
            bounds["lam"] = (lam_min, None)
            objective = "gamma1"
    return names, conditions, objective, bounds, start
