"""Deep Kernel Shaping and Tailored Activation Transformations for a plain MLP of ``depth`` layers.

Both transform an activation ``f`` into ``g(x) = output_scale * (f(input_scale * x + input_shift)
+ output_shift)`` (dks's parameter names) so that the network's kernel maps are well behaved
(Martens et al. 2021, "Rapid training of deep neural networks without skip connections or
normalization layers using Deep Kernel Shaping", Sec. 4-5; Zhang et al. 2022, "Deep learning
without shortcuts: shaping the kernel with tailored rectifiers", Sec. 4). For an MLP of ``depth``
identical layers the network's C map is the local C map composed ``depth`` times, so with
``C(1) = 1`` its slope at 1 is ``C'(1)^depth`` and, when ``C'(1) = 1``, its curvature at 1 is
``depth * C''(1)`` (chain rule). The local conditions (see :mod:`meanfield.activation_design.conditions`):

=========================  ===========================================================
DKS (smooth ``f``)         ``Q(1) = 1``, ``C(0) = 0`` (i.e. ``E g = 0``), ``Q'(1) = q_slope``,
                           ``C'(1) = c_slope^(1/depth)``
TAT (smooth ``f``)         ``Q(1) = 1``, ``Q'(1) = 1``, ``C'(1) = 1``, ``C''(1) = c_curve/depth``
TAT (leaky ReLU)           ``negative_slope`` with ``C^{(depth)}(0) = c0``, ``output_scale =
                           sqrt(2/(1 + slope^2))`` (``Q(1) = 1``)
DKS (ReLU)                 dks's special case: ``input_shift = +-1`` fixed, ``Q'(1)`` dropped
=========================  ===========================================================

At ``Q(1) = 1`` the local ``C'(1) = E[g'(z)^2] = phi(1)``: DKS's slope is Chen et al.'s ``1 + eps``.

The system is solved by :func:`~meanfield.activation_design.core.design`'s Newton method with exact Jacobians, from
dks's own starting points (``input_scale`` in (1, 0.1), ``input_shift`` (and TAT's
``output_shift``) in (0, 1, -1), the output parameters completed as dks does), so the same root is
found; like dks, TAT rejects roots with ``input_scale * output_scale >= 2``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from meanfield.activation_design._families import AFFINE_NAMES, AffineFamily, transformed_activation
from meanfield.activation_design._solvers import _solve_square
from meanfield.activation_design.conditions import Evaluator, parse_condition
from meanfield.activation_design.core import DESIGN_TOL, DesignError, _Problem
from meanfield.activations import Activation, get_activation

__all__ = ["Transform", "dks_transform", "lrelu_c_map", "tat_transform"]

#: dks's bound on ReLU's local C'(1) with a positive input shift (activation_transform.py).
RELU_MAX_POSITIVE_SLOPE = 1.466942206924260361
#: TAT's rejection rule for smooth activations (dks: "unstable Q maps").
TAT_MAX_GAIN = 2.0

_DKS_STARTS = list(itertools.product((1.0, 0.1), (0.0, 1.0, -1.0)))
_TAT_STARTS = list(itertools.product((1.0, 0.1), (0.0, 1.0, -1.0), (0.0, 1.0, -1.0)))


@dataclass(frozen=True)
class Transform:
    """A DKS or TAT transform of an activation.

    Attributes
    ----------
    method : {"DKS", "TAT"}
    base : str
        The base activation's name.
    depth : int
    params : dict
        ``input_scale, input_shift, output_shift, output_scale`` (and ``negative_slope`` for leaky ReLU).
    targets : dict
        The local conditions solved, ``{condition: target}``.
    residuals : dict
        ``{condition: value - target}`` (float64 quadrature, exact to ~1e-15).
    activation : Activation
        ``output_scale * (f(input_scale * x + input_shift) + output_shift)`` as a meanfield activation.
    """

    method: str
    base: str
    depth: int
    params: dict
    targets: dict
    residuals: dict
    activation: Activation = field(repr=False)

    @property
    def max_residual(self):
        return max(abs(v) for v in self.residuals.values())

    def to_dict(self):
        """JSON-friendly dict of every field."""
        return {"method": self.method, "base": self.base, "depth": self.depth, "params": dict(self.params),
                "targets": dict(self.targets), "residuals": dict(self.residuals),
                "max_residual": self.max_residual, "activation": self.activation.to_dict()}


def _base(act):
    if isinstance(act, Activation):
        return act
    if isinstance(act, str):
        return get_activation(act)
    raise ValueError(f"act must be an Activation or a built-in name; got {act!r}")


def _depth(depth):
    if isinstance(depth, (bool, np.bool_)) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1; got {depth!r}")
    return int(depth)


def _target(value, name, low, strict_low=True):
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise ValueError(f"{name} must be a real number; got {value!r}")
    v = float(value)
    if not math.isfinite(v) or (v <= low if strict_low else v < low):
        raise ValueError(f"{name} must be finite and {'>' if strict_low else '>='} {low:g}; got {v:g}")
    return v


def _completed_starts(family, pairs, shifts_given):
    """dks's starts: (input_scale, input_shift[, output_shift]) with the output parameters computed."""
    cond_mean, cond_q = parse_condition("mean"), parse_condition("second_moment")
    for p in pairs:  # a generator: a start is completed only when the previous ones failed
        theta = {"input_scale": p[0], "input_shift": p[1], "output_shift": 0.0, "output_scale": 1.0}
        ev = Evaluator(family, theta, (), 1)
        try:
            mean = float(ev.value(cond_mean)[0])
            q = float(ev.value(cond_q)[0])
        except ValueError:
            continue
        shift = p[2] if shifts_given else -mean  # DKS: C(0) = 0 <=> E g = 0
        second = q + 2 * shift * mean + shift * shift
        if not second > 0:
            continue
        yield np.array([p[0], p[1], shift, 1.0 / math.sqrt(second)])


def _solve(base, conditions, starts_spec, shifts_given, accept, fixed=None):
    family = AffineFamily(base)
    unknowns = AFFINE_NAMES if fixed is None else tuple(n for n in AFFINE_NAMES if n not in fixed)
    problem = _Problem(family, unknowns, conditions, None, None)
    if problem.order >= 2:
        from meanfield.activation_design.core import _check_smooth_derivative

        _check_smooth_derivative(family, {**family.values})
    base_theta = {**family.values, **(fixed or {})}
    starts = _completed_starts(family, starts_spec, shifts_given)
    if fixed:
        starts = (np.array([s[i] for i, n in enumerate(AFFINE_NAMES) if n not in fixed]) for s in starts)
    x, _ = _solve_square(problem, None, base_theta, 0, 0, DESIGN_TOL, starts=starts,
                         accept=accept)
    theta = problem.theta(x, base_theta)
    ev = Evaluator(family, theta, (), problem.order)
    residuals = {c.text: float(ev.value(c)[0]) - t for c, t in problem.equalities}
    return theta, residuals


def dks_transform(act, depth, c_slope=1.5, q_slope=1.0):
    """Deep Kernel Shaping transform of ``act`` for an MLP of ``depth`` layers (Martens et al. 2021).

    Solves ``Q(1) = 1``, ``C(0) = 0``, ``Q'(1) = q_slope`` and the local ``C'(1) =
    c_slope^(1/depth)`` (so the network's ``C'(1) = c_slope``) for the four affine parameters.

    Parameters
    ----------
    act : str or Activation
        Any activation with a SymPy template (built-ins: softplus, tanh, elu, swish, relu, ...).
    depth : int
        Number of nonlinear layers.
    c_slope : float
        The network's ``C'(1)`` (DKS's zeta), > 1.
    q_slope : float
        The local ``Q'(1)`` (1 in the paper), > 0; ignored for ReLU (as in dks).

    Returns
    -------
    Transform

    Examples
    --------
    >>> t = dks_transform("softplus", 10)
    >>> round(t.params["input_scale"], 6), t.max_residual <= 1e-12
    (0.81028, True)
    """
    base = _base(act)
    depth = _depth(depth)
    c_slope = _target(c_slope, "c_slope", 1.0)
    q_slope = _target(q_slope, "q_slope", 0.0)
    local = c_slope ** (1.0 / depth)
    conditions = {"second_moment(1)": 1.0, "mean": 0.0, "q_slope(1)": q_slope, "c_slope(1)": local}
    fixed = None
    if base.name == "relu" and base.template is not None:
        # dks: ReLU has one degree of freedom less; the input shift is fixed and Q'(1) dropped
        fixed = {"input_shift": 1.0 if local < RELU_MAX_POSITIVE_SLOPE else -1.0}
        del conditions["q_slope(1)"]
    starts = _DKS_STARTS if fixed is None else [(s, fixed["input_shift"]) for s in (1.0, 0.1)]
    theta, residuals = _solve_or_explain(base, conditions, starts, False, None, fixed, "DKS")
    return Transform("DKS", base.name, depth, theta, conditions, residuals,
                     transformed_activation(base, theta, name=f"{base.name}-dks"))


def tat_transform(act, depth, c_curve=0.3, *, c0=0.9):
    """Tailored Activation Transformation of ``act`` for an MLP of ``depth`` layers (Zhang et al. 2022).

    Smooth ``act``: ``Q(1) = 1``, ``Q'(1) = 1``, ``C'(1) = 1`` and ``C''(1) = c_curve/depth`` (the
    network's ``C''(1) = c_curve``). Leaky ReLU (``"lrelu"``): the negative slope with network
    ``C(0) = c0`` and ``output_scale = sqrt(2/(1 + slope^2))``.

    Parameters
    ----------
    act : str or Activation
    depth : int
    c_curve : float
        The network's ``C''(1)`` (TAT's tau), > 0; smooth activations.
    c0 : float
        The network's ``C(0)`` (TAT's eta) in (0, 1); leaky ReLU only.

    Returns
    -------
    Transform
    """
    base = _base(act)
    depth = _depth(depth)
    if base.name in ("lrelu", "leaky_relu"):
        return _tat_lrelu(depth, _target(c0, "c0", 0.0))
    if base.name == "relu":
        raise ValueError("TAT needs a smooth activation or leaky ReLU ('lrelu'); ReLU is not supported (as in dks)")
    c_curve = _target(c_curve, "c_curve", 0.0)
    conditions = {"second_moment(1)": 1.0, "q_slope(1)": 1.0, "c_slope(1)": 1.0, "c_curvature(1)": c_curve / depth}

    def accept(theta):
        return theta["input_scale"] * theta["output_scale"] < TAT_MAX_GAIN

    theta, residuals = _solve_or_explain(base, conditions, _TAT_STARTS, True, accept, None, "TAT")
    return Transform("TAT", base.name, depth, theta, conditions, residuals,
                     transformed_activation(base, theta, name=f"{base.name}-tat"))


def _solve_or_explain(base, conditions, starts, shifts_given, accept, fixed, method):
    try:
        return _solve(base, conditions, starts, shifts_given, accept, fixed)
    except DesignError as exc:
        raise DesignError(f"{method} for {base.name}: no transform meets {conditions} ({exc})") from None


def lrelu_c_map(c, slope):
    """Local C map of leaky ReLU at ``Q(1) = 1`` (Zhang et al. 2022, eq. 9; Cho & Saul's arc-cosine kernel).

    .. math:: C(c) = \\frac{(1 - s)^2 (\\sqrt{1 - c^2} + (\\pi - \\arccos c)\\, c)/\\pi + 2 s c}{1 + s^2}
    """
    c = np.asarray(c, dtype=float)
    return ((1 - slope) ** 2 * (np.sqrt(np.maximum(1 - c * c, 0.0)) + (np.pi - np.arccos(np.clip(c, -1, 1))) * c)
            / np.pi + 2 * slope * c) / (1 + slope * slope)


def _net_c0(slope, depth):
    c = 0.0
    for _ in range(depth):
        c = float(lrelu_c_map(c, slope))
    return c


def _tat_lrelu(depth, c0):
    from scipy import optimize

    if not c0 < 1:
        raise ValueError(f"c0 must be in (0, 1); got {c0:g}")
    reach = _net_c0(0.0, depth)  # the net's C(0) decreases with the slope: slope 0 (ReLU) is the most
    if c0 > reach:
        raise ValueError(f"TAT for lrelu: a {depth}-layer MLP reaches C(0) <= {reach:.6g} (at slope 0, ReLU); "
                         f"c0 = {c0:g} needs more layers or a smaller c0")
    slope = optimize.brentq(lambda s: _net_c0(s, depth) - c0, 0.0, 1.0, xtol=1e-16, rtol=1e-15)
    scale = math.sqrt(2.0 / (1.0 + slope * slope))
    base = get_activation("lrelu", slope=slope)
    theta = {"input_scale": 1.0, "input_shift": 0.0, "output_shift": 0.0, "output_scale": scale}
    act = transformed_activation(base, theta, name="lrelu-tat")
    ev = Evaluator(AffineFamily(base), theta, (), 1)
    residuals = {"second_moment(1)": float(ev.value(parse_condition("second_moment(1)"))[0]) - 1.0,
                 f"net_c_map(0), depth {depth}": _net_c0(slope, depth) - c0}
    targets = {"second_moment(1)": 1.0, f"net_c_map(0), depth {depth}": c0}
    return Transform("TAT", "lrelu", depth, {**theta, "negative_slope": slope}, targets, residuals, act)
