"""``meanfield sweep``: run a grid of Monte-Carlo simulations on Dask from a TOML configuration.

Examples::

    meanfield sweep examples/lu_width.toml                         # local cluster, all cores
    meanfield sweep examples/lu_width.toml --workers 4 --out lu.zarr
    meanfield sweep study.toml --scheduler tcp://10.0.0.5:8786     # an existing Dask cluster

Rerunning the same command resumes: tasks already stored in the output are skipped.
"""

from __future__ import annotations

import sys
import time

from meanfield.commands import UsageError, print_json

__all__ = ["register", "run"]


def register(subparsers):
    """Add the ``sweep`` subcommand."""
    p = subparsers.add_parser(
        "sweep", help="run a grid of simulations on Dask (local cluster or a scheduler)",
        description="Run every combination of a TOML config's [grid] times n_seeds as "
                    "simulate() tasks on dask.distributed and store the results (Zarr or "
                    "netCDF, resumable). Needs: pip install 'meanfield[sweep]'.")
    p.add_argument("config", metavar="CONFIG.toml", help="sweep configuration ([sweep] and [grid])")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler (default: start a local cluster)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes of the local cluster (default: the usable cores)")
    p.add_argument("--out", metavar="PATH",
                   help="result store, *.zarr or *.nc (default: the config's out)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or cluster line")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(handler=run)
    return p


def run(args):
    """Run the sweep of ``args.config``; exit status 0, 1 if tasks failed, 2 on bad input."""
    from meanfield._files import check_writable, check_writable_dir
    from meanfield.sweeps import SweepError, read_config, sweep

    if args.scheduler is not None and args.workers is not None:
        raise UsageError("--workers sets up a local cluster; it cannot be combined with --scheduler")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1; got {args.workers}")
    if args.out is not None and not args.out.strip():
        raise UsageError("--out needs a path ending with .zarr or .nc")
    try:
        kwargs = read_config(args.config)
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    if args.out is not None:
        kwargs["out"] = args.out
    if not kwargs.get("out"):
        raise UsageError(f"{args.config}: no output: give --out PATH (.zarr or .nc) or out = "
                         "\"...\" in [sweep]")
    where = "--out" if args.out is not None else f"{args.config}: out"  # checked before the sweep
    if str(kwargs["out"]).lower().endswith(".nc"):
        check_writable(kwargs["out"], where)
    elif str(kwargs["out"]).lower().endswith(".zarr"):
        check_writable_dir(kwargs["out"], where)
    start = time.perf_counter()
    try:
        ds = sweep(**kwargs, client=args.scheduler, n_workers=args.workers,
                   progress=not args.no_progress)
        failures = []
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    except SweepError as exc:
        ds, failures = exc.dataset, exc.failures
        print(f"meanfield: error: {exc}; the other results are in {kwargs['out']}",
              file=sys.stderr)
    elapsed = time.perf_counter() - start
    summary = {"out": kwargs["out"], "dims": {k: int(v) for k, v in ds.sizes.items()},
               "tasks_computed": int(ds.attrs["tasks_computed"]),
               "tasks_reused": int(ds.attrs["tasks_reused"]), "failures": failures,
               "seconds": round(elapsed, 3)}
    if args.json:
        print_json(summary)
    else:
        shape = " x ".join(f"{k} {v}" for k, v in summary["dims"].items())
        print(f"wrote {summary['out']} ({shape}): {summary['tasks_computed']} tasks computed, "
              f"{summary['tasks_reused']} reused, {len(failures)} failed, {elapsed:.1f} s")
    return 1 if failures else 0
