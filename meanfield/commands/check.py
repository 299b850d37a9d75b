"""``meanfield check ACT``: run the self-normalization property checks on one activation."""

from __future__ import annotations

from meanfield.commands import activation_from_args, add_activation_arguments, print_json
from meanfield.engines import METHODS

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser(
        "check", help="check Definition 2, Propositions 3.1/3.2, GPN and Poincare on an activation",
        description="Run meanfield.properties.check_activation and print a pass/fail table with margins.")
    add_activation_arguments(p)
    p.add_argument("--method", choices=METHODS, default="auto", help="engine (default auto)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def run(args):
    from meanfield.properties import check_activation

    act = activation_from_args(args)
    results = check_activation(act, method=args.method)
    if args.json:
        print_json({"activation": act.to_dict(), "checks": [r.to_dict() for r in results]})
    else:
        print(f"{act!r}")
        print(f"  {'check':<22} {'result':<6} {'margin':>10}  detail")
        for r in results:
            print(f"  {r.name:<22} {'pass' if r.passed else 'FAIL':<6} {r.margin:>10.3g}  {r.detail}")
    return 0
