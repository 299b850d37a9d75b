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

from meanfield.activation_design._selu import (
    FAMILIES,
    LAM_FLOOR,
    LAM_MAX,
    SELU_MOMENT_MAX,
    SELU_MOMENT_MIN,
    TABLE_EPS,
)
from meanfield.activation_design._selu_front import SeluProgram, parameter_table, selu_problem, solve
from meanfield.activation_design._solution import RESIDUAL_TOL, Solution, SolutionTable, SolverError

__all__ = [
    "FAMILIES",
    "LAM_FLOOR",
    "LAM_MAX",
    "RESIDUAL_TOL",
    "SELU_MOMENT_MAX",
    "SELU_MOMENT_MIN",
    "TABLE_EPS",
    "SeluProgram",
    "Solution",
    "SolutionTable",
    "SolverError",
    "parameter_table",
    "selu_problem",
    "solve",
]
