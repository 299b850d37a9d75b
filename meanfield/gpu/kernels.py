"""Elementwise CUDA kernels for activations: forward, derivative, backward, backward with d/dlam.

Every function takes a contiguous CuPy array (float32 or float64, C or Fortran order; the
kernels run over its memory as one flat vector, so every other array must have the same
layout) and launches a kernel on that array's device and CuPy's current stream; nothing
synchronizes.

* Built-in activations (and any affine ``scale * f + shift`` of one: GPN versions, ``nrelu``,
  ``nswish``, or a user expression of that shape) run the hand-written kernels of
  ``meanfield/cuda/activations.cu``. They are recognized by their SymPy template, not by name.
* Any other activation with a SymPy template runs kernels generated from it by
  :mod:`meanfield.gpu.codegen`.
* Activations built from NumPy callables have no template and raise ``ValueError``.

CUDA modules are compiled on first use with ``cupy.RawModule`` (NVRTC), one per built-in Op
(both dtypes) or generated template, and cached per device id. Their kernels are
``extern "C"`` with fixed names (``mf_forward_SSelu_f32``, ``mfu_backward_f64``), so CuPy
needs no name expressions and keeps each compiled module in its disk cache
(``~/.cupy/kernel_cache``, ``CUPY_CACHE_DIR``): a later process loads it instead of
compiling again. CuPy is imported only when a kernel runs, so ``import meanfield.gpu`` works
without it. :func:`~meanfield.gpu.plans.kernel_plan` (pure Python, in
:mod:`meanfield.gpu.plans`, re-exported here) tells which kernel an activation gets.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from meanfield._backend_base import BackendUnavailableError
from meanfield._cupy_import import _import_cupy
from meanfield._validation import check_int
from meanfield.gpu.plans import (
    KernelPlan,
    builtin_entry_name,
    builtin_module_source,
    builtin_source,
    kernel_plan,
)

__all__ = [
    "BLOCK_SIZE",
    "KernelPlan",
    "activation_backward",
    "activation_backward_lambda",
    "activation_derivative",
    "activation_forward",
    "activation_forward_derivative",
    "MAX_BLOCKS",
    "builtin_entry_name",
    "builtin_module_source",
    "builtin_source",
    "is_available",
    "kernel_plan",
]

#: Threads per block of every launch (``MF_BLOCK`` in ``common.cu``; a multiple of 32).
BLOCK_SIZE = 256

#: Largest grid (``blocks=``) a launch accepts: CUDA's limit on ``gridDim.x``.
MAX_BLOCKS = 2**31 - 1

#: 16-byte packs each thread moves per loop iteration (``mf_unroll`` in ``common.cu``), by
#: element size: 4 float packs or 2 double packs, 64 bytes per array.
_PACKS_PER_THREAD = {4: 4, 8: 2}

#: Blocks per SM of the elementwise launches (grid-stride loops cover the rest).
_BLOCKS_PER_SM_ELEMENTWISE = 32
#: Blocks per SM of the reduction launch: a few thousand blocks on an H100 (132 SMs), so that
#: each thread sums a long grid-stride run on chip and only ~2k atomics hit the accumulator.
_BLOCKS_PER_SM_REDUCTION = 16

_lock = threading.RLock()
_modules = {}  # (device id, module key) -> cupy.RawModule
_functions = {}  # (device id, module key, kernel name) -> kernel
_sm_counts = {}  # device id -> multiprocessor count


# ------------------------------------------------------------------------------------------------
# CuPy side (imported lazily)


def _cupy():
    try:
        import cupy
    except ImportError as exc:
        raise ImportError("meanfield.gpu kernels need CuPy and a CUDA GPU: pip install "
                          "'meanfield[cuda13]' (or [cuda12])") from exc
    return cupy


def is_available():
    """Whether CuPy imports, NVRTC loads and CuPy sees at least one CUDA device.

    Returns
    -------
    bool
    """
    try:
        _import_cupy(libraries=("nvrtc",))  # the kernels need NVRTC alone
    except BackendUnavailableError:  # no CuPy, no driver or no device
        return False
    return True


def _module(device_id, key, source):
    cache_key = (device_id, key)
    with _lock:
        mod = _modules.get(cache_key)
        if mod is None:
            cupy = _cupy()
            with cupy.cuda.Device(device_id):
                # no name_expressions: CuPy then keeps the compiled module in its disk cache
                mod = cupy.RawModule(code=source)
            _modules[cache_key] = mod
    return mod


def _function(device_id, plan, kind, dtype):
    dtype_name = np.dtype(dtype).name
    if plan.kind == "builtin":
        key, name = plan.op, builtin_entry_name(kind, plan.op, dtype_name)
    else:
        key, name = plan.source.key, plan.source.entry_name(kind, dtype_name)
    fkey = (device_id, key, name)
    with _lock:
        fn = _functions.get(fkey)
        if fn is None:
            source = (builtin_module_source(plan.op) if plan.kind == "builtin"
                      else plan.source.source)
            mod = _module(device_id, key, source)
            cupy = _cupy()
            with cupy.cuda.Device(device_id):
                fn = mod.get_function(name)
            _functions[fkey] = fn
    return fn


def _sm_count(device_id):
    if device_id not in _sm_counts:
        cupy = _cupy()
        _sm_counts[device_id] = int(
            cupy.cuda.Device(device_id).attributes["MultiProcessorCount"])
    return _sm_counts[device_id]


def _elementwise_grid(n, itemsize, device_id):
    # each thread moves _PACKS_PER_THREAD 16-byte packs per step
    per_block = BLOCK_SIZE * (16 // itemsize) * _PACKS_PER_THREAD[itemsize]
    return max(1, min(math.ceil(n / per_block), _BLOCKS_PER_SM_ELEMENTWISE * _sm_count(device_id)))


def _reduction_grid(n, device_id, blocks):
    if blocks is not None:
        blocks = check_int(blocks, "blocks")
        if blocks > MAX_BLOCKS:
            raise ValueError(f"blocks must be an integer in [1, {MAX_BLOCKS}] (CUDA's grid "
                             f"limit); got {blocks}")
        return blocks
    return max(1, min(math.ceil(n / BLOCK_SIZE), _BLOCKS_PER_SM_REDUCTION * _sm_count(device_id)))


def _check_array(cupy, a, name):
    if not isinstance(a, cupy.ndarray):
        raise ValueError(f"{name} must be a cupy.ndarray on a CUDA device; got "
                         f"{type(a).__module__}.{type(a).__name__} (use act.f / act.df for "
                         "NumPy arrays)")
    if a.dtype not in (np.float32, np.float64):
        raise ValueError(f"{name} must have dtype float32 or float64; got {a.dtype}")
    if not (a.flags.c_contiguous or a.flags.f_contiguous):
        raise ValueError(f"{name} must be contiguous (C or Fortran order); pass "
                         f"cupy.ascontiguousarray({name})")


def _check_like(cupy, a, name, x):
    _check_array(cupy, a, name)
    if a.shape != x.shape or a.dtype != x.dtype:
        raise ValueError(f"{name} must have x's shape {x.shape} and dtype {x.dtype}; got "
                         f"{a.shape} {a.dtype}")
    same_layout = ((a.flags.c_contiguous and x.flags.c_contiguous)
                   or (a.flags.f_contiguous and x.flags.f_contiguous))
    if not same_layout:
        raise ValueError(f"{name} must have x's memory layout (both C- or both Fortran-ordered)")
    if a.device.id != x.device.id:
        raise ValueError(f"{name} is on device {a.device.id} but x is on device {x.device.id}")


def _overlaps(a, b):
    a0, b0 = a.data.ptr, b.data.ptr
    return a0 < b0 + b.nbytes and b0 < a0 + a.nbytes


def _output(cupy, out, x, inputs):
    if out is None:
        return cupy.empty_like(x)
    _check_like(cupy, out, "out", x)
    for name, a in inputs:
        if _overlaps(out, a) and not (out.data.ptr == a.data.ptr and out.nbytes == a.nbytes):
            raise ValueError(f"out partially overlaps {name}; it may be {name} itself "
                             "(in place) or a separate array")
    return out


def _accumulator(cupy, lambda_out, x):
    if lambda_out is None:
        return cupy.empty((), dtype=np.float64)
    if (not isinstance(lambda_out, cupy.ndarray) or lambda_out.shape != ()
            or lambda_out.dtype != np.float64):
        raise ValueError("lambda_out must be a 0-d float64 cupy.ndarray; got "
                         f"{getattr(lambda_out, 'shape', None)} "
                         f"{getattr(lambda_out, 'dtype', type(lambda_out).__name__)}")
    if lambda_out.device.id != x.device.id:
        raise ValueError(f"lambda_out is on device {lambda_out.device.id} but x is on device "
                         f"{x.device.id}")
    return lambda_out


def _scalars(dtype, values):
    t = np.dtype(dtype).type
    return tuple(t(v) for v in values)


def _prepare(act, x, extra=()):
    plan = kernel_plan(act)  # ValueError for an activation without template, GPU or not
    cupy = _cupy()
    _check_array(cupy, x, "x")
    for name, a in extra:
        _check_like(cupy, a, name, x)
    return cupy, plan


def _launch(plan, kind, x, arrays, tail):
    device_id = x.device.id
    n = x.size
    fn = _function(device_id, plan, kind, x.dtype)
    grid = _elementwise_grid(n, x.itemsize, device_id)
    if plan.kind == "builtin":
        params = _scalars(x.dtype, plan.params + tail)
    else:
        params = _scalars(x.dtype, plan.params)
    fn((grid,), (BLOCK_SIZE,), (*arrays, np.int64(n), *params))


def activation_forward(act, x, out=None):
    """Evaluate ``f(x)`` on the GPU.

    Parameters
    ----------
    act : Activation or str
        Built-in name or activation (with a SymPy template).
    x : cupy.ndarray
        float32 or float64, contiguous (C or Fortran order).
    out : cupy.ndarray, optional
        Same shape, dtype, layout and device as ``x``; may be ``x`` itself (in place).

    Returns
    -------
    cupy.ndarray
        ``out`` (or a new array) holding ``f(x)``.

    Raises
    ------
    ValueError
        Bad dtype, layout, shape or device; an activation without a template.
    ImportError
        If CuPy is not installed.
    """
    cupy, plan = _prepare(act, x)
    y = _output(cupy, out, x, [("x", x)])
    if x.size:
        with x.device:
            _launch(plan, "forward", x, (x, y), (plan.scale, plan.shift))
    return y


def activation_derivative(act, x, out=None):
    """Evaluate ``f'(x)`` on the GPU (one-sided from the left at kinks).

    Parameters
    ----------
    act : Activation or str
    x : cupy.ndarray
        float32 or float64, contiguous (C or Fortran order).
    out : cupy.ndarray, optional
        Same shape, dtype and device as ``x``; may be ``x`` itself.

    Returns
    -------
    cupy.ndarray
        ``f'(x)``.

    Raises
    ------
    ValueError
        As :func:`activation_forward`.
    """
    cupy, plan = _prepare(act, x)
    y = _output(cupy, out, x, [("x", x)])
    if x.size:
        with x.device:
            _launch(plan, "derivative", x, (x, y), (plan.scale,))
    return y


def activation_forward_derivative(act, x, out=None, dout=None):
    """Evaluate ``f(x)`` and ``f'(x)`` in one kernel (``x`` is read once).

    The forward step of a simulation or of training keeps ``f'(h)`` for the backward pass;
    this moves 3 instead of 4 arrays through memory.

    Parameters
    ----------
    act : Activation or str
    x : cupy.ndarray
        float32 or float64, contiguous (C or Fortran order).
    out, dout : cupy.ndarray, optional
        Where to write ``f(x)`` and ``f'(x)``: same shape, dtype and device as ``x``, not
        overlapping each other (either may be ``x`` itself).

    Returns
    -------
    y, dy : cupy.ndarray
        ``f(x)`` and ``f'(x)``.

    Raises
    ------
    ValueError
        As :func:`activation_forward`, or ``out`` and ``dout`` overlapping.
    """
    cupy, plan = _prepare(act, x)
    y = _output(cupy, out, x, [("x", x)])
    dy = _output(cupy, dout, x, [("x", x)])
    if x.size and _overlaps(y, dy):
        raise ValueError("out and dout overlap; they must be separate arrays")
    if x.size:
        with x.device:
            _launch(plan, "forward_derivative", x, (x, y, dy), (plan.scale, plan.shift))
    return y, dy


def activation_backward(act, x, grad_y, out=None):
    """Backward pass: ``grad_x = grad_y * f'(x)`` on the GPU, in one kernel.

    Parameters
    ----------
    act : Activation or str
    x : cupy.ndarray
        The forward input, float32 or float64, contiguous (C or Fortran order).
    grad_y : cupy.ndarray
        dL/dy, same shape, dtype, layout and device as ``x``.
    out : cupy.ndarray, optional
        Where to write dL/dx; may be ``x`` or ``grad_y`` itself.

    Returns
    -------
    cupy.ndarray
        dL/dx.

    Raises
    ------
    ValueError
        As :func:`activation_forward`, or ``grad_y`` not matching ``x``.
    """
    cupy, plan = _prepare(act, x, [("grad_y", grad_y)])
    gx = _output(cupy, out, x, [("x", x), ("grad_y", grad_y)])
    if x.size:
        with x.device:
            _launch(plan, "backward", x, (x, grad_y, gx), (plan.scale,))
    return gx


def activation_backward_lambda(act, x, grad_y, out=None, *, blocks=None, lambda_out=None):
    """Backward pass with a trainable ``lam`` (SELU family): ``(dL/dx, dL/dlam)`` in one kernel.

    ``dL/dx = grad_y * f'(x)`` and ``dL/dlam = sum(grad_y * f(x) / lam)`` (for an affine
    version ``s * f + b``: ``sum(grad_y * s * f(x) / lam)``), computed without dividing by
    ``lam``. Each thread keeps a Kahan-compensated partial sum over its grid-stride share; the
    block reduces them with warp shuffles in double and adds its total to a float64 accumulator
    with one ``atomicAdd`` (Appendix B of "Rethinking the self-normalization").

    Parameters
    ----------
    act : Activation or str
        ``selu``, ``dselu``, ``sselu``, ``lselu`` or an affine version of one.
    x, grad_y : cupy.ndarray
        float32 or float64, contiguous, same shape, dtype, layout and device.
    out : cupy.ndarray, optional
        Where to write dL/dx; may be ``x`` or ``grad_y`` itself.
    blocks : int, optional
        Grid size of the reduction launch, in ``[1, MAX_BLOCKS]`` (default: 16 blocks per SM,
        at most one block per 256 elements).
    lambda_out : cupy.ndarray, optional
        A 0-d float64 array on ``x``'s device to hold dL/dlam: it is zeroed on the current
        stream and reused, so a training loop allocates its accumulator once. By default a
        new one is allocated.

    Returns
    -------
    grad_x : cupy.ndarray
        dL/dx.
    grad_lambda : cupy.ndarray
        0-d float64 array on the device holding dL/dlam (``lambda_out`` when given;
        ``float()`` it to synchronize).

    Raises
    ------
    ValueError
        For an activation outside the SELU family, ``blocks`` out of range, a bad
        ``lambda_out``, or as :func:`activation_backward`.
    """
    cupy, plan = _prepare(act, x, [("grad_y", grad_y)])
    if not plan.has_lambda:
        raise ValueError(f"act: {getattr(act, 'name', act)!r} has no lam of the SELU family; "
                         "activation_backward_lambda supports selu, dselu, sselu, lselu and "
                         "their affine versions")
    gx = _output(cupy, out, x, [("x", x), ("grad_y", grad_y)])
    n = x.size
    with x.device:
        grid = _reduction_grid(n, x.device.id, blocks)
        acc = _accumulator(cupy, lambda_out, x)
        acc.data.memset_async(0, acc.nbytes)  # on the current stream, before the launch
        if n:
            fn = _function(x.device.id, plan, "backward_lambda", x.dtype)
            params = _scalars(x.dtype, plan.params + (plan.scale,))
            fn((grid,), (BLOCK_SIZE,), (x, grad_y, gx, acc, np.int64(n), *params))
    return gx, acc

