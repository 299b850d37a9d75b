"""``meanfield solve``: self-normalizing parameters of SELU, dSELU, sSELU, lSELU (DESIGN.md, Solver).

::

    meanfield solve selu [--mean M] [--var V]                 Klambauer's fixed point
    meanfield solve FAMILY --eps E [E ...] [--centralized] [--lam L] [--lam-min M]
    meanfield solve --table [--eps E ...] [--lam-min M]       the analogue of Chen et al.'s Table 5

Each takes ``--json`` (machine-readable, always ``{"columns", "rows", "solutions"}`` whether one
or several problems were solved) and ``--csv PATH`` (tidy rows); several ``--eps`` values solve a
sweep. A one-solution JSON flows on: ``meanfield solve sselu --eps 0.03 --json > s.json;
meanfield check --from s.json``.
"""

from __future__ import annotations

from meanfield.commands import UsageError, print_json
from meanfield.commands._choices import FAMILIES, TABLE_EPS

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser(
        "solve", help="self-normalizing parameters (lam, alpha, beta) of the SELU family",
        description="Solve Klambauer's SELU fixed point, dSELU's equalities, the constrained program "
                    "(Chen et al., eq. 11) for sSELU/lSELU, its centralized or fixed-lam variants, or "
                    "print the Table 5 analogue with --table.")
    p.add_argument("family", nargs="?", type=str.lower, choices=FAMILIES, metavar="FAMILY",
                   help=f"one of {', '.join(FAMILIES)} (omit with --table)")
    p.add_argument("--eps", type=float, nargs="+", metavar="E",
                   help="phi(1) = 1 + eps, eps > 0; several values solve a sweep "
                        f"(--table default: {' '.join(map(str, TABLE_EPS))})")
    p.add_argument("--centralized", action="store_true",
                   help="sselu/lselu: solve phi(1) = 1 + eps, E f = 0, E f^2 = 1 instead of eq. 11")
    p.add_argument("--lam", type=float, help="sselu/lselu: fix lam in (0, sqrt 2) (Chen et al., Fig. 1)")
    p.add_argument("--lam-min", type=float, default=1.0, help="constraint lam >= lam_min (default 1)")
    p.add_argument("--mean", type=float, default=0.0, help="selu: fixed-point mean (default 0)")
    p.add_argument("--var", type=float, default=1.0, help="selu: fixed-point variance (default 1)")
    p.add_argument("--omega", type=float, default=0.0,
                   help="selu: y ~ N(mean*omega, var*tau) (default 0, normalized weights; 1 with --tau 1 is "
                        "the SNNs notebook's getSeluParameters)")
    p.add_argument("--tau", type=float, default=1.0, help="selu: see --omega (default 1)")
    p.add_argument("--table", action="store_true",
                   help="print lam, alpha, beta, gamma1 for SELU, dSELU, sSELU, lSELU (plain and centralized)")
    p.add_argument("--csv", metavar="PATH", help="also write the rows as CSV to PATH")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def _result(args):
    from meanfield.solver import parameter_table, solve

    if args.table:
        if args.family is not None:
            raise UsageError("--table takes no FAMILY")
        if args.centralized or args.lam is not None:
            raise UsageError("--table solves every variant; drop --centralized/--lam")
        return parameter_table(args.eps if args.eps else TABLE_EPS, lam_min=args.lam_min)
    if args.family is None:
        raise UsageError(f"give a FAMILY ({', '.join(FAMILIES)}) or --table")
    if args.family == "selu":
        if args.eps:
            raise UsageError("selu takes no --eps (its eps = phi(1) - 1 follows from --mean/--var)")
        return solve("selu", mean=args.mean, var=args.var, omega=args.omega, tau=args.tau)
    if not args.eps:
        raise UsageError(f"{args.family} needs --eps (phi(1) = 1 + eps, eps > 0)")
    eps = args.eps[0] if len(args.eps) == 1 else args.eps
    return solve(args.family, eps, centralized=args.centralized, lam=args.lam, lam_min=args.lam_min,
                 mean=args.mean, var=args.var, omega=args.omega,
                 tau=args.tau)  # the API refuses mean/var/omega/tau for families other than selu


def _fmt(value, width=14):
    if value is None:
        return f"{'-':>{width}}"
    if isinstance(value, bool):
        return f"{'yes' if value else 'no':>{width}}"
    if isinstance(value, float):
        return f"{value:>{width}.10g}"
    return f"{value!s:>{width}}"


def _print_table(table):
    cols = ("family", "centralized", "eps", "lam", "alpha", "beta", "gamma1", "max_residual")
    widths = {"family": 7, "centralized": 11, "eps": 12, "max_residual": 12}
    print("  ".join(f"{c:>{widths.get(c, 14)}}" for c in cols))
    for row in table.rows():
        cells = []
        for c in cols:
            w = widths.get(c, 14)
            v = row[c]
            cells.append(f"{v:>{w}.3g}" if c == "max_residual" else
                         f"{v:>{w}.6g}" if c == "eps" else _fmt(v, w))
        print("  ".join(cells))


def _print_solution(sol):
    if sol.mode == "fixed-point":
        title = (f"Klambauer fixed point (mean={sol.mean:g}, var={sol.var:g}; "
                 f"y ~ N(mean*{sol.omega:g}, var*{sol.tau:g}))")
    elif sol.mode == "equalities":
        title = "phi(1) = 1 + eps, E[f^2] = 1"
    elif sol.mode == "optimum":
        title = (f"min gamma1 s.t. phi(1) = 1 + eps, E[f^2] = 1, lam >= {sol.lam_min:g}"
                 + (" (active)" if sol.constraint_active else ""))
    elif sol.mode == "centralized":
        title = "phi(1) = 1 + eps, E[f] = 0, E[f^2] = 1"
    else:
        title = f"phi(1) = 1 + eps, E[f^2] = 1 at lam = {sol.params['lam']:g}"
    print(f"{sol.family}: {title}")
    print(f"  {'eps':<8}{sol.eps:.12g}")
    for k, v in sol.params.items():
        print(f"  {k:<8}{v:.15g}")
    print(f"  {'gamma1':<8}{sol.gamma1:.12g}")
    print("  residuals: " + ", ".join(f"{k} = {v:.2g}" for k, v in sol.residuals.items()))
    for r in sol.other_roots:
        print(f"  other root: lam={r['lam']:.10g} alpha={r['alpha']:.10g} "
              + (f"beta={r['beta']:.10g} " if r.get("beta") is not None else "")
              + f"({r['reason']})")


def run(args):
    if args.csv:  # before solving, not after it
        from meanfield._files import check_writable

        check_writable(args.csv, "--csv")
    from meanfield.solver import SolutionTable

    result = _result(args)
    table = result if isinstance(result, SolutionTable) else SolutionTable([result])
    if args.csv:
        table.to_csv(args.csv)
    if args.json:  # one schema for one eps, a sweep or --table: {"columns", "rows", "solutions"}
        print_json(table.to_dict())
        return 0
    if isinstance(result, SolutionTable):
        _print_table(result)
    else:
        _print_solution(result)
    return 0
