r"""Closed-form bivariate kernels ``E[f(u1) f(u2)]`` and ``E[f'(u1) f'(u2)]``.

``u1 = sqrt(q1) z1``, ``u2 = sqrt(q2) (c z1 + sqrt(1 - c^2) z2)``; ``theta = arccos c``.

* ``linear``: ``c sqrt(q1 q2)`` and ``1``.
* ``relu`` (arc-cosine kernel of degree 1 and 0; Cho & Saul 2009, eq. 6):
  ``sqrt(q1 q2)/(2 pi) J1(theta)``, ``J1 = sin theta + (pi - theta) cos theta``, and
  ``(pi - theta)/(2 pi)``. With ``delta = pi - theta = arccos(-c)``,
  ``J1 = sin delta - delta cos delta``, which is summed as its Taylor series
  ``sum_n (-1)^(n+1) 2n delta^(2n+1)/(2n+1)!`` for small ``delta`` (c near -1), where the two
  terms cancel.
* ``lrelu`` (``f = a x + (1 - a) relu(x)``): ``a c sqrt(q1 q2) + (1 - a)^2 K_relu`` and
  ``a + (1 - a)^2 (pi - theta)/(2 pi)`` (``E[u1 relu(u2)] = c sqrt(q1 q2)/2``).
* ``erf`` (arcsine kernel; Williams 1997, eq. 11):
  ``(2/pi) arcsin(2 c sqrt(q1 q2) / sqrt((1 + 2 q1)(1 + 2 q2)))``, written as
  ``(2/pi) atan2(2 c sqrt(q1 q2), sqrt(1 + 2 q1 + 2 q2 + 4 q1 q2 (1 - c^2)))`` so that no
  ``1 - rho^2`` is formed by cancellation, and
  ``(4/pi) / sqrt(1 + 2 q1 + 2 q2 + 4 q1 q2 (1 - c^2))``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CLOSED_KERNELS", "closed_kernel"]

#: Below this ``delta = arccos(-c)`` the ReLU kernel's ``sin delta - delta cos delta`` is
#: summed as its Taylor series (10 terms: the next is < delta^23/21! ~ 1e-21 at delta = 0.5).
_J1_SERIES_BELOW = 0.5
_J1_SERIES_TERMS = 10
_J1_COEF = np.array([(-1) ** (n + 1) * 2 * n / math.factorial(2 * n + 1)
                     for n in range(1, _J1_SERIES_TERMS + 1)])


def _one_minus_c2(c):
    return (1.0 - c) * (1.0 + c)


def _relu_j1(c):
    """``sin theta + (pi - theta) cos theta`` with theta = arccos c, accurate near c = -1."""
    delta = np.arccos(-c)
    direct = np.sqrt(np.maximum(_one_minus_c2(c), 0.0)) + delta * c
    d2 = delta * delta
    series = np.zeros_like(delta)
    for coef in _J1_COEF[::-1]:
        series = series * d2 + coef
    series *= delta * d2
    return np.where(delta < _J1_SERIES_BELOW, series, direct)


def _relu(which, q1, q2, c, params):
    if which == "f":
        return np.sqrt(q1 * q2) / (2 * math.pi) * _relu_j1(c)
    return np.arccos(-c) / (2 * math.pi)


def _lrelu(which, q1, q2, c, params):
    a = params["slope"]
    if which == "f":
        return a * c * np.sqrt(q1 * q2) + (1 - a) ** 2 * _relu("f", q1, q2, c, params)
    return a + (1 - a) ** 2 * _relu("df", q1, q2, c, params)


def _linear(which, q1, q2, c, params):
    if which == "f":
        return c * np.sqrt(q1 * q2)
    return np.ones_like(c)


def _erf(which, q1, q2, c, params):
    root = np.sqrt(1 + 2 * q1 + 2 * q2 + 4 * q1 * q2 * _one_minus_c2(c))
    if which == "f":
        return (2 / math.pi) * np.arctan2(2 * c * np.sqrt(q1 * q2), root)
    return (4 / math.pi) / root


#: built-in activation name -> kernel(which, q1, q2, c, params)
CLOSED_KERNELS = {"relu": _relu, "lrelu": _lrelu, "linear": _linear, "erf": _erf}


def closed_kernel(act):
    """The closed kernel of a built-in activation, or None.

    Matched by name *and* SymPy template, so a user activation that merely shares a name
    (or an affine transform of a built-in) does not get a built-in's kernel.
    """
    from meanfield.activations import get_activation

    kernel = CLOSED_KERNELS.get(act.name)
    if kernel is None or act.template is None:
        return None
    return kernel if act.template == get_activation(act.name).template else None
