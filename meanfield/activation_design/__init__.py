"""Activation design: parameters that meet mean-field conditions (DESIGN.md, section Design of activations).

* :func:`design`: any parametric activation, any conditions of :mod:`meanfield.activation_design.conditions`,
  optionally optimal for an objective.
* :func:`dks_transform`, :func:`tat_transform`: Deep Kernel Shaping (Martens et al. 2021) and
  Tailored Activation Transformations (Zhang et al. 2022) for a plain MLP of ``depth`` layers.
* :func:`solve`: the SELU-family front end (Chen et al., Klambauer et al.), also
  :mod:`meanfield.solver`.
"""

from meanfield.activation_design._families import AFFINE_NAMES, AffineFamily, SymbolicFamily, transformed_activation
from meanfield.activation_design._selu_front import SeluProgram, parameter_table, selu_problem, solve
from meanfield.activation_design._solution import Solution, SolutionTable, SolverError
from meanfield.activation_design.conditions import CONDITIONS, parse_condition
from meanfield.activation_design.core import DESIGN_TOL, DesignError, DesignResult, design
from meanfield.activation_design.transforms import Transform, dks_transform, lrelu_c_map, tat_transform

__all__ = [
    "AFFINE_NAMES",
    "AffineFamily",
    "CONDITIONS",
    "DESIGN_TOL",
    "DesignError",
    "DesignResult",
    "SeluProgram",
    "Solution",
    "SolutionTable",
    "SolverError",
    "SymbolicFamily",
    "Transform",
    "design",
    "dks_transform",
    "lrelu_c_map",
    "parameter_table",
    "parse_condition",
    "selu_problem",
    "solve",
    "tat_transform",
    "transformed_activation",
]
