"""Subcommands of the ``meanfield`` command line, one module each.

Each module defines ``register(subparsers)``, which adds its parser and sets
``handler=run``; ``run(args) -> int`` returns the exit status. A usage problem
raises :class:`UsageError` (or ValueError from the API), which the entry point
prints as one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys

__all__ = ["UsageError", "parse_params", "print_json", "COMMAND_MODULES"]

#: modules under meanfield.commands, in the order ``meanfield --help`` lists them
COMMAND_MODULES = ("activations", "maps", "gpn", "solve", "simulate", "check", "report")


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
