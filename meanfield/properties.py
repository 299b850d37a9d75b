"""Checks of the self-normalization propositions that a user can run on any activation.

Each ``check_*`` function returns a :class:`CheckResult`: whether the property holds, the
measured *margin* (positive when it holds, in the property's own units), and, when it fails,
a counterexample in the paper's terms (which q, which layer, which margin). Our hypothesis
suite (``tests/test_properties.py``) drives the same functions over families of activations.

Sources: Chen et al., *Redefining the self-normalization property* (Definition 2,
Proposition 3.1 and its proof in A.2, Proposition 3.2 and A.3); Klambauer et al. (the SELU
map); Lu, Gould & Ajanthan (GPN; "GPN and zero-mean only if linear"); the Gaussian-Poincare
inequality ``Var f(x) <= var E f'(x)^2``.

Two statements are checked in the exact form their proofs give, which differs from the
paper's headline wording (see each docstring):

* Definition 2's strict inequality ``min(1, 1/q) < phi(q) < max(1, 1/q)`` cannot hold at
  ``q = 1`` when ``phi(1) = 1 + eps > 1``; it is checked outside the ``O(eps)`` neighbourhood
  of the fixed point that it necessarily excludes.
* Proposition 3.1's backward identity: the proof (A.2, eq. 23) gives
  ``q_l prod_{i<=l} (1 + delta_{q_{i-1}}) E|dL/dh_l|^2 = q_0 E|dL/dh_0|^2``; the statement
  drops ``q_l``, which is 1 only at the fixed point.

>>> import meanfield as mf
>>> result = check_poincare(mf.get_activation("tanh"))
>>> result.passed
True
>>> check_definition2(mf.get_activation("relu")).passed   # phi = 1/2 < 1 for q < 1
False
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from meanfield import maps
from meanfield._check_result import CheckResult
from meanfield._gpn_checks import (
    check_gpn,
    check_gpn_equalities,
    check_gpn_zero_mean_linear,
    check_poincare,
    check_selu_contraction,
)
from meanfield._parameter_precision import propagated_tolerance
from meanfield._validation import as_real_array, check_finite_scalar
from meanfield.activations import get_activation

__all__ = [
    "CheckResult",
    "check_activation",
    "check_definition2",
    "check_gamma_range",
    "check_gamma_linearization",
    "check_q_contraction",
    "check_backward_identity",
    "check_mean_normalization",
    "check_poincare",
    "check_gpn",
    "check_gpn_equalities",
    "check_gpn_zero_mean_linear",
    "check_selu_contraction",
    "DEFAULT_Q_RANGE",
    "equality_tolerance",
    "q_fixed_point",
]

#: q range of the Definition 2 / gamma checks (two decades around the fixed point q = 1)
DEFAULT_Q_RANGE = (0.1, 10.0)
#: points of the q grid (log-spaced)
Q_POINTS = 201
#: relative tolerance of exact algebraic identities evaluated with the closed/quadrature engines
#: (both promise <= 1e-10 relative; a recursion of a few dozen steps compounds that)
IDENTITY_RTOL = 1e-8


def equality_tolerance(act, *, method="auto"):
    """Tolerance of ``E[f(z)^2] = 1`` for ``act``: the rounding of its parameters, propagated.

    Half a unit in the last printed decimal of each parameter, times ``|d E f^2 / d p|``,
    summed; at least ``EQUALITY_TOL_FLOOR`` = 1e-10 (the engines' accuracy), at most
    ``EQUALITY_TOL_CAP`` = 1e-4. Table 5's six-decimal sSELU (lam = 1, alpha = 2.618672,
    beta = 0.560804) gets 7.9e-7, its ``|E f^2 - 1| = 3.9e-7`` passes.
    """
    act = get_activation(act)
    return propagated_tolerance(act, lambda a: maps.second_moment(a, 1.0, method=method))


def q_fixed_point(act, *, method="auto", bracket=(0.5, 2.0)):
    """The fixed point ``q*`` of the q-map ``q -> E f(sqrt(q) z)^2`` in ``bracket``, or NaN.

    Definition 2 puts it at 1; with rounded parameters it sits at ``1 + O(|E f^2 - 1|)``.
    Found with Brent's method on ``E f(sqrt(q) z)^2 - q`` (NaN when it does not change sign).
    """
    from scipy.optimize import brentq

    act = get_activation(act)

    def excess(q):
        return float(maps.second_moment(act, q, method=method)) - q

    lo, hi = bracket
    if not excess(lo) * excess(hi) < 0:
        return math.nan
    return float(brentq(excess, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps))


def _q_grid(q_range):
    lo, hi = (check_finite_scalar(v, "q_range entry") for v in q_range)
    if not 0 < lo < hi:
        raise ValueError(f"q_range must satisfy 0 < low < high; got {q_range}")
    return np.logspace(np.log10(lo), np.log10(hi), Q_POINTS)


def _fixed_point_band(act, phi1, method):
    """Half-widths ``(below, above)`` of the O(eps) band around q = 1 excluded from Definition 2.

    To first order in ``q - 1``, with ``phi(1) = 1 + eps`` and ``phi'(1) in (-1, 0)``, the
    inequality fails for ``1 - eps/gamma1 < q < 1 + eps/(1 - gamma1)``; the band allows twice
    that for second-order terms. ``eps <= 0`` gives an empty band. ``phi1`` is ``phi(1)``,
    which the caller has already computed.
    """
    eps = phi1 - 1
    slope = float(maps.dphi_dq(act, 1.0, method=method))
    if eps <= 0 or not -1 < slope < 0:
        return 0.0, 0.0, eps
    g1 = 1 + slope
    return 2 * eps / g1, 2 * eps / (1 - g1), eps


def check_definition2(act, *, q_range=DEFAULT_Q_RANGE, eps=None, tol=None, method="auto"):
    """Definition 2 (Chen et al.): ``phi(1) = 1 + eps``, ``E f(z)^2 = 1``, ``min(1,1/q) < phi(q) < max(1,1/q)``.

    The two equalities are checked to ``tol``; by default (``tol=None``) that is the change the
    rounding of the activation's parameters can cause (:func:`equality_tolerance`: Table 5's
    six-decimal parameters give E f^2 = 1.00000039, inside its 7.9e-7), at least 1e-10.
    ``eps`` defaults to the activation's own ``phi(1) - 1``, which must be > 0. The inequality
    is checked on ``q_range`` outside the band ``(1 - 2 eps/gamma1, 1 + 2 eps/(1 - gamma1))``:
    with ``phi(1) = 1 + eps > 1`` the strict inequality fails at ``q = 1`` itself, so
    Definition 2 can only ask it away from the fixed point.

    The margin is the smallest relative distance of ``phi`` to the nearer bound (when the
    equalities hold) or ``tol - |E f^2 - 1|`` (when they do not). ``measured`` holds
    ``E_f2_minus_1``, ``tolerance``, ``eps`` and the q-map's actual fixed point ``q_star``.
    """
    act = get_activation(act)
    q = _q_grid(q_range)
    phi1 = float(maps.phi(act, 1.0, method=method))
    second = float(maps.second_moment(act, 1.0, method=method))
    target = phi1 - 1 if eps is None else check_finite_scalar(eps, "eps")
    if tol is None:
        tol_second = equality_tolerance(act, method=method)
        tol_phi = propagated_tolerance(act, lambda a: maps.phi(a, 1.0, method=method))
        tol_source = "from the parameters' rounding"
    else:
        tol_second = tol_phi = check_finite_scalar(tol, "tol")
        if tol_second < 0:
            raise ValueError(f"tol must be >= 0; got {tol}")
        tol_source = "given"
    below, above, own_eps = _fixed_point_band(act, phi1, method)
    p = maps.phi(act, q, method=method)
    lower, upper = np.minimum(1, 1 / q), np.maximum(1, 1 / q)
    outside = (q <= 1 - below) | (q >= 1 + above)
    rel = np.minimum((p - lower) / lower, (upper - p) / upper)
    rel = np.where(outside, rel, np.inf)
    worst = int(np.argmin(rel))
    second_err, phi_err = abs(second - 1), abs(phi1 - 1 - target)
    problems = []
    if not own_eps > 0:
        problems.append(f"phi(1) - 1 = {own_eps:.6g} is not > 0")
    if phi_err > tol_phi:
        problems.append(f"phi(1) = {phi1:.12g} != 1 + eps = {1 + target:.12g} (tolerance {tol_phi:.2g})")
    if second_err > tol_second:
        problems.append(f"E[f(z)^2] = {second:.12g} != 1 (tolerance {tol_second:.2g})")
    counter = None
    if rel[worst] <= 0:
        counter = {"q": float(q[worst]), "phi": float(p[worst]),
                   "bounds": [float(lower[worst]), float(upper[worst])]}
        problems.append(f"phi({q[worst]:.4g}) = {p[worst]:.6g} is outside "
                        f"({lower[worst]:.6g}, {upper[worst]:.6g})")
    margin = float(rel[worst])
    if second_err > tol_second or phi_err > tol_phi:
        margin = min(margin, tol_second - second_err, tol_phi - phi_err)
    if own_eps <= 0:
        margin = min(margin, own_eps)
    q_star = q_fixed_point(act, method=method)
    detail = (f"eps = phi(1) - 1 = {own_eps:.6g}; |E f^2 - 1| = {second_err:.2g} (tolerance "
              f"{tol_second:.2g}, {tol_source}); q* = {q_star:.10g}; "
              f"min relative margin {rel[worst]:.3g} at q = {q[worst]:.4g} "
              f"(band excluded: [{1 - below:.4g}, {1 + above:.4g}])")
    if problems:
        detail = "; ".join(problems) + ". " + detail
    measured = {"eps": own_eps, "E_f2_minus_1": second - 1, "tolerance": tol_second, "q_star": q_star,
                "inequality_margin": float(rel[worst])}
    return CheckResult("definition2", "Chen et al., Definition 2", not problems, margin, detail, counter,
                       measured)


def check_gamma_range(act, *, q_range=DEFAULT_Q_RANGE, method="auto"):
    """Proposition 3.1: ``gamma_q in (0, 1)`` (eq. 8) on ``q_range`` outside the fixed-point band.

    Equivalent to Definition 2's inequality; ``gamma_q`` closer to 0 means stronger
    self-normalization. Margin: ``min(gamma_q, 1 - gamma_q)``.
    """
    act = get_activation(act)
    q = _q_grid(q_range)
    below, above, _ = _fixed_point_band(act, float(maps.phi(act, 1.0, method=method)), method)
    q = q[(q <= 1 - below) | (q >= 1 + above)]
    g = maps.gamma(act, q, method=method)
    margins = np.minimum(g, 1 - g)
    worst = int(np.argmin(margins))
    ok = bool(margins[worst] > 0)
    counter = None if ok else {"q": float(q[worst]), "gamma_q": float(g[worst])}
    return CheckResult("gamma_range", "Chen et al., Proposition 3.1 (eq. 8)", ok, float(margins[worst]),
                       f"gamma_q in [{g.min():.4g}, {g.max():.4g}] on q in [{q.min():.3g}, {q.max():.3g}]"
                       f"; gamma1 = {float(maps.gamma1(act, method=method)):.6g}", counter)


def check_gamma_linearization(act, *, method="auto", steps=(0.04, 0.02, 0.01, 0.005)):
    """Proposition 3.1: near q = 1, ``gamma_q`` approaches ``|dphi/dq(1) + 1| = gamma1``.

    Exactly (Taylor, A.2 eq. 33 without neglecting eps): ``gamma_q - eps q/(q - 1) =
    1 + dphi/dq(1) + O(|q - 1|)`` on both sides, so ``|gamma_q| ~ gamma1`` once the
    ``eps q/(q - 1)`` term is small. Checked: the remainder divided by ``|q - 1|`` stays
    bounded (it halves with the step) and ``gamma1`` equals ``|1 + dphi/dq(1)|``.
    """
    act = get_activation(act)
    eps = float(maps.phi(act, 1.0, method=method)) - 1
    slope = float(maps.dphi_dq(act, 1.0, method=method))
    remainders = []
    for h in steps:
        q = np.array([1 - h, 1 + h])
        g = maps.gamma(act, q, method=method)
        remainders.append(np.abs(g - eps * q / (q - 1) - (1 + slope)) / h)
    remainders = np.array(remainders)
    # O(|q - 1|): remainder/|q - 1| converges to a constant C; compare successive halvings
    spread = np.abs(remainders[-1] - remainders[-2])
    bound = 0.1 * np.maximum(remainders[-2], 1.0)
    ok = bool(np.all(spread <= bound)) and math.isclose(
        float(maps.gamma1(act, method=method)), abs(1 + slope), rel_tol=1e-14)
    margin = float(np.min(bound - spread))
    return CheckResult("gamma_linearization", "Chen et al., Proposition 3.1 (A.2, eq. 33)", ok, margin,
                       f"gamma1 = |1 + dphi/dq(1)| = {abs(1 + slope):.6g}; (gamma_q - eps q/(q-1) - 1 - "
                       f"phi'(1))/|q-1| -> {remainders[-1].round(4).tolist()} (q = 1 -/+ {steps[-1]})",
                       None if ok else {"remainders_over_h": remainders.tolist()})


def _delta(act, q, method):
    """``delta_q`` along a recursion, without the lost-digits warning at small ``q``.

    A recursion that collapses (GELU: ``q_l -> 0``) reaches ``q`` where ``delta_q`` keeps only
    ~1e-9 relative accuracy (:class:`~meanfield.errors.NumericalWarning`); the identities are
    judged to :data:`IDENTITY_RTOL` = 1e-8, above that, so the warning says nothing the check
    does not already account for.
    """
    from meanfield.errors import NumericalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumericalWarning)
        return maps.delta(act, q, method=method)


def _q_recursion(act, q0, depth, method):
    """``q_0 = q0``, ``q_{l+1} = E f(sqrt(q_l) z)^2`` (unit weight variance), ``depth`` steps."""
    q = [float(q0)]
    for _ in range(depth):
        q.append(float(maps.second_moment(act, q[-1], method=method)))
    return np.array(q)


def check_q_contraction(act, *, q0=(0.5, 2.0), depth=12, tol=None, method="auto"):
    """Proposition 3.1 (A.2, eq. 26): the deviation of ``q_l`` from 1 shrinks at the rate gamma gives.

    Along the q-map ``q_{l+1} = E f(sqrt(q_l) z)^2`` the proof's identity is exact:
    ``q_{l+1} - 1 = gamma_{q_l}/(1 + delta_{q_l}) (q_l - 1) - delta_{q_l}/(1 + delta_{q_l})``
    (and its mirror for ``q_l < 1``). Checked: the identity at every step (relative
    :data:`IDENTITY_RTOL`), ``E f(z)^2 = 1`` to ``tol`` (so 1 is the fixed point; ``tol=None``
    derives it from the parameters' rounding, see :func:`equality_tolerance`) and
    ``|q_{l+1} - 1| < |q_l - 1|`` at every step from each start. Margin: ``1 - max`` ratio.
    """
    act = get_activation(act)
    starts = as_real_array(q0, "q0", positive=True).ravel()
    worst_ratio, counter = 0.0, None
    identity_err = 0.0
    for start in starts:
        q = _q_recursion(act, start, depth, method)
        for layer in range(depth):
            ql, qn = q[layer], q[layer + 1]
            if abs(ql - 1) < 1e-9:
                break
            g = float(maps.gamma(act, ql, method=method))
            d = float(_delta(act, ql, method))
            predicted = (g * (ql - 1) - d) / (1 + d) if ql > 1 else -(g * (1 - ql) + d) / (1 + d)
            identity_err = max(identity_err, abs(predicted - (qn - 1)) / max(abs(qn - 1), abs(ql - 1)))
            ratio = abs(qn - 1) / abs(ql - 1)
            if ratio > worst_ratio:
                worst_ratio = ratio
                if ratio >= 1 and counter is None:
                    counter = {"q0": float(start), "layer": layer, "q_l": float(ql), "q_next": float(qn),
                               "ratio": float(ratio)}
    fixed = abs(float(maps.second_moment(act, 1.0, method=method)) - 1)
    tol = equality_tolerance(act, method=method) if tol is None else check_finite_scalar(tol, "tol")
    ok = bool(worst_ratio < 1 and identity_err <= IDENTITY_RTOL and fixed <= tol)
    worst_ratio, identity_err = float(worst_ratio), float(identity_err)
    detail = (f"max |q_(l+1) - 1|/|q_l - 1| = {worst_ratio:.4g} over {depth} layers from q0 = "
              f"{starts.tolist()}; eq. 26 identity error {identity_err:.1e}; |E f^2 - 1| = {fixed:.1e} "
              f"(tolerance {tol:.1e})")
    if counter is None and not ok:
        counter = {"identity_error": identity_err, "E_f2_minus_1": fixed}
    return CheckResult("q_contraction", "Chen et al., Proposition 3.1 (A.2, eq. 26)", ok, 1 - worst_ratio,
                       detail, counter)


def check_backward_identity(act, *, q0=1.5, depth=20, method="auto"):
    """Proposition 3.1's gradient rate along the mean-field recursion (A.2, eq. 23).

    With unit weight variance, ``E|dL/dh_{l-1}|^2 = phi(q_{l-1}) E|dL/dh_l|^2`` (Prop. A.2)
    and ``q_l = q_{l-1} phi(q_{l-1})/(1 + delta_{q_{l-1}})`` give exactly
    ``q_l prod_{i<=l} (1 + delta_{q_{i-1}}) E|dL/dh_l|^2 = q_0 E|dL/dh_0|^2``: the gradient
    explodes at rate ``1 + delta_q`` per layer. (The proposition's statement omits ``q_l``,
    which is 1 at the fixed point.) Margin: ``IDENTITY_RTOL`` minus the relative error.
    """
    act = get_activation(act)
    q = _q_recursion(act, q0, depth, method)
    phis = maps.phi(act, q[:-1], method=method)
    deltas = _delta(act, q[:-1], method)
    grad = np.ones(depth + 1)  # E|dL/dh_l|^2 relative to the top layer
    for layer in range(depth, 0, -1):
        grad[layer - 1] = phis[layer - 1] * grad[layer]
    lhs = q[1:] * np.cumprod(1 + deltas) * grad[1:]
    rhs = q[0] * grad[0]
    err = float(np.max(np.abs(lhs / rhs - 1)))
    ok = err <= IDENTITY_RTOL
    growth = float(np.prod(1 + deltas) ** (1 / depth))
    return CheckResult("backward_identity", "Chen et al., Proposition 3.1 (A.2, eq. 23)", ok,
                       IDENTITY_RTOL - err,
                       f"q_l prod(1 + delta) E|dL/dh_l|^2 / (q_0 E|dL/dh_0|^2) - 1 up to {err:.1e} over "
                       f"{depth} layers from q0 = {q0}; mean gradient growth per layer {growth:.6g}",
                       None if ok else {"relative_error": err})


def check_mean_normalization(act=None, *, weight_mean=0.5e-3, fan_in=1000, input_mean=1.0, method="auto"):
    """Proposition 3.2: weights with mean ``mu`` scale the pre-activation mean by ``mu N``.

    ``E[h_j] = sum_i E[w_ji] E[x_i] = mu N mean(x)`` (A.3, eq. 36), so multiplication by the
    weights normalizes the mean iff ``mu N < 1``. Checked in the mean-field map: the mean after
    one layer, ``output_mean(f, mu N m, q)``, against the input mean. Margin: ``1 - mu N``.
    (The Monte-Carlo version is ``tests/test_properties.py::test_proposition_3_2_simulated``.)
    """
    mu = check_finite_scalar(weight_mean, "weight_mean")
    n = check_finite_scalar(fan_in, "fan_in")
    if n < 1:
        raise ValueError(f"fan_in must be >= 1; got {fan_in}")
    factor = abs(mu) * n
    h_mean = mu * n * input_mean
    detail = f"mu N = {factor:.4g}: pre-activation mean {h_mean:.4g} from input mean {input_mean:.4g}"
    if act is not None:
        out = float(maps.output_mean(get_activation(act), h_mean, 1.0, method=method))
        detail += f"; after f (var 1): {out:.4g}"
    ok = factor < 1
    return CheckResult("mean_normalization", "Chen et al., Proposition 3.2 (A.3)", ok, 1 - factor, detail,
                       None if ok else {"weight_mean": mu, "fan_in": n, "mu_N": factor})


def check_activation(act, *, method="auto", q_range=DEFAULT_Q_RANGE, tol=None):
    """Run every check on ``act``; returns the list of :class:`CheckResult`.

    ``tol`` is the tolerance of the equalities ``E f(z)^2 = 1`` (and ``phi(1) = 1 + eps``);
    ``None`` derives it from the rounding of the parameters (:func:`equality_tolerance`).
    """
    act = get_activation(act)
    return [
        check_definition2(act, q_range=q_range, tol=tol, method=method),
        check_gamma_range(act, q_range=q_range, method=method),
        check_gamma_linearization(act, method=method),
        check_q_contraction(act, tol=tol, method=method),
        check_backward_identity(act, method=method),
        check_mean_normalization(act, method=method),
        check_poincare(act, method=method),
        check_gpn(act, method=method),
        check_gpn_zero_mean_linear(act, method=method),
        check_selu_contraction(act, method=method),
    ]
