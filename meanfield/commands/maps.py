"""``meanfield maps ACT``: every mean-field map of an activation at given q."""

from __future__ import annotations

import math

from meanfield.commands import UsageError, activation_from_args, add_activation_arguments, print_json
from meanfield.commands._choices import METHODS

__all__ = ["register", "run"]

_COLUMNS = ("q", "second_moment", "phi", "dphi_dq", "delta", "gamma")


def register(subparsers):
    p = subparsers.add_parser(
        "maps", help="phi(q), delta_q, gamma_q, ... of an activation",
        description="Print second_moment, phi, dphi_dq, delta, gamma at each q, plus gamma1 "
                    "and the GPN constants (a, b).")
    add_activation_arguments(p)
    p.add_argument("--q", type=float, nargs="+", action="extend", default=None, metavar="Q",
                   help="pre-activation second moments (> 0); repeatable, values accumulate (default 1)")
    p.add_argument("--method", choices=METHODS, default="auto", help="engine (default auto)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def run(args):
    import numpy as np

    from meanfield import maps

    act = activation_from_args(args)
    q_values = args.q if args.q else [1.0]
    if not all(math.isfinite(v) and v > 0 for v in q_values):
        raise UsageError(f"--q must be finite and > 0; got {q_values}")
    q = np.asarray(q_values, dtype=float)
    m = args.method
    table = {
        "q": q,
        "second_moment": maps.second_moment(act, q, method=m),
        "phi": maps.phi(act, q, method=m),
        "dphi_dq": maps.dphi_dq(act, q, method=m),
        "delta": maps.delta(act, q, method=m),
        "gamma": maps.gamma(act, q, method=m),
    }
    a, b = maps.gpn_constants(act, method=m)
    result = {"activation": act.to_dict(), "method": m, "gamma1": float(maps.gamma1(act, method=m)),
              "gpn_constants": {"a": float(a), "b": float(b)},
              "rows": [{k: float(v[i]) for k, v in table.items()} for i in range(q.size)]}
    if args.json:
        print_json(result)
        return 0
    print(f"{act!r}   (method={m})")
    print(f"  gamma1 = |dphi/dq(1) + 1| = {result['gamma1']:.12g}")
    print(f"  GPN constants: a = {float(a):.12g}, b = {float(b):.12g}   (a f + b has E[.^2] = E[.'^2] = 1)")
    print("  ".join(f"{c:>20}" for c in _COLUMNS))
    for row in result["rows"]:
        print("  ".join(f"{row[c]:>20.12g}" for c in _COLUMNS))
    return 0
