"""meanfield: mean-field theory of activation functions in deep networks.

Exact and fast maps (phi(q), delta_q, gamma_q, output means, GPN constants, ...)
for any activation, the constrained solver for self-normalizing parameters, and
Monte-Carlo simulators of deep random nets. See README.md and DESIGN.md.
"""

from meanfield.activations import (
    ACTIVATIONS,
    SELU_ALPHA,
    SELU_LAMBDA,
    Activation,
    get_activation,
    list_activations,
    normalized,
)
from meanfield.backends import get_backend
from meanfield.engines import ENGINES, METHODS
from meanfield.errors import NumericalWarning, TraceFileError
from meanfield.maps import (
    delta,
    dphi_dq,
    expect,
    gamma,
    gamma1,
    gpn_constants,
    normalization_factor,
    output_mean,
    phi,
    r_score,
    second_moment,
    selu_map,
    selu_map_jacobian,
)
from meanfield.simulation import Trace, load_trace, simulate
from meanfield.solver import Solution, SolutionTable, SolverError, parameter_table, solve
from meanfield.sweeps import SweepError, sweep

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "ENGINES",
    "METHODS",
    "NumericalWarning",
    "SELU_ALPHA",
    "SELU_LAMBDA",
    "Solution",
    "SolutionTable",
    "SolverError",
    "SweepError",
    "Trace",
    "TraceFileError",
    "__version__",
    "delta",
    "dphi_dq",
    "expect",
    "gamma",
    "gamma1",
    "get_activation",
    "get_backend",
    "gpn_constants",
    "list_activations",
    "load_trace",
    "normalization_factor",
    "normalized",
    "output_mean",
    "parameter_table",
    "phi",
    "r_score",
    "second_moment",
    "selu_map",
    "selu_map_jacobian",
    "simulate",
    "solve",
    "sweep",
]
