"""Results of :func:`meanfield.simulation.simulate`, their mean-field prediction and storage.

A :class:`Trace` holds per-layer records of shape ``(n_seeds, depth)`` with their
provenance; :meth:`Trace.theory` (or :func:`theory_profile` without simulating)
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
:mod:`meanfield.trace_recursions`.
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
from meanfield.trace_io import _FORMAT, _FORMAT_VERSION, _jsonable, _nan_to_none, load_trace

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

#: Relative change of the predicted (m, s) between layers below which the profile is at a fixed
#: point, and the margin above 1 of the spectral radius that makes that fixed point unstable.
FIXED_POINT_RTOL = 1e-9
UNSTABLE_RADIUS_MARGIN = 1e-6

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


@dataclass(frozen=True)
class TraceTheory:
    """Mean-field prediction of a :class:`Trace`'s records, arrays over layers l = 1..L.

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
        (:mod:`meanfield.trace_recursions`); with zero-mean weights the slope of the q-map,
        ``weight_var d second_moment/dq`` at ``q_l``. ``> 1``: perturbations grow.
    unstable : ndarray of bool
        Layers at which the profile sits on a fixed point (``(m, s)`` unchanged to
        :data:`FIXED_POINT_RTOL`) whose ``stability`` exceeds 1: an unstable branch that a finite
        net leaves (a :class:`~meanfield.errors.UnstableTheoryWarning` is issued);
        :attr:`unstable_from` is the first such layer.
    c : ndarray
        Predicted pairwise correlation of the pre-activations (the c-map,
        :mod:`meanfield.trace_recursions`), given ``input_correlation`` and zero-mean (or
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

    >>> th = theory_profile("linear", depth=3, width=10, weight_var=2.0)
    >>> th.q.tolist()  # q_l = 2^l for the identity
    [2.0, 4.0, 8.0]
    """
    from meanfield import maps
    from meanfield.activations import Activation, get_activation
    from meanfield.trace_recursions import correlation_profile, layer_map_radius

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
        sq_j, p_j = (float(maps._moment(act, quantity, mj, vj, method)) for quantity in ("f2", "df2"))
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
    def record(self, name):
        """The record ``name`` (one of :data:`RECORDS`), shape ``(n_seeds, depth)``."""
        if name not in RECORDS + OPTIONAL_RECORDS:
            raise ValueError(f"name must be one of {', '.join(RECORDS + OPTIONAL_RECORDS)}; got {name!r}")
        return getattr(self, name)

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

        Compare with :attr:`TraceTheory.gradient_ratio`; a finite net's ratio also carries its
        layer-to-layer fluctuation, so it exceeds the prediction where that prediction is near 1.
        """
        g = self.grad_w_fro
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return g.max(axis=1) / g.min(axis=1)

    def theory(self, method="auto"):
        """Mean-field prediction of the records (:func:`theory_profile`), cached per method."""
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
