"""``meanfield phase ACT``: the order-to-chaos boundary chi1 = 1 in the (sigma_w^2, sigma_b^2) plane."""

from __future__ import annotations

from meanfield.commands import UsageError, activation_from_args, add_activation_arguments, print_json
from meanfield.commands._choices import METHODS

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser(
        "phase", help="order-to-chaos phase boundary chi1 = 1 (and a phase-diagram plot)",
        description="Print the critical weight variance sigma_w^2 (chi1 = 1) at each bias variance; "
                    "--plot draws the phase diagram with the depth scale xi_c as colour "
                    "(Schoenholz et al. 2017, Fig. 1).")
    add_activation_arguments(p)
    p.add_argument("--bias-var", type=float, nargs="+", action="extend", default=None, metavar="B",
                   help="bias variances (>= 0); repeatable (default 0 0.05 0.1 0.2 0.3)")
    p.add_argument("--plot", default=None, metavar="FILE", help="write the phase diagram (PNG/SVG/PDF)")
    p.add_argument("--grid", type=int, default=16, metavar="N",
                   help="points per axis of the --plot grid (>= 2, default 16)")
    p.add_argument("--max-weight-var", type=float, default=4.0, metavar="W",
                   help="largest sigma_w^2 of the --plot grid (> 0, default 4)")
    p.add_argument("--method", choices=METHODS, default="auto", help="engine (default auto)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def run(args):
    import numpy as np

    from meanfield._files import check_writable
    from meanfield.correlations.phase import critical_line

    act = activation_from_args(args)
    bias = np.asarray(args.bias_var if args.bias_var else [0.0, 0.05, 0.1, 0.2, 0.3], dtype=float)
    # checked with or without --plot: a bad value is a mistake either way
    if args.grid < 2:
        raise UsageError(f"--grid must be an integer >= 2; got {args.grid}")
    if not (np.isfinite(args.max_weight_var) and args.max_weight_var > 0):
        raise UsageError(f"--max-weight-var must be finite and > 0; got {args.max_weight_var}")
    if args.plot is not None:
        check_writable(args.plot, "--plot")
    line = critical_line(act, bias, method=args.method)
    rows = [{"bias_var": float(b), "critical_weight_var": None if np.isnan(w) else float(w)}
            for b, w in zip(bias, line, strict=True)]
    if args.plot is not None:
        _plot(act, args, bias, line)
    if args.json:
        print_json({"activation": act.to_dict(), "method": args.method, "rows": rows,
                    "plot": args.plot})
        return 0
    print(f"{act!r}: order-to-chaos boundary chi1 = 1   (method={args.method})")
    print(f"{'bias_var':>14}  {'critical weight_var':>20}")
    for row in rows:
        w = row["critical_weight_var"]
        print(f"{row['bias_var']:>14.6g}  {'none in (1e-3, 1e3)' if w is None else format(w, '.12g'):>20}")
    if args.plot is not None:
        print(f"wrote {args.plot}")
    return 0


def _plot(act, args, bias, line):
    import numpy as np

    from meanfield._files import atomic_path
    from meanfield.correlations.phase import phase_grid
    from meanfield.report._core import new_figure

    b_max = max(float(bias.max()), 1e-3)
    weights = np.linspace(args.max_weight_var / args.grid, args.max_weight_var, args.grid)
    biases = np.linspace(0.0, b_max, args.grid)
    grid = phase_grid(act, weights, biases, method=args.method)
    fig, ax = new_figure(figsize=(5.5, 4.2))
    mesh = ax.pcolormesh(weights, biases, np.log10(np.minimum(grid["xi_c"], 1e3)), shading="auto",
                         cmap="viridis")
    fig.colorbar(mesh, ax=ax, label=r"$\log_{10} \xi_c$ (capped at $10^3$)")
    ok = np.isfinite(line)
    ax.plot(line[ok], bias[ok], "w-o", label=r"$\chi_1 = 1$")
    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel(r"$\sigma_b^2$")
    ax.set_title(f"{act.name}: ordered (left) / chaotic (right)")
    ax.legend(loc="upper left")
    suffix = args.plot.rsplit(".", 1)[-1] if "." in args.plot else "png"
    with atomic_path(args.plot) as tmp:
        fig.savefig(tmp, format=suffix, dpi=120)
