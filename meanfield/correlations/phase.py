r"""Order-to-chaos phase diagrams on a (sigma_w^2, sigma_b^2) grid (Poole et al. 2016, Fig. 2;
Schoenholz et al. 2017, Fig. 1).

>>> line = critical_line("relu", [0.0])
>>> [round(float(w), 8) for w in line]
[2.0]
"""

from __future__ import annotations

import math

import numpy as np

from meanfield._validation import as_real_array
from meanfield.correlations._kernels import as_activation
from meanfield.correlations.fixed_points import chi1, critical_weight_var, depth_scales

__all__ = ["critical_line", "phase_grid"]


def critical_line(act, bias_vars, *, method="auto"):
    """``critical_weight_var`` at each ``bias_var``: the ``chi1 = 1`` line (NaN where none in range)."""
    act = as_activation(act)
    bias_vars = as_real_array(bias_vars, "bias_var", nonnegative=True).ravel()
    out = np.full(bias_vars.shape, math.nan)
    for i, b in enumerate(bias_vars):
        try:
            out[i] = critical_weight_var(act, b, method=method)
        except ValueError as exc:
            if "no transition" not in str(exc):
                raise
    return out


def phase_grid(act, weight_vars, bias_vars, *, method="auto"):
    """``chi1``, ``xi_q``, ``xi_c`` on the grid ``weight_vars x bias_vars`` (rows: bias_var).

    Grid points where the length map diverges (no finite ``q*``) hold NaN.

    Returns
    -------
    dict of ndarray
        ``"chi1"``, ``"xi_q"``, ``"xi_c"``, each of shape ``(len(bias_vars), len(weight_vars))``.
    """
    act = as_activation(act)
    weight_vars = as_real_array(weight_vars, "weight_var", positive=True).ravel()
    bias_vars = as_real_array(bias_vars, "bias_var", nonnegative=True).ravel()
    shape = (bias_vars.size, weight_vars.size)
    out = {k: np.full(shape, math.nan) for k in ("chi1", "xi_q", "xi_c")}
    for i, b in enumerate(bias_vars):
        for j, w in enumerate(weight_vars):
            try:
                out["chi1"][i, j] = chi1(act, w, b, method=method)
                out["xi_q"][i, j], out["xi_c"][i, j] = depth_scales(act, w, b, method=method)
            except ValueError as exc:
                if "diverges" not in str(exc):
                    raise
    return out
