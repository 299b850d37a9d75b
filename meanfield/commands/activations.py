"""``meanfield activations``: list the built-in activations and their parameters."""

from __future__ import annotations

from meanfield.commands import print_json

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser("activations", help="list built-in activations",
                              description="List the built-in activations with their parameters.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def _parameters(name):
    from meanfield._builtins import _BUILTIN_SPECS

    spec = _BUILTIN_SPECS.get(name)
    if spec is None:
        return {"var": 1.0}
    params = dict(spec["defaults"] or {})
    params.update({k: None for k in spec.get("required", ()) if k not in params})
    return params


def run(args):
    from meanfield.activations import ACTIVATIONS, list_activations

    rows = [{"name": n, "parameters": _parameters(n), "description": ACTIVATIONS[n]}
            for n in list_activations()]
    if args.json:
        print_json(rows)
        return 0
    # defaults shown to 6 significant digits (full precision in --json); columns sized to fit
    cells = []
    for row in rows:
        ps = ", ".join(f"{k}={'required' if v is None else format(v, '.6g')}"
                       for k, v in row["parameters"].items())
        cells.append((row["name"], f"({ps})" if ps else "", row["description"]))
    name_w = max(len(c[0]) for c in cells)
    param_w = max(len(c[1]) for c in cells)
    for name, ps, description in cells:
        print(f"{name:<{name_w}}  {ps:<{param_w}}  {description}")
    return 0
