"""``meanfield maps ACT``: every mean-field map of an activation at given q."""

from __future__ import annotations

import numpy as np

from meanfield import maps
from meanfield.commands import UsageError, activation_from_args, add_activation_arguments, print_json
from meanfield.engines import METHODS

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser(
        "maps", help="phi(q), delta_q, gamma_q, ... of an activation",
        description="Print second_moment, phi, dphi_dq, delta, gamma at each q, plus gamma1 "
                    "and the GPN constants.")
    add_activation_arguments(p)
    p.add_argument("--q", type=float, nargs="+", default=[1.0], help="pre-activation second moments (> 0)")
    p.add_argument("--method", choices=METHODS, default="auto", help="engine (default auto)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def run(args):
    act = activation_from_args(args)
    q = np.asarray(args.q, dtype=float)
    if np.any(~np.isfinite(q)) or np.any(q <= 0):
        raise UsageError(f"--q must be finite and > 0; got {args.q}")
    m = args.method
    table = {
        "q": q,
        "second_moment": maps.second_moment(act, q, method=m),
        "phi": maps.phi(act, q, method=m),
        "dphi_dq": maps.dphi_dq(act, q, method=m),
        "delta": maps.delta(act, q, method=m),
        "gamma": maps.gamma(act, q, method=m),
    }
    result = {"activation": act.to_dict(), "method": m, "gamma1": float(maps.gamma1(act, method=m)),
              "rows": [{k: float(v[i]) for k, v in table.items()} for i in range(q.size)]}
    if args.json:
        print_json(result)
        return 0
    print(f"{act!r}   gamma1 = {result['gamma1']:.12g}   (method={m})")
    cols = list(table)
    print("  ".join(f"{c:>20}" for c in cols))
    for row in result["rows"]:
        print("  ".join(f"{row[c]:>20.12g}" for c in cols))
    return 0
