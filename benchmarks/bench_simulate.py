"""Benchmark of meanfield.simulation.simulate against its floor (Lu et al.'s L=200, n=500 setting).

The floor is the work no simulator of these nets can skip: per layer, the weight draw and
the products with ``W_l`` (forward for every layer, backward for l >= 2), done by the
same backend primitives that ``simulate`` uses, with nothing else around them. The
ratio ``simulate / floor`` measures what the simulator adds (activation and derivative,
the statistics, the Gram matrices for ``|dL/dW_l|_F``, Python overhead). Target: <= 1.3.

For context it also times the textbook floor: dense ``numpy.linalg.qr`` of a Gaussian
matrix with the sign correction and dense products.

Method: BLAS threads pinned (``--threads``, default 1: threadpoolctl if installed, else the
``*_NUM_THREADS`` variables in a subprocess; see ``_threads.py``); one warm-up; then ``--repeats``
(>= 5) rounds, each timing simulate and its floor back to back (interleaved, so slow drifts of
the machine hit both); the ratio of each round is reported with its spread (min, median, max),
and the target applies to the median ratio, not the best round.

Run:  python benchmarks/bench_simulate.py [--repeats 7] [--threads 1] [--batch 64]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys

import numpy as np
from _threads import pin_threads
from _timing import cpu_model, wall_times

from meanfield.backends import get_backend
from meanfield.simulation import simulate


def floor_orthogonal(depth, width, batch, seed=0):
    """Haar draws (reflectors) and the forward/backward products alone."""
    be = get_backend("numpy")
    x = np.asfortranarray(be.standard_normal(be.rng(seed, 0), (width, batch)))
    kept = []
    for layer in range(1, depth + 1):
        f = be.haar_factors(be.rng(seed, layer), width)
        kept.append(f)
        x = be.apply_orthogonal(f, x)
    d = x
    for layer in range(depth, 1, -1):
        d = be.apply_orthogonal(kept[layer - 1], d, transpose=True)


def floor_gaussian(depth, width, batch, seed=0):
    """Gaussian draws and the dense forward/backward products alone."""
    be = get_backend("numpy")
    x = be.standard_normal(be.rng(seed, 0), (width, batch))
    kept = []
    for layer in range(1, depth + 1):
        w = be.gaussian(be.rng(seed, layer), width)
        kept.append(w)
        x = be.matmul(w, x)
    d = x
    for layer in range(depth, 1, -1):
        d = be.matmul(kept[layer - 1].T, d)


def floor_dense_qr(depth, width, batch, seed=0):
    """The textbook way: dense QR of a Gaussian matrix, sign correction, dense products."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((width, batch))
    kept = []
    for _ in range(depth):
        q, r = np.linalg.qr(rng.standard_normal((width, width)))
        q *= np.where(np.diagonal(r) < 0, -1.0, 1.0)
        kept.append(q)
        x = q @ x
    d = x
    for layer in range(depth, 1, -1):
        d = kept[layer - 1].T @ d


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=200)
    p.add_argument("--width", type=int, default=500)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=7, help="timed rounds (>= 5)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    p.add_argument("--activation", default="selu")
    args = p.parse_args(argv)
    if args.repeats < 5:
        p.error("--repeats must be >= 5 (the spread over runs is part of the result)")
    how, status = pin_threads(args.threads, argv)
    if status is not None:
        return status
    L, n, b, r = args.depth, args.width, args.batch, args.repeats

    import meanfield

    print("meanfield simulate benchmark")
    print(f"  meanfield {meanfield.__version__}, numpy {np.__version__}, "
          f"python {platform.python_version()}, {platform.system()} {platform.machine()}")
    print(f"  CPU: {cpu_model()}, {os.cpu_count()} logical cores; BLAS threads {args.threads} ({how})")
    try:
        load = os.getloadavg()
        print(f"  load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    except OSError:
        pass
    print(f"  L={L}, n={n}, batch={b}, activation={args.activation}, backend numpy, float64, 1 net; "
          f"{r} interleaved rounds after one warm-up")
    print()

    simulate(args.activation, depth=2, width=n, batch=b, n_seeds=1, backend="numpy")  # warm-up
    rows = []
    for weights, floor in (("orthogonal", floor_orthogonal), ("gaussian", floor_gaussian)):
        floor(2, n, b)  # warm-up
        sim, base = [], []
        for _ in range(r):
            sim += wall_times(lambda w=weights: simulate(args.activation, depth=L, width=n, batch=b,
                                                         weights=w, n_seeds=1, backend="numpy"), 1)
            base += wall_times(lambda f=floor: f(L, n, b), 1)
        rows.append((weights, sim, base))
    dense = wall_times(lambda: floor_dense_qr(L, n, b), 2)

    print(f"{'weights':<11} {'simulate min/med/max [s]':>26} {'floor min/med/max [s]':>24} "
          f"{'ratio per round min/med/max':>29}")
    medians = []
    for weights, sim, base in rows:
        ratios = [a / c for a, c in zip(sim, base, strict=True)]
        medians.append(statistics.median(ratios))
        print(f"{weights:<11} {min(sim):>8.3f} {statistics.median(sim):>8.3f} {max(sim):>8.3f} "
              f"{min(base):>7.3f} {statistics.median(base):>7.3f} {max(base):>7.3f}   "
              f"{min(ratios):>8.3f} {statistics.median(ratios):>8.3f} {max(ratios):>8.3f}")
        print(f"{'':<11} rounds (simulate/floor): "
              + " ".join(f"{a:.3f}/{c:.3f}" for a, c in zip(sim, base, strict=True)))
    print()
    print(f"dense-QR floor (numpy.linalg.qr + sign fix + dense products), orthogonal: "
          f"min {min(dense):.3f} s = {min(dense) / statistics.median(rows[0][1]):.1f}x median "
          f"simulate(orthogonal)")
    worst = max(medians)
    target = 1.3
    print(f"worst median ratio {worst:.3f} (target <= {target} of the matmul + draw floor, on the median "
          f"round): {'OK' if worst <= target else 'MISSED'}")
    return 0 if worst <= target and math.isfinite(worst) else 1


if __name__ == "__main__":
    sys.exit(main())
