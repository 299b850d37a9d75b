"""Results of :func:`meanfield.simulation.simulate`, their mean-field prediction and storage.

A :class:`Trace` holds per-layer records of shape ``(n_seeds, depth)`` with their
provenance; :meth:`Trace.theory` (or :func:`~meanfield.trace_theory.theory_profile` without simulating)
computes the same quantities from the mean-field recursions; :meth:`Trace.save` and
:func:`load_trace` round-trip through ``.npz`` (NumPy only) or ``.nc`` (xarray with
the netCDF4 or SciPy engine).

Mean-field recursion (Chen et al., Prop. A.1, A.2 and 3.1; Poole et al. 2016)
-----------------------------------------------------------------------------
Write ``s_l = E[x_l^2]`` and ``m_l = E[x_l]`` for the entries of ``x_l`` and
``mu_eff = 0`` with weight centralization, else ``weight_mean``. The input has
``s_0 = input_var + input_mean^2`` and ``m_0 = input_mean``. By the central limit
theorem the pre-activations of layer ``l`` are ``N(M_l, V_l)`` with::

    M_l = mu_eff * n * m_{l-1}              (Chen et al., Prop. 3.2, eq. 36)
    V_l = weight_var * s_{l-1} + bias_var   (Poole et al. 2016, eq. 3)
    q_l = E[h_l^2] = V_l + M_l^2
    m_l = E[f(h)],  s_l = E[f(h)^2],  p_l = E[f'(h)^2],   h ~ N(M_l, V_l)

With zero-mean weights this is ``q_l = weight_var * second_moment(q_{l-1})`` with
``q_1 = weight_var * (input_var + input_mean^2)``, and ``p_l = phi(q_l)`` (Chen et al.,
eq. 2 and 6). Here the input ``x_0`` enters the first layer directly: the paper's
``q_0`` is the second moment of a pre-activation ``h_0`` with ``x_0 = f(h_0)``, so
``s_0 = second_moment(q_0)``; at a self-normalizing fixed point ``q_0 = s_0 = 1``.

Backward, ``dL/dh_L = f'(h_L) * g`` with ``g ~ N(0, I_n)`` gives
``E|dL/dh_L|^2 = n p_L``, and ``dL/dh_{l-1} = f'(h_{l-1}) * W_l^T dL/dh_l`` with
``E|W_l^T d|^2 = (weight_var + n mu_eff^2) |d|^2`` gives (gradient independence,
Chen et al., Prop. A.2)::

    E|dL/dh_{l-1}|^2 = (weight_var + n mu_eff^2) p_{l-1} E|dL/dh_l|^2.

With zero-mean weights ``weight_var phi(q_{l-1}) = (1 + delta_{q_{l-1}}) q_l / q_{l-1}``,
hence ``q_{l-1} E|dL/dh_{l-1}|^2 = (1 + delta_{q_{l-1}}) q_l E|dL/dh_l|^2``: the
gradient explodes at rate ``1 + delta_q`` per layer, Chen et al.'s Prop. 3.1
``prod_{i=1}^{l} (1 + delta_{q_{i-1}}) E|dL/dh_l|^2 = q_0 E|dL/dh_0|^2`` (which omits
the factor ``q_l``, equal to 1 at the fixed point). For a batch of ``B`` inputs with
independent loss vectors, ``E|dL/dW_l|_F^2 = B E|dL/dh_l|^2 n s_{l-1}``: the theory predicts
the root mean square of ``|dL/dW_l|_F`` over nets, which :meth:`Trace.seed_statistic` compares it
with (the seed mean is smaller by Jensen's inequality).

The stability of the recursion and the c-map of two inputs are in
:mod:`meanfield.trace_theory`.
"""

from __future__ import annotations

import math

import numpy as np

from meanfield.trace_io import _FORMAT, _FORMAT_VERSION, _jsonable, _nan_to_none, load_trace
from meanfield.trace_theory import TraceTheory, theory_profile

__all__ = [
    "OPTIONAL_RECORDS",
    "RECORDS",
    "RECORD_STATISTICS",
    "RECORD_DESCRIPTIONS",
    "Trace",
    "TraceTheory",
    "load_trace",
    "theory_profile",
]

#: Names of the per-layer records every trace holds, in storage order.
RECORDS = ("q", "mean", "x_sq", "grad_h_sq", "grad_w_fro", "h_mean")

#: Records a trace may hold (None when absent): ``c`` with ``input_correlation``.
OPTIONAL_RECORDS = ("c",)

#: The statistic over seeds that :meth:`Trace.theory` predicts for each record: the theory gives
#: ``E[record]`` except for ``grad_w_fro``, where it gives ``sqrt(E[|dL/dW_l|_F^2])`` (root mean
#: square). ``c`` is predicted as ``E[h_a . h_b] / E[|h|^2]``, the seed mean up to O(1/n).
RECORD_STATISTICS = {"q": "mean", "mean": "mean", "x_sq": "mean", "grad_h_sq": "mean",
                     "grad_w_fro": "rms", "h_mean": "mean", "c": "mean"}


#: One line per record (also the ``long_name`` of the xarray variables).
RECORD_DESCRIPTIONS = {
    "q": "batch mean of |h_l|^2/n (second moment of the pre-activations)",
    "mean": "mean of the entries of x_l",
    "x_sq": "batch mean of |x_l|^2/n (second moment of the activations)",
    "grad_h_sq": "batch mean of |dL/dh_l|^2",
    "grad_w_fro": "|dL/dW_l|_F of the batch",
    "h_mean": "mean of the entries of h_l",
    "c": "mean pairwise correlation h_a . h_b / (|h_a| |h_b|) of the batch's pre-activations",
}


class Trace:
    """Per-layer records of simulated nets, with provenance (see :func:`~meanfield.simulation.simulate`).

    Attributes
    ----------
    q, mean, x_sq, grad_h_sq, grad_w_fro, h_mean : ndarray, shape (n_seeds, depth)
        The records (:data:`RECORD_DESCRIPTIONS`), float64, layer ``l`` in column ``l - 1``.
    c : ndarray, shape (n_seeds, depth), or None
        Mean pairwise correlation of the pre-activations (simulated with ``input_correlation``).
    first_nonfinite_layer : int or None
        First layer at which some record of some net is inf or NaN (overflow of the dtype);
        :attr:`nonfinite_layers` has the layers per record.
    layers : ndarray
        ``1..depth``.
    seeds : ndarray of int64
        The nets' seeds (the ``seed`` axis).
    activation : Activation or None
        The activation (None only if a loaded trace's activation cannot be rebuilt).
    activation_info : dict
        ``Activation.to_dict()``: name, params, kinks, expression.
    params : dict
        depth, width, batch, weights, weight_var, weight_mean, centralize_weights,
        input_mean, input_var.
    backend, dtype : str
    histograms : dict or None
        ``layers`` (int array), ``x`` and ``df`` counts of shape ``(n_seeds, H, bins)``
        and ``x_edges``, ``df_edges`` of shape ``(n_seeds, H, bins + 1)``: the entries of
        ``x_l`` and ``f'(h_l)`` at the histogram layers.
    provenance : dict
        meanfield, NumPy and Python versions, device, creation time, elapsed seconds.
    """

    def __init__(self, records, *, seeds, activation, params, backend, dtype, histograms=None,
                 provenance=None, activation_info=None):
        from meanfield import __version__

        missing = set(RECORDS) - set(records)
        if missing:
            raise ValueError(f"records lack {sorted(missing)}")
        shape = None
        for k in RECORDS + OPTIONAL_RECORDS:
            if records.get(k) is None:
                setattr(self, k, None)  # an optional record this trace lacks
                continue
            arr = np.asarray(records[k], dtype=np.float64)
            if arr.ndim != 2 or (shape is not None and arr.shape != shape):
                raise ValueError(f"record {k} must have shape (n_seeds, depth); got {arr.shape}")
            shape = arr.shape
            setattr(self, k, arr)
        self.seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
        if self.seeds.size != shape[0]:
            raise ValueError(f"{self.seeds.size} seeds for records with {shape[0]} rows")
        self.activation = activation
        self.activation_info = dict(activation_info if activation_info is not None
                                    else activation.to_dict())
        self.params = dict(params)
        self.backend = str(backend)
        self.dtype = str(dtype)
        self.histograms = None if histograms is None else {
            k: np.asarray(v) for k, v in histograms.items()}
        self.provenance = {"meanfield_version": __version__, **dict(provenance or {})}
        self._theory = {}

    # -- shape ----------------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        return self.q.shape[1]

    @property
    def n_seeds(self) -> int:
        return self.q.shape[0]

    @property
    def width(self) -> int:
        return int(self.params["width"])

    @property
    def batch(self) -> int:
        return int(self.params["batch"])

    @property
    def weights(self) -> str:
        return str(self.params["weights"])

    @property
    def layers(self):
        return np.arange(1, self.depth + 1)

    # -- statistics -----------------------------------------------------------------------------
    @property
    def records(self):
        """Names of the records this trace holds: :data:`RECORDS` and the optional ones it has."""
        return tuple(k for k in RECORDS + OPTIONAL_RECORDS if getattr(self, k) is not None)

    @property
    def nonfinite_layers(self):
        """``{record: layers}`` (1-based int arrays) where some net's record is inf or NaN."""
        out = {}
        for k in self.records:
            bad = ~np.isfinite(getattr(self, k)).all(axis=0)
            if bad.any():
                out[k] = np.flatnonzero(bad) + 1
        return out

    @property
    def first_nonfinite_layer(self):
        """First layer where some record is not finite (an overflow), or None if all are finite."""
        layers = self.nonfinite_layers
        return int(min(v[0] for v in layers.values())) if layers else None

    def describe_nonfinite(self):
        """One line naming the records and layers that are not finite ('' when all are)."""
        layers = self.nonfinite_layers
        if not layers:
            return ""
        parts = [f"{k} at {v.size} of {self.depth} layers ({_layer_ranges(v)})" for k, v in layers.items()]
        return (f"the trace is not finite from layer {self.first_nonfinite_layer} "
                f"({self.dtype} overflow): " + "; ".join(parts))

    def record(self, name):
        """The record ``name`` (one of :attr:`records`), shape ``(n_seeds, depth)``."""
        if name not in RECORDS + OPTIONAL_RECORDS:
            raise ValueError(f"name must be one of {', '.join(RECORDS + OPTIONAL_RECORDS)}; got {name!r}")
        arr = getattr(self, name)
        if arr is None:
            raise ValueError(f"this trace has no record {name!r} (simulate with input_correlation=... "
                             "to record c)")
        return arr

    def seed_mean(self, name):
        """Mean over seeds of record ``name``, per layer."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self.record(name).mean(axis=0)

    def seed_rms(self, name):
        """Root mean square over seeds of record ``name``, per layer: ``sqrt(mean_s record^2)``.

        What the theory predicts for ``grad_w_fro`` (:data:`RECORD_STATISTICS`).
        """
        with np.errstate(over="ignore", invalid="ignore"):
            return np.sqrt((self.record(name) ** 2).mean(axis=0))

    def stderr(self, name, statistic="mean"):
        """Monte-Carlo standard error of :meth:`seed_mean` (or :meth:`seed_rms`), per layer.

        ``"mean"``: ``std(ddof=1) / sqrt(n_seeds)``. ``"rms"``: by the delta method,
        ``std(record^2, ddof=1) / sqrt(n_seeds) / (2 rms)``. The nets are independent, so this is
        the error bar of the seed statistic. With a single seed there is no spread to estimate
        it from: the result is NaN (simulate with ``n_seeds >= 2``; the default is 4).
        """
        arr = self.record(name)
        if statistic not in ("mean", "rms"):
            raise ValueError(f"statistic must be 'mean' or 'rms'; got {statistic!r}")
        if arr.shape[0] < 2:
            return np.full(arr.shape[1], np.nan)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if statistic == "mean":
                return arr.std(axis=0, ddof=1) / math.sqrt(arr.shape[0])
            sq = arr**2
            return sq.std(axis=0, ddof=1) / math.sqrt(arr.shape[0]) / (2 * np.sqrt(sq.mean(axis=0)))

    def seed_statistic(self, name):
        """``(value, stderr)`` per layer of the statistic over seeds that the theory predicts.

        The seed mean, except for ``grad_w_fro``, whose prediction is a root mean square
        (:data:`RECORD_STATISTICS`): comparing it with the seed mean would mix ``E|X|`` with
        ``sqrt(E X^2)``.
        """
        stat = RECORD_STATISTICS[name]
        value = self.seed_rms(name) if stat == "rms" else self.seed_mean(name)
        return value, self.stderr(name, stat)

    def gradient_ratio(self):
        """Lu et al.'s gradient norm ratio ``max_l |dL/dW_l|_F / min_l |dL/dW_l|_F``, one per net.

        Compare with :attr:`~meanfield.trace_theory.TraceTheory.gradient_ratio`; a finite net's ratio also carries its
        layer-to-layer fluctuation, so it exceeds the prediction where that prediction is near 1.
        """
        g = self.grad_w_fro
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return g.max(axis=1) / g.min(axis=1)

    def theory(self, method="auto"):
        """Mean-field prediction of the records (:func:`~meanfield.trace_theory.theory_profile`), cached per method."""
        if method not in self._theory:
            if self.activation is None:
                raise ValueError(f"activation {self.activation_info.get('name')!r} of this trace "
                                 "could not be rebuilt; call theory_profile(act, ...) instead")
            p = self.params
            self._theory[method] = theory_profile(
                self.activation, depth=self.depth, width=p["width"], batch=p["batch"],
                weight_var=p["weight_var"], weight_mean=p["weight_mean"],
                bias_var=p.get("bias_var", 0.0), centralize_weights=p["centralize_weights"],
                input_mean=p["input_mean"], input_var=p["input_var"],
                input_correlation=p.get("input_correlation"), method=method)
        return self._theory[method]

    def zscore(self, name, method="auto"):
        """``(statistic - theory) / stderr`` of record ``name`` per layer (:meth:`seed_statistic`).

        Raises
        ------
        ValueError
            With a single seed (no standard error), or when the theory has no prediction of
            ``name``.
        """
        if self.n_seeds < 2:
            raise ValueError(f"zscore needs n_seeds >= 2 for a standard error; this trace has "
                             f"{self.n_seeds} seed")
        th = self.theory(method)
        predicted = getattr(th, name)
        if name == "c" and not th.has_c:
            raise ValueError(f"the theory has no prediction of {name!r} for this trace "
                             "(see TraceTheory.c)")
        value, se = self.seed_statistic(name)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return (value - predicted) / se

    # -- export ---------------------------------------------------------------------------------
    def metadata(self):
        """JSON-friendly provenance and parameters (everything but the arrays)."""
        return {"format": _FORMAT, "format_version": _FORMAT_VERSION,
                "backend": self.backend, "dtype": self.dtype,
                "seeds": [int(s) for s in self.seeds], "params": _jsonable(self.params),
                "activation": _jsonable(self.activation_info),
                "provenance": _jsonable(self.provenance)}

    def to_dict(self, theory=True):
        """JSON-friendly dict: metadata, per-layer seed statistics, non-finite layers, theory.

        ``simulation[record]`` has ``mean`` and ``stderr`` (of the mean), ``rms`` and
        ``rms_stderr``, and ``compare``: the statistic the theory predicts
        (:data:`RECORD_STATISTICS`). Values that are not finite are null; ``nonfinite`` lists
        the layers per record where that happens (and ``first_nonfinite_layer`` the first), so
        a null is never silent. ``stderr`` is null everywhere with a single seed.
        """
        out = self.metadata()
        out["layers"] = self.layers.tolist()
        out["simulation"] = {k: {"mean": _nan_to_none(self.seed_mean(k)),
                                 "stderr": _nan_to_none(self.stderr(k)),
                                 "rms": _nan_to_none(self.seed_rms(k)),
                                 "rms_stderr": _nan_to_none(self.stderr(k, "rms")),
                                 "compare": RECORD_STATISTICS[k]} for k in self.records}
        out["first_nonfinite_layer"] = self.first_nonfinite_layer
        out["nonfinite"] = {k: v.tolist() for k, v in self.nonfinite_layers.items()}
        if theory:
            th = self.theory()
            out["theory"] = {k: _nan_to_none(getattr(th, k)) for k in self.records
                             if k != "c" or th.has_c}
            out["theory"]["stability"] = _nan_to_none(th.stability)
            out["theory"]["unstable_from"] = th.unstable_from
        return out

    def to_xarray(self, theory=False):
        """The records as an ``xarray.Dataset`` with dims ``seed`` and ``layer``.

        Attributes: meanfield version, backend, dtype, seeds, the simulation parameters,
        the activation's name and parameters, and ``metadata`` (JSON of
        :meth:`metadata`, used by :func:`load_trace`). With ``theory=True`` adds
        ``theory_<record>`` variables over ``layer``. Histograms become
        ``x_hist``/``df_hist`` over ``(seed, hist_layer, bin)`` and their edges over
        ``(seed, hist_layer, bin_edge)``.

        Raises
        ------
        ImportError
            xarray is not installed (``pip install 'meanfield[io]'``).
        """
        from meanfield.trace_io import trace_to_xarray

        return trace_to_xarray(self, theory=theory)

    def save(self, path):
        """Write the trace to ``path`` (``.npz``, or ``.nc`` with xarray), atomically.

        The file is written to a temporary name in the same directory and moved into
        place with ``os.replace``: an error leaves no partial file behind.

        Returns
        -------
        str
            The path written.
        """
        from meanfield.trace_io import save_trace

        return save_trace(self, path)

    def __repr__(self):
        p = self.params
        return (f"Trace({self.activation_info.get('name')}, depth={self.depth}, "
                f"width={p['width']}, batch={p['batch']}, weights={p['weights']!r}, "
                f"n_seeds={self.n_seeds}, backend={self.backend!r}, dtype={self.dtype!r})")


def _layer_ranges(layers):
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``."""
    out, start, prev = [], None, None
    for v in (int(x) for x in layers):
        if start is None:
            start = prev = v
        elif v == prev + 1:
            prev = v
        else:
            out.append(f"{start}-{prev}" if prev > start else f"{start}")
            start = prev = v
    out.append(f"{start}-{prev}" if prev > start else f"{start}")
    return ", ".join(out)
