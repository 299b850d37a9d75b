"""The NumPy backend (the reference): PCG64 streams, Householder-form Haar matrices, LAPACK ormqr.

The construction of Haar-uniform orthogonal matrices is explained in :mod:`meanfield.backends`.
"""

from __future__ import annotations

import functools

import numpy as np

from meanfield._backend_base import _DTYPES, Backend, HaarFactors, _seed_sequence, check_dtype
from meanfield._validation import check_int, check_seed

__all__ = ["NumpyBackend"]


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
