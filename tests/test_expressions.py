"""Hostile expression strings: every one is refused (or parsed) quickly with a ValueError naming the limit.

Also issue 14 item 2: a parameter named like a SymPy/NumPy constant or function (``pi``, ``E``,
``exp``, ``erf``) must not shadow it in the generated code (closed engine, quadrature, simulation).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from meanfield import Activation, phi, simulate
from meanfield.expressions import (
    MAX_DEGREE,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_NODES,
    X,
    parse_activation_expression,
    time_budget,
)

# Each string took minutes, gigabytes or a RecursionError before the limits (issue 15).
HOSTILE = [
    ("9**9**9", "MAX_NUMBER_DIGITS"),
    ("x*2**(2**30)", "MAX_NUMBER_DIGITS"),
    ("x**(10**10**10)", "MAX_NUMBER_DIGITS"),
    ("(x+1)**200", "MAX_EXPONENT"),
    ("x**(10**10)", "MAX_EXPONENT"),
    ("((x+1)**32)**32", "MAX_DEGREE"),
    ("(x+1)**40*(x-1)**40", "MAX_DEGREE"),
    ("sqrt(10**900)*x", "MAX_NUMBER_DIGITS"),
    ("x*" + "9" * 500, "MAX_NUMBER_DIGITS"),
    ("-" * 1990 + "x", "MAX_DEPTH"),
    ("+".join(["x"] * 999), "MAX_DEPTH"),
    ("(" * 300 + "x" + ")" * 300, "MAX_DEPTH|nested"),
    ("Max(" + ",".join("x+1" for i in range(400)) + ")", "MAX_NODES"),
    ("x" * 2001, "MAX_LENGTH"),
    ("1e999*x", "finite"),
    ("1/0*x", "not a finite real"),
    ("log(0)*x", "not a finite real"),
    ("(-8)**(1/3)*x", "not a finite real"),
    ("sqrt(-1)*x", "not a finite real"),
    ("(1, 2) + x", "cannot evaluate"),
    ("(x > 0)**2", "cannot raise"),
    ("x\x00", "NUL|null|syntax"),
    ("Abs(Abs(Abs(x-1)-2)-3)", "MAX_PIECEWISE_NESTING"),  # took minutes to derive
    ("Piecewise((x, sin(x) > 0), (0, True))", "polynomial in x"),  # NotImplementedError before
    ("Piecewise((x, exp(x) + x > 3), (0, True))", "polynomial in x"),  # kinks silently missed
    ("__import__('os').system('true')", "not allowed"),
    ("x.__class__", "not allowed"),
]


@pytest.mark.parametrize("text, limit", HOSTILE, ids=[h[0][:30] for h in HOSTILE])
def test_hostile_expression_refused_naming_the_limit(text, limit):
    with pytest.raises(ValueError, match=limit):
        parse_activation_expression(text)


def test_limits_leave_ordinary_expressions_alone():
    assert parse_activation_expression("x**64") == X**64
    assert parse_activation_expression("(x+1)**30*(x-1)**30") == (X + 1) ** 30 * (X - 1) ** 30
    assert parse_activation_expression("2**64*x") == 2**64 * X
    assert parse_activation_expression("+".join(["x"] * (MAX_DEPTH // 2))) == (MAX_DEPTH // 2) * X
    assert parse_activation_expression("x**x") == X**X
    assert parse_activation_expression("Max(Min(x, 1), -1)") == sp.Max(sp.Min(X, 1), -1)
    assert parse_activation_expression("Piecewise((x, x**2 > 1), (0, True))").has(X**2 > 1)
    assert MAX_EXPONENT <= MAX_DEGREE and MAX_NODES >= 100


def test_parameter_named_x_or_a_keyword_is_refused():
    with pytest.raises(ValueError, match="reserved"):
        parse_activation_expression("x", params=["x"])
    with pytest.raises(ValueError, match="plain identifier"):
        parse_activation_expression("x", params=["lambda"])


def test_time_budget_interrupts_a_long_block():
    with pytest.raises(ValueError, match="time budget of 0.05 s"):
        with time_budget(0.05, "spinning"):
            while True:
                pass


# -- fuzz: random token soup never hangs and only raises ValueError ------------------------------

_TOKENS = ["x", "a", "1", "2", "9", "10", "0", "0.5", "1e308", "pi", "E", "+", "-", "*", "/",
           "**", "^", "(", ")", ",", " > ", " < ", "exp(", "log(", "sqrt(", "tanh(", "erf(",
           "Abs(", "Max(", "Piecewise((", "Heaviside(", "True", "sigmoid(", "[", ".", "lambda",
           "__", "'s'", "=", "if", "for"]


@settings(deadline=2000)  # acceptance of issue 15: each example < 2 s (typical: a few ms)
@given(st.lists(st.sampled_from(_TOKENS), max_size=40))
def test_fuzz_parser_only_raises_value_error(tokens):
    text = "".join(tokens)
    try:
        expr = parse_activation_expression(text, params=["a"])
    except ValueError:
        return
    assert isinstance(expr, sp.Expr)


@settings(deadline=2000)
@given(st.text(max_size=200))
def test_fuzz_parser_arbitrary_text(text):
    try:
        parse_activation_expression(text)
    except ValueError:
        pass


# -- issue 14 item 2: parameters named like constants or functions ---------------------------------


@pytest.mark.parametrize("name", ["pi", "E", "exp", "erf", "sqrt"])
def test_parameter_named_like_a_constant_does_not_shadow_it(name):
    # f(x) = erf(x) + c*x with the parameter c called `name`; c = 2 changes nothing but f'.
    act = Activation.from_expression(f"erf(x) + {name}*x", params={name: 0.0})
    # f'(0) = 2/sqrt(pi) exactly (the shadowing bug gave 2/sqrt(2) with pi = 2)
    assert float(act.df(0.0)) == pytest.approx(2 / math.sqrt(math.pi), rel=1e-15)
    # phi(q) = E[f'(z)^2], z ~ N(0, q), for f = erf: 4/(pi sqrt(1 + 4q)) (Williams 1998); an
    # independent 30-digit mpmath quadrature of the same integral checks the formula itself.
    q = 1.0
    mpmath.mp.dps = 30
    ref = mpmath.quad(lambda z: (2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-z * z)) ** 2
                      * mpmath.npdf(z, 0, mpmath.sqrt(q)), [-mpmath.inf, 0, mpmath.inf])
    assert float(ref) == pytest.approx(4 / (math.pi * math.sqrt(1 + 4 * q)), rel=1e-14)
    for method in ("closed", "quadrature"):
        # closed: exact formula (1e-13 allows rounding); quadrature: its documented 1e-10
        tol = 1e-13 if method == "closed" else 1e-10
        assert float(phi(act, q, method=method)) == pytest.approx(float(ref), rel=tol), method
    # a simulation with the shadowing parameter equals the one with the built-in erf
    kwargs = dict(depth=3, width=8, batch=2, n_seeds=1, seed=3, backend="numpy")
    a, b = simulate(act, **kwargs), simulate("erf", **kwargs)
    np.testing.assert_allclose(a.q, b.q, rtol=1e-12)  # f and f' rounded alike up to ulps
    np.testing.assert_allclose(a.grad_h_sq, b.grad_h_sq, rtol=1e-12)


@pytest.mark.parametrize("text", ["x", "x*1", "1*x + 0"])
def test_identity_expression_is_accepted(text):
    """The identity parses (a SymPy Symbol is also a Boolean; it was refused as one).

    Exact identities for x ~ N(m, v): E x = m, E x^2 = m^2 + v, E[(d/dx x)^2] = 1."""
    import meanfield as mf

    act = mf.Activation.from_expression(text)
    for method in ("closed", "quadrature", "mpmath"):
        assert float(mf.phi(act, 0.7, method=method)) == pytest.approx(1.0, rel=1e-12)
        assert float(mf.second_moment(act, 2.5, method=method)) == pytest.approx(2.5, rel=1e-12)
        assert float(mf.output_mean(act, -3.25, 0.5, method=method)) == pytest.approx(-3.25, rel=1e-12)
    assert float(mf.expect(text, 0.5, 2.0)) == pytest.approx(0.5, rel=1e-12)
    with pytest.raises(ValueError, match="number-valued"):
        mf.Activation.from_expression("x > 0")
