"""Argument checks shared by the public API.

Every public function validates its numeric arguments here, so that bad input
fails early with a :class:`ValueError` that names the argument and its valid
range, instead of propagating a silent NaN.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "as_real_array",
    "check_finite_scalar",
    "check_input_moments",
    "check_int",
    "check_positive_scalar",
    "check_seed",
    "check_sign",
]


def as_real_array(value, name: str, *, positive: bool = False, nonnegative: bool = False):
    """Return ``value`` as a float64 array after checking it.

    Parameters
    ----------
    value : array_like
        The argument to check.
    name : str
        The argument's public name, used in the error message.
    positive, nonnegative : bool
        Require every entry to be ``> 0`` or ``>= 0``.

    Raises
    ------
    ValueError
        If any entry is NaN or infinite, not real, or outside the range.
    """
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number or array of real numbers; got {value!r}") from exc
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ValueError(f"{name} must be finite; got {bad}")
    if positive and np.any(arr <= 0):
        bad = arr[arr <= 0].ravel()[0]
        raise ValueError(f"{name} must be > 0 (valid range: (0, inf)); got {bad}")
    if nonnegative and np.any(arr < 0):
        bad = arr[arr < 0].ravel()[0]
        raise ValueError(f"{name} must be >= 0 (valid range: [0, inf)); got {bad}")
    return arr


def check_finite_scalar(value, name: str) -> float:
    """Return ``value`` as a finite Python float, or raise ValueError naming ``name``."""
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number; got {value!r}") from exc
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite; got {out}")
    return out


def check_positive_scalar(value, name: str) -> float:
    """Return ``value`` as a finite Python float ``> 0``, or raise ValueError naming ``name``.

    >>> check_positive_scalar(2, "weight_var")
    2.0
    >>> check_positive_scalar(0.0, "weight_var")
    Traceback (most recent call last):
    ...
    ValueError: weight_var must be > 0 and finite (valid range: (0, inf)); got 0.0
    """
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number > 0 (valid range: (0, inf)); "
                         f"got {value!r}") from exc
    if not (math.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be > 0 and finite (valid range: (0, inf)); got {out}")
    return out


def check_int(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int ``>= minimum``, or raise ValueError naming ``name``.

    Booleans and floats (even integral ones) are rejected.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum} "
                         f"(valid range: [{minimum}, inf)); got {value!r}")
    return int(value)


def check_seed(seed, name: str = "seed") -> int:
    """Return ``seed`` as a Python int in ``[0, 2**63 - 1]``, or raise ValueError naming ``name``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{name} must be a non-negative integer; got {seed!r}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"{name} must be in [0, 2**63 - 1]; got {seed}")
    return int(seed)


def check_input_moments(input_mean, input_var) -> tuple[float, float]:
    """Check the mean and variance of a simulated net's input entries; return them as floats.

    ``input_mean`` must be finite, ``input_var >= 0``, and the second moment
    ``input_var + input_mean**2`` must be ``> 0`` and finite. Shared by
    :func:`meanfield.simulation.simulate` and :func:`meanfield.trace_theory.theory_profile`.

    >>> check_input_moments(0, 1)
    (0.0, 1.0)
    """
    input_mean = check_finite_scalar(input_mean, "input_mean")
    input_var = check_finite_scalar(input_var, "input_var")
    if input_var < 0:
        raise ValueError(f"input_var must be >= 0 (valid range: [0, inf)); got {input_var}")
    second_moment = input_var + input_mean * input_mean  # inf (not OverflowError) past 1.8e308
    if second_moment <= 0:
        raise ValueError("input_var + input_mean**2 (the input second moment) must be > 0; "
                         "got input_var=0 and input_mean=0")
    if not math.isfinite(second_moment):
        raise ValueError(f"input_var + input_mean**2 (the input second moment) must be finite "
                         f"(<= 1.8e308); got input_mean={input_mean:g}, input_var={input_var:g}")
    return input_mean, input_var


def check_sign(sign) -> int:
    """Return ``sign`` as +1 or -1, or raise ValueError."""
    if sign not in (1, -1):
        raise ValueError(f"sign must be +1 or -1; got {sign!r}")
    return int(sign)
