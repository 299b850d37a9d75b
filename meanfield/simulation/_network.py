"""Monte-Carlo simulation of deep random fully connected nets (DESIGN.md, section Simulator)."""

from __future__ import annotations

import math
import platform
import secrets
import time
from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np

from meanfield._validation import check_input_moments, check_int, check_seed
from meanfield.activations import Activation, get_activation
from meanfield.backends import check_dtype, get_backend
from meanfield.simulation._weights import check_weight_config, make_weights
from meanfield.trace import RECORDS, Trace

__all__ = ["simulate", "WEIGHT_CACHE_BYTES"]

#: Weights of all layers are kept for the backward pass while they fit in this many bytes
#: (``depth * width**2 * itemsize``); above it they are redrawn from their seeds instead.
WEIGHT_CACHE_BYTES = 1 << 30

_Q, _MEAN, _XSQ, _GH, _GW, _HMEAN = (RECORDS.index(k) for k in
                                    ("q", "mean", "x_sq", "grad_h_sq", "grad_w_fro", "h_mean"))


def simulate(act, *, depth, width, batch=1, weights="gaussian", weight_var=1.0, weight_mean=0.0,
             centralize_weights=False, input_mean=0.0, input_var=1.0, backend="auto",
             dtype="float64", seed=0, n_seeds=1, seeds=None, histogram_layers=None, bins=50,
             cache_weights=None, progress=False):
    """Simulate the forward and backward pass of deep random nets and record per-layer statistics.

    A fully connected net of constant width ``n`` without biases (DESIGN.md, Simulator;
    Chen et al., Sec. 3 and eq. 1; Lu et al.'s synthetic experiments). For l = 1..L::

        h_l = W_l x_{l-1},    x_l = f(h_l)

    with a batch of ``batch`` inputs as the columns of ``x_0``, entries
    ``N(input_mean, input_var)``. The backward pass starts from the random loss
    ``L = sum_b g_b . x_{L,b}`` with an independent ``g_b ~ N(0, I_n)`` per column::

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
        Inputs per net (columns of ``x_0``), each layer being one matrix product.
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
    centralize_weights : bool
        Subtract each matrix's mean of entries, ``W - mean(W)`` (Chen et al., Sec. 5,
        weight centralization), which removes the ``mu n`` factor above.
    input_mean, input_var : float
        Mean and variance (``>= 0``) of the entries of ``x_0``; its second moment
        ``input_var + input_mean^2`` must be ``> 0``. Mixup with interpolation weight
        ``gamma`` (Chen et al., Sec. 5) multiplies the input second moment by
        ``gamma^2 + (1 - gamma)^2`` (0.58 for ``gamma = 0.7``): simulate it by scaling
        ``input_var`` and ``input_mean^2`` by that factor.
    backend : {"auto", "numpy", "cupy"}
        See :func:`meanfield.backends.get_backend`.
    dtype : {"float64", "float32"}
        Precision of the net. Random numbers are drawn in float64 and rounded, so the
        two precisions simulate the same nets up to rounding.
    seed : int or None
        Seed of the first net (``>= 0``); ``None`` draws one (recorded in the trace).
    n_seeds : int
        Number of independent nets, seeds ``seed, seed + 1, ..., seed + n_seeds - 1``.
    seeds : sequence of int, optional
        Explicit seeds (overrides ``seed``/``n_seeds``). Net ``s`` uses the backend's
        random streams of ``s`` only: stream 0 draws ``x_0`` then ``g``, stream ``l`` the
        weights of layer ``l`` (NumPy: ``Generator(PCG64(seed))`` and
        ``Generator(PCG64(SeedSequence(seed, spawn_key=(l,))))``), so the same seed gives
        bit-identical NumPy results and nets that differ only in activation or depth
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
        ``h_l``); :meth:`~meanfield.trace.Trace.theory` gives the mean-field prediction of each.

    Raises
    ------
    ValueError
        An argument outside its valid range (the message names it), or a backend that
        cannot run here.

    Notes
    -----
    Cost per net and layer: one weight draw (``n^2`` Gaussians; ``n^2/2`` and ``O(n^2)``
    work for implicit Haar matrices on NumPy), two products with ``W_l`` (one
    for ``l = 1``), ``f`` and ``f'`` on ``n x batch`` entries, and ``batch x batch`` Gram
    matrices: ``|dL/dW_l|_F^2 = sum_{b,b'} (d_b . d_b')(x_b . x_b')`` never forms the
    ``n x n`` gradient. Memory: ``depth * width * batch`` numbers for ``f'(h_l)``, plus the
    weights when they are kept.

    >>> tr = simulate("selu", depth=3, width=64, batch=4, backend="numpy", n_seeds=2)
    >>> tr.q.shape
    (2, 3)
    """
    act = act if isinstance(act, Activation) else get_activation(act)
    depth = check_int(depth, "depth")
    width = check_int(width, "width")
    batch = check_int(batch, "batch")
    weight_var, weight_mean = check_weight_config(weights, weight_var, weight_mean)
    centralize_weights = _check_bool(centralize_weights, "centralize_weights")
    input_mean, input_var = check_input_moments(input_mean, input_var)
    progress = _check_bool(progress, "progress")
    dtype = check_dtype(dtype)
    be = get_backend(backend)
    seed_list = _seed_list(seed, n_seeds, seeds)
    hist_layers = _hist_layers(histogram_layers, depth)
    bins = _check_bins(bins)
    implicit = weights == "orthogonal" and be.implicit_orthogonal and 3 * batch < width
    need = depth * width * width * dtype.itemsize
    if cache_weights is None:
        cache_weights = need <= WEIGHT_CACHE_BYTES
    cache_weights = _check_bool(cache_weights, "cache_weights")

    config = dict(width=width, weights=weights, weight_var=weight_var, weight_mean=weight_mean,
                  centralize_weights=centralize_weights, dtype=dtype, implicit=implicit)
    records = np.empty((len(RECORDS), len(seed_list), depth))
    net_hists = []  # per net: {"x": [(counts, edges) per layer], "df": [...]}
    bar = _progress_bar(progress, 2 * depth * len(seed_list))
    start = time.perf_counter()
    try:
        for i, s in enumerate(seed_list):
            rec, h = _run_net(be, act, s, depth, batch, input_mean, input_var, config,
                              cache_weights, hist_layers, bins, bar)
            records[:, i, :] = rec
            net_hists.append(h)
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - start

    histograms = None
    if hist_layers:
        histograms = {"layers": np.asarray(hist_layers, dtype=np.int64)}
        for k in ("x", "df"):  # shape (n_seeds, len(hist_layers), bins [+ 1])
            histograms[k] = np.array([[c for c, _ in h[k]] for h in net_hists])
            histograms[f"{k}_edges"] = np.array([[e for _, e in h[k]] for h in net_hists])
    params = dict(depth=depth, width=width, batch=batch, weights=weights, weight_var=weight_var,
                  weight_mean=weight_mean, centralize_weights=centralize_weights,
                  input_mean=input_mean, input_var=input_var)
    provenance = dict(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        elapsed_s=elapsed, device=be.describe(), numpy_version=np.__version__,
        python_version=platform.python_version(), cache_weights=cache_weights,
        implicit_orthogonal=implicit)
    return Trace({k: records[j] for j, k in enumerate(RECORDS)}, seeds=seed_list,
                 activation=act, params=params, backend=be.name, dtype=dtype.name,
                 histograms=histograms, provenance=provenance)


def _run_net(be, act, seed, depth, batch, input_mean, input_var, config, cache, hist_layers,
             bins, bar):
    """One net: forward pass keeping f'(h_l) and Gram(x_{l-1}), then the backward pass.

    Returns the records, shape ``(len(RECORDS), depth)``, and the histograms as
    ``{"x": [(counts, edges), ...], "df": [...]}``, one pair per layer of ``hist_layers``.
    """
    xp = be.xp
    n = config["width"]
    dtype = config["dtype"]
    f64 = np.float64
    nb = float(n * batch)
    rng0 = be.rng(seed, 0)
    # columns are inputs; rows drawn per input so a smaller batch is a prefix of a larger one
    x = be.standard_normal(rng0, (batch, n), "float64").T
    x = (x * math.sqrt(input_var) + input_mean).astype(dtype)
    g = be.standard_normal(rng0, (batch, n), "float64").T.astype(dtype)
    rec = xp.zeros((len(RECORDS), depth), dtype=f64)
    # |dL/dW_l|_F^2 = tr(Gram(d_l) Gram(x_{l-1})) costs 4 n B^2 flops, dL/dW_l = d_l x_{l-1}^T costs
    # 2 n^2 B: keep the Gram matrices for small batches, the inputs themselves for large ones
    use_gram = 2 * batch <= n
    grams = [be.gram(x) if use_gram else x]  # Gram(x_{l-1}) (or x_{l-1}) for l = 1..L
    derivs = []  # f'(h_l)
    kept = [] if cache else None
    hist = {"x": [], "df": []}  # (counts, edges) per histogrammed layer

    def weights_of(layer):
        return make_weights(be, seed, layer, **config)

    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        for layer in range(1, depth + 1):
            w = weights_of(layer)
            if cache:
                kept.append(w)
            h = w.forward(x)
            j = layer - 1
            rec[_Q, j] = (h * h).sum(dtype=f64) / nb
            rec[_HMEAN, j] = h.sum(dtype=f64) / nb
            x, dh = be.activation_forward_derivative(act, h)
            derivs.append(dh)
            rec[_MEAN, j] = x.sum(dtype=f64) / nb
            if use_gram:
                gram = be.gram(x)
                rec[_XSQ, j] = xp.trace(gram, dtype=f64) / nb
            else:
                gram = x
                rec[_XSQ, j] = (x * x).sum(dtype=f64) / nb
            if layer < depth:
                grams.append(gram)
            if layer in hist_layers:
                hist["x"].append(_histogram(be, x, bins))
                hist["df"].append(_histogram(be, dh, bins))
            if bar is not None:
                bar.update(1)
        del x, h
        d = g * derivs[-1]
        for layer in range(depth, 0, -1):
            j = layer - 1
            if use_gram:
                gd = be.gram(d)
                rec[_GH, j] = xp.trace(gd, dtype=f64) / batch
                rec[_GW, j] = xp.sqrt(xp.maximum((gd * grams[j]).sum(dtype=f64), 0.0))
            else:
                rec[_GH, j] = (d * d).sum(dtype=f64) / batch
                grad_w = be.matmul(d, grams[j].T)
                rec[_GW, j] = xp.sqrt((grad_w * grad_w).sum(dtype=f64))
            if layer > 1:
                w = kept[j] if cache else weights_of(layer)
                d = w.backward(d)
                d *= derivs[j - 1]
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


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def _seed_list(seed, n_seeds, seeds):
    if seeds is not None:
        if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray)):
            raise ValueError(f"seeds must be a sequence of non-negative integers; got {seeds!r}")
        if n_seeds != 1:
            raise ValueError("give either seeds=[...] or seed=/n_seeds=, not both")
        out = [check_seed(s, "seeds entry") for s in seeds]
        if not out:
            raise ValueError("seeds must not be empty")
        if len(set(out)) != len(out):
            raise ValueError(f"seeds must be distinct; got {out}")
        return out
    n_seeds = check_int(n_seeds, "n_seeds")
    if seed is None:
        seed = secrets.randbits(63) - n_seeds
        seed = max(seed, 0)
    seed = check_seed(seed)
    return [seed + i for i in range(n_seeds)]


def _hist_layers(layers, depth):
    if layers is None:
        return ()
    if isinstance(layers, (int, np.integer)):
        layers = [layers]
    out = []
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) \
                or not 1 <= layer <= depth:
            raise ValueError(f"histogram_layers entries must be integers in [1, depth={depth}]; "
                             f"got {layer!r}")
        out.append(int(layer))
    return tuple(sorted(set(out)))


def _check_bins(bins):
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(f"bins must be an integer >= 1 or increasing bin edges; got {bins}")
        return int(bins)
    try:
        edges = np.asarray(bins, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bins must be an integer >= 1 or increasing bin edges; "
                         f"got {bins!r}") from exc
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)) \
            or np.any(np.diff(edges) <= 0):
        raise ValueError(f"bins must be an integer >= 1 or a 1-D array of at least 2 finite, "
                         f"increasing bin edges; got {bins!r}")
    return edges
