"""Activations: NumPy f, f' against their SymPy templates, overflow safety, user activations."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import sympy as sp
from conftest import ALL_BUILTINS, REQUIRED_PARAMS

from meanfield import Activation, get_activation, list_activations
from meanfield.expressions import X, parse_activation_expression
from meanfield.tolerances import rtol_for

RNG = np.random.default_rng(7)
POINTS = np.concatenate([RNG.normal(0, 3, 200), [-30.0, -1e-9, 0.0, 1e-9, 30.0]])


@pytest.mark.parametrize("act", ALL_BUILTINS, ids=lambda a: a.name)
def test_numpy_matches_sympy_template(act):
    # The hand-written NumPy branches must be the same function as the SymPy template the
    # closed engine integrates; 1e-13 allows a few roundings in expm1/exp vs the lambdified form.
    expr = act.expr
    f_ref = sp.lambdify(X, expr, modules=["mpmath"])
    df_ref = sp.lambdify(X, sp.diff(expr, X), modules=["mpmath"])
    f, df = act.f(POINTS), act.df(POINTS)
    for x, fx, dfx in zip(POINTS, f, df, strict=True):
        if x == 0:  # derivative at a kink: one-sided from the left by convention
            continue
        want_f, want_df = float(f_ref(x)), float(df_ref(x))
        assert fx == pytest.approx(want_f, rel=1e-13, abs=1e-15), (act.name, x)
        assert dfx == pytest.approx(want_df, rel=1e-13, abs=1e-15), (act.name, x)


@pytest.mark.parametrize("act", ALL_BUILTINS, ids=lambda a: a.name)
def test_no_overflow_and_dtype_preserved(act):
    x = np.array([-1e6, -800.0, -50.0, 0.0, 50.0, 800.0, 1e6])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f, df = act.f(x), act.df(x)
    assert np.all(np.isfinite(df))
    assert np.all(np.isfinite(f[np.abs(x) < 1e5]))
    x32 = x.astype(np.float32)
    assert act.f(x32).dtype == np.float32 and act.df(x32).dtype == np.float32
    ref = act.f(x32.astype(np.float64))
    np.testing.assert_allclose(act.f(x32), ref.astype(np.float32), rtol=rtol_for(np.float32))


def test_registry_and_parameter_errors():
    assert len(list_activations()) == 16
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        get_activation("nope")
    with pytest.raises(ValueError, match="has no parameter"):
        get_activation("relu", slope=1.0)
    with pytest.raises(ValueError, match="needs parameter"):
        get_activation("sselu", lam=1.0)
    with pytest.raises(ValueError, match="must be finite"):
        get_activation("lrelu", slope=float("nan"))
    with pytest.raises(ValueError, match="var must be > 0"):
        get_activation("nrelu", var=-1.0)
    act = get_activation("sselu", **REQUIRED_PARAMS["sselu"]).with_params(beta=2.0)
    assert act.params["beta"] == 2.0 and act.kinks == (0.0,)


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch /tmp/meanfield_pwned')",
    "x.__class__", "exp(x).func", "(lambda: 1)()", "[x for x in (1, 2)]", "open('f')",
    "x if x else 1", "y * x", "x[0]", "eval('1')", "x; 1",
])
def test_parser_rejects_code(text):
    with pytest.raises(ValueError):
        Activation.from_expression(text)
    assert not os.path.exists("/tmp/meanfield_pwned")


def test_user_expression_kinks_and_derivative():
    act = Activation.from_expression("Piecewise((x, x > 1), (a*(x - 1) + 1, True))", params={"a": 0.3})
    assert act.kinks == (1.0,)
    np.testing.assert_allclose(act.f(np.array([0.0, 2.0])), [0.7, 2.0])
    np.testing.assert_allclose(act.df(np.array([0.0, 2.0])), [0.3, 1.0])
    assert Activation.from_expression("Max(x, 0) + Abs(x - 2)").kinks == (0.0, 2.0)
    assert parse_activation_expression("x^3") == X**3
    step = Activation.from_expression("x*Heaviside(x)")  # f' has a DiracDelta term: 0 off the kink
    np.testing.assert_array_equal(step.df(np.array([-1.0, 2.0])), [0.0, 1.0])
    assert step.kinks == (0.0,)
    with pytest.raises(ValueError, match="unknown name .a."):
        Activation.from_expression("a*x")
    with pytest.raises(ValueError, match="depend on x"):
        Activation.from_expression("2.0")


def test_from_callables():
    act = Activation.from_callables(np.tanh, lambda x: 1 / np.cosh(x) ** 2, name="mytanh")
    np.testing.assert_allclose(act.f(np.array([0.5])), np.tanh(0.5))
    assert act.template is None and act.mpmath_functions() is None
    with pytest.raises(ValueError, match="callables"):
        Activation.from_callables(1.0, None)


def test_affine_and_gpn_version():
    relu = get_activation("relu")
    gpn = relu.gpn()
    np.testing.assert_allclose(gpn.f(np.array([-1.0, 2.0])), [0.0, 2 * np.sqrt(2)], atol=1e-14)
    assert gpn.name == "relu-gpn" and set(gpn.params) == {"scale", "shift"}
    nested = gpn.affine(2.0, 1.0)
    assert set(nested.params) == {"scale", "shift", "scale2", "shift2"}
    np.testing.assert_allclose(nested.f(np.array([1.0])), 2 * np.sqrt(2) + 1)
    with pytest.raises(ValueError, match="sign"):
        relu.gpn(sign=0)


@pytest.mark.parametrize("name, params", [
    ("elu", {"alpha": 1.3}), ("selu", {}), ("dselu", {"lam": np.float64(1.1), "alpha": np.float64(1.6)}),
    ("sselu", {"lam": 1.1, "alpha": 1.7, "beta": 2.5}), ("lselu", {"lam": 1.05, "alpha": 1.6, "beta": 0.1})])
def test_exponential_branches_equal_the_two_branch_formula(name, params):
    # the built-ins evaluate their exponential branch on x <= 0 only (meanfield._builtins); the values
    # must be those of the plain two-branch np.where formula written here, bit for bit (-0.0 aside),
    # for every memory layout (kept), float32 and float64, scalars, infinities and NaN
    act = get_activation(name, **params)
    lam = act.params.get("lam", 1.0)
    alpha = act.params["alpha"]
    beta = act.params.get("beta", 1.0)

    def branch(x):
        neg = np.minimum(x, 0)
        if name == "lselu":
            return alpha * np.expm1(neg) + beta * x, alpha * np.exp(neg) + beta
        return alpha * np.expm1(beta * neg), alpha * beta * np.exp(beta * neg)

    def reference_f(x):  # ELU has no lam: the 1.0 it gets here multiplies exactly
        return (lam * np.where(x > 0, x, branch(x)[0])).astype(x.dtype)

    def reference_df(x):
        return (lam * np.where(x > 0, 1.0, branch(x)[1])).astype(x.dtype)

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 5, 2000), [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-300, -1e-300, -800, 800]])
    for dtype in (np.float64, np.float32):
        base = x.astype(dtype)
        wide = base.reshape(-1, 1)[:, [0, 0, 0]]
        for arr in (base, base[::3], base[::-2], wide, np.asfortranarray(wide), wide.T, wide[::2, ::-1]):
            for got, ref in ((act.f(arr), reference_f(arr)), (act.df(arr), reference_df(arr))):
                assert got.dtype == dtype and got.shape == arr.shape
                # the same memory layout too: later reductions sum in the same order (the simulator's
                # records are compared bit for bit in tests/test_simulate_regression.py)
                assert got.strides == ref.strides
                np.testing.assert_array_equal(got, ref)
        for v in (0.5, -0.5, 0.0, 3.0):
            assert act.f(v) == reference_f(np.float64(v)) and act.df(v) == reference_df(np.float64(v))
