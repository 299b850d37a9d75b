"""Every engine against the 30-digit mpmath reference (issue: engines and maps).

Grids: q in [1e-3, 1e3] (log-spaced) for E f^2, E f'^2 and d/dq E f'^2 at mean 0; output
means over mean in [-5, 5] x var in [1e-3, 1e2]. Promised relative errors are
``meanfield.tolerances.ENGINE_RTOL``: 1e-12 (closed), 1e-10 (quadrature).

Relative error is taken against ``max(|reference|, scale)`` where ``scale`` is the quantity's
natural size, because some exact values are 0 (dphi/dq of ReLU, the output mean of SELU at
its fixed point) and a relative error to 0 is meaningless:
- E f^2, E f'^2: scale 0 (plain relative error; both are positive);
- dphi/dq: scale phi(q)/q, the size of a derivative of phi with respect to q;
- E f: scale sqrt(E f^2) at the same (mean, var), the output's root-mean-square.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import ALL_BUILTINS, PARAM_RANGES, random_draws

from meanfield import ENGINES, get_activation
from meanfield.engines import get_engine
from meanfield.tolerances import ENGINE_RTOL

Q_GRID = np.logspace(-3, 3, 7)
Q_GRID_SHORT = np.array([1e-3, 1.0, 1e3])
MEAN, VAR = (a.ravel() for a in np.meshgrid([-5.0, -1.3, 0.0, 5.0], [1e-3, 0.07, 1.0, 100.0]))
MEAN_SHORT, VAR_SHORT = np.array([-5.0, 0.0, 2.0]), np.array([1e-3, 1.0, 100.0])

_REFERENCE = {}


def reference(act, quantity, mean, var, derivative=None):
    key = (repr(act), quantity, derivative, mean.tobytes(), var.tobytes())
    if key not in _REFERENCE:
        _REFERENCE[key] = ENGINES["mpmath"].expect(act, quantity, mean, var, derivative)
    return _REFERENCE[key]


def relative_errors(act, method, q_grid, mean, var):
    """Max relative error of each quantity for one engine, against mpmath (see module doc)."""
    engine = get_engine(method, act, "f")
    zeros = np.zeros_like(q_grid)
    errs = {}
    for quantity in ("f2", "df2"):
        ref = reference(act, quantity, zeros, q_grid)
        got = engine.expect(act, quantity, zeros, q_grid)
        errs[quantity] = np.max(np.abs(got - ref) / np.abs(ref))
    phi_ref = reference(act, "df2", zeros, q_grid)
    ref = reference(act, "df2", zeros, q_grid, "var")
    got = engine.expect(act, "df2", zeros, q_grid, "var")
    errs["dphi_dq"] = np.max(np.abs(got - ref) / np.maximum(np.abs(ref), phi_ref / q_grid))
    ref = reference(act, "f", mean, var)
    got = engine.expect(act, "f", mean, var)
    rms = np.sqrt(ENGINES["quadrature"].expect(act, "f2", mean, var))
    # both underflow to exactly 0 far in a ReLU's flat tail: count 0 = 0 as exact
    errs["output_mean"] = np.max(np.abs(got - ref) / np.maximum(np.maximum(np.abs(ref), rms), 1e-300))
    return errs


def _closed_ok(act):
    return all(ENGINES["closed"].supports(act, q) for q in ("f", "f2", "df2"))


#: Built-ins checked in the default tier, one of each kind (piecewise exponential, pole-type smooth,
#: erf-type smooth, homogeneous); every other built-in is checked in the slow tier (CI), where the
#: 30-digit references cost 5-20 s per activation.
DEFAULT_TIER = ("selu", "tanh", "gelu", "relu")


def _tiered(acts):
    return [pytest.param(a, id=a.name, marks=() if a.name in DEFAULT_TIER else pytest.mark.slow) for a in acts]


@pytest.mark.parametrize("method", ["closed", "quadrature"])
@pytest.mark.parametrize("act", _tiered(ALL_BUILTINS))
def test_builtins_against_mpmath(act, method):
    if method == "closed" and not _closed_ok(act):
        pytest.skip(f"{act.name} has no closed form (auto uses quadrature)")
    errs = relative_errors(act, method, Q_GRID, MEAN, VAR)
    bad = {k: v for k, v in errs.items() if not v <= ENGINE_RTOL[method]}
    assert not bad, f"{act.name} {method}: {bad}"


@pytest.mark.parametrize("draws", [pytest.param(slice(0, 3), id="draws0-2"),
                                   # the other 17 of the 20 draws: ~2 min of 30-digit references
                                   pytest.param(slice(3, 20), id="draws3-19", marks=pytest.mark.slow)])
@pytest.mark.parametrize("method", ["closed", "quadrature"])
@pytest.mark.parametrize("family", [pytest.param(f, marks=() if f == "sselu" else pytest.mark.slow)
                                    for f in sorted(PARAM_RANGES)])  # sselu: the widest ranges
def test_random_parameters_against_mpmath(family, method, draws):
    for act in random_draws(family, 20)[draws]:
        errs = relative_errors(act, method, Q_GRID_SHORT, MEAN_SHORT, VAR_SHORT)
        bad = {k: v for k, v in errs.items() if not v <= ENGINE_RTOL[method]}
        assert not bad, f"{act!r} {method}: {bad}"


@pytest.mark.parametrize("act", [a for a in ALL_BUILTINS if _closed_ok(a)], ids=lambda a: a.name)
def test_closed_and_quadrature_agree_on_a_dense_grid(act):
    q = np.logspace(-3, 3, 200)
    zeros = np.zeros_like(q)
    for quantity in ("f2", "df2"):
        closed = ENGINES["closed"].expect(act, quantity, zeros, q)
        quad = ENGINES["quadrature"].expect(act, quantity, zeros, q)
        np.testing.assert_allclose(quad, closed, rtol=ENGINE_RTOL["quadrature"] + ENGINE_RTOL["closed"])
    m, v = (a.ravel() for a in np.meshgrid(np.linspace(-5, 5, 21), np.logspace(-3, 2, 11)))
    closed = ENGINES["closed"].expect(act, "f", m, v)
    quad = ENGINES["quadrature"].expect(act, "f", m, v)
    rms = np.sqrt(ENGINES["closed"].expect(act, "f2", m, v))
    assert np.max(np.abs(closed - quad) / np.maximum(np.maximum(np.abs(closed), rms), 1e-300)) <= 1e-10


@pytest.mark.parametrize("name", ["selu", pytest.param("gelu", marks=pytest.mark.slow), "sselu",
                                  pytest.param("erf", marks=pytest.mark.slow)])
def test_mean_and_var_derivatives_against_mpmath(name):
    # selu_map_jacobian needs d/dmean and d/dvar of E f and E f^2 at any mean: check them at
    # scattered points; scale as for the maps (derivatives of E g have E|g|-size / sqrt(var)).
    act = get_activation(name, **({"lam": 1.05, "alpha": 1.6, "beta": 2.0} if name == "sselu" else {}))
    mean, var = np.array([-2.0, -0.3, 0.0, 0.8, 3.0]), np.array([0.05, 1.0, 2.5, 0.4, 9.0])
    for quantity in ("f", "f2"):
        size = np.sqrt(reference(act, "f2", mean, var)) ** (2 if quantity == "f2" else 1)
        for derivative, unit in (("mean", np.sqrt(var)), ("var", var)):
            ref = reference(act, quantity, mean, var, derivative)
            for method in ("closed", "quadrature"):
                got = ENGINES[method].expect(act, quantity, mean, var, derivative)
                err = np.max(np.abs(got - ref) / np.maximum(np.abs(ref), size / unit))
                assert err <= ENGINE_RTOL[method], (name, quantity, derivative, method, err)


@pytest.mark.parametrize("method", ["closed", "auto"])
def test_sselu_large_beta_no_overflow(method):
    # Issue acceptance: no overflow or NaN for sSELU with beta up to 50, q from 1e-6 to 1e6.
    from meanfield import dphi_dq, output_mean, phi, second_moment

    q = np.logspace(-6, 6, 61)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for beta in (0.1, 1.0, 10.0, 50.0):
            act = get_activation("sselu", lam=1.05, alpha=1.6, beta=beta)
            values = [second_moment(act, q, method=method), phi(act, q, method=method),
                      dphi_dq(act, q, method=method), output_mean(act, np.linspace(-5, 5, 61), q, method=method)]
            assert all(np.all(np.isfinite(v)) for v in values)
    # and the extreme corner is still accurate: beta = 50 at q = 1e6 against mpmath
    act = get_activation("sselu", lam=1.05, alpha=1.6, beta=50.0)
    q = np.array([1e-6, 1e6])
    for quantity in ("f2", "df2"):
        ref = reference(act, quantity, np.zeros(2), q)
        got = get_engine(method, act, quantity).expect(act, quantity, np.zeros(2), q)
        # 1e-9: at q = 1e-6 the closed form of E f^2 subtracts O(1) exponential terms to get
        # an O(q) result, losing ~log10(1/q) = 6 digits to cancellation (documented in closed.py).
        np.testing.assert_allclose(got, ref, rtol=1e-9)


def test_closed_engine_declines_non_closed_activations():
    for name in ("tanh", "sigmoid", "softplus", "swish"):
        act = get_activation(name)
        assert not ENGINES["closed"].supports(act, "f2")
        with pytest.raises(ValueError, match="no closed form"):
            get_engine("closed", act, "f2")
        assert get_engine("auto", act, "f2") is ENGINES["quadrature"]
    assert get_engine("auto", get_activation("selu"), "f2") is ENGINES["closed"]
    with pytest.raises(ValueError, match="method must be one of"):
        get_engine("simpson", get_activation("selu"), "f2")
