"""Parts of the mean-field prediction of a trace beyond the q-recursion: stability and the c-map.

Used by :func:`meanfield.trace.theory_profile`.

Stability (Klambauer et al., Sec. "Stable and attracting fixed points"; Poole et al. 2016)
-----------------------------------------------------------------------------------------
Layer ``l`` maps the input moments ``(m_{l-1}, s_{l-1})`` (mean and second moment of the
entries of ``x_{l-1}``) to ``(m_l, s_l) = (E f(h), E f(h)^2)``, ``h ~ N(M, V)`` with
``M = mu_eff n m_{l-1}`` and ``V = weight_var s_{l-1} + bias_var``. Its Jacobian is::

    J = [[mu_eff n dE[f]/dM,    weight_var dE[f]/dV  ],
         [mu_eff n dE[f^2]/dM,  weight_var dE[f^2]/dV]]

with the derivatives computed exactly by the engines (as in
:func:`meanfield.maps.selu_map_jacobian`). Its spectral radius is the recursion's local
stability: with zero-mean weights it is ``weight_var d second_moment / dq``, the slope of the
q-map. Where the predicted profile sits on a fixed point whose radius exceeds 1, finite-width
fluctuations grow away from it and a finite net does not follow the prediction.

The c-map (Poole et al. 2016, eq. 4 and 5; Schoenholz et al. 2017)
------------------------------------------------------------------
For two inputs with pre-activation second moments ``q_l`` and cross moment ``q^{ab}_l`` (zero-mean
weights)::

    q^{ab}_{l+1} = weight_var covariance(f, q_l, q_l, c_l) + bias_var,   c_l = q^{ab}_l / q_l,

``covariance(f, q1, q2, c) = E[f(u1) f(u2)]``, ``u1 = sqrt(q1) z1``,
``u2 = sqrt(q2) (c z1 + sqrt(1 - c^2) z2)``. Off the q fixed point the denominator is the next
layer's ``q_{l+1}`` (``correlation_map`` at ``q = q*`` is the fixed-point case).
"""

from __future__ import annotations

import numpy as np

__all__ = ["layer_map_radius", "correlation_profile", "covariance"]

#: Gauss-Hermite nodes of the placeholder covariance's outer integral over z1.
_PLACEHOLDER_NODES = 160


def layer_map_radius(act, big_m, big_v, *, mu_n, weight_var, method="auto"):
    """Spectral radius of the layer map's Jacobian at pre-activation moments ``(M_l, V_l)``, per layer.

    Parameters
    ----------
    act : Activation
    big_m, big_v : ndarray
        Mean and variance of the pre-activations per layer.
    mu_n : float
        ``mu_eff * n`` (0 for zero-mean or centralized weights).
    weight_var : float
    """
    from meanfield.maps import _moment

    big_m, big_v = np.asarray(big_m, dtype=float), np.asarray(big_v, dtype=float)
    jac = np.zeros(big_m.shape + (2, 2))
    jac[..., 0, 1] = weight_var * _moment(act, "f", big_m, big_v, method, "var")
    jac[..., 1, 1] = weight_var * _moment(act, "f2", big_m, big_v, method, "var")
    if mu_n:
        jac[..., 0, 0] = mu_n * _moment(act, "f", big_m, big_v, method, "mean")
        jac[..., 1, 0] = mu_n * _moment(act, "f2", big_m, big_v, method, "mean")
    return np.abs(np.linalg.eigvals(jac)).max(axis=-1)


def correlation_profile(act, q, *, input_cross_moment, weight_var, bias_var, method="auto"):
    """Predicted mean pairwise correlation ``c_l`` of the pre-activations, per layer.

    Parameters
    ----------
    act : Activation
    q : ndarray
        Pre-activation second moments ``q_1..q_L`` (zero-mean weights: ``q_l = V_l``).
    input_cross_moment : float
        ``E[x_{0,a} x_{0,b}]`` for two distinct inputs (``input_var c0 + input_mean^2``).
    """
    q = np.asarray(q, dtype=float)
    c = np.empty_like(q)
    c[0] = (weight_var * input_cross_moment + bias_var) / q[0]
    for j in range(1, q.size):
        cross = weight_var * covariance(act, q[j - 1], q[j - 1], float(np.clip(c[j - 1], -1, 1)),
                                        method=method) + bias_var
        c[j] = cross / q[j]
    return c


def covariance(act, q1, q2, c, *, method="auto"):
    """``E[f(u1) f(u2)]`` (DESIGN.md, Correlations): ``meanfield.covariance`` once it exists.

    PLACEHOLDER until helper "corr"'s ``meanfield.covariance(act, q1, q2, c, *, method)`` lands:
    ``E_{z1}[f(sqrt(q1) z1) E[f(u2) | z1]]`` with the inner expectation
    ``output_mean(act, sqrt(q2) c z1, q2 (1 - c^2))`` from the exact engines and the outer one by
    Gauss-Hermite quadrature (:data:`_PLACEHOLDER_NODES` nodes; spectrally accurate for smooth
    ``f`` such as tanh, algebraically for kinks).
    """
    import meanfield

    exact = getattr(meanfield, "covariance", None)
    if exact is not None:
        return float(exact(act, q1, q2, c, method=method))
    from meanfield.maps import output_mean

    z, w = np.polynomial.hermite_e.hermegauss(_PLACEHOLDER_NODES)
    w = w / w.sum()
    outer = np.asarray(act.f(np.sqrt(q1) * z), dtype=float)
    rest = q2 * (1.0 - c * c)
    if rest <= 1e-14 * q2:  # |c| = 1: u2 = sign(c) sqrt(q2) z1
        inner = np.asarray(act.f(np.sign(c) * np.sqrt(q2) * z), dtype=float)
    else:
        inner = np.asarray(output_mean(act, np.sqrt(q2) * c * z, rest, method=method), dtype=float)
    return float(np.sum(w * outer * inner))
