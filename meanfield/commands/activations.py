"""``meanfield activations``: list the built-in activations and their parameters."""

from __future__ import annotations

from meanfield.activations import _BUILTIN_SPECS, ACTIVATIONS, list_activations
from meanfield.commands import print_json

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser("activations", help="list built-in activations",
                              description="List the built-in activations with their parameters.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def _parameters(name):
    spec = _BUILTIN_SPECS.get(name)
    if spec is None:
        return {"var": 1.0}
    params = dict(spec["defaults"] or {})
    params.update({k: None for k in spec.get("required", ()) if k not in params})
    return params


def run(args):
    rows = [{"name": n, "parameters": _parameters(n), "description": ACTIVATIONS[n]}
            for n in list_activations()]
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        ps = ", ".join(f"{k}={'required' if v is None else v}" for k, v in row["parameters"].items())
        print(f"{row['name']:<9} {('(' + ps + ')') if ps else '':<48} {row['description']}")
    return 0
