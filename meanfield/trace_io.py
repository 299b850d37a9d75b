"""Reading and writing :class:`~meanfield.trace.Trace` files (``.npz`` and ``.nc``).

File layout (``format = "meanfield.Trace"``, ``format_version`` :data:`FORMAT_VERSION`)
----------------------------------------------------------------------------------
``.npz`` (NumPy only)
    one ``(n_seeds, depth)`` float64 array per record, named after the record; ``seeds``;
    ``hist_<key>`` for the histograms; ``metadata``, a 0-d string array holding the JSON of
    :meth:`Trace.metadata` plus ``"records"``, the list of record names stored.
``.nc`` (xarray, netCDF4/h5netcdf or SciPy's netCDF-3 engine)
    the dataset of :meth:`Trace.to_xarray`; the same JSON in the attribute ``metadata``.

Records are stored generically: every name in :data:`meanfield.trace.RECORDS` that the trace
holds is written, and the reader takes the list of names from the metadata, so a new per-layer
record round-trips without changes here. Files are untrusted input: :func:`load_trace` checks
every field it uses and raises :class:`~meanfield.errors.TraceFileError` (a ValueError) naming
the file and the problem; it never runs unbounded work on the file's contents (a stored
expression goes through the size limits of :mod:`meanfield.expressions`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os

import numpy as np

from meanfield._files import atomic_path

__all__ = ["FORMAT", "FORMAT_VERSION", "load_trace", "save_trace", "trace_to_xarray"]

#: The ``format`` field of every trace file.
FORMAT = "meanfield.Trace"
#: The newest ``format_version`` this reader understands (files of a newer version are refused).
FORMAT_VERSION = 1
#: Record names of format-version-1 files written before the metadata listed them.
_V1_RECORDS = ("q", "mean", "x_sq", "grad_h_sq", "grad_w_fro", "h_mean")

# kept under their old private names for meanfield.trace
_FORMAT, _FORMAT_VERSION = FORMAT, FORMAT_VERSION


def _record_names(trace):
    from meanfield.trace import OPTIONAL_RECORDS, RECORDS

    return [k for k in RECORDS + OPTIONAL_RECORDS if getattr(trace, k, None) is not None]


def _file_metadata(trace):
    meta = trace.metadata()
    meta["records"] = _record_names(trace)
    return meta


def save_trace(trace, path):
    """Write ``trace`` to ``path`` (``.npz``, or ``.nc`` with xarray), atomically.

    The body of :meth:`Trace.save <meanfield.trace.Trace.save>`; returns the path written.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npz":
        arrays = {k: getattr(trace, k) for k in _record_names(trace)}
        arrays["seeds"] = trace.seeds
        for k, v in (trace.histograms or {}).items():
            arrays[f"hist_{k}"] = v
        arrays["metadata"] = np.array(json.dumps(_file_metadata(trace)))
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    elif suffix == ".nc":
        ds = trace_to_xarray(trace)
        ds.attrs["seeds"] = json.dumps([int(s) for s in trace.seeds])
        engine = _netcdf_engine()
        if engine == "scipy":
            ds = _netcdf3_safe(ds)
        with atomic_path(path) as tmp:
            ds.to_netcdf(tmp, engine=engine)
    else:
        raise ValueError(f"path must end with .npz or .nc; got {path!r}")
    return path


def trace_to_xarray(trace, theory=False):
    """The body of :meth:`Trace.to_xarray <meanfield.trace.Trace.to_xarray>`."""
    from meanfield.trace import RECORD_DESCRIPTIONS

    xr = _import_xarray()
    names = _record_names(trace)
    data = {k: (("seed", "layer"), getattr(trace, k), {"long_name": RECORD_DESCRIPTIONS.get(k, k)})
            for k in names}
    coords = {"seed": trace.seeds, "layer": trace.layers}
    if trace.histograms is not None:
        coords["hist_layer"] = trace.histograms["layers"]
        for k in ("x", "df"):
            data[f"{k}_hist"] = (("seed", "hist_layer", "bin"), trace.histograms[k])
            data[f"{k}_hist_edges"] = (("seed", "hist_layer", "bin_edge"),
                                       trace.histograms[f"{k}_edges"])
    if theory:
        th = trace.theory()
        for k in names:
            if getattr(th, k, None) is not None:
                data[f"theory_{k}"] = (("layer",), getattr(th, k))
    attrs = {"meanfield_version": trace.provenance["meanfield_version"],
             "backend": trace.backend, "dtype": trace.dtype,
             "seeds": trace.seeds.copy(),
             "activation": str(trace.activation_info.get("name")),
             "activation_params": json.dumps(trace.activation_info.get("params", {}))}
    for k, v in trace.params.items():
        attrs[k] = int(v) if isinstance(v, bool) else v
    attrs["metadata"] = json.dumps(_file_metadata(trace))
    return xr.Dataset(data, coords=coords, attrs=attrs)


def load_trace(path):
    """Read a trace written by :meth:`Trace.save <meanfield.trace.Trace.save>` (``.npz`` or ``.nc``).

    The activation is rebuilt from its name and parameters (built-ins and their GPN or
    affine versions) or, failing that, from its SymPy expression; if neither works the
    trace loads with ``activation=None``.
    """
    from meanfield.trace import Trace

    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["metadata"]))
            names = meta.get("records", _V1_RECORDS)
            records = {k: z[k] for k in names}
            hist = {k[5:]: z[k] for k in z.files if k.startswith("hist_")} or None
    elif suffix == ".nc":
        xr = _import_xarray()
        with xr.open_dataset(path) as ds:
            ds.load()
            meta = json.loads(ds.attrs["metadata"])
            names = meta.get("records", _V1_RECORDS)
            records = {k: ds[k].values for k in names}
            hist = None
            if "x_hist" in ds:
                hist = {"layers": ds["hist_layer"].values.astype(np.int64)}
                for k in ("x", "df"):
                    hist[k] = ds[f"{k}_hist"].values.astype(np.int64)
                    hist[f"{k}_edges"] = ds[f"{k}_hist_edges"].values
    else:
        raise ValueError(f"path must end with .npz or .nc; got {path!r}")
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a meanfield trace (format {meta.get('format')!r})")
    info = meta["activation"]
    provenance = dict(meta.get("provenance", {}))
    return Trace(records, seeds=meta["seeds"], activation=_rebuild_activation(info),
                 params=meta["params"], backend=meta["backend"], dtype=meta["dtype"],
                 histograms=hist, provenance=provenance, activation_info=info)


# ------------------------------------------------------------------------------------------------
# helpers


def _rebuild_activation(info):
    from meanfield.activations import Activation, get_activation

    name, params = info.get("name"), dict(info.get("params") or {})
    with contextlib.suppress(ValueError):
        return get_activation(name, **params)
    base = name[:-4] if name.endswith("-gpn") else None
    if base and "scale" in params and "shift" in params:
        scale, shift = params.pop("scale"), params.pop("shift")
        with contextlib.suppress(ValueError):
            return get_activation(base, **params).affine(scale, shift, name=name)
    if info.get("expression"):
        with contextlib.suppress(ValueError, TypeError, SyntaxError):
            return Activation.from_expression(info["expression"], name=name)
    return None


def _import_xarray():
    try:
        import xarray
    except ImportError as exc:
        raise ImportError("Trace.to_xarray() and .nc files need xarray: "
                          "pip install 'meanfield[io]'") from exc
    return xarray


def _netcdf_engine():
    for module, engine in (("netCDF4", "netcdf4"), ("h5netcdf", "h5netcdf"),
                           ("scipy.io", "scipy")):
        try:
            __import__(module)
        except ImportError:
            continue
        return engine
    raise ImportError("writing .nc needs netCDF4, h5netcdf or scipy")  # pragma: no cover


def _netcdf3_safe(ds):
    """NetCDF-3 (SciPy engine) has no int64: coordinates and counts go to int32.

    The exact seeds stay in ``ds.attrs["seeds"]`` (JSON), which :func:`save_trace` sets.
    """
    ds = ds.copy()
    seeds = ds["seed"].values
    if seeds.size and (seeds.max() > np.iinfo(np.int32).max):
        ds = ds.assign_coords(seed=np.arange(seeds.size, dtype=np.int32))
    else:
        ds = ds.assign_coords(seed=seeds.astype(np.int32))
    ds = ds.assign_coords(layer=ds["layer"].values.astype(np.int32))
    if "hist_layer" in ds.coords:
        ds = ds.assign_coords(hist_layer=ds["hist_layer"].values.astype(np.int32))
    for k in ("x_hist", "df_hist"):
        if k in ds:
            ds[k] = ds[k].astype(np.int32)
    for k, v in list(ds.attrs.items()):
        if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
            ds.attrs[k] = np.int32(v) if abs(int(v)) < 2**31 else float(v)
    return ds


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _nan_to_none(arr):
    return [None if not math.isfinite(v) else float(v) for v in np.asarray(arr, dtype=float)]
