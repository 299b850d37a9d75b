"""Compile a CUDA module exactly as ``cupy.RawModule`` would, without a GPU (for CI checks).

CuPy compiles a ``RawModule(code=...)`` with NVRTC and these options, in this order:

1. ``cupy._core.core.assemble_cupy_compiler_options(())``: its include paths (CCCL, CuPy's
   headers, the CUDA toolkit's or the ``nvidia-*`` wheels' headers) and ``--std=c++17``;
2. ``-ftz=true``, appended by ``cupy.cuda.compiler._compile_with_cache_cuda`` (after the
   user's options, so it wins): float subnormals flush to zero;
3. ``-arch=sm_XX`` and ``--device-as-default-execution-space``, appended by
   ``cupy.cuda.compiler._compile_using_nvrtc_no_warning``.

:func:`cupy_nvrtc_options` rebuilds that list for a chosen architecture (CuPy reads it off
the device, which CI does not have) and :func:`compile_ptx` hands it to CuPy's own NVRTC
program object. NVRTC needs no device or driver: only ``libnvrtc`` (a CUDA toolkit, or the
``nvidia-cuda-nvrtc-cu12`` / ``nvidia-cuda-nvrtc`` wheel, which CuPy >= 14 finds by itself).
"""

from __future__ import annotations

import inspect

__all__ = ["cupy_nvrtc_options", "compile_ptx", "nvrtc_unavailable_reason"]

#: The options CuPy's compile path appends, and the function of cupy.cuda.compiler that does.
_APPENDED = (("-ftz=true", "_compile_with_cache_cuda"),
             ("--device-as-default-execution-space", "_compile_using_nvrtc_no_warning"))


def nvrtc_unavailable_reason():
    """``None`` if CuPy imports and NVRTC loads here, else a sentence saying what is missing."""
    try:
        import cupy  # noqa: F401
    except ImportError as exc:
        return f"CuPy is not installed ({exc}); pip install 'cupy-cuda12x>=14'"
    try:
        from cupy.cuda import compiler

        compiler._get_nvrtc_version()
    except Exception as exc:  # the library is missing: ImportError/OSError/RuntimeError
        return (f"CuPy imports but NVRTC does not load ({type(exc).__name__}: {exc}); "
                "pip install nvidia-cuda-nvrtc-cu12 (CUDA 12) or install a CUDA toolkit")
    return None


def cupy_nvrtc_options(arch="90"):
    """The NVRTC options of ``cupy.RawModule(code=...)`` on a device of compute capability ``arch``.

    Raises
    ------
    RuntimeError
        If this CuPy no longer appends the options listed in the module docstring (the list
        here must then be updated).
    """
    from cupy._core import core
    from cupy.cuda import compiler

    for option, where in _APPENDED:
        if option not in inspect.getsource(getattr(compiler, where)):
            raise RuntimeError(f"cupy.cuda.compiler.{where} no longer adds {option!r}; update "
                               "meanfield.gpu._compile to CuPy's compile path")
    options = tuple(core.assemble_cupy_compiler_options(()))
    return options + ("-ftz=true", f"-arch=sm_{arch}", "--device-as-default-execution-space")


def compile_ptx(source, arch="90", name="kern.cu"):
    """Compile ``source`` with CuPy's NVRTC program and options; return the PTX text.

    Raises
    ------
    cupy.cuda.compiler.CompileException
        With NVRTC's log, if the source does not compile.
    """
    from cupy.cuda import compiler

    prog = compiler._NVRTCProgram(source, name, method="ptx")
    ptx, _ = prog.compile(cupy_nvrtc_options(arch))
    return ptx.decode() if isinstance(ptx, bytes) else ptx
