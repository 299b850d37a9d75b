"""``meanfield cmap ACT --c ...``: the correlation map and its slope at q* (or a given q)."""

from __future__ import annotations

from meanfield.commands import activation_from_args, add_activation_arguments, print_json
from meanfield.commands._choices import METHODS

__all__ = ["register", "run"]

_COLUMNS = ("c", "c_map", "chi_c", "covariance", "derivative_covariance")


def register(subparsers):
    p = subparsers.add_parser(
        "cmap", help="correlation map c -> c' of a random layer, its slope chi_c",
        description="Print the c-map (sigma_w^2 E[f(u1) f(u2)] + sigma_b^2)/q' and its slope chi_c "
                    "at each input correlation c, at the fixed point q* of the length map unless "
                    "--q is given; also q*, chi1 and the stable correlation c*.")
    add_activation_arguments(p)
    p.add_argument("--c", type=float, nargs="+", action="extend", default=None, metavar="C",
                   help="input correlations in [-1, 1]; repeatable (default -1 -0.5 0 0.5 1)")
    p.add_argument("--q", type=float, default=None, metavar="Q",
                   help="pre-activation second moment (> 0; default: the fixed point q*)")
    p.add_argument("--weight-var", type=float, default=1.0, metavar="W", help="sigma_w^2 (> 0, default 1)")
    p.add_argument("--bias-var", type=float, default=0.0, metavar="B", help="sigma_b^2 (>= 0, default 0)")
    p.add_argument("--method", choices=METHODS, default="auto", help="engine (default auto)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def run(args):
    import numpy as np

    from meanfield import correlations as corr

    act = activation_from_args(args)
    c = np.asarray(args.c if args.c else [-1.0, -0.5, 0.0, 0.5, 1.0], dtype=float)
    kw = {"weight_var": args.weight_var, "bias_var": args.bias_var, "method": args.method}
    c = corr.maps.check_correlation(c, "--c")
    layer = dict(kw)
    if args.q is None:
        q_star = corr.fixed_point(act, args.weight_var, args.bias_var, method=args.method)
        q = corr.fixed_points.q_floor(q_star)
    else:
        q_star = None
        q = float(corr.maps.as_real_array(args.q, "--q", positive=True))
    cmap = np.atleast_1d(corr.correlation_map(act, c, q=q, **layer))
    slope = np.atleast_1d(corr.chi_c(act, c, q=None if args.q is None else q, **layer))
    cov = np.atleast_1d(corr.covariance(act, q, q, c, method=args.method))
    dcov = np.atleast_1d(corr.derivative_covariance(act, q, q, c, method=args.method))
    result = {"activation": act.to_dict(), "method": args.method, "weight_var": args.weight_var,
              "bias_var": args.bias_var, "q": q, "q_star": q_star,
              "rows": [{"c": float(c[i]), "c_map": float(cmap[i]), "chi_c": float(slope[i]),
                        "covariance": float(cov[i]), "derivative_covariance": float(dcov[i])}
                       for i in range(c.size)]}
    if q_star is not None:
        result["chi1"] = corr.chi1(act, args.weight_var, args.bias_var, method=args.method)
        result["c_star"] = corr.correlation_fixed_point(act, args.weight_var, args.bias_var,
                                                        method=args.method)
    if args.json:
        print_json(result)
        return 0
    print(f"{act!r}   weight_var={args.weight_var:g}, bias_var={args.bias_var:g}   (method={args.method})")
    if q_star is not None:
        print(f"  q* = {q_star:.12g}   chi1 = {result['chi1']:.12g}   c* = {result['c_star']:.12g}")
    else:
        print(f"  q = {q:.12g} (given)")
    print("  ".join(f"{col:>22}" for col in _COLUMNS))
    for row in result["rows"]:
        print("  ".join(f"{row[col]:>22.14g}" for col in _COLUMNS))
    return 0
