"""The function a Dask worker runs for one (case, seed): simulate and, for seed 0, the theory.

Kept free of Dask, xarray and the client's state: it receives a plain dict (the activation as
a spec, the simulate arguments and the seed) and returns plain NumPy arrays, so the result is
exactly ``simulate(act, seed=seed, **kwargs)`` computed in the worker process.
"""

from __future__ import annotations

import functools
import time

import numpy as np

__all__ = ["record_names", "run_task", "theory_fields"]


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
