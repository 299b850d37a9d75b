"""CUDA source for a user's SymPy activation: ``f`` and ``f'`` as C++ templates in ``T``.

:func:`generate_kernel_source` turns an activation's ``template`` (a SymPy expression in the
real symbol ``x`` and parameter symbols) into a CUDA module: an *Op* struct whose ``f`` and
``df`` bodies are printed by :class:`CudaCodePrinter` (a :class:`sympy.printing.c.C99CodePrinter`)
from the template and from ``sympy.diff(template, x)``, plus eight ``extern "C"`` entry points with fixed names
(``mfu_<kind>_<f32|f64>`` for forward, derivative, fused forward-and-derivative and backward)
that hand the Op to the grid-stride drivers of ``meanfield/cuda/common.cu``. Parameters are
kernel arguments, so one compiled module serves every parameter value of the same expression;
fixed names (no NVRTC name expressions) let CuPy load the module from its disk cache in later
processes.

Printing rules:

* every function becomes an ``mf_*`` overload from ``common.cu`` (``mf_exp(float)`` calls
  ``expf``, ``mf_exp(double)`` calls ``exp``) and every number a ``T(...)`` literal, so the
  ``float`` instantiation computes in float throughout;
* ``Piecewise`` becomes nested ternaries (an unused branch is never evaluated; a Piecewise
  without a ``True`` default gets ``NaN`` there); ``Max``/``Min`` become NaN-propagating
  ``mf_max``/``mf_min``; ``Heaviside`` is rewritten as a Piecewise with a NaN default
  (:func:`meanfield.expressions.heaviside_to_piecewise`, as ``act.f`` evaluates it: NaN in,
  NaN out) and ``DiracDelta`` (from differentiating a step) is 0, the derivative almost
  everywhere;
* ``u**(1/3)`` is ``mf_real_cbrt(u)``: NaN for ``u < 0`` like NumPy's power (CUDA's ``cbrt``
  would return the real cube root there), so ``f`` and ``f'`` agree with ``act.f``/``act.df``;
* ``exp(u) - 1`` and ``log(1 + u)`` are rewritten as ``expm1(u)``, ``log1p(u)``, small
  integer powers as products, and numeric subexpressions (``sqrt(2)``, ``1/pi``) are folded
  to double-precision constants.

The result is otherwise faithful to the expression: unlike the hand-written built-ins it does
not reformulate a numerically unstable expression (``1/(1 + exp(-x))`` is fine, but
``exp(-x)/(1 + exp(-x))**2`` overflows to NaN for very negative ``x``, as its NumPy
lambdification does).

>>> from meanfield.expressions import X
>>> import sympy as sp
>>> cuda_expression(sp.Piecewise((X, X > 0), (sp.Symbol("a", real=True) * X, True)), ["a"])
'((x > T(0)) ? (x) : (p0*x))'
>>> cuda_expression(sp.exp(-X**2 / 2))
'mf_exp(-T(0.5)*(x*x))'
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.printing.c import C99CodePrinter
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from meanfield.expressions import X, heaviside_to_piecewise

__all__ = [
    "CudaCodePrinter",
    "KernelSource",
    "SUPPORTED_FUNCTIONS",
    "cuda_expression",
    "generate_kernel_source",
    "generate_op_source",
    "read_cuda_source",
]

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

_KERNEL_KINDS = ("forward", "derivative", "forward_derivative", "backward")

#: C type and entry-point suffix of each dtype.
_CTYPES = {"float32": "float", "float64": "double"}
_SUFFIXES = {"float32": "f32", "float64": "f64"}


def read_cuda_source(name):
    """Return the text of ``meanfield/cuda/<name>`` (found with :mod:`importlib.resources`).

    Parameters
    ----------
    name : str
        File name inside the package's ``cuda`` folder, e.g. ``"activations.cu"``.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``name`` is not a ``.cu`` file shipped with the package.

    Examples
    --------
    >>> "mf_forward_loop" in read_cuda_source("common.cu")
    True
    """
    if not isinstance(name, str) or "/" in name or "\\" in name or not name.endswith(".cu"):
        raise ValueError(f"name must be the file name of a .cu file in meanfield/cuda; "
                         f"got {name!r}")
    path = resources.files("meanfield").joinpath("cuda", name)
    if not path.is_file():
        raise ValueError(f"name: no CUDA source {name!r} in meanfield/cuda")
    return path.read_text(encoding="utf-8")


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


def generate_op_source(template, params=(), *, name="mfu_op"):
    """C++ source of the Op struct for ``template``: members ``p0..``, ``f(x)``, ``df(x)``.

    Parameters
    ----------
    template : sympy.Expr
        The activation in ``x`` and the parameter symbols.
    params : sequence of str
        Parameter names, in the order the kernels take them.
    name : str
        Name of the struct template.

    Returns
    -------
    str
        Compiles on the device (with ``common.cu`` before it) and on the host with a C++
        compiler (``MF_FN`` is then plain ``inline``), which the tests use.
    """
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise ValueError(f"name must be a C identifier; got {name!r}")
    template = sp.sympify(template)
    if X not in template.free_symbols and not any(
            s.name == "x" for s in template.free_symbols):
        raise ValueError(f"template must depend on x; got {template}")
    params = [str(p) for p in params]
    f_code = cuda_expression(template, params)
    df_code = cuda_expression(sp.diff(template, _input_symbol(template)), params)
    members = "".join(f"    T p{i};\n" for i in range(len(params)))
    args = ", ".join(f"T a{i}" for i in range(len(params)))
    init = ", ".join(f"p{i}(a{i})" for i in range(len(params)))
    ctor = f"    MF_FN {name}({args}){' : ' + init if init else ''} {{}}\n"
    return (
        f"template <typename T> struct {name} {{\n{members}{ctor}"
        f"    MF_FN T f(T x) const {{ return {f_code}; }}\n"
        f"    MF_FN T df(T x) const {{ return {df_code}; }}\n"
        "};\n"
    )


def _input_symbol(template):
    for s in template.free_symbols:
        if s.name == "x":
            return s
    return X


@dataclass(frozen=True)
class KernelSource:
    """A generated CUDA module for one SymPy template.

    Attributes
    ----------
    key : str
        SHA-1 of :attr:`source`; kernels.py caches one compiled module per (device, key).
    source : str
        Full module text: ``common.cu`` followed by :attr:`op_source` and the entry points.
    op_source : str
        The Op struct alone (also compiles on the host).
    param_names : tuple of str
        Parameter names in kernel-argument order (``p0, p1, ...``).
    entry_names : dict
        ``(kind, dtype_name) -> "mfu_forward_f32"`` for kind in forward, derivative,
        forward_derivative and backward: the ``extern "C"`` kernels of the module.
    """

    key: str
    source: str
    op_source: str
    param_names: tuple
    entry_names: dict = field(default_factory=dict)

    def entry_name(self, kind, dtype_name):
        """Return the name of one kernel (``kind``, ``"float32"|"float64"``) in the module."""
        try:
            return self.entry_names[(kind, dtype_name)]
        except KeyError:
            raise ValueError(f"kind/dtype_name: no generated kernel {kind!r} for "
                             f"{dtype_name!r}") from None


def _entry_points(n_params):
    """``extern "C"`` kernels of a generated module, for float and double."""
    out = ["#ifdef MF_DEVICE_CODE\n"]
    head = 'extern "C" __global__ void __launch_bounds__(MF_BLOCK)'
    for dtype_name, t in _CTYPES.items():
        suf = _SUFFIXES[dtype_name]
        pdecl = "".join(f", {t} p{i}" for i in range(n_params))
        op = f"mfu_op<{t}>({', '.join(f'p{i}' for i in range(n_params))})"
        one, zero = f"{t}(1)", f"{t}(0)"
        out.append(
            f"{head}\nmfu_forward_{suf}(const {t}* x, {t}* y, long long n{pdecl}) {{\n"
            f"    mf_forward_loop(x, y, n, {op}, {one}, {zero});\n}}\n"
            f"{head}\nmfu_derivative_{suf}(const {t}* x, {t}* y, long long n{pdecl}) {{\n"
            f"    mf_derivative_loop(x, y, n, {op}, {one});\n}}\n"
            f"{head}\nmfu_forward_derivative_{suf}(const {t}* x, {t}* y, {t}* dy, "
            f"long long n{pdecl}) {{\n"
            f"    mf_forward_derivative_loop(x, y, dy, n, {op}, {one}, {zero});\n}}\n"
            f"{head}\nmfu_backward_{suf}(const {t}* x, const {t}* g, {t}* gx, "
            f"long long n{pdecl}) {{\n"
            f"    mf_backward_loop(x, g, gx, n, {op}, {one});\n}}\n")
    out.append("#endif  // MF_DEVICE_CODE\n")
    return "".join(out)


def generate_kernel_source(template, params=()):
    """Generate the CUDA module (Op struct and kernels) for an activation template.

    Parameters
    ----------
    template : sympy.Expr
        ``act.template``: the activation in ``x`` and its parameter symbols.
    params : sequence of str
        ``tuple(act.params)``: the parameter names, in kernel-argument order.

    Returns
    -------
    KernelSource

    Raises
    ------
    ValueError
        See :func:`cuda_expression`.

    Examples
    --------
    >>> from meanfield import get_activation
    >>> src = generate_kernel_source(get_activation("tanh").template)
    >>> src.entry_name("forward", "float32")
    'mfu_forward_f32'
    """
    params = tuple(str(p) for p in params)
    op = generate_op_source(template, params)
    header = f"// generated by meanfield.gpu.codegen from: {sp.sstr(template)}\n"
    header = header.replace("\n", " ").rstrip() + "\n"
    source = read_cuda_source("common.cu") + "\n" + header + op + _entry_points(len(params))
    names = {(k, d): f"mfu_{k}_{_SUFFIXES[d]}" for k in _KERNEL_KINDS for d in _CTYPES}
    key = hashlib.sha1(source.encode("utf-8")).hexdigest()
    return KernelSource(key=key, source=source, op_source=op, param_names=params,
                        entry_names=names)
