"""The backend interface (:class:`Backend`) and what every backend shares: dtypes, seeds, errors.

See :mod:`meanfield.backends` for the overview; :mod:`meanfield._backend_numpy` and
:mod:`meanfield._backend_cupy` implement it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from meanfield._validation import check_int, check_positive_scalar

__all__ = ["BACKENDS", "Backend", "BackendUnavailableError", "HaarFactors", "check_dtype"]

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
