"""The mean-field prediction of a trace: :func:`theory_profile` and :class:`TraceTheory`.

The q-, mean- and gradient recursions are described in :mod:`meanfield.trace` (and re-exported
there); this module adds their stability and the c-map of two inputs.

Stability (Klambauer et al., Sec. "Stable and attracting fixed points"; Poole et al. 2016)
------------------------------------------------------------------------------------------
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

``meanfield.covariance(f, q1, q2, c) = E[f(u1) f(u2)]``, ``u1 = sqrt(q1) z1``,
``u2 = sqrt(q2) (c z1 + sqrt(1 - c^2) z2)``. Off the q fixed point the denominator is the next
layer's ``q_{l+1}`` (``correlation_map`` at ``q = q*`` is the fixed-point case).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields

import numpy as np

from meanfield._validation import (
    check_finite_scalar,
    check_input_moments,
    check_int,
    check_positive_scalar,
)
from meanfield.errors import UnstableTheoryWarning

__all__ = ["FIXED_POINT_RTOL", "UNSTABLE_RADIUS_MARGIN", "TraceTheory", "theory_profile",
           "layer_map_radius", "correlation_profile"]

#: Relative change of the predicted (m, s) between layers below which the profile is at a fixed
#: point, and the margin above 1 of the spectral radius that makes that fixed point unstable.
FIXED_POINT_RTOL = 1e-9
UNSTABLE_RADIUS_MARGIN = 1e-6


@dataclass(frozen=True)
class TraceTheory:
    """Mean-field prediction of a :class:`~meanfield.trace.Trace`'s records, arrays over layers l = 1..L.

    Attributes
    ----------
    layers : ndarray of int
    q, mean, x_sq, grad_h_sq, grad_w_fro, h_mean : ndarray
        Predictions of the records of the same name (``grad_w_fro`` is
        ``sqrt(E|dL/dW_l|_F^2)``).
    h_var : ndarray
        Variance ``V_l`` of the pre-activations.
    phi : ndarray
        ``p_l = E[f'(h_l)^2]`` (``phi(q_l)`` with zero-mean weights).
    delta : ndarray
        ``V_l p_l / s_l - 1`` (Chen et al.'s ``delta_{q_l}`` with zero-mean weights).
    input_second_moment : float
        ``s_0 = input_var + input_mean^2``.
    stability : ndarray
        Spectral radius of the Jacobian of layer ``l``'s map ``(m_{l-1}, s_{l-1}) -> (m_l, s_l)``
        (:mod:`meanfield.trace_theory`); with zero-mean weights the slope of the q-map,
        ``weight_var d second_moment/dq`` at ``q_l``. ``> 1``: perturbations grow.
    unstable : ndarray of bool
        Layers at which the profile sits on a fixed point (``(m, s)`` unchanged to
        :data:`FIXED_POINT_RTOL`) whose ``stability`` exceeds 1: an unstable branch that a finite
        net leaves (a ``meanfield.UnstableTheoryWarning`` is issued);
        :attr:`unstable_from` is the first such layer.
    c : ndarray
        Predicted pairwise correlation of the pre-activations (the c-map,
        :mod:`meanfield.trace_theory`), given ``input_correlation`` and zero-mean (or
        centralized) weights. All NaN, meaning "no prediction", without ``input_correlation`` or
        with a weight mean (the inputs' pre-activations then share a random mean, outside the
        two-input recursion of Poole et al.); :attr:`has_c` tells which.
    """

    layers: np.ndarray
    q: np.ndarray
    mean: np.ndarray
    x_sq: np.ndarray
    grad_h_sq: np.ndarray
    grad_w_fro: np.ndarray
    h_mean: np.ndarray
    h_var: np.ndarray
    phi: np.ndarray
    delta: np.ndarray
    input_second_moment: float
    stability: np.ndarray
    unstable: np.ndarray
    c: np.ndarray

    @property
    def unstable_from(self):
        """First layer on an unstable fixed point (see :attr:`unstable`), or None."""
        bad = np.flatnonzero(self.unstable)
        return int(bad[0]) + 1 if bad.size else None

    @property
    def has_c(self):
        """Whether :attr:`c` holds a prediction (not the all-NaN "none")."""
        return bool(np.isfinite(self.c).any())

    @property
    def gradient_ratio(self):
        """Lu et al.'s gradient norm ratio ``max_l / min_l`` of the predicted ``grad_w_fro``."""
        return float(self.grad_w_fro.max() / self.grad_w_fro.min())

    def as_dict(self):
        """JSON-friendly dict of lists."""
        return {f.name: (getattr(self, f.name).tolist()
                         if isinstance(getattr(self, f.name), np.ndarray)
                         else getattr(self, f.name)) for f in fields(self)}


def theory_profile(act, *, depth, width, batch=16, weight_var=1.0, weight_mean=0.0, bias_var=0.0,
                   centralize_weights=False, input_mean=0.0, input_var=1.0, input_correlation=None,
                   method="auto"):
    """Mean-field prediction of :func:`~meanfield.simulation.simulate`'s records.

    The recursion of this module's docstring (Chen et al., Prop. A.1, A.2, 3.1, 3.2; Poole et
    al. 2016 for the bias and the c-map). Gaussian and orthogonal weights have the same
    prediction at this order.

    Parameters
    ----------
    act : Activation or str
    depth, width, batch, weight_var, weight_mean, bias_var, centralize_weights, input_mean, input_var
        As in :func:`~meanfield.simulation.simulate`.
    input_correlation : float, optional
        Correlation ``c0`` of the entries of two inputs; gives the ``c`` profile.
    method : {"auto", "closed", "quadrature", "mpmath"}
        Engine of the Gaussian expectations (:mod:`meanfield.maps`).

    Returns
    -------
    TraceTheory

    Raises
    ------
    ValueError
        Bad arguments, or a recursion that leaves float64 range (the message names the layer).

    Warns
    -----
    UnstableTheoryWarning
        The profile sits on an unstable fixed point (:attr:`TraceTheory.unstable_from`).

    Examples
    --------
    >>> th = theory_profile("linear", depth=3, width=10, weight_var=2.0)
    >>> th.q.tolist()  # q_l = 2^l for the identity
    [2.0, 4.0, 8.0]
    """
    from meanfield import maps
    from meanfield._moments import _moment
    from meanfield.activations import Activation, get_activation

    act = act if isinstance(act, Activation) else get_activation(act)
    depth, width, batch = (check_int(v, k) for v, k in
                           ((depth, "depth"), (width, "width"), (batch, "batch")))
    wv = check_positive_scalar(weight_var, "weight_var")
    mu = 0.0 if centralize_weights else check_finite_scalar(weight_mean, "weight_mean")
    bv = check_finite_scalar(bias_var, "bias_var")
    if bv < 0:
        raise ValueError(f"bias_var must be >= 0 (valid range: [0, inf)); got {bv}")
    input_mean, input_var = check_input_moments(input_mean, input_var)
    s_prev = s0 = input_var + input_mean**2
    m_prev = input_mean
    n = width
    big_m, big_v, m, s, p = (np.empty(depth) for _ in range(5))
    for j in range(depth):
        mj = mu * n * m_prev
        vj = wv * s_prev + bv
        if not (math.isfinite(vj) and math.isfinite(mj) and math.isfinite(mj * mj)):
            raise ValueError(f"the mean-field recursion leaves float64 range at layer {j + 1} "
                             f"(pre-activation mean {mj:.3g}, variance {vj:.3g})")
        mean_j = float(maps.output_mean(act, mj, vj, method=method))  # checks vj > 0, finite
        # E f^2 and E f'^2 at mean mj (phi and second_moment are their mean-0 cases)
        sq_j, p_j = (float(_moment(act, quantity, mj, vj, method)) for quantity in ("f2", "df2"))
        big_m[j], big_v[j], m[j], s[j], p[j] = mj, vj, mean_j, sq_j, p_j
        m_prev, s_prev = mean_j, sq_j
    grad_h = np.empty(depth)
    grad_h[-1] = n * p[-1]
    factor = wv + n * mu * mu
    for j in range(depth - 2, -1, -1):
        grad_h[j] = factor * p[j] * grad_h[j + 1]
    s_in = np.concatenate(([s0], s[:-1]))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        grad_w = np.sqrt(batch * grad_h * n * s_in)
        delta = big_v * p / s - 1
    radius = layer_map_radius(act, big_m, big_v, mu_n=mu * n, weight_var=wv, method=method)
    unstable = _unstable_fixed_point(np.concatenate(([input_mean], m)), s_in, s, radius)
    if unstable.any():
        unstable_from = int(np.flatnonzero(unstable)[0]) + 1
        warnings.warn(
            f"theory: from layer {unstable_from} the mean-field profile sits on the fixed point "
            f"(mean, second moment) = ({m[unstable_from - 1]:.4g}, {s[unstable_from - 1]:.4g}) of its "
            f"recursion, which is unstable (spectral radius of the layer map "
            f"{radius[unstable_from - 1]:.4g} > 1): a finite net's fluctuations grow away from it, "
            f"so the simulation need not follow this prediction", UnstableTheoryWarning, stacklevel=2)
    c = np.full(depth, np.nan)
    if input_correlation is not None and mu == 0:
        cross0 = input_var * float(input_correlation) + input_mean**2
        c = correlation_profile(act, big_v, input_cross_moment=cross0, weight_var=wv, bias_var=bv,
                                method=method)
    return TraceTheory(layers=np.arange(1, depth + 1), q=big_v + big_m**2, mean=m, x_sq=s,
                       grad_h_sq=grad_h, grad_w_fro=grad_w, h_mean=big_m, h_var=big_v, phi=p,
                       delta=delta, input_second_moment=s0, stability=radius,
                       unstable=unstable, c=c)


def _unstable_fixed_point(m_in, s_in, s_out, radius):
    """Per layer: the map leaves its input (m, s) unchanged and has spectral radius > 1."""
    m_out = m_in[1:]
    m_in = m_in[:-1]
    scale = np.sqrt(np.maximum(s_out, 0))
    fixed = (np.abs(s_out - s_in) <= FIXED_POINT_RTOL * np.abs(s_out)) & \
        (np.abs(m_out - m_in) <= FIXED_POINT_RTOL * scale)
    return fixed & (radius > 1 + UNSTABLE_RADIUS_MARGIN)



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
    from meanfield._moments import _moment

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
    from meanfield.correlations import covariance

    q = np.asarray(q, dtype=float)
    c = np.empty_like(q)
    c[0] = (weight_var * input_cross_moment + bias_var) / q[0]
    for j in range(1, q.size):
        cross = weight_var * float(covariance(act, q[j - 1], q[j - 1], float(np.clip(c[j - 1], -1, 1)),
                                              method=method)) + bias_var
        c[j] = cross / q[j]
    return c
