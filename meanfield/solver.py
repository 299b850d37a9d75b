"""Self-normalizing parameters ``(lam, alpha, beta)`` of the SELU family (DESIGN.md, section Solver).

Throughout ``z ~ N(0, 1)``; ``phi(1) = E[f'(z)^2]`` (Chen et al., eq. 6) and
``gamma1 = |dphi/dq(1) + 1|`` (Chen et al., Prop. 3.1: smaller is stronger self-normalization).

Problems solved by :func:`solve`
--------------------------------
``"selu"``
    Klambauer et al.: ``E[f(y)] = mean``, ``Var[f(y)] = var`` with ``y ~ N(0, var)``;
    unknowns ``lam, alpha`` of ``lam * x`` (x > 0), ``lam * alpha (e^x - 1)`` (x <= 0).
``"dselu"``
    Chen et al. 2020b (eq. 5 of Chen et al.): ``phi(1) = 1 + eps``, ``E[f(z)^2] = 1``; same form.
``"sselu"``, ``"lselu"``
    Chen et al., eq. 11, the constrained program

    .. math:: \\min_{\\lambda,\\alpha,\\beta} \\Big|\\frac{d\\phi}{dq}(1) + 1\\Big| \\quad
              \\text{s.t.}\\quad \\phi(1) = 1 + \\epsilon,\\; E[f(z)^2] = 1,\\; \\lambda \\ge \\lambda_{min};

    with ``centralized=True`` the square system of Chen et al., Sec. 5 (also App. A.4)
    ``phi(1) = 1 + eps``, ``E[f(z)] = 0``, ``E[f(z)^2] = 1``; with ``lam=`` the two equalities
    for ``alpha, beta`` at that ``lam`` (the curves of Chen et al., Fig. 1).

Reduction to one variable
-------------------------
Every family is ``lam * x`` for ``x > 0`` plus ``lam * r * n_t(x)`` for ``x <= 0``, where the
negative piece is linear in a scale ``r`` and has at most one shape variable ``t``:

========  ============================  ==================================
family    ``(alpha, beta)``             ``n_t(x)`` (x <= 0)
========  ============================  ==================================
dselu     ``(r, -)``                    ``e^x - 1``
sselu     ``(r, e^t)``, t = log(beta)   ``e^(beta x) - 1``
lselu     ``r (cos t, sin t)``          ``cos(t) (e^x - 1) + sin(t) x``
========  ============================  ==================================

The two pieces do not overlap, so with the negative-piece moments at ``lam = r = 1``

.. math:: a(t) = E[n_t(z)^2 1_{z<0}],\\quad b(t) = E[n_t'(z)^2 1_{z<0}],\\quad
          c(t) = \\frac{d}{dq} E[n_t'(\\sqrt q z)^2 1_{z<0}]\\Big|_{q=1},\\quad
          m(t) = E[n_t(z) 1_{z<0}]

(and ``E[z^2; z>0] = E[1; z>0] = 1/2``, ``E[z; z>0] = 1/sqrt(2 pi)``, a constant positive
part of ``phi``) every quantity is homogeneous in ``lam`` and ``r``:

.. math:: E f^2 = \\lambda^2 (\\tfrac12 + r^2 a),\\quad \\phi(1) = \\lambda^2 (\\tfrac12 + r^2 b),\\quad
          \\frac{d\\phi}{dq}(1) = \\lambda^2 r^2 c,\\quad E f = \\lambda (\\tfrac{1}{\\sqrt{2\\pi}} + r m).

Eliminating ``lam`` (``E f^2 = 1``) and ``r`` (``phi(1) = 1 + eps``) leaves, with
``Q(t) = b/a - 1`` and ``W(t) = c/a``,

.. math:: \\lambda^2 = 2\\,(1 - \\epsilon / Q(t)),\\qquad
          \\gamma_1 = |1 + \\epsilon\\, W(t)/Q(t)|,

so the program is one-dimensional and its constraint ``lam >= lam_min`` is the super-level
set ``Q(t) >= eps / (1 - lam_min^2/2)``. ``Q`` and ``W`` do not depend on ``eps``: they are
tabulated once per family on a dense grid of ``t`` (one vectorized
:func:`~meanfield.engines.closed.family_moments` call per moment, cached; for lSELU the three
quadratic and one linear form in ``(cos t, sin t)`` are read off three directions) and reused by
every solve. Likewise the centralized system is one equation in ``t`` (``r = -1/(sqrt(2 pi) m)``) and
the fixed-``lam`` system is the level set ``Q(t) = eps / (1 - lam^2/2)``.

Why the optimum is global
-------------------------
The minimum of a continuous function on the feasible set is attained at a point where the
constraint is active (``Q(t) = eps/(1 - lam_min^2/2)``, i.e. ``lam = lam_min``), at an interior
local minimum of ``|gamma1|`` or at a zero of ``1 + eps W/Q``, or at an end of the domain of ``t``.
The solver brackets *every* such candidate on the grid (sign changes of ``Q - const`` and of
``1 + eps W/Q``, discrete local minima of ``gamma1``, feasible domain ends), refines each one
(:func:`scipy.optimize.brentq`, bounded Brent), and returns the best; an optimum at an
artificial domain end raises instead. This is exhaustive unless a feature of ``Q`` or ``W`` is
narrower than the grid step, which cannot happen here:

* lSELU: ``a, b, c`` are quadratic forms in ``(cos t, sin t)``, i.e. ``p0 + p1 cos 2t + p2 sin 2t``.
  For a ratio ``p/s`` of two such, the numerator ``p's - ps'`` of its derivative is again of that
  form (the degree-2 terms cancel to ``p2 s1 - p1 s2``), so ``Q = b/a - 1`` and
  ``kappa = W/Q = c/(b - a)`` each have at most one maximum and one minimum per half turn, and
  the level sets ``Q = const``, ``1 + eps kappa = 0`` at most two points per half turn; the grid
  has 720 points per half turn (two roots can share a grid cell only when eps is within about
  ``(pi/720)^2`` relative of the end of the feasible range).
* sSELU: ``Q`` and ``kappa = W/Q`` both increase with ``beta`` on the whole grid (checked in
  the tests), so on the feasible set ``beta >= beta*`` (``lam(beta*) = lam_min``) the signed
  ``1 + eps kappa`` increases: the optimum is ``beta*`` where that is non-negative, else its zero
  (``gamma1 = 0``, only for eps of order 1). Negative ``beta`` is excluded: there ``n_t'^2`` grows
  with ``|x|``, so ``dphi/dq > 0`` and ``gamma1 > 1``, worse than any feasible ``beta > 0``.

At every eps of Table 5 the constraint is active: ``gamma1`` decreases with ``lam`` along the
curve, towards a degenerate ``lam -> 0`` limit, so the returned optimum has ``lam == lam_min``
exactly and :attr:`Solution.constraint_active` true.

Several roots
-------------
The centralized lSELU system has two roots at each Table 5 eps: the paper's (``lam = 1.0362``
at eps = 0.03, ``alpha > 0``) and one with ``alpha < 0``, ``lam = 0.951 < 1``, ``gamma1 = 1.17``.
Roots with ``lam < lam_min`` are rejected and, like the roots with a larger ``gamma1`` of the
fixed-``lam`` system, reported in :attr:`Solution.other_roots`.

Polishing and guarantees
------------------------
Each solution is polished with Newton's method on the exact closed forms (central-difference
Jacobian, all stencil points in one vectorized call) and its residuals are recomputed from the
closed forms of the final parameters. A solution whose largest residual exceeds
:data:`RESIDUAL_TOL` is never returned: :class:`SolverError` is raised instead.

>>> sol = solve("selu")
>>> round(sol.params["lam"], 10), round(sol.params["alpha"], 10)
(1.0507009874, 1.6732632424)
>>> sol = solve("sselu", 0.03, centralized=True)
>>> round(sol.params["lam"], 4)  # Chen et al., App. A.4
1.036
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from meanfield._validation import check_finite_scalar
from meanfield.activations import Activation, get_activation
from meanfield.engines.closed import family_moments
from meanfield.maps import selu_map_jacobian

__all__ = [
    "FAMILIES",
    "LAM_FLOOR",
    "LAM_MAX",
    "RESIDUAL_TOL",
    "SELU_MOMENT_MAX",
    "SELU_MOMENT_MIN",
    "TABLE_EPS",
    "Solution",
    "SolutionTable",
    "SolverError",
    "parameter_table",
    "solve",
]

#: Families :func:`solve` accepts.
FAMILIES = ("selu", "dselu", "sselu", "lselu")

#: The eps of Chen et al.'s Table 5 (App. D).
TABLE_EPS = (0.01, 0.017, 0.03, 0.06)

#: Largest absolute residual of any returned solution (every equation is O(1)).
RESIDUAL_TOL = 1e-12

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

_M0 = 1.0 / math.sqrt(2.0 * math.pi)  # E[z; z > 0]
_NEWTON_TARGET = 1e-15


class SolverError(ValueError):
    """No solution within tolerance: infeasible ``eps``/``lam``/``lam_min``, or no convergence."""


# ------------------------------------------------------------------------------------------------
# the constraint curve of each family


class _Curve:
    """Negative-piece moments ``a, b, c, m`` of one family along its shape variable ``t``."""

    def __init__(self, family, lo, hi, size, cyclic):
        self.family = family
        self.cyclic = cyclic
        self.lo, self.hi = lo, hi
        self.period = hi - lo
        self.grid = np.linspace(lo, hi, size, endpoint=not cyclic)
        self.names = ("lam", "alpha") if family == "dselu" else ("lam", "alpha", "beta")
        self.template = get_activation(family, **dict.fromkeys(self.names, 1.0)).template

    def params(self, t, r, lam):
        """Activation parameters (arrays) for shape ``t``, scale ``r`` and ``lam``."""
        t, r, lam = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, r, lam)))
        if self.family == "dselu":
            return {"lam": lam, "alpha": r}
        if self.family == "sselu":
            return {"lam": lam, "alpha": r, "beta": np.exp(t)}
        return {"lam": lam, "alpha": r * np.cos(t), "beta": r * np.sin(t)}

    def shape_of(self, params):
        """Inverse of :meth:`params`: ``(t, r)`` of a parameter dict."""
        if self.family == "dselu":
            return 0.0, params["alpha"]
        if self.family == "sselu":
            return math.log(params["beta"]), params["alpha"]
        return math.atan2(params["beta"], params["alpha"]), math.hypot(params["alpha"], params["beta"])

    def moments(self, t, quantities="abcm"):
        """``{name: array}`` of the negative-piece moments at ``lam = r = 1`` (module docstring).

        lSELU's ``a, b, c`` are quadratic and ``m`` linear forms in ``(cos t, sin t)``: their
        coefficients come from :func:`family_moments` once (:attr:`forms`), then any ``t`` costs
        a few flops. The other families evaluate :func:`family_moments` at ``t`` directly.
        """
        if self.family == "lselu":
            u, v = np.cos(t), np.sin(t)
            forms = self.forms
            out = {k: forms[k][0] * u * u + 2 * forms[k][1] * u * v + forms[k][2] * v * v
                   for k in "abc" if k in quantities}
            if "m" in quantities:
                out["m"] = forms["m"][0] * u + forms["m"][1] * v
            return out
        return self._direct_moments(t, quantities)

    @functools.cached_property
    def forms(self):
        """lSELU: ``{k: (A11, A12, A22)}`` of ``a, b, c`` and ``{"m": (m1, m2)}`` (from 3 directions)."""
        dirs = np.array([0.0, math.pi / 2, math.pi / 4])  # (1, 0), (0, 1), (1, 1)/sqrt 2
        mom = self._direct_moments(dirs, "abcm")
        out = {}
        for k in "abc":
            x11, x22, diag = mom[k]
            out[k] = (float(x11), float(diag - (x11 + x22) / 2), float(x22))  # diag = (A11 + 2 A12 + A22)/2
        out["m"] = (float(mom["m"][0]), float(mom["m"][1]))
        return out

    def _direct_moments(self, t, quantities):
        p = self.params(t, 1.0, 1.0)
        out = {}
        with np.errstate(all="ignore"):
            if "a" in quantities:
                out["a"] = family_moments(self.template, p, "f2", 0.0, 1.0) - 0.5
            if "b" in quantities:
                out["b"] = family_moments(self.template, p, "df2", 0.0, 1.0) - 0.5
            if "c" in quantities:
                out["c"] = family_moments(self.template, p, "df2", 0.0, 1.0, "var")
            if "m" in quantities:
                out["m"] = family_moments(self.template, p, "f", 0.0, 1.0) - _M0
        return out

    @functools.cached_property
    def table(self):
        """Grid values of ``a, b, c, m`` and ``Q = b/a - 1``, ``W = c/a`` (eps-independent)."""
        tab = self.moments(self.grid)
        tab["Q"] = tab["b"] / tab["a"] - 1
        tab["W"] = tab["c"] / tab["a"]
        for v in tab.values():
            v.setflags(write=False)
        return tab

    def q_of(self, t):
        mom = self.moments(np.asarray(t, dtype=float), "ab")
        return float(mom["b"] / mom["a"] - 1)

    def pairs(self):
        """Index pairs of neighbouring grid points (wrapping around for a cyclic variable)."""
        n = self.grid.size
        i = np.arange(n if self.cyclic else n - 1)
        return i, (i + 1) % n

    def interval(self, i, j):
        lo, hi = self.grid[i], self.grid[j]
        return (lo, hi + self.period) if hi < lo else (lo, hi)

    def canonical(self, t):
        """lSELU without the centralizing equation is even in ``r``: use ``alpha >= 0``."""
        if self.family != "lselu":
            return t
        t = (t + math.pi / 2) % math.pi - math.pi / 2
        return t

    def domain_text(self):
        if self.family == "sselu":
            return f"beta in [{math.exp(self.lo):g}, {math.exp(self.hi):g}]"
        if self.family == "lselu":
            return "every direction of (alpha, beta)"
        return "alpha >= 0"


_CURVES = {
    "dselu": lambda: _Curve("dselu", 0.0, 0.0, 1, False),
    # beta in [1e-2, 1e3]: covers eps from ~1e-5 to ~2e2 at lam_min = 1; below beta = 0.01 the
    # difference b - a ~ beta^4/8 of two O(beta^2) moments loses more than half the digits
    "sselu": lambda: _Curve("sselu", math.log(1e-2), math.log(1e3), 1601, False),
    "lselu": lambda: _Curve("lselu", -math.pi, math.pi, 1440, True),
}


@functools.cache
def _curve(family):
    return _CURVES[family]()


# ------------------------------------------------------------------------------------------------
# equations, Newton polishing


def _equations(template, params, eps, centralized):
    """Residual rows ``phi(1) - (1 + eps)``, ``E[f^2] - 1`` (and ``E[f]``) at ``z ~ N(0, 1)``."""
    with np.errstate(all="ignore"):
        rows = [family_moments(template, params, "df2", 0.0, 1.0) - (1 + eps),
                family_moments(template, params, "f2", 0.0, 1.0) - 1]
        if centralized:
            rows.append(family_moments(template, params, "f", 0.0, 1.0))
    return np.stack(np.broadcast_arrays(*rows), axis=-1)


_RESIDUAL_KEYS = ("phi(1)-(1+eps)", "E[f^2]-1", "E[f]")
_SELU_KEYS = ("E[f(y)]-mean", "Var[f(y)]-var")


def _selu_equations(template, params, mean, var, omega=0.0, tau=1.0, scaled=False):
    """``E f(y) - mean`` and ``Var f(y) - var``, y ~ N(mean omega, var tau) (``scaled``: Newton's rows).

    ``Var f - var`` is written ``(E f^2 - s2) - (E f - mean)(E f + mean)``, ``s2 = var + mean^2``
    (the same number without the cancellation of ``E f^2 - (E f)^2``); ``scaled=True`` returns
    ``(E f - mean)/sqrt(s2)`` and ``(E f^2 - s2)/s2`` instead, the equations Newton solves at any scale.
    """
    s2 = var + mean * mean
    with np.errstate(all="ignore"):
        first = family_moments(template, params, "f", mean * omega, var * tau)
        second = family_moments(template, params, "f2", mean * omega, var * tau)
        if scaled:
            rows = ((first - mean) / math.sqrt(s2), (second - s2) / s2)
        else:
            rows = (first - mean, (second - s2) - (first - mean) * (first + mean))
    return np.stack(np.broadcast_arrays(*rows), axis=-1)


def _newton(fun, x0, max_iter=10):
    """Newton's method for ``fun(X) = 0`` (``X`` rows are points, square system).

    The Jacobian is a central difference with step ``1e-7 max(1, |x|)`` (error ~1e-9 relative,
    so each step gains ~9 digits); all ``2k + 1`` stencil points go in one vectorized call.
    Returns the best ``x`` seen (smallest largest residual).
    """
    x = np.asarray(x0, dtype=float)
    k = x.size
    best_x, best_norm = x, math.inf
    stalls = 0
    for _ in range(max_iter):
        h = 1e-7 * np.maximum(1.0, np.abs(x))
        stencil = np.vstack([x, x + np.diag(h), x - np.diag(h)])
        values = fun(stencil)
        res = values[0]
        norm = float(np.max(np.abs(res))) if np.all(np.isfinite(res)) else math.inf
        if norm < best_norm:
            best_x, best_norm, stalls = x, norm, 0
        else:
            stalls += 1
        if best_norm <= _NEWTON_TARGET or stalls >= 2:
            break
        jac = (values[1:k + 1] - values[k + 1:]).T / (2 * h)
        try:
            step = np.linalg.solve(jac, res)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        x = x - step
    return best_x


# ------------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Solution:
    """One solved parameter set.

    Attributes
    ----------
    family : str
        ``"selu"``, ``"dselu"``, ``"sselu"`` or ``"lselu"``.
    eps : float
        The ``eps`` of ``phi(1) = 1 + eps``; for ``"selu"`` the implied ``phi(1) - 1``.
    params : dict
        The activation's parameters: ``lam, alpha`` (selu, dselu) or ``lam, alpha, beta``;
        ``get_activation(family, **params)`` rebuilds :attr:`activation`.
    activation : Activation
    gamma1 : float
        ``|dphi/dq(1) + 1|`` (Chen et al., Prop. 3.1).
    residuals : dict
        Each equation's residual at the returned (float64) parameters, evaluated by the float64
        closed forms; keys ``"phi(1)-(1+eps)"``, ``"E[f^2]-1"`` (and ``"E[f]"`` when centralized), or
        for selu ``"E[f(y)]-mean"``, ``"Var[f(y)]-var"``. Every entry is ``<= RESIDUAL_TOL`` in
        magnitude (for selu relative to ``max(1, sqrt(var + mean^2))`` and ``max(1, var + mean^2)``).
        These are float64 numbers: each carries the closed forms' own rounding error, a few ulp of
        the moments (~1e-15 here), so the true residual of the returned parameters can be larger than
        the reported one by that much (sSELU at eps = 0.03: 8.9e-16 reported, 1.2e-15 true). The exact
        residuals of the returned parameters come from :meth:`verify` (mpmath, any precision).
    centralized : bool
    mode : str
        ``"fixed-point"`` (selu), ``"equalities"`` (dselu), ``"optimum"`` (eq. 11),
        ``"centralized"`` or ``"fixed-lam"``.
    lam_min : float or None
        The bound of the optimum / the root filter of the centralized system.
    constraint_active : bool or None
        Whether ``lam = lam_min`` at the optimum (mode ``"optimum"`` only).
    other_roots : tuple of dict
        Further roots of a square system (centralized, fixed-lam, selu) that were not chosen,
        each ``{"lam", "alpha", "beta", "gamma1", "reason"}``.
    mean, var, omega, tau : float or None
        The fixed point of a ``"selu"`` solution and the input convention y ~ N(mean omega, var tau).
    """

    family: str
    eps: float
    params: dict
    activation: Activation = field(repr=False)
    gamma1: float
    residuals: dict
    centralized: bool = False
    mode: str = "optimum"
    lam_min: float | None = None
    constraint_active: bool | None = None
    other_roots: tuple = field(default=(), repr=False)
    mean: float | None = None
    var: float | None = None
    omega: float | None = None
    tau: float | None = None

    @property
    def max_residual(self):
        """Largest absolute residual."""
        return max(abs(v) for v in self.residuals.values())

    def verify(self, dps=40):
        """The equations' residuals at the returned parameters in ``dps``-digit arithmetic (mpmath).

        Each moment is an adaptive tanh-sinh integral at ``dps`` digits
        (:func:`~meanfield.engines.reference.mp_gauss_expectation`) and the target is subtracted in
        mpmath before rounding, so the result is the true residual of the float64 parameters to
        ~``10**-dps``, unlike :attr:`residuals`. Slow (~0.1 s per equation).

        Returns
        -------
        dict
            The keys of :attr:`residuals`, float values.
        """
        import mpmath

        from meanfield.engines.reference import mp_gauss_expectation

        dps = int(dps)
        if not 15 <= dps <= 1000:
            raise ValueError(f"dps must be an integer in [15, 1000]; got {dps}")
        mp_f, mp_df = self.activation.mpmath_functions()
        kinks = self.activation.kinks
        with mpmath.workdps(dps + 10):
            def moment(g, mean, var):
                return mp_gauss_expectation(g, mean, var, kinks, dps)

            if self.family == "selu":
                m_y, v_y = self.mean * self.omega, self.var * self.tau
                first = moment(mp_f, m_y, v_y)
                second = moment(lambda x: mp_f(x) ** 2, m_y, v_y)
                mean, var = mpmath.mpf(self.mean), mpmath.mpf(self.var)
                values = (first - mean, second - first**2 - var)
            else:
                values = [moment(lambda x: mp_df(x) ** 2, 0.0, 1.0) - (1 + mpmath.mpf(self.eps)),
                          moment(lambda x: mp_f(x) ** 2, 0.0, 1.0) - 1]
                if self.centralized:
                    values.append(moment(mp_f, 0.0, 1.0))
            return {k: float(v) for k, v in zip(self.residuals, values, strict=True)}

    def to_dict(self):
        """JSON-friendly dict of every field.

        The activation appears as its :meth:`~meanfield.activations.Activation.to_dict`.
        """
        return {
            "family": self.family, "eps": self.eps, "centralized": self.centralized, "mode": self.mode,
            "params": dict(self.params), "gamma1": self.gamma1, "residuals": dict(self.residuals),
            "max_residual": self.max_residual, "lam_min": self.lam_min,
            "constraint_active": self.constraint_active, "mean": self.mean, "var": self.var,
            "omega": self.omega, "tau": self.tau,
            "other_roots": [dict(r) for r in self.other_roots], "activation": self.activation.to_dict(),
        }

    def row(self):
        """Flat dict with the columns of :attr:`SolutionTable.COLUMNS` (``beta`` None where absent)."""
        return {"family": self.family, "centralized": self.centralized, "mode": self.mode, "eps": self.eps,
                "lam": self.params["lam"], "alpha": self.params["alpha"], "beta": self.params.get("beta"),
                "gamma1": self.gamma1, "max_residual": self.max_residual}


class SolutionTable(Sequence):
    """A list of :class:`Solution` (an eps sweep or :func:`parameter_table`) with tidy export.

    Indexing, iteration and ``len`` give the solutions; :meth:`rows` one flat dict per solution.
    """

    COLUMNS = ("family", "centralized", "mode", "eps", "lam", "alpha", "beta", "gamma1", "max_residual")

    def __init__(self, solutions):
        self._solutions = tuple(solutions)
        if not all(isinstance(s, Solution) for s in self._solutions):
            raise ValueError("SolutionTable holds Solution objects only")

    def __getitem__(self, index):
        if isinstance(index, slice):
            return SolutionTable(self._solutions[index])
        return self._solutions[index]

    def __len__(self):
        return len(self._solutions)

    def __repr__(self):
        return f"SolutionTable({len(self)} solutions)"

    def rows(self):
        """One dict per solution with keys :attr:`COLUMNS`."""
        return [s.row() for s in self._solutions]

    def to_dict(self):
        """``{"columns": [...], "rows": [...], "solutions": [Solution.to_dict(), ...]}``."""
        return {"columns": list(self.COLUMNS), "rows": self.rows(),
                "solutions": [s.to_dict() for s in self._solutions]}

    def to_json(self, indent=2):
        """The rows as a JSON array (full float precision)."""
        return json.dumps(self.rows(), indent=indent, allow_nan=False)

    def to_csv(self, path_or_buffer=None):
        """Write the rows as CSV (header :attr:`COLUMNS`; empty cell for a missing ``beta``).

        Parameters
        ----------
        path_or_buffer : str, os.PathLike, file-like or None
            Where to write; None returns the CSV text.
        """
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows():
            writer.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v)
                             for k, v in row.items()})
        out = text.getvalue()
        if path_or_buffer is None:
            return out
        if isinstance(path_or_buffer, (str, os.PathLike)):
            with open(path_or_buffer, "w", encoding="utf-8", newline="") as fh:
                fh.write(out)
        elif hasattr(path_or_buffer, "write"):
            path_or_buffer.write(out)
        else:
            raise ValueError(f"path_or_buffer must be a path, a writable buffer or None; got {path_or_buffer!r}")
        return None


def _gamma1(template, params):
    """``|dphi/dq(1) + 1|`` from the closed forms."""
    return abs(float(family_moments(template, params, "df2", 0.0, 1.0, "var")) + 1)


def _finish(family, params, eps, centralized, mode, *, lam_min=None, constraint_active=None,
            other_roots=(), mean=None, var=None, omega=None, tau=None):
    """Recompute residuals and gamma1 from the closed forms; refuse anything above tolerance."""
    params = {k: float(v) for k, v in params.items()}
    act = get_activation(family, **params)
    template = act.template
    if family == "selu":
        res = _selu_equations(template, params, mean, var, omega, tau)
        keys = _SELU_KEYS
        eps = float(family_moments(template, params, "df2", 0.0, 1.0)) - 1
        # the selu equations have the scale sqrt(var + mean^2) (E f) and var + mean^2 (Var f)
        scale = np.array([max(1.0, math.sqrt(var + mean * mean)), max(1.0, var + mean * mean)])
    else:
        res = _equations(template, params, eps, centralized)
        keys = _RESIDUAL_KEYS
        scale = np.ones(len(res))
    residuals = {k: float(v) for k, v in zip(keys, res, strict=False)}
    worst = float(np.max(np.abs(np.asarray(res)[:len(scale)]) / scale[:len(res)]))
    if not worst <= RESIDUAL_TOL:
        raise SolverError(
            f"{family} (eps={eps:g}, mode {mode}): Newton polishing reached a residual of {worst:.3g} "
            f"> {RESIDUAL_TOL:g}; the problem is too close to the edge of its feasible range")
    g1 = _gamma1(template, params)
    return Solution(family=family, eps=float(eps), params=params, activation=act, gamma1=g1,
                    residuals=residuals, centralized=centralized, mode=mode, lam_min=lam_min,
                    constraint_active=constraint_active, other_roots=tuple(other_roots),
                    mean=mean, var=var, omega=omega, tau=tau)


# ------------------------------------------------------------------------------------------------
# the solvers


def _polish_fixed_lam(curve, t, lam, eps):
    """Newton on ``(r, t)`` at fixed ``lam`` for ``phi(1) = 1 + eps``, ``E f^2 = 1``."""
    a = curve.moments(np.asarray(t), "a")["a"]
    r0 = math.sqrt(max((1 / lam**2 - 0.5) / float(a), 0.0))

    def fun(x):
        return _equations(curve.template, curve.params(x[:, 1], x[:, 0], lam), eps, False)

    x = _newton(fun, [r0, t])
    return {k: float(v) for k, v in curve.params(x[1], x[0], lam).items()}


def _polish_free_lam(curve, t, eps):
    """Newton on ``(lam, r)`` at fixed shape ``t`` for ``phi(1) = 1 + eps``, ``E f^2 = 1``."""
    mom = curve.moments(np.asarray(t), "ab")
    a, b = float(mom["a"]), float(mom["b"])
    r0 = math.sqrt((eps / 2) / (b - (1 + eps) * a))
    lam0 = 1 / math.sqrt(0.5 + r0 * r0 * a)

    def fun(x):
        return _equations(curve.template, curve.params(t, x[:, 1], x[:, 0]), eps, False)

    x = _newton(fun, [lam0, r0])
    return {k: float(v) for k, v in curve.params(t, x[1], x[0]).items()}


def _canonical_params(family, params):
    """lSELU's two equalities are even in (alpha, beta): report the sign with alpha >= 0."""
    if family == "lselu" and (params["alpha"] < 0 or (params["alpha"] == 0 and params["beta"] < 0)):
        return {**params, "alpha": -params["alpha"], "beta": -params["beta"]}
    return params


def _brent_root(fun, lo, hi):
    flo, fhi = fun(lo), fun(hi)
    if flo == 0:
        return lo
    if fhi == 0:
        return hi
    from scipy import optimize  # lazily: scipy.optimize adds ~0.3-0.6 s to `import meanfield`

    return optimize.brentq(fun, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=200)


def _level_set(curve, level):
    """All ``t`` with ``Q(t) = level`` (sign changes of ``Q - level`` on the grid, then brentq)."""
    q = curve.table["Q"]
    i, j = curve.pairs()
    s = q - level
    hits = np.flatnonzero((s[i] == 0) | (s[i] * s[j] < 0))
    roots = []
    for k in hits:
        lo, hi = curve.interval(i[k], j[k])
        roots.append(_brent_root(lambda t: curve.q_of(t) - level, lo, hi))
    return roots


def _q_range_text(curve, factor):
    """Solvable eps range ``factor * Q`` over the grid, as text."""
    q = curve.table["Q"]
    hi = factor * float(np.max(q))
    if curve.cyclic or curve.family == "dselu":
        return f"0 < eps < {hi:.6g}" if curve.family == "dselu" else f"0 < eps <= {hi:.6g}"
    lo = factor * float(max(min(q[0], q[-1]), 0.0))
    return f"{lo:.6g} <= eps <= {hi:.6g} (scanned {curve.domain_text()})"


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
    local = feasible[idx] & feasible[prev] & feasible[nxt] & (absg[idx] <= absg[prev]) & (absg[idx] <= absg[nxt])
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


# ------------------------------------------------------------------------------------------------
# public API


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
    >>> sol.max_residual <= RESIDUAL_TOL
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
        return _solve_selu(mean, var, omega, tau)
    if eps is None:
        raise ValueError(f"eps is required for family {key!r} (phi(1) = 1 + eps, eps > 0)")
    try:
        eps_arr = np.asarray(eps, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"eps must be a real number or an array of them; got {eps!r}") from exc
    bad = eps_arr[~(np.isfinite(eps_arr) & (eps_arr > 0))]
    if bad.size:
        raise ValueError(f"eps must be finite and > 0 (valid range: (0, inf)); got {bad.ravel()[0]}")
    if eps_arr.ndim == 0:
        return _solve_one(key, float(eps_arr), centralized, lam, lam_min)
    return SolutionTable(_solve_one(key, float(e), centralized, lam, lam_min) for e in eps_arr.ravel())


def _solve_one(family, eps, centralized, lam, lam_min):
    if family == "dselu":
        return _solve_dselu(eps)
    if lam is not None:
        return _solve_fixed_lam(family, eps, lam)
    if centralized:
        return _solve_centralized(family, eps, lam_min)
    return _solve_optimum(family, eps, lam_min)


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
