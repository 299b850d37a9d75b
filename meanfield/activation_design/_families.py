"""Parametric activations as the design solver sees them: values and exact parameter gradients on nodes.

A *family* maps a parameter dict ``theta`` to an activation ``g(x; theta)``. On an array of nodes
``x`` it returns ``g``, ``g'`` and ``g''`` (derivatives in ``x``) and their gradients in the
unknown parameters, all from SymPy derivatives turned into NumPy code once per family:

* :class:`SymbolicFamily`: a SymPy template ``T(x; theta)`` (a built-in, a user expression);
  ``d^r T / dx^r`` and ``d/dtheta_j d^r T / dx^r`` are differentiated symbolically.
* :class:`AffineFamily`: the DKS/TAT transform (Martens et al. 2021, eq. 12; Zhang et al. 2022)
  ``g(x) = output_scale * (f(input_scale * x + input_shift) + output_shift)`` of any base
  activation with a template; with ``u = input_scale x + input_shift`` and ``a = output_scale``,
  ``b = input_scale``, ``c = input_shift``, ``d = output_shift``,

  .. math:: g = a (f(u) + d),\\quad g' = a b f'(u),\\quad g'' = a b^2 f''(u),

  and e.g. ``dg/db = a f'(u) x``, ``dg'/db = a f'(u) + a b f''(u) x``, ``dg''/db = 2 a b f''(u)
  + a b^2 f'''(u) x``, ``dg^{(r)}/dc = a b^r f^{(r+1)}(u)``. Its kinks are ``(k - c)/b`` for the
  base's kinks ``k``.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from meanfield.activations import Activation, get_activation
from meanfield.expressions import X

__all__ = ["AFFINE_NAMES", "AffineFamily", "SymbolicFamily", "family_of"]

#: The DKS/TAT transform's parameters (dks's names), in the order of the formula.
AFFINE_NAMES = ("input_scale", "input_shift", "output_shift", "output_scale")


@functools.lru_cache(maxsize=64)
def _lambdified_derivatives(template, names, order, wrt):
    """NumPy functions of ``(x, *params)``: ``d^r T/dx^r`` (r <= order) and ``d/dw`` of each, w in wrt."""
    symbols = [sp.Symbol(n, real=True) for n in names]
    columns = []
    expr = template
    for _ in range(order + 1):
        columns.append([expr] + [sp.diff(expr, sp.Symbol(w, real=True)) for w in wrt])
        expr = sp.diff(expr, X)
    flat = [e for col in columns for e in col]
    fn = sp.lambdify([X, *symbols], flat, modules=[{"select": _select}, "numpy"], cse=True)
    return fn, len(wrt) + 1


def _select(condlist, choicelist, default=0.0):
    """``numpy.select`` (the first true condition wins) as a chain of ``numpy.where``.

    The lambdified Piecewise of a kinked template calls it for every derivative at every
    quadrature rule; ``numpy.select`` broadcasts all its arguments first and took most of a
    design evaluation's time (elu's DKS transform: 60 of 135 ms).
    """
    out = default
    for cond, choice in zip(reversed(condlist), reversed(choicelist), strict=True):
        out = np.where(cond, choice, out)
    return out


def _broadcast(value, shape):
    if isinstance(value, np.ndarray) and value.shape == shape:
        return value
    return np.full(shape, float(value)) if np.ndim(value) == 0 else np.broadcast_to(value, shape)


@functools.lru_cache(maxsize=128)
def _kink_parameters(template):
    """Names of the parameters that appear in a Piecewise condition of ``template`` (they move a kink)."""
    moving = set()
    for pw in template.rewrite(sp.Piecewise).atoms(sp.Piecewise):
        for _, cond in pw.args:
            moving |= {s.name for s in cond.free_symbols} - {"x"}
    return frozenset(moving)


class SymbolicFamily:
    """``g(x; theta) = T(x; theta)`` for a SymPy template (parameters ``names``, defaults ``values``)."""

    def __init__(self, act):
        if act.template is None:
            raise ValueError(f"design needs a SymPy expression for {act.name} (it was built from callables); "
                             f"use Activation.from_expression")
        self.act = act
        self.template = act.template
        self.names = tuple(act.params)
        self.values = dict(act.params)
        self._kinks = act.kinks

    def check_unknowns(self, unknowns):
        bad = sorted(set(unknowns) & _kink_parameters(self.template))
        if bad:
            raise ValueError(f"unknowns {bad} move a kink of {self.act.name}; design needs kinks that do not "
                             f"depend on the unknowns (reparametrize, e.g. shift x instead)")

    def kinks(self, theta):
        return self._kinks

    def evaluate(self, theta, x, unknowns, order):
        """``(G, dG)``: ``G[r]`` = ``d^r g/dx^r`` at ``x``; ``dG[r][j]`` its derivative in ``unknowns[j]``."""
        fn, width = _lambdified_derivatives(self.template, self.names, order, tuple(unknowns))
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            flat = fn(x, *(theta[n] for n in self.names))
        flat = [_broadcast(v, x.shape) for v in flat]
        values = [flat[r * width] for r in range(order + 1)]
        grads = [np.stack(flat[r * width + 1:(r + 1) * width]) if width > 1 else np.zeros((0,) + x.shape)
                 for r in range(order + 1)]
        return values, grads

    def activation(self, theta):
        return self.act.with_params(**theta)


class AffineFamily:
    """``output_scale * (f(input_scale * x + input_shift) + output_shift)`` of a base activation."""

    def __init__(self, base):
        if base.template is None:
            raise ValueError(f"the DKS/TAT transform needs a SymPy expression for {base.name} (it was built from "
                             f"callables); use Activation.from_expression")
        self.base = base
        self.names = AFFINE_NAMES
        self.values = {"input_scale": 1.0, "input_shift": 0.0, "output_shift": 0.0, "output_scale": 1.0}

    def check_unknowns(self, unknowns):
        return None

    def kinks(self, theta):
        b, c = theta["input_scale"], theta["input_shift"]
        if b == 0:
            return ()
        return tuple(sorted((k - c) / b for k in self.base.kinks))

    def evaluate(self, theta, x, unknowns, order):
        base = self.base
        fn, _ = _lambdified_derivatives(base.template, tuple(base.params), order + 1, ())
        a, b, c, d = (theta[n] for n in ("output_scale", "input_scale", "input_shift", "output_shift"))
        u = b * x + c
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            fs = [_broadcast(v, x.shape) for v in fn(u, *base.params.values())]
        values, grads = [], []
        for r in range(order + 1):
            br = b**r
            values.append(a * br * fs[r] + (a * d if r == 0 else 0.0))
            partial = {
                "output_scale": br * fs[r] + (d if r == 0 else 0.0),
                "input_scale": a * (r * b ** (r - 1) * fs[r] if r else 0.0) + a * br * fs[r + 1] * x,
                "input_shift": a * br * fs[r + 1],
                "output_shift": np.full(x.shape, a if r == 0 else 0.0),
            }
            grads.append(np.stack([_broadcast(partial[n], x.shape) for n in unknowns])
                         if unknowns else np.zeros((0,) + x.shape))
        return values, grads

    def activation(self, theta):
        return transformed_activation(self.base, theta)


def transformed_activation(base, params, name=None):
    """The meanfield :class:`Activation` ``output_scale * (f(input_scale x + input_shift) + output_shift)``.

    Its template is the base template with ``x -> input_scale x + input_shift`` and the four
    transform values substituted as numbers (so its kinks ``(k - input_shift)/input_scale`` are
    numbers and every engine, the simulator and ``check`` treat it as an ordinary activation); its
    parameters are the base activation's.
    """
    theta = {n: float(params[n]) for n in AFFINE_NAMES}
    if set(base.params) & set(AFFINE_NAMES):
        raise ValueError(f"{base.name} already has parameters named like the transform's {AFFINE_NAMES}")
    a, b, c, d = (theta[n] for n in ("output_scale", "input_scale", "input_shift", "output_shift"))
    if b == 0:
        raise ValueError("input_scale must be non-zero")
    af = sp.Float(a, 17)
    template = af * (base.template.subs(X, sp.Float(b, 17) * X + sp.Float(c, 17)) + sp.Float(d, 17))
    base_f, base_df = base._f, base._df

    def f(x, **p):
        return a * (base_f(b * x + c, **p) + d)

    def df(x, **p):
        return (a * b) * base_df(b * x + c, **p)

    kinks = tuple(sorted((k - c) / b for k in base.kinks))
    return Activation(name or f"{base.name}-transformed", params=dict(base.params), template=template,
                      f=f, df=df, kinks=kinks, scale=base.scale / abs(b),
                      description=f"{a:.10g} * ({base.name}({b:.10g} x {c:+.10g}) {d:+.10g})")


def family_of(act, params=None):
    """A family for ``act``: an :class:`Activation`, a built-in name or a SymPy expression string.

    For an expression string, ``params`` gives the values of its parameters (start values of the
    unknowns and the fixed values of the rest).
    """
    if isinstance(act, (SymbolicFamily, AffineFamily)):
        return act
    if isinstance(act, Activation):
        return SymbolicFamily(act)
    if isinstance(act, str):
        from meanfield.activations import list_activations

        if act.lower() in list_activations():
            return SymbolicFamily(_builtin_with_defaults(act.lower(), params or {}))
        return SymbolicFamily(Activation.from_expression(act, params=params or {}))
    raise ValueError(f"act must be an Activation, a built-in name or a SymPy expression string; got {act!r}")


def _builtin_with_defaults(name, params):
    """A built-in with required parameters (dselu, sselu, lselu) filled with 1.0 unless given."""
    try:
        return get_activation(name, **params)
    except ValueError:
        for fill in (("lam", "alpha"), ("lam", "alpha", "beta")):
            try:
                return get_activation(name, **{**dict.fromkeys(fill, 1.0), **params})
            except ValueError:
                continue
        raise
