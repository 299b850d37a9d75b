"""Memory a simulation needs, and the up-front refusal when it does not fit.

:func:`estimate_memory` is the formula documented in :func:`~meanfield.simulation.simulate`
(Notes) and checked by ``benchmarks/bench_memory.py`` against the measured peak RSS. The
backward pass needs, per layer ``l``, only what cannot be recomputed cheaply:

* ``2 batch <= width`` (Gram path): ``f'(h_l)`` (``width x batch``) and the Gram matrix
  ``x_{l-1}^T x_{l-1}`` (``batch x batch``) that gives ``|dL/dW_l|_F`` without forming it;
* ``2 batch > width``: the pre-activation ``h_l`` alone; ``x_{l-1} = f(h_{l-1})`` and
  ``f'(h_{l-1})`` are recomputed from it in the backward pass (one extra evaluation of ``f``
  per layer), so every ``x_{l-1}`` is not kept beside it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["estimate_memory", "check_memory", "WORK_ARRAYS_NB", "WORK_ARRAYS_NN"]

#: Float64 ``width x batch`` working arrays alive at once besides the kept ones: the layer's
#: input, pre-activation and output, ``f'(h)``, the gradient and its product with ``W^T``, and
#: the temporaries of evaluating ``f`` and ``f'`` (up to four for the SELU family's ``where``).
WORK_ARRAYS_NB = 10
#: Float64 ``width x width`` working arrays of one weight draw: the draw itself and, for Haar
#: matrices, the reflectors and the dense factor (or the explicit ``dL/dW_l`` of the
#: ``2 batch > width`` path).
WORK_ARRAYS_NN = 3


def estimate_memory(depth, width, batch, *, dtype="float64", cache_weights=False, n_hist=0, bins=50):
    """Bytes that :func:`~meanfield.simulation.simulate` needs for one net (nets run one at a time).

    With ``e`` the item size of ``dtype``, ``n = width``, ``B = batch``, ``L = depth``::

        kept    = e L (n B + B^2)        if 2 B <= n   (f'(h_l) and Gram(x_{l-1}))
                  e L n B                otherwise     (h_l only)
        weights = e L n^2                if cache_weights (kept for the backward pass)
        work    = 8 (WORK_ARRAYS_NB n B + WORK_ARRAYS_NN n^2)

    for either kind of weights (kept Haar reflectors also take ``n^2`` numbers), and
    ``kept + weights + work`` is returned (histograms add ``2 n_hist (2 bins + 1)``
    numbers). At ``L = 200``, ``n = 2000``, ``B = 1024``, float64: ``kept`` = 3.05 GiB and the
    total is 3.29 GiB. Checked against the measured peak RSS by ``benchmarks/bench_memory.py``.

    Parameters
    ----------
    depth, width, batch : int
        As in :func:`~meanfield.simulation.simulate`.
    dtype : {"float64", "float32"}
    cache_weights : bool
        Whether all layers' weights are kept (simulate's ``cache_weights``, resolved).
    n_hist, bins : int
        Number of histogram layers and bins.

    Returns
    -------
    int
        Bytes, host memory on the NumPy backend (device memory on CuPy).

    Examples
    --------
    >>> round(estimate_memory(200, 2000, 1024) / 2**30, 2)
    3.29
    """
    e = np.dtype(dtype).itemsize
    n, b, depth = int(width), int(batch), int(depth)
    per_layer = n * b + b * b if 2 * b <= n else n * b
    kept = e * depth * per_layer
    cached = e * depth * n * n if cache_weights else 0
    work = 8 * (WORK_ARRAYS_NB * n * b + WORK_ARRAYS_NN * n * n)
    hist = 8 * 2 * n_hist * (2 * bins + 1)
    return int(kept + cached + work + hist)


def check_memory(estimate, available, *, depth, width, batch):
    """Raise ValueError with the estimate when it exceeds the available memory (None: no check)."""
    if available is None or estimate <= available:
        return
    raise ValueError(
        f"simulate needs about {_gib(estimate)} of memory (depth={depth} x width={width} x batch={batch} "
        f"numbers kept for the backward pass plus width^2 for a weight draw; see simulate's Notes) "
        f"but only {_gib(available)} is available: reduce depth, width or batch")


def _gib(nbytes):
    return f"{nbytes / 2**30:.3g} GiB"
