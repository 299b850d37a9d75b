"""``meanfield simulate``: Monte-Carlo simulation of a deep random net against mean-field theory.

Examples::

    meanfield simulate selu --depth 64 --width 512 --seeds 4
    meanfield simulate tanh --gpn --weights orthogonal --depth 200 --width 500 --plot tanh.png
    meanfield simulate sselu --param lam=1.04 --param alpha=1.6 --param beta=1.3 --json
    meanfield simulate relu --out relu.npz     # or .nc (needs xarray)
    meanfield simulate tanh --weight-var 2.5 --bias-var 0.3 --input-correlation 0.5 --width 1000

Exit status 0; 2 for a usage error (including a run that would not fit in memory); 1 when the
simulated trace is not finite (overflow of the dtype; the table and files are still written, and a
warning names the records and layers). Warnings (overflow, an unstable mean-field prediction) go
to stderr as one line.
    meanfield solve sselu --eps 0.03 --json > s.json; meanfield simulate --from s.json
"""

from __future__ import annotations

import math
import sys
import warnings

from meanfield.backends import BACKENDS
from meanfield.commands import UsageError, activation_from_args, add_activation_arguments, print_json
from meanfield.commands._choices import WEIGHT_KINDS

__all__ = ["format_table", "register", "run", "write_plot"]

_TABLE_ROWS = 12


def register(subparsers):
    """Add the ``simulate`` subcommand."""
    p = subparsers.add_parser(
        "simulate", help="simulate a deep random net and compare with mean-field theory",
        description="Simulate the forward and backward pass of deep random fully connected "
                    "nets and compare the per-layer statistics with the mean-field recursion.")
    add_activation_arguments(p)
    p.add_argument("--depth", type=int, default=32, help="number of layers L (default 32)")
    p.add_argument("--width", type=int, default=512, help="width n (default 512)")
    # defaults: meanfield.simulation.DEFAULT_BATCH and DEFAULT_N_SEEDS (not imported here, so that the
    # parser stays light; tests/test_simulate_cli.py checks they agree)
    p.add_argument("--batch", type=int, default=16, help="inputs per net (default 16)")
    p.add_argument("--weights", choices=WEIGHT_KINDS, default="gaussian")
    p.add_argument("--weight-var", type=float, default=1.0, help="n Var[W_ij] (default 1)")
    p.add_argument("--weight-mean", type=float, default=0.0, help="E[W_ij] (default 0)")
    p.add_argument("--bias-var", type=float, default=0.0,
                   help="variance of the biases b_l ~ N(0, bias_var) (default 0: no bias)")
    p.add_argument("--centralize-weights", action="store_true", help="use W - mean(W)")
    p.add_argument("--input-mean", type=float, default=0.0, help="mean of the inputs")
    p.add_argument("--input-var", type=float, default=1.0, help="variance of the inputs")
    p.add_argument("--input-correlation", type=float, default=None, metavar="C0",
                   help="correlation of the batch's inputs, in [-1/(batch-1), 1]; records c, the "
                        "mean pairwise correlation of h_l, beside the c-map")
    p.add_argument("--seeds", type=int, default=4, metavar="N",
                   help="number of independent nets (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first net (default 0)")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--out", metavar="FILE", help="save the trace (.npz, or .nc with xarray)")
    p.add_argument("--plot", metavar="FILE",
                   help="write a PNG of q, x_sq and grad_w_fro vs layer with theory")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--progress", action="store_true", help="show a progress bar (tqdm)")
    p.set_defaults(handler=run)
    return p


def run(args):
    """Run the simulation described by ``args``; returns the exit status."""
    from meanfield._files import check_writable
    from meanfield.simulation import simulate

    for name in ("out", "plot"):
        path = getattr(args, name)
        if path is not None and not path.strip():
            raise UsageError(f"--{name} needs a file name")
    if args.out and not args.out.lower().endswith((".npz", ".nc")):
        raise UsageError(f"--out must end with .npz or .nc; got {args.out!r}")
    if args.plot and not args.plot.lower().endswith(".png"):
        raise UsageError(f"--plot must end with .png; got {args.plot!r}")
    for name in ("out", "plot"):  # before the simulation, not after it
        if getattr(args, name):
            check_writable(getattr(args, name), f"--{name}")
    act = activation_from_args(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trace = simulate(act, depth=args.depth, width=args.width, batch=args.batch,
                         weights=args.weights, weight_var=args.weight_var,
                         weight_mean=args.weight_mean, bias_var=args.bias_var,
                         centralize_weights=args.centralize_weights,
                         input_mean=args.input_mean, input_var=args.input_var,
                         input_correlation=args.input_correlation,
                         backend=args.backend, dtype=args.dtype, seed=args.seed,
                         n_seeds=args.seeds, progress=args.progress)
        try:
            theory = trace.theory()
        except ValueError as exc:  # e.g. the recursion leaves float64 range
            theory = None
            no_theory = f"no mean-field prediction ({exc})"
        else:
            no_theory = None
    # every warning in one line on stderr, never Python's two-line warning format
    notes = [str(w.message) for w in caught] + ([no_theory] if no_theory else [])
    if notes:
        print(f"meanfield: warning: {'; '.join(notes)}".replace("\n", " "), file=sys.stderr)
    if args.out:
        try:
            trace.save(args.out)
        except ImportError as exc:
            raise UsageError(f"--out {args.out}: {exc}") from None
    if args.plot:
        write_plot(trace, theory, args.plot)
    if args.json:
        out = trace.to_dict(theory=theory is not None)  # theory() is cached: not recomputed
        out.setdefault("theory", None)
        out["files"] = {"out": args.out, "plot": args.plot}
        print_json(out)
    else:
        print(format_table(trace, theory))
        written = [path for path in (args.out, args.plot) if path]
        if written:
            print(f"wrote {' and '.join(written)}")
    return 0 if trace.first_nonfinite_layer is None else 1



def _rows(depth, count=_TABLE_ROWS):
    if depth <= count:
        return list(range(1, depth + 1))
    picks = {round(1 + i * (depth - 1) / (count - 1)) for i in range(count)}
    return sorted(picks)


def format_table(trace, theory=None):
    """Compact text table: seed statistic ± standard error beside theory at up to 12 layers.

    Columns ``q``, ``x_sq`` (seed means) and ``grad_w_fro`` (root mean square over seeds, what
    the theory predicts; :meth:`~meanfield.trace.Trace.seed_statistic`), and ``c`` when recorded;
    the first and last layer are always shown. Standard errors need 2+ seeds.
    """
    p = trace.params
    head = (f"{trace.activation_info.get('name')}: depth={trace.depth} width={p['width']} "
            f"batch={p['batch']} weights={p['weights']} seeds={trace.n_seeds} "
            f"backend={trace.backend} dtype={trace.dtype} "
            f"({trace.provenance.get('elapsed_s', float('nan')):.2f} s)")
    cols = ("q", "x_sq", "grad_w_fro") + (("c",) if trace.c is not None else ())
    stats = {k: trace.seed_statistic(k) for k in cols}
    sim = {k: v for k, (v, _) in stats.items()}
    err = {k: e for k, (_, e) in stats.items()}
    names = {k: k + (" rms" if k == "grad_w_fro" else "") for k in cols}
    header = f"{'layer':>5}" + "".join(f" {names[k] + ' sim':>20} {k + ' theory':>11}" for k in cols)
    lines = [head, header]
    for layer in _rows(trace.depth):
        j = layer - 1
        cells = [f"{layer:>5}"]
        for k in cols:
            se = err[k][j]
            sim_txt = f"{sim[k][j]:.5g}" + ("" if not math.isfinite(se) else f" ± {se:.2g}")
            th = "n/a" if theory is None or (k == "c" and not theory.has_c) \
                else f"{getattr(theory, k)[j]:.5g}"
            cells.append(f" {sim_txt:>20} {th:>11}")
        lines.append("".join(cells))
    return "\n".join(lines)


def write_plot(trace, theory, path):
    """PNG of q, x_sq and grad_w_fro vs layer: seed statistic with error band and theory.

    ``grad_w_fro`` shows the root mean square over seeds, the statistic the theory predicts.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from meanfield._files import atomic_path

    layers = trace.layers
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    labels = {"q": r"$q_l = |h_l|^2/n$", "x_sq": r"$|x_l|^2/n$",
              "grad_w_fro": r"$\|\partial L/\partial W_l\|_F$ (rms over seeds)"}
    for ax, k in zip(axes, ("q", "x_sq", "grad_w_fro"), strict=True):
        m, se = trace.seed_statistic(k)
        ax.plot(layers, m, color="C0", label=f"simulation ({trace.n_seeds} seeds)")
        if trace.n_seeds > 1:
            ax.fill_between(layers, m - 2 * se, m + 2 * se, color="C0", alpha=0.3,
                            label="± 2 s.e.")
        if theory is not None:
            ax.plot(layers, getattr(theory, k), "--", color="C3", label="mean-field theory")
        ax.set_xlabel("layer l")
        ax.set_title(labels[k])
        if k == "grad_w_fro":
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    p = trace.params
    fig.suptitle(f"{trace.activation_info.get('name')}, {p['weights']} weights, "
                 f"L={trace.depth}, n={p['width']}, batch={p['batch']}")
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
    return path
