"""Argument checks shared by the public API.

Every public function validates its numeric arguments here, so that bad input
fails early with a :class:`ValueError` that names the argument and its valid
range, instead of propagating a silent NaN.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["as_real_array", "check_finite_scalar", "check_sign"]


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


def check_sign(sign) -> int:
    """Return ``sign`` as +1 or -1, or raise ValueError."""
    if sign not in (1, -1):
        raise ValueError(f"sign must be +1 or -1; got {sign!r}")
    return int(sign)
