"""The CuPy backend: counter-based Philox streams, cuBLAS/cuSOLVER, the CUDA activation kernels.

CuPy is imported when the backend is created (:func:`meanfield._cupy_import._import_cupy`),
never at module import; the kernels of :mod:`meanfield.gpu.kernels` on first use.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from meanfield._backend_base import Backend, BackendUnavailableError, check_dtype
from meanfield._cupy_import import _import_cupy
from meanfield._validation import check_int, check_seed

__all__ = ["CupyBackend", "PhiloxStream"]


@functools.lru_cache(maxsize=256)
def _philox_key(seed):
    """The 64-bit Philox key of net ``seed``: two words of ``SeedSequence(seed)``."""
    k0, k1 = np.random.SeedSequence(seed).generate_state(2, dtype=np.uint32)
    return int(k0), int(k1)


@dataclass
class PhiloxStream:
    """One random stream of the CuPy backend: a Philox4x32-10 key, a stream number, a position.

    Value ``i`` of stream ``stream`` of a net is a pure function of ``(key, stream, i)``
    (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): ``key`` is derived
    once from the seed, ``stream`` is the layer (0 for the inputs), and :attr:`position` counts
    the Philox blocks (two Gaussians each) this stream has handed out, so consecutive draws
    continue the sequence. Creating one costs no device work and no generator state.

    Attributes
    ----------
    key : tuple of int
        Two 32-bit words from ``SeedSequence(seed).generate_state(2, uint32)``.
    stream : int
        The stream number, in ``[0, 2**63 - 1]``: the high 64 bits of the Philox counter.
    position : int
        Index of the next Philox block: the low 64 bits of the counter.
    """

    key: tuple
    stream: int
    position: int = 0


class CupyBackend(Backend):
    """CuPy on a CUDA GPU.

    Random streams are counter-based (:class:`PhiloxStream`): Philox4x32-10 keyed once per
    net from ``SeedSequence(seed)``, the stream (layer) number in the counter's high half,
    Gaussians by Box-Muller in float64 (kernel ``mf_philox_normal_f64`` of
    ``meanfield/cuda/random.cu``). A draw depends only on ``(seed, stream, position)``: the
    same on every device, launch configuration and CuPy version, and redrawing a layer's
    weights in the backward pass costs one kernel, no generator set-up (not the same numbers
    as NumPy's PCG64). Orthogonal matrices are the sign-corrected ``cupy.linalg.qr`` of a
    Gaussian matrix. ``f`` and ``f'`` run in the CUDA kernels of :mod:`meanfield.gpu.kernels`
    (``activation_forward(act, x)``, ``activation_derivative(act, x)`` and the fused
    ``activation_forward_derivative(act, x)``, which reads ``x`` once, on C-contiguous
    arrays; activations need a SymPy template there). An activation's NumPy callables cannot
    take device arrays, so without those kernels this backend raises
    :class:`BackendUnavailableError`.
    """

    name = "cupy"
    implicit_orthogonal = False

    def __init__(self):
        self.xp = _import_cupy()
        self._kernels = None

    def rng(self, seed, stream=0):
        seed = check_seed(seed)
        stream = check_seed(stream, "stream")
        return PhiloxStream(_philox_key(seed), stream)

    def standard_normal(self, rng, shape, dtype="float64"):
        dtype = check_dtype(dtype)
        if not isinstance(rng, PhiloxStream):
            raise ValueError(f"rng must come from this backend's rng(seed, stream); got "
                             f"{type(rng).__name__}")
        from meanfield.gpu.random import philox_normal

        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        n = math.prod(shape)
        z = philox_normal(n, rng.key, rng.stream, rng.position)
        rng.position += (n + 1) // 2
        return z.reshape(shape).astype(dtype, copy=False)

    def orthogonal(self, rng, n, *, dtype="float64"):
        n = check_int(n, "n")
        dtype = check_dtype(dtype)
        g = self.standard_normal(rng, (n, n), "float64")
        q, r = self.xp.linalg.qr(g)
        d = self.xp.diagonal(r)
        q *= self.xp.where(d < 0, -1.0, 1.0)[None, :]
        return q.astype(dtype, copy=False)

    def _kernel_functions(self):
        if self._kernels is None:
            try:
                from meanfield.gpu import kernels
            except ImportError as exc:
                raise BackendUnavailableError(
                    "backend 'cupy' needs the CUDA activation kernels of meanfield.gpu.kernels, "
                    f"which could not be imported ({exc}); an activation's NumPy callables "
                    "cannot evaluate device arrays: use backend='numpy'") from exc
            self._kernels = (kernels.activation_forward, kernels.activation_derivative,
                             kernels.activation_forward_derivative)
        return self._kernels

    def activation_forward(self, act, x):
        return self._kernel_functions()[0](act, self.xp.ascontiguousarray(x))

    def activation_derivative(self, act, x):
        return self._kernel_functions()[1](act, self.xp.ascontiguousarray(x))

    def activation_forward_derivative(self, act, x):
        """``(f(x), f'(x))`` in one CUDA kernel that reads ``x`` once."""
        return self._kernel_functions()[2](act, self.xp.ascontiguousarray(x))

    def to_numpy(self, a):
        return self.xp.asnumpy(a)

    def synchronize(self):
        """Wait for the work queued on CuPy's current stream (where every kernel here runs)."""
        self.xp.cuda.get_current_stream().synchronize()

    def describe(self):
        cp = self.xp
        dev = cp.cuda.Device()
        try:
            props = cp.cuda.runtime.getDeviceProperties(dev.id)
            gpu = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        except Exception:  # pragma: no cover - informational only
            gpu = f"device {dev.id}"
        return f"cupy {cp.__version__} on {gpu}"
