"""What a pair of user callables does not say: where f' jumps, and f' itself when it is missing.

:meth:`meanfield.Activation.from_callables` uses these so that an activation given only as NumPy
code is integrated correctly: the quadrature engine must split at every kink (a ReLU shifted to
0.3 with its kink undeclared gives phi off by 20% at q = 0.01).
"""

from __future__ import annotations

import numpy as np

__all__ = ["KINK_SEARCH_HALF_WIDTH", "detect_kinks", "detect_kinks_from_values", "numerical_derivative"]

#: Kinks are searched for in ``[-KINK_SEARCH_HALF_WIDTH, KINK_SEARCH_HALF_WIDTH]`` (pass ``kinks=``
#: for kinks farther out; they matter only for inputs of that size).
KINK_SEARCH_HALF_WIDTH = 50.0
#: Grid spacing of the search: kinks closer together than this may be seen as one.
KINK_GRID_STEP = 1e-3
#: A jump of f' between neighbouring grid points counts as a kink when it exceeds this many
#: times the larger of the neighbouring differences (a smooth f' changes by O(h) per step, and
#: its differences vary by O(h^2); a jump stands out by a factor ~1/h).
KINK_JUMP_RATIO = 20.0
#: ... and exceeds this fraction of max |f'| on the grid (rounding noise in flat regions).
KINK_JUMP_FLOOR = 1e-7
#: Bisection steps refining each kink (the bracket shrinks from 1e-3 to below 1e-15 wide).
KINK_BISECTIONS = 45
#: Step of the central differences when f cannot take complex arguments: with the 4th-order
#: stencil the truncation error is ~h^4 |f^(5)|/30 ~ 5e-13 and the rounding error ~eps/h ~ 1e-13,
#: relative to the scale of f' (about 1e-12 for the built-in shapes, see tests).
DIFF_STEP = 1e-3
#: Complex-step size: f'(x) = Im f(x + i h)/h exactly to rounding for analytic f.
COMPLEX_STEP = 1e-20


def _complex_step_works(f):
    probe = np.array([-1.5, 0.25, 2.0])
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(f(probe + 1j * COMPLEX_STEP))
    except Exception:  # noqa: BLE001 - any failure just means "use finite differences"
        return False
    if out.shape != probe.shape or not np.iscomplexobj(out):
        return False
    ref = np.asarray(f(probe), dtype=float)
    deriv = out.imag / COMPLEX_STEP
    # central differences as a sanity check that Im carries the derivative (not abs/max tricks)
    fd = (np.asarray(f(probe + 1e-6), float) - np.asarray(f(probe - 1e-6), float)) / 2e-6
    return bool(np.all(np.isfinite(deriv)) and np.allclose(out.real, ref, rtol=1e-14, atol=1e-300)
                and np.allclose(deriv, fd, rtol=1e-5, atol=1e-6))


def numerical_derivative(f, kinks=()):
    """Return a vectorized ``f'`` for a callable ``f`` with no derivative given.

    Complex step ``Im f(x + i h)/h`` (h = 1e-20, exact to rounding) when ``f`` accepts complex
    arrays and is analytic; otherwise 4th-order central differences with step
    :data:`DIFF_STEP` (accurate to ~1e-12 of the scale of f'), switched to one-sided 4th-order
    differences within two steps of a kink so that no stencil straddles one (f' there is the
    one-sided derivative, from the side the point is on).
    """
    if _complex_step_works(f):
        def complex_step(x):
            x = np.asarray(x, dtype=float)
            with np.errstate(all="ignore"):
                return np.asarray(f(x + 1j * COMPLEX_STEP)).imag / COMPLEX_STEP
        return complex_step
    kinks = np.asarray(sorted(kinks), dtype=float)

    def finite_difference(x):
        x = np.asarray(x, dtype=float)
        h = DIFF_STEP * np.maximum(1.0, np.abs(x))
        with np.errstate(all="ignore"):
            central = (8 * (f(x + h) - f(x - h)) - (f(x + 2 * h) - f(x - 2 * h))) / (12 * h)
            if kinks.size == 0:
                return central
            gap = x[..., None] - kinks
            near = np.abs(gap) < 2 * h[..., None]
            if not near.any():
                return central
            side = np.where(np.take_along_axis(gap, np.argmin(np.abs(gap), axis=-1)[..., None],
                                               axis=-1)[..., 0] >= 0, 1.0, -1.0)
            hs = side * h
            one_sided = (-25 * f(x) + 48 * f(x + hs) - 36 * f(x + 2 * hs) + 16 * f(x + 3 * hs)
                         - 3 * f(x + 4 * hs)) / (12 * hs)
            return np.where(near.any(axis=-1), one_sided, central)
    return finite_difference


def detect_kinks(df, half_width=KINK_SEARCH_HALF_WIDTH):
    """Points in ``[-half_width, half_width]`` where ``df`` jumps, to ~1e-13 relative.

    ``df`` is sampled on a grid of spacing :data:`KINK_GRID_STEP`; a step whose change of
    ``df`` stands out from both neighbouring steps by :data:`KINK_JUMP_RATIO` brackets a kink,
    which bisection (keeping the half with the larger change) narrows to rounding level.

    >>> import numpy as np
    >>> [round(k, 12) for k in detect_kinks(lambda x: (x > 0.3).astype(float))]
    [0.3]
    """
    grid = np.arange(-half_width, half_width + KINK_GRID_STEP / 2, KINK_GRID_STEP)
    with np.errstate(all="ignore"):
        d = np.asarray(df(grid), dtype=float)
    if d.shape != grid.shape or not np.all(np.isfinite(d)):
        return ()
    step = np.abs(np.diff(d))
    floor = KINK_JUMP_FLOOR * max(float(np.max(np.abs(d))), 1e-300)
    neighbours = np.maximum(np.concatenate([[0.0], step[:-1]]), np.concatenate([step[1:], [0.0]]))
    candidates = np.flatnonzero((step > KINK_JUMP_RATIO * neighbours) & (step > floor))
    kinks = []
    for i in candidates:
        lo, hi = grid[i], grid[i + 1]
        d_lo, d_hi = d[i], d[i + 1]
        for _ in range(KINK_BISECTIONS):
            mid = 0.5 * (lo + hi)
            if mid in (lo, hi):
                break
            with np.errstate(all="ignore"):
                d_mid = float(np.asarray(df(np.array([mid])), dtype=float)[0])
            if abs(d_mid - d_lo) >= abs(d_hi - d_mid):
                hi, d_hi = mid, d_mid
            else:
                lo, d_lo = mid, d_mid
        if abs(d_hi - d_lo) > floor:  # a jump, not a steep smooth stretch
            point = 0.5 * (lo + hi)
            kinks.append(0.0 if abs(point) < 1e-14 else float(point))
    return tuple(kinks)


#: Zoom factor and depth of :func:`detect_kinks_from_values`: each round samples the bracket at
#: this many sub-intervals and keeps the two around the largest change of slope.
ZOOM_POINTS = 16
ZOOM_ROUNDS = 20


def detect_kinks_from_values(f, half_width=KINK_SEARCH_HALF_WIDTH):
    """Kinks of ``f`` from its values alone (no derivative given): jumps of difference quotients.

    Slopes ``(f(x_{i+1}) - f(x_i))/h`` on the grid change by ``O(h f'')`` per step where ``f``
    is smooth and by the jump of ``f'`` across a kink; each such step is zoomed into
    (:data:`ZOOM_POINTS` sub-intervals, :data:`ZOOM_ROUNDS` rounds) to ~1e-13 relative.

    >>> import numpy as np
    >>> [round(k, 10) for k in detect_kinks_from_values(lambda x: np.maximum(x - 0.3, 0))]
    [0.3]
    """
    grid = np.arange(-half_width, half_width + KINK_GRID_STEP / 2, KINK_GRID_STEP)
    with np.errstate(all="ignore"):
        values = np.asarray(f(grid), dtype=float)
    if values.shape != grid.shape or not np.all(np.isfinite(values)):
        return ()
    slopes = np.diff(values) / np.diff(grid)
    change = np.abs(np.diff(slopes))
    floor = KINK_JUMP_FLOOR * max(float(np.max(np.abs(slopes))), 1e-300)
    neighbours = np.maximum(np.concatenate([[0.0], change[:-1]]), np.concatenate([change[1:], [0.0]]))
    candidates = np.flatnonzero((change > KINK_JUMP_RATIO * neighbours) & (change > floor))
    kinks = []
    for i in candidates:
        lo, hi = grid[i], grid[i + 2]
        for _ in range(ZOOM_ROUNDS):
            if hi - lo < 1e-13 * max(1.0, abs(lo)):
                break
            pts = np.linspace(lo, hi, ZOOM_POINTS + 1)
            with np.errstate(all="ignore"):
                slope = np.diff(np.asarray(f(pts), dtype=float)) / np.diff(pts)
            j = int(np.argmax(np.abs(np.diff(slope))))
            lo, hi = pts[j], pts[j + 2]
        point = 0.5 * (lo + hi)
        kinks.append(0.0 if abs(point) < 1e-13 else float(point))
    return tuple(kinks)
