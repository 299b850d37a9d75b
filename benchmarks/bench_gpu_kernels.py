"""Latency of meanfield's CUDA activation kernels on the paper's [512, 64, 56, 56] tensor.

Appendix B of "Rethinking the self-normalization" times its lSELU/sSELU kernels against
PyTorch's native SELU on a [512, 64, 56, 56] float32 feature map. This script times, with CUDA
events (warm-up, then the median of many repetitions), each operation two ways:

* per call: one launch between two events, so the Python work before the launch (argument
  checks, the kernel lookup) counts as kernel time when the GPU waits for it;
* back to back: ``--batch`` (k) launches between one event pair, divided by k: the host queues
  launch i+1 while the GPU runs launch i, so this is the kernel's own time. The bandwidths and
  the targets use this one; the difference between the two columns is the host overhead.

The operations:

* a device-to-device copy of the same bytes (``cudaMemcpyAsync``): the bandwidth ceiling;
* ``torch.nn.functional.selu`` forward and its backward kernel (``aten::elu_backward``, what
  autograd runs for SELU), when PyTorch with CUDA is installed;
* meanfield's SELU, sSELU and lSELU forward, backward (dL/dx), fused backward with trainable
  lambda (dL/dx and dL/dlambda in one kernel) and fused forward-and-derivative.

Effective bandwidth = bytes that must move / time: forward 2 arrays (read x, write y),
backward 3 (read x and dL/dy, write dL/dx), forward-and-derivative 3. Targets: meanfield's
sSELU/lSELU no slower than torch's SELU, and >= 85% of the copy's bandwidth.

Run:  python benchmarks/bench_gpu_kernels.py [--reps 200] [--batch 20] [--out PATH]
Without CuPy or a CUDA device it prints why and exits with status 0, measuring nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np
from _gpu_common import (
    environment_lines,
    exit_without_gpu,
    gpu_or_reason,
    save_output,
    torch_or_reason,
)

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                           "bench_gpu_kernels.txt")
SHAPE = (512, 64, 56, 56)
# Representative sSELU/lSELU parameters (timings do not depend on them: both branches cost
# the same few instructions under a memory-bound loop).
SSELU = {"lam": 1.0360, "alpha": 1.7, "beta": 0.8}
LSELU = {"lam": 1.0362, "alpha": 1.6, "beta": 0.1}
TARGET_COPY_FRACTION = 0.85


def _timed(record_start, record_end, elapsed, sync, fn, reps, warmup, batch):
    """(per-call ms list, back-to-back ms-per-launch list) of ``fn`` on one stream."""
    for _ in range(warmup):
        fn()
    sync()
    single = []
    for _ in range(reps):
        record_start()
        fn()
        record_end()
        single.append(elapsed())
    batched = []
    for _ in range(max(5, reps // batch)):
        record_start()
        for _ in range(batch):
            fn()
        record_end()
        batched.append(elapsed() / batch)
    return single, batched


def time_cupy(cupy, fn, reps, warmup, batch):
    """Per-call and back-to-back milliseconds of ``fn`` on CuPy's current stream."""
    start, end = cupy.cuda.Event(), cupy.cuda.Event()

    def elapsed():
        end.synchronize()
        return cupy.cuda.get_elapsed_time(start, end)

    return _timed(start.record, end.record, elapsed,
                  cupy.cuda.get_current_stream().synchronize, fn, reps, warmup, batch)


def time_torch(torch, fn, reps, warmup, batch):
    """Per-call and back-to-back milliseconds of ``fn`` on PyTorch's current stream."""
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)

    def elapsed():
        end.synchronize()
        return start.elapsed_time(end)

    return _timed(start.record, end.record, elapsed, torch.cuda.synchronize, fn, reps, warmup,
                  batch)


def _row(name, times, nbytes, copy_bw):
    single, batched = times
    med1 = statistics.median(single)
    med = statistics.median(batched)
    q = np.percentile(batched, [10, 90])
    bw = nbytes / (med * 1e-3) / 1e9
    frac = f"{100 * bw / copy_bw:6.1f}%" if copy_bw else "     -"
    line = f"{name:44s} {med1:8.4f} {med:8.4f} {q[0]:8.4f} {q[1]:8.4f} {bw:9.1f} {frac}"
    return line, med, bw


def run(args, cupy):
    from meanfield import get_activation
    from meanfield.gpu import kernels

    torch, torch_reason = torch_or_reason()
    dtype = np.dtype(args.dtype)
    n = int(np.prod(SHAPE))
    nbytes = n * dtype.itemsize

    out = []
    emit = out.append
    emit("meanfield GPU activation kernels benchmark (benchmarks/bench_gpu_kernels.py)")
    out.extend(environment_lines(cupy, torch, torch_reason))
    emit(f"  tensor {list(SHAPE)} {dtype.name}: {n} elements, {nbytes / 1e6:.1f} MB per array; "
         f"{args.warmup} warm-up calls; per call: median of {args.reps} single launches; "
         f"back to back: median over {max(5, args.reps // args.batch)} runs of {args.batch} "
         "launches between one event pair (p10, p90 beside)")
    emit(f"  sSELU {SSELU}, lSELU {LSELU}")
    emit("")

    rng = cupy.random.default_rng(0)
    x = rng.standard_normal(n, dtype=dtype).reshape(SHAPE)
    g = rng.standard_normal(n, dtype=dtype).reshape(SHAPE)
    y = cupy.empty_like(x)
    dy = cupy.empty_like(x)
    gx = cupy.empty_like(x)

    acts = {"selu": get_activation("selu"), "sselu": get_activation("sselu", **SSELU),
            "lselu": get_activation("lselu", **LSELU)}
    # compile every module before timing
    for act in acts.values():
        kernels.activation_forward(act, x, out=y)
    kernels.activation_backward_lambda(acts["sselu"], x, g, out=gx)
    cupy.cuda.get_current_stream().synchronize()

    header = (f"{'kernel':44s} {'call ms':>8s} {'b2b ms':>8s} {'p10 ms':>8s} {'p90 ms':>8s} "
              f"{'GB/s':>9s} {'%copy':>7s}")
    emit(header)
    emit("-" * len(header))
    copy_t = time_cupy(cupy, lambda: y.data.copy_from_device_async(x.data, nbytes),
                       args.reps, args.warmup, args.batch)
    line, copy_ms, copy_bw = _row("device-to-device copy (cudaMemcpyAsync)", copy_t,
                                  2 * nbytes, None)
    emit(line)

    results = {}

    def add(label, key, fn, moved, timer="cupy"):
        t = (time_cupy(cupy, fn, args.reps, args.warmup, args.batch) if timer == "cupy"
             else time_torch(torch, fn, args.reps, args.warmup, args.batch))
        line, med, bw = _row(label, t, moved * nbytes, copy_bw)
        emit(line)
        results[key] = (med, bw)

    if torch is not None:
        xt = torch.from_dlpack(x)
        gt = torch.from_dlpack(g)
        fsel = torch.nn.functional.selu
        add("torch.nn.functional.selu forward", "torch_fwd", lambda: fsel(xt), 2, "torch")
        alpha, scale = 1.6732632423543772, 1.0507009873554805
        def bwd_aten():
            return torch.ops.aten.elu_backward(gt, alpha, scale, 1.0, False, xt)

        try:
            bwd_aten()
            bwd, label = bwd_aten, "torch selu backward (aten::elu_backward)"
        except Exception:  # other signature: time autograd's backward of one SELU
            xr = xt.detach().requires_grad_()
            yr = fsel(xr)

            def bwd():
                return torch.autograd.grad(yr, xr, gt, retain_graph=True)

            label = "torch selu backward (autograd.grad)"
        add(label, "torch_bwd", bwd, 3, "torch")
        diff = float(cupy.max(cupy.abs(kernels.activation_forward(acts["selu"], x, out=y)
                                       - cupy.from_dlpack(fsel(xt)))))
        emit(f"{'  (check: max |meanfield selu - torch selu| = ' + format(diff, '.3g') + ')'}")

    for key, act in acts.items():
        add(f"meanfield {key} forward", f"{key}_fwd",
            lambda act=act: kernels.activation_forward(act, x, out=y), 2)
    for key, act in acts.items():
        add(f"meanfield {key} backward (dL/dx)", f"{key}_bwd",
            lambda act=act: kernels.activation_backward(act, x, g, out=gx), 3)
    acc = cupy.zeros((), dtype=np.float64)  # one dL/dlambda accumulator, reused
    for key, act in acts.items():
        add(f"meanfield {key} backward + dL/dlambda", f"{key}_bwdlam",
            lambda act=act: kernels.activation_backward_lambda(act, x, g, out=gx,
                                                               lambda_out=acc), 3)
    for key in ("sselu", "lselu"):
        add(f"meanfield {key} forward + derivative (fused)", f"{key}_fwdder",
            lambda act=acts[key]: kernels.activation_forward_derivative(act, x, out=y, dout=dy),
            3)

    emit("")
    emit("targets")
    ok_all = True
    for key in ("sselu", "lselu"):
        for kind, torch_key in (("fwd", "torch_fwd"), ("bwdlam", "torch_bwd")):
            med, bw = results[f"{key}_{kind}"]
            frac = bw / copy_bw
            ok = frac >= TARGET_COPY_FRACTION
            ok_all &= ok
            msg = (f"  {key} {'forward' if kind == 'fwd' else 'backward+dlambda':17s} "
                   f"{100 * frac:5.1f}% of copy bandwidth (target >= "
                   f"{100 * TARGET_COPY_FRACTION:.0f}%): {'OK' if ok else 'MISSED'}")
            if torch_key in results:
                ratio = med / results[torch_key][0]
                ok_t = ratio <= 1.0
                ok_all &= ok_t
                msg += (f"; time / torch selu = {ratio:.3f} (target <= 1): "
                        f"{'OK' if ok_t else 'MISSED'}")
            emit(msg)
    emit(f"  all targets met: {ok_all}" + ("" if torch is not None else
                                           " (torch comparison not run)"))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="timed calls per kernel")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls first")
    parser.add_argument("--batch", type=int, default=20,
                        help="launches between one event pair in the back-to-back timing")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--out", default=DEFAULT_OUT, help="file for the raw output")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.warmup < 0 or args.batch < 1:
        parser.error("--reps and --batch must be >= 1 and --warmup >= 0")
    cupy, reason = gpu_or_reason()
    if cupy is None:
        return exit_without_gpu("bench_gpu_kernels", reason)
    save_output("bench_gpu_kernels.py", argv, run(args, cupy), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
