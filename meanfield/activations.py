"""Activation functions: the built-in zoo of DESIGN.md, GPN versions and user activations.

An :class:`Activation` bundles

* a vectorized NumPy ``f`` and ``f'`` (hand-written for the built-ins so that no
  branch overflows, lambdified for user expressions),
* its parameters (a dict of floats),
* its kinks (points where ``f'`` jumps), which the quadrature engine splits at,
* its SymPy expression, written once with parameter *symbols* (``template``) so that
  the closed-form engine derives formulas once per family and reuses them for any
  parameter values (the solver evaluates thousands of them).

Built-ins (DESIGN.md, section Activations)::

    relu, lrelu(slope=0.01), elu(alpha=1), selu(lam, alpha), dselu(lam, alpha),
    sselu(lam, alpha, beta), lselu(lam, alpha, beta), tanh, sigmoid, softplus,
    gelu, swish, erf, linear, nrelu(var=1), nswish(var=1)

>>> act = get_activation("lrelu", slope=0.1)
>>> act.f([-1.0, 2.0])
array([-0.1,  2. ])
>>> act.kinks
(0.0,)
>>> get_activation("relu").gpn().params["scale"]  # ReLU-GPN is sqrt(2) x (Lu et al.)
1.414213562373095...
"""

from __future__ import annotations

from meanfield._activation import SELU_ALPHA, SELU_LAMBDA, Activation
from meanfield._builtins import ACTIVATIONS, get_activation, list_activations, normalized

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "SELU_LAMBDA",
    "SELU_ALPHA",
    "get_activation",
    "list_activations",
    "normalized",
]
