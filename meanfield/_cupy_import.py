"""Importing CuPy with a diagnosis: which CUDA library or device is missing, and the wheel that brings it.

Shared by the CuPy backend (:mod:`meanfield._backend_cupy`) and the CUDA kernels
(:mod:`meanfield.gpu.kernels`), neither of which imports the other at module level.
"""

from __future__ import annotations

from meanfield._backend_base import BackendUnavailableError

__all__ = ["CUDA_LIBRARIES", "_import_cupy"]


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
