"""Monte-Carlo studies that outgrow one machine: grids of ``simulate`` calls on dask.distributed.

:func:`sweep` runs every combination of a grid of :func:`~meanfield.simulation.simulate`
arguments, times ``n_seeds`` nets, as one task per (case, seed) on a Dask cluster (a local one
by default) and gathers the traces and their mean-field prediction into one
``xarray.Dataset``; ``out=`` makes it resumable. :func:`read_config` reads the TOML files of
``meanfield sweep CONFIG.toml``; :func:`load_sweep` reads a stored result.

Needs the ``sweep`` extra: ``pip install 'meanfield[sweep]'`` (dask[distributed], xarray,
zarr), imported only when a sweep runs.
"""

from meanfield.sweeps._config import load_sweep, read_config
from meanfield.sweeps._plan import EXCLUDED_KEYS, sweep_keys
from meanfield.sweeps._run import BLAS_THREAD_ENV, CHECKPOINT_SECONDS, SweepError, sweep

__all__ = ["BLAS_THREAD_ENV", "CHECKPOINT_SECONDS", "EXCLUDED_KEYS", "SweepError", "load_sweep",
           "read_config", "sweep", "sweep_keys"]
