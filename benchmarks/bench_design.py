"""DKS and TAT transforms: meanfield beside the dks package (DeepMind, 0.1.2), parameters, residuals, time.

For softplus, tanh, elu, swish and relu (DKS only; TAT takes no ReLU) at depth 10 (a plain MLP,
dks's ``subnet_max_func`` composing the local map ``depth`` times) with the default targets
(DKS: net C'(1) = 1.5, Q'(1) = 1; TAT: net C''(1) = 0.3), and TAT for leaky ReLU at depth 20
(c0 = 0.9; depth 10 cannot reach it, in dks as here):

* both parameter sets and their largest difference;
* both parameter sets' residuals of the local conditions, evaluated by meanfield's *mpmath*
  engine (30 digits): Q(1) - 1, E g (DKS), Q'(1) - target (``d/dvar`` of E g^2, score identity),
  C'(1) - target (``phi(1)`` since Q(1) = 1), C''(1) - target (``phi`` of the derivative activation);
* time per transform, each as the median and [min-max] of several runs: meanfield warm
  (``--reps`` calls after one warm-up), meanfield cold (the first call in each of ``--runs``
  fresh processes: SymPy differentiation and lambdify included), and dks (``--runs`` calls in
  one process after one warm-up call; dks caches nothing between calls except its Legendre
  roots, which are computed before timing). The speed ratio is dks's median over meanfield's
  warm median.

Targets (issue 12): parameters within 1e-5 of dks (mirror root fine for odd activations),
residuals <= 1e-10, meanfield warm <= 50 ms per transform.

The dks baseline runs in its own virtual environment (it pins nothing, but must not touch the
main one)::

    python -m venv /work/venvs/dks
    /work/venvs/dks/bin/pip install dks==0.1.2 absl-py autograd scipy numpy

Run:  python benchmarks/bench_design.py [--reps 7] [--runs 5] [--dks-python /work/venvs/dks/bin/python] [--out PATH]
      (``--quick``: softplus only, 2 reps, a smoke test)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

from _timing import cpu_model, wall_times

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "bench_design.txt")
DEFAULT_DKS_PYTHON = "/work/venvs/dks/bin/python"
DEPTH = 10
LRELU_DEPTH = 20
TARGET_WARM_S = 0.050
TARGET_PARAM_DIFF = 1e-5
TARGET_RESIDUAL = 1e-10
CASES = [("DKS", n) for n in ("softplus", "tanh", "elu", "swish", "relu")] + \
        [("TAT", n) for n in ("softplus", "tanh", "elu", "swish", "lrelu")]

_DKS_SCRIPT = r"""
import json, sys, time
from dks.base import activation_transform as at
method, name, depth, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def subnet_max_func(x, r_fn):
    for _ in range(depth):
        x = r_fn(x)
    return x
at._precompute_or_load_roots(at._QUADRATURE_ORDER)  # the cached Legendre roots, outside the timing
dks_name = {"lrelu": "leaky_relu"}.get(name, name)
seconds = []
for _ in range(runs + 1):  # the first call is a warm-up, not timed
    t = time.perf_counter()
    try:
        p = at._get_activations_params([dks_name], method=method, subnet_max_func=subnet_max_func)[dks_name]
        out = {"params": {k: float(v) for k, v in p.items()}}
    except Exception as exc:  # report, do not crash the benchmark
        out = {"error": f"{type(exc).__name__}: {exc}"}
        break
    seconds.append(time.perf_counter() - t)
out["seconds"] = seconds[1:]
print(json.dumps(out))
"""


def run_dks(python, method, name, depth, runs):
    proc = subprocess.run([python, "-c", _DKS_SCRIPT, method, name, str(depth), str(runs)], capture_output=True,
                          text=True, timeout=1200)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def normalize_dks(name, params):
    """dks's parameter dict in meanfield's keys (leaky ReLU: negative_slope, output_scale only)."""
    out = {"input_scale": 1.0, "input_shift": 0.0, "output_shift": 0.0, "output_scale": 1.0}
    out.update(params)
    return out


def mp_residuals(method, name, params, depth):
    """Local-condition residuals of a parameter set by meanfield's mpmath engine (30 digits)."""
    import sympy as sp

    from meanfield import maps
    from meanfield.activation_design import lrelu_c_map, transformed_activation
    from meanfield.activations import Activation, get_activation
    from meanfield.engines import ENGINES
    from meanfield.expressions import X

    base = get_activation("lrelu", slope=params["negative_slope"]) if name == "lrelu" else get_activation(name)
    act = transformed_activation(base, params)
    out = {"Q(1)-1": float(maps.second_moment(act, 1.0, method="mpmath")) - 1}
    if name == "lrelu":
        c = 0.0
        for _ in range(depth):
            c = float(lrelu_c_map(c, params["negative_slope"]))
        out["netC(0)-c0"] = c - 0.9
        return out
    q_slope = float(ENGINES["mpmath"].expect(act, "f2", 0.0, 1.0, "var"))
    c_slope = float(maps.phi(act, 1.0, method="mpmath"))
    if method == "DKS":
        out["E g"] = float(maps.output_mean(act, 0.0, 1.0, method="mpmath"))
        if name != "relu":
            out["Q'(1)-1"] = q_slope - 1
        out["C'(1)-t"] = c_slope - 1.5 ** (1 / depth)
    else:
        deriv = Activation("derivative", template=sp.diff(act.expr, X), kinks=act.kinks)
        out["Q'(1)-1"] = q_slope - 1
        out["C'(1)-1"] = c_slope - 1
        out["C''(1)-t"] = float(maps.phi(deriv, 1.0, method="mpmath")) - 0.3 / depth
    return out


def meanfield_cold(method, name, depth):
    code = ("import time; from meanfield.activation_design import dks_transform, tat_transform; "
            "t = time.perf_counter(); "
            f"fn = {'dks_transform' if method == 'DKS' else 'tat_transform'}; "
            f"fn({name!r}, {depth}); print(time.perf_counter() - t)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    return float(proc.stdout.strip()) if proc.returncode == 0 else float("nan")


def _spread(values, factor, unit, fmt=".1f"):
    """``median unit [min-max]`` of ``values`` (seconds) times ``factor``."""
    med, lo, hi = (factor * statistics.median(values), factor * min(values), factor * max(values))
    return f"{med:{fmt}} {unit} [{lo:{fmt}}-{hi:{fmt}}]"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5, help="fresh processes (meanfield cold), dks calls")
    parser.add_argument("--dks-python", default=DEFAULT_DKS_PYTHON)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="softplus only, 2 reps (smoke test)")
    args = parser.parse_args(argv)
    import numpy as np
    import scipy
    import sympy

    import meanfield
    from meanfield.activation_design import dks_transform, tat_transform

    cases = [("DKS", "softplus"), ("TAT", "softplus")] if args.quick else CASES
    reps = 2 if args.quick else args.reps
    runs = 2 if args.quick else args.runs
    have_dks = os.path.exists(args.dks_python)
    dks_version = "absent"
    if have_dks:
        proc = subprocess.run([args.dks_python, "-c", "import importlib.metadata as m; print(m.version('dks'))"],
                              capture_output=True, text=True)
        dks_version = proc.stdout.strip() or "unknown"
    lines = [
        f"# bench_design.py  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"# machine: {cpu_model()}, {os.cpu_count()} CPUs, {platform.platform()}",
        f"# python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"sympy {sympy.__version__}, meanfield {meanfield.__version__}; dks {dks_version} ({args.dks_python})",
        f"# threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}",
        f"# depth {DEPTH} (lrelu TAT: {LRELU_DEPTH}); meanfield warm: median [min-max] of {reps} calls after a "
        f"warm-up; cold: first call in each of {runs} fresh processes; dks: {runs} calls after a warm-up call; "
        f"times as median [min-max]",
        f"# targets: |params - dks| <= {TARGET_PARAM_DIFF:g}, residuals (mpmath engine) <= {TARGET_RESIDUAL:g}, "
        f"warm <= {TARGET_WARM_S * 1e3:g} ms",
        "",
    ]
    for method, name in cases:
        depth = LRELU_DEPTH if name == "lrelu" else DEPTH
        fn = dks_transform if method == "DKS" else tat_transform
        fn(name, depth)
        times = wall_times(lambda fn=fn, name=name, depth=depth: fn(name, depth), reps)
        mine = fn(name, depth).params
        cold = [meanfield_cold(method, name, depth) for _ in range(runs)]
        ref = run_dks(args.dks_python, method, name, depth, runs) if have_dks else {"error": "dks venv absent"}
        lines.append(f"{method} {name} (depth {depth})")
        keys = list(mine)
        lines.append(f"  {'':<12}" + "".join(f"{k:>22}" for k in keys))
        lines.append(f"  {'meanfield':<12}" + "".join(f"{mine[k]:>22.15g}" for k in keys))
        res_mine = mp_residuals(method, name, mine, depth)
        if "params" in ref:
            theirs = normalize_dks(name, ref["params"])
            lines.append(f"  {'dks':<12}" + "".join(f"{theirs.get(k, float('nan')):>22.15g}" for k in keys))
            diff = max(abs(mine[k] - theirs[k]) for k in keys if k in theirs)
            mirror = max(abs(abs(mine[k]) - abs(theirs[k])) for k in keys if k in theirs)
            lines.append(f"  max |params - dks| = {diff:.2e} (|.| of each, mirror root: {mirror:.2e})")
            res_dks = mp_residuals(method, name, theirs, depth)
        else:
            lines.append(f"  dks: {ref.get('error')}")
            res_dks = {}
        lines.append("  residuals (mpmath engine): " + ", ".join(
            f"{k}: meanfield {v:+.1e}" + (f" dks {res_dks[k]:+.1e}" if k in res_dks else "")
            for k, v in res_mine.items()))
        med = statistics.median(times)
        theirs_s = ref.get("seconds") or [float("nan")]
        lines.append(f"  time: meanfield warm {_spread(times, 1e3, 'ms')}; cold {_spread(cold, 1e3, 'ms')}; "
                     f"dks {_spread(theirs_s, 1, 's', '.3g')}; dks/meanfield(warm) = "
                     f"{statistics.median(theirs_s) / med:.0f}x")
        lines.append("")
        print("\n".join(lines[-7:]), flush=True)
    text = "\n".join(lines) + "\n"
    if not args.quick:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
