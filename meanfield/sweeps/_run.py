"""``sweep``: every (case, seed) of a grid as one ``simulate`` task on dask.distributed."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import uuid
import warnings

__all__ = ["BLAS_THREAD_ENV", "CHECKPOINT_SECONDS", "LOCAL_CLUSTER_CONFIG", "SweepError", "start_local_cluster",
           "sweep"]

#: seconds between checkpoints of ``out`` while results arrive (and one at the end)
CHECKPOINT_SECONDS = 2.0
#: seconds between gathers of finished results while tasks run (and one at the end)
GATHER_SECONDS = 0.5
#: environment of local worker processes: one BLAS/OpenMP thread each (one task per core)
BLAS_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "BLIS_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}
#: Dask configuration of the local cluster's workers (see :func:`start_local_cluster`)
LOCAL_CLUSTER_CONFIG = {"distributed.worker.profile.enabled": False}
#: seconds to wait for a local cluster to start or a scheduler to answer
CONNECT_TIMEOUT_S = 60


class SweepError(RuntimeError):
    """Some tasks of a sweep raised; the others' results are kept.

    Attributes
    ----------
    failures : list of dict
        One per failed task: ``case`` ({dim: value}), ``seed_index``, ``seed``, ``error``
        (the exception's type and message).
    dataset : xarray.Dataset
        Every finished task's results (``done`` is false for the failed ones); they are also
        in ``out`` when one was given.
    """

    def __init__(self, failures, dataset, total):
        self.failures = failures
        self.dataset = dataset
        first = failures[0]
        case = ", ".join(f"{k}={v!r}" for k, v in first["case"].items())
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(f"{len(failures)} of {total} sweep tasks failed; first: case {case}, "
                         f"seed {first['seed']}: {first['error']}{more}")


def sweep(grid, *, depth=None, width=None, n_seeds=1, activation=None, seed=0, shared_seeds=True,
          client=None, n_workers=None, out=None, progress=True, timeout=None, **simulate_kwargs):
    """Run ``simulate`` for every combination of ``grid`` and every seed, on dask.distributed.

    Each (case, seed) is one task ``simulate(act, seed=s, **case)`` (DESIGN.md, Sweeps). Tasks
    estimated under 50 ms of compute travel several to a Dask task (Dask costs milliseconds per
    task of its own), each keeping its own seed, result and error. Tasks run on a
    ``distributed.LocalCluster`` (one single-threaded worker process per core, BLAS pinned to
    one thread) unless ``client`` names a cluster, so a study that outgrows one machine runs
    unchanged on a cluster (see the docs' *Sweeps* page).

    Parameters
    ----------
    grid : dict
        Maps sweep keys to lists of values; the case dimensions, in this order. Keys are
        :func:`~meanfield.simulation.simulate`'s arguments (``depth``, ``width``, ``batch``,
        ``weights``, ``weight_var``, ``weight_mean``, ``dtype``, ``backend``, ...; whatever its
        signature has, minus the seed and histogram arguments; see :func:`sweep_keys`), plus
        ``activation`` and ``eps``. An activation travels to the workers as a *spec*, never as
        a pickled function: a built-in name (``"tanh"``; ``"tanh-gpn"`` for its GPN version
        ``a f + b``, Lu et al.), a dict ``{"name": "lrelu", "params": {"slope": 0.2},
        "gpn": False, "label": "..."}``, a dict ``{"expression": "x*erf(x)", "params": {},
        "gpn": False, "label": "..."}`` (SymPy text in ``x``, parsed without executing code),
        or an :class:`~meanfield.activations.Activation` that is a built-in or a GPN version of
        one. With ``eps`` the activations name solver families (``"dselu"``, ``"sselu"``,
        ``"lselu"``, or ``{"name": "sselu", "centralized": True, "lam_min": 1.0}``) and each
        case uses ``meanfield.solve(family, eps, ...).activation``, solved before any task
        starts.
    depth, width : int, optional
        Fixed depth and width, unless they are grid keys.
    n_seeds : int
        Independent nets per case (the ``seed`` dimension).
    activation : str, dict or Activation, optional
        Fixed activation spec, unless ``activation`` is a grid key.
    seed : int
        Base seed. With ``shared_seeds`` net ``s`` of every case has seed ``seed + s``
        (common random numbers: cases that differ only in activation or depth share their
        weights, so their difference is not masked by seed noise). Otherwise each (case, s)
        gets its own seed, hashed from ``seed``, the case and ``s``. Every task's seed is in
        the ``net_seed`` variable; ``simulate(act, seed=net_seed, **case)`` reproduces it
        bit for bit.
    shared_seeds : bool
    client : distributed.Client, str or None
        ``None``: start a LocalCluster of ``n_workers`` processes (default: the usable cores)
        and shut it down afterwards, printing its dashboard address when ``progress``. A
        ``Client`` (or a ``Cluster``) is used as is; a string is a scheduler address
        (``"tcp://host:8786"``) to connect to.
    n_workers : int, optional
        Workers of the local cluster (only with ``client=None``).
    out : str or path, optional
        ``*.zarr`` or ``*.nc``: results are checkpointed as tasks finish (at most
        :data:`CHECKPOINT_SECONDS` apart) and a later run with the same ``out`` and the same
        sweep skips the tasks already stored (resume after a crash or Ctrl-C). A different
        sweep in an existing ``out`` is refused.
    progress : bool
        A tqdm progress bar over tasks on stderr and a line about the cluster.
    timeout : float, optional
        Seconds to wait for all tasks; then the stored results are checkpointed and
        ``TimeoutError`` is raised.
    **simulate_kwargs
        Fixed arguments of every ``simulate`` call (``batch=16``, ``weights="orthogonal"``, ...).

    Returns
    -------
    xarray.Dataset
        Dimensions (grid keys..., ``seed``, ``layer``): every :data:`~meanfield.trace.RECORDS`
        statistic over (grid keys..., seed, layer), ``theory_<field>`` for every
        :class:`~meanfield.trace_theory.TraceTheory` field over (grid keys..., layer), ``net_seed``,
        ``task_seconds`` and ``done`` over (grid keys..., seed). Cases shallower than the
        deepest are NaN beyond their depth. Attributes: the sweep's configuration
        (``sweep_config``, ``grid``, ``fixed``, ``activations``, ``solutions``), the seeds'
        rule and the versions of meanfield, NumPy, xarray and Dask; ``tasks_computed`` and
        ``tasks_reused`` count this run's work.

    Raises
    ------
    ValueError
        A bad configuration, before any task starts; the message names the key.
    SweepError
        Some tasks raised (e.g. ``weight_var=-1`` at one grid point): raised after all other
        tasks finished, with every failed case and the partial dataset.
    ImportError
        dask.distributed, xarray or zarr is missing (``pip install 'meanfield[sweep]'``).

    Examples
    --------
    >>> import meanfield as mf
    >>> ds = mf.sweep({"activation": ["tanh", "tanh-gpn"], "width": [16, 32]},
    ...               depth=5, n_seeds=2, n_workers=2, progress=False)   # doctest: +SKIP
    >>> ds.q.dims                                                        # doctest: +SKIP
    ('activation', 'width', 'seed', 'layer')
    """
    from meanfield.sweeps._plan import make_plan

    fixed = {k: v for k, v in {"depth": depth, "width": width, "activation": activation}.items()
             if v is not None}
    fixed.update(simulate_kwargs)
    plan = make_plan(grid, fixed, n_seeds=n_seeds, seed=seed, shared_seeds=shared_seeds)
    if client is not None and n_workers is not None:
        raise ValueError("n_workers applies to the local cluster only (client=None)")
    if n_workers is not None:
        from meanfield._validation import check_int

        n_workers = check_int(n_workers, "n_workers")
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True or False; got {progress!r}")
    if timeout is not None:
        from meanfield._validation import check_positive_scalar

        timeout = check_positive_scalar(timeout, "timeout")
    _require_dependencies()

    from meanfield.sweeps._store import Results, open_store

    results = Results(plan)
    store = open_store(out, results)
    todo = [t for t in plan.tasks() if not results.is_done(t)]
    n_total = plan.n_cases * plan.n_seeds
    failures = []
    if todo:
        with _connect(client, n_workers, progress) as dask_client:
            failures = _run_tasks(dask_client, plan, todo, results, store, progress, timeout,
                                  n_total)
    elif store is not None and progress:
        print(f"meanfield sweep: all {n_total} tasks are already in {out}", file=sys.stderr)
    for case, message in sorted(results.theory_errors.items()):
        from meanfield.errors import NumericalWarning

        warnings.warn(f"no mean-field prediction for case {plan.describe_case(case)}: {message}",
                      NumericalWarning, stacklevel=2)
    ds = results.to_dataset()
    ds.attrs["tasks_computed"] = len(todo) - len(failures)
    ds.attrs["tasks_reused"] = n_total - len(todo)
    if failures:
        raise SweepError(failures, ds, n_total)
    return ds


def _require_dependencies():
    missing = []
    for module in ("distributed", "xarray"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ImportError(f"meanfield.sweep needs {' and '.join(missing)}: "
                          "pip install 'meanfield[sweep]' (dask[distributed], xarray, zarr)")


def usable_cores():
    """Cores this process may run on (the default number of local workers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def _connect(client, n_workers, progress):
    """Yield a ``distributed.Client``; close what this function opened."""
    from distributed import Client

    if isinstance(client, Client):
        yield client
        return
    if isinstance(client, str):
        if not client.strip():
            raise ValueError("client must be a scheduler address like 'tcp://host:8786'; got ''")
        try:
            dask_client = Client(client, timeout=CONNECT_TIMEOUT_S)
        except OSError as exc:
            raise ValueError(f"cannot reach the Dask scheduler at {client!r}: {exc}") from None
        with dask_client:
            if progress:
                print(f"meanfield sweep: Dask scheduler {client}, "
                      f"{len(dask_client.scheduler_info()['workers'])} workers", file=sys.stderr)
            yield dask_client
        return
    if client is not None:
        if hasattr(client, "scheduler_address"):  # a Cluster object
            with Client(client, timeout=CONNECT_TIMEOUT_S) as dask_client:
                yield dask_client
            return
        raise ValueError(f"client must be None, a distributed.Client, a Cluster or a scheduler "
                         f"address; got {client!r}")
    n = n_workers or usable_cores()
    cluster = start_local_cluster(n)
    try:
        with Client(cluster, timeout=CONNECT_TIMEOUT_S) as dask_client:
            if progress:
                print(f"meanfield sweep: local Dask cluster, {n} worker processes x 1 thread; "
                      f"dashboard: {_dashboard(cluster)}", file=sys.stderr)
            yield dask_client
    finally:
        cluster.close(timeout=CONNECT_TIMEOUT_S)


def start_local_cluster(n_workers, dashboard_address="127.0.0.1:8787"):
    """The local cluster of a sweep: ``n_workers`` single-threaded processes on loopback.

    BLAS is pinned to one thread per worker (:data:`BLAS_THREAD_ENV`). The scheduler keeps its
    default queuing (``worker-saturation`` 1.1): a worker takes the next task when it finishes
    one, so tasks of unequal cost balance themselves (measured on 2 cores, 32 tasks of 60-150
    ms: median wall 1.54 s against 1.76 s with every task assigned up front, ``inf``).

    The workers' statistical profiler is off (:data:`LOCAL_CLUSTER_CONFIG`): it samples every
    thread's stack every 10 ms under the GIL, and took 5-10 % of the tasks' own time in
    simulate's per-layer Python (measured on 2 cores: the 32 tasks' summed seconds 2.79 against
    2.94 s, 3.22 against 3.55 s, in alternating runs). Bring your own cluster to profile tasks on
    the dashboard.
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set(LOCAL_CLUSTER_CONFIG):  # the nannies hand it to every worker they start
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                            dashboard_address=dashboard_address, silence_logs=logging.ERROR,
                            env=dict(BLAS_THREAD_ENV))


def _dashboard(cluster):
    try:
        import bokeh  # noqa: F401  (the dashboard needs it)
    except ImportError:
        return "not running (pip install bokeh)"
    return cluster.dashboard_link


def _run_tasks(client, plan, todo, results, store, progress, timeout, n_total):
    """Submit ``todo``, store results as they arrive, checkpoint; return the failures."""
    from distributed import as_completed

    from meanfield.sweeps._tasks import estimated_seconds, failed_outcome, group_tasks, run_group

    bar = _progress_bar(progress, len(todo), n_total)
    token = plan.token
    # largest first (longest-processing-time order): the last tasks to start are the short
    # ones, so the workers finish together instead of one waiting on another's big task
    todo = sorted(todo, key=estimated_seconds, reverse=True)
    # tiny tasks travel several to a Dask task (meanfield.sweeps._tasks): Dask's own cost per task
    groups = group_tasks(todo, _worker_threads(client))
    # a fresh name per call: keys of an earlier sweep of the same plan may still be held by the
    # scheduler (releases are asynchronous), and a reused key would hand back its old result
    run = uuid.uuid4().hex[:12]
    futures = client.map(run_group, groups, key=[f"meanfield-sweep-{token}-{run}-{i}" for i in range(len(groups))],
                         pure=False, retries=0)
    group_of = {f.key: g for f, g in zip(futures, groups, strict=True)}
    failures = []
    last = time.monotonic()
    last_gather = last
    pending = []
    # results are gathered in groups (one request per worker per group, at most every
    # GATHER_SECONDS while tasks run), not one round trip per finished future: a gather request
    # is served by the worker's event loop, which takes the GIL from the task it is running
    completed = as_completed(futures, timeout=timeout)

    def failed(task, error):
        failures.append({"case": plan.cases[task["case"]]["label"], "seed_index": task["seed_index"],
                         "seed": task["seed"], "error": error})

    def gather(batch):
        finished = [f for f in batch if f.status == "finished"]
        try:
            values = client.gather(finished)
        except Exception:  # noqa: BLE001 - a result lost in between: one by one below
            finished, values = [], []
        outcomes = dict(zip((f.key for f in finished), values, strict=True))
        for future in batch:
            group = group_of[future.key]
            if future.key not in outcomes:
                try:
                    outcomes[future.key] = future.result()
                except Exception as exc:  # noqa: BLE001 - e.g. the group's worker died too often
                    outcomes[future.key] = [failed_outcome(exc)] * len(group)
            for task, outcome in zip(group, outcomes[future.key], strict=True):
                if outcome["error"] is None:
                    results.add(task, outcome["result"])
                else:
                    failed(task, outcome["error"])
            future.release()
            if bar is not None:
                bar.update(len(group))
        if bar is not None and failures:
            bar.set_postfix(failed=len(failures))

    try:
        for batch in completed.batches():
            pending.extend(batch)
            now = time.monotonic()
            if completed.is_empty() or now - last_gather >= GATHER_SECONDS:
                gather(pending)
                pending, last_gather = [], now
            if store is not None and now - last >= CHECKPOINT_SECONDS:
                store.checkpoint(results)
                last = now
        if pending:
            gather(pending)
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            store.checkpoint(results)
    return failures


def _worker_threads(client):
    """Threads of the cluster's workers (at least 1): how many tasks run at once."""
    try:
        info = client.scheduler_info()
        total = info.get("total_threads")
        if total is None:  # older distributed: per-worker entries only
            total = sum(int(w.get("nthreads", 1)) for w in info["workers"].values())
        return max(1, int(total))
    except Exception:  # noqa: BLE001 - only a grouping hint
        return 1


def _progress_bar(enabled, n_todo, n_total):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=n_todo, desc="meanfield sweep", unit="task", file=sys.stderr,
                postfix=None if n_todo == n_total else {"reused": n_total - n_todo})
