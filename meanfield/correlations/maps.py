r"""Two-input maps: covariance, derivative covariance, the c-map and its slope.

Throughout ``u1 = sqrt(q1) z1``, ``u2 = sqrt(q2) (c z1 + sqrt(1 - c^2) z2)`` with ``z1, z2``
independent standard normal, so ``(u1, u2)`` is centred Gaussian with variances ``q1, q2`` and
correlation ``c`` (Poole et al. 2016, eq. 4). ``sigma_w^2 = weight_var``,
``sigma_b^2 = bias_var``. Every map broadcasts its array arguments like NumPy and takes
``method="auto" | "closed" | "quadrature" | "mpmath"``.

>>> round(float(covariance("relu", 1.0, 1.0, 0.0)), 12)  # 1/(2 pi): arc-cosine kernel
0.159154943092
>>> float(correlation_map("tanh", 1.0, weight_var=2.0, bias_var=0.1))  # c = 1 is always fixed
1.0
"""

from __future__ import annotations

import numpy as np

from meanfield._validation import as_real_array, check_finite_scalar
from meanfield.correlations._kernels import as_activation, bivariate, check_correlation

__all__ = ["covariance", "derivative_covariance", "correlation_map", "chi_c"]


def covariance(act, q1, q2, c, *, method="auto"):
    r"""``E[f(u1) f(u2)]``: the covariance kernel of one random layer (Poole et al. 2016, eq. 5).

    At ``c = 1`` and ``q1 = q2 = q`` it equals :func:`~meanfield.maps.second_moment` ``(q)``
    exactly (the same engine computes it).

    Parameters
    ----------
    act : Activation or str
    q1, q2 : array_like
        Second moments of the two pre-activations, ``> 0``.
    c : array_like
        Their correlation, in ``[-1, 1]`` (both ends included).
    method : {"auto", "closed", "quadrature", "mpmath"}
        ``"closed"``: closed kernels (ReLU and leaky ReLU arc-cosine, erf arcsine, linear) or a
        closed inner integral with a one-dimensional outer rule (SELU family, ELU, GELU, their
        affine/GPN versions); ``"quadrature"``: any activation (kink-aware nested rule);
        ``"mpmath"``: arbitrary-precision reference; ``"auto"``: closed where available.

    Returns
    -------
    ndarray or float

    Raises
    ------
    ValueError
        ``q1``/``q2`` not positive and finite, ``c`` outside ``[-1, 1]`` or NaN, or an unknown method.

    Examples
    --------
    >>> float(covariance("linear", 2.0, 8.0, 0.5))  # c sqrt(q1 q2)
    2.0
    >>> round(float(covariance("erf", 1.0, 1.0, 1.0)), 12)  # (2/pi) arcsin(2/3)
    0.464559054398
    >>> bool(abs(covariance("tanh", 1.0, 1.0, 0.0)) < 1e-15)  # odd f: uncorrelated outputs
    True
    """
    return bivariate(as_activation(act), "f", q1, q2, c, method)


def derivative_covariance(act, q1, q2, c, *, method="auto"):
    r"""``E[f'(u1) f'(u2)]`` (Schoenholz et al. 2017, eq. 5 without ``sigma_w^2``).

    At ``c = 1`` and ``q1 = q2 = q`` it equals :func:`~meanfield.maps.phi` ``(q)`` exactly. By
    Price's theorem it is ``d covariance / d c`` divided by ``sqrt(q1 q2)``.

    Parameters and errors as :func:`covariance`.

    Examples
    --------
    >>> float(derivative_covariance("relu", 3.0, 5.0, 0.0))  # P(u1 > 0, u2 > 0)
    0.25
    >>> round(float(derivative_covariance("erf", 1.0, 1.0, 0.0)), 12)  # (4/pi)/3
    0.424413181578
    """
    return bivariate(as_activation(act), "df", q1, q2, c, method)


def _fixed_q(act, q, weight_var, bias_var, method):
    from meanfield.correlations.fixed_points import fixed_point, q_floor

    if q is None:
        return q_floor(fixed_point(act, weight_var, bias_var, method=method))
    return as_real_array(q, "q", positive=True)


def _layer_args(weight_var, bias_var):
    weight_var = check_finite_scalar(weight_var, "weight_var")
    if weight_var <= 0:
        raise ValueError(f"weight_var must be > 0 (valid range: (0, inf)); got {weight_var}")
    bias_var = check_finite_scalar(bias_var, "bias_var")
    if bias_var < 0:
        raise ValueError(f"bias_var must be >= 0 (valid range: [0, inf)); got {bias_var}")
    return weight_var, bias_var


def correlation_map(act, c, *, weight_var=1.0, bias_var=0.0, q=None, method="auto"):
    r"""The c-map: the correlation of the next layer's pre-activations (Poole et al. 2016, eq. 5).

    .. math:: c \mapsto \frac{\sigma_w^2\, E[f(u_1) f(u_2)] + \sigma_b^2}
                             {\sigma_w^2\, E[f(u_1)^2] + \sigma_b^2},
              \qquad q_1 = q_2 = q,

    at ``q = q*`` (:func:`~meanfield.correlations.fixed_point`) by default, where the denominator is
    ``q*`` itself, so this is the issue's ``(sigma_w^2 covariance(q, q, c) + sigma_b^2)/q``.
    For a given ``q`` off the fixed point the denominator is the next layer's second moment
    ``sigma_w^2 second_moment(q) + sigma_b^2``: the map then returns a correlation (in
    ``[-1, 1]``, 1 at ``c = 1``) rather than a covariance over the previous ``q``. Where
    ``q* = 0`` (ordered attractor without bias) the limit ``q -> 0`` is taken at ``q = 1e-30``.

    Parameters
    ----------
    act : Activation or str
    c : array_like
        Input correlation(s) in ``[-1, 1]``.
    weight_var : float, > 0
    bias_var : float, >= 0
    q : array_like, optional
        Pre-activation second moment (default: the fixed point ``q*``).
    method : {"auto", "closed", "quadrature", "mpmath"}

    Examples
    --------
    >>> round(float(correlation_map("relu", 0.0, weight_var=2.0, q=1.0)), 12)  # 1/pi
    0.318309886184
    """
    act = as_activation(act)
    weight_var, bias_var = _layer_args(weight_var, bias_var)
    c = check_correlation(c)
    q = _fixed_q(act, q, weight_var, bias_var, method)
    cov = np.asarray(covariance(act, q, q, c, method=method))
    second = np.asarray(covariance(act, q, q, np.ones_like(cov), method=method))
    out = (weight_var * cov + bias_var) / (weight_var * second + bias_var)
    return out[()] if out.ndim == 0 else out


def chi_c(act, c, *, weight_var=1.0, bias_var=0.0, q=None, method="auto"):
    r"""Slope of the c-map, ``d c_{l+1} / d c_l`` (Poole et al. 2016; Schoenholz et al. 2017, eq. 5).

    .. math:: \chi_c = \frac{\sigma_w^2\, q\, E[f'(u_1) f'(u_2)]}{\sigma_w^2 E[f(u_1)^2] + \sigma_b^2}
              = \sigma_w^2 E[f'(u_1) f'(u_2)] \quad (q = q^*),

    by Price's theorem ``d E[f(u1) f(u2)]/dc = q E[f'(u1) f'(u2)]``. With ``q`` omitted this
    is Schoenholz et al.'s ``sigma_w^2 E[f'(u1) f'(u2)]`` at ``q*`` (also where ``q* = 0``,
    with ``q*`` taken as ``1e-30``), and at ``c = 1`` it is :func:`~meanfield.correlations.chi1`. With ``q``
    given it is the slope of :func:`correlation_map` at that ``q``. Parameters as
    :func:`correlation_map`.

    Examples
    --------
    >>> float(chi_c("relu", 1.0, weight_var=2.0, q=1.0))
    1.0
    """
    act = as_activation(act)
    weight_var, bias_var = _layer_args(weight_var, bias_var)
    c = check_correlation(c)
    at_fixed_point = q is None
    q = _fixed_q(act, q, weight_var, bias_var, method)
    dcov = np.asarray(derivative_covariance(act, q, q, c, method=method))
    if at_fixed_point:
        out = weight_var * dcov
        return out[()] if out.ndim == 0 else out
    second = np.asarray(covariance(act, q, q, np.ones_like(dcov), method=method))
    out = weight_var * q * dcov / (weight_var * second + bias_var)
    return out[()] if out.ndim == 0 else out
