"""Derivation for the ``closed`` engine (SymPy): an integrand as a table of Gaussian terms.

The activation's template (an expression in ``x`` and parameter *symbols*) is split into
pieces on intervals between its kinks; for the integrand ``g`` of each quantity (``f``,
``f^2``, ``f'^2``, and for derivatives ``g'`` and ``x g'``) every piece is expanded into terms

.. math:: C(\\theta)\\; x^k\\, e^{c(\\theta) x + d(\\theta) x^2}\\, \\Phi(b(\\theta) x)^j,

with ``erf(u)`` rewritten as ``2 Phi(sqrt(2) u) - 1``. :func:`derive_spec` returns the table
as plain data: each term's ``(C, c, d, b)`` as Python source in the parameters ``p0, p1, ...``
(printed by SymPy's NumPy printer), so that it can be compiled without SymPy, shipped in
:mod:`meanfield.engines._closed_shipped` for the built-in families, and cached.
"""

from __future__ import annotations

import functools
import math

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from meanfield.engines._closed_numerics import G_MAX_ORDER
from meanfield.expressions import X

__all__ = ["NormalCDF", "NotClosedForm", "derive_spec", "spec_key"]

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
    try:
        pairs = expr.as_expr_set_pairs(sp.Interval(-sp.oo, sp.oo))
    except (NotImplementedError, TypeError):  # conditions with parameters (x > t, Max(x, a))
        raise NotClosedForm("kink location depends on parameters") from None
    out = []
    for piece, domain in pairs:
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


def _source(expr, symbols):
    """NumPy source of ``expr`` in the positional parameters ``p0, p1, ...``."""
    dummies = {s: sp.Symbol(f"p{i}", real=True) for i, s in enumerate(symbols)}
    return NumPyPrinter({"fully_qualified_modules": True}).doprint(sp.sympify(expr).xreplace(dummies))


def spec_key(template, names, quantity, derivative):
    """The key of one derivation: the template's ``srepr``, its parameter order, the quantity."""
    return f"{_template_text(template)}|{','.join(names)}|{quantity}|{derivative}"


@functools.lru_cache(maxsize=256)
def _template_text(template):
    """``srepr`` of a template, once per template (it costs milliseconds for a Piecewise)."""
    return sp.srepr(template)


def derive_spec(template, names, quantity, derivative=None):
    """Derive the closed form of ``E[g]`` (or a derivative) as plain data (SymPy only here).

    Parameters
    ----------
    template : sympy.Expr
        Activation in ``x`` and the parameter symbols named ``names``.
    names : tuple of str
        Parameter names, in the order values will be passed (``p0, p1, ...`` in the sources).
    quantity : {"f", "f2", "df2"}
    derivative : {None, "mean", "var"}

    Returns
    -------
    dict
        ``{"terms": [(lo, hi, k, j, tag, (C, c, d, b) sources)], "jumps": [(a, source)]}``;
        ``tag`` is ``"g"`` (terms of ``g`` or ``g'``) or ``"xg"`` (terms of ``x g'``).

    Raises
    ------
    NotClosedForm
        If some piece is outside the term family.
    """
    symbols = [sp.Symbol(n, real=True) for n in names]
    integrands = []
    for expr, lo, hi in _pieces(template):
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
                jumps.append((a, _source(jump, symbols)))
    terms = []
    for lo, hi, tag, table in piece_terms:
        for (k, c, d, b, j), coef in table.items():
            coef = sp.simplify(coef)
            if coef == 0:
                continue
            whole = lo == -math.inf and hi == math.inf
            if (j or d != 0) and not whole:
                raise NotClosedForm("Phi or Gaussian factors on a restricted piece")
            if k > G_MAX_ORDER and not whole:
                raise NotClosedForm(f"polynomial degree {k} > {G_MAX_ORDER} on a half-line")
            terms.append((lo, hi, k, j, tag, tuple(_source(e, symbols) for e in (coef, c, d, b))))
    return {"terms": terms, "jumps": jumps}
