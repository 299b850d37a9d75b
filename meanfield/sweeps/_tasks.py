"""What a Dask worker runs: one (case, seed) is ``simulate`` and, for seed 0, the theory.

Kept free of Dask, xarray and the client's state: a task is a plain dict (the activation as a
spec, the simulate arguments and the seed) and its result plain NumPy arrays, so the result is
exactly ``simulate(act, seed=seed, **kwargs)`` computed in the worker process.

Dask costs milliseconds per task of its own (scheduler, transfers; benchmarks/bench_sweep.py
measures it beside plain Dask). Tasks estimated below :data:`GROUP_SECONDS` therefore travel in groups: one Dask
task runs several (case, seed) tasks one after the other (:func:`run_group`), each with its own
seed, result and error, so grouping changes no result, no failure report and no resume; a
group lost with a worker is rerun whole. Tasks of realistic size (depth 200, width 500: seconds)
stay one Dask task each.
"""

from __future__ import annotations

import functools
import math
import time

import numpy as np

__all__ = ["GROUP_SECONDS", "GROUPS_PER_WORKER", "estimated_seconds", "failed_outcome", "group_tasks",
           "record_names", "run_group", "run_task", "theory_fields"]

#: Consecutive tasks share one Dask task while their estimated seconds add up to at most this.
GROUP_SECONDS = 0.05
#: ... and while at least this many Dask tasks per worker remain (load balance).
GROUPS_PER_WORKER = 4


def run_task(task):
    """Run one task of a sweep (see :meth:`meanfield.sweeps._plan.Plan.tasks`).

    Returns
    -------
    dict
        ``records`` ({name: float64 array over layers} for every record of
        :func:`record_names` the trace holds), ``theory`` ({field: array or float} of
        :meth:`~meanfield.trace.Trace.theory}`, for the task with ``theory=True``; None
        otherwise or when the recursion fails), ``theory_error`` (str or None), ``seconds``.

    Raises
    ------
    ValueError
        From :func:`~meanfield.simulation.simulate` (a bad argument of this case).
    """
    from meanfield.simulation import simulate
    from meanfield.sweeps._specs import build_activation

    start = time.perf_counter()
    act = build_activation(task["spec"])
    trace = simulate(act, seed=task["seed"], n_seeds=1, progress=False, **task["kwargs"])
    records = {k: getattr(trace, k, None) for k in record_names()}
    out = {"records": {k: v[0] for k, v in records.items() if v is not None}, "theory": None,
           "theory_error": None}
    if task["theory"]:
        try:
            theory = trace.theory()
        except ValueError as exc:  # e.g. the recursion leaves float64 range
            out["theory_error"] = str(exc)
        else:
            out["theory"] = _theory_dict(theory)
    out["seconds"] = time.perf_counter() - start
    return out


def run_group(tasks):
    """Run several tasks in turn: one ``{"result": ..., "error": None}`` or
    ``{"result": None, "error": "Type: message"}`` per task, in order.

    A task's exception is its own: it is reported with its case and the group's other tasks
    still run.
    """
    outcomes = []
    for task in tasks:
        try:
            outcomes.append({"result": run_task(task), "error": None})
        except Exception as exc:  # noqa: BLE001 - reported per task, with its case, by the client
            outcomes.append(failed_outcome(exc))
    return outcomes


def failed_outcome(exc):
    """A task's outcome for the exception ``exc``: ``{"result": None, "error": "Type: message"}``."""
    return {"result": None, "error": f"{type(exc).__name__}: {exc}"}


def estimated_seconds(task):
    """Rough NumPy cost of a task on one core, used only to group and order tasks.

    ``5e-4 + depth (2e-4 + 3e-9 width^2 (batch + 1))`` seconds: a fixed cost per task and per
    layer (measured 0.2-0.5 ms) and the matmuls and weight draws (measured on a 2-core AMD EPYC:
    0.6 ms at depth 1, width 2; 95 ms at depth 100, width 192, batch 8; 0.29 s at depth 20,
    width 500, batch 16). Orthogonal weights add a QR per layer (``1e-9 width^3``).
    """
    kwargs = task["kwargs"]
    width = float(kwargs.get("width", 1))
    per_layer = 2e-4 + 3e-9 * width * width * (float(kwargs.get("batch", 16)) + 1.0)
    if kwargs.get("weights") == "orthogonal":
        per_layer += 1e-9 * width**3
    return 5e-4 + float(kwargs.get("depth", 1)) * per_layer


def group_tasks(tasks, n_workers):
    """Split ``tasks`` (in their order) into groups for one Dask task each.

    Consecutive tasks join a group while its estimated seconds stay within
    :data:`GROUP_SECONDS` and it holds at most ``ceil(len(tasks) / (GROUPS_PER_WORKER *
    n_workers))`` tasks; a task estimated above :data:`GROUP_SECONDS` is a group of its own.

    >>> tiny = {"kwargs": {"depth": 1, "width": 2, "batch": 1}}
    >>> big = {"kwargs": {"depth": 200, "width": 500, "batch": 16}}
    >>> [len(g) for g in group_tasks([big, big] + [tiny] * 16, n_workers=2)]
    [1, 1, 3, 3, 3, 3, 3, 1]
    """
    cap = max(1, math.ceil(len(tasks) / (GROUPS_PER_WORKER * max(1, n_workers))))
    groups, current, seconds = [], [], 0.0
    for task in tasks:
        cost = estimated_seconds(task)
        if current and (len(current) >= cap or seconds + cost > GROUP_SECONDS):
            groups.append(current)
            current, seconds = [], 0.0
        current.append(task)
        seconds += cost
    if current:
        groups.append(current)
    return groups


def _theory_dict(theory):
    return {name: getattr(theory, name) for name in theory_fields()}


def record_names():
    """Every per-layer record a trace may hold: :data:`~meanfield.trace.RECORDS` and the optional
    ones (``c``, recorded with ``input_correlation``; NaN in a sweep's result otherwise)."""
    from meanfield import trace

    return tuple(trace.RECORDS) + tuple(getattr(trace, "OPTIONAL_RECORDS", ()))


@functools.cache
def theory_fields():
    """Names of :class:`~meanfield.trace.TraceTheory` fields with their shape: ``{name: ndim}``.

    Per-layer arrays have ndim 1, per-case numbers ndim 0 (``layers`` is the coordinate).
    Found from a tiny profile, so new fields are swept without changes here.
    """
    import dataclasses

    from meanfield.trace import theory_profile

    probe = theory_profile("linear", depth=2, width=1)
    return {f.name: np.ndim(getattr(probe, f.name)) for f in dataclasses.fields(probe)
            if f.name != "layers"}
