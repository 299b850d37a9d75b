"""Safe parsing of user activations written as SymPy expression strings in ``x``.

The string is parsed with :mod:`ast` and translated node by node into SymPy
objects from a fixed whitelist. Nothing is ever passed to ``eval``/``exec``
(:func:`sympy.sympify` and ``parse_expr`` both evaluate Python code, so they are
not used): attribute access, subscripts, lambdas, comprehensions, dunder names
and any function outside the whitelist raise :class:`ValueError`.

The string may come from someone else (a shared trace file, a config), so the work
it can cause is bounded before SymPy sees it: at most :data:`MAX_LENGTH` characters,
:data:`MAX_DEPTH` levels of nesting and :data:`MAX_NODES` syntax nodes; a numeric
power is built only if its result stays below ``10**MAX_NUMBER_DIGITS`` (``9**9**9``
would take minutes and gigabytes); a power of an expression in ``x`` has an exponent
of at most :data:`MAX_EXPONENT` and the polynomial degree of the whole expression is at
most :data:`MAX_DEGREE` (``(x+1)**200``, ``x**(10**10)`` would expand or integrate
term by term forever); non-smooth constructs nest at most :data:`MAX_PIECEWISE_NESTING`
deep and ``Piecewise`` conditions are polynomial in ``x`` (their roots are the kinks); and
building and differentiating take at most :data:`DERIVATION_SECONDS` (:func:`time_budget`,
also applied to the kinks and to each closed-form derivation). Each limit is refused with a
ValueError naming it.

>>> parse_activation_expression("x*tanh(x)")
x*tanh(x)
>>> parse_activation_expression("Piecewise((x, x > 0), (a*x, True))", params=["a"])
Piecewise((x, x > 0), (a*x, True))
"""

from __future__ import annotations

import ast
import keyword
import math
import warnings

import sympy as sp

from meanfield._budget import time_budget

__all__ = [
    "ALLOWED_FUNCTIONS",
    "DERIVATION_SECONDS",
    "MAX_DEGREE",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_NUMBER_DIGITS",
    "MAX_PIECEWISE_NESTING",
    "X",
    "derivative",
    "heaviside_to_piecewise",
    "lambdify_renamed",
    "parse_activation_expression",
    "time_budget",
]

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


def lambdify_renamed(args, expr, modules):
    """:func:`sympy.lambdify` with every argument symbol renamed to a fresh ``Dummy`` first.

    A parameter called ``pi``, ``E``, ``exp`` or ``erf`` would otherwise shadow the constant or
    function of that name in the generated code (lambdify binds argument names and the
    expression's symbols by their printed names): ``erf(x)`` with a parameter ``pi = 2`` had
    ``f'(0) = 2/sqrt(2)``. ``args`` is a list of symbols; ``expr`` may be a tuple of expressions.

    >>> pi = sp.Symbol("pi", real=True)
    >>> f = lambdify_renamed([X, pi], derivative(sp.erf(X)) + pi, modules="math")
    >>> round(f(0.0, 0.0), 12) == round(2 / 3.141592653589793 ** 0.5, 12)
    True
    """
    renamed = {a: sp.Dummy(f"arg{i}", **a.assumptions0) for i, a in enumerate(args)}
    body = (tuple(sp.sympify(e).xreplace(renamed) for e in expr) if isinstance(expr, (tuple, list))
            else sp.sympify(expr).xreplace(renamed))
    return sp.lambdify([renamed[a] for a in args], body, modules=modules)


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

#: Longest expression string accepted, in characters.
MAX_LENGTH = 2000
#: Deepest nesting of the syntax tree (``-(-(-x))`` has depth 4); deeper trees are refused
#: before SymPy's recursive algorithms could hit Python's recursion limit.
MAX_DEPTH = 200
#: Most syntax-tree nodes (names, numbers, operators, calls) in one expression.
MAX_NODES = 1000
#: Numbers built from the literals (``10**300``, ``2**64*3``) stay below ``10**MAX_NUMBER_DIGITS``
#: in magnitude (and above its inverse): far past float64, far below what makes SymPy slow.
MAX_NUMBER_DIGITS = 400
#: Largest ``|n|`` of a numeric exponent of an expression in ``x`` (``x**64`` is fine).
MAX_EXPONENT = 64
#: Largest polynomial degree of the expression, counting ``x`` and functions of ``x`` as
#: degree 1 (``(x+1)**2*(x-1)**3`` has degree 5): bounds expansion and moment tables.
MAX_DEGREE = 64
#: Wall-clock seconds allowed for building the SymPy expression and differentiating it, and
#: for each symbolic step that follows (kinks, one closed-form derivation): SymPy's piecewise
#: algebra grows exponentially with nested ``Abs``/``Max``/``Min``.
DERIVATION_SECONDS = 10.0
#: Deepest nesting of non-smooth constructs (``Abs``, ``Max``, ``Min``, ``Piecewise``,
#: ``Heaviside``): ``Abs(Abs(x-1)-2)`` is 2 deep and has 3 kinks; each level doubles them and
#: multiplies SymPy's time (3 deep took minutes to derive).
MAX_PIECEWISE_NESTING = 2


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
        outside arithmetic, comparisons and the whitelisted functions; on an expression
        over one of the size limits of this module (the message names the limit).

    Examples
    --------
    >>> parse_activation_expression("9**9**9")
    Traceback (most recent call last):
    ...
    ValueError: expression '9**9**9': the number 9**387420489 has more than 400 digits (MAX_NUMBER_DIGITS)
    """
    if not isinstance(text, str):
        raise ValueError(f"expression must be a string; got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression must be at most {MAX_LENGTH} characters (MAX_LENGTH); "
                         f"got {len(text)}")
    if "\x00" in text:
        raise ValueError("expression must not contain NUL characters")
    try:
        with warnings.catch_warnings():  # "1if x" warns before failing: the ValueError says it
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"expression is not valid syntax: {text!r} ({exc.msg})") from None
    except (RecursionError, MemoryError):
        raise ValueError(f"expression {text!r} is nested too deeply (MAX_DEPTH = {MAX_DEPTH})") from None
    _check_tree_size(tree.body, text)
    names = {"x": X}
    for p in params:
        p = str(p)
        if not p.isidentifier() or p.startswith("_") or keyword.iskeyword(p):
            raise ValueError(f"parameter name {p!r} is not a plain identifier")
        if p == "x":
            raise ValueError("parameter name 'x' is reserved for the activation's input")
        names[p] = sp.Symbol(p, real=True)
    with time_budget(DERIVATION_SECONDS, f"building and differentiating {text!r}"):
        expr = _translate(tree.body, names, text)
        # a Symbol (the identity "x") is both an Expr and a Boolean in SymPy: test Expr first
        if isinstance(expr, bool) or not isinstance(expr, sp.Expr):
            raise ValueError(f"expression must be a number-valued expression in x; got {text!r}")
        _check_constants_real(expr, text)
        nesting = _piecewise_nesting(expr)
        if nesting > MAX_PIECEWISE_NESTING:
            raise ValueError(f"expression {text!r} nests Abs/Max/Min/Piecewise/Heaviside {nesting} "
                             f"deep, more than MAX_PIECEWISE_NESTING = {MAX_PIECEWISE_NESTING}")
        degree = _degree_bound(expr)
        if degree > MAX_DEGREE:
            raise ValueError(f"expression {text!r} has polynomial degree {degree} in x, more than "
                             f"MAX_DEGREE = {MAX_DEGREE}")
        derivative(expr)
    return expr


def _check_tree_size(root, text):
    """Refuse trees deeper than MAX_DEPTH or larger than MAX_NODES (iteratively: no recursion)."""
    stack, count = [(root, 1)], 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise ValueError(f"expression {text[:60]!r}... is nested more than MAX_DEPTH = "
                             f"{MAX_DEPTH} levels deep")
        if count > MAX_NODES:
            raise ValueError(f"expression {text[:60]!r}... has more than MAX_NODES = {MAX_NODES} "
                             "syntax nodes")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _log10_abs(value):
    """``log10 |value|`` of a SymPy number (-inf for 0), without building big floats."""
    if value.is_zero:
        return -math.inf
    if value.is_Integer:
        n = abs(int(value))
        return math.log10(n) if n.bit_length() < 1000 else n.bit_length() * math.log10(2)
    if value.is_Rational:
        return _log10_abs(sp.Integer(value.p)) - _log10_abs(sp.Integer(value.q))
    if value.is_Float:
        mantissa, exponent = sp.Float(value)._mpf_[1:3]
        return (math.log10(abs(mantissa)) if mantissa else -math.inf) + exponent * math.log10(2)
    return 0.0  # a symbolic constant such as pi or E


def _check_number(value, text, shown):
    if value.is_Number and not value.is_zero and abs(_log10_abs(value)) > MAX_NUMBER_DIGITS:
        raise ValueError(f"expression {text!r}: the number {shown} has more than "
                         f"{MAX_NUMBER_DIGITS} digits (MAX_NUMBER_DIGITS)")
    return value


def _power(base, exponent, text):
    """``base**exponent`` after checking that SymPy will not build a huge number or degree."""
    if exponent.is_Number:
        if base.is_Number or base in (sp.pi, sp.E):
            size = abs(float(exponent)) * abs(_log10_abs(base)) if not base.is_zero else 0.0
            if size > MAX_NUMBER_DIGITS:
                raise ValueError(f"expression {text!r}: the number {base}**{exponent} has more than "
                                 f"{MAX_NUMBER_DIGITS} digits (MAX_NUMBER_DIGITS)")
        elif abs(float(exponent)) > MAX_EXPONENT:
            raise ValueError(f"expression {text!r}: exponent {exponent} is larger than "
                             f"MAX_EXPONENT = {MAX_EXPONENT} in magnitude")
    return _check_number(base**exponent, text, f"{base}**{exponent}")


def _check_constants_real(expr, text):
    """Refuse constant sub-expressions that are infinite, NaN or not real (``1/0``, ``(-8)**(1/3)``)."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Expr) and not node.free_symbols and (
                node.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I) or node.is_extended_real is False):
            raise ValueError(f"expression {text!r}: the constant {node} is not a finite real number")


_NONSMOOTH = (sp.Abs, sp.Max, sp.Min, sp.Piecewise, sp.Heaviside, sp.sign)


def _piecewise_nesting(expr):
    """Deepest nesting of non-smooth constructs that depend on x."""
    depth = {}
    for node in sp.postorder_traversal(expr):
        if node not in depth:
            inner = max((depth.get(a, 0) for a in node.args), default=0)
            depth[node] = inner + (isinstance(node, _NONSMOOTH) and node.has(X))
    return depth.get(expr, 0)


def _degree_bound(expr):
    """An upper bound of the polynomial degree in x (functions of x count 1), iteratively."""
    degree = {}
    for node in sp.postorder_traversal(expr):
        if node in degree:
            continue
        if not node.has(X):
            d = 0
        elif node == X:
            d = 1
        elif node.is_Add or isinstance(node, (sp.Piecewise, sp.Max, sp.Min)):
            d = max((degree.get(a, 0) for a in node.args), default=0)
        elif node.is_Mul:
            d = sum(degree.get(a, 0) for a in node.args)
        elif node.is_Pow and node.exp.is_Number:
            d = degree.get(node.base, 1) * abs(int(math.ceil(abs(float(node.exp)))))
        else:
            d = max(1, *(degree.get(a, 0) for a in node.args))
        degree[node] = d
    return degree.get(expr, 0)


def _translate(node, names, text):
    def rec(n):
        return _translate(n, names, text)

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        if isinstance(node.value, int):
            if node.value.bit_length() > MAX_NUMBER_DIGITS * 3.33:
                raise ValueError(f"expression {text[:60]!r}: an integer literal has more than "
                                 f"{MAX_NUMBER_DIGITS} digits (MAX_NUMBER_DIGITS)")
            return sp.Integer(node.value)
        if isinstance(node.value, float):
            if not math.isfinite(node.value):
                raise ValueError(f"expression {text!r}: number literals must be finite; "
                                 f"got {node.value}")
            return sp.Float(node.value)
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
        left, right = rec(node.left), rec(node.right)
        if isinstance(node.op, ast.Pow):
            if not (isinstance(left, sp.Expr) and isinstance(right, sp.Expr)):
                raise ValueError(f"cannot raise {left} to the power {right} in {text!r}")
            return _power(left, right, text)
        try:
            value = _BINOPS[type(node.op)](left, right)
        except (TypeError, ZeroDivisionError) as exc:
            raise ValueError(f"cannot evaluate {ast.unparse(node)!r} in {text!r}: {exc}") from None
        return _check_number(value, text, ast.unparse(node)) if isinstance(value, sp.Expr) else value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = rec(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Tuple):
        return tuple(rec(e) for e in node.elts)
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
            raise ValueError(f"only single <, <=, >, >= comparisons are allowed in {text!r}")
        left, right = rec(node.left), rec(node.comparators[0])
        if not (isinstance(left, sp.Expr) and isinstance(right, sp.Expr)):
            raise ValueError(f"comparison {ast.unparse(node)!r} in {text!r} must compare numbers")
        difference = left - right
        if difference.has(X) and not difference.is_polynomial(X):
            # kinks are the real roots of the condition: SymPy finds those of polynomials only
            raise ValueError(f"condition {ast.unparse(node)!r} in {text!r} must be polynomial in x "
                             "(e.g. x > 0, x**2 < 4, x > a)")
        return _COMPARE[type(node.ops[0])](left, right)
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
        if node.func.id == "sqrt" and len(args) == 1 and isinstance(args[0], sp.Expr):
            return _power(args[0], sp.Rational(1, 2), text)
        try:
            return ALLOWED_FUNCTIONS[node.func.id](*args)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cannot build {node.func.id}(...) in {text!r}: {exc}") from None
    raise ValueError(
        f"construct {type(node).__name__} is not allowed in expression {text!r}: only "
        "arithmetic, comparisons inside Piecewise and whitelisted functions are"
    )
