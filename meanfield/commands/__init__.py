"""Subcommands of the ``meanfield`` command line, one module each.

Each module defines ``register(subparsers)``, which adds its parser and sets
``handler=run``; ``run(args) -> int`` returns the exit status. A usage problem
raises :class:`UsageError` (or ValueError from the API), which the entry point
prints as one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys

__all__ = ["UsageError", "parse_params", "print_json", "add_activation_arguments", "activation_from_args",
           "activation_from_json", "COMMAND_MODULES"]

#: modules under meanfield.commands, in the order ``meanfield --help`` lists them
COMMAND_MODULES = ("activations", "maps", "gpn", "solve", "simulate", "check", "report", "sweep", "cmap",
                   "phase", "design")


class UsageError(Exception):
    """Bad command-line input: reported in one line on stderr, exit status 2."""


def parse_params(items):
    """Turn ``["k=v", ...]`` from repeated ``--param k=v`` options into a dict of floats."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param expects KEY=VALUE; got {item!r}")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--param {key}: value must be a number; got {value!r}") from None
    return out


def add_activation_arguments(parser, *, gpn=True):
    """Add the activation arguments shared by every subcommand that takes one.

    ``ACT`` (a built-in name), or ``--expr "SYMPY"`` (a SymPy expression in ``x``), or ``--from
    FILE`` (the JSON written by ``meanfield solve --json`` or any ``--json`` output with an
    ``"activation"``); ``--param K=V`` (repeatable) sets parameters of any of them; ``--gpn``
    takes the GPN version ``a f + b``.
    """
    parser.add_argument("act", metavar="ACT", nargs="?",
                        help="built-in activation name (see `meanfield activations`); or use --expr/--from")
    parser.add_argument("--expr", metavar="SYMPY",
                        help='activation as a SymPy expression in x, e.g. --expr "x*erf(x)" or '
                             '--expr "Piecewise((x, x > 0), (a*x, True))" --param a=0.2')
    parser.add_argument("--from", dest="from_file", metavar="FILE",
                        help="take the activation from a JSON file written by `meanfield solve --json` "
                             "(or any --json output with an activation)")
    parser.add_argument("--param", action="append", default=[], metavar="K=V",
                        help="activation parameter, repeatable (e.g. --param beta=1.2)")
    if gpn:
        parser.add_argument("--gpn", action="store_true", help="use the GPN version a*f + b")


def activation_from_json(obj, source="--from"):
    """Rebuild an activation from a decoded JSON document (see :func:`add_activation_arguments`).

    Accepts ``meanfield solve --json`` output (``{"solutions": [...]}`` with one solution, or one
    solution), any ``--json`` output with an ``"activation"`` entry, and
    :meth:`~meanfield.activations.Activation.to_dict` itself (``{"name", "params", "expression"}``).
    """
    from meanfield.activations import Activation, get_activation, list_activations

    if isinstance(obj, dict) and isinstance(obj.get("solutions"), list):
        sols = obj["solutions"]
        if len(sols) != 1:
            raise UsageError(f"{source}: the file holds {len(sols)} solutions; write one with "
                             "`meanfield solve FAMILY --eps E --json`")
        obj = sols[0]
    if isinstance(obj, dict) and isinstance(obj.get("activation"), dict):
        obj = obj["activation"]
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str) or not isinstance(
            obj.get("params", {}), dict):
        raise UsageError(f"{source}: no activation found (expected the JSON of `meanfield solve --json` "
                         "or an object with name/params)")
    name, params = obj["name"], obj.get("params", {})
    try:
        params = {str(k): float(v) for k, v in params.items()}
    except (TypeError, ValueError):
        raise UsageError(f"{source}: activation parameters must be numbers; got {params!r}") from None
    if name.lower() in list_activations():
        return get_activation(name, **params)
    if isinstance(obj.get("expression"), str):
        return Activation.from_expression(obj["expression"], name=name)
    raise UsageError(f"{source}: activation {name!r} is neither built in nor given by an expression")


def activation_from_args(args):
    """Build the activation named on the command line (ACT, --expr or --from; --param, --gpn)."""
    from meanfield.activations import Activation, get_activation

    given = [opt for opt, value in (("ACT", args.act), ("--expr", getattr(args, "expr", None)),
                                   ("--from", getattr(args, "from_file", None))) if value is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of ACT, --expr SYMPY, --from FILE"
                         + (f"; got {' and '.join(given)}" if given else ""))
    params = parse_params(args.param)
    if args.act is not None:
        act = get_activation(args.act, **params)
    elif getattr(args, "expr", None) is not None:
        if not args.expr.strip():
            raise UsageError("--expr needs a SymPy expression in x, e.g. --expr \"x*erf(x)\"")
        act = Activation.from_expression(args.expr, params=params)
    else:
        path = args.from_file
        try:
            with open(path, encoding="utf-8") as fh:
                obj = json.load(fh)
        except OSError as exc:
            raise UsageError(f"--from {path}: {exc.strerror or exc}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"--from {path}: not a JSON file ({exc})") from None
        act = activation_from_json(obj, source=f"--from {path}")
        if params:
            act = act.with_params(**params)
    return act.gpn() if getattr(args, "gpn", False) else act


def print_json(obj):
    """Write ``obj`` as indented JSON to stdout (NaN/inf are refused)."""
    json.dump(obj, sys.stdout, indent=2, allow_nan=False, default=_default)
    sys.stdout.write("\n")


def _default(obj):
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
