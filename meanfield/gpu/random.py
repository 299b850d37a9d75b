"""Counter-based Gaussian draws on the GPU (Philox4x32-10, Box-Muller) for the CuPy backend.

The kernel ``mf_philox_normal_f64`` of ``meanfield/cuda/random.cu`` writes value ``i`` of a
stream as a pure function of ``(key, stream, i)``: block ``j = i // 2`` of the stream is
``Philox4x32-10(counter=(j, stream), key)`` (Salmon et al., "Parallel random numbers: as easy
as 1, 2, 3", SC'11), whose four words give two uniform doubles ``u1, u2`` with 53 random bits,
and ``z = sqrt(-2 log u1) (cos 2 pi u2, sin 2 pi u2)`` (Box and Muller 1958). The numbers do not
depend on the device, the launch configuration or the CuPy version.
:class:`meanfield.backends.PhiloxStream` keeps a stream's position between draws.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from meanfield.gpu import codegen

__all__ = ["philox_normal", "random_source"]

#: Largest stream number and position: the two 64-bit halves of the Philox counter.
_MAX_COUNTER_HALF = 2**64 - 1
#: Blocks per SM of the draw kernel's grid-stride launch.
_BLOCKS_PER_SM = 8

_draw_functions = {}  # device id -> the draw kernel


@functools.cache
def random_source():
    """The CUDA text of the random module: ``common.cu`` followed by ``random.cu``."""
    return codegen.read_cuda_source("common.cu") + "\n" + codegen.read_cuda_source("random.cu")


def philox_normal(n, key, stream, first=0):
    """``n`` i.i.d. N(0, 1) float64 values of one Philox stream, on the current device.

    Parameters
    ----------
    n : int
        How many values (``>= 0``).
    key : tuple of int
        Two 32-bit words.
    stream : int
        The stream number, ``0 <= stream < 2**64``.
    first : int
        The first Philox block to use (two values per block).

    Returns
    -------
    cupy.ndarray
        Shape ``(n,)``, float64: values ``2 first, ..., 2 first + n - 1`` of the stream.
    """
    from meanfield.gpu import kernels

    k0, k1 = (int(k) for k in key)
    if not (0 <= k0 < 2**32 and 0 <= k1 < 2**32):
        raise ValueError(f"key must be two 32-bit words; got {key!r}")
    if not 0 <= int(stream) <= _MAX_COUNTER_HALF:
        raise ValueError(f"stream must be in [0, 2**64 - 1]; got {stream}")
    nblocks = (int(n) + 1) // 2
    if int(n) < 0 or not 0 <= int(first) <= _MAX_COUNTER_HALF - nblocks:
        raise ValueError(f"n = {n} values from block {first} do not fit in a stream of 2**64 "
                         "blocks")
    cupy = kernels._cupy()
    out = cupy.empty(int(n), dtype=np.float64)
    if n == 0:
        return out
    device_id = out.device.id
    fn = _draw_functions.get(device_id)
    if fn is None:
        mod = kernels._module(device_id, "random", random_source())
        with cupy.cuda.Device(device_id):
            fn = _draw_functions[device_id] = mod.get_function("mf_philox_normal_f64")
    grid = max(1, min(math.ceil(nblocks / kernels.BLOCK_SIZE),
                      _BLOCKS_PER_SM * kernels._sm_count(device_id)))
    s = int(stream)
    fn((grid,), (kernels.BLOCK_SIZE,),
       (out, np.int64(n), np.uint64(first), np.uint32(s & 0xFFFFFFFF), np.uint32(s >> 32),
        np.uint32(k0), np.uint32(k1)))
    return out
