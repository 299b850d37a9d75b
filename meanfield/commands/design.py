"""``meanfield design``: DKS/TAT transforms and general design problems (DESIGN.md, Design of activations).

::

    meanfield design ACT --dks --depth L [--c-slope Z] [--q-slope S]     Deep Kernel Shaping
    meanfield design ACT --tat --depth L [--c-curve T | --c0 E]          Tailored Activation Transformation
    meanfield design ACT --unknown P [--unknown P ...] --condition 'phi(1)=1.03' [...]
                     [--objective gamma1] [--bound P=LO:HI] [--param P=V]  any design problem

ACT is a built-in name or, with ``--expr``, a SymPy expression in x. Each takes ``--json``.
"""

from __future__ import annotations

from meanfield.commands import UsageError, parse_params, print_json

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser(
        "design", help="activation design: DKS/TAT transforms, any mean-field conditions",
        description="Transform an activation with Deep Kernel Shaping (--dks) or Tailored Activation "
                    "Transformation (--tat) for a DEPTH-layer MLP, or solve any conditions "
                    "(--unknown, --condition, --objective) for its parameters.")
    p.add_argument("act", metavar="ACT", help="built-in activation name, or a SymPy expression with --expr")
    p.add_argument("--expr", action="store_true", help="ACT is a SymPy expression in x")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dks", action="store_true", help="Deep Kernel Shaping (Martens et al. 2021)")
    mode.add_argument("--tat", action="store_true", help="Tailored Activation Transformation (Zhang et al. 2022)")
    p.add_argument("--depth", type=int, help="number of layers of the MLP (--dks/--tat)")
    p.add_argument("--c-slope", type=float, default=1.5, help="DKS: the net's C'(1) (default 1.5)")
    p.add_argument("--q-slope", type=float, default=1.0, help="DKS: the local Q'(1) (default 1)")
    p.add_argument("--c-curve", type=float, default=0.3, help="TAT (smooth): the net's C''(1) (default 0.3)")
    p.add_argument("--c0", type=float, default=0.9, help="TAT (lrelu): the net's C(0) (default 0.9)")
    p.add_argument("--unknown", action="append", default=[], metavar="P", help="parameter to solve for")
    p.add_argument("--condition", action="append", default=[], metavar="COND=TARGET",
                   help="e.g. 'phi(1)=1.03', 'second_moment(1)=1', 'c_slope(1)=1.04'")
    p.add_argument("--objective", metavar="COND", help="condition to minimize, e.g. gamma1")
    p.add_argument("--bound", action="append", default=[], metavar="P=LO:HI",
                   help="bounds of an unknown (empty side open), e.g. lam=1:")
    p.add_argument("--param", action="append", default=[], metavar="P=V",
                   help="parameter value (start value of an unknown)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def _activation(args):
    from meanfield.activations import Activation, get_activation

    params = parse_params(args.param)
    if args.expr:
        return Activation.from_expression(args.act, params=params), params
    if args.dks or args.tat:
        return get_activation(args.act, **params), {}
    return args.act, params


def _conditions(items):
    out = {}
    for item in items:
        cond, sep, target = item.rpartition("=")
        if not sep or not cond.strip():
            raise UsageError(f"--condition expects COND=TARGET; got {item!r}")
        try:
            out[cond.strip()] = float(target)
        except ValueError:
            raise UsageError(f"--condition {cond.strip()}: target must be a number; got {target!r}") from None
    return out


def _bounds(items):
    out = {}
    for item in items:
        name, sep, span = item.partition("=")
        lo, colon, hi = span.partition(":")
        if not sep or not colon or not name.strip():
            raise UsageError(f"--bound expects P=LO:HI (a side may be empty); got {item!r}")
        try:
            out[name.strip()] = (float(lo) if lo.strip() else None, float(hi) if hi.strip() else None)
        except ValueError:
            raise UsageError(f"--bound {name.strip()}: LO and HI must be numbers; got {span!r}") from None
    return out


def _result(args):
    from meanfield.activation_design import design, dks_transform, tat_transform

    if args.dks or args.tat:
        if args.depth is None:
            raise UsageError("--dks/--tat need --depth (layers of the MLP)")
        if args.unknown or args.condition or args.objective or args.bound:
            raise UsageError("--dks/--tat fix their own unknowns and conditions; drop --unknown/--condition/"
                             "--objective/--bound")
        act, _ = _activation(args)
        if args.dks:
            return dks_transform(act, args.depth, c_slope=args.c_slope, q_slope=args.q_slope)
        return tat_transform(act, args.depth, c_curve=args.c_curve, c0=args.c0)
    if not args.unknown or not args.condition:
        raise UsageError("give --dks or --tat (with --depth), or --unknown and --condition")
    act, params = _activation(args)
    return design(act, args.unknown, _conditions(args.condition), objective=args.objective,
                  bounds=_bounds(args.bound), start=params)


def run(args):
    result = _result(args)
    data = result.to_dict()
    if args.json:
        print_json(data)
        return 0
    is_transform = hasattr(result, "depth")  # a DKS/TAT Transform (a DesignResult has no depth)
    title = f"{result.method} ({result.base}, depth {result.depth})" if is_transform else f"design ({result.method})"
    print(title)
    for k, v in result.params.items():
        print(f"  {k:<14}{v:.15g}")
    if getattr(result, "objective", None):
        print(f"  {result.objective} = {result.objective_value:.12g}")
    print("  residuals: " + ", ".join(f"{k} = {v:.2g}" for k, v in result.residuals.items()))
    return 0
