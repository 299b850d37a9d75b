"""Plumbing shared by the GPU benchmarks: device detection, environment header, saving output."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys

__all__ = [
    "environment_lines",
    "exit_without_gpu",
    "gpu_or_reason",
    "nvidia_smi",
    "save_output",
    "torch_or_reason",
]


def gpu_or_reason():
    """``(cupy, None)`` when CuPy sees a CUDA device, else ``(None, reason)``.

    The check is the CuPy backend's (:func:`meanfield._cupy_import._import_cupy`).
    """
    from meanfield._cupy_import import BackendUnavailableError, _import_cupy

    try:
        return _import_cupy(), None
    except BackendUnavailableError as exc:  # no CuPy, no driver or no device
        return None, str(exc)


def torch_or_reason():
    """``(torch, None)`` when PyTorch sees a CUDA device, else ``(None, reason)``."""
    try:
        import torch
    except ImportError as exc:
        return None, f"PyTorch is not installed ({exc})"
    if not torch.cuda.is_available():
        return None, "PyTorch has no CUDA device"
    return torch, None


def environment_lines(cupy, torch=None, torch_reason=None):
    """Header lines of a GPU benchmark's raw output: date, ``nvidia-smi -L``, the current device,
    CuPy/CUDA/NVRTC, PyTorch, Python/NumPy versions and host CPUs."""
    import numpy as np

    dev = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    lines = [
        f"  date: {now}",
        f"  nvidia-smi -L: {nvidia_smi()}",
        f"  device {dev.id}: {name}, {props['multiProcessorCount']} SMs, "
        f"{props['totalGlobalMem'] / 2**30:.1f} GiB",
        f"  cupy {cupy.__version__}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, "
        f"driver {cupy.cuda.runtime.driverGetVersion()}, "
        f"NVRTC {_nvrtc_version()}",
        (f"  torch {torch.__version__} (CUDA {torch.version.cuda})" if torch is not None
         else f"  torch: not timed ({torch_reason})"),
        f"  python {platform.python_version()}, numpy {np.__version__}, host CPUs {os.cpu_count()}",
    ]
    return lines


def _nvrtc_version():
    """NVRTC's version as CuPy loads it (``cupy.cuda.nvrtc`` is gone in CuPy 14)."""
    try:
        from cupy.cuda import compiler

        return ".".join(map(str, compiler._get_nvrtc_version()))
    except Exception as exc:  # informational only
        return f"unknown ({type(exc).__name__}: {exc})"


def nvidia_smi():
    """The ``nvidia-smi -L`` line(s) naming the GPU, or why they could not be read."""
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or out.stderr.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"nvidia-smi -L failed: {exc}"


def exit_without_gpu(script, reason):
    """Say on stderr that nothing was measured; return exit status 0 (a CPU machine is not an error)."""
    print(f"{script}: no GPU to benchmark on: {reason}. Nothing measured.", file=sys.stderr)
    return 0


def save_output(script, argv, lines, path):
    """Print ``lines`` and write them, headed by the command line, to ``path``."""
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(f"# $ python benchmarks/{script} {' '.join(argv or sys.argv[1:])}\n")
        fh.write(text)
    print(f"(written to {path})")
