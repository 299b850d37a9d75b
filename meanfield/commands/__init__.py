"""Subcommands of the ``meanfield`` command line, one module each.

Each module defines ``register(subparsers)``, which adds its parser and sets
``handler=run``; ``run(args) -> int`` returns the exit status. A usage problem
raises :class:`UsageError` (or ValueError from the API), which the entry point
prints as one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys

from meanfield.activations import get_activation

__all__ = ["UsageError", "parse_params", "print_json", "add_activation_arguments", "activation_from_args",
           "COMMAND_MODULES"]

#: modules under meanfield.commands, in the order ``meanfield --help`` lists them
COMMAND_MODULES = ("activations", "maps", "gpn", "solve", "simulate", "check", "report", "design")


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


def add_activation_arguments(parser):
    """Add ACT, --param and --gpn (shared by several subcommands)."""
    parser.add_argument("act", metavar="ACT", help="built-in activation name (see `meanfield activations`)")
    parser.add_argument("--param", action="append", default=[], metavar="K=V",
                        help="activation parameter, repeatable (e.g. --param beta=1.2)")
    parser.add_argument("--gpn", action="store_true", help="use the GPN version a*f + b")


def activation_from_args(args):
    """Build the activation named on the command line (with --param and --gpn)."""
    act = get_activation(args.act, **parse_params(args.param))
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
