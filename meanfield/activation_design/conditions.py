"""Mean-field conditions by name: each a Gaussian functional of the activation with its exact gradient.

A condition is written like a call, ``"phi(1)"``, ``"c_slope(c=1, q=1)"``, ``"output_mean(0.5, 2)"``
(parsed with :mod:`ast`; only numbers are accepted as arguments). Throughout ``x ~ N(0, q)``,
``Q(q) = E[f(x)^2]`` and, for two inputs of variance ``q`` and correlation ``c``,
``Sigma(c) = E[f(u1) f(u2)]`` (Poole et al. 2016); the *local C map* of DKS (Martens et al.
2021, Sec. 3) is ``C(c) = Sigma(c)/Q(q)``. By Price's theorem ``dSigma/dc = q E[f'(u1) f'(u2)]``,
so at ``c = 1`` (``u1 = u2``) and at ``c = 0`` (independent inputs) everything is a moment of one
Gaussian:

===========================  ====================================================================  ======
name                         value                                                                 source
===========================  ====================================================================  ======
``second_moment(q=1)``       ``Q(q) = E[f(x)^2]`` (alias ``Q``)                                    Chen et al., eq. 2
``q_slope(q=1)``             ``Q'(q) = E[f(x) f'(x) x]/q``                                         DKS, Sec. 3
``phi(q=1)``                 ``E[f'(x)^2]``                                                        Chen et al., eq. 6
``dphi_dq(q=1)``             ``E[f'(x)^2 (x^2/q - 1)]/(2q)`` (score identity)
``gamma1()``                 ``|dphi_dq(1) + 1|``                                                  Chen et al., Prop 3.1
``mean(q=1)``                ``E[f(x)]``
``output_mean(mean, var)``   ``E[f(y)]``, y ~ N(mean, var)                                         Chen et al., eq. 12
``output_second_moment``     ``E[f(y)^2]``, y ~ N(mean, var)                                       Klambauer et al.
``c_map(c, q=1)``            ``C(c)``; ``C(0) = E[f]^2/Q``, ``C(1) = 1``                           DKS, Sec. 3
``c_slope(c=1, q=1)``        ``C'(1) = q E[f'^2]/Q``, ``C'(0) = q E[f']^2/Q``                      DKS, Sec. 4
``c_curvature(c=1, q=1)``    ``C''(1) = q^2 E[f''^2]/Q``, ``C''(0) = q^2 E[f'']^2/Q``              TAT, Sec. 4
``correlation_map(c, q=1)``  ``Sigma(c)/q`` (weight_var 1, bias_var 0)                             Poole et al.
``covariance(q1, q2, c)``    ``Sigma``; ``c = 0``: ``E f(x1) E f(x2)``; ``c = 1, q1 = q2``: ``Q``
===========================  ====================================================================  ======

At ``Q(1) = 1`` the local ``C'(1) = E[f'(z)^2] = phi(1)``: DKS's slope is Chen et al.'s ``1 + eps``.
``c_map``, ``c_slope``, ``correlation_map`` and ``covariance`` at ``0 < |c| < 1`` go through the
two-input engine (``meanfield.covariance``, ``meanfield.derivative_covariance``): value exact,
gradient a central difference; ``c_curvature`` is available at ``c = 0`` and ``c = 1``.
"""

from __future__ import annotations

import ast
import math

import numpy as np

from meanfield.activation_design._rule import gauss_rule

__all__ = ["CONDITIONS", "Condition", "Evaluator", "parse_condition"]

#: name -> (argument names, defaults); None marks a required argument.
CONDITIONS = {
    "second_moment": (("q",), (1.0,)),
    "Q": (("q",), (1.0,)),
    "q_slope": (("q",), (1.0,)),
    "phi": (("q",), (1.0,)),
    "dphi_dq": (("q",), (1.0,)),
    "gamma1": ((), ()),
    "mean": (("q",), (1.0,)),
    "output_mean": (("mean", "var"), (None, None)),
    "output_second_moment": (("mean", "var"), (None, None)),
    "c_map": (("c", "q"), (None, 1.0)),
    "c_slope": (("c", "q"), (1.0, 1.0)),
    "c_curvature": (("c", "q"), (1.0, 1.0)),
    "correlation_map": (("c", "q"), (None, 1.0)),
    "covariance": (("q1", "q2", "c"), (None, None, None)),
}

#: Quantities that need f'' (the family is differentiated twice).
_SECOND_ORDER = {"c_curvature"}


class Condition:
    """One parsed condition: ``name``, its ``args`` (dict of floats) and its ``text``."""

    def __init__(self, name, args, text):
        self.name, self.args, self.text = name, args, text

    @property
    def order(self):
        return 2 if self.name in _SECOND_ORDER else 1

    def __repr__(self):
        return f"Condition({self.text!r})"


def _number(node, text):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _number(node.operand, text)
        return -v if isinstance(node.op, ast.USub) else v
    raise ValueError(f"condition {text!r}: arguments must be numbers")


def parse_condition(text):
    """Parse ``"name(args)"`` (or a bare ``"name"``) into a :class:`Condition`; ValueError when invalid."""
    if not isinstance(text, str) or not text.strip() or len(text) > 200:
        raise ValueError(f"a condition must be a short string like 'phi(1)'; got {text!r}")
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"condition {text!r} is not of the form name(args)") from exc
    if isinstance(node, ast.Name):
        name, pos, kw = node.id, [], {}
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = node.func.id
        pos = [_number(a, text) for a in node.args]
        kw = {k.arg: _number(k.value, text) for k in node.keywords if k.arg is not None}
        if len(kw) != len(node.keywords):
            raise ValueError(f"condition {text!r}: no **kwargs")
    else:
        raise ValueError(f"condition {text!r} is not of the form name(args)")
    if name not in CONDITIONS:
        raise ValueError(f"unknown condition {name!r} in {text!r}; known: {', '.join(CONDITIONS)}")
    names, defaults = CONDITIONS[name]
    if len(pos) > len(names):
        raise ValueError(f"condition {text!r}: {name} takes at most {len(names)} arguments ({', '.join(names)})")
    args = dict(zip(names, pos, strict=False))
    for k, v in kw.items():
        if k not in names or k in args:
            raise ValueError(f"condition {text!r}: unexpected or repeated argument {k!r} (arguments: "
                             f"{', '.join(names) or 'none'})")
        args[k] = v
    for k, d in zip(names, defaults, strict=True):
        if k not in args:
            if d is None:
                raise ValueError(f"condition {text!r}: argument {k!r} is required")
            args[k] = d
    for k, v in args.items():
        if not math.isfinite(v):
            raise ValueError(f"condition {text!r}: argument {k} must be finite; got {v}")
        if k in ("q", "var", "q1", "q2") and v <= 0:
            raise ValueError(f"condition {text!r}: {k} must be > 0; got {v:g}")
        if k == "c" and not -1.0 <= v <= 1.0:
            raise ValueError(f"condition {text!r}: c must be in [-1, 1]; got {v:g}")
    if name == "Q":
        name = "second_moment"
    if name == "c_curvature" and args["c"] not in (0.0, 1.0):
        raise ValueError(f"condition {text!r}: c_curvature is available at c = 0 and c = 1")
    if name == "covariance" and args["c"] == 1.0 and args["q1"] != args["q2"]:
        args["c"] = 1.0 - 1e-300  # not the diagonal: the two-input engine
    return Condition(name, args, text)


def _two_input(name, c):
    """Whether a condition needs the two-input engine (``meanfield.covariance``): 0 < |c| < 1."""
    return name in ("c_map", "c_slope", "correlation_map", "covariance") and c not in (0.0, 1.0)


class Evaluator:
    """Moments of one family at one parameter point, with gradients in the unknowns.

    ``moments(mean, var)`` integrates once per (mean, var) with ``gauss_rule`` (``_rule.py``) and caches.
    Each moment is ``(value, gradient)`` with ``gradient`` an array over the unknowns.
    """

    def __init__(self, family, theta, unknowns, order):
        self.family, self.theta, self.unknowns, self.order = family, theta, tuple(unknowns), order
        self._cache = {}

    def moments(self, mean, var):
        key = (mean, var)
        if key not in self._cache:
            self._cache[key] = self._integrate(mean, var)
        return self._cache[key]

    def _integrate(self, mean, var):
        kinks = self.family.kinks(self.theta)
        widen = [0.0, 0.0]
        for _ in range(8):
            x, w, z = gauss_rule(mean, var, kinks, widen)
            vals, grads = self.family.evaluate(self.theta, x, self.unknowns, self.order)
            g0, g1 = vals[0], vals[1]
            tail = w * (g0 * g0 + g1 * g1)
            total = float(np.sum(tail))
            grow = [float(np.sum(tail[:32])), float(np.sum(tail[-32:]))]
            if not np.all(np.isfinite(tail)):
                raise ValueError("the activation overflows float64 on the integration window at "
                                 f"{_fmt(self.theta)}")
            if max(grow) <= 1e-18 * max(total, 1e-300):
                break
            widen = [wd + (6.0 if gr > 1e-18 * total else 0.0) for wd, gr in zip(widen, grow, strict=True)]
        d0, d1 = grads[0], grads[1]
        out = {
            "f": (w @ g0, d0 @ w),
            "f2": (w @ (g0 * g0), 2 * (d0 * g0) @ w),
            "df": (w @ g1, d1 @ w),
            "df2": (w @ (g1 * g1), 2 * (d1 * g1) @ w),
            "ffx": (w @ (g0 * g1 * x), ((d0 * g1 + g0 * d1) * x) @ w),
            "df2_score": (w @ (g1 * g1 * (z * z - 1)) / (2 * var), 2 * ((d1 * g1) * (z * z - 1)) @ w / (2 * var)),
        }
        if self.order >= 2:
            g2, d2 = vals[2], grads[2]
            out["ddf"] = (w @ g2, d2 @ w)
            out["ddf2"] = (w @ (g2 * g2), 2 * (d2 * g2) @ w)
        return out

    def value(self, cond):
        """``(value, gradient)`` of a :class:`Condition`."""
        a, name = cond.args, cond.name
        if _two_input(name, a["c"] if "c" in a else 0.0):
            return self._two_input_value(cond)
        if name == "output_mean":
            return self.moments(a["mean"], a["var"])["f"]
        if name == "output_second_moment":
            return self.moments(a["mean"], a["var"])["f2"]
        if name == "covariance":
            if a["c"] == 1.0:
                return self.moments(0.0, a["q1"])["f2"]
            return _product(self.moments(0.0, a["q1"])["f"], self.moments(0.0, a["q2"])["f"])
        if name == "gamma1":
            v, g = self.moments(0.0, 1.0)["df2_score"]
            return abs(v + 1), np.sign(v + 1) * g
        q = a["q"]
        m = self.moments(0.0, q)
        if name == "second_moment":
            return m["f2"]
        if name == "q_slope":
            v, g = m["ffx"]
            return v / q, g / q
        if name == "phi":
            return m["df2"]
        if name == "dphi_dq":
            return m["df2_score"]
        if name == "mean":
            return m["f"]
        c = a["c"]
        if name == "correlation_map":
            num = m["f2"] if c == 1.0 else _product(m["f"], m["f"])
            return num[0] / q, num[1] / q
        if name == "c_map":
            if c == 1.0:
                return 1.0, np.zeros(len(self.unknowns))
            return _ratio(_product(m["f"], m["f"]), m["f2"])
        if name == "c_slope":
            num = m["df2"] if c == 1.0 else _product(m["df"], m["df"])
            v, g = _ratio(num, m["f2"])
            return q * v, q * g
        # c_curvature
        num = m["ddf2"] if c == 1.0 else _product(m["ddf"], m["ddf"])
        v, g = _ratio(num, m["f2"])
        return q * q * v, q * q * g


    def _two_input_value(self, cond):
        """Conditions at 0 < |c| < 1 through ``meanfield.covariance`` / ``derivative_covariance``.

        The gradient in the unknowns is a central difference (step ``TWO_INPUT_STEP`` relative, error
        ~1e-10 relative): it only steers Newton; the value itself is the engine's, exact to ~1e-13.
        """
        values = [self._two_input_at(cond, self.theta)]
        grad = np.empty(len(self.unknowns))
        for j, u in enumerate(self.unknowns):
            h = TWO_INPUT_STEP * max(1.0, abs(self.theta[u]))
            up = self._two_input_at(cond, {**self.theta, u: self.theta[u] + h})
            down = self._two_input_at(cond, {**self.theta, u: self.theta[u] - h})
            grad[j] = (up - down) / (2 * h)
        return values[0], grad

    def _two_input_at(self, cond, theta):
        from meanfield.correlations import covariance, derivative_covariance

        act = self.family.activation(theta)
        a, name = cond.args, cond.name
        if name == "covariance":
            return float(covariance(act, a["q1"], a["q2"], min(a["c"], 1.0)))
        q = a["q"]
        if name == "correlation_map":
            return float(covariance(act, q, q, a["c"])) / q
        second = float(self.moments(0.0, q)["f2"][0]) if theta is self.theta else \
            float(Evaluator(self.family, theta, (), 1).moments(0.0, q)["f2"][0])
        if name == "c_map":
            return float(covariance(act, q, q, a["c"])) / second
        return q * float(derivative_covariance(act, q, q, a["c"])) / second  # c_slope


#: Relative step of the central difference that gives two-input conditions their gradient.
TWO_INPUT_STEP = 1e-6


def _product(a, b):
    return a[0] * b[0], a[0] * b[1] + a[1] * b[0]


def _ratio(a, b):
    return a[0] / b[0], (a[1] * b[0] - a[0] * b[1]) / (b[0] * b[0])


def _fmt(theta):
    return "{" + ", ".join(f"{k}={v:.6g}" for k, v in theta.items()) + "}"
