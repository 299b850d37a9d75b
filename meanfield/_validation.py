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
    "check_activation_output",
    "check_real_type",
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
        If any entry is NaN or infinite, not real, or outside the range; if ``value`` is a
        string, bytes, a boolean or None (or an array of them), naming the type.
    """
    check_real_type(value, name)
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


#: Types that convert to float but are not numbers: ``float("2")``, ``float(True)``.
_NOT_NUMBERS = (str, bytes, bytearray, bool, np.bool_, type(None))


def check_real_type(value, name: str):
    """Refuse strings, bytes, booleans, None and complex numbers where a real number is expected.

    NumPy and ``float`` convert ``"2"``, ``b"1"`` and ``True`` silently; this names the
    argument and the type instead. Arrays and sequences are checked by their dtype (object
    arrays element by element). Returns ``value`` unchanged.

    >>> check_real_type(2.5, "q")
    2.5
    >>> check_real_type("2", "q")
    Traceback (most recent call last):
    ...
    ValueError: q must be a real number, not str; got '2'
    """
    if value is None:
        raise ValueError(f"{name} must be a real number; got None")
    if isinstance(value, _NOT_NUMBERS) or isinstance(value, (complex, np.complexfloating)):
        raise ValueError(f"{name} must be a real number, not {type(value).__name__}; got {value!r}")
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged
            arr = np.asarray(value, dtype=object) if isinstance(value, (list, tuple)) else value
        if arr.dtype.kind in "USbc":
            kind = {"U": "str", "S": "bytes", "b": "bool", "c": "complex"}[arr.dtype.kind]
            raise ValueError(f"{name} must be real numbers, not an array of {kind}")
        if arr.dtype.kind == "O":
            for item in arr.ravel():
                if isinstance(item, (list, tuple)):
                    check_real_type(item, name)
                elif isinstance(item, _NOT_NUMBERS) or isinstance(item, (complex, np.complexfloating)):
                    raise ValueError(f"{name} must be real numbers; got an entry of type "
                                     f"{type(item).__name__}: {item!r}")
    return value


def check_activation_output(values, x, what: str):
    """Check what a user's activation callable returned for the input array ``x``.

    The result must be real numbers of the shape of ``x`` (a scalar is broadcast); ``None``,
    complex values, strings or a different shape are refused with a ValueError that says
    which. Returns the values as an array of ``x``'s float dtype.

    >>> import numpy as np
    >>> check_activation_output(np.zeros(3), np.ones(3), "f")
    array([0., 0., 0.])
    >>> check_activation_output(None, np.ones(3), "f")
    Traceback (most recent call last):
    ...
    ValueError: f must return real numbers of the input's shape (3,); it returned None
    """
    shape = np.shape(x)
    if values is None:
        raise ValueError(f"{what} must return real numbers of the input's shape {shape}; "
                         "it returned None")
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiu":
        got = "complex values" if arr.dtype.kind == "c" else f"values of dtype {arr.dtype}"
        raise ValueError(f"{what} must return real numbers of the input's shape {shape}; "
                         f"it returned {got}")
    if arr.shape != shape:
        if arr.ndim != 0:
            raise ValueError(f"{what} must return real numbers of the input's shape {shape}; "
                             f"it returned shape {arr.shape}")
        arr = np.broadcast_to(arr, shape)
    dtype = x.dtype if getattr(x, "dtype", None) is not None and x.dtype.kind == "f" else np.float64
    return arr.astype(dtype, copy=False)


def check_finite_scalar(value, name: str) -> float:
    """Return ``value`` as a finite Python float, or raise ValueError naming ``name``.

    Strings, bytes, booleans and None are refused (naming the type), though ``float``
    would convert the first three.
    """
    check_real_type(value, name)
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
    check_real_type(value, name)
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
