"""How precisely an activation's parameters pin down a quantity (tolerances of the property checks).

Parameters copied from a paper's table carry a rounding error of half a unit in their last
printed digit: Chen et al.'s Table 5 prints sSELU as ``lam = 1.0, alpha = 2.618672, beta =
0.560804``, and with those six decimals ``E[f(z)^2] = 1.00000039``, not 1. A check of the
equality ``E[f(z)^2] = 1`` must therefore allow the change that rounding of the parameters can
cause, to first order

    tol = sum_i |dF/dp_i| * u_i,        u_i = half a unit in the last decimal of p_i,

and no less than :data:`EQUALITY_TOL_FLOOR` (the engines' own accuracy). Integer-valued
parameters (``lam = 1.0``, the solver's active bound) are taken as exact, and parameters given
to full double precision (the solver's output) contribute nothing measurable.
"""

from __future__ import annotations

import decimal
import math

__all__ = ["EQUALITY_TOL_FLOOR", "EQUALITY_TOL_CAP", "parameter_rounding", "propagated_tolerance"]

#: smallest tolerance of an equality: the closed/quadrature engines promise 1e-10 relative
EQUALITY_TOL_FLOOR = 1e-10
#: largest tolerance derived from rounding: parameters quoted to one or two decimals cannot
#: establish ``E f^2 = 1``; beyond this the check fails rather than accept anything
EQUALITY_TOL_CAP = 1e-4
#: relative step of the central differences dF/dp_i (error ~ step^2 * F''' is negligible
#: against the half-units it multiplies)
_DIFF_STEP = 1e-6


def parameter_rounding(value):
    """Half a unit in the last decimal of ``value``'s shortest repr; 0 for integers.

    >>> parameter_rounding(2.618672), parameter_rounding(1.0), parameter_rounding(1e-7)
    (5e-07, 0.0, 5e-08)
    """
    value = float(value)
    if not math.isfinite(value) or value == round(value):
        return 0.0
    exponent = decimal.Decimal(repr(value)).as_tuple().exponent
    return 0.5 * 10.0 ** exponent


def propagated_tolerance(act, quantity, *, floor=EQUALITY_TOL_FLOOR, cap=EQUALITY_TOL_CAP):
    """First-order change of ``quantity(act)`` under rounding of ``act``'s parameters.

    Parameters
    ----------
    act : Activation
    quantity : callable
        ``quantity(activation) -> float``, e.g. ``lambda a: second_moment(a, 1.0)``.
    floor, cap : float
        The result is clipped to ``[floor, cap]``.

    Returns
    -------
    tol : float
        ``sum_i |d quantity / d p_i| * parameter_rounding(p_i)`` clipped to ``[floor, cap]``.
    """
    total = 0.0
    for name, value in act.params.items():
        unit = parameter_rounding(value)
        if unit == 0.0:
            continue
        step = max(unit, _DIFF_STEP * max(1.0, abs(value)))
        up = float(quantity(act.with_params(**{name: value + step})))
        down = float(quantity(act.with_params(**{name: value - step})))
        total += abs(up - down) / (2 * step) * unit
    if not math.isfinite(total):
        return floor
    return min(max(total, floor), cap)
