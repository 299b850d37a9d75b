"""Which CUDA kernels run an activation, and the text of the hand-written modules (pure Python).

:func:`kernel_plan` recognizes a built-in activation, or an affine ``scale * f + shift`` of
one, by its SymPy template (not by its name) and picks the hand-written kernels of
``meanfield/cuda/activations.cu``; any other activation with a template gets kernels that
:mod:`meanfield.gpu.codegen` generates. :func:`builtin_module_source` is the CUDA text of one
built-in family's module and :func:`builtin_entry_name` the fixed ``extern "C"`` name of each
of its kernels. Nothing here imports CuPy; :mod:`meanfield.gpu.kernels` launches the kernels.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import sympy as sp

from meanfield.activations import Activation, get_activation
from meanfield.gpu import codegen

__all__ = [
    "KernelPlan",
    "builtin_entry_name",
    "builtin_module_source",
    "builtin_source",
    "kernel_plan",
]

# family -> (C++ Op, parameter names for the slots p0, p1, p2)
_BUILTIN_OPS = {
    "relu": ("mf::Relu", ()),
    "lrelu": ("mf::LRelu", ("slope",)),
    "elu": ("mf::Elu", ("alpha",)),
    "selu": ("mf::Selu", ("lam", "alpha")),
    "dselu": ("mf::Selu", ("lam", "alpha")),
    "sselu": ("mf::SSelu", ("lam", "alpha", "beta")),
    "lselu": ("mf::LSelu", ("lam", "alpha", "beta")),
    "tanh": ("mf::Tanh", ()),
    "sigmoid": ("mf::Sigmoid", ()),
    "softplus": ("mf::Softplus", ()),
    "gelu": ("mf::Gelu", ()),
    "swish": ("mf::Swish", ()),
    "erf": ("mf::Erf", ()),
    "linear": ("mf::Linear", ()),
}
#: Ops whose f is lam * unit(x): they have the fused backward with dL/dlam.
_LAMBDA_OPS = ("mf::Selu", "mf::SSelu", "mf::LSelu")
#: How many plans :func:`kernel_plan` keeps (keyed by template and parameters, in order).
_PLAN_CACHE_SIZE = 256
_reference_templates = {}
_lock = threading.RLock()
_generated = {}  # (template, param names) -> codegen.KernelSource

# ------------------------------------------------------------------------------------------------
# sources and name expressions


def builtin_entry_name(kind, op, dtype_name):
    """Name of a hand-written kernel: ``mf_<kind>_<Op>_<f32|f64>``.

    >>> builtin_entry_name("backward_lambda", "mf::SSelu", "float32")
    'mf_backward_lambda_SSelu_f32'
    """
    return f"mf_{kind}_{op.removeprefix('mf::')}_{codegen._SUFFIXES[dtype_name]}"


@functools.cache
def builtin_module_source(op):
    """The CUDA text of the module of one built-in Op (``"mf::SSelu"``): both dtypes.

    :func:`builtin_source` followed by the ``extern "C"`` entry points of ``op``: forward,
    derivative, forward_derivative and backward, and backward_lambda for the SELU family.
    """
    if op not in _ops():
        raise ValueError(f"op must be one of the built-in Ops {sorted(_ops())}; got {op!r}")
    name = op.removeprefix("mf::")
    text = builtin_source() + f"\nMF_ENTRY_POINTS({name})\n"
    if op in _LAMBDA_OPS:
        text += f"MF_LAMBDA_ENTRY_POINTS({name})\n"
    return text


def _ops():
    return {op for op, _ in _BUILTIN_OPS.values()}


@functools.cache
def builtin_source():
    """The CUDA text of the built-in module: ``common.cu`` followed by ``activations.cu``.

    Read from the package once per process (the shipped ``.cu`` files do not change).
    """
    return codegen.read_cuda_source("common.cu") + "\n" + codegen.read_cuda_source(
        "activations.cu")


# ------------------------------------------------------------------------------------------------
# which kernel an activation gets


@dataclass(frozen=True)
class KernelPlan:
    """How an activation runs on the GPU (see :func:`kernel_plan`).

    Attributes
    ----------
    kind : str
        ``"builtin"`` (hand-written kernels) or ``"codegen"`` (generated from the template).
    family : str or None
        The built-in family recognized (``"sselu"``, ...), None for codegen.
    op : str or None
        The C++ Op of the built-in kernels (``"mf::SSelu"``), None for codegen.
    params : tuple of float
        Kernel arguments: the three Op slots (built-in) or every parameter in order (codegen).
    scale, shift : float
        The affine wrapper ``scale * f + shift`` (1 and 0 for codegen, where it is part of the
        generated expression).
    has_lambda : bool
        Whether :func:`~meanfield.gpu.kernels.activation_backward_lambda` applies (the SELU family).
    source : codegen.KernelSource or None
        The generated module (codegen only).
    """

    kind: str
    family: str | None
    op: str | None
    params: tuple
    scale: float = 1.0
    shift: float = 0.0
    has_lambda: bool = False
    source: codegen.KernelSource | None = None


def _reference_template(family):
    if family not in _reference_templates:
        names = _BUILTIN_OPS[family][1]
        dummy = {"dselu": {"lam": 1.0, "alpha": 1.0}, "sselu": dict.fromkeys(names, 1.0),
                 "lselu": dict.fromkeys(names, 1.0)}.get(family, {})
        _reference_templates[family] = get_activation(family, **dummy).template
    return _reference_templates[family]


def _peel_affine(template, params):
    """Split ``s * inner + b`` (s, b parameter symbols) into ``(s name, b name, inner)``."""
    if not isinstance(template, sp.Add):
        return None
    for b in template.args:
        if not (isinstance(b, sp.Symbol) and b.name in params):
            continue
        rest = [t for t in template.args if t is not b]
        if len(rest) != 1 or not isinstance(rest[0], sp.Mul):
            continue
        for s in rest[0].args:
            if not (isinstance(s, sp.Symbol) and s.name in params and s != b):
                continue
            inner = sp.Mul(*[a for a in rest[0].args if a is not s])
            if s not in inner.free_symbols and b not in inner.free_symbols:
                return s.name, b.name, inner
    return None


def _match_builtin(template, params):
    """Return ``(family, slot values, scale, shift)`` if ``template`` is an affine built-in."""
    names_in = {s.name for s in template.free_symbols} - {"x"}
    for family, (_, names) in _BUILTIN_OPS.items():
        if names_in == set(names) and template == _reference_template(family):
            return family, tuple(params[n] for n in names), 1.0, 0.0
    peeled = _peel_affine(template, params)
    if peeled is not None:
        s, b, inner = peeled
        found = _match_builtin(inner, {k: v for k, v in params.items() if k not in (s, b)})
        if found is not None:
            family, values, scale, shift = found
            return family, values, params[s] * scale, params[s] * shift + params[b]
    return None


def _as_activation(act):
    if isinstance(act, Activation):
        return act
    if isinstance(act, str):
        return get_activation(act)
    raise ValueError(f"act must be an Activation or a built-in name; got {type(act).__name__}")


def kernel_plan(act):
    """Decide which CUDA kernels run ``act`` (no GPU needed).

    Parameters
    ----------
    act : Activation or str
        An activation, or a built-in name.

    Returns
    -------
    KernelPlan

    Raises
    ------
    ValueError
        If ``act`` has no SymPy template (built from NumPy callables), or its template cannot
        be printed as CUDA code.

    Examples
    --------
    >>> from meanfield import get_activation
    >>> plan = kernel_plan(get_activation("relu").gpn())
    >>> plan.kind, plan.op, round(plan.scale, 6), plan.shift
    ('builtin', 'mf::Relu', 1.414214, 0.0)
    >>> kernel_plan(Activation.from_expression("x*tanh(x)")).kind
    'codegen'

    The plan depends only on ``act.template`` and ``act.params`` (names, order and values), so
    it is cached on them: a second call for an equal activation returns the same
    :class:`KernelPlan` without matching the template again.
    """
    act = _as_activation(act)
    if act.template is None:
        raise ValueError(f"act: activation {act.name!r} has no SymPy template (it was built from "
                         "NumPy callables), so it has no GPU kernel; build it from an expression "
                         "with Activation.from_expression to run it on the GPU")
    # parameter order matters: it is the kernel-argument order of generated kernels
    items = tuple(act.params.items())
    try:
        return _cached_plan(act.template, items)
    except TypeError:  # an unhashable template or parameter value: plan it without the cache
        return _plan(act.template, dict(items))


@functools.lru_cache(maxsize=_PLAN_CACHE_SIZE)
def _cached_plan(template, items):
    return _plan(template, dict(items))


def _plan(template, params):
    """The :class:`KernelPlan` of a template with parameter values ``params`` (a dict)."""
    found = _match_builtin(template, params)
    if found is not None:
        family, values, scale, shift = found
        op = _BUILTIN_OPS[family][0]
        slots = tuple(float(v) for v in values) + (0.0,) * (3 - len(values))
        return KernelPlan("builtin", family, op, slots, float(scale), float(shift),
                          has_lambda=op in _LAMBDA_OPS)
    key = (template, tuple(params))
    with _lock:
        if key not in _generated:
            _generated[key] = codegen.generate_kernel_source(template, tuple(params))
        source = _generated[key]
    return KernelPlan("codegen", None, None, tuple(float(v) for v in params.values()),
                      source=source)
