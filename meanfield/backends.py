"""Array backends for the simulators: one object hides the array module (after PyLops).

:func:`get_backend` returns a small object with everything the Monte-Carlo
simulator needs from an array library, so that :func:`meanfield.simulation.simulate`
is written once:

* ``xp``: the array module (NumPy or CuPy),
* ``rng(seed, stream)``: an independent random stream per ``(seed, stream)``,
* ``standard_normal``, ``gaussian``: Gaussian draws,
* ``haar_factors``, ``orthogonal``, ``apply_orthogonal``: Haar-uniform orthogonal matrices,
* ``matmul``, ``activation_forward``, ``activation_derivative``,
  ``activation_forward_derivative`` (both at once), ``histogram``,
* ``to_numpy``.

``"numpy"`` works everywhere. ``"cupy"`` runs on a CUDA GPU; CuPy is imported only
when that backend is asked for, and the activation and its derivative are evaluated
by the CUDA kernels of :mod:`meanfield.gpu.kernels`. ``"auto"`` picks ``"cupy"`` when
CuPy imports and a CUDA device answers, else ``"numpy"``.

Haar-uniform orthogonal matrices
--------------------------------
The QR factorization ``G = Q R`` of a matrix of i.i.d. ``N(0, 1)`` entries gives a
Haar-distributed ``Q`` only after the sign correction ``Q diag(sign(diag R))``
(Mezzadri 2007, "How to generate random matrices from the classical compact
groups", Notices AMS 54, 592): plain Householder QR fixes the signs of ``diag R``
and biases ``Q``. In Householder QR the working part of column ``k`` (rows
``k..n-1``, after the first ``k`` reflections) is, by the rotation invariance of the
Gaussian, a fresh ``N(0, I_{n-k})`` vector independent of the reflections before it
(Stewart 1980, SIAM J. Numer. Anal. 17, 403). The NumPy backend therefore draws those
``n (n + 1) / 2`` Gaussians directly and builds the reflectors in LAPACK's ``geqrf``
layout in ``O(n^2)`` operations: the result *is* the sign-corrected QR factor of a
Gaussian matrix, without the ``O(n^3)`` factorization. Products ``Q x`` and ``Q^T x``
then apply the reflectors (LAPACK ``ormqr``, ``4 n^2 b`` flops for ``b`` columns), and
:meth:`NumpyBackend.orthogonal` forms the dense matrix with ``orgqr`` when one is needed.

>>> import numpy as np
>>> be = get_backend("numpy")
>>> Q = be.orthogonal(be.rng(0, 1), 4)
>>> bool(np.allclose(Q.T @ Q, np.eye(4)))
True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

# check_int and check_seed live in meanfield._validation and are re-exported here (see __all__)
from meanfield._validation import check_int, check_positive_scalar, check_seed

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendUnavailableError",
    "CupyBackend",
    "HaarFactors",
    "NumpyBackend",
    "PhiloxStream",
    "available_backends",
    "check_dtype",
    "check_int",
    "check_seed",
    "get_backend",
]

#: Names accepted by :func:`get_backend`.
BACKENDS = ("auto", "numpy", "cupy")

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class BackendUnavailableError(ValueError):
    """The requested backend cannot run here (no CuPy, no CUDA device, no GPU kernels).

    A :class:`ValueError`, so that the command line reports it as a usage error.
    """


def check_dtype(dtype) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype, float32 or float64, or raise ValueError."""
    if dtype is None:  # np.dtype(None) is float64: refuse rather than guess
        raise ValueError("dtype must be 'float32' or 'float64'; got None")
    try:
        out = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}") from exc
    if out not in _DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
    return out


def _seed_sequence(seed, stream):
    """``SeedSequence`` of stream ``stream`` of ``seed``: stream 0 is ``PCG64(seed)`` itself."""
    if stream == 0:
        return np.random.SeedSequence(seed)
    return np.random.SeedSequence(seed, spawn_key=(stream,))


@dataclass(frozen=True)
class HaarFactors:
    """A Haar-uniform orthogonal matrix ``Q diag(signs)`` stored as Householder reflectors.

    Attributes
    ----------
    reflectors : ndarray, shape (n, n), Fortran order
        LAPACK ``geqrf`` layout: column ``k`` below the diagonal holds the reflector
        ``v_k`` (with ``v_k[k] = 1`` implicit); the diagonal holds ``R_kk``.
    tau : ndarray, shape (n,)
        Reflector scalars: ``H_k = I - tau_k v_k v_k^T``, ``Q = H_0 H_1 ... H_{n-1}``.
    signs : ndarray, shape (n,)
        ``sign(R_kk)``: the Haar matrix is ``Q diag(signs)`` (Mezzadri 2007).
    """

    reflectors: np.ndarray
    tau: np.ndarray
    signs: np.ndarray

    @property
    def n(self) -> int:
        return self.tau.shape[0]


class Backend:
    """Interface of an array backend; see :class:`NumpyBackend` for the reference version.

    Attributes
    ----------
    name : str
        ``"numpy"`` or ``"cupy"``.
    xp : module
        The array module.
    implicit_orthogonal : bool
        Whether :meth:`haar_factors` / :meth:`apply_orthogonal` are available (products with
        a Haar matrix in ``O(n^2)`` per column without forming it).
    """

    name = "abstract"
    xp = np
    implicit_orthogonal = False

    # -- random numbers -----------------------------------------------------------------------
    def rng(self, seed, stream=0):  # pragma: no cover - interface
        """Independent random generator for ``(seed, stream)``."""
        raise NotImplementedError

    def standard_normal(self, rng, shape, dtype="float64"):  # pragma: no cover - interface
        """Array of i.i.d. ``N(0, 1)`` entries, drawn in float64 and rounded to ``dtype``."""
        raise NotImplementedError

    def gaussian(self, rng, n, *, var=1.0, mean=0.0, dtype="float64"):
        """``n x n`` matrix with i.i.d. entries ``N(mean, var / n)`` (LeCun/Klambauer scaling).

        Drawn in float64 and rounded once to ``dtype``, so that float32 and float64 runs of
        the same seed use the same matrix up to rounding.
        """
        n = check_int(n, "n")
        dtype = check_dtype(dtype)
        z = self.standard_normal(rng, (n, n), "float64")
        z *= math.sqrt(check_positive_scalar(var, "var") / n)
        if mean:
            z += float(mean)
        return z.astype(dtype, copy=False)

    def orthogonal(self, rng, n, *, dtype="float64"):  # pragma: no cover - interface
        """Dense Haar-uniform ``n x n`` orthogonal matrix."""
        raise NotImplementedError

    def haar_factors(self, rng, n, *, dtype="float64"):
        """Haar-uniform orthogonal matrix as :class:`HaarFactors` (implicit backends only)."""
        raise NotImplementedError(f"backend {self.name!r} has no implicit orthogonal matrices")

    def apply_orthogonal(self, factors, x, *, transpose=False):
        """``Q diag(s) x`` (``diag(s) Q^T x`` with ``transpose=True``), ``x`` of shape (n, b)."""
        raise NotImplementedError(f"backend {self.name!r} has no implicit orthogonal matrices")

    # -- linear algebra and elementwise work ----------------------------------------------------
    def matmul(self, a, b):
        """Matrix product ``a @ b``."""
        return self.xp.matmul(a, b)

    def gram(self, x):
        """Gram matrix ``x^T x`` of the columns of ``x``."""
        return self.xp.matmul(x.T, x)

    def activation_forward(self, act, x):  # pragma: no cover - interface
        """``f(x)`` elementwise, same dtype as ``x``."""
        raise NotImplementedError

    def activation_derivative(self, act, x):  # pragma: no cover - interface
        """``f'(x)`` elementwise, same dtype as ``x``."""
        raise NotImplementedError

    def activation_forward_derivative(self, act, x):
        """``(f(x), f'(x))``, both of ``x``'s dtype; backends may fuse the two passes."""
        return self.activation_forward(act, x), self.activation_derivative(act, x)

    def histogram(self, x, bins):
        """``(counts, edges)`` of the entries of ``x`` (``numpy.histogram`` semantics)."""
        return self.xp.histogram(x, bins=bins)

    # -- transfers ------------------------------------------------------------------------------
    def asarray(self, a, dtype=None):
        """Array of this backend holding ``a``."""
        return self.xp.asarray(a, dtype=dtype)

    def to_numpy(self, a):
        """NumPy copy (or view) of a backend array."""
        return np.asarray(a)

    def synchronize(self):
        """Wait for queued device work (a no-op on the CPU)."""

    def describe(self) -> str:
        """One line naming the backend and its device, for provenance."""
        return self.name

    def available_memory(self):
        """Bytes free for the simulator's arrays on this backend's device, or None if unknown.

        :func:`~meanfield.simulation.simulate` refuses up front when its memory estimate exceeds
        this; None skips the check.
        """
        return None

    def __repr__(self):
        return f"<meanfield backend {self.name!r}>"


# ------------------------------------------------------------------------------------------------
# NumPy


@functools.lru_cache(maxsize=8)
def _tril_layout(n):
    """Offsets, lengths and flat Fortran indices of the lower triangle of an n x n matrix."""
    lengths = np.arange(n, 0, -1)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    # column k, rows k..n-1 sit at flat (Fortran) positions k*n + k .. k*n + n - 1
    starts = np.arange(n) * (n + 1)
    flat = np.arange(n * (n + 1) // 2) + np.repeat(starts - offsets, lengths)
    offsets.setflags(write=False)
    lengths.setflags(write=False)
    flat.setflags(write=False)
    return offsets, lengths, flat


def _lapack(name, dtype):
    from scipy.linalg import lapack

    return getattr(lapack, ("s" if np.dtype(dtype) == np.float32 else "d") + name)


@functools.lru_cache(maxsize=64)
def _ormqr_lwork(n, b, dtype_char, trans):
    func = _lapack("ormqr", np.dtype(dtype_char))
    a = np.zeros((n, n), dtype=dtype_char, order="F")
    c = np.zeros((n, b), dtype=dtype_char, order="F")
    _, work, info = func("L", trans, a, np.zeros(n, dtype=dtype_char), c, -1)
    return max(int(work[0]), 1, b * 64)


class NumpyBackend(Backend):
    """NumPy/SciPy on the CPU; every draw is reproducible bit for bit from its seed.

    Random streams: ``rng(seed, 0)`` is ``Generator(PCG64(seed))``; ``rng(seed, k)`` for
    ``k >= 1`` is ``Generator(PCG64(SeedSequence(seed, spawn_key=(k,))))``, NumPy's
    recommended independent child streams.
    """

    name = "numpy"
    xp = np
    implicit_orthogonal = True

    def rng(self, seed, stream=0):
        seed = check_seed(seed)
        stream = check_seed(stream, "stream")
        return np.random.Generator(np.random.PCG64(_seed_sequence(seed, stream)))

    def standard_normal(self, rng, shape, dtype="float64"):
        dtype = check_dtype(dtype)
        return rng.standard_normal(shape).astype(dtype, copy=False)

    def haar_factors(self, rng, n, *, dtype="float64"):
        """Householder reflectors of the sign-corrected QR factor of a Gaussian matrix.

        Column ``k`` of a Householder QR works on a fresh ``N(0, I_{n-k})`` vector ``w``
        (module docstring); LAPACK's ``dlarfg`` maps it to ``beta e_1`` with
        ``beta = -sign(w_0) |w|``, ``tau = (beta - w_0) / beta`` and
        ``v = w / (w_0 - beta)``; ``R_kk = beta`` (``tau = 0``, ``R_kk = w_0`` when the rest
        of ``w`` vanishes, as for the last column). Computed in float64, stored in ``dtype``.
        """
        n = check_int(n, "n")
        dtype = check_dtype(dtype)
        offsets, lengths, flat = _tril_layout(n)
        z = rng.standard_normal(n * (n + 1) // 2)
        alpha = z[offsets]
        total = np.add.reduceat(z * z, offsets)
        rest = np.maximum(total - alpha * alpha, 0.0)
        active = rest > 0
        beta = np.where(active, -np.copysign(np.sqrt(total), alpha), alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.where(active, (beta - alpha) / beta, 0.0)
            scale = np.where(active, 1.0 / (alpha - beta), 0.0)
        z *= np.repeat(scale, lengths)
        z[offsets] = beta
        refl = np.zeros((n, n), dtype=dtype, order="F")
        refl.reshape(-1, order="F")[flat] = z
        signs = np.where(beta < 0, -1.0, 1.0)
        return HaarFactors(refl, tau.astype(dtype), signs.astype(dtype))

    def apply_orthogonal(self, factors, x, *, transpose=False):
        x = np.asarray(x)
        vec = x.ndim == 1
        c = x[:, None] if vec else x
        n, b = c.shape
        if n != factors.n:
            raise ValueError(f"x has {n} rows; the orthogonal matrix is {factors.n} x {factors.n}")
        dtype = factors.reflectors.dtype
        func = _lapack("ormqr", dtype)
        trans = "T" if transpose else "N"
        lwork = _ormqr_lwork(n, b, dtype.char, trans)
        if transpose:
            c = np.array(c, dtype=dtype, order="F")  # a copy: LAPACK overwrites it
            out, _, info = func("L", "T", factors.reflectors, factors.tau, c, lwork,
                                overwrite_c=1)
            out *= factors.signs[:, None]
        else:
            c = np.asfortranarray(c * factors.signs[:, None], dtype=dtype)
            out, _, info = func("L", "N", factors.reflectors, factors.tau, c, lwork,
                                overwrite_c=1)
        if info != 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"LAPACK ormqr failed (info={info})")
        return out[:, 0] if vec else out

    def orthogonal(self, rng, n, *, dtype="float64"):
        """Dense Haar-uniform orthogonal matrix ``Q diag(sign(diag R))`` (``orgqr``)."""
        f = self.haar_factors(rng, n, dtype=dtype)
        return self.factors_to_dense(f)

    def factors_to_dense(self, factors):
        """Dense ``Q diag(signs)`` from :class:`HaarFactors` (LAPACK ``orgqr``)."""
        func = _lapack("orgqr", factors.reflectors.dtype)
        n = factors.n
        lwork = max(n * 64, 1)
        q, _, info = func(factors.reflectors, factors.tau, lwork)
        if info != 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"LAPACK orgqr failed (info={info})")
        q *= factors.signs[None, :]
        return q

    def matmul(self, a, b):
        """``a @ b`` through SciPy's BLAS ``gemm`` (2-D float arrays), else ``numpy.matmul``.

        SciPy's LAPACK (``ormqr``, ``orgqr``) and NumPy's ``matmul`` run in two separate
        OpenBLAS thread pools; interleaving them makes the idle pool's spinning threads
        compete with the busy one (measured: +12 ms per layer at n = 500, batch 64 on 2
        cores). Keeping every product of the simulator in SciPy's pool avoids that.
        """
        a, b = np.asarray(a), np.asarray(b)
        if a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype or a.dtype not in _DTYPES:
            return np.matmul(a, b)
        from scipy.linalg import blas

        gemm = blas.dgemm if a.dtype == np.float64 else blas.sgemm
        ta = int(not a.flags.f_contiguous and a.flags.c_contiguous)
        tb = int(not b.flags.f_contiguous and b.flags.c_contiguous)
        return gemm(1.0, a.T if ta else a, b.T if tb else b, trans_a=ta, trans_b=tb)

    def gram(self, x):
        """``x^T x`` through SciPy's BLAS (see :meth:`matmul`)."""
        return self.matmul(np.asarray(x).T, x)

    def activation_forward(self, act, x):
        return _same_dtype(act.f(x), x)

    def activation_derivative(self, act, x):
        return _same_dtype(act.df(x), x)

    def activation_forward_derivative(self, act, x):
        """``(f(x), f'(x))`` as two NumPy evaluations, bit-identical to the separate methods."""
        return _same_dtype(act.f(x), x), _same_dtype(act.df(x), x)

    def available_memory(self):
        """Host memory available to a new allocation (Linux ``MemAvailable``), or None."""
        try:
            with open("/proc/meminfo", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            return None
        return None

    def describe(self):
        import platform

        return f"numpy {np.__version__} on {platform.machine()} ({platform.processor() or 'cpu'})"


def _same_dtype(out, x):
    out = np.asarray(out)
    if out.shape != x.shape:
        out = np.broadcast_to(out, x.shape)
    return out.astype(x.dtype, copy=False)


# ------------------------------------------------------------------------------------------------
# CuPy


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


#: CUDA libraries the CuPy backend loads: CuPy's module name -> (library, what it does here,
#: PyPI wheel for CUDA 12, for CUDA 13).
CUDA_LIBRARIES = {
    "nvrtc": ("NVRTC", "compiles meanfield's kernels", "nvidia-cuda-nvrtc-cu12",
              "nvidia-cuda-nvrtc"),
    "cublas": ("cuBLAS", "matrix products", "nvidia-cublas-cu12", "nvidia-cublas"),
    "cusolver": ("cuSOLVER", "QR of orthogonal weights", "nvidia-cusolver-cu12",
                 "nvidia-cusolver"),
}


def _cuda_major(cupy):
    try:
        return int(cupy.cuda.runtime.runtimeGetVersion()) // 1000
    except Exception:  # pragma: no cover - CuPy's CUDA version not readable
        return 12


def _missing_libraries(cupy, libraries):
    """Sentences naming each CUDA library of ``libraries`` that does not load, and its wheel."""
    import importlib

    major = _cuda_major(cupy)
    missing = []
    for lib in libraries:
        try:
            mod = importlib.import_module(f"cupy_backends.cuda.libs.{lib}")
            mod.getVersion()  # loads the shared library where CuPy loads it lazily
        except Exception as exc:  # ImportError/OSError/RuntimeError from the loader
            name, job, wheel12, wheel13 = CUDA_LIBRARIES[lib]
            wheel = wheel13 if major >= 13 else wheel12
            missing.append(f"{name} ({job}; {type(exc).__name__}: {exc}; pip install {wheel})")
    return missing


def _import_cupy(libraries=tuple(CUDA_LIBRARIES)):
    """Import CuPy and check the CUDA libraries and the device it needs here.

    Raises :class:`BackendUnavailableError` naming everything that is missing: CuPy itself,
    each CUDA library of ``libraries`` that does not load (with the wheel that provides it;
    ``pip install 'cupy-cuda12x[ctk]'`` brings them all, or a CUDA toolkit on the library
    path), and a usable device (an NVIDIA driver and GPU).
    """
    try:
        import cupy
    except ImportError as exc:
        raise BackendUnavailableError(
            "backend 'cupy' needs CuPy (pip install 'meanfield[cuda12]' for a CUDA 12 driver, "
            f"'meanfield[cuda13]' for CUDA 13); it is not importable here ({exc}); use "
            "backend='numpy'") from exc
    problems = []
    missing = _missing_libraries(cupy, libraries)
    if missing:
        major = _cuda_major(cupy)
        problems.append(f"CUDA libraries missing: {'; '.join(missing)} (or all at once: "
                        f"pip install 'cupy-cuda{major}x[ctk]', or a CUDA {major} toolkit on "
                        "the library path)")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        problems.append(f"no usable CUDA device ({type(exc).__name__}: {exc}; an NVIDIA driver "
                        "and GPU are needed)")
    else:
        if count < 1:
            problems.append("no CUDA device found")
    if problems:
        raise BackendUnavailableError("backend 'cupy' cannot run here: " + "; ".join(problems)
                                      + "; use backend='numpy'")
    return cupy


# ------------------------------------------------------------------------------------------------
# registry

_INSTANCES: dict = {}


def get_backend(name="auto"):
    """Return the backend called ``name``.

    Parameters
    ----------
    name : {"auto", "numpy", "cupy"} or Backend
        ``"auto"`` returns the CuPy backend when CuPy imports, a CUDA device is usable and
        the CUDA activation kernels (:mod:`meanfield.gpu.kernels`) import; else NumPy.
        A :class:`Backend` instance is returned unchanged.

    Raises
    ------
    ValueError
        Unknown name; :class:`BackendUnavailableError` (a ValueError) when ``"cupy"`` is
        asked for and cannot run here.

    Examples
    --------
    >>> get_backend("numpy").name
    'numpy'
    """
    if isinstance(name, Backend):
        return name
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")
    key = name.lower()
    if key == "auto":
        if "auto" not in _INSTANCES:
            try:
                gpu = get_backend("cupy")
                gpu._kernel_functions()  # usable only with the CUDA activation kernels
                _INSTANCES["auto"] = gpu
            except BackendUnavailableError:
                _INSTANCES["auto"] = get_backend("numpy")
        return _INSTANCES["auto"]
    if key not in _INSTANCES:
        _INSTANCES[key] = NumpyBackend() if key == "numpy" else CupyBackend()
    return _INSTANCES[key]


def available_backends():
    """Names of the backends that can run here (``"numpy"`` always; ``"cupy"`` with a GPU)."""
    out = ["numpy"]
    try:
        get_backend("cupy")
    except BackendUnavailableError:
        pass
    else:
        out.append("cupy")
    return out
