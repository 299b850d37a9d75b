"""The :class:`Activation` class: f and f' (NumPy and mpmath), parameters, kinks, its SymPy template.

Re-exported by :mod:`meanfield.activations`, which also holds the built-in zoo (``_builtins.py``).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from meanfield._validation import check_activation_output, check_finite_scalar, check_sign
from meanfield.expressions import (
    DERIVATION_SECONDS,
    X,
    derivative,
    heaviside_to_piecewise,
    lambdify_renamed,
    parse_activation_expression,
    time_budget,
)

__all__ = ["Activation"]

#: Klambauer et al.'s SELU scale lambda for the fixed point (0, 1).
SELU_LAMBDA = 1.0507009873554805
#: Klambauer et al.'s SELU alpha for the fixed point (0, 1).
SELU_ALPHA = 1.6732632423543772

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Activation:
    """A scalar activation function with its derivative, parameters and kinks.

    Use :func:`get_activation`, :meth:`from_expression` or :meth:`from_callables`
    rather than the constructor.

    Attributes
    ----------
    name : str
    params : dict
        Parameter values by name (floats).
    template : sympy.Expr or None
        Expression in ``x`` and the parameter symbols (None for callables).
    kinks : tuple of float
        Points where ``f'`` is discontinuous.
    scale : float
        Width in ``x`` of the activation's finest feature (curvature near 0,
        exponential rates); quadrature rules resolve features of this size.
    """

    def __init__(self, name, *, params=None, template=None, f=None, df=None, kinks=(),
                 scale=1.0, mp_f=None, mp_df=None, description="", scale_rule=None,
                 kinks_from_template=False):
        self.name = str(name)
        self.params = {k: check_finite_scalar(v, f"{name} parameter {k}")
                       for k, v in (params or {}).items()}
        self.template = template
        if f is None or df is None:
            if template is None:
                raise ValueError("an activation needs a SymPy template or both f and df callables")
            f, df = _lambdify_pair(template, tuple(self.params))
        self._f = f
        self._df = df
        self.kinks = tuple(sorted(float(k) for k in kinks))
        self.scale = float(scale)
        self._mp = (mp_f, mp_df)
        self.description = description
        # what depends on the parameters is recomputed from them in with_params (issue 14.4)
        self._scale_rule = scale_rule
        self._kinks_from_template = kinks_from_template

    # -- evaluation ---------------------------------------------------------------------------
    def f(self, x):
        """Evaluate the activation elementwise (NumPy, float64 unless ``x`` is float32)."""
        x = _as_float(x)
        with np.errstate(over="ignore", under="ignore"):
            return self._f(x, **self.params)

    def df(self, x):
        """Evaluate the derivative ``f'`` elementwise (one-sided from the left at kinks)."""
        x = _as_float(x)
        with np.errstate(over="ignore", under="ignore"):
            out = self._df(x, **self.params)
        return np.broadcast_to(out, np.shape(x)).astype(x.dtype, copy=False) if np.ndim(out) < np.ndim(x) else out

    __call__ = f

    @property
    def expr(self):
        """The SymPy expression with parameter values substituted (None for callables)."""
        if self.template is None:
            return None
        return self.template.subs({sp.Symbol(k, real=True): sp.Float(v, 17)
                                   for k, v in self.params.items()})

    @property
    def parameter_symbols(self):
        """The template's parameter symbols, in the order of ``params``."""
        return tuple(sp.Symbol(k, real=True) for k in self.params)

    def mpmath_functions(self):
        """Return ``(f, df)`` evaluating in mpmath arbitrary precision, or None if unavailable."""
        if self._mp[0] is not None:
            return self._mp
        if self.template is None:
            return None
        return _mpmath_pair(self.template, tuple(self.params), tuple(self.params.values()))

    # -- derived activations ------------------------------------------------------------------
    def with_params(self, **params):
        """Return a copy with some parameter values replaced."""
        unknown = set(params) - set(self.params)
        if unknown:
            raise ValueError(f"{self.name} has no parameter(s) {sorted(unknown)}; "
                             f"its parameters are {sorted(self.params)}")
        new = object.__new__(Activation)
        new.__dict__.update(self.__dict__)
        new.params = {**self.params, **{k: check_finite_scalar(v, f"{self.name} parameter {k}")
                                        for k, v in params.items()}}
        new._mp = self._mp if self.template is None else (None, None)
        if self._scale_rule is not None:
            new.scale = self._scale_rule(new.params)
        if self._kinks_from_template:
            new.kinks = _kinks_of(self.template, new.params)
        return new

    def affine(self, scale, shift, name=None):
        """Return ``scale * f + shift`` as a new activation (parameters ``scale``, ``shift`` added)."""
        scale = check_finite_scalar(scale, "scale")
        shift = check_finite_scalar(shift, "shift")
        s_name, b_name = _fresh("scale", self.params), _fresh("shift", self.params)
        base_f, base_df, base_names = self._f, self._df, tuple(self.params)

        def f(x, **p):
            return p[s_name] * base_f(x, **{k: p[k] for k in base_names}) + p[b_name]

        def df(x, **p):
            return p[s_name] * base_df(x, **{k: p[k] for k in base_names})

        template = None
        if self.template is not None:
            template = sp.Symbol(s_name, real=True) * self.template + sp.Symbol(b_name, real=True)
        mp_f = mp_df = None
        if self.template is None and self._mp[0] is not None:
            mf, mdf = self._mp
            mp_f, mp_df = (lambda x: scale * mf(x) + shift), (lambda x: scale * mdf(x))
        return Activation(name or f"{scale:.6g}*{self.name}{shift:+.6g}",
                          params={**self.params, s_name: scale, b_name: shift},
                          template=template, f=f, df=df, kinks=self.kinks, scale=self.scale,
                          mp_f=mp_f, mp_df=mp_df, description=f"affine transform of {self.name}",
                          scale_rule=self._scale_rule,
                          kinks_from_template=self._kinks_from_template)

    def gpn(self, sign=1, method="auto"):
        """Return the Gaussian-Poincare normalized version ``a f + b`` (Lu, Gould, Ajanthan).

        ``a, b`` are :func:`meanfield.maps.gpn_constants`: ``E[(a f(z) + b)^2] =
        E[(a f'(z))^2] = 1`` for ``z ~ N(0, 1)``; ``sign`` picks the root for ``b``.
        """
        from meanfield.maps import gpn_constants

        a, b = gpn_constants(self, sign=check_sign(sign), method=method)
        return self.affine(a, b, name=f"{self.name}-gpn")

    # -- misc ---------------------------------------------------------------------------------
    def to_dict(self):
        """JSON-friendly description: name, parameters, kinks, expression."""
        return {"name": self.name, "params": dict(self.params), "kinks": list(self.kinks),
                "expression": None if self.template is None else str(self.expr)}

    def __repr__(self):
        ps = ", ".join(f"{k}={v:.10g}" for k, v in self.params.items())
        return f"Activation({self.name}{', ' if ps else ''}{ps})"

    # -- constructors for user activations ------------------------------------------------------
    @classmethod
    def from_expression(cls, text, *, name=None, params=None):
        """Build an activation from a SymPy expression string in ``x`` (parsed safely).

        Parameters
        ----------
        text : str
            E.g. ``"x*erf(x)"``, ``"Max(x, 0)"``, ``"Piecewise((x, x > 0), (a*(exp(x) - 1), True))"``.
        name : str, optional
        params : dict, optional
            Values of the parameters the expression uses besides ``x``.

        Examples
        --------
        >>> act = Activation.from_expression("Piecewise((x, x > 0), (a*x, True))", params={"a": 0.2})
        >>> act.kinks, float(act.f(-1.0))
        ((0.0,), -0.2)
        """
        params = dict(params or {})
        template = parse_activation_expression(text, params=list(params))
        free = {s.name for s in template.free_symbols} - {"x"}
        missing = free - set(params)
        if missing:
            raise ValueError(f"expression uses parameters {sorted(missing)} without values")
        if X not in template.free_symbols:
            raise ValueError(f"expression must depend on x; got {text!r}")
        values = {k: check_finite_scalar(v, f"parameter {k}") for k, v in params.items()}
        with time_budget(DERIVATION_SECONDS, f"finding the kinks of {text!r}"):
            kinks = _kinks_of(template, values)
        return cls(name or text, params=values, template=template, kinks=kinks,
                   description=f"user expression {text}", kinks_from_template=True)

    @classmethod
    def from_callables(cls, f, df=None, *, name="custom", kinks=None, scale=1.0, mp_f=None,
                       mp_df=None):
        """Build an activation from vectorized NumPy callables ``f(x)`` and (optionally) ``f'(x)``.

        Parameters
        ----------
        f, df : callable
            Elementwise NumPy functions of a float array. ``df=None`` derives ``f'``
            numerically: by the complex step ``Im f(x + ih)/h`` (exact to rounding) when ``f``
            is analytic and accepts complex arrays, else by 4th-order finite differences
            (about 1e-12 of the scale of ``f'``; one-sided next to kinks).
        kinks : sequence of float, optional
            Points where ``f'`` jumps; the quadrature engine splits its rule there (an
            undeclared kink costs accuracy: a ReLU shifted to 0.3 gives phi off by 20% at
            q = 0.01). ``None`` (default) detects them numerically in ``[-50, 50]`` (jumps of
            ``f'`` on a grid of step 1e-3, refined by bisection to ~1e-13); pass them when you
            know them, or ``()`` to assert there are none, which skips the search.
        scale : float
            Width in ``x`` of the finest feature (see :class:`Activation`).
        mp_f, mp_df : callable, optional
            mpmath scalar versions, enabling the ``"mpmath"`` reference engine.

        The closed-form engine needs a SymPy expression, so such activations use quadrature.

        Examples
        --------
        >>> act = Activation.from_callables(lambda x: np.maximum(x - 0.3, 0.0))
        >>> [round(k, 10) for k in act.kinks]
        [0.3]
        """
        from meanfield._callable_analysis import (
            detect_kinks,
            detect_kinks_from_values,
            numerical_derivative,
        )

        if not callable(f) or (df is not None and not callable(df)):
            raise ValueError("f and df must be callables of a NumPy array")
        # a callable returning None, complex values or the wrong shape is named as such
        user_f = f  # the complex-step derivative below evaluates f at complex points
        f, df = _checked_output(f, f"activation {name!r}: f"), _checked_output(df, f"activation {name!r}: df")
        if kinks is None:
            kinks = detect_kinks(df) if df is not None else detect_kinks_from_values(f)
        kinks = tuple(check_finite_scalar(k, "kinks entry") for k in kinks)
        if df is None:
            df = _checked_output(numerical_derivative(user_f, kinks), f"activation {name!r}: df")
        return cls(name, params={}, f=f, df=df, kinks=kinks,
                   scale=check_finite_scalar(scale, "scale"), mp_f=mp_f, mp_df=mp_df,
                   description="user callables")


# ------------------------------------------------------------------------------------------------
# helpers


def _checked_output(func, what):
    """``func`` with its output checked by :func:`~meanfield._validation.check_activation_output`."""
    if func is None:
        return None

    def checked(x):
        return check_activation_output(func(x), x, what)

    return checked


def _as_float(x):
    x = np.asarray(x)
    if x.dtype in (np.float32, np.float16, np.float64):
        return x
    return x.astype(np.float64)


def _fresh(base, taken):
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}{i}"
    return name


def _lambdify_pair(template, names):
    symbols = [sp.Symbol(n, real=True) for n in names]
    # Heaviside(NaN) is NaN, as on the GPU (SymPy's own NumPy printing gives 1)
    f = lambdify_renamed([X, *symbols], heaviside_to_piecewise(template),
                         modules=["numpy", "scipy"])
    df = lambdify_renamed([X, *symbols], heaviside_to_piecewise(derivative(template)),
                          modules=["numpy", "scipy"])

    def f_np(x, **p):
        with np.errstate(all="ignore"):
            return np.broadcast_to(f(x, *(p[n] for n in names)), np.shape(x)) * np.ones_like(x)

    def df_np(x, **p):
        with np.errstate(all="ignore"):
            return np.broadcast_to(df(x, *(p[n] for n in names)), np.shape(x)) * np.ones_like(x)

    return f_np, df_np


def _mpmath_pair(template, names, values):
    subs = {sp.Symbol(n, real=True): sp.Float(v, 40) for n, v in zip(names, values, strict=True)}
    expr = template.subs(subs)
    f = sp.lambdify(X, expr, modules="mpmath")
    df = sp.lambdify(X, derivative(expr), modules="mpmath")
    return f, df


def _kinks_of(template, values):
    """Points where the derivative may jump: Piecewise breakpoints, zeros of Abs/Max/Min args."""
    expr = template.subs({sp.Symbol(k, real=True): v for k, v in values.items()})
    expr = expr.rewrite(sp.Piecewise)
    points = set()
    for pw in expr.atoms(sp.Piecewise):
        for _, cond in pw.args:
            for rel in cond.atoms(sp.core.relational.Relational):
                sol = sp.solve(sp.Eq(rel.lhs, rel.rhs), X)
                points.update(float(s) for s in sol if s.is_real)
    return tuple(sorted(points))
