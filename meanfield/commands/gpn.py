"""``meanfield gpn ACT``: the GPN constants (a, b) of an activation and a check of both equalities."""

from __future__ import annotations

from meanfield.commands import activation_from_args, add_activation_arguments, print_json
from meanfield.commands._choices import METHODS

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser(
        "gpn", help="Gaussian-Poincare normalization constants (a, b)",
        description="Print a, b with E[(a f(z) + b)^2] = E[(a f'(z))^2] = 1 (Lu, Gould, Ajanthan).")
    add_activation_arguments(p)
    p.add_argument("--sign", type=int, choices=(1, -1), default=1, help="root for b (default +1)")
    p.add_argument("--method", choices=METHODS, default="auto", help="engine (default auto)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def run(args):
    from meanfield import maps

    act = activation_from_args(args)
    a, b = maps.gpn_constants(act, sign=args.sign, method=args.method)
    gpn = act.affine(a, b, name=f"{act.name}-gpn")
    result = {"activation": act.to_dict(), "a": float(a), "b": float(b),
              "E[(a f + b)^2]": float(maps.second_moment(gpn, 1.0, method=args.method)),
              "E[(a f')^2]": float(maps.phi(gpn, 1.0, method=args.method)),
              "E[a f + b]": float(maps.output_mean(gpn, 0.0, 1.0, method=args.method))}
    if args.json:
        print_json(result)
        return 0
    print(f"{act!r}")
    for key in ("a", "b", "E[(a f + b)^2]", "E[(a f')^2]", "E[a f + b]"):
        print(f"  {key:<16} {result[key]:.12g}")
    return 0
