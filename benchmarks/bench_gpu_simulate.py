"""Deep-net propagation on the GPU: meanfield.simulate(backend="cupy") vs NumPy vs PyTorch.

Lu et al.'s setting, L = 200 layers of width n = 500, here with a batch of 1024 inputs: the
forward pass ``h_l = W_l x_{l-1}, x_l = f(h_l)`` with Gaussian weights ``N(0, 1/n)`` and the
backward pass from the loss ``g . x_L``, recording the per-layer statistics. Timed:

* ``meanfield.simulate(..., backend="cupy")`` (activation, derivative in meanfield's CUDA
  kernels; products in cuBLAS through CuPy);
* ``meanfield.simulate(..., backend="numpy")`` on the host CPU;
* the same propagation written with PyTorch autograd on the same GPU (weights drawn on the
  device, ``retain_grad`` on every ``h_l``, the same statistics reduced on the device).

Each run is timed end to end (weights drawn, statistics copied to the host) with a device
synchronization before and after; one warm-up run first (kernel compilation, cuBLAS
handles). Target: the CuPy backend faster than PyTorch.

Run:  python benchmarks/bench_gpu_simulate.py [--activations selu,sselu] [--out PATH]
Without CuPy or a CUDA device it prints why and exits with status 0, measuring nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

from _gpu_common import (
    environment_lines,
    exit_without_gpu,
    gpu_or_reason,
    save_output,
    torch_or_reason,
)

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                           "bench_gpu_simulate.txt")
PARAMS = {"selu": {}, "sselu": {"lam": 1.0360, "alpha": 1.7, "beta": 0.8},
          "lselu": {"lam": 1.0362, "alpha": 1.6, "beta": 0.1}}


def torch_activation(torch, name, params):
    """The activation as PyTorch ops (autograd differentiates it)."""
    if name == "selu":
        return torch.nn.functional.selu
    lam, alpha, beta = params["lam"], params["alpha"], params["beta"]
    if name == "sselu":
        return lambda h: lam * torch.where(h > 0, h, alpha * torch.expm1(beta * h.clamp(max=0)))
    if name == "lselu":
        return lambda h: lam * torch.where(
            h > 0, h, alpha * torch.expm1(h.clamp(max=0)) + beta * h)
    raise ValueError(f"activation must be one of {sorted(PARAMS)}; got {name!r}")


def torch_simulate(torch, f, *, depth, width, batch, dtype, seed=0, weight_var=1.0,
                   device="cuda"):
    """Forward and backward of the net with autograd; returns the (5, depth) statistics."""
    dev = torch.device(device)
    tdt = getattr(torch, dtype)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    x = torch.randn(width, batch, generator=gen, device=dev, dtype=tdt)
    sd = math.sqrt(weight_var / width)
    ws, hs, xs = [], [], []
    for _ in range(depth):
        w = (torch.randn(width, width, generator=gen, device=dev, dtype=tdt) * sd)
        w.requires_grad_()
        h = w @ x
        h.retain_grad()
        x = f(h)
        ws.append(w)
        hs.append(h)
        xs.append(x)
    g = torch.randn(width, batch, generator=gen, device=dev, dtype=tdt)
    (g * x).sum().backward()
    with torch.no_grad():
        stats = torch.stack([
            torch.stack([(h * h).sum(0).mean() / width for h in hs]),
            torch.stack([x.mean() for x in xs]),
            torch.stack([(x * x).sum(0).mean() / width for x in xs]),
            torch.stack([(h.grad * h.grad).sum(0).mean() for h in hs]),
            torch.stack([torch.linalg.vector_norm(w.grad) for w in ws]),
        ])
        return stats.cpu().numpy()


def _time(fn, sync, repeats, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def run(args, cupy):
    from meanfield import get_activation, simulate

    torch, torch_reason = torch_or_reason()
    out = []
    emit = out.append
    emit("meanfield GPU simulate benchmark (benchmarks/bench_gpu_simulate.py)")
    out.extend(environment_lines(cupy, torch, torch_reason))
    emit(f"  L={args.depth}, n={args.width}, batch={args.batch}, gaussian weights, {args.dtype}; "
         f"median of {args.repeats} (GPU) / {args.numpy_repeats} (NumPy) runs after 1 warm-up")
    gemm = 3 * 2 * args.batch * args.width**2 * args.depth
    emit(f"  matrix products: {gemm / 1e9:.0f} GFLOP per run (forward 1, backward 2 per layer)")
    emit("")
    header = (f"{'activation':10s} {'implementation':30s} {'median s':>9s} {'min s':>9s} "
              f"{'vs torch':>9s}")
    emit(header)
    emit("-" * len(header))

    def sync_cupy():
        cupy.cuda.get_current_stream().synchronize()

    verdicts = []
    for act_name in args.activations:
        act = get_activation(act_name, **PARAMS[act_name])
        kw = dict(depth=args.depth, width=args.width, batch=args.batch, dtype=args.dtype, seed=0, n_seeds=1)
        t_cupy = _time(lambda act=act, kw=kw: simulate(act, backend="cupy", **kw), sync_cupy,
                       args.repeats, 1)
        t_torch = None
        if torch is not None:
            f = torch_activation(torch, act_name, PARAMS[act_name])
            t_torch = _time(lambda f=f: torch_simulate(torch, f, depth=args.depth,
                                                       width=args.width, batch=args.batch,
                                                       dtype=args.dtype),
                            torch.cuda.synchronize, args.repeats, 1)
        t_np = None
        if args.numpy_repeats:
            t_np = _time(lambda act=act, kw=kw: simulate(act, backend="numpy", **kw),
                         lambda: None,
                         args.numpy_repeats, 0)
        ref = statistics.median(t_torch) if t_torch else None
        rows = (("meanfield simulate, cupy", t_cupy), ("pytorch autograd, cuda", t_torch),
                ("meanfield simulate, numpy", t_np))
        for label, t in rows:
            if not t:
                continue
            med = statistics.median(t)
            rel = f"{med / ref:9.3f}" if ref else f"{'-':>9s}"
            emit(f"{act_name:10s} {label:30s} {med:9.4f} {min(t):9.4f} {rel}")
        if ref:
            ratio = statistics.median(t_cupy) / ref
            verdicts.append(f"  {act_name}: cupy / torch = {ratio:.3f} (target < 1): "
                            f"{'OK' if ratio < 1 else 'MISSED'}")
    emit("")
    emit("targets")
    out.extend(verdicts or [f"  torch comparison not run ({torch_reason})"])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=200)
    parser.add_argument("--width", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    parser.add_argument("--activations", default="selu,sselu",
                        help=f"comma-separated, from {sorted(PARAMS)}")
    parser.add_argument("--repeats", type=int, default=5, help="timed GPU runs")
    parser.add_argument("--numpy-repeats", type=int, default=1,
                        help="timed NumPy runs (0 skips NumPy)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="file for the raw output")
    args = parser.parse_args(argv)
    args.activations = [a.strip() for a in args.activations.split(",") if a.strip()]
    bad = [a for a in args.activations if a not in PARAMS]
    if bad:
        parser.error(f"--activations: unknown {bad}; choose from {sorted(PARAMS)}")
    if min(args.depth, args.width, args.batch, args.repeats) < 1 or args.numpy_repeats < 0:
        parser.error("--depth, --width, --batch, --repeats must be >= 1, --numpy-repeats >= 0")
    cupy, reason = gpu_or_reason()
    if cupy is None:
        return exit_without_gpu("bench_gpu_simulate", reason)
    save_output("bench_gpu_simulate.py", argv, run(args, cupy), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
