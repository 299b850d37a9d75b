"""The ``closed`` engine: Gaussian expectations in closed form, derived by SymPy.

SymPy does the algebra, NumPy the arithmetic:

1. **Derivation (SymPy, once per activation family).** The activation's template
   (an expression in ``x`` and parameter *symbols*) is split into pieces on
   intervals between its kinks. For the integrand ``g`` of each quantity
   (``f``, ``f^2``, ``f'^2``, and for derivatives ``g'`` and ``x g'``), every piece is
   expanded into a sum of *terms*

   .. math:: C(\\theta)\\; x^k\\, e^{c(\\theta) x + d(\\theta) x^2}\\, \\Phi(b(\\theta) x)^j,

   with ``erf(u)`` rewritten as ``2 Phi(sqrt(2) u) - 1``. Coefficients and rates
   are lambdified functions of the parameters ``theta``, so the derivation is done
   once per family and then evaluated for any parameter values (arrays broadcast).
   Piecewise exponential-linear activations (ReLU-likes, ELU, SELU, dSELU,
   sSELU, lSELU, their GPN versions), polynomials and erf forms (GELU, erf)
   decompose; tanh, sigmoid, softplus and swish do not (``auto`` uses quadrature).

2. **Evaluation (NumPy, overflow-safe).** For a piece ``x < a`` and
   ``x ~ N(m, v)``, completing the square gives, with ``s = sqrt(v)`` and
   ``t = (m + c v - a)/s``,

   .. math:: E[x^k e^{cx} 1_{x<a}] = e^{c a - (m-a)^2/(2v)}
             \\sum_{i=0}^{k} \\binom{k}{i} a^{k-i} (-s)^i G_i(t),
             \\qquad G_i(t) = \\frac{1}{\\sqrt{2\\pi}} \\int_0^\\infty u^i e^{-u^2/2 - t u}\\,du.

   ``G_0(t) = erfcx(t/sqrt 2)/2`` is the *scaled* complementary error function;
   the exponent ``c a - (m - a)^2/(2v)`` never overflows where the integral is
   finite (no ``exp * ndtr`` products). ``G_i`` for ``0 <= t < 50`` is read from a table of
   ``G_0 .. G_23`` on a grid of spacing 1/32 (built once at import: graded Gauss-Legendre below
   ``t = 6``, Miller's backward recurrence above) with the exact Taylor series
   ``G_i(t0 + e) = sum_n (-e)^n/n! G_{i+n}(t0)``; ``t >= 50`` uses the asymptotic series; for
   ``t < 0`` the unscaled forward recurrence is stable. At mean 0 and small ``|c| sqrt(v)`` the
   half-line terms are summed as a power series in ``c x`` instead, so that combinations like
   ``e^{2 beta x} - 2 e^{beta x} + 1`` cancel in their coefficients, not in rounded values.
   Whole-line terms with ``Phi(b x)^j`` use Stein's lemma
   ``E[(x - m) h(x)] = v E[h'(x)]`` down to ``E[Phi(bx)] = Phi(h)`` and
   ``E[Phi(bx)^2] = Phi_2(h, h; rho)``, the bivariate normal orthant written with
   Plackett's identity as ``Phi(h)^2 + (2 pi)^-1 int_0^{asin rho} exp(-h^2/(1 + sin t)) dt``
   (a positive integrand, evaluated by a 24-node Gauss-Legendre rule).

Derivatives in ``mean`` and ``var`` are exact: for pieces with jumps ``J_i`` of ``g``
at kinks ``a_i`` and ``N(a; m, v)`` the Gaussian density,

.. math:: \\partial_m E[g] = E[g'] + \\sum_i J_i N(a_i; m, v), \\qquad
          \\partial_v E[g] = \\frac{E[(x - m) g']}{2v} + \\sum_i J_i N(a_i; m, v) \\frac{a_i - m}{2v},

so ``dphi/dq`` of SELU, for example, is a single negative-definite term and has no
cancellation.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.special

from meanfield.engines._closed_derivation import NormalCDF, NotClosedForm, derive_spec, spec_key
from meanfield.engines._closed_numerics import (  # noqa: F401 - SERIES_MAX_RATE re-exported
    SERIES_MAX_RATE,
    half_normal_moment,
    series_pieces,
    series_term,
    term_expectation,
)
from meanfield.expressions import DERIVATION_SECONDS, time_budget

__all__ = ["ClosedEngine", "NormalCDF", "NotClosedForm", "family_moments", "derive"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: Polynomial tables kept per compiled form (parameter values -> table); solvers reuse a few.
_TABLE_CACHE_SIZE = 64
#: E[Phi(b x)^j] - (its asin part) at mean 0, j = 0, 1, 2
_CENTRED_CONSTANT = (1.0, 0.5, 0.25)


class _Derived:
    """Compiled terms of one (template, quantity, derivative): evaluate with parameter values."""

    def __init__(self, names, spec, derivative):
        self.names = names
        self.derivative = derivative
        args = ", ".join(f"p{i}" for i in range(len(names)))
        tuples = "".join(f"({', '.join(src)}), " for *_, src in spec["terms"])
        jumps = "".join(f"{src}, " for _, src in spec["jumps"])
        namespace = {"numpy": np, "scipy": scipy}
        # the sources are SymPy's NumPy printing of derived coefficients (shipped or derived
        # here), never text from a file a user handed us
        exec(f"def coefficients({args}):\n    return ({tuples})\n"  # noqa: S102
             f"def jump_sizes({args}):\n    return ({jumps})\n", namespace)
        self._coefficients = namespace["coefficients"]
        self._jump_sizes = namespace["jump_sizes"]
        self.layout = [(lo, hi, k, j, tag) for lo, hi, k, j, tag, _ in spec["terms"]]
        self.jump_points = [a for a, _ in spec["jumps"]]
        self.polynomial = _polynomial_terms(spec["terms"])
        self._rest = [i for i in range(len(self.layout)) if i not in self.polynomial]
        self._tables = {}

    def _polynomial_tables(self, key, coefficients):
        """``{tag: {k: a_k}}`` of the plain ``x^k`` terms at mean 0, cached per parameter values."""
        poly = self._tables.get(key)
        if poly is not None:
            return poly
        poly = {"g": {}, "xg": {}}
        for i in self.polynomial:
            lo, hi, k, _j, tag = self.layout[i]
            if lo == -math.inf and hi == math.inf:
                if k % 2:
                    continue
                moment = 2.0 * half_normal_moment(k)  # E[z^k] = (k - 1)!!
            else:
                moment = half_normal_moment(k) * (1.0 if lo == 0 or k % 2 == 0 else -1.0)
            table = poly[tag]
            table[k] = table.get(k, 0.0) + float(coefficients[i][0]) * moment
        if len(self._tables) < _TABLE_CACHE_SIZE:
            self._tables[key] = poly
        return poly

    def __call__(self, params, mean, var):
        values = [np.asarray(params[n], dtype=float) for n in self.names]
        shape = np.broadcast_shapes(np.shape(mean), np.shape(var), *(np.shape(v) for v in values))
        parts = {"g": 0.0, "xg": 0.0}
        coefficients = self._coefficients(*values) if self.layout else ()
        centred = not np.any(mean)
        poly = None
        if centred and self.polynomial and not any(v.ndim for v in values):
            # mean 0, scalar parameters: x^k terms free of exponentials are s^k times exact
            # Gaussian / half-normal moments; their coefficients are summed per power first
            poly = self._polynomial_tables(tuple(float(v) for v in values), coefficients)
            keep = self._rest
        else:
            keep = range(len(self.layout))
        evaluated = [(*self.layout[i], *(np.asarray(v, dtype=float) for v in coefficients[i]))
                     for i in keep]
        if not evaluated and self.derivative is None:  # a polynomial in s: ReLU-likes, x^k
            table = poly["g"]
            if not table:
                return np.zeros(shape)
            out = _evaluate_polynomial(table, var)
            return out if np.shape(out) == shape else np.broadcast_to(out, shape)
        series = self._series_mask(evaluated, mean, var, shape)
        series_everywhere = series is not None and bool(series.all())
        half = {"g": 0.0, "xg": 0.0}  # the series-able terms' direct values
        constant = {"g": 0.0, "xg": 0.0}  # exact constants of centred whole-line terms
        for term in evaluated:
            lo, hi, k, j, tag, coef, c, d, b = term
            in_series = series is not None and series_term(term)
            if in_series and series_everywhere:  # the series below gives every value
                continue
            if centred and k == 0 and lo == -math.inf and hi == math.inf and not np.any(c) \
                    and not np.any(d):
                # E[Phi(bx)^j] at mean 0 = 1 (j = 0), 1/2, 1/4 + asin(rho)/(2 pi) (Sheppard):
                # the constants are summed apart, so that erf's 4/4 - 4/2 + 1 cancels exactly
                # and E[erf(x)^2] keeps its relative accuracy as q -> 0
                constant[tag] = constant[tag] + coef * _CENTRED_CONSTANT[j]
                if j == 2:  # asin(rho), rho = B/(1 + B), B = b^2 v, as atan(B/sqrt(1 + 2B)):
                    tilt = np.asarray((b * b) * var)  # well conditioned also where rho -> 1
                    if tilt.ndim:  # in place: one temporary for the whole chain
                        root = 2.0 * tilt
                        root += 1.0
                        np.sqrt(root, out=root)
                        angle = np.arctan2(tilt, root, out=root)
                        angle *= coef * (1 / (2 * math.pi))
                    else:
                        angle = np.arctan2(tilt, np.sqrt(1 + 2 * tilt)) * (coef / (2 * math.pi))
                    parts[tag] = angle if isinstance(parts[tag], float) and parts[tag] == 0.0 \
                        else parts[tag] + angle
                continue
            value = coef * term_expectation(k, j, c, d, b, lo, hi, mean, var)
            if in_series:
                half[tag] = half[tag] + value
            else:
                parts[tag] = parts[tag] + value
        if series is not None:  # the series replaces the direct values where it is used
            var_series = np.broadcast_to(var, shape)[series]
            for tag in parts:
                chosen = [e for e in evaluated if e[4] == tag and series_term(e)]
                if chosen:
                    half[tag] = np.array(np.broadcast_to(half[tag], shape))  # writable
                    half[tag][series] = series_pieces(chosen, var_series, shape, series)
        if poly is not None:
            for tag, table in poly.items():
                if table:
                    parts[tag] = parts[tag] + _evaluate_polynomial(table, var)
        for tag in parts:
            total = parts[tag]
            if not (isinstance(half[tag], float) and half[tag] == 0.0):
                total = total + half[tag]
            if not (isinstance(constant[tag], float) and constant[tag] == 0.0):
                total = total + constant[tag]
            parts[tag] = total if np.shape(total) == shape else np.broadcast_to(total, shape)
        if self.derivative is None:
            return parts["g"]
        density_sum = np.zeros(shape)
        for a, jump in zip(self.jump_points, self._jump_sizes(*values), strict=True):
            dens = np.exp(-((a - mean) ** 2) / (2 * var)) * _INV_SQRT_2PI / np.sqrt(var)
            weight = 1.0 if self.derivative == "mean" else (a - mean) / (2 * var)
            density_sum = density_sum + np.asarray(jump, dtype=float) * dens * weight
        if self.derivative == "mean":
            return parts["g"] + density_sum
        return (parts["xg"] - mean * parts["g"]) / (2 * var) + density_sum

    @staticmethod
    def _series_mask(evaluated, mean, var, shape):
        """Values where the half-line exponential terms are summed as a power series, or None.

        At mean 0 and small ``|c| sqrt(v)``, terms like ``e^{2 beta x} - 2 e^{beta x} + 1`` cancel
        to O(v); summing ``sum_n (sum_terms coef c^n / n!) E[x^(k+n) 1_piece]`` cancels the
        coefficients exactly instead, keeping full relative accuracy as q -> 0.
        """
        rates = [np.abs(term[6]) for term in evaluated if series_term(term)]
        if not rates or np.any(mean):
            return None
        mask = np.broadcast_to(np.sqrt(var) * np.max(np.broadcast_arrays(*rates), axis=0)
                               <= SERIES_MAX_RATE, shape)
        return mask if mask.any() else None


def _polynomial_terms(terms):
    """Indices of terms that are plain ``x^k`` (no exponential, no Phi) at mean 0.

    Whole-line ``x^k`` terms with ``k > 0`` (constants stay with the centred Phi constants, which
    they cancel exactly), and half-line ``x^k`` terms on pieces where no other term carries
    an exponential (those must stay with the small-v series, where their coefficients cancel
    against the exponentials' Taylor coefficients).
    """
    static = [i for i, (lo, hi, k, j, tag, src) in enumerate(terms)
              if j == 0 and src[1] == "0" and src[2] == "0"]
    tilted = {(lo, hi, tag) for i, (lo, hi, k, j, tag, src) in enumerate(terms) if i not in static}
    return tuple(i for i in static
                 if ((terms[i][0], terms[i][1]) == (-math.inf, math.inf) and terms[i][2] > 0)
                 or ((terms[i][0] == 0 or terms[i][1] == 0)
                     and (terms[i][0], terms[i][1], terms[i][4]) not in tilted))


def _evaluate_polynomial(table, var):
    """``sum_k a_k s^k`` (``s = sqrt(var)``), by Horner in ``var`` when every power is even."""
    top = max(table)
    if all(k % 2 == 0 for k in table):
        total = table.get(top, 0.0)
        result = None
        for k in range(top - 2, -1, -2):
            result = var * total if result is None else var * result
            if table.get(k, 0.0):
                result = result + table[k]
            total = None
        if result is None:  # a single power
            return table[top] * var ** (top // 2) if top else np.full(np.shape(var), table[top])
        return result
    s = np.sqrt(var)
    result = np.full(np.shape(var), table.get(top, 0.0))
    for k in range(top - 1, -1, -1):
        result = result * s + table.get(k, 0.0)
    return result


@functools.lru_cache(maxsize=256)
def derive(template, names, quantity, derivative=None):
    """The compiled closed form of ``E[g]`` (or a derivative) for a template; cached.

    Built-in families come precomputed from ``meanfield.engines._closed_shipped`` (no SymPy
    work in a fresh process); other templates are derived by
    ``meanfield.engines._closed_derivation.derive_spec``.

    Raises
    ------
    NotClosedForm
        If some piece is outside the term family, or the derivation takes longer than
        :data:`meanfield.expressions.DERIVATION_SECONDS` (the quadrature engine then takes over).
    """
    from meanfield.engines._closed_shipped import SHIPPED

    spec = SHIPPED.get(spec_key(template, names, quantity, derivative))
    if spec is None:
        with time_budget(DERIVATION_SECONDS, f"deriving E[{quantity}] in closed form", error=NotClosedForm):
            spec = derive_spec(template, names, quantity, derivative)
    elif isinstance(spec, str):  # shipped as "not closed": the derivation raised
        raise NotClosedForm(spec)
    return _Derived(names, spec, derivative)


@functools.lru_cache(maxsize=512)
def _closed_form_available(template, names, quantity):
    try:
        for derivative in (None, "mean", "var"):
            derive(template, names, quantity, derivative)
    except NotClosedForm:
        return False
    return True


def family_moments(template, params, quantity, mean, var, derivative=None):
    """Evaluate a closed-form moment for arrays of parameter values (vectorized over all).

    Parameters
    ----------
    template : sympy.Expr
        Activation template in ``x`` and parameter symbols.
    params : dict of str -> array_like
        Parameter values; arrays broadcast with each other and with ``mean``/``var``.
    quantity : {"f", "f2", "df2"}
    mean, var : array_like
    derivative : {None, "mean", "var"}

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import sympy as sp
    >>> from meanfield.activations import get_activation
    >>> act = get_activation("selu")
    >>> lam = np.array([1.0, 1.0507009873554805])
    >>> family_moments(act.template, {"lam": lam, "alpha": 1.6732632423543772},
    ...                "f2", 0.0, 1.0).round(6)
    array([0.90582, 1.     ])
    """
    names = tuple(params)
    derived = derive(template, names, quantity, derivative)
    return derived(params, np.asarray(mean, dtype=float), np.asarray(var, dtype=float))


class ClosedEngine:
    """Closed-form engine (see module docstring)."""

    name = "closed"

    def supports(self, act, quantity):
        if act.template is None:
            return False
        return _closed_form_available(act.template, tuple(act.params), quantity)

    def unsupported_reason(self, act, quantity):
        if act.template is None:
            return (f"the closed engine needs a SymPy expression; {act.name} was built from "
                    "callables (use method='quadrature')")
        return (f"{act.name} has no closed form in the piecewise exponential-polynomial / erf "
                "family (use method='quadrature' or 'auto')")

    def expect(self, act, quantity, mean, var, derivative=None):
        derived = derive(act.template, tuple(act.params), quantity, derivative)
        with np.errstate(under="ignore"):
            return np.asarray(derived(act.params, np.asarray(mean, float), np.asarray(var, float)))


def delta_numerator_series(template, names, params):
    """Exact power series of ``q phi(q) - E[f(x)^2] = sum_P a_P s^P`` at mean 0 (``s = sqrt q``).

    For templates whose every term is ``x^k e^{cx}`` on a half-line at 0 (ReLU-likes, ELU, SELU,
    sSELU, lSELU): the half-normal moments and Taylor coefficients ``c^n/n!`` of both moments
    are combined in exact rational arithmetic (:class:`fractions.Fraction` of the float
    parameters, the coefficients' sources evaluated on them), so the leading powers that cancel
    between ``q phi`` and ``E f^2`` cancel exactly and ``delta_q`` keeps its relative accuracy as
    q -> 0. Returns ``(coefficients, rate)``, valid where ``rate * s <= SERIES_MAX_RATE``, or None
    when some term is outside that family or a coefficient is not rational in the parameters.
    """
    from fractions import Fraction

    from meanfield.engines._closed_numerics import SERIES_TERMS

    try:
        values = [Fraction(float(params[n])) for n in names]
        forms = {q: derive(template, names, q) for q in ("df2", "f2")}
        weights = {}
        rate = 0.0
        for quantity, shift, sign_q in (("df2", 2, 1), ("f2", 0, -1)):
            derived = forms[quantity]
            for (lo, hi, k, j, _tag), cf in zip(derived.layout, derived._coefficients(*values),
                                                strict=True):
                coef, c, d = (Fraction(v) if not isinstance(v, Fraction) else v for v in cf[:3])
                if j or d or not (lo == 0 or hi == 0) or (lo, hi) == (-math.inf, math.inf):
                    return None
                rate = max(rate, abs(float(c)))
                term = coef
                for n in range(SERIES_TERMS if c else 1):
                    p = k + n
                    moment = Fraction(half_normal_moment(p)) if p % 2 else \
                        Fraction(math.prod(range(p - 1, 0, -2)), 2)
                    side = 1 if lo == 0 else (-1) ** p
                    weights[p + shift] = weights.get(p + shift, 0) + sign_q * side * term * moment
                    term = term * c / (n + 1)
    except (TypeError, ValueError, NotClosedForm, ZeroDivisionError):
        return None
    return {p: float(w) for p, w in weights.items() if w}, rate
