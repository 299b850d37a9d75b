"""The built-in activations of DESIGN.md: hand-written NumPy beside each SymPy template.

Re-exported by :mod:`meanfield.activations` (``get_activation``, ``list_activations``,
``normalized``, ``ACTIVATIONS``, ``SELU_LAMBDA``, ``SELU_ALPHA``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import sympy as sp
from scipy import special

from meanfield._activation import _INV_SQRT_2PI, SELU_ALPHA, SELU_LAMBDA, Activation
from meanfield._validation import check_finite_scalar
from meanfield.expressions import (
    X,
)

__all__ = ["ACTIVATIONS", "get_activation", "list_activations", "normalized"]

# the built-in zoo: hand-written NumPy (overflow-free branches) beside the SymPy template

_x = X
_lam, _alpha, _beta, _slope = (sp.Symbol(n, real=True) for n in ("lam", "alpha", "beta", "slope"))


def _relu(x):
    return np.maximum(x, 0)


def _split_at_zero(out, x, negative):
    """``out`` (the ``x > 0`` branch, computed everywhere) with ``negative(x)`` where ``x <= 0``.

    ``negative`` is evaluated on the entries ``x <= 0`` (and NaN) only: ``np.expm1`` has no SIMD
    loop, so the exponential branches of ELU and the SELU family cost about half as much as with
    ``np.where`` over both branches, and give the same values (``f(-0.0)`` is now ``-0.0``).
    ``out`` has ``x``'s memory layout (as ``np.where``'s result had: later reductions then sum in
    the same order and the simulator's records keep their bits).
    """
    if out.ndim == 0:
        return out if x > 0 else out.dtype.type(negative(x))
    order = next((o for o, flag in (("C", "C_CONTIGUOUS"), ("F", "F_CONTIGUOUS"))
                  if x.flags[flag] and out.flags[flag]), None)
    if order is None:  # strided input: a boolean mask (slower, same values)
        at = ~(x > 0)
        out[at] = negative(x[at])
        return out
    flat_x, flat_out = x.reshape(-1, order=order), out.reshape(-1, order=order)  # views
    at = np.flatnonzero(~(flat_x > 0))
    if at.size:
        flat_out[at] = negative(flat_x[at])
    return out


def _linear_or(x, slope, negative):
    """``slope * x`` where ``x > 0``, ``negative(x)`` elsewhere (see :func:`_split_at_zero`)."""
    return _split_at_zero(np.multiply(x, slope), x, negative)  # x's memory layout, as np.where


def _constant_or(x, value, negative):
    """``value`` where ``x > 0``, ``negative(x)`` elsewhere, in ``x``'s dtype."""
    return _split_at_zero(np.full_like(x, value), x, negative)  # x's memory layout, as np.where


def _step(x):
    return (x > 0).astype(x.dtype if x.dtype.kind == "f" else float)


def _sech2(x):
    t = np.exp(-2 * np.abs(x))
    return 4 * t / (1 + t) ** 2


_BUILTIN_SPECS = {
    "relu": dict(
        template=sp.Piecewise((_x, _x > 0), (0, True)), defaults={}, kinks=(0.0,),
        f=lambda x: _relu(x), df=lambda x: _step(x), description="max(x, 0)"),
    "lrelu": dict(
        template=sp.Piecewise((_x, _x > 0), (_slope * _x, True)), defaults={"slope": 0.01},
        kinks=(0.0,), f=lambda x, slope: np.where(x > 0, x, slope * x),
        df=lambda x, slope: np.where(x > 0, 1.0, slope).astype(x.dtype),
        description="leaky ReLU: x for x > 0, slope*x otherwise"),
    "elu": dict(
        template=sp.Piecewise((_x, _x > 0), (_alpha * (sp.exp(_x) - 1), True)),
        defaults={"alpha": 1.0}, kinks=(0.0,),
        f=lambda x, alpha: _linear_or(x, 1.0, lambda n: alpha * np.expm1(n)),
        df=lambda x, alpha: _constant_or(x, 1.0, lambda n: alpha * np.exp(n)),
        description="x for x > 0, alpha*(e^x - 1) otherwise"),
    "selu": dict(
        template=sp.Piecewise((_lam * _x, _x > 0), (_lam * _alpha * (sp.exp(_x) - 1), True)),
        defaults={"lam": SELU_LAMBDA, "alpha": SELU_ALPHA}, kinks=(0.0,),
        f=lambda x, lam, alpha: _linear_or(x, lam, lambda n: lam * (alpha * np.expm1(n))),
        df=lambda x, lam, alpha: _constant_or(x, lam, lambda n: lam * (alpha * np.exp(n))),
        description="Klambauer et al.: lam*x for x > 0, lam*alpha*(e^x - 1) otherwise"),
    "dselu": dict(
        template=sp.Piecewise((_lam * _x, _x > 0), (_lam * _alpha * (sp.exp(_x) - 1), True)),
        defaults=None, required=("lam", "alpha"), kinks=(0.0,),
        f=lambda x, lam, alpha: _linear_or(x, lam, lambda n: lam * (alpha * np.expm1(n))),
        df=lambda x, lam, alpha: _constant_or(x, lam, lambda n: lam * (alpha * np.exp(n))),
        description="depth-aware SELU (Chen et al. 2020b): SELU's form, parameters from solve('dselu', eps)"),
    "sselu": dict(
        template=sp.Piecewise((_lam * _x, _x > 0),
                              (_lam * _alpha * (sp.exp(_beta * _x) - 1), True)),
        defaults=None, required=("lam", "alpha", "beta"), kinks=(0.0,),
        f=lambda x, lam, alpha, beta: _linear_or(x, lam, lambda n: lam * (alpha * np.expm1(beta * n))),
        df=lambda x, lam, alpha, beta: _constant_or(
            x, lam, lambda n: lam * (alpha * beta * np.exp(beta * n))),
        description="scaled SELU (Chen et al.): lam*x for x > 0, lam*alpha*(e^(beta x) - 1) otherwise"),
    "lselu": dict(
        template=sp.Piecewise((_lam * _x, _x > 0),
                              (_lam * (_alpha * sp.exp(_x) + _beta * _x - _alpha), True)),
        defaults=None, required=("lam", "alpha", "beta"), kinks=(0.0,),
        f=lambda x, lam, alpha, beta: _linear_or(x, lam, lambda n: lam * (alpha * np.expm1(n) + beta * n)),
        df=lambda x, lam, alpha, beta: _constant_or(x, lam, lambda n: lam * (alpha * np.exp(n) + beta)),
        description="leaky SELU (Chen et al.): lam*x for x > 0, lam*(alpha e^x + beta x - alpha) otherwise"),
    "tanh": dict(
        template=sp.tanh(_x), defaults={}, kinks=(),
        f=lambda x: np.tanh(x), df=lambda x: _sech2(x), description="tanh(x)"),
    "sigmoid": dict(
        template=1 / (1 + sp.exp(-_x)), defaults={}, kinks=(),
        f=lambda x: special.expit(x), df=lambda x: special.expit(x) * special.expit(-x),
        description="logistic sigmoid 1/(1 + e^-x)"),
    "softplus": dict(
        template=sp.log(1 + sp.exp(_x)), defaults={}, kinks=(),
        f=lambda x: np.logaddexp(0, x), df=lambda x: special.expit(x),
        description="log(1 + e^x)"),
    "gelu": dict(
        template=_x * (1 + sp.erf(_x / sp.sqrt(2))) / 2, defaults={}, kinks=(),
        f=lambda x: x * special.ndtr(x),
        df=lambda x: special.ndtr(x) + x * _INV_SQRT_2PI * np.exp(-0.5 * x * x),
        description="exact GELU x*Phi(x) (erf form)"),
    "swish": dict(
        template=_x / (1 + sp.exp(-_x)), defaults={}, kinks=(),
        f=lambda x: x * special.expit(x),
        df=lambda x: special.expit(x) * (1 + x * special.expit(-x)),
        description="swish / SiLU x*sigmoid(x)"),
    "erf": dict(
        template=sp.erf(_x), defaults={}, kinks=(),
        f=lambda x: special.erf(x),
        df=lambda x: (2 / math.sqrt(math.pi)) * np.exp(-x * x), description="erf(x)"),
    "linear": dict(
        template=_x, defaults={}, kinks=(),
        f=lambda x: x + 0, df=lambda x: np.ones_like(x), description="identity x"),
}

_NORMALIZED = {"nrelu": "relu", "nswish": "swish"}


def _builtin(name, params):
    spec = _BUILTIN_SPECS[name]
    defaults = spec["defaults"] or {}
    allowed = set(defaults) | set(spec.get("required", ()))
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {sorted(unknown)}; "
                         f"its parameters are {sorted(allowed) or 'none'}")
    missing = [p for p in spec.get("required", ()) if p not in params]
    if missing:
        raise ValueError(
            f"{name} needs parameter(s) {missing} (e.g. from meanfield.solve({name!r}, eps=...)); "
            f"got {sorted(params) or 'none'}")
    order = list(defaults) + [p for p in spec.get("required", ()) if p not in defaults]
    values = {k: params.get(k, defaults.get(k)) for k in order}
    rule = _sselu_scale if name == "sselu" else None
    f0, df0 = spec["f"], spec["df"]
    return Activation(name, params=values, template=spec["template"],
                      f=lambda x, **p: f0(x, **p), df=lambda x, **p: df0(x, **p),
                      kinks=spec["kinks"], scale=rule(values) if rule else 1.0,
                      description=spec["description"], scale_rule=rule)


#: Smallest |beta| the sSELU feature width 1/|beta| is computed for (beta = 0 is a linear branch).
_BETA_FLOOR = 1e-300


def _sselu_scale(params):
    """Width ``1/|beta|`` of sSELU's ``e^(beta x)`` branch: the quadrature grades its mesh to it.

    Both ways: a fast branch (beta = 50) is a boundary layer of width 1/50, a slow one
    (beta = 0.036) decays over 28 units of x, which the mesh must follow that far too.
    """
    return 1.0 / max(abs(params["beta"]), _BETA_FLOOR)


def normalized(act, var=1.0, method="auto"):
    """Yuan & Zhu's normalized activation ``lam (f(x) - mu)`` at input variance ``var``.

    ``lam = sqrt((rho + rho') / (2 rho rho'))`` with ``rho = Var[f(x)]/var`` and
    ``rho' = E[f'(x)^2]`` (Yuan & Zhu, eq. 13, 31), ``mu = E[f(x)]``, x ~ N(0, var); the
    learnable offset of their eq. 15 is at its initial value 0.
    """
    from meanfield.maps import normalization_factor, output_mean

    _, _, lam = normalization_factor(act, var, method=method)
    mu = output_mean(act, 0.0, var, method=method)
    lam, mu = float(lam), float(mu)
    return act.affine(lam, -lam * mu, name=f"n{act.name}")


def get_activation(name, **params):
    """Return a built-in activation by name, with parameters overriding the defaults.

    Parameters
    ----------
    name : str
        One of :func:`list_activations`. An :class:`Activation` is returned unchanged.
    **params : float
        Parameter values (e.g. ``slope=0.2`` for ``lrelu``, ``var=2.0`` for ``nrelu``).

    Raises
    ------
    ValueError
        Unknown name, unknown parameter, missing required parameter, or a non-finite value.
    """
    if isinstance(name, Activation):
        return name.with_params(**params) if params else name
    key = str(name).lower()
    if key in _BUILTIN_SPECS:
        return _builtin(key, params)
    if key in _NORMALIZED:
        unknown = set(params) - {"var"}
        if unknown:
            raise ValueError(f"{key} has no parameter(s) {sorted(unknown)}; its parameter is var")
        var = check_finite_scalar(params.get("var", 1.0), "var")
        if var <= 0:
            raise ValueError(f"var must be > 0 (valid range: (0, inf)); got {var}")
        return normalized(_builtin(_NORMALIZED[key], {}), var)
    raise ValueError(f"unknown activation {name!r}; built-ins are {', '.join(list_activations())}")


def list_activations():
    """Names of the built-in activations, in DESIGN.md's order."""
    return [*_BUILTIN_SPECS, *_NORMALIZED]


#: Registry of built-in names -> one-line descriptions.
ACTIVATIONS: Mapping[str, str] = {
    **{k: v["description"] for k, v in _BUILTIN_SPECS.items()},
    "nrelu": "Yuan & Zhu's normalized ReLU lam*(relu(x) - mu) at input variance var",
    "nswish": "Yuan & Zhu's normalized swish lam*(swish(x) - mu) at input variance var",
}

