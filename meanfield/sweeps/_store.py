"""A sweep's results in memory and on disk (Zarr or netCDF), written as tasks finish, resumable.

In memory every variable is a full NumPy array over ``(case dims..., seed, layer)``; a finished
task fills its slice and sets ``done``. With ``out=``:

* ``*.zarr``: the store is created up front with the full layout (NaN, ``done`` all false),
  one chunk per case for the records and theory. A checkpoint writes the chunks of the cases
  that changed, then the ``done`` mask (one chunk). Zarr writes each chunk to a temporary file
  and renames it, and ``done`` is written last, so after a crash every case marked done holds
  its data; the rest is recomputed by the next run.
* ``*.nc``: netCDF cannot be updated safely in place (a crash can corrupt an open HDF5 file), so
  a checkpoint writes the whole dataset to a temporary file and renames it onto ``out``.

A run with an existing ``out`` checks that it holds the same sweep (the ``sweep_config``
attribute) and loads it; tasks already done are skipped.
"""

from __future__ import annotations

import json
import os
import platform

import numpy as np

from meanfield.sweeps._plan import config_json

__all__ = ["Results", "open_store", "STORE_SUFFIXES"]

#: file name endings of the supported stores
STORE_SUFFIXES = (".zarr", ".nc")


class Results:
    """Every variable of a sweep as in-memory arrays, filled as tasks finish."""

    def __init__(self, plan):
        from meanfield.sweeps._tasks import record_names, theory_fields

        self.plan = plan
        self.record_names = record_names()
        self.theory_names = theory_fields()
        cs, n_s, n_l = plan.shape, plan.n_seeds, plan.depth
        self.dims = {}
        self.data = {}
        for r in self.record_names:
            self._add(r, (*plan.dims, "seed", "layer"), np.full((*cs, n_s, n_l), np.nan))
        for name, ndim in self.theory_names.items():
            self._add(f"theory_{name}", (*plan.dims, *(("layer",) if ndim else ())),
                      np.full((*cs, *((n_l,) if ndim else ())), np.nan))
        self._add("net_seed", (*plan.dims, "seed"), plan.seeds.reshape(*cs, n_s).copy())
        self._add("task_seconds", (*plan.dims, "seed"), np.full((*cs, n_s), np.nan))
        self._add("done", (*plan.dims, "seed"), np.zeros((*cs, n_s), dtype=bool))
        self.dirty, self.dirty_theory = set(), set()
        self.theory_errors = {}

    def _add(self, name, dims, arr):
        self.dims[name] = dims
        self.data[name] = arr

    def index(self, case):
        """The case dims' index tuple of flat case ``case``."""
        return tuple(int(i) for i in np.unravel_index(case, self.plan.shape))

    def is_done(self, task):
        return bool(self.data["done"][self.index(task["case"]) + (task["seed_index"],)])

    def add(self, task, result):
        """Store the result of ``task`` (the dict :func:`~meanfield.sweeps._tasks.run_task` returns)."""
        idx = self.index(task["case"])
        s = task["seed_index"]
        for r in self.record_names:
            if r not in result["records"]:  # an optional record this case does not have
                continue
            values = np.asarray(result["records"][r], dtype=np.float64)
            self.data[r][(*idx, s, slice(0, values.size))] = values
        if result.get("theory") is not None:
            for name, ndim in self.theory_names.items():
                values = np.asarray(result["theory"][name], dtype=np.float64)
                target = self.data[f"theory_{name}"]
                if ndim:
                    target[(*idx, slice(0, values.size))] = values
                else:
                    target[idx] = values
            self.dirty_theory.add(task["case"])
        if result.get("theory_error"):
            self.theory_errors[task["case"]] = result["theory_error"]
        self.data["task_seconds"][(*idx, s)] = result["seconds"]
        self.data["done"][(*idx, s)] = True
        self.dirty.add(task["case"])

    def load(self, ds):
        """Fill the arrays from a stored sweep ``ds`` (resume)."""
        for name, arr in self.data.items():
            if name in ds:
                arr[...] = ds[name].values

    def attrs(self):
        """Provenance attributes (JSON strings where structured)."""
        import dask
        import distributed
        import xarray

        import meanfield

        plan = self.plan
        return {"title": "meanfield sweep", "sweep_config": config_json(plan.config),
                "grid": json.dumps(plan.config["grid"]), "fixed": json.dumps(plan.config["fixed"]),
                "activations": json.dumps(plan.config["activations"]),
                "solutions": json.dumps(plan.solutions), "n_seeds": plan.n_seeds,
                "seed": plan.config["seed"], "shared_seeds": int(plan.config["shared_seeds"]),
                "meanfield_version": meanfield.__version__, "numpy_version": np.__version__,
                "xarray_version": xarray.__version__, "dask_version": dask.__version__,
                "distributed_version": distributed.__version__,
                "python_version": platform.python_version()}

    def to_dataset(self):
        """The results as an ``xarray.Dataset`` with coordinates and provenance attributes."""
        import xarray as xr

        from meanfield.trace import RECORD_DESCRIPTIONS

        plan = self.plan
        coords = {**plan.coords, "seed": np.arange(plan.n_seeds), "layer": np.arange(1, plan.depth + 1)}
        optional = {k: f"{RECORD_DESCRIPTIONS.get(k, k)}; NaN where a case does not record it "
                       "(c needs input_correlation)" for k in self.record_names
                    if k not in _always_recorded()}
        described = {**RECORD_DESCRIPTIONS, **optional,
                     **{f"theory_{k}": f"mean-field prediction of {k} (Trace.theory)"
                        for k in self.theory_names},
                     "net_seed": "seed passed to simulate() for this net",
                     "task_seconds": "wall-clock seconds of the task on its worker",
                     "done": "the task finished and its results are stored"}
        data = {name: (self.dims[name], arr.copy(), {"long_name": described.get(name, name)})
                for name, arr in self.data.items()}
        return xr.Dataset(data, coords=coords, attrs=self.attrs())


def _always_recorded():
    from meanfield.trace import RECORDS

    return RECORDS


def open_store(out, results):
    """The store of ``out`` (None: memory only); loads ``results`` from it when resuming."""
    if out is None:
        return None
    path = os.fspath(out)
    if not path.strip():
        raise ValueError("out must be a path ending with .zarr or .nc; got an empty string")
    suffix = os.path.splitext(path.rstrip("/" + os.sep))[1].lower()
    if suffix not in STORE_SUFFIXES:
        raise ValueError(f"out must end with .zarr or .nc; got {path!r}")
    store = (_ZarrStore if suffix == ".zarr" else _NetCDFStore)(path)
    store.open(results)
    return store


def _check_same_sweep(path, ds, results):
    stored = ds.attrs.get("sweep_config")
    if stored is None:
        raise ValueError(f"out={path!r} exists and is not a meanfield sweep; choose another path")
    want = json.loads(config_json(results.plan.config))
    have = json.loads(stored)
    if have != want:
        differ = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
        raise ValueError(f"out={path!r} holds a different sweep (it differs in {', '.join(differ)}); "
                         "choose another out path or delete it to start over")
    missing = sorted(set(results.data) - set(ds.data_vars))
    if missing:
        raise ValueError(f"out={path!r} lacks variables {missing} (written by another meanfield "
                         "version?); choose another out path")


class _ZarrStore:
    def __init__(self, path):
        self.path = path
        self.group = None

    def open(self, results):
        import xarray as xr
        import zarr

        if os.path.exists(self.path):
            with xr.open_zarr(self.path) as ds:
                _check_same_sweep(self.path, ds, results)
                results.load(ds)
        else:
            ds = results.to_dataset()
            n_case = len(results.plan.dims)
            encoding = {}
            for name in results.dims:
                chunks = tuple(1 if i < n_case and name not in _WHOLE else size
                               for i, size in enumerate(results.data[name].shape))
                encoding[name] = {"chunks": chunks or None}
            kwargs = {"zarr_format": 2} if int(zarr.__version__.split(".")[0]) >= 3 else {}
            ds.to_zarr(self.path, mode="w-", encoding=encoding, **kwargs)
        self.group = zarr.open_group(self.path, mode="r+")

    def checkpoint(self, results):
        if not results.dirty:
            return
        for case in sorted(results.dirty):
            idx = results.index(case)
            for r in results.record_names:
                self.group[r][idx] = results.data[r][idx]
            self.group["task_seconds"][idx] = results.data["task_seconds"][idx]
        for case in sorted(results.dirty_theory):
            idx = results.index(case)
            for name in results.theory_names:
                self.group[f"theory_{name}"][idx] = results.data[f"theory_{name}"][idx]
        self.group["done"][...] = results.data["done"]  # last: a case is done only once stored
        results.dirty.clear()
        results.dirty_theory.clear()


#: variables stored as one chunk (the small per-task masks)
_WHOLE = ("done", "net_seed")


class _NetCDFStore:
    def __init__(self, path):
        self.path = path

    def open(self, results):
        import xarray as xr

        if os.path.exists(self.path):
            with xr.open_dataset(self.path) as ds:
                ds.load()
                _check_same_sweep(self.path, ds, results)
                results.load(ds)
        else:
            self.checkpoint(results, force=True)

    def checkpoint(self, results, force=False):
        from meanfield._files import atomic_path

        if not (results.dirty or force):
            return
        ds = results.to_dataset()
        with atomic_path(self.path) as tmp:
            ds.to_netcdf(tmp, engine=_netcdf_engine())
        results.dirty.clear()
        results.dirty_theory.clear()


def _netcdf_engine():
    for module, engine in (("netCDF4", "netcdf4"), ("h5netcdf", "h5netcdf")):
        try:
            __import__(module)
        except ImportError:
            continue
        return engine
    raise ImportError("out=*.nc needs netCDF4 or h5netcdf (pip install netCDF4); or use out=*.zarr")
