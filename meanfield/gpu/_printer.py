"""SymPy to CUDA C++: the expression printer of the kernel generator.

The printing rules and examples are in :mod:`meanfield.gpu.codegen`, whose public names these are.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.printing.c import C99CodePrinter
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from meanfield.expressions import X, heaviside_to_piecewise

__all__ = ["CudaCodePrinter", "SUPPORTED_FUNCTIONS", "cuda_expression"]

#: The ``mf_*`` math overloads that ``common.cu`` defines (float and double versions).
SUPPORTED_FUNCTIONS = frozenset(
    "mf_" + name
    for name in (
        "exp exp2 expm1 log log2 log10 log1p sqrt cbrt sin cos tan asin acos atan sinh cosh "
        "tanh asinh acosh atanh erf erfc tgamma lgamma fabs floor ceil pow atan2 hypot fmod "
        "normcdf max min sign nan inf real_cbrt"
    ).split()
)

#: Integer powers up to this magnitude are printed as products (exact, and float-only).
_MAX_PRODUCT_POWER = 8

def _float_literal(value):
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"cannot print the non-finite constant {value} as a literal")
    # a leading minus outside T(...) lets the Add printer write "a - T(2)", not "a + T(-2)"
    return f"-T({-value!r})" if value < 0 else f"T({value!r})"


class CudaCodePrinter(C99CodePrinter):
    """C99 printer emitting ``T``-generic CUDA C++ (``T`` is ``float`` or ``double``).

    Functions print as the ``mf_*`` overloads of ``meanfield/cuda/common.cu`` and numbers as
    ``T(...)`` literals; see the module docstring for the other rules.
    """

    _ns = "mf_"  # C99CodePrinter's namespace prefix: exp -> mf_exp (no f/l suffixes)

    def __init__(self, settings=None):
        super().__init__(dict(settings or {}))

    # numbers
    def _print_Float(self, expr):
        return _float_literal(expr)

    def _print_Integer(self, expr):
        return f"-T({-int(expr)})" if expr < 0 else f"T({int(expr)})"

    _print_Zero = _print_One = _print_NegativeOne = _print_Integer

    def _print_Rational(self, expr):
        sign = "-" if expr < 0 else ""
        return f"{sign}(T({abs(int(expr.p))})/T({int(expr.q)}))"

    _print_Half = _print_Rational

    def _print_NumberSymbol(self, expr):
        return _float_literal(expr.evalf(20))

    _print_Pi = _print_Exp1 = _print_EulerGamma = _print_Catalan = _print_GoldenRatio = (
        _print_NumberSymbol)

    def _print_NaN(self, expr):
        return "mf_nan<T>()"

    def _print_Infinity(self, expr):
        return "mf_inf<T>()"

    def _print_NegativeInfinity(self, expr):
        return "(-mf_inf<T>())"

    # operators and functions
    def _print_Pow(self, expr):
        base, exp = expr.base, expr.exp
        prec = sp.printing.precedence.precedence(expr)
        if exp.is_Integer and 0 < abs(int(exp)) <= _MAX_PRODUCT_POWER:
            b = self.parenthesize(base, prec)
            prod = "*".join([b] * abs(int(exp)))
            return f"({prod})" if exp > 0 else f"(T(1)/({prod}))"
        if exp == sp.Rational(1, 2):
            return f"mf_sqrt({self._print(base)})"
        if exp == sp.Rational(-1, 2):
            return f"(T(1)/mf_sqrt({self._print(base)}))"
        if exp == sp.Rational(1, 3):
            return f"mf_real_cbrt({self._print(base)})"
        return f"mf_pow({self._print(base)}, {self._print(exp)})"

    def _nest(self, name, args):
        out = self._print(args[-1])
        for a in reversed(args[:-1]):
            out = f"{name}({self._print(a)}, {out})"
        return out

    def _print_Max(self, expr):
        return self._nest("mf_max", list(expr.args))

    def _print_Min(self, expr):
        return self._nest("mf_min", list(expr.args))

    def _print_Piecewise(self, expr):
        if expr.args[-1].cond != sp.true:
            raise ValueError(f"a Piecewise needs a (value, True) default to print: {expr}")
        out = self._print(expr.args[-1].expr)
        for pair in reversed(expr.args[:-1]):
            out = f"(({self._print(pair.cond)}) ? ({self._print(pair.expr)}) : ({out}))"
        return out

    def _print_sign(self, expr):
        return f"mf_sign({self._print(expr.args[0])})"

    def _print_BooleanTrue(self, expr):
        return "true"

    def _print_BooleanFalse(self, expr):
        return "false"


def _fold_numbers(expr):
    """Replace numeric non-integer subexpressions by double-precision Floats.

    Rational exponents stay exact (so that ``x**(1/2)`` still prints as ``mf_sqrt``).
    """
    if expr in (sp.nan, sp.oo, -sp.oo):
        return expr
    if isinstance(expr, sp.Expr) and expr.is_number:
        if expr.is_Integer or expr.is_Float:
            return expr
        val = complex(expr.evalf(30))
        if val.imag != 0:
            raise ValueError(f"the expression has a non-real constant {expr}")
        return sp.Float(val.real, 17)
    if not expr.args:
        return expr
    if isinstance(expr, sp.Pow) and expr.exp.is_Rational:
        base = _fold_numbers(expr.base)
        return expr if base is expr.base else sp.Pow(base, expr.exp)
    args = [_fold_numbers(a) for a in expr.args]
    if all(a is b for a, b in zip(args, expr.args, strict=True)):
        return expr
    return expr.func(*args)


def _use_expm1_log1p(expr):
    """Rewrite ``exp(u) - 1`` as ``expm1(u)`` and ``log(1 + u)`` as ``log1p(u)``.

    Only these exact shapes: unlike :func:`sympy.codegen.rewriting.optimize` this never
    re-arranges the rest of the expression (which can move an overflow to the other tail).
    """
    def is_expm1(e):
        return (isinstance(e, sp.Add) and sp.S.NegativeOne in e.args
                and any(isinstance(t, sp.exp) for t in e.args))

    def to_expm1(e):
        terms = list(e.args)
        terms.remove(sp.S.NegativeOne)
        first = next(t for t in terms if isinstance(t, sp.exp))
        terms.remove(first)
        return sp.Add(expm1(first.args[0]), *terms)

    def is_log1p(e):
        return (isinstance(e, sp.log) and isinstance(e.args[0], sp.Add)
                and sp.S.One in e.args[0].args)

    def to_log1p(e):
        terms = list(e.args[0].args)
        terms.remove(sp.S.One)
        return log1p(sp.Add(*terms))

    return expr.replace(is_expm1, to_expm1).replace(is_log1p, to_log1p)


def _prepare(expr):
    """Rewrite an expression into the subset CudaCodePrinter prints (see module docstring)."""
    expr = sp.sympify(expr)
    expr = expr.replace(sp.DiracDelta, lambda *args: sp.S.Zero)
    expr = heaviside_to_piecewise(expr)
    expr = expr.replace(
        lambda e: isinstance(e, sp.Piecewise) and e.args[-1].cond != sp.true,
        lambda e: sp.Piecewise(*[(a.expr, a.cond) for a in e.args], (sp.nan, True)))
    expr = _use_expm1_log1p(expr)
    return _fold_numbers(expr)


def _rename(expr, params):
    """Substitute the input symbol by ``x`` and parameters by ``p0, p1, ...`` (C identifiers)."""
    params = [str(p) for p in params]
    if len(set(params)) != len(params):
        raise ValueError(f"params: duplicate parameter names in {params}")
    if "x" in params:
        raise ValueError("params: 'x' is the activation's input, not a parameter")
    mapping = {}
    for sym in expr.free_symbols:
        if sym.name == "x":
            mapping[sym] = X
        elif sym.name in params:
            mapping[sym] = sp.Symbol(f"p{params.index(sym.name)}", real=True)
        else:
            raise ValueError(f"the expression uses {sym.name!r}, which is neither x nor one of "
                             f"the params {params}")
    return expr.xreplace(mapping)


def cuda_expression(expr, params=()):
    """Print a SymPy expression in ``x`` as a ``T``-generic CUDA C++ expression.

    Parameters
    ----------
    expr : sympy.Expr
        Expression in the real symbol ``x`` and the symbols named in ``params``.
    params : sequence of str
        Parameter names; parameter ``params[i]`` prints as ``p{i}``.

    Returns
    -------
    str
        A C++ expression in ``x``, ``p0, p1, ...`` and the ``mf_*`` overloads of ``common.cu``.

    Raises
    ------
    ValueError
        If ``expr`` uses an unknown symbol, a function without a CUDA counterpart, or a
        non-real constant.
    """
    expr = _prepare(_rename(sp.sympify(expr), params))
    printer = CudaCodePrinter()
    try:
        code = printer.doprint(expr)
    except (PrintMethodNotImplementedError, NotImplementedError) as exc:
        raise ValueError(f"expr: cannot generate CUDA code for {expr}: {exc}") from exc
    code = " ".join(line.strip() for line in code.splitlines())
    unknown = sorted(set(re.findall(r"\bmf_\w+", code)) - SUPPORTED_FUNCTIONS)
    if unknown:
        raise ValueError(f"expr: no CUDA counterpart for {unknown} in {expr}")
    return code
