"""Weight matrices of the simulated nets, as small linear operators.

A layer's weights depend only on ``(seed, layer)``: they come from the backend's
random stream number ``layer`` of ``seed`` (stream 0 draws the input and the loss
vector). Nets of different depth, batch or activation with the same seed therefore
share their weights (common random numbers), and the backward pass can redraw a
layer's weights instead of keeping them.
"""

from __future__ import annotations

import math

import numpy as np

from meanfield._validation import check_finite_scalar, check_int, check_positive_scalar, check_seed
from meanfield.backends import check_dtype, get_backend

__all__ = ["WEIGHT_KINDS", "DenseWeights", "HaarWeights", "make_weights", "layer_weights"]

#: Valid values of ``weights=``.
WEIGHT_KINDS = ("gaussian", "orthogonal")


class DenseWeights:
    """A materialized ``n x n`` matrix ``W``: ``forward(x) = W x``, ``backward(d) = W^T d``."""

    bias = None  # the layer's bias vector (n x 1) when bias_var > 0, set by make_weights

    def __init__(self, backend, matrix):
        self.backend = backend
        self.matrix = matrix

    def forward(self, x):
        return self.backend.matmul(self.matrix, x)

    def backward(self, d):
        return self.backend.matmul(self.matrix.T, d)

    def dense(self):
        return self.matrix


class HaarWeights:
    """``W = scale * Q diag(s) + shift * 1 1^T`` with ``Q diag(s)`` Haar, kept as reflectors.

    ``forward(x) = scale * Q diag(s) x + shift * 1 (1^T x)`` and ``backward`` its
    transpose, each ``O(n^2)`` per column (LAPACK ``ormqr``).
    """

    bias = None  # the layer's bias vector (n x 1) when bias_var > 0, set by make_weights

    def __init__(self, backend, factors, scale, shift):
        self.backend = backend
        self.factors = factors
        self.scale = float(scale)
        self.shift = float(shift)

    def _apply(self, x, transpose):
        y = self.backend.apply_orthogonal(self.factors, x, transpose=transpose)
        if self.scale != 1.0:
            y *= y.dtype.type(self.scale)
        if self.shift:
            y += y.dtype.type(self.shift) * x.sum(axis=0, keepdims=True)
        return y

    def forward(self, x):
        return self._apply(x, False)

    def backward(self, d):
        return self._apply(d, True)

    def dense(self):
        q = self.backend.factors_to_dense(self.factors)
        q *= q.dtype.type(self.scale)
        if self.shift:
            q += q.dtype.type(self.shift)
        return q


def make_weights(backend, seed, layer, *, width, weights, weight_var, weight_mean,
                 centralize_weights, dtype, implicit, bias_var=0.0):
    """Draw layer ``layer``'s weights of net ``seed`` as an operator (see module docstring).

    ``"gaussian"``: entries ``N(weight_mean, weight_var / n)``. ``"orthogonal"``:
    ``sqrt(weight_var) Q + weight_mean`` with ``Q`` Haar. ``centralize_weights``
    subtracts the mean of all entries, ``W - mean(W)`` (Chen et al., Sec. 5, weight
    centralization). ``implicit`` keeps Haar matrices as reflectors (NumPy backend).
    With ``bias_var > 0`` the operator's ``bias`` is ``b_l ~ N(0, bias_var I_n)``, drawn from the
    same stream after the weights (so nets that differ only in ``bias_var`` share their weights).
    """
    rng = backend.rng(seed, layer)
    op = _draw_weights(backend, rng, width=width, weights=weights, weight_var=weight_var,
                       weight_mean=weight_mean, centralize_weights=centralize_weights, dtype=dtype,
                       implicit=implicit)
    if bias_var > 0:
        b = backend.standard_normal(rng, (width, 1), "float64")
        b *= math.sqrt(bias_var)
        op.bias = b.astype(dtype, copy=False)
    return op


def _draw_weights(backend, rng, *, width, weights, weight_var, weight_mean, centralize_weights, dtype,
                  implicit):
    n = width
    if weights == "gaussian":
        w = backend.gaussian(rng, n, var=weight_var, mean=weight_mean, dtype="float64")
        if centralize_weights:
            w -= w.mean()
        return DenseWeights(backend, w.astype(dtype, copy=False))
    scale = math.sqrt(weight_var)
    if implicit:
        factors = backend.haar_factors(rng, n, dtype=dtype)
        shift = float(weight_mean)
        if centralize_weights:
            # mean(Q diag(s)) = 1^T Q diag(s) 1 / n^2, one O(n^2) product
            ones = np.ones((n, 1), dtype=factors.reflectors.dtype)
            c = float(backend.apply_orthogonal(factors, ones).sum(dtype=np.float64)) / n**2
            shift = -scale * c
        return HaarWeights(backend, factors, scale, shift)
    q = backend.orthogonal(rng, n, dtype="float64")
    q *= scale
    if weight_mean:
        q += float(weight_mean)
    if centralize_weights:
        q -= q.mean()
    return DenseWeights(backend, q.astype(dtype, copy=False))


def check_weight_config(weights, weight_var, weight_mean):
    """Validate the weight distribution's arguments; return ``(weight_var, weight_mean)`` as floats."""
    if weights not in WEIGHT_KINDS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_KINDS)}; got {weights!r}")
    weight_var = check_positive_scalar(weight_var, "weight_var")
    return weight_var, check_finite_scalar(weight_mean, "weight_mean")


def layer_weights(seed, layer, *, width, weights="gaussian", weight_var=1.0, weight_mean=0.0,
                  centralize_weights=False, dtype="float64", backend="numpy"):
    """The dense weight matrix ``W_layer`` that :func:`~meanfield.simulation.simulate` uses.

    Parameters
    ----------
    seed : int
        The net's seed (``>= 0``).
    layer : int
        Layer index ``l >= 1``.
    width, weights, weight_var, weight_mean, centralize_weights, dtype, backend
        As in :func:`~meanfield.simulation.simulate`.

    Returns
    -------
    ndarray, shape (width, width)
        NumPy array (copied from the device for ``backend="cupy"``).

    Examples
    --------
    >>> W = layer_weights(0, 1, width=4, weights="orthogonal")
    >>> bool(np.allclose(W @ W.T, np.eye(4)))
    True
    """
    be = get_backend(backend)
    seed = check_seed(seed)
    layer = check_int(layer, "layer")
    width = check_int(width, "width")
    weight_var, weight_mean = check_weight_config(weights, weight_var, weight_mean)
    op = make_weights(be, seed, layer, width=width, weights=weights, weight_var=weight_var,
                      weight_mean=weight_mean,
                      centralize_weights=bool(centralize_weights), dtype=check_dtype(dtype),
                      implicit=be.implicit_orthogonal)
    return be.to_numpy(op.dense())
