r"""The ``quadrature`` engine: fast, vectorized Gaussian expectations of any activation.

Everything is computed in the standardized variable ``z = (x - m)/s``, ``s = sqrt(v)``,

.. math::

    E[g(x)] = \int g(m + s z)\, \varphi(z)\, dz, \qquad
    \varphi(z) = e^{-z^2/2} / \sqrt{2\pi},

over the window ``|z| <= Z`` (:data:`meanfield.tolerances.Z_CUTOFF` = 9, widened where
needed, see below). Derivatives use the Gaussian score identities with the polynomial
factor ``P`` folded into the weights of the same rule (one sum of one product
integrand, never a difference of two separately computed integrals):

.. math::

    \partial_m E[g] = \frac{1}{s} E[g(x)\, z], \qquad
    \partial_v E[g] = \frac{1}{2v} E[g(x)\,(z^2 - 1)].

**Direct rule.** The activation may have kinks (``g`` or ``g'`` jumps) and a finest
feature of width ``scale`` in ``x`` located at a kink or at ``x = 0`` (curvature of a
smooth activation, the ``e^{beta x}`` branch of sSELU). In ``z`` such a feature has width
``w = scale/s``, which is tiny when ``v`` is large. The integration mesh is the union of

* a fixed *base mesh* resolving the Gaussian: ``0, +-1.2, +-2.5, +-4, +-6, +-Z``;
* every *feature point* ``c = (k - m)/s``, the z-images of the kinks and of ``x = 0``;
* a *graded near mesh* ``c +- w u_j``, ``u_j = 1, 2.5, 5, 9, 16, 30``, up to the first
  point farther than 1.2 from ``c``: geometric grading toward the feature down to its own
  width, so that a boundary layer such as ``e^{2 beta x}`` (width ``1/(2 beta s)`` in
  ``z``, 1e-5 for sSELU with beta = 50 at q = 1e6) or the ``1/sqrt(q)``-wide shoulder of
  GELU, softplus or tanh at large ``q`` is resolved. Beyond ``30 w`` every built-in
  feature has decayed by more than ``e^{-30}``.

Each element carries a 12-point Gauss-Legendre rule for ``g(m + s z) phi(z) P(z)``.
Values are bucketed by their number of mesh points, so that each bucket is one vectorized
NumPy evaluation of ``g`` on a ``(values, nodes)`` array (in cache-sized chunks); the rule
for a scalar ``(m, v)`` is cached. Measured against 30-digit mpmath the error is below
``1e-14`` of ``E[|g P|]`` for every built-in activation and derivative
(``tests/test_quadrature.py``; ``benchmarks/quadrature_notes.md``).

**Window.** Two cases need more than ``|z| <= 9``, and get it automatically:

* a feature point in the Gaussian tail (``3 <= |c| < 37``): the integrand may live only
  beyond it (ReLU at ``m = -6 s``, a value ~1e-10). The window then extends to
  ``sqrt(c^2 + 74)``, where ``phi`` has dropped by ``e^-37`` relative to ``phi(c)``, and
  the near mesh is graded to the Gaussian's local decay length ``1/|c|``;
* an integrand tilted by exponential growth (``E[e^x]`` at ``v = 16`` peaks at ``z = 4``):
  every pass estimates the mass beyond each edge (density at the outermost node over the
  Gaussian's decay rate) and recomputes the values where it exceeds ``1e-15`` of
  ``E[|g P|]`` with that edge doubled, up to ``|z| = 40`` (``phi(40)`` underflows).

Extended windows get Gaussian-scale mesh points every 1.5 in ``z``.

**Chebyshev proxy for large arrays.** For fixed ``m`` the map
``J(t) = E[g(m + e^t z) P(z)]``, ``t = ln s``, is analytic in the strip ``|Im t| < pi/4``
whatever ``g`` is (``J = int g(y) phi((y - m) e^{-t}) e^{-t} dy``, and the Gaussian kernel
keeps decaying while ``|arg e^{-2t}| < pi/2``). So when many values share a mean, each
panel ``t in [k ln 4, (k+1) ln 4)`` holding at least 56 values is sampled with the direct
rule at 28 Chebyshev points and interpolated. The samples are divided by a log-linear fit
``exp(a0 + a1 theta)`` of the natural scale ``E[|g P|]``, so that the interpolation error
is relative to each value's own scale rather than to the panel's largest value. A panel
falls back to the direct rule unless its last three Chebyshev coefficients are below
``1e-14`` and the fit stays within a factor 8 of ``E[|g P|]`` at every sample. This makes
a map over ten thousand ``q`` values cost ~170 direct evaluations plus a Clenshaw sum per
value; it agrees with the direct rule to ~1e-14 of ``E[|g P|]``.

Limitations: ``g`` must be elementwise and its features no finer than ``scale`` (a user
activation with unresolved structure, e.g. ``sin(50 x)`` with ``scale=1``, is integrated
inaccurately); integrands growing faster than ``e^{40 |z|}`` in ``z`` are truncated.

>>> import numpy as np
>>> from meanfield.activations import get_activation
>>> relu = get_activation("relu")
>>> float(QuadratureEngine().expect(relu, "df2", 0.0, 1e3))  # phi of ReLU
0.5
"""

from __future__ import annotations

import functools
import math

import numpy as np

from meanfield.engines._interface import DERIVATIVES, QUANTITIES
from meanfield.engines._quadrature_proxy import _PROXY_MIN_COUNT, chebyshev_proxy
from meanfield.tolerances import Z_CUTOFF

__all__ = ["QuadratureEngine", "gauss_expectation", "gauss_expectation_weighted"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

#: Gauss-Legendre order per mesh element. With the meshes below, 12 nodes integrate
#: every built-in activation's f, f^2 and f'^2 (times 1, z, z^2 - 1) to ~1e-15 of
#: E[|g P|] on the acceptance grids (< 1e-13 at random (mean, var)); 10 nodes leave
#: ~3e-13 there (erf and GELU derivatives), 14 gain nothing measurable.
_GL_ORDER = 12
_GL_T, _GL_W = np.polynomial.legendre.leggauss(_GL_ORDER)

#: Interior points of the base mesh in z. Elements are at most 2 wide where the Gaussian
#: carries its mass and wider only in the tails, where phi(z) < 1e-4; 12 nodes integrate
#: phi(z) z^k (k <= 8) on every element to < 1e-17 of E[|z|^k].
_BASE_INTERIOR = (1.2, 2.5, 4.0, 6.0)
_BASE_MESH = np.array(sorted({0.0, -Z_CUTOFF, Z_CUTOFF,
                              *(p for b in _BASE_INTERIOR if b < Z_CUTOFF for p in (b, -b))}))

#: Graded near mesh around a feature point c: c +- w * u for these u, with w = scale/s the
#: feature width in z. Ratios 1.8-2.5 keep an exponential or pole-type feature (poles of
#: tanh at distance pi/2 in units of scale) inside each element's convergence ellipse; at
#: u = 30 every built-in feature has decayed by > e^-30, so the element from there to the
#: next base point only sees the activation's smooth asymptote.
_NEAR_MULTIPLES = np.array([1.0, 2.5, 5.0, 9.0, 16.0, 30.0])
_NEAR_PREVIOUS = np.concatenate([[0.0], _NEAR_MULTIPLES[:-1]])

#: The near mesh stops at the first point beyond this distance from its feature point: from
#: there on the base mesh (spacing <= 1.5 near the centre) resolves unit-width structure,
#: and the last near element is no longer than its distance to the feature.
_NEAR_REACH = 1.2

#: Feature points this far out in the Gaussian tail (|c| >= _TAIL_START) get the window
#: extended past them to sqrt(c^2 + 2 _TAIL_LOG), where phi has dropped by e^-37 ~ 1e-16
#: relative to phi(c), and a near mesh graded to the Gaussian's local decay length 1/|c|.
#: Then an integrand that lives only beyond a kink in the tail (ReLU at mean -6 s: value
#: ~1e-10) keeps its relative accuracy instead of losing the part beyond |z| = Z. Below 3,
#: the base mesh already resolves phi there relative to its local size. Beyond _TAIL_LIMIT
#: phi(c) < 1e-297 is at the edge of float64's range and the feature point is ignored.
_TAIL_START = 3.0
_TAIL_LOG = 37.0
_TAIL_LIMIT = 37.0

#: Largest window half-width: phi(40) = 1e-348 underflows, nothing beyond can count.
_Z_MAX = 40.0
#: A value whose integrand's estimated mass beyond an edge of the window exceeds this
#: fraction of E[|g P|] gets that edge doubled (9 -> 18 -> 36 -> 40, _EDGE_ROUNDS times).
#: Polynomially growing integrands (x^2 (z^2 - 1)) stay below it at |z| = 9; an integrand
#: tilted by e^(kx) with k sqrt(v) ~ 1.5 or more does not.
_EDGE_TOL = 1e-15
_EDGE_ROUNDS = 3
#: Gaussian-scale mesh points across an extended window (beyond |z| = Z), spaced like the
#: base mesh's outer part.
_EXTENSION = np.arange(Z_CUTOFF + 1.5, _Z_MAX, 1.5)

#: Mesh points closer than this (in z) are merged: an element that narrow carries less than
#: 1e-14 of the Gaussian mass, below float64 resolution of any O(1) expectation.
_MIN_ELEMENT = 1e-14

#: Target number of quadrature nodes in one vectorized chunk: (values x nodes) temporaries
#: of ~32k doubles (256 KiB) stay in L2 cache, which is ~1.5x faster than one huge array.
_CHUNK_NODES = 1 << 15

#: Direct rules of this many distinct scalar (mean, var, activation layout) calls are cached:
#: solvers call the maps at the same few points over and over.
_SCALAR_CACHE_SIZE = 256




def gauss_expectation(g, mean, var, *, kinks=(), scale=1.0):
    r"""Return ``E[g(x)]`` for ``x ~ N(mean, var)``, split at kinks and graded at features.

    .. math:: E[g(x)] = \int g(m + \sqrt{v}\, z)\, \varphi(z)\, dz

    computed with the composite Gauss-Legendre rule of the module docstring over
    ``|z| <= 9`` (widened automatically for tail kinks and exponentially growing ``g``).

    Parameters
    ----------
    g : callable
        Elementwise, vectorized NumPy function (``g(x)[i]`` depends on ``x[i]`` only).
        It is called with 2-D float64 arrays of shape ``(values, nodes)``.
    mean, var : array_like
        Mean and variance (``var > 0``; validated by the caller), broadcast together.
    kinks : sequence of float
        x-locations where ``g`` or ``g'`` jumps; the rule splits there.
    scale : float
        Width in ``x`` of ``g``'s finest feature (at its kinks or at ``x = 0``), e.g.
        ``1/beta`` for sSELU; the mesh is graded down to ``scale/sqrt(var)`` in ``z``.

    Returns
    -------
    ndarray
        Array of the broadcast shape of ``mean`` and ``var`` (0-d for scalars).

    Examples
    --------
    >>> float(gauss_expectation(lambda x: x * x, 0.5, 2.0))  # var + mean^2
    2.25
    >>> import numpy as np
    >>> relu = lambda x: np.maximum(x, 0.0)
    >>> float(gauss_expectation(relu, 0.0, 4.0, kinks=[0.0]))  # sqrt(var / (2 pi))
    0.797884560802865
    """
    return _expect(g, mean, var, kinks, scale, None)


def gauss_expectation_weighted(g, mean, var, derivative, *, kinks=(), scale=1.0):
    r"""``d E[g(x)] / d mean = E[g z]/s`` or ``d E[g(x)] / d var = E[g (z^2 - 1)]/(2 v)``.

    The derivative of :func:`gauss_expectation` for a ``g`` that does not depend on ``mean`` or
    ``var`` itself, by the Gaussian score identities in one rule (see the module docstring).

    >>> float(gauss_expectation_weighted(lambda x: x * x, 0.5, 2.0, "var"))  # d(v + m^2)/dv
    1.0
    """
    if derivative not in ("mean", "var"):
        raise ValueError(f"derivative must be 'mean' or 'var'; got {derivative!r}")
    return _expect(g, mean, var, kinks, scale, derivative)


class QuadratureEngine:
    """Quadrature engine: any activation with NumPy ``f``/``f'``, split at its kinks.

    ``expect(act, quantity, mean, var, derivative)`` returns ``E[g]``,
    ``dE[g]/dmean = E[g z]/s`` or ``dE[g]/dvar = E[g (z^2 - 1)]/(2 v)`` for the integrand
    ``g = f``, ``f^2`` or ``f'^2`` (quantity ``"f"``, ``"f2"``, ``"df2"``), using
    ``act.kinks`` and ``act.scale`` (see the module docstring).
    """

    name = "quadrature"

    def supports(self, act, quantity):
        """Every activation with NumPy callables is supported."""
        return True

    def unsupported_reason(self, act, quantity):
        """Never needed (:meth:`supports` is always true)."""
        return ""

    def expect(self, act, quantity, mean, var, derivative=None):
        r"""Return ``E[g(x)]``, x ~ N(mean, var), or its derivative in ``mean`` or ``var``.

        .. math::

            \frac{\partial E[g]}{\partial m} = \frac{E[g(x)\,(x - m)]}{v}, \qquad
            \frac{\partial E[g]}{\partial v} = \frac{E[g(x)\,((x - m)^2 - v)]}{2 v^2},

        each integrated as one product integrand in one rule.

        Parameters
        ----------
        act : Activation
            Supplies ``f``, ``df`` (NumPy callables), ``kinks`` and ``scale``.
        quantity : {"f", "f2", "df2"}
            Integrand ``f(x)``, ``f(x)^2`` or ``f'(x)^2``.
        mean, var : array_like
            Validated float arrays (``var > 0``) that broadcast together.
        derivative : {None, "mean", "var"}

        Returns
        -------
        ndarray
            Broadcast shape of ``mean`` and ``var``.

        Raises
        ------
        ValueError
            Unknown ``quantity`` or ``derivative``.
        """
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity must be one of {QUANTITIES}; got {quantity!r}")
        if derivative not in DERIVATIVES:
            raise ValueError(f"derivative must be one of {DERIVATIVES}; got {derivative!r}")
        if derivative is not None and act.template is not None and not act.kinks:
            small = np.broadcast_to(np.asarray(var, float) < STEIN_VAR_SWITCH,
                                    np.broadcast_shapes(np.shape(mean), np.shape(var)))
            if small.any():
                return self._stein(act, quantity, mean, var, derivative, small)
        f, df = act.f, act.df
        if quantity == "f":
            g = f
        elif quantity == "f2":
            def g(x):
                return np.square(f(x))
        else:
            def g(x):
                return np.square(df(x))
        return _expect(g, mean, var, act.kinks, act.scale, derivative)


    def _stein(self, act, quantity, mean, var, derivative, small):
        """Derivatives at small ``var`` by Stein's lemma / the heat equation (smooth templates).

        ``d E[g]/d mean = E[g'(x)]`` and ``d E[g]/d var = E[g''(x)]/2``: no cancellation, where
        the score form ``E[g (z^2 - 1)]/(2v)`` loses ``eps |g| / (v |g''|)`` (``dphi_dq('tanh',
        1e-20)`` came out +4510 instead of -2). Values with ``var >= STEIN_VAR_SWITCH`` keep the
        score form (the lambdified ``g''`` of a template may overflow far out in the tails).
        """
        order = 1 if derivative == "mean" else 2
        h = _template_derivative(act.template, tuple(act.params), quantity, order)
        params = act.params

        def integrand(x):
            with np.errstate(all="ignore"):
                out = h(x, *params.values())
            return np.broadcast_to(out, np.shape(x)) * (0.5 if order == 2 else 1.0)

        mean, var = np.broadcast_arrays(np.asarray(mean, float), np.asarray(var, float))
        out = np.empty(mean.shape)
        out[small] = _expect(integrand, mean[small], var[small], (), act.scale, None)
        if (~small).any():
            out[~small] = self.expect(act.with_params(), quantity, mean[~small] * 1.0,
                                      np.maximum(var[~small], STEIN_VAR_SWITCH), derivative)
        return out


#: Below this variance the quadrature engine takes derivatives by Stein's lemma (smooth
#: templates): the score form's cancellation error eps/v reaches 2e-14 relative here.
STEIN_VAR_SWITCH = 1e-2


@functools.lru_cache(maxsize=64)
def _template_derivative(template, names, quantity, order):
    """Lambdified ``d^order g / dx^order`` for ``g = f, f^2, f'^2`` of a template."""
    import sympy as sp

    from meanfield.expressions import X, lambdify_renamed

    g = {"f": template, "f2": template**2, "df2": sp.diff(template, X) ** 2}[quantity]
    symbols = [sp.Symbol(n, real=True) for n in names]  # renamed: a parameter "pi" stays one
    return lambdify_renamed([X, *symbols], sp.diff(g, X, order), modules=["numpy", "scipy"])


# ------------------------------------------------------------------------------------------
# implementation


def _expect(g, mean, var, kinks, scale, weight):
    """``E[g P]`` times the derivative factor; ``weight`` selects ``P`` (see module doc)."""
    mean, var = np.broadcast_arrays(np.asarray(mean, dtype=float), np.asarray(var, dtype=float))
    shape = mean.shape
    m = mean.ravel()
    v = var.ravel()
    scale = float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and > 0; got {scale}")
    features = np.array(sorted({0.0, *(float(k) for k in kinks)}))
    s = np.sqrt(v)
    out = np.empty(m.shape)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        todo = np.ones(m.shape, dtype=bool)
        if m.size >= _PROXY_MIN_COUNT:
            chebyshev_proxy(_direct, g, m, s, features, scale, weight, out, todo)
        idx = np.flatnonzero(todo)
        if idx.size:
            out[idx] = _direct(g, m[idx], s[idx], features, scale, weight)[0]
        if weight == "mean":
            out /= s
        elif weight == "var":
            out /= 2.0 * v
    return out.reshape(shape)


def _mesh(m, s, features, scale, lo, hi):
    """Sorted mesh points in z, one row per value, ``inf``-padded; and their counts.

    ``lo``, ``hi``: requested window half-widths (``>= Z``) below and above ``z = 0``.
    """
    n = m.size
    w = (scale / s)[:, None]
    c = (features - m[:, None]) / s[:, None]  # feature points, (n, F)
    ac = np.abs(c)
    used = ac < _TAIL_LIMIT
    tail = used & (ac >= _TAIL_START)
    z_hi, z_lo = hi[:, None], -lo[:, None]
    wc, out_reach = w, _NEAR_REACH
    if tail.any():
        # beyond a tail feature point the window reaches where phi has dropped by e^-_TAIL_LOG,
        # graded to the Gaussian's decay length 1/|c| there
        edge = np.where(tail, np.sqrt(c * c + 2.0 * _TAIL_LOG), 0.0)
        z_hi = np.maximum(z_hi, np.max(np.where(c > 0, edge, 0.0), axis=1, keepdims=True))
        z_lo = np.minimum(z_lo, -np.max(np.where(c < 0, edge, 0.0), axis=1, keepdims=True))
        wc = np.where(tail, np.minimum(w, 1.0 / np.where(tail, ac, 1.0)), w)
        out_reach = np.where(tail, np.maximum(_NEAR_REACH, edge - ac), _NEAR_REACH)
    parts = [np.broadcast_to(_BASE_MESH, (n, _BASE_MESH.size)), np.where(used, c, np.inf)]
    if np.any(z_hi > Z_CUTOFF) or np.any(z_lo < -Z_CUTOFF):
        # Gaussian-scale points across an extended window: a tilted integrand (e^(kx) phi)
        # can peak anywhere in it
        parts += [z_lo, z_hi, np.where(_EXTENSION < z_hi, _EXTENSION, np.inf),
                  np.where(-_EXTENSION > z_lo, -_EXTENSION, np.inf)]
    offset = wc[:, :, None] * _NEAR_MULTIPLES  # (n, F or 1, U)
    before = wc[:, :, None] * _NEAR_PREVIOUS
    lo3, hi3 = z_lo[:, :, None], z_hi[:, :, None]
    for sign, outward in ((1.0, c >= 0), (-1.0, c <= 0)):
        p = c[:, :, None] + sign * offset
        reach = np.where(outward, out_reach, _NEAR_REACH)[:, :, None]
        keep = (before < reach) & (p > lo3) & (p < hi3) & used[:, :, None]
        parts.append(np.where(keep, p, np.inf).reshape(n, -1))
    pts = np.concatenate(parts, axis=1)
    pts.sort(axis=1)
    with np.errstate(invalid="ignore"):  # inf - inf in the padding
        dup = (pts[:, 1:] - pts[:, :-1] < _MIN_ELEMENT) & np.isfinite(pts[:, 1:])
    if dup.any():
        pts[:, 1:][dup] = np.inf
        pts.sort(axis=1)
    count = np.isfinite(pts).sum(axis=1)
    return pts, count


def _nodes(p, weight):
    """The rule on mesh rows ``p`` (all finite): nodes ``z``, weights, edge factors.

    The weights are ``w_i phi(z_i) P(z_i)``. The edge factors turn the first and last
    terms ``g w`` into estimates of the integrand's mass beyond the window's edges: the
    density ``|g phi P|`` at the outermost node divided by the Gaussian's decay rate there.
    """
    rows, cnt = p.shape
    half = 0.5 * (p[:, 1:] - p[:, :-1])
    mid = 0.5 * (p[:, 1:] + p[:, :-1])
    z = (mid[:, :, None] + half[:, :, None] * _GL_T).reshape(rows, (cnt - 1) * _GL_ORDER)
    wz = (half[:, :, None] * (_INV_SQRT_2PI * _GL_W)).reshape(z.shape)
    # |g w| at the outermost node / (half w_GL) = density there; the Gaussian decays at rate
    # ~|z| beyond the window edge (|z| >= Z there), so density/|z| estimates the mass beyond
    edge = np.stack([1.0 / (half[:, 0] * _GL_W[0] * -p[:, 0]),
                     1.0 / (half[:, -1] * _GL_W[-1] * p[:, -1])], axis=1)
    wz *= np.exp(-0.5 * z * z)
    if weight == "mean":
        wz *= z
    elif weight == "var":
        wz *= z * z - 1.0
    return z, wz, edge


@functools.lru_cache(maxsize=_SCALAR_CACHE_SIZE)
def _scalar_rule(m, s, features, scale, weight, lo, hi):
    """Cached nodes ``x``, weights and edge factors for one ``(m, s)`` (repeated scalar calls)."""
    pts, count = _mesh(np.array([m]), np.array([s]), np.array(features), scale,
                       np.array([lo]), np.array([hi]))
    z, wz, edge = _nodes(pts[:, :count[0]], weight)
    x = m + s * z
    for a in (x, wz, edge):
        a.flags.writeable = False
    return x, wz, edge


def _direct_pass(g, m, s, features, scale, weight, lo, hi):
    """One pass of the direct rule: ``E[g P]``, ``E[|g P|]`` and the mass beyond each edge."""
    if m.size == 1:
        x, wz, edge = _scalar_rule(float(m[0]), float(s[0]), tuple(features), scale, weight,
                                   float(lo[0]), float(hi[0]))
        gw = g(x.copy()) * wz
        return (gw.sum(axis=1), np.abs(gw).sum(axis=1),
                np.abs(gw[:, [0, -1]]) * edge)
    J = np.empty(m.shape)
    S = np.empty(m.shape)
    beyond = np.empty(m.shape + (2,))
    pts, count = _mesh(m, s, features, scale, lo, hi)
    for cnt in np.unique(count):
        rows = np.flatnonzero(count == cnt)
        step = max(1, _CHUNK_NODES // ((cnt - 1) * _GL_ORDER))
        for start in range(0, rows.size, step):
            r = rows[start:start + step]
            z, wz, edge = _nodes(pts[r, :cnt], weight)
            gw = g(m[r, None] + s[r, None] * z) * wz
            J[r] = gw.sum(axis=1)
            S[r] = np.abs(gw).sum(axis=1)
            beyond[r] = np.abs(gw[:, [0, -1]]) * edge
    return J, S, beyond


def _direct(g, m, s, features, scale, weight):
    """Direct composite rule: ``(E[g P], E[|g P|])`` for 1-D arrays ``m``, ``s``.

    Values whose integrand still carries more than ``_EDGE_TOL`` of ``E[|g P|]`` beyond an
    edge of the window (exponentially tilted integrands such as ``e^(kx)`` with
    ``k sqrt(v)`` above ~1.5) are recomputed with that edge moved out, doubling up to ``_Z_MAX``.
    """
    lo = np.full(m.shape, Z_CUTOFF)
    hi = np.full(m.shape, Z_CUTOFF)
    J, S, beyond = _direct_pass(g, m, s, features, scale, weight, lo, hi)
    idx = np.arange(m.size)
    for _ in range(_EDGE_ROUNDS):
        grow = (beyond > _EDGE_TOL * S[idx, None]) & (np.stack([lo[idx], hi[idx]], axis=1) < _Z_MAX)
        keep = grow.any(axis=1)
        if not keep.any():
            break
        idx, grow = idx[keep], grow[keep]
        lo[idx] = np.where(grow[:, 0], np.minimum(2.0 * lo[idx], _Z_MAX), lo[idx])
        hi[idx] = np.where(grow[:, 1], np.minimum(2.0 * hi[idx], _Z_MAX), hi[idx])
        J[idx], S[idx], beyond = _direct_pass(g, m[idx], s[idx], features, scale, weight,
                                              lo[idx], hi[idx])
    return J, S
