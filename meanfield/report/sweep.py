"""Report figure of a sweep: Lu et al.'s gradient-norm ratio against width, from ``meanfield sweep``.

Lu, Gould & Ajanthan (synthetic experiments, L = 200, orthogonal weights): the ratio
``max_l |dE/dW_l|_F / min_l |dE/dW_l|_F`` shrinks as the width n grows for the GPN activations
("larger width leads to more stable gradients"), while SELU's gradients explode across layers.

:func:`lu_width_sweep` is a report section: it reads the result of
``meanfield sweep examples/lu_width.toml`` when one exists (``ctx.out / "lu_width.zarr"``, or
the path in the environment variable ``MEANFIELD_SWEEP_RESULT``) and otherwise runs a small
sweep on a local Dask cluster (tens of seconds with the cluster's start, so it is not in the
default ``meanfield report``). From the command line::

    meanfield sweep examples/lu_width.toml
    python -m meanfield.report.sweep examples/lu_width.zarr --out figures
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from meanfield.report._core import Claim, ReportContext, _savefig

__all__ = ["SECTIONS", "SMALL_STUDY", "gradient_ratio", "lu_width_sweep", "main", "plot_width_study"]

#: environment variable naming a stored sweep result for :func:`lu_width_sweep`
RESULT_ENV = "MEANFIELD_SWEEP_RESULT"
#: the sweep run when no result is stored: Lu et al.'s study at CPU-test size
SMALL_STUDY = {"grid": {"activation": ["tanh", "tanh-gpn", "selu", "selu-gpn"], "width": [16, 32, 64]},
               "depth": 50, "n_seeds": 4, "batch": 4, "weights": "orthogonal", "backend": "numpy"}
#: not part of the default report: a local Dask cluster's start alone takes seconds
SECTIONS = []


def gradient_ratio(ds):
    """``max_l / min_l`` of ``grad_w_fro`` per net (dims of ``ds`` without ``layer``)."""
    g = ds["grad_w_fro"]
    return g.max("layer") / g.min("layer")


def plot_width_study(ds, ctx, stem="lu_width_sweep"):
    """Write the width-study figure of sweep result ``ds`` into ``ctx.out``; return its claims.

    Left: the gradient-norm ratio (mean over nets +- 2 standard errors) against width, one line
    per activation. Right: ``|x_L|^2 / n`` at the last layer against width with the mean-field
    prediction (dashed).
    """
    import matplotlib.pyplot as plt

    if not {"activation", "width"} <= set(ds.dims):
        raise ValueError("the width study needs a sweep over activation and width; got dims "
                         f"{tuple(ds.dims)}")
    ratio = gradient_ratio(ds)
    widths = ds["width"].values
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    means = {}
    last = ds["x_sq"].isel(layer=-1)
    for i, act in enumerate(ds["activation"].values):
        r = ratio.sel(activation=act)
        n = r.sizes["seed"]
        mean = r.mean("seed").values
        err = 2 * r.std("seed", ddof=1).values / np.sqrt(n) if n > 1 else None
        means[str(act)] = mean
        left.errorbar(widths, mean, yerr=err, marker="o", capsize=3, label=str(act), color=f"C{i}")
        x = last.sel(activation=act)
        right.plot(widths, x.mean("seed").values, "o-", color=f"C{i}", label=str(act))
        right.plot(widths, ds["theory_x_sq"].sel(activation=act).isel(layer=-1).values, "--",
                   color=f"C{i}")
    depth = int(ds.sizes["layer"])
    left.set(xscale="log", yscale="log", xlabel="width n",
             ylabel=r"$\max_l \|\partial E/\partial W^l\|_F / \min_l$",
             title=f"Gradient norm ratio, L = {depth}")
    right.set(xscale="log", xlabel="width n", ylabel=r"$\|x^L\|^2 / n$",
              title="Last layer's signal (dashed: mean-field theory)")
    for ax in (left, right):
        ax.set_xticks(widths, [str(int(w)) for w in widths])
        ax.minorticks_off()
    left.legend()
    fig.suptitle(f"meanfield sweep: {int(ds.sizes['seed'])} nets per point "
                 "(Lu, Gould & Ajanthan, synthetic experiments)")
    fig.tight_layout()
    png = _savefig(fig, ctx, stem)
    gpn = {k: v for k, v in means.items() if k.endswith("-gpn")}
    shrinks = bool(gpn) and all(v[-1] < v[0] for v in gpn.values())
    return [Claim("Lu et al., synthetic experiments",
                  "larger width gives more stable gradients (the GPN ratio shrinks with n)",
                  "; ".join(f"{k}: {v[0]:.3g} at n={widths[0]} -> {v[-1]:.3g} at n={widths[-1]}"
                            for k, v in means.items()), shrinks, png)]


def _stored_result(ctx):
    path = os.environ.get(RESULT_ENV) or str(ctx.out / "lu_width.zarr")
    return path if os.path.exists(path) else None


def lu_width_sweep(ctx, result=None):
    """Report section: the width study from a stored sweep, else from :data:`SMALL_STUDY`."""
    from meanfield.sweeps import load_sweep, sweep

    path = result or _stored_result(ctx)
    if path is not None:
        ds = load_sweep(path)
    else:
        study = dict(SMALL_STUDY)
        ds = sweep(study.pop("grid"), progress=False, **study)
    return plot_width_study(ds, ctx)


def main(argv=None):
    """``python -m meanfield.report.sweep [RESULT] [--out DIR]``: write the width-study figure."""
    parser = argparse.ArgumentParser(prog="python -m meanfield.report.sweep",
                                     description="Figure of Lu et al.'s width study from a sweep "
                                                 "result (or a small sweep run now).")
    parser.add_argument("result", nargs="?", help="stored sweep (*.zarr or *.nc)")
    parser.add_argument("--out", default="figures", help="folder of the figure (default figures)")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    ctx = ReportContext(Path(args.out))
    ctx.out.mkdir(parents=True, exist_ok=True)
    try:
        claims = lu_width_sweep(ctx, result=args.result)
    except (ValueError, ImportError) as exc:
        print(f"meanfield: error: {exc}", file=sys.stderr)
        return 2
    for c in claims:
        print(f"{c.figure}: {c.statement}: {c.measured} (holds: {'yes' if c.holds else 'no'})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
