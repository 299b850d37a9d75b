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

Printing rules (:func:`cuda_expression`, in ``_printer.py``):

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

from meanfield.expressions import X
from meanfield.gpu._printer import SUPPORTED_FUNCTIONS, CudaCodePrinter, cuda_expression

__all__ = [
    "CudaCodePrinter",
    "KernelSource",
    "SUPPORTED_FUNCTIONS",
    "cuda_expression",
    "generate_kernel_source",
    "generate_op_source",
    "read_cuda_source",
]

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
