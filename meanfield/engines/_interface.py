"""What every engine computes: the Gaussian moments and their derivatives, by name.

``engine.expect(act, quantity, mean, var, derivative)`` returns ``E[g(x)]``, x ~ N(mean, var),
with ``g`` = ``f``, ``f^2`` or ``f'^2`` (``quantity``), or its derivative in ``mean`` or ``var``.
"""

from __future__ import annotations

__all__ = ["DERIVATIVES", "QUANTITIES"]

#: the integrands g: "f" (output mean), "f2" (second moment), "df2" (phi)
QUANTITIES = ("f", "f2", "df2")
#: None for E[g] itself, "mean" / "var" for its partial derivatives
DERIVATIVES = (None, "mean", "var")
