"""Pin the BLAS/OpenMP thread count of a CPU benchmark and say how it was pinned.

With threadpoolctl importable, :func:`pin_threads` limits every loaded BLAS/OpenMP pool in this
process. Without it, the thread count can only be set before the BLAS library loads, so the
benchmark re-runs itself in a subprocess with ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``,
``MKL_NUM_THREADS`` and ``BLIS_NUM_THREADS`` set (:func:`pin_threads` returns that subprocess's
exit status; the caller returns it at once).
"""

from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["THREAD_ENV_VARS", "pin_threads"]

#: Environment variables read by OpenBLAS, OpenMP, MKL and BLIS when they load.
THREAD_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

_MARK = "MEANFIELD_BENCH_THREADS_PINNED"


def pin_threads(threads, argv=None):
    """Limit BLAS to ``threads`` threads.

    Returns
    -------
    (description, exit_status)
        ``description`` says how the limit was set (for the benchmark's header); ``exit_status``
        is None when this process carries on with the limit in place, else the exit status of the
        subprocess that ran the benchmark with the limit (the caller should return it).
    """
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(limits=threads)
        pools = ", ".join(f"{p['internal_api']} {p.get('version')} x{p['num_threads']}" for p in threadpool_info())
        return f"threadpoolctl: {pools or 'no pools loaded yet'}", None
    if os.environ.get(_MARK) == str(threads):
        settings = ", ".join(f"{k}={os.environ.get(k)}" for k in THREAD_ENV_VARS)
        return f"environment (subprocess, threadpoolctl not installed): {settings}", None
    env = dict(os.environ, **{k: str(threads) for k in THREAD_ENV_VARS}, **{_MARK: str(threads)})
    args = sys.argv[1:] if argv is None else list(argv)
    return None, subprocess.call([sys.executable, sys.argv[0], *args], env=env)
