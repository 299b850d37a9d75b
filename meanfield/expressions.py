"""Safe parsing of user activations written as SymPy expression strings in ``x``.

The string is parsed with :mod:`ast` and translated node by node into SymPy
objects from a fixed whitelist. Nothing is ever passed to ``eval``/``exec``
(:func:`sympy.sympify` and ``parse_expr`` both evaluate Python code, so they are
not used): attribute access, subscripts, lambdas, comprehensions, dunder names
and any function outside the whitelist raise :class:`ValueError`.

>>> parse_activation_expression("x*tanh(x)")
x*tanh(x)
>>> parse_activation_expression("Piecewise((x, x > 0), (a*x, True))", params=["a"])
Piecewise((x, x > 0), (a*x, True))
"""

from __future__ import annotations

import ast

import sympy as sp

__all__ = ["X", "derivative", "heaviside_to_piecewise", "parse_activation_expression",
           "ALLOWED_FUNCTIONS"]

#: The activation's input variable.
X = sp.Symbol("x", real=True)


def derivative(expr, symbol=X):
    """``d expr / d symbol`` with the ``DiracDelta`` terms dropped.

    Derivatives of ``Heaviside``/``sign`` produce ``DiracDelta``, which is 0 away from the
    (measure-zero) kinks, so it never contributes to an expectation or a pointwise value.

    >>> derivative(sp.Heaviside(X) * X)
    Heaviside(x)
    """
    return sp.diff(expr, symbol).replace(sp.DiracDelta, lambda *args: sp.S.Zero)


def heaviside_to_piecewise(expr):
    """Rewrite every ``Heaviside(u, h0)`` as a Piecewise that is NaN for a NaN ``u``.

    ``Piecewise((0, u < 0), (h0, Eq(u, 0)), (1, u > 0), (nan, True))``: the values of
    ``numpy.heaviside(u, h0)``, NaN included. SymPy's own rewrite ends in ``(1, True)``, so a
    NaN input would come out as 1; the NumPy lambdification of ``act.f`` and the CUDA code of
    :mod:`meanfield.gpu.codegen` both print this form, so they agree on every input.

    >>> heaviside_to_piecewise(sp.Heaviside(X, 0))
    Piecewise((0, x < 0), (0, Eq(x, 0)), (1, x > 0), (nan, True))
    """
    def rewrite(*args):
        u = args[0]
        h0 = args[1] if len(args) > 1 else sp.S.Half
        return sp.Piecewise((0, u < 0), (h0, sp.Eq(u, 0)), (1, u > 0), (sp.nan, True),
                            evaluate=False)

    return sp.sympify(expr).replace(sp.Heaviside, rewrite)

#: Functions a user expression may call, by the name used in the string.
ALLOWED_FUNCTIONS = {
    "exp": sp.exp,
    "log": sp.log,
    "sqrt": sp.sqrt,
    "tanh": sp.tanh,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "sin": sp.sin,
    "cos": sp.cos,
    "atan": sp.atan,
    "arctan": sp.atan,
    "erf": sp.erf,
    "erfc": sp.erfc,
    "Abs": sp.Abs,
    "abs": sp.Abs,
    "Max": sp.Max,
    "max": sp.Max,
    "Min": sp.Min,
    "min": sp.Min,
    "Heaviside": lambda arg: sp.Heaviside(arg, 0),
    "sigmoid": lambda arg: 1 / (1 + sp.exp(-arg)),
    "Piecewise": sp.Piecewise,
}

_CONSTANTS = {"pi": sp.pi, "E": sp.E, "True": sp.true, "False": sp.false}
_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_COMPARE = {ast.Gt: sp.Gt, ast.GtE: sp.Ge, ast.Lt: sp.Lt, ast.LtE: sp.Le}
MAX_LENGTH = 2000


def parse_activation_expression(text: str, params=()) -> sp.Expr:
    """Translate ``text`` into a SymPy expression in ``x`` without executing it.

    Parameters
    ----------
    text : str
        Expression in ``x``, e.g. ``"x*erf(x)"`` or ``"Max(x, 0)"``; ``^`` is accepted for powers.
    params : sequence of str
        Names of parameters that may appear besides ``x`` (they become real SymPy symbols).

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ValueError
        On a syntax error, an unknown name, attribute access, or any construct
        outside arithmetic, comparisons and the whitelisted functions.
    """
    if not isinstance(text, str):
        raise ValueError(f"expression must be a string; got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression must be at most {MAX_LENGTH} characters; got {len(text)}")
    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"expression is not valid syntax: {text!r} ({exc.msg})") from None
    names = {"x": X}
    for p in params:
        if not str(p).isidentifier() or str(p).startswith("_"):
            raise ValueError(f"parameter name {p!r} is not a plain identifier")
        names[str(p)] = sp.Symbol(str(p), real=True)
    expr = _translate(tree.body, names, text)
    if isinstance(expr, (bool, sp.logic.boolalg.Boolean)) or not isinstance(expr, sp.Expr):
        raise ValueError(f"expression must be a number-valued expression in x; got {text!r}")
    return expr


def _translate(node, names, text):
    def rec(n):
        return _translate(n, names, text)

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        if isinstance(node.value, (int, float)):
            return sp.nsimplify(node.value) if isinstance(node.value, int) else sp.Float(node.value)
        raise ValueError(f"expression may contain only numbers, not {node.value!r}")
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ValueError(
            f"unknown name {node.id!r} in expression {text!r}; use x, declared parameters, "
            f"pi, E and the functions {sorted(ALLOWED_FUNCTIONS)}"
        )
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](rec(node.left), rec(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = rec(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Tuple):
        return tuple(rec(e) for e in node.elts)
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
            raise ValueError(f"only single <, <=, >, >= comparisons are allowed in {text!r}")
        return _COMPARE[type(node.ops[0])](rec(node.left), rec(node.comparators[0]))
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in ALLOWED_FUNCTIONS:
            what = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ValueError(
                f"function {what!r} is not allowed in expression {text!r}; allowed: "
                f"{sorted(ALLOWED_FUNCTIONS)}"
            )
        if node.keywords:
            raise ValueError(f"keyword arguments are not allowed in expression {text!r}")
        args = [rec(a) for a in node.args]
        try:
            return ALLOWED_FUNCTIONS[node.func.id](*args)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cannot build {node.func.id}(...) in {text!r}: {exc}") from None
    raise ValueError(
        f"construct {type(node).__name__} is not allowed in expression {text!r}: only "
        "arithmetic, comparisons inside Piecewise and whitelisted functions are"
    )
