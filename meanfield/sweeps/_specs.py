"""Activation specs: how an activation travels to a Dask worker (name + parameters, or expression text).

A sweep never pickles an :class:`~meanfield.activations.Activation` (its NumPy functions are
closures): the client resolves every activation of the grid into a JSON-friendly *spec* and the
worker rebuilds it with :func:`build_activation`. The rebuilt activation is the same function
with the same floating-point parameters, so a task's trace is bit-identical to
``simulate(act, ...)`` called directly.

Spec forms a user may give (the grid key ``activation``, or the ``activation=`` argument):

* ``"tanh"``: a built-in by name (:func:`~meanfield.activations.list_activations`);
  ``"tanh-gpn"``: its GPN version ``a f + b`` (Lu, Gould & Ajanthan);
* ``{"name": "lrelu", "params": {"slope": 0.2}, "gpn": false, "label": "lrelu0.2"}``;
* ``{"expression": "x*erf(x)", "params": {...}, "gpn": false, "label": "xerf"}``: a SymPy
  expression in ``x``, parsed without executing code;
* an :class:`Activation` that is a built-in, or a GPN/affine version of one.

With the grid key ``eps`` the activation names a solver family (``"dselu"``, ``"sselu"``,
``"lselu"``, optionally ``{"name": "sselu", "centralized": true, "lam_min": 1.0}``) and each
(family, eps) is ``meanfield.solve(family, eps, ...).activation``, solved on the client before
any task starts.

Resolved specs (what workers receive) are dicts ``{"name" | "expression", "params",
"affine": None | [scale, shift], "display"}``.
"""

from __future__ import annotations

import functools
import json
import math

__all__ = ["activation_label", "build_activation", "resolve_activation", "resolve_family"]

_SPEC_KEYS = {"name", "expression", "params", "gpn", "label"}
_FAMILY_KEYS = {"name", "centralized", "lam_min", "gpn", "label"}
_GPN_SUFFIX = "-gpn"


def _builtins():
    from meanfield.activations import list_activations

    return set(list_activations())


def _check_params(params, key):
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ValueError(f"{key}: params must be a table/dict of numbers; got {params!r}")
    out = {}
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise ValueError(f"{key}: parameter {k!r} must be a finite number; got {v!r}")
        out[str(k)] = float(v)
    return out


def _parse(value, key, allowed):
    """Split a user spec into (name or None, expression or None, params, gpn, label, extra)."""
    if isinstance(value, str):
        text = value.strip()
        gpn = text.lower().endswith(_GPN_SUFFIX) and text.lower() not in _builtins()
        name = text[: -len(_GPN_SUFFIX)] if gpn else text
        return name, None, {}, gpn, text, {}
    if not isinstance(value, dict):
        raise ValueError(f"{key}: an activation is a name, a table/dict "
                         f"{{name|expression, params, gpn, label}} or an Activation; got {value!r}")
    unknown = set(value) - allowed
    if unknown:
        raise ValueError(f"{key}: unknown activation field(s) {sorted(unknown)}; "
                         f"valid fields are {sorted(allowed)}")
    name, expression = value.get("name"), value.get("expression")
    if (name is None) == (expression is None):
        raise ValueError(f"{key}: give exactly one of 'name' or 'expression'; got {value!r}")
    gpn = value.get("gpn", False)
    if not isinstance(gpn, bool):
        raise ValueError(f"{key}: gpn must be true or false; got {gpn!r}")
    params = _check_params(value.get("params"), key)
    label = value.get("label")
    if label is None:
        base = str(name if name is not None else expression)
        if params:
            base += "(" + ", ".join(f"{k}={v:g}" for k, v in params.items()) + ")"
        label = base + (_GPN_SUFFIX if gpn else "")
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"{key}: label must be a non-empty string; got {label!r}")
    extra = {k: value[k] for k in ("centralized", "lam_min") if k in value}
    return name, expression, params, gpn, label, extra


def _spec_of(act, display):
    """Resolved spec of an activation built from a built-in (possibly affine) or an expression."""
    return {"name": act.name, "params": dict(act.params), "affine": None, "display": display}


def resolve_activation(value, key="activation"):
    """Resolve a user activation spec; return ``(label, spec)``.

    The activation is built once on the client, so an unknown name, parameter or a bad
    expression fails here, before any task starts, with ``key`` in the message.

    >>> label, spec = resolve_activation("tanh-gpn")
    >>> label, spec["name"], round(spec["affine"][0], 6)
    ('tanh-gpn', 'tanh', 1.467414)
    """
    from meanfield.activations import Activation, get_activation

    if isinstance(value, Activation):
        return _resolve_object(value, key)
    name, expression, params, gpn, label, _ = _parse(value, key, _SPEC_KEYS)
    try:
        if expression is not None:
            if not isinstance(expression, str):
                raise ValueError(f"expression must be a string; got {expression!r}")
            base = Activation.from_expression(expression, params=params)
            spec = {"expression": expression, "params": params, "affine": None, "display": label}
        else:
            base = get_activation(str(name), **params)
            spec = {"name": base.name, "params": dict(base.params), "affine": None, "display": label}
        if gpn:
            spec["affine"] = _gpn_affine(base)
    except ValueError as exc:
        raise ValueError(f"{key} {label!r}: {exc}") from None
    return label, spec


def _gpn_affine(base):
    """``[a, b]`` of ``base.gpn()`` (Lu et al.): the worker rebuilds ``base.affine(a, b)``."""
    gpn = base.gpn()
    extra = [k for k in gpn.params if k not in base.params]  # the fresh scale and shift names
    return [gpn.params[extra[0]], gpn.params[extra[1]]]


def _resolve_object(act, key):
    """An Activation object: accepted when it is a built-in or an affine (e.g. GPN) version of one."""
    from meanfield.activations import get_activation

    builtins = _builtins()
    info = act.to_dict()
    name, params = info["name"], dict(info["params"])
    if name in builtins:
        get_activation(name, **params)
        return name, {"name": name, "params": params, "affine": None, "display": name}
    base_name = name[: -len(_GPN_SUFFIX)] if name.endswith(_GPN_SUFFIX) else None
    if base_name in builtins and {"scale", "shift"} <= set(params):
        scale, shift = params.pop("scale"), params.pop("shift")
        return name, {"name": base_name, "params": params, "affine": [scale, shift], "display": name}
    raise ValueError(f"{key}: activation {name!r} cannot travel to Dask workers as a spec; give it "
                     "as a built-in name with params, or as expression text "
                     "({'expression': '...', 'params': {...}})")


def resolve_family(value, eps, key="activation"):
    """Solve the SELU-family activation ``value`` at ``eps`` (:func:`meanfield.solve`).

    Returns ``(label, spec, solution_params)``. An infeasible ``eps`` raises ValueError naming
    the grid key ``eps``.
    """
    from meanfield.solver import FAMILIES, solve

    name, expression, params, gpn, label, extra = _parse(value, key, _FAMILY_KEYS)
    if expression is not None or name not in FAMILIES or name == "selu":
        raise ValueError(f"grid key 'eps' needs solver families for {key} "
                         f"(dselu, sselu, lselu); got {value!r}")
    try:
        sol = solve(name, eps, **extra)
    except ValueError as exc:
        raise ValueError(f"eps = {eps!r} for {label}: {exc}") from None
    spec = {"name": name, "params": dict(sol.params), "affine": None, "display": label}
    if gpn:
        spec["affine"] = _gpn_affine(sol.activation)
    return label, spec, dict(sol.params)


def activation_label(value):
    """The coordinate label of a user spec without building it (for family specs with eps)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        return _parse(value, "activation", _SPEC_KEYS | _FAMILY_KEYS)[4]
    return getattr(value, "name", repr(value))


def build_activation(spec):
    """Rebuild the activation of a resolved spec (on a worker), cached per process.

    >>> from meanfield import get_activation
    >>> act = build_activation(resolve_activation("selu-gpn")[1])
    >>> act.params == get_activation("selu").gpn().params
    True
    """
    return _build_cached(json.dumps(spec, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _build_cached(text):
    from meanfield.activations import Activation, get_activation

    spec = json.loads(text)
    if spec.get("expression") is not None:
        act = Activation.from_expression(spec["expression"], params=spec["params"])
    else:
        act = get_activation(spec["name"], **spec["params"])
    if spec.get("affine") is not None:
        scale, shift = spec["affine"]
        act = act.affine(scale, shift, name=spec["display"])
    return act
