"""meanfield: mean-field theory of activation functions in deep networks.

Exact and fast maps (phi(q), delta_q, gamma_q, output means, GPN constants, ...)
for any activation, the constrained solver for self-normalizing parameters, and
Monte-Carlo simulators of deep random nets. See README.md and DESIGN.md.
"""

import importlib

#: where each public name lives; loaded on first use (PEP 562) so that ``import meanfield`` and
#: ``meanfield --version`` stay light (SymPy and SciPy load with the first map, solve, ...)
_PUBLIC_NAMES = {
    "meanfield.activation_design": ("DesignError", "DesignResult", "Transform", "design", "dks_transform",
                                    "tat_transform"),
    "meanfield.activations": ("ACTIVATIONS", "SELU_ALPHA", "SELU_LAMBDA", "Activation", "get_activation",
                              "list_activations", "normalized"),
    "meanfield.backends": ("get_backend",),
    "meanfield.correlations": ("chi1", "chi_c", "correlation_fixed_point", "correlation_map", "covariance",
                               "critical_weight_var", "depth_scales", "derivative_covariance", "fixed_point"),
    "meanfield.engines": ("ENGINES", "METHODS"),
    "meanfield.errors": ("NumericalWarning", "TraceFileError", "UnstableTheoryWarning"),
    "meanfield.maps": ("delta", "dphi_dq", "expect", "gamma", "gamma1", "gpn_constants", "normalization_factor",
                       "output_mean", "phi", "r_score", "second_moment", "selu_map", "selu_map_jacobian"),
    "meanfield.simulation": ("Trace", "load_trace", "simulate"),
    "meanfield.sweeps": ("SweepError", "sweep"),
    "meanfield.solver": ("Solution", "SolutionTable", "SolverError", "parameter_table", "solve"),
}
_MODULE_OF = {name: module for module, names in _PUBLIC_NAMES.items() for name in names}


def __getattr__(name):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'meanfield' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return sorted({*globals(), *_MODULE_OF})


__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "DesignError",
    "DesignResult",
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
    "Transform",
    "UnstableTheoryWarning",
    "__version__",
    "chi1",
    "chi_c",
    "correlation_fixed_point",
    "correlation_map",
    "covariance",
    "critical_weight_var",
    "delta",
    "depth_scales",
    "derivative_covariance",
    "design",
    "dks_transform",
    "dphi_dq",
    "expect",
    "fixed_point",
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
    "tat_transform",
]
