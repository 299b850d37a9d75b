"""Sweep configuration files (TOML) and stored results.

A configuration has a ``[sweep]`` table of fixed settings and a ``[grid]`` table of lists::

    [sweep]
    depth = 200
    n_seeds = 8
    batch = 16
    weights = "orthogonal"
    out = "lu_width.zarr"      # relative to this file's folder

    [grid]
    activation = ["tanh", "tanh-gpn", "selu", "selu-gpn"]
    width = [50, 100, 200, 500]

``[sweep]`` takes :func:`~meanfield.sweeps.sweep`'s ``n_seeds``, ``seed``, ``shared_seeds``,
``out`` and ``timeout`` and any fixed sweep key (:func:`~meanfield.sweeps.sweep_keys`).
"""

from __future__ import annotations

import os
import sys

__all__ = ["OPTION_KEYS", "load_sweep", "read_config"]

#: keys of the [sweep] table that are options of sweep() rather than simulate() arguments
OPTION_KEYS = ("n_seeds", "seed", "shared_seeds", "out", "timeout")


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError as exc:
            raise ImportError("reading TOML on Python 3.10 needs tomli: "
                              "pip install 'meanfield[sweep]'") from exc
    return tomllib


def read_config(path):
    """Read a sweep configuration; return keyword arguments of :func:`~meanfield.sweeps.sweep`.

    ``out``, when given, is resolved relative to the configuration file's folder.

    Raises
    ------
    ValueError
        Unreadable or invalid TOML, a table other than ``[sweep]`` and ``[grid]``, or an
        unknown key in ``[sweep]`` (named in the message). The grid itself is checked by
        :func:`~meanfield.sweeps.sweep` before any task starts.
    """
    from meanfield.sweeps._plan import sweep_keys

    tomllib = _toml()
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            config = tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"cannot read config {path!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config {path!r} is not valid TOML: {exc}") from None
    unknown = set(config) - {"sweep", "grid"}
    if unknown:
        raise ValueError(f"config {path!r}: unknown table or key {sorted(unknown)[0]!r}; "
                         "a sweep config has the tables [sweep] and [grid]")
    settings, grid = config.get("sweep", {}), config.get("grid")
    if not isinstance(settings, dict):
        raise ValueError(f"config {path!r}: 'sweep' must be a table")
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"config {path!r}: the [grid] table is missing or empty")
    allowed = (*OPTION_KEYS, *sweep_keys())
    for key in settings:
        if key not in allowed:
            raise ValueError(f"config {path!r}: unknown key {key!r} in [sweep]; valid keys are "
                             f"{', '.join(allowed)}")
    kwargs = {"grid": grid, **settings}
    if "out" in kwargs:
        out = kwargs["out"]
        if not isinstance(out, str) or not out.strip():
            raise ValueError(f"config {path!r}: out must be a non-empty path string; got {out!r}")
        kwargs["out"] = os.path.join(os.path.dirname(os.path.abspath(path)), out)
    return kwargs


def load_sweep(path):
    """Read a stored sweep (``*.zarr`` or ``*.nc``) into memory as an ``xarray.Dataset``.

    Raises
    ------
    ValueError
        Not a meanfield sweep, or not found.
    """
    import xarray as xr

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"no sweep result at {path!r}")
    if path.rstrip("/" + os.sep).lower().endswith(".zarr"):
        ds = xr.open_zarr(path).load()
    else:
        with xr.open_dataset(path) as opened:
            ds = opened.load()
    if "sweep_config" not in ds.attrs:
        raise ValueError(f"{path!r} is not a meanfield sweep result")
    return ds
