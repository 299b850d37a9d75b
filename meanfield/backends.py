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

The modules: ``_backend_base.py`` (the interface), ``_backend_numpy.py``, ``_backend_cupy.py``
and ``_cupy_import.py``; this one picks among them.

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

from meanfield._backend_base import BACKENDS, Backend, BackendUnavailableError, HaarFactors, check_dtype
from meanfield._backend_cupy import CupyBackend, PhiloxStream
from meanfield._backend_numpy import NumpyBackend
from meanfield._cupy_import import CUDA_LIBRARIES

# check_int and check_seed live in meanfield._validation and are re-exported here (see __all__)
from meanfield._validation import check_int, check_seed

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendUnavailableError",
    "CUDA_LIBRARIES",
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
