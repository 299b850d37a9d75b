"""Benchmark of meanfield.sweep: tasks per second on a LocalCluster against a serial loop.

Workload: a grid of small ``simulate`` tasks (default 2 activations x 4 widths x 4 seeds = 32
tasks, depth 100, batch 8; seed 0 of each case also computes the theory, as in a sweep).

* **serial**: a plain Python loop in this process over the same tasks (the function a worker
  runs, :func:`meanfield.sweeps._tasks.run_task`, so both sides do identical work);
* **cluster**: ``meanfield.sweep(grid, client=client)`` on the ``distributed.LocalCluster``
  that ``sweep`` starts by itself (:func:`meanfield.sweeps._run.start_local_cluster`:
  ``--workers`` single-threaded worker processes, default the usable cores), started once
  before the timing (its start-up time is printed separately). The timing covers the whole
  call: checking the grid, submitting, gathering, building the ``xarray.Dataset``.

Both sides are warmed up once (imports, closed-form derivations cached per process), then
timed ``--repeats`` times; medians, minima and maxima are printed.

Targets (2-core machine): speed-up cluster/serial in tasks per second >= 1.7; scheduling
overhead per task <= 5 ms. The scheduling overhead is (b) ``wall / tasks`` of a sweep of
``--tiny-tasks`` near-empty tasks (depth 1, width 2: each well under a millisecond of compute),
i.e. the per-task cost of the machinery, printed beside plain Dask
(``client.gather(client.map(run_task, tasks))`` of the same tasks, one Dask task each) so that the
cost of Dask itself and what ``sweep`` does about it can be told apart: ``sweep`` sends tasks
estimated under 50 ms several to a Dask task (``meanfield/sweeps/_tasks.py``; each keeps its own
seed, result and error), so its overhead per (case, seed) is Dask's per-task cost divided by the
group size; the output says how many Dask tasks each grid became. Also printed, for information: (a) on the
main grid, ``(wall x workers - sum of the tasks' own seconds) / tasks``, all worker time not
spent in ``simulate``; besides the per-task overhead it holds the sweep's fixed start and end
latency (first task ~10-15 ms after the call, the last result gathered and the dataset built
~20 ms after the last task, measured with per-task timestamps) and the load imbalance of the
last tasks, spread over the grid's 32 tasks.

Run:  python benchmarks/bench_sweep.py [--repeats 5] [--workers 2]
Smoke: python benchmarks/bench_sweep.py --repeats 1 --depth 5 --tiny-tasks 32
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
from _timing import cpu_model

SPEEDUP_TARGET = 1.7
OVERHEAD_TARGET_MS = 5.0


def _tasks(grid, fixed, n_seeds):
    from meanfield.sweeps._plan import make_plan

    return list(make_plan(grid, fixed, n_seeds=n_seeds, seed=0, shared_seeds=True).tasks())


def _serial(tasks):
    from meanfield.sweeps._tasks import run_task

    start = time.perf_counter()
    for task in tasks:
        run_task(task)
    return time.perf_counter() - start


def _cluster(grid, fixed, n_seeds, client):
    import meanfield as mf

    start = time.perf_counter()
    ds = mf.sweep(grid, n_seeds=n_seeds, client=client, progress=False, **fixed)
    wall = time.perf_counter() - start
    assert bool(ds.done.all())
    return wall, float(ds.task_seconds.sum())


def _summary(values):
    return statistics.median(values), min(values), max(values)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--workers", type=int, default=None, help="default: the usable cores")
    p.add_argument("--depth", type=int, default=100)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--n-seeds", type=int, default=4)
    p.add_argument("--tiny-tasks", type=int, default=256)
    args = p.parse_args(argv)

    import dask
    import distributed

    import meanfield
    from meanfield.sweeps import BLAS_THREAD_ENV
    from meanfield.sweeps._run import start_local_cluster, usable_cores

    workers = args.workers or usable_cores()
    grid = {"activation": ["tanh", "relu"], "width": [96, 128, 160, 192]}
    fixed = {"depth": args.depth, "batch": args.batch, "backend": "numpy"}
    tasks = _tasks(grid, fixed, args.n_seeds)
    tiny_seeds = 4
    tiny_grid = {"weight_var": [1.0 + i / 1000 for i in range(max(1, args.tiny_tasks // tiny_seeds))]}
    tiny_fixed = {"activation": "relu", "depth": 1, "width": 2, "batch": 1, "backend": "numpy"}
    n_tiny = len(tiny_grid["weight_var"]) * tiny_seeds

    print("meanfield sweep benchmark")
    print(f"  meanfield {meanfield.__version__}, numpy {np.__version__}, dask {dask.__version__}, "
          f"distributed {distributed.__version__}, python {platform.python_version()}, "
          f"{platform.system()} {platform.machine()}")
    print(f"  CPU: {cpu_model()}, {os.cpu_count()} logical cores, {usable_cores()} usable; serial "
          f"loop BLAS threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
          f"workers: {BLAS_THREAD_ENV['OPENBLAS_NUM_THREADS']} thread each")
    try:
        load = os.getloadavg()
        print(f"  load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    except OSError:
        pass
    print(f"  grid: {grid} x {args.n_seeds} seeds = {len(tasks)} tasks, {fixed}; "
          f"{args.repeats} repeats (median [min, max])")
    print()

    start = time.perf_counter()
    cluster = start_local_cluster(workers, dashboard_address=None)  # the cluster sweep() starts
    client = distributed.Client(cluster)
    startup = time.perf_counter() - start
    try:
        _serial(tasks)  # warm-up: imports and cached closed forms in this process
        _cluster(grid, fixed, args.n_seeds, client)  # the same in the workers
        _cluster(tiny_grid, tiny_fixed, tiny_seeds, client)
        from meanfield.sweeps._tasks import run_task

        tiny_tasks = _tasks(tiny_grid, tiny_fixed, tiny_seeds)
        serial, wall, busy, tiny, plain = [], [], [], [], []
        for _ in range(args.repeats):
            serial.append(_serial(tasks))
            w, b = _cluster(grid, fixed, args.n_seeds, client)
            wall.append(w)
            busy.append(b)
            tiny.append(_cluster(tiny_grid, tiny_fixed, tiny_seeds, client)[0])
            start = time.perf_counter()  # Dask alone: the same tiny tasks, map + gather
            client.gather(client.map(run_task, tiny_tasks, pure=False))
            plain.append(time.perf_counter() - start)
    finally:
        client.close()
        cluster.close()

    n = len(tasks)
    s_med, s_min, s_max = _summary(serial)
    c_med, c_min, c_max = _summary(wall)
    speedups = [s / c for s, c in zip(serial, wall, strict=True)]
    overhead_a = [(w * workers - b) / n * 1e3 for w, b in zip(wall, busy, strict=True)]
    overhead_b = [t / n_tiny * 1e3 for t in tiny]
    print(f"local cluster start-up ({workers} workers): {startup:.2f} s (not in the timings below)")
    print(f"{'':<10} {'wall [s]':>26} {'tasks/s (median)':>18}")
    print(f"{'serial':<10} {s_med:>8.3f} [{s_min:.3f}, {s_max:.3f}]   {n / s_med:>14.2f}")
    print(f"{'cluster':<10} {c_med:>8.3f} [{c_min:.3f}, {c_max:.3f}]   {n / c_med:>14.2f}")
    sp = _summary(speedups)
    oa, ob = _summary(overhead_a), _summary(overhead_b)
    print(f"speed-up (cluster/serial tasks per second): {sp[0]:.2f} [{sp[1]:.2f}, {sp[2]:.2f}] "
          f"(target >= {SPEEDUP_TARGET})")
    print(f"scheduling overhead per task (b) {n_tiny} near-empty tasks, wall/task: {ob[0]:.2f} ms "
          f"[{ob[1]:.2f}, {ob[2]:.2f}] (target <= {OVERHEAD_TARGET_MS} ms)")
    print(f"  (a) worker time not in simulate on the main grid, per task: {oa[0]:.2f} ms [{oa[1]:.2f}, "
          f"{oa[2]:.2f}] (for information: with the fixed start/end latency and the last tasks' imbalance)")
    from meanfield.sweeps._tasks import estimated_seconds, group_tasks

    n_groups = len(group_tasks(sorted(tiny_tasks, key=estimated_seconds, reverse=True), workers))
    n_main = len(group_tasks(sorted(tasks, key=estimated_seconds, reverse=True), workers))
    print(f"  sweep ran the {n_tiny} near-empty tasks as {n_groups} Dask tasks (tasks estimated under "
          f"50 ms travel together) and the main grid's {n} as {n_main}")
    pb = _summary([t / n_tiny * 1e3 for t in plain])
    print(f"  baseline: plain Dask client.map + gather of the same near-empty tasks, one Dask task each: "
          f"{pb[0]:.2f} ms [{pb[1]:.2f}, {pb[2]:.2f}] per task; sweep / plain Dask = {ob[0] / pb[0]:.2f}")
    ok = sp[0] >= SPEEDUP_TARGET and ob[0] <= OVERHEAD_TARGET_MS
    print(f"{'OK' if ok else 'MISSED'}: speed-up {sp[0]:.2f} >= {SPEEDUP_TARGET}, scheduling overhead "
          f"{ob[0]:.2f} ms <= {OVERHEAD_TARGET_MS} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
