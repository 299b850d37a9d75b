"""``meanfield check ACT``: run the self-normalization property checks on one activation.

Exit status 0 when every check passes, 1 when any fails (like pytest or ruff), 2 on bad input.
"""

from __future__ import annotations

from meanfield.commands import UsageError, activation_from_args, add_activation_arguments, print_json
from meanfield.commands._choices import METHODS

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser(
        "check", help="check Definition 2, Propositions 3.1/3.2, GPN and Poincare on an activation",
        description="Run meanfield.properties.check_activation and print a pass/fail table with margins "
                    "and a verdict. Exit status 0 when every check passes, 1 when any fails.")
    add_activation_arguments(p)
    p.add_argument("--rtol", type=float, default=None, metavar="TOL",
                   help="tolerance of the equalities E f^2 = 1 and phi(1) = 1 + eps (default: derived "
                        "from the rounding of the parameters as given, at least 1e-10)")
    p.add_argument("--method", choices=METHODS, default="auto", help="engine (default auto)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def run(args):
    from meanfield.properties import check_activation

    if args.rtol is not None and not args.rtol >= 0:
        raise UsageError(f"--rtol must be >= 0; got {args.rtol}")
    act = activation_from_args(args)
    results = check_activation(act, method=args.method, tol=args.rtol)
    failed = [r.name for r in results if not r.passed]
    passed = not failed
    summary = (f"{len(results) - len(failed)} of {len(results)} checks passed"
               + (f"; failed: {', '.join(failed)}" if failed else ""))
    if args.json:
        print_json({"activation": act.to_dict(), "passed": passed, "n_checks": len(results),
                    "failed": failed, "summary": summary, "checks": [r.to_dict() for r in results]})
    else:
        print(f"{act!r}")
        print(f"  {'check':<22} {'result':<6} {'margin':>10}  detail")
        for r in results:
            print(f"  {r.name:<22} {'pass' if r.passed else 'FAIL':<6} {r.margin:>10.3g}  {r.detail}")
        print(("PASSED: " if passed else "FAILED: ") + summary)
    return 0 if passed else 1
