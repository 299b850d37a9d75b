"""The SELU family's one-dimensional reduction: moment curves along the shape variable, polishing.

See :mod:`meanfield.solver` (section "Reduction to one variable") for the mathematics: every family
is ``lam * x`` for ``x > 0`` plus ``lam * r * n_t(x)`` for ``x <= 0``, and the eps-independent
curves ``Q(t) = b/a - 1``, ``W(t) = c/a`` of the negative-piece moments are tabulated once per family.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from meanfield.activation_design._solution import _equations
from meanfield.activations import get_activation
from meanfield.engines.closed import family_moments

__all__ = []

_M0 = 1.0 / math.sqrt(2.0 * math.pi)  # E[z; z > 0]
_NEWTON_TARGET = 1e-15


# ------------------------------------------------------------------------------------------------
# the constraint curve of each family


class _Curve:
    """Negative-piece moments ``a, b, c, m`` of one family along its shape variable ``t``."""

    def __init__(self, family, lo, hi, size, cyclic):
        self.family = family
        self.cyclic = cyclic
        self.lo, self.hi = lo, hi
        self.period = hi - lo
        self.grid = np.linspace(lo, hi, size, endpoint=not cyclic)
        self.names = ("lam", "alpha") if family == "dselu" else ("lam", "alpha", "beta")
        self.template = get_activation(family, **dict.fromkeys(self.names, 1.0)).template

    def params(self, t, r, lam):
        """Activation parameters (arrays) for shape ``t``, scale ``r`` and ``lam``."""
        t, r, lam = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, r, lam)))
        if self.family == "dselu":
            return {"lam": lam, "alpha": r}
        if self.family == "sselu":
            return {"lam": lam, "alpha": r, "beta": np.exp(t)}
        return {"lam": lam, "alpha": r * np.cos(t), "beta": r * np.sin(t)}

    def shape_of(self, params):
        """Inverse of :meth:`params`: ``(t, r)`` of a parameter dict."""
        if self.family == "dselu":
            return 0.0, params["alpha"]
        if self.family == "sselu":
            return math.log(params["beta"]), params["alpha"]
        return math.atan2(params["beta"], params["alpha"]), math.hypot(params["alpha"], params["beta"])

    def moments(self, t, quantities="abcm"):
        """``{name: array}`` of the negative-piece moments at ``lam = r = 1`` (module docstring).

        lSELU's ``a, b, c`` are quadratic and ``m`` linear forms in ``(cos t, sin t)``: their
        coefficients come from :func:`family_moments` once (:attr:`forms`), then any ``t`` costs
        a few flops. The other families evaluate :func:`family_moments` at ``t`` directly.
        """
        if self.family == "lselu":
            u, v = np.cos(t), np.sin(t)
            forms = self.forms
            out = {k: forms[k][0] * u * u + 2 * forms[k][1] * u * v + forms[k][2] * v * v
                   for k in "abc" if k in quantities}
            if "m" in quantities:
                out["m"] = forms["m"][0] * u + forms["m"][1] * v
            return out
        return self._direct_moments(t, quantities)

    @functools.cached_property
    def forms(self):
        """lSELU: ``{k: (A11, A12, A22)}`` of ``a, b, c`` and ``{"m": (m1, m2)}`` (from 3 directions)."""
        dirs = np.array([0.0, math.pi / 2, math.pi / 4])  # (1, 0), (0, 1), (1, 1)/sqrt 2
        mom = self._direct_moments(dirs, "abcm")
        out = {}
        for k in "abc":
            x11, x22, diag = mom[k]
            out[k] = (float(x11), float(diag - (x11 + x22) / 2), float(x22))  # diag = (A11 + 2 A12 + A22)/2
        out["m"] = (float(mom["m"][0]), float(mom["m"][1]))
        return out

    def _direct_moments(self, t, quantities):
        p = self.params(t, 1.0, 1.0)
        out = {}
        with np.errstate(all="ignore"):
            if "a" in quantities:
                out["a"] = family_moments(self.template, p, "f2", 0.0, 1.0) - 0.5
            if "b" in quantities:
                out["b"] = family_moments(self.template, p, "df2", 0.0, 1.0) - 0.5
            if "c" in quantities:
                out["c"] = family_moments(self.template, p, "df2", 0.0, 1.0, "var")
            if "m" in quantities:
                out["m"] = family_moments(self.template, p, "f", 0.0, 1.0) - _M0
        return out

    @functools.cached_property
    def table(self):
        """Grid values of ``a, b, c, m`` and ``Q = b/a - 1``, ``W = c/a`` (eps-independent)."""
        tab = self.moments(self.grid)
        tab["Q"] = tab["b"] / tab["a"] - 1
        tab["W"] = tab["c"] / tab["a"]
        for v in tab.values():
            v.setflags(write=False)
        return tab

    def q_of(self, t):
        mom = self.moments(np.asarray(t, dtype=float), "ab")
        return float(mom["b"] / mom["a"] - 1)

    def pairs(self):
        """Index pairs of neighbouring grid points (wrapping around for a cyclic variable)."""
        n = self.grid.size
        i = np.arange(n if self.cyclic else n - 1)
        return i, (i + 1) % n

    def interval(self, i, j):
        lo, hi = self.grid[i], self.grid[j]
        return (lo, hi + self.period) if hi < lo else (lo, hi)

    def canonical(self, t):
        """lSELU without the centralizing equation is even in ``r``: use ``alpha >= 0``."""
        if self.family != "lselu":
            return t
        t = (t + math.pi / 2) % math.pi - math.pi / 2
        return t

    def domain_text(self):
        if self.family == "sselu":
            return f"beta in [{math.exp(self.lo):g}, {math.exp(self.hi):g}]"
        if self.family == "lselu":
            return "every direction of (alpha, beta)"
        return "alpha >= 0"


_CURVES = {
    "dselu": lambda: _Curve("dselu", 0.0, 0.0, 1, False),
    # beta in [1e-2, 1e3]: covers eps from ~1e-5 to ~2e2 at lam_min = 1; below beta = 0.01 the
    # difference b - a ~ beta^4/8 of two O(beta^2) moments loses more than half the digits
    "sselu": lambda: _Curve("sselu", math.log(1e-2), math.log(1e3), 1601, False),
    "lselu": lambda: _Curve("lselu", -math.pi, math.pi, 1440, True),
}


@functools.cache
def _curve(family):
    return _CURVES[family]()



def _newton(fun, x0, max_iter=10):
    """Newton's method for ``fun(X) = 0`` (``X`` rows are points, square system).

    The Jacobian is a central difference with step ``1e-7 max(1, |x|)`` (error ~1e-9 relative,
    so each step gains ~9 digits); all ``2k + 1`` stencil points go in one vectorized call.
    Returns the best ``x`` seen (smallest largest residual).
    """
    x = np.asarray(x0, dtype=float)
    k = x.size
    best_x, best_norm = x, math.inf
    stalls = 0
    for _ in range(max_iter):
        h = 1e-7 * np.maximum(1.0, np.abs(x))
        stencil = np.vstack([x, x + np.diag(h), x - np.diag(h)])
        values = fun(stencil)
        res = values[0]
        norm = float(np.max(np.abs(res))) if np.all(np.isfinite(res)) else math.inf
        if norm < best_norm:
            best_x, best_norm, stalls = x, norm, 0
        else:
            stalls += 1
        if best_norm <= _NEWTON_TARGET or stalls >= 2:
            break
        jac = (values[1:k + 1] - values[k + 1:]).T / (2 * h)
        try:
            step = np.linalg.solve(jac, res)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        x = x - step
    return best_x


def _polish_fixed_lam(curve, t, lam, eps):
    """Newton on ``(r, t)`` at fixed ``lam`` for ``phi(1) = 1 + eps``, ``E f^2 = 1``."""
    a = curve.moments(np.asarray(t), "a")["a"]
    r0 = math.sqrt(max((1 / lam**2 - 0.5) / float(a), 0.0))

    def fun(x):
        return _equations(curve.template, curve.params(x[:, 1], x[:, 0], lam), eps, False)

    x = _newton(fun, [r0, t])
    return {k: float(v) for k, v in curve.params(x[1], x[0], lam).items()}


def _polish_free_lam(curve, t, eps):
    """Newton on ``(lam, r)`` at fixed shape ``t`` for ``phi(1) = 1 + eps``, ``E f^2 = 1``."""
    mom = curve.moments(np.asarray(t), "ab")
    a, b = float(mom["a"]), float(mom["b"])
    r0 = math.sqrt((eps / 2) / (b - (1 + eps) * a))
    lam0 = 1 / math.sqrt(0.5 + r0 * r0 * a)

    def fun(x):
        return _equations(curve.template, curve.params(t, x[:, 1], x[:, 0]), eps, False)

    x = _newton(fun, [lam0, r0])
    return {k: float(v) for k, v in curve.params(t, x[1], x[0]).items()}


def _canonical_params(family, params):
    """lSELU's two equalities are even in (alpha, beta): report the sign with alpha >= 0."""
    if family == "lselu" and (params["alpha"] < 0 or (params["alpha"] == 0 and params["beta"] < 0)):
        return {**params, "alpha": -params["alpha"], "beta": -params["beta"]}
    return params


def _brent_root(fun, lo, hi):
    flo, fhi = fun(lo), fun(hi)
    if flo == 0:
        return lo
    if fhi == 0:
        return hi
    from scipy import optimize  # lazily: scipy.optimize adds ~0.3-0.6 s to `import meanfield`

    return optimize.brentq(fun, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=200)


def _level_set(curve, level):
    """All ``t`` with ``Q(t) = level`` (sign changes of ``Q - level`` on the grid, then brentq)."""
    q = curve.table["Q"]
    i, j = curve.pairs()
    s = q - level
    hits = np.flatnonzero((s[i] == 0) | (s[i] * s[j] < 0))
    roots = []
    for k in hits:
        lo, hi = curve.interval(i[k], j[k])
        roots.append(_brent_root(lambda t: curve.q_of(t) - level, lo, hi))
    return roots


def _q_range_text(curve, factor):
    """Solvable eps range ``factor * Q`` over the grid, as text."""
    q = curve.table["Q"]
    hi = factor * float(np.max(q))
    if curve.cyclic or curve.family == "dselu":
        return f"0 < eps < {hi:.6g}" if curve.family == "dselu" else f"0 < eps <= {hi:.6g}"
    lo = factor * float(max(min(q[0], q[-1]), 0.0))
    return f"{lo:.6g} <= eps <= {hi:.6g} (scanned {curve.domain_text()})"


