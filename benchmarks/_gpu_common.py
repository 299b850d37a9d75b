"""Plumbing shared by the GPU benchmarks: device detection, nvidia-smi, saving the raw output."""

from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["gpu_or_reason", "nvidia_smi", "save_output", "exit_without_gpu"]


def gpu_or_reason():
    """``(cupy, None)`` when CuPy sees a CUDA device, else ``(None, reason)``."""
    try:
        import cupy
    except ImportError as exc:
        return None, f"CuPy is not installed ({exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver / no device
        return None, f"no usable CUDA device ({type(exc).__name__}: {exc})"
    if count < 1:
        return None, "no CUDA device"
    return cupy, None


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
