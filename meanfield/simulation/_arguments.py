"""Argument checks of :func:`~meanfield.simulation.simulate` that are specific to it."""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence

import numpy as np

from meanfield._validation import check_finite_scalar, check_int, check_seed

__all__ = ["check_bool", "seed_list", "hist_layers", "check_bins", "check_bias_var", "correlated_columns",
           "check_input_correlation"]

_SEED_MAX = 2**63 - 1


def check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def seed_list(seed, n_seeds, seeds, default_n_seeds):
    """The nets' seeds: ``seeds`` or ``seed, seed + 1, ..., seed + n_seeds - 1`` (all in [0, 2**63 - 1]).

    ``n_seeds=None`` means ``default_n_seeds`` (or ``len(seeds)``).
    """
    if seeds is not None:
        if n_seeds is not None:
            raise ValueError("give either seeds=[...] or seed=/n_seeds=, not both")
        if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray)):
            raise ValueError(f"seeds must be a sequence of non-negative integers; got {seeds!r}")
        out = [check_seed(s, "seeds entry") for s in seeds]
        if not out:
            raise ValueError("seeds must not be empty")
        if len(set(out)) != len(out):
            raise ValueError(f"seeds must be distinct; got {out}")
        return out
    n_seeds = check_int(default_n_seeds if n_seeds is None else n_seeds, "n_seeds")
    if seed is None:
        seed = max(secrets.randbits(63) - n_seeds, 0)
    seed = check_seed(seed)
    if seed > _SEED_MAX - (n_seeds - 1):
        raise ValueError(f"seed must be <= 2**63 - n_seeds = {_SEED_MAX - n_seeds + 1} so that the "
                         f"seeds seed .. seed + n_seeds - 1 stay in [0, 2**63 - 1]; got seed={seed}, "
                         f"n_seeds={n_seeds}")
    return [seed + i for i in range(n_seeds)]


def hist_layers(layers, depth):
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


def check_bins(bins):
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


def check_bias_var(bias_var):
    """``bias_var >= 0`` and finite, as a float."""
    if isinstance(bias_var, (bool, str, bytes)):
        raise ValueError(f"bias_var must be a real number >= 0 (valid range: [0, inf)); got {bias_var!r}")
    out = check_finite_scalar(bias_var, "bias_var")
    if out < 0:
        raise ValueError(f"bias_var must be >= 0 (valid range: [0, inf)); got {out}")
    return out


def check_input_correlation(value, batch):
    """None, or a correlation in ``[-1/(batch - 1), 1]`` (the range of an equicorrelated batch)."""
    if value is None:
        return None
    if isinstance(value, (bool, str, bytes)):
        raise ValueError(f"input_correlation must be a real number in [-1/(batch-1), 1] or None; "
                         f"got {value!r}")
    c = check_finite_scalar(value, "input_correlation")
    if batch < 2:
        raise ValueError("input_correlation needs batch >= 2 (the correlation of pairs of inputs); "
                         f"got batch={batch}")
    low = -1.0 / (batch - 1)
    if not low <= c <= 1.0:
        raise ValueError(f"input_correlation must be in [-1/(batch-1), 1] = [{low:.6g}, 1] for "
                         f"batch={batch} (an equicorrelated batch); got {c}")
    return c


def correlated_columns(z, c):
    """``sqrt(1-c) z + (sqrt(1+(B-1)c) - sqrt(1-c)) mean_b(z)``: columns with unit variance, correlation c.

    ``z`` holds i.i.d. N(0, 1) entries, one column per input; each row of the result is an
    equicorrelated Gaussian vector: ``Var = a^2 + t = 1`` and ``Cov = t = c`` with ``a^2 = 1 - c``
    and ``t = (2 a b + b^2) / B`` for the coefficient ``b`` of the column mean.
    """
    batch = z.shape[1]
    a = math.sqrt(1.0 - c)
    b = math.sqrt(max(1.0 + (batch - 1) * c, 0.0)) - a
    out = z * a
    out += b * z.mean(axis=1, keepdims=True)
    return out
