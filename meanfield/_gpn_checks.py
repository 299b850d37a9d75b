"""Property checks beyond Chen et al.'s propositions: the Gaussian-Poincare inequality, GPN (Lu,
Gould & Ajanthan; Yuan & Zhu) and Klambauer et al.'s contraction. Re-exported by
:mod:`meanfield.properties`, where they are documented.
"""

from __future__ import annotations

import math

import numpy as np

from meanfield import maps
from meanfield._check_result import CheckResult
from meanfield._validation import as_real_array
from meanfield.activations import get_activation

__all__ = ["check_poincare", "check_gpn", "check_gpn_equalities", "check_gpn_zero_mean_linear",
           "check_selu_contraction"]


def check_poincare(act, *, var=(0.1, 1.0, 10.0), method="auto"):
    """Gaussian-Poincare inequality ``Var f(x) <= var E f'(x)^2`` (R score <= 0, Yuan & Zhu eq. 19).

    Holds for every differentiable ``f``; a violation means ``f'`` does not match ``f``.
    Margin: ``-max R`` (R = ln(Var f / (var E f'^2))).
    """
    act = get_activation(act)
    var = as_real_array(var, "var", positive=True).ravel()
    r = np.atleast_1d(maps.r_score(act, var, method=method))
    worst = int(np.argmax(r))
    ok = bool(r[worst] <= 1e-12)  # linear functions sit at R = 0 up to rounding
    return CheckResult("poincare", "Gaussian-Poincare inequality", ok, float(-r[worst]),
                       f"R score in [{r.min():.4g}, {r.max():.4g}] at var = {var.tolist()}",
                       None if ok else {"var": float(var[worst]), "r_score": float(r[worst])})


def check_gpn(act, *, sign=1, method="auto", tol=1e-10):
    """Lu, Gould & Ajanthan: the GPN version ``a f + b`` has ``E[(af+b)^2] = E[(af')^2] = 1``."""
    act = get_activation(act)
    return check_gpn_equalities(act.gpn(sign=sign, method=method), method=method, tol=tol,
                                label=f"GPN version of {act.name}")


def check_gpn_equalities(act, *, method="auto", tol=1e-10, label=None):
    """Whether ``act`` itself is GPN: ``E[f(z)^2] = E[f'(z)^2] = 1`` (Lu, Gould & Ajanthan).

    ``label`` names the activation in the detail (default: its name).
    """
    gpn = get_activation(act)
    second = float(maps.second_moment(gpn, 1.0, method=method))
    grad = float(maps.phi(gpn, 1.0, method=method))
    err = max(abs(second - 1), abs(grad - 1))
    ok = err <= tol
    return CheckResult("gpn", "Lu, Gould & Ajanthan (GPN)", ok, tol - err,
                       f"{label or gpn.name}: E[f^2] = {second:.12g}, E[f'^2] = {grad:.12g}",
                       None if ok else {"E_gpn_sq": second, "E_gpn_prime_sq": grad})


def check_gpn_zero_mean_linear(act, *, method="auto", tol=1e-9):
    """Lu et al. / Yuan & Zhu: a GPN function has zero mean only if it is linear.

    For the GPN version, ``E[a f + b] = sqrt(1 - a^2 Var f) = sqrt(1 - exp(R))`` with ``R`` the
    R score at var 1. So the mean is 0 exactly when ``R = 0``, i.e. ``f`` is linear. Checked:
    the GPN mean equals ``sqrt(1 - e^R)`` and is > ``tol`` unless ``f`` is linear (R = 0).
    """
    act = get_activation(act)
    gpn = act.gpn(method=method)
    mean = float(maps.output_mean(gpn, 0.0, 1.0, method=method))
    r = float(maps.r_score(act, 1.0, method=method))
    predicted = math.sqrt(max(0.0, -math.expm1(r)))
    linear = abs(r) <= 1e-12
    ok = abs(mean - predicted) <= 1e-10 and (linear == (abs(mean) <= tol))
    return CheckResult("gpn_zero_mean_linear", "Lu, Gould & Ajanthan; Yuan & Zhu, Proposition", ok,
                       abs(mean) if not linear else tol - abs(mean),
                       f"GPN mean {mean:.6g} = sqrt(1 - e^R) = {predicted:.6g} (R = {r:.6g}); "
                       f"{'linear' if linear else 'nonlinear'}",
                       None if ok else {"gpn_mean": mean, "r_score": r})


def check_selu_contraction(act, *, omega=0.0, tau=1.0, method="auto", iterations=5000):
    """Klambauer et al.: the mean/variance map is a contraction near its fixed point.

    The fixed point ``(mu*, nu*)`` of :func:`meanfield.maps.selu_map` is found by iterating
    from (0, 1); the check is that iteration converges and the Jacobian there has spectral
    norm < 1 (SELU: 0.7877). Margin: ``1 - ||J||_2``.
    """
    act = get_activation(act)
    mu, nu, done = 0.0, 1.0, False
    for _ in range(iterations):
        new_mu, new_nu = (float(v) for v in maps.selu_map(act, mu, nu, omega, tau, method=method))
        if not (math.isfinite(new_mu) and math.isfinite(new_nu)) or new_nu <= 0:
            return CheckResult("selu_contraction", "Klambauer et al. (SELU map)", False, -math.inf,
                               f"the map left the domain at (mu, nu) = ({new_mu:.4g}, {new_nu:.4g})",
                               {"mu": new_mu, "nu": new_nu})
        # relative stopping rule: a contraction rate near 1 converges slowly but does converge
        done = abs(new_mu - mu) + abs(new_nu - nu) < 1e-13 * (1 + abs(new_mu) + abs(new_nu))
        mu, nu = new_mu, new_nu
        if done or nu < 1e-12 or nu > 1e12:
            break
    if not done:
        return CheckResult("selu_contraction", "Klambauer et al. (SELU map)", False, -math.inf,
                           f"no attracting fixed point with nu > 0: after {iterations} steps from (0, 1) "
                           f"(mu, nu) = ({mu:.4g}, {nu:.4g}) is still moving", {"mu": mu, "nu": nu})
    jac = maps.selu_map_jacobian(act, mu, nu, omega, tau, method=method)
    norm = float(np.linalg.norm(jac, 2))
    ok = norm < 1
    return CheckResult("selu_contraction", "Klambauer et al. (SELU map)", ok, 1 - norm,
                       f"fixed point (mu, nu) = ({mu:.6g}, {nu:.6g}), ||J||_2 = {norm:.6g}",
                       None if ok else {"mu": mu, "nu": nu, "spectral_norm": norm})
