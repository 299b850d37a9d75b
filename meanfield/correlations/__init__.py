"""Correlations between two inputs: covariance kernels, the c-map, criticality, depth scales.

See DESIGN.md, section "Correlations (two inputs)", and ``docs/theory/correlations.rst``.
"""

from meanfield.correlations.fixed_points import (
    chi1,
    correlation_fixed_point,
    critical_weight_var,
    depth_scales,
    fixed_point,
)
from meanfield.correlations.maps import chi_c, correlation_map, covariance, derivative_covariance

__all__ = [
    "covariance",
    "derivative_covariance",
    "correlation_map",
    "chi_c",
    "chi1",
    "fixed_point",
    "correlation_fixed_point",
    "depth_scales",
    "critical_weight_var",
]
