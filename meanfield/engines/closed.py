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
import sympy as sp
from scipy import special

from meanfield.expressions import X, lambdify_renamed

__all__ = ["ClosedEngine", "NormalCDF", "NotClosedForm", "family_moments", "derive"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

#: ``G_i(t)`` for ``0 <= t < G_TABLE_MAX_T`` comes from a table of ``G_0 .. G_{i+n}`` on a grid
#: of spacing ``G_TABLE_STEP`` and the exact Taylor series ``G_i(t0 + e) = sum_n (-e)^n/n! G_{i+n}(t0)``
#: (``G_i' = -G_{i+1}``); with ``|e| <= 1/64`` the 13th term is below 1e-17 relative.
G_TABLE_STEP = 1.0 / 32.0
G_TABLE_MAX_T = 50.0
G_TAYLOR_TERMS = 13
#: Highest order ``i`` of ``G_i`` the table serves (polynomial degree k of a term; k <= 8 in practice).
G_MAX_ORDER = 10
#: Asymptotic series of G_i for t >= G_TABLE_MAX_T: the 12th term is < 1e-20 relative there.
ASYMPTOTIC_TERMS = 12


def _build_g_table():
    """G_i(t) on the grid, i <= G_MAX_ORDER + G_TAYLOR_TERMS, accurate to a few ulps.

    t < 6: 5x40-node Gauss-Legendre of the defining integral, graded toward u = 0 where
    the factor e^(-t u) lives (the integrand is below e^-72 past u = 12); t >= 6: Miller's
    backward recurrence, 60 steps deep (converged to < 3e-16 for t >= 5), normalized by
    G_0 = erfcx(t/sqrt 2)/2. Both checked against mpmath to 2e-15 in tests/test_closed.py.
    """
    grid = np.arange(0.0, G_TABLE_MAX_T + G_TABLE_STEP, G_TABLE_STEP)
    orders = G_MAX_ORDER + G_TAYLOR_TERMS
    table = np.empty((grid.size, orders + 1))
    small = grid < 6.0
    nodes, weights = [], []
    for lo, hi in ((0.0, 0.25), (0.25, 1.0), (1.0, 3.0), (3.0, 6.0), (6.0, 12.0)):
        n, w = special.roots_legendre(40)
        nodes.append(0.5 * (hi + lo) + 0.5 * (hi - lo) * n)
        weights.append(0.5 * (hi - lo) * w * _INV_SQRT_2PI)
    nodes, weights = np.concatenate(nodes), np.concatenate(weights)
    base = np.exp(-0.5 * nodes**2 - grid[small, None] * nodes) * weights
    table[small] = base @ nodes[:, None] ** np.arange(orders + 1)
    t = grid[~small]
    upper, current, kept = np.zeros_like(t), np.ones_like(t), {}
    for n in range(orders + 60, 0, -1):
        lower = (upper + t * current) / n  # G_{n-1} = (G_{n+1} + t G_n)/n
        if n <= orders:
            kept[n] = current
        upper, current = current, lower
        norm = current.copy()
        upper, current = upper / norm, np.ones_like(norm)
        kept = {key: val / norm for key, val in kept.items()}
    kept[0] = current
    g0 = 0.5 * special.erfcx(t / math.sqrt(2))
    for i in range(orders + 1):
        table[~small, i] = kept[i] * g0
    return table


_G_TABLE = _build_g_table()
_TAYLOR_COEF = np.array([(-1.0) ** n / math.factorial(n) for n in range(G_TAYLOR_TERMS)])
_BVN_NODES, _BVN_WEIGHTS = special.roots_legendre(24)


class NormalCDF(sp.Function):
    """SymPy stand-in for the standard normal CDF ``Phi`` (only its derivative is needed)."""

    def fdiff(self, argindex=1):
        u = self.args[0]
        return sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi)


class NotClosedForm(ValueError):
    """The expression has no closed form in this engine's term family."""


# ------------------------------------------------------------------------------------------------
# derivation (SymPy)


def _pieces(template):
    """Split ``template`` into ``[(expr, lo, hi)]`` on intervals of x (floats, +-inf)."""
    expr = sp.piecewise_fold(template.rewrite(sp.Piecewise))
    if not expr.has(sp.Piecewise):
        return [(expr, -math.inf, math.inf)]
    if not isinstance(expr, sp.Piecewise):
        raise NotClosedForm("nested piecewise structure")
    out = []
    for piece, domain in expr.as_expr_set_pairs(sp.Interval(-sp.oo, sp.oo)):
        intervals = domain.args if isinstance(domain, sp.Union) else (domain,)
        for iv in intervals:
            if isinstance(iv, sp.FiniteSet) or iv.is_empty:
                continue
            if not isinstance(iv, sp.Interval):
                raise NotClosedForm(f"piece on {iv}")
            try:
                lo, hi = float(iv.start), float(iv.end)
            except TypeError:
                raise NotClosedForm("kink location depends on parameters") from None
            if hi > lo:
                out.append((piece, lo, hi))
    out.sort(key=lambda p: p[1])
    return out


def _rewrite_erf(expr):
    """erf(b x) -> 2 Phi(sqrt(2) b x) - 1, erfc(b x) -> 2 Phi(-sqrt(2) b x)."""

    def erf_to_phi(arg):
        return 2 * NormalCDF(sp.sqrt(2) * arg) - 1

    def erfc_to_phi(arg):
        return 2 * NormalCDF(-sp.sqrt(2) * arg)

    return expr.replace(sp.erf, erf_to_phi).replace(sp.erfc, erfc_to_phi)


def _terms(expr):
    """Decompose ``expr`` into ``{(k, c, d, b, j): coefficient}`` or raise NotClosedForm."""
    expr = sp.expand(sp.powsimp(sp.expand(_rewrite_erf(expr)), combine="exp"))
    terms = {}
    for term in sp.Add.make_args(expr):
        if term == 0:
            continue
        coeff, xpart = term.as_independent(X, as_Add=False)
        k, c, d, j, b = 0, sp.S.Zero, sp.S.Zero, 0, None
        for factor in sp.Mul.make_args(sp.powsimp(xpart, combine="exp")):
            base, power = factor.as_base_exp()
            if factor == 1:
                continue
            if base == X and power.is_Integer and power > 0:
                k += int(power)
            elif isinstance(base, sp.exp) or base == sp.E:
                arg = sp.expand(power * (base.args[0] if isinstance(base, sp.exp) else 1))
                try:
                    poly = sp.Poly(arg, X)
                except sp.PolynomialError:
                    raise NotClosedForm(f"exponent {arg} is not polynomial in x") from None
                if poly.degree() > 2:
                    raise NotClosedForm(f"exponent {arg} has degree > 2 in x")
                coeffs = {m[0]: cf for m, cf in zip(poly.monoms(), poly.coeffs(), strict=True)}
                coeff *= sp.exp(coeffs.get(0, 0))
                c += coeffs.get(1, 0)
                d += coeffs.get(2, 0)
            elif isinstance(base, NormalCDF) and power.is_Integer and power > 0:
                slope = sp.simplify(base.args[0] / X)
                if slope.has(X):
                    raise NotClosedForm(f"Phi({base.args[0]}) is not Phi(b x)")
                if b is not None and sp.simplify(slope - b) != 0:
                    raise NotClosedForm("products of Phi with different slopes")
                b, j = slope, j + int(power)
            else:
                raise NotClosedForm(f"factor {factor} is outside the closed-form family")
        if j > 2:
            raise NotClosedForm("Phi(bx)^j with j > 2")
        key = (k, sp.simplify(c), sp.simplify(d), b if b is not None else sp.S.Zero, j)
        terms[key] = terms.get(key, 0) + coeff
    return terms


class _Derived:
    """Lambdified terms of one (template, quantity, derivative): evaluate with parameter values."""

    def __init__(self, names, piece_terms, jumps, derivative):
        self.names = names
        self.derivative = derivative
        symbols = [sp.Symbol(n, real=True) for n in names]
        self.terms = []  # (lo, hi, k, j, func -> (coef, c, d, b), tag)
        for lo, hi, tag, table in piece_terms:
            for (k, c, d, b, j), coef in table.items():
                coef = sp.simplify(coef)
                if coef == 0:
                    continue
                if (j or d != 0) and not (lo == -math.inf and hi == math.inf):
                    raise NotClosedForm("Phi or Gaussian factors on a restricted piece")
                func = lambdify_renamed(symbols, (coef, c, d, b), modules="numpy")
                self.terms.append((lo, hi, k, j, func, tag))
        self.jumps = [(a, lambdify_renamed(symbols, jump, modules="numpy")) for a, jump in jumps]

    def __call__(self, params, mean, var):
        values = [np.asarray(params[n], dtype=float) for n in self.names]
        shape = np.broadcast_shapes(np.shape(mean), np.shape(var), *(np.shape(v) for v in values))
        parts = {"g": np.zeros(shape), "xg": np.zeros(shape)}
        evaluated = [(lo, hi, k, j, tag, *(np.asarray(v, dtype=float) for v in func(*values)))
                     for lo, hi, k, j, func, tag in self.terms]
        series = self._series_mask(evaluated, mean, var, shape)
        series_everywhere = series is not None and bool(series.all())
        half = {"g": np.zeros(shape), "xg": np.zeros(shape)}  # the series-able terms' direct values
        for term in evaluated:
            lo, hi, k, j, tag, coef, c, d, b = term
            in_series = series is not None and _series_term(term)
            if in_series and series_everywhere:  # the series below gives every value
                continue
            value = coef * _term_expectation(k, j, c, d, b, lo, hi, mean, var)
            if in_series:
                half[tag] = half[tag] + value
            else:
                parts[tag] = parts[tag] + value
        if series is not None:  # the series replaces the direct values where it is used
            var_series = np.broadcast_to(var, shape)[series]
            for tag in parts:
                chosen = [e for e in evaluated if e[4] == tag and _series_term(e)]
                if chosen:
                    half[tag] = np.array(half[tag])  # writable (a 0-d sum comes back as a NumPy scalar)
                    half[tag][series] = _series_pieces(chosen, var_series, shape, series)
        for tag in parts:
            parts[tag] = parts[tag] + half[tag]
        if self.derivative is None:
            return parts["g"]
        density_sum = np.zeros(shape)
        for a, jump in self.jumps:
            dens = np.exp(-((a - mean) ** 2) / (2 * var)) * _INV_SQRT_2PI / np.sqrt(var)
            weight = 1.0 if self.derivative == "mean" else (a - mean) / (2 * var)
            density_sum = density_sum + np.asarray(jump(*values), dtype=float) * dens * weight
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
        rates = [np.abs(term[6]) for term in evaluated if _series_term(term)]
        if not rates or np.any(mean):
            return None
        mask = np.broadcast_to(np.sqrt(var) * np.max(np.broadcast_arrays(*rates), axis=0)
                               <= SERIES_MAX_RATE, shape)
        return mask if mask.any() else None


def _at_zero_half_line(lo, hi):
    return (lo == 0 and hi == math.inf) or (lo == -math.inf and hi == 0)


def _series_term(term):
    """Whether an evaluated term ``(lo, hi, k, j, tag, coef, c, d, b)`` joins the small-v series:
    an exp-poly term (no Phi factor) on a half-line anchored at 0."""
    lo, hi, _k, j = term[:4]
    return _at_zero_half_line(lo, hi) and j == 0


#: Use the power series in ``c x`` where ``|c| sqrt(v) <= SERIES_MAX_RATE`` (mean 0 only); with
#: SERIES_TERMS terms the n-th term is at most (0.5)^n / sqrt(n!) of the n = 0 scale, so the
#: remainder is below 0.5^24 / sqrt(24!) ~ 8e-20 of it, and below 1e-18 of the O(v) leading term
#: that survives the cancellation (a factor 1 / (0.5^2 M_2) = 8 at the largest rate).
SERIES_MAX_RATE = 0.5
SERIES_TERMS = 24
#: half-normal moments M_p = E[z^p 1_{z > 0}] = 2^((p-1)/2) Gamma((p+1)/2) / sqrt(2 pi)
_HALF_MOMENTS = np.array([2 ** ((p - 1) / 2) * math.gamma((p + 1) / 2) * _INV_SQRT_2PI
                          for p in range(SERIES_TERMS + G_MAX_ORDER + 2)])


def _series_pieces(terms, var, shape, mask):
    """Sum of zero-anchored half-line exp-poly terms by the series in ``c x`` (mean 0).

    ``sum_p w_p s^p M_p`` with ``w_p = sum_{terms, n: k + n = p} sign * coef * c^n / n!``: the
    cancelling combinations of coefficients are formed before any power of ``s``.
    """
    weights = {}
    for lo, _hi, k, _j, _tag, coef, c, _d, _b in terms:
        if coef.ndim or c.ndim:  # parameter arrays (family_moments): one weight per value
            coef = np.broadcast_to(coef, shape)[mask]
            c = np.broadcast_to(c, shape)[mask]
        else:  # scalar parameters: the weights are scalars, cheap and exact
            coef, c = float(coef), float(c)
        term = coef
        for n in range(SERIES_TERMS):
            p = k + n
            sign = 1.0 if lo == 0 else (-1.0) ** p
            weights[p] = weights.get(p, 0.0) + sign * term
            term = term * c / (n + 1)
    s = np.sqrt(var)
    total = np.zeros(s.shape)
    lowest = min(weights)
    for p in range(max(weights), lowest - 1, -1):  # Horner in s
        total = total * s + weights.get(p, 0.0) * _HALF_MOMENTS[p]
    return total * s**lowest


@functools.lru_cache(maxsize=256)
def derive(template, names, quantity, derivative=None):
    """Derive the closed form of ``E[g]`` (or a derivative) for a template; cached.

    Parameters
    ----------
    template : sympy.Expr
        Activation in ``x`` and the parameter symbols named ``names``.
    names : tuple of str
        Parameter names, in the order values will be passed.
    quantity : {"f", "f2", "df2"}
    derivative : {None, "mean", "var"}

    Raises
    ------
    NotClosedForm
        If some piece is outside the term family.
    """
    pieces = _pieces(template)
    integrands = []
    for expr, lo, hi in pieces:
        g = {"f": expr, "f2": expr**2, "df2": sp.diff(expr, X) ** 2}[quantity]
        integrands.append((g, lo, hi))
    piece_terms, jumps = [], []
    for g, lo, hi in integrands:
        if derivative is None:
            piece_terms.append((lo, hi, "g", _terms(g)))
        else:
            dg = sp.diff(g, X)
            piece_terms.append((lo, hi, "g", _terms(dg)))
            if derivative == "var":
                piece_terms.append((lo, hi, "xg", _terms(X * dg)))
    if derivative is not None:
        for (g_left, _, a), (g_right, a2, _) in zip(integrands, integrands[1:], strict=False):
            if a != a2:
                raise NotClosedForm("pieces do not tile the real line")
            jump = sp.simplify(g_right.subs(X, a) - g_left.subs(X, a))
            if jump != 0:
                jumps.append((a, jump))
    return _Derived(names, piece_terms, jumps, derivative)


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


# ------------------------------------------------------------------------------------------------
# evaluation (NumPy)


def _term_expectation(k, j, c, d, b, lo, hi, mean, var):
    """E[x^k e^{cx + dx^2} Phi(bx)^j 1_{lo < x < hi}], x ~ N(mean, var)."""
    if lo == -math.inf and hi == math.inf:
        return _whole_line(k, j, c, d, b, mean, var)
    if lo == -math.inf:
        return _below(k, c, hi, mean, var)
    if hi == math.inf:
        # mirror x -> -x: E[x^k e^{cx} 1_{x > a}] = (-1)^k E[u^k e^{-cu} 1_{u < -a}], u ~ N(-m, v)
        return (-1) ** k * _below(k, -c, -lo, -mean, var)
    return _below(k, c, hi, mean, var) - _below(k, c, lo, mean, var)


def _below(k, c, a, mean, var):
    """E[x^k e^{cx} 1_{x < a}], x ~ N(mean, var), overflow-safe (see module docstring)."""
    mean, var, c = np.broadcast_arrays(np.asarray(mean, float), np.asarray(var, float),
                                       np.asarray(c, float))
    s = np.sqrt(var)
    t = (mean + c * var - a) / s
    pos = t >= 0
    all_pos = bool(pos.all())
    # binomial expansion of x^k = (a + (x - a))^k; only i = k survives when a = 0
    orders = range(k + 1) if a != 0 else (k,)
    weights = {i: math.comb(k, i) * (a ** (k - i) if k > i else 1.0) * (-s) ** i for i in orders}
    with np.errstate(over="ignore", under="ignore"):
        scaled = 0.0
        if all_pos or pos.any():
            g = _g_scaled(np.where(pos, t, 0.0) if not all_pos else t, tuple(orders))
            acc = sum(weights[i] * g[i] for i in orders)
            if a == 0 and not mean.any():  # the exponent c a - (m - a)^2/(2v) vanishes
                scaled = acc
            else:
                scaled = np.exp(c * a - (mean - a) ** 2 / (2 * var)) * acc
            if all_pos:
                return scaled
        g = _g_unscaled(np.where(pos, 0.0, t), k)
        acc = sum(weights[i] * g[i] for i in orders)
        plain = np.exp(np.where(pos, 0.0, c * mean + 0.5 * c * c * var)) * acc
    return np.where(pos, scaled, plain)


def _g_scaled(t, orders):
    """{i: G_i(t) for i in orders} for t >= 0 (array t), each to a few ulps."""
    if max(orders) > G_MAX_ORDER:
        raise NotClosedForm(f"polynomial degree {max(orders)} > {G_MAX_ORDER} in a truncated moment")
    if tuple(orders) == (0,):
        return {0: 0.5 * special.erfcx(t * (1 / math.sqrt(2)))}
    if not t.any():  # G_i(0): the half-normal moments, tabulated exactly
        return {i: np.full(t.shape, _G_TABLE[0, i]) for i in orders}
    out = {i: np.empty(t.shape) for i in orders}
    table_part = t < G_TABLE_MAX_T
    every = bool(table_part.all())
    if every or table_part.any():
        tt = t if every else t[table_part]
        index = np.rint(tt * (1 / G_TABLE_STEP)).astype(np.intp)
        offset = tt - index * G_TABLE_STEP
        powers = np.empty(offset.shape + (G_TAYLOR_TERMS,))
        powers[..., 0] = 1.0
        for n in range(1, G_TAYLOR_TERMS):
            powers[..., n] = powers[..., n - 1] * offset
        powers *= _TAYLOR_COEF
        rows = _G_TABLE[index]
        for i in orders:
            value = np.einsum("...n,...n->...", rows[..., i:i + G_TAYLOR_TERMS], powers)
            if every:
                out[i] = value
            else:
                out[i][table_part] = value
    if not every:
        far = ~table_part
        ta = t[far]
        inv2 = 1.0 / (ta * ta)
        for i in orders:
            total = np.zeros_like(ta)
            term_coef = float(math.factorial(i))
            for n in range(ASYMPTOTIC_TERMS):
                total = total + (-1) ** n * term_coef * inv2**n
                term_coef *= (i + 2 * n + 1) * (i + 2 * n + 2) / (2 * (n + 1))
            out[i][far] = total * ta ** -(i + 1) * _INV_SQRT_2PI
    return out


def _g_unscaled(t, order):
    """[int_t^inf (u - t)^i phi(u) du for i <= order]; forward recurrence, stable for t <= 0."""
    out = [special.ndtr(-t)]
    if order >= 1:
        out.append(np.exp(-0.5 * t * t) * _INV_SQRT_2PI - t * out[0])
    for i in range(2, order + 1):
        out.append((i - 1) * out[i - 2] - t * out[i - 1])
    return out


def _raw_moments(order, mean, var):
    """[E[x^i] for i <= order], x ~ N(mean, var)."""
    out = [np.ones(np.broadcast_shapes(np.shape(mean), np.shape(var)))]
    if order >= 1:
        out.append(mean + 0 * out[0])
    for i in range(2, order + 1):
        out.append(mean * out[i - 1] + (i - 1) * var * out[i - 2])
    return out


def _phi_moments(order, b, mean, var):
    """[E[x^i Phi(bx)] for i <= order] and the pieces needed for j = 2 (Stein's lemma)."""
    r = 1 + b * b * var
    root = np.sqrt(r)
    if np.any(mean):
        h = b * mean / root
        dens = np.exp(-0.5 * h * h) * _INV_SQRT_2PI / root  # E[phi(bx)]
        out = [special.ndtr(h)]
    else:  # h = 0: Phi(0) = 1/2
        dens = _INV_SQRT_2PI / root
        out = [np.full(np.shape(r), 0.5)]
    inner = _raw_moments(max(order - 1, 0), mean / r, var / r)
    for i in range(1, order + 1):
        prev2 = out[i - 2] if i >= 2 else 0.0
        out.append(mean * out[i - 1] + var * ((i - 1) * prev2 + b * dens * inner[i - 1]))
    return out


def _bvn_equal(h, rho):
    """Phi_2(h, h; rho) = Phi(h)^2 + (2 pi)^-1 int_0^{asin rho} exp(-h^2/(1 + sin t)) dt."""
    top = np.arcsin(rho)
    if not np.any(h):  # Sheppard: Phi_2(0, 0; rho) = 1/4 + asin(rho)/(2 pi)
        return 0.25 + top / (2 * math.pi)
    theta = 0.5 * top[..., None] * (1 + _BVN_NODES)
    integrand = np.exp(-(h[..., None] ** 2) / (1 + np.sin(theta)))
    integral = 0.5 * top * np.sum(_BVN_WEIGHTS * integrand, axis=-1)
    return special.ndtr(h) ** 2 + integral / (2 * math.pi)


def _phi2_moments(order, b, mean, var):
    """[E[x^i Phi(bx)^2] for i <= order] by Stein's lemma."""
    r = 1 + b * b * var
    h = b * mean / np.sqrt(r)
    dens = np.exp(-0.5 * h * h) * _INV_SQRT_2PI / np.sqrt(r)
    inner = _phi_moments(max(order - 1, 0), b, mean / r, var / r)  # E''[x^i Phi(bx)]
    out = [_bvn_equal(h, b * b * var / r)]
    for i in range(1, order + 1):
        prev2 = out[i - 2] if i >= 2 else 0.0
        out.append(mean * out[i - 1] + var * ((i - 1) * prev2 + 2 * b * dens * inner[i - 1]))
    return out


def _whole_line(k, j, c, d, b, mean, var):
    """E[x^k e^{cx + dx^2} Phi(bx)^j], x ~ N(mean, var), by completing the square."""
    mean, var = np.asarray(mean, float), np.asarray(var, float)
    c, d, b = (float(v) if np.ndim(v) == 0 else np.asarray(v, float) for v in (c, d, b))
    precision = 1 / var - 2 * d
    centred = not np.any(mean) and not np.any(c)  # the common mean-0 maps: no shift, no exponential
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        new_var = 1 / precision
        if centred:
            new_mean = np.zeros(np.broadcast_shapes(mean.shape, new_var.shape))
            scale = np.sqrt(new_var / var)
        else:
            new_mean = new_var * (mean / var + c)
            log_scale = 0.5 * new_mean**2 / new_var - 0.5 * mean**2 / var
            scale = np.sqrt(new_var / var) * np.exp(log_scale)
    if not np.all(precision > 0):  # e^{d x^2} outgrows the Gaussian: the expectation diverges
        scale = np.where(precision > 0, scale, np.inf)
        new_var = np.where(precision > 0, new_var, 1.0)
        new_mean = np.where(precision > 0, new_mean, 0.0)
    if j == 0:
        moment = _raw_moments(k, new_mean, new_var)[k]
    elif j == 1:
        moment = _phi_moments(k, b, new_mean, new_var)[k]
    else:
        moment = _phi2_moments(k, b, new_mean, new_var)[k]
    return scale * moment


# ------------------------------------------------------------------------------------------------
# the engine


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
