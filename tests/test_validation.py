"""Silent coercions refused: strings, bytes, booleans and None where numbers are expected (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest

import meanfield as mf
from meanfield._validation import (
    as_real_array,
    check_activation_output,
    check_finite_scalar,
    check_positive_scalar,
    check_real_type,
)

BAD_CALLS = [
    ("q str", lambda: mf.phi("tanh", "2"), "q must be a real number, not str"),
    ("q bytes", lambda: mf.phi("tanh", b"1"), "q must be a real number, not bytes"),
    ("q bool", lambda: mf.phi("tanh", True), "q must be a real number, not bool"),
    ("q numpy bool", lambda: mf.phi("tanh", np.True_), "q must be a real number, not bool"),
    ("q None", lambda: mf.phi("tanh", None), "q must be a real number; got None"),
    ("q list with None", lambda: mf.phi("tanh", [1.0, None]), "entry of type NoneType"),
    ("q str array", lambda: mf.phi("tanh", np.array(["1"])), "not an array of str"),
    ("q bool array", lambda: mf.phi("tanh", [True, False]), "not an array of bool"),
    ("q complex", lambda: mf.phi("tanh", 1 + 0j), "not complex"),
    ("mean str", lambda: mf.output_mean("tanh", "1", 1.0), "mean must be a real number, not str"),
    ("eps str", lambda: mf.solve("sselu", "0.03"), "eps must be a real number, not str"),
    ("eps bool", lambda: mf.solve("sselu", True), "eps must be a real number, not bool"),
    ("eps list with str", lambda: mf.solve("sselu", [0.03, "0.1"]), "eps must be real numbers"),
    ("slope bool", lambda: mf.get_activation("lrelu", slope=True), "slope must be a real number, not bool"),
    ("selu mean str", lambda: mf.solve("selu", mean="0"), "mean must be a real number, not str"),
    ("dtype None", lambda: mf.simulate("relu", depth=2, width=4, dtype=None, backend="numpy"),
     "dtype must be 'float32' or 'float64'; got None"),
    ("weight_var str", lambda: mf.simulate("relu", depth=2, width=4, weight_var="2", backend="numpy"),
     "weight_var must be a real number, not str"),
]


@pytest.mark.parametrize("call, message", [b[1:] for b in BAD_CALLS], ids=[b[0] for b in BAD_CALLS])
def test_non_numbers_are_refused_naming_argument_and_type(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_numbers_of_every_real_kind_still_pass():
    assert check_finite_scalar(np.float32(2.5), "q") == 2.5
    assert check_finite_scalar(np.int64(3), "q") == 3.0
    assert check_positive_scalar(1, "q") == 1.0
    np.testing.assert_array_equal(as_real_array([1, 2.5], "q"), [1.0, 2.5])
    np.testing.assert_array_equal(as_real_array(np.array([1, 2], dtype=object), "q"), [1.0, 2.0])
    assert check_real_type(np.arange(3), "q") is not None


@pytest.mark.parametrize("returned, words", [
    (lambda x: None, "returned None"),
    (lambda x: x + 0j, "returned complex values"),
    (lambda x: x.ravel()[:3], "returned shape (3,)"),
    (lambda x: np.array(["a"] * x.size).reshape(x.shape), "values of dtype <U1"),
])
def test_callable_activation_returning_garbage_is_named(returned, words):
    # refused when the activation is built (kink detection samples it) or first evaluated
    with pytest.raises(ValueError, match=r"activation 'bad': f must return real numbers") as info:
        act = mf.Activation.from_callables(returned, lambda x: np.ones_like(x), name="bad")
        mf.second_moment(act, 1.0, method="quadrature")
    assert words in str(info.value)
    with pytest.raises(ValueError, match=r"activation 'bad': df must return real numbers") as info:
        act = mf.Activation.from_callables(np.tanh, returned, name="bad")
        mf.phi(act, 1.0, method="quadrature")
    assert words in str(info.value)


def test_callable_activation_output_checked_but_unchanged():
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    out = check_activation_output(np.tanh(x), x, "f")
    assert out.dtype == np.float32 and np.array_equal(out, np.tanh(x))
    np.testing.assert_array_equal(check_activation_output(2, np.zeros(3), "f"), [2.0, 2.0, 2.0])
    act = mf.Activation.from_callables(np.tanh, lambda x: 1 / np.cosh(x) ** 2)
    # a correct callable gives the built-in's value: quadrature of the same integrand (1e-10 is
    # the quadrature engine's documented relative accuracy)
    assert mf.phi(act, 1.0, method="quadrature") == pytest.approx(mf.phi("tanh", 1.0), rel=1e-10)
