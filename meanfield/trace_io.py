"""Reading and writing :class:`~meanfield.trace.Trace` files (``.npz`` and ``.nc``).

File layout (``format = "meanfield.Trace"``, ``format_version`` :data:`FORMAT_VERSION`)
---------------------------------------------------------------------------------------
``.npz`` (NumPy only)
    one ``(n_seeds, depth)`` float64 array per record, named after the record; ``seeds``;
    ``hist_<key>`` for the histograms; ``metadata``, a 0-d string array holding the JSON of
    :meth:`~meanfield.trace.Trace.metadata` plus ``"records"``, the list of record names stored.
``.nc`` (xarray, netCDF4/h5netcdf or SciPy's netCDF-3 engine)
    the dataset of :meth:`~meanfield.trace.Trace.to_xarray`; the same JSON in the attribute ``metadata``.

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
from meanfield.errors import TraceFileError

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
    affine versions) or, failing that, from its SymPy expression (within the size and time
    limits of :mod:`meanfield.expressions`); if neither works the trace loads with
    ``activation=None``.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz`` or ``.nc`` file.

    Returns
    -------
    Trace

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    TraceFileError
        The file cannot be read as a trace: truncated or empty, not a trace, metadata
        missing or not valid JSON, a record or field missing or of the wrong type, or a
        ``format_version`` newer than :data:`~meanfield.trace_io.FORMAT_VERSION`. The message names
        the file.
    ValueError
        ``path`` does not end with ``.npz`` or ``.nc``.
    """
    from meanfield.trace import Trace

    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".npz", ".nc"):
        raise ValueError(f"path must end with .npz or .nc; got {path!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no trace file {path!r}")
    read = _read_npz if suffix == ".npz" else _read_nc
    try:
        meta, records, hist = read(path)
    except (TraceFileError, ImportError):
        raise
    except Exception as exc:  # any failure to decode untrusted bytes is a TraceFileError
        raise TraceFileError(f"{path}: cannot read the file "
                             f"({type(exc).__name__}: {str(exc)[:200]})") from exc
    info = meta["activation"]
    try:
        return Trace(records, seeds=meta["seeds"], activation=_rebuild_activation(info),
                     params=meta["params"], backend=meta["backend"], dtype=meta["dtype"],
                     histograms=hist, provenance=meta["provenance"], activation_info=info)
    except (ValueError, TypeError, KeyError) as exc:
        raise TraceFileError(f"{path}: {str(exc)[:200]}") from exc


def _read_npz(path):
    z = np.load(path, allow_pickle=False)
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise TraceFileError(f"{path}: is a single array, not a meanfield trace (.npz archive)")
    with z:
        if "metadata" not in z.files:
            raise TraceFileError(f"{path}: has no 'metadata' entry; not a meanfield trace")
        meta_arr = z["metadata"]
        if meta_arr.ndim != 0 or meta_arr.dtype.kind != "U":
            raise TraceFileError(f"{path}: 'metadata' must be a JSON string")
        meta = _check_metadata(str(meta_arr), path)
        missing = [k for k in meta["records"] if k not in z.files]
        if missing:
            raise TraceFileError(f"{path}: records {missing} are missing")
        records = {k: _numeric(z[k], k, path) for k in meta["records"]}
        hist = {k[5:]: _numeric(z[k], k, path) for k in z.files if k.startswith("hist_")} or None
    return meta, records, _check_histograms(hist, path)


def _read_nc(path):
    xr = _import_xarray()
    with xr.open_dataset(path) as ds:
        ds.load()
        if not isinstance(ds.attrs.get("metadata"), str):
            raise TraceFileError(f"{path}: has no 'metadata' attribute; not a meanfield trace")
        meta = _check_metadata(ds.attrs["metadata"], path)
        missing = [k for k in meta["records"] if k not in ds.data_vars]
        if missing:
            raise TraceFileError(f"{path}: records {missing} are missing")
        records = {k: _numeric(ds[k].values, k, path) for k in meta["records"]}
        hist = None
        if "x_hist" in ds:
            hist = {"layers": ds["hist_layer"].values.astype(np.int64)}
            for k in ("x", "df"):
                hist[k] = _numeric(ds[f"{k}_hist"].values, f"{k}_hist", path).astype(np.int64)
                hist[f"{k}_edges"] = _numeric(ds[f"{k}_hist_edges"].values, f"{k}_hist_edges", path)
    return meta, records, _check_histograms(hist, path)


#: The simulation parameters a trace's methods use, with the type each must have.
_REQUIRED_PARAMS = {"width": int, "batch": int, "weights": str, "weight_var": float,
                    "weight_mean": float, "centralize_weights": bool, "input_mean": float,
                    "input_var": float}
#: Longest metadata JSON accepted (a real trace's is a few kB).
_MAX_METADATA_CHARS = 10_000_000


def _check_metadata(text, path):
    """Parse and check the metadata JSON; return it with ``records`` filled in."""
    def bad(problem):
        return TraceFileError(f"{path}: {problem}")

    if len(text) > _MAX_METADATA_CHARS:
        raise bad(f"metadata is longer than {_MAX_METADATA_CHARS} characters")
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise bad(f"metadata is not valid JSON ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(meta, dict):
        raise bad(f"metadata must be a JSON object; got {type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise bad(f"is not a meanfield trace (format {str(meta.get('format'))[:80]!r})")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise bad(f"format_version must be a positive integer; got {str(version)[:80]!r}")
    if version > FORMAT_VERSION:
        raise bad(f"was written in trace format version {version}, newer than this meanfield "
                  f"reads (up to {FORMAT_VERSION}); upgrade meanfield to load it")
    names = meta.setdefault("records", list(_V1_RECORDS))
    if (not isinstance(names, list) or not names
            or not all(isinstance(k, str) and k.isidentifier() for k in names)
            or len(set(names)) != len(names)
            or any(k in ("metadata", "seeds") or k.startswith("hist_") for k in names)):
        raise bad("'records' must be a list of distinct record names")
    info = meta.get("activation")
    if not isinstance(info, dict):
        raise bad("metadata lacks the 'activation' object")
    if not isinstance(info.get("name"), str) or not info["name"]:
        raise bad(f"activation name must be a non-empty string; got {str(info.get('name'))[:80]!r}")
    act_params = info.setdefault("params", {})
    if not isinstance(act_params, dict) or not all(_is_real(v) for v in act_params.values()):
        raise bad("activation params must map names to finite numbers")
    if not isinstance(info.get("expression"), (str, type(None))):
        raise bad("activation expression must be a string or null")
    params = meta.get("params")
    if not isinstance(params, dict):
        raise bad("metadata lacks the 'params' object")
    for key, kind in _REQUIRED_PARAMS.items():
        value = params.get(key)
        ok = (isinstance(value, kind) and not (kind is int and isinstance(value, bool))
              if kind is not float else _is_real(value))
        if not ok:
            raise bad(f"params[{key!r}] must be a {kind.__name__}; got {str(value)[:80]!r}")
    if params["width"] < 1 or params["batch"] < 1:
        raise bad("params width and batch must be >= 1")
    seeds = meta.get("seeds")
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**63
                       for s in seeds)):
        raise bad("seeds must be a non-empty list of integers in [0, 2**63)")
    for key in ("backend", "dtype"):
        if not isinstance(meta.get(key), str):
            raise bad(f"{key} must be a string; got {str(meta.get(key))[:80]!r}")
    provenance = meta.setdefault("provenance", {})
    if not isinstance(provenance, dict):
        raise bad("provenance must be a JSON object")
    return meta


def _is_real(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _numeric(arr, name, path):
    arr = np.asarray(arr)
    if arr.dtype.kind not in "fiu":
        raise TraceFileError(f"{path}: {name} must be a real numeric array; got dtype {arr.dtype}")
    return arr


def _check_histograms(hist, path):
    keys = {"layers", "x", "df", "x_edges", "df_edges"}
    if hist is not None and set(hist) != keys:
        raise TraceFileError(f"{path}: histograms must have exactly the entries {sorted(keys)}; "
                             f"got {sorted(hist)}")
    return hist


# ------------------------------------------------------------------------------------------------
# helpers


#: What rebuilding an activation from a file's (checked) fields may raise for a name or
#: expression this version cannot rebuild: the trace then loads with ``activation=None``.
_REBUILD_ERRORS = (ValueError, TypeError, ArithmeticError, NotImplementedError, RecursionError)
#: Wall-clock seconds for rebuilding an activation from a file's expression (SymPy kinks etc.).
REBUILD_SECONDS = 5.0


def _rebuild_activation(info):
    """The activation of a checked ``info`` dict, or None (within :data:`REBUILD_SECONDS`)."""
    from meanfield.expressions import time_budget

    with contextlib.suppress(*_REBUILD_ERRORS), time_budget(REBUILD_SECONDS, "rebuilding"):
        return _rebuild(info)
    return None


def _rebuild(info):
    from meanfield.activations import Activation, get_activation

    name, params = info.get("name"), dict(info.get("params") or {})
    with contextlib.suppress(*_REBUILD_ERRORS):
        return get_activation(name, **params)
    base = name[:-4] if name.endswith("-gpn") else None
    if base and "scale" in params and "shift" in params:
        scale, shift = params.pop("scale"), params.pop("shift")
        with contextlib.suppress(*_REBUILD_ERRORS):
            return get_activation(base, **params).affine(scale, shift, name=name)
    if info.get("expression"):
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
