"""Numerical tolerances and guards, shared by the code and its tests.

One table, keyed by dtype (after neural-tangents' ``test_utils``), so that a
tolerance lives in one place and every loosening carries its reason.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ENGINE_RTOL",
    "REFERENCE_DPS",
    "SIMULATION_RTOL",
    "Z_CUTOFF",
    "rtol_for",
]

#: Decimal digits of the ``mpmath`` reference engine (the issue asks for 30-digit references).
REFERENCE_DPS = 30

#: Relative error each engine promises against the mpmath reference, over
#: q in [1e-3, 1e3] and output means over mean in [-5, 5], var in [1e-3, 1e2].
#: ``closed`` evaluates exact formulas with a handful of roundings; ``quadrature``
#: adds the quadrature rule's truncation error.
ENGINE_RTOL = {"closed": 1e-12, "quadrature": 1e-10, "mpmath": 1e-25}

#: Gaussian tail cut-off in standard deviations used by the quadrature engine:
#: ``P(|z| > 9) = 2.3e-19``, far below float64 resolution of any O(1) integral.
Z_CUTOFF = 9.0

#: Elementwise relative tolerance for an activation's value computed in a given
#: dtype against a float64 reference (a few ulps of that dtype).
_DTYPE_RTOL = {
    np.dtype(np.float16): 5e-3,
    np.dtype(np.float32): 2e-6,
    np.dtype(np.float64): 1e-14,
}

#: Relative tolerance when comparing simulated statistics between two backends
#: that draw the same numbers in different precisions.
SIMULATION_RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def rtol_for(dtype) -> float:
    """Return the elementwise relative tolerance for arrays of ``dtype``.

    >>> rtol_for("float32")
    2e-06
    """
    return _DTYPE_RTOL[np.dtype(dtype)]
