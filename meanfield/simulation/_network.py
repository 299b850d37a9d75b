"""Monte-Carlo simulation of deep random fully connected nets (DESIGN.md, section Simulator)."""

from __future__ import annotations

import math
import platform
import time
import warnings
from datetime import datetime, timezone

import numpy as np

from meanfield._validation import check_input_moments, check_int
from meanfield.activations import Activation, get_activation
from meanfield.backends import check_dtype, get_backend
from meanfield.errors import NumericalWarning
from meanfield.simulation._arguments import (
    check_bias_var,
    check_bins,
    check_bool,
    check_input_correlation,
    correlated_columns,
    hist_layers,
    seed_list,
)
from meanfield.simulation._memory import check_memory, estimate_memory
from meanfield.simulation._weights import check_weight_config, make_weights
from meanfield.trace import OPTIONAL_RECORDS, RECORDS, Trace

__all__ = ["simulate", "WEIGHT_CACHE_BYTES", "DEFAULT_BATCH", "DEFAULT_N_SEEDS"]

#: Weights of all layers are kept for the backward pass while they fit in this many bytes
#: (``depth * width**2 * itemsize``); above it they are redrawn from their seeds instead.
WEIGHT_CACHE_BYTES = 1 << 30

#: Default inputs per net and number of nets, shared by :func:`simulate` and ``meanfield simulate``:
#: 4 nets give a standard error (3 degrees of freedom) for every record, and 16 inputs cost little
#: next to the ``width^2`` weight draw that dominates each layer (one product of ``n x n`` with
#: ``n x 16``).
DEFAULT_BATCH = 16
DEFAULT_N_SEEDS = 4

_ALL_RECORDS = RECORDS + OPTIONAL_RECORDS
_Q, _MEAN, _XSQ, _GH, _GW, _HMEAN, _C = (_ALL_RECORDS.index(k) for k in
                                        ("q", "mean", "x_sq", "grad_h_sq", "grad_w_fro", "h_mean", "c"))


def simulate(act, *, depth, width, batch=DEFAULT_BATCH, weights="gaussian", weight_var=1.0,
             weight_mean=0.0, bias_var=0.0, centralize_weights=False, input_mean=0.0, input_var=1.0,
             input_correlation=None, backend="auto", dtype="float64", seed=0, n_seeds=None, seeds=None,
             histogram_layers=None, bins=50, cache_weights=None, progress=False):
    """Simulate the forward and backward pass of deep random nets and record per-layer statistics.

    A fully connected net of constant width ``n`` (DESIGN.md, Simulator; Chen et al., Sec. 3 and
    eq. 1; Lu et al.'s synthetic experiments; Poole et al. 2016 for the bias and two inputs).
    For l = 1..L::

        h_l = W_l x_{l-1} + b_l,    x_l = f(h_l)

    with a batch of ``batch`` inputs as the columns of ``x_0``, entries
    ``N(input_mean, input_var)``, and ``b_l = 0`` unless ``bias_var > 0``. The backward pass
    starts from the random loss ``L = sum_b g_b . x_{L,b}`` with an independent
    ``g_b ~ N(0, I_n)`` per column::

        dL/dx_L = g,   dL/dh_l = f'(h_l) * dL/dx_l,   dL/dx_{l-1} = W_l^T dL/dh_l,
        dL/dW_l = sum_b dL/dh_{l,b} x_{l-1,b}^T.

    Parameters
    ----------
    act : Activation or str
        The activation (a built-in name or an :class:`~meanfield.activations.Activation`,
        e.g. ``get_activation("tanh").gpn()``).
    depth, width : int
        Number of layers ``L >= 1`` and width (fan-in) ``n >= 1``.
    batch : int
        Inputs per net (columns of ``x_0``), each layer being one matrix product. Default
        :data:`DEFAULT_BATCH` = 16.
    weights : {"gaussian", "orthogonal"}
        ``"gaussian"``: entries ``N(weight_mean, weight_var / n)``. ``"orthogonal"``:
        ``sqrt(weight_var) Q + weight_mean`` with ``Q`` Haar-uniform (the QR factor of a
        Gaussian matrix times ``diag(sign(diag R))``; see :mod:`meanfield.backends`).
    weight_var : float
        ``> 0``; ``n`` times the variance of the entries (``sigma_w^2``).
    weight_mean : float
        Mean ``mu`` of every entry. Chen et al., Prop. 3.2: the pre-activation mean is
        ``E[h_l] = mu n E[x_{l-1}]``, so the product with ``W_l`` shrinks the mean only when
        ``mu < 1/n``.
    bias_var : float
        ``>= 0``; each layer adds a bias ``b_l ~ N(0, bias_var I_n)`` (``sigma_b^2``; Poole et
        al. 2016), shared by the batch and drawn from the layer's stream after its weights.
    centralize_weights : bool
        Subtract each matrix's mean of entries, ``W - mean(W)`` (Chen et al., Sec. 5,
        weight centralization), which removes the ``mu n`` factor above.
    input_mean, input_var : float
        Mean and variance (``>= 0``) of the entries of ``x_0``; its second moment
        ``input_var + input_mean^2`` must be ``> 0`` and finite. Mixup with interpolation weight
        ``gamma`` (Chen et al., Sec. 5) multiplies the input second moment by
        ``gamma^2 + (1 - gamma)^2`` (0.58 for ``gamma = 0.7``): simulate it by scaling
        ``input_var`` and ``input_mean^2`` by that factor.
    input_correlation : float, optional
        ``c0`` in ``[-1/(batch-1), 1]`` (needs ``batch >= 2``): the inputs of a batch are
        equicorrelated, ``Corr(x_{0,a,i}, x_{0,b,i}) = c0`` for ``a != b``, with equal second
        moments, and the trace records ``c``, the mean pairwise correlation of the
        pre-activations per layer (theory: the c-map, :meth:`~meanfield.trace.Trace.theory`).
        None (default): independent inputs, no ``c`` record.
    backend : {"auto", "numpy", "cupy"}
        See :func:`meanfield.backends.get_backend`.
    dtype : {"float64", "float32"}
        Precision of the net. Random numbers are drawn in float64 and rounded, so the
        two precisions simulate the same nets up to rounding.
    seed : int or None
        Seed of the first net (``>= 0``); ``None`` draws one (recorded in the trace).
    n_seeds : int, optional
        Number of independent nets, seeds ``seed, seed + 1, ..., seed + n_seeds - 1`` (all
        ``<= 2**63 - 1``). Default :data:`DEFAULT_N_SEEDS` = 4, so that every statistic has a
        standard error.
    seeds : sequence of int, optional
        Explicit seeds (instead of ``seed``/``n_seeds``). Net ``s`` uses the backend's
        random streams of ``s`` only: stream 0 draws ``x_0`` then ``g``, stream ``l`` the
        weights (then the bias) of layer ``l`` (NumPy: ``Generator(PCG64(seed))`` and
        ``Generator(PCG64(SeedSequence(seed, spawn_key=(l,))))``), so the same seed gives
        bit-identical NumPy results and nets that differ only in activation, depth or bias
        share their weights.
    histogram_layers : sequence of int, optional
        Layers (1..L) at which to histogram the entries of ``x_l`` and ``f'(h_l)``
        (Lu et al.'s singular-value histograms of the activation Jacobian).
    bins : int or array_like
        Number of bins (each histogram spans its data) or shared bin edges.
    cache_weights : bool, optional
        Keep all weights for the backward pass (``depth * width^2`` numbers) or redraw
        each layer's from its seed. Default: keep them while they fit in
        :data:`WEIGHT_CACHE_BYTES`. Both give identical results.
    progress : bool
        Show a tqdm progress bar over layers when tqdm is importable (silently nothing
        otherwise).

    Returns
    -------
    Trace
        Per-layer records of shape ``(n_seeds, depth)`` over l = 1..L: ``q`` (mean over the
        batch of ``|h_l|^2/n``), ``mean`` (mean of the entries of ``x_l``), ``x_sq``
        (``|x_l|^2/n``), ``grad_h_sq`` (``|dL/dh_l|^2`` per input, batch mean),
        ``grad_w_fro`` (``|dL/dW_l|_F`` of the batch), ``h_mean`` (mean of the entries of
        ``h_l``), and ``c`` with ``input_correlation``; :meth:`~meanfield.trace.Trace.theory`
        gives the mean-field prediction of each.

    Raises
    ------
    ValueError
        An argument outside its valid range (the message names it), a backend that
        cannot run here, or a memory estimate (Notes) above the memory available.

    Warns
    -----
    NumericalWarning
        Some records are not finite (overflow of the dtype): the warning names the records
        and layers, and :attr:`~meanfield.trace.Trace.first_nonfinite_layer` records them.

    Notes
    -----
    Cost per net and layer: one weight draw (``n^2`` Gaussians; ``n^2/2`` and ``O(n^2)``
    work for implicit Haar matrices on NumPy), two products with ``W_l`` (one
    for ``l = 1``), ``f`` and ``f'`` on ``n x batch`` entries, and ``batch x batch`` Gram
    matrices: ``|dL/dW_l|_F^2 = sum_{b,b'} (d_b . d_b')(x_b . x_b')`` never forms the
    ``n x n`` gradient while ``2 batch <= n``.

    Memory (:func:`~meanfield.simulation.estimate_memory`; ``e`` bytes per number): the
    backward pass keeps ``e L (n B + B^2)`` bytes (``f'(h_l)`` and ``Gram(x_{l-1})``) when
    ``2 B <= n`` and ``e L n B`` (``h_l`` alone; ``x_{l-1}`` and ``f'(h_{l-1})`` are recomputed
    from it) otherwise, plus ``e L n^2`` for kept weights, plus a working set of
    ``8 (10 n B + 3 n^2)``. At ``L = 200``, ``n = 2000``, ``B = 1024`` in float64: 3.05 GiB
    kept, 3.29 GiB in all. ``simulate`` refuses (ValueError with the estimate) when this
    exceeds the memory the backend reports available.

    >>> tr = simulate("selu", depth=3, width=64, batch=4, backend="numpy", n_seeds=2)
    >>> tr.q.shape
    (2, 3)
    """
    act = act if isinstance(act, Activation) else get_activation(act)
    depth = check_int(depth, "depth")
    width = check_int(width, "width")
    batch = check_int(batch, "batch")
    weight_var, weight_mean = check_weight_config(weights, weight_var, weight_mean)
    bias_var = check_bias_var(bias_var)
    centralize_weights = check_bool(centralize_weights, "centralize_weights")
    input_mean, input_var = check_input_moments(input_mean, input_var)
    input_correlation = check_input_correlation(input_correlation, batch)
    progress = check_bool(progress, "progress")
    dtype = check_dtype(dtype)
    be = get_backend(backend)
    seed_values = seed_list(seed, n_seeds, seeds, DEFAULT_N_SEEDS)
    hist_at = hist_layers(histogram_layers, depth)
    bins = check_bins(bins)
    implicit = weights == "orthogonal" and be.implicit_orthogonal and 3 * batch < width
    need = depth * width * width * dtype.itemsize
    if cache_weights is None:
        cache_weights = need <= WEIGHT_CACHE_BYTES
    cache_weights = check_bool(cache_weights, "cache_weights")
    estimate = estimate_memory(depth, width, batch, dtype=dtype, cache_weights=cache_weights,
                               n_hist=len(hist_at), bins=bins if isinstance(bins, int) else len(bins) - 1)
    check_memory(estimate, be.available_memory(), depth=depth, width=width, batch=batch)

    config = dict(width=width, weights=weights, weight_var=weight_var, weight_mean=weight_mean,
                  centralize_weights=centralize_weights, dtype=dtype, implicit=implicit,
                  bias_var=bias_var)
    inputs = (input_mean, input_var, input_correlation)
    record_c = input_correlation is not None
    records = np.empty((len(_ALL_RECORDS), len(seed_values), depth))
    net_hists = []  # per net: {"x": [(counts, edges) per layer], "df": [...]}
    bar = _progress_bar(progress, 2 * depth * len(seed_values))
    start = time.perf_counter()
    try:
        for i, s in enumerate(seed_values):
            rec, h = _run_net(be, act, s, depth, batch, inputs, config, cache_weights, hist_at, bins,
                              bar, record_c)
            records[:, i, :] = rec
            net_hists.append(h)
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - start

    histograms = None
    if hist_at:
        histograms = {"layers": np.asarray(hist_at, dtype=np.int64)}
        for k in ("x", "df"):  # shape (n_seeds, len(hist_layers), bins [+ 1])
            histograms[k] = np.array([[c for c, _ in h[k]] for h in net_hists])
            histograms[f"{k}_edges"] = np.array([[e for _, e in h[k]] for h in net_hists])
    params = dict(depth=depth, width=width, batch=batch, weights=weights, weight_var=weight_var,
                  weight_mean=weight_mean, centralize_weights=centralize_weights,
                  input_mean=input_mean, input_var=input_var)
    if bias_var:  # only when used, so that traces without bias keep their metadata
        params["bias_var"] = bias_var
    if record_c:
        params["input_correlation"] = input_correlation
    provenance = dict(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        elapsed_s=elapsed, device=be.describe(), numpy_version=np.__version__,
        python_version=platform.python_version(), cache_weights=cache_weights,
        implicit_orthogonal=implicit, memory_estimate_bytes=estimate)
    kept = {k: records[j] for j, k in enumerate(_ALL_RECORDS) if k != "c" or record_c}
    trace = Trace(kept, seeds=seed_values, activation=act, params=params, backend=be.name,
                  dtype=dtype.name, histograms=histograms, provenance=provenance)
    if trace.first_nonfinite_layer is not None:
        warnings.warn(f"simulate: {trace.describe_nonfinite()}", NumericalWarning, stacklevel=2)
    return trace


def _draw_inputs(be, seed, batch, n, input_mean, input_var, input_correlation, dtype):
    """``x_0`` (columns are inputs) and the loss vectors ``g`` from stream 0 of ``seed``."""
    rng0 = be.rng(seed, 0)
    # rows drawn per input so a smaller batch is a prefix of a larger one (independent inputs)
    x = be.standard_normal(rng0, (batch, n), "float64").T
    g = be.standard_normal(rng0, (batch, n), "float64").T.astype(dtype)
    if input_correlation is not None:
        x = correlated_columns(x, input_correlation)
    x = (x * math.sqrt(input_var) + input_mean).astype(dtype)
    return x, g


def _mean_correlation(be, h):
    """Mean over pairs a < b of ``h_a . h_b / (|h_a| |h_b|)`` for the columns of ``h``."""
    xp = be.xp
    gram = be.gram(h).astype(np.float64)
    norms = xp.sqrt(xp.diagonal(gram))
    corr = gram / norms[:, None] / norms[None, :]
    b = gram.shape[0]
    return (corr.sum() - xp.trace(corr)) / (b * (b - 1))


def _run_net(be, act, seed, depth, batch, inputs, config, cache, hist_layers, bins, bar, record_c):
    """One net: forward pass keeping what the backward pass needs, then the backward pass.

    Kept per layer (see :mod:`meanfield.simulation._memory`): with ``2 batch <= width``,
    ``f'(h_l)`` and ``Gram(x_{l-1})``; otherwise ``h_l`` alone, from which the backward pass
    recomputes ``x_{l-1} = f(h_{l-1})`` and ``f'(h_{l-1})`` (bit-identical to the forward pass's).
    Returns the records, shape ``(len(RECORDS) + 1, depth)`` (``c`` NaN unless ``record_c``), and the
    histograms as ``{"x": [(counts, edges), ...], "df": [...]}``, one pair per histogram layer.
    """
    xp = be.xp
    n = config["width"]
    dtype = config["dtype"]
    f64 = np.float64
    nb = float(n * batch)
    x, g = _draw_inputs(be, seed, batch, n, *inputs, dtype)
    rec = xp.full((len(_ALL_RECORDS), depth), np.nan, dtype=f64)
    # |dL/dW_l|_F^2 = tr(Gram(d_l) Gram(x_{l-1})) costs 4 n B^2 flops, dL/dW_l = d_l x_{l-1}^T costs
    # 2 n^2 B: the Gram path for small batches; for large ones x_{l-1} is recomputed from h_{l-1}
    use_gram = 2 * batch <= n
    grams = [be.gram(x)] if use_gram else None  # Gram(x_{l-1}) for l = 1..L
    x0 = None if use_gram else x
    kept = []  # f'(h_l) (Gram path) or h_l
    weights_kept = [] if cache else None
    hist = {"x": [], "df": []}  # (counts, edges) per histogrammed layer

    def weights_of(layer):
        return make_weights(be, seed, layer, **config)

    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        for layer in range(1, depth + 1):
            w = weights_of(layer)
            if cache:
                weights_kept.append(w)
            h = w.forward(x)
            if w.bias is not None:
                h += w.bias
            j = layer - 1
            rec[_Q, j] = (h * h).sum(dtype=f64) / nb
            rec[_HMEAN, j] = h.sum(dtype=f64) / nb
            if record_c:
                rec[_C, j] = _mean_correlation(be, h)
            if use_gram or layer in hist_layers:
                x, dh = be.activation_forward_derivative(act, h)
            else:
                x, dh = be.activation_forward(act, h), None
            kept.append(dh if use_gram else h)
            rec[_MEAN, j] = x.sum(dtype=f64) / nb
            if use_gram:
                gram = be.gram(x)
                rec[_XSQ, j] = xp.trace(gram, dtype=f64) / nb
                if layer < depth:
                    grams.append(gram)
            else:
                rec[_XSQ, j] = (x * x).sum(dtype=f64) / nb
            if layer in hist_layers:
                hist["x"].append(_histogram(be, x, bins))
                hist["df"].append(_histogram(be, dh, bins))
            if bar is not None:
                bar.update(1)
        del x, h, dh
        d = g * (kept[-1] if use_gram else be.activation_derivative(act, kept[-1]))
        for layer in range(depth, 0, -1):
            j = layer - 1
            if use_gram:
                gd = be.gram(d)
                rec[_GH, j] = xp.trace(gd, dtype=f64) / batch
                rec[_GW, j] = xp.sqrt(xp.maximum((gd * grams[j]).sum(dtype=f64), 0.0))
                grams[j] = None
                df_prev = kept[j - 1] if layer > 1 else None
            else:
                rec[_GH, j] = (d * d).sum(dtype=f64) / batch
                if layer > 1:
                    x_prev, df_prev = be.activation_forward_derivative(act, kept[j - 1])
                else:
                    x_prev, df_prev = x0, None
                grad_w = be.matmul(d, x_prev.T)
                rec[_GW, j] = xp.sqrt((grad_w * grad_w).sum(dtype=f64))
                del grad_w, x_prev
            kept[j] = None
            if layer > 1:
                w = weights_kept[j] if cache else weights_of(layer)
                d = w.backward(d)
                d *= df_prev
            if bar is not None:
                bar.update(1)
    return be.to_numpy(rec), hist


def _histogram(be, arr, bins):
    xp = be.xp
    flat = arr.reshape(-1)
    finite = flat[xp.isfinite(flat)]
    nbins = bins if isinstance(bins, int) else len(bins) - 1
    if finite.size == 0:
        return np.zeros(nbins, dtype=np.int64), np.full(nbins + 1, np.nan)
    edges_in = bins if isinstance(bins, int) else be.asarray(bins, dtype=finite.dtype)
    counts, edges = be.histogram(finite, edges_in)
    return be.to_numpy(counts).astype(np.int64), be.to_numpy(edges).astype(np.float64)


def _progress_bar(enabled, total):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="simulate", unit="layer", leave=False)
