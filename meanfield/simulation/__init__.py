"""Monte-Carlo simulators of deep random nets (DESIGN.md, section Simulator).

:func:`simulate` runs the forward and backward pass of fully connected nets of
constant width with Gaussian or Haar-orthogonal weights on a NumPy or CuPy backend
(:mod:`meanfield.backends`) and returns a :class:`~meanfield.trace.Trace` of
per-layer statistics, whose :meth:`~meanfield.trace.Trace.theory` is the mean-field
prediction. :func:`layer_weights` returns the weight matrix a net used.
"""

from meanfield.simulation._memory import estimate_memory
from meanfield.simulation._network import DEFAULT_BATCH, DEFAULT_N_SEEDS, WEIGHT_CACHE_BYTES, simulate
from meanfield.simulation._weights import WEIGHT_KINDS, layer_weights
from meanfield.trace import Trace, TraceTheory, load_trace, theory_profile

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_N_SEEDS",
    "WEIGHT_CACHE_BYTES",
    "WEIGHT_KINDS",
    "Trace",
    "TraceTheory",
    "estimate_memory",
    "layer_weights",
    "load_trace",
    "simulate",
    "theory_profile",
]
