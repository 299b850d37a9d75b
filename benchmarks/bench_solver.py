"""Speed and accuracy of :func:`meanfield.solve` beside a naive scipy.optimize + scipy.integrate.quad solver.

Measured in one run on this machine:

* meanfield, cold: the first solve of each family in a fresh process (SymPy derivation of the
  closed forms, the cached scan of the constraint curve), the first Table 5 analogue after them,
  and the table alone in another fresh process; ``--cold-runs`` (5) processes each, median and
  [min-max];
* meanfield, warm: median [min-max] wall time per solve of every problem kind, and of the whole
  table (``parameter_table()``: 21 solves);
* naive: the same problems written the obvious way: every expectation is a
  ``scipy.integrate.quad`` over each half line, ``dphi/dq(1) = E[f'(z)^2 (z^2 - 1)]/2`` (score
  identity), the program eq. 11 is ``scipy.optimize.minimize(method="SLSQP")`` from a SELU-like
  start, the square systems are ``scipy.optimize.fsolve``. Its residuals and gamma1 are printed
  beside meanfield's (the naive SLSQP is a local method: it reports what it converges to).

Targets: <= 50 ms per solve and <= 2 s for the table, on this 2-core machine.

The naive solves and the naive table are timed ``--naive-reps`` (5) times.

Run:  OMP_NUM_THREADS=1 python benchmarks/bench_solver.py [--reps 7] [--cold-runs 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys

import numpy as np
import scipy
from _timing import cpu_model, wall_times
from scipy import integrate, optimize

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "bench_solver.txt")
TARGET_SOLVE_S = 0.050
TARGET_TABLE_S = 2.0

PROBLEMS = [  # (label, family, eps, kwargs)
    ("selu fixed point (0, 1)", "selu", None, {}),
    ("dselu eps=0.03", "dselu", 0.03, {}),
    ("sselu eq. 11 eps=0.03", "sselu", 0.03, {}),
    ("lselu eq. 11 eps=0.03", "lselu", 0.03, {}),
    ("sselu centralized eps=0.03", "sselu", 0.03, {"centralized": True}),
    ("lselu centralized eps=0.03", "lselu", 0.03, {"centralized": True}),
    ("sselu lam=1.02 eps=0.03", "sselu", 0.03, {"lam": 1.02}),
    ("lselu lam=0.17 eps=0.03", "lselu", 0.03, {"lam": 0.17}),
]


# ------------------------------------------------------------------------------------------------
# the naive solver


_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def _gauss(g):
    """E[g(z)], z ~ N(0, 1), with scipy.integrate.quad on each half line."""
    def h(z):
        return g(z) * math.exp(-0.5 * z * z) * _INV_SQRT_2PI

    return integrate.quad(h, -np.inf, 0)[0] + integrate.quad(h, 0, np.inf)[0]


def _naive_fns(family, lam, alpha, beta):
    if family in ("selu", "dselu"):
        beta = 1.0

    def f(z):
        if z > 0:
            return lam * z
        if family == "lselu":
            return lam * (alpha * math.expm1(z) + beta * z)
        return lam * alpha * math.expm1(beta * z)

    def df(z):
        if z > 0:
            return lam
        if family == "lselu":
            return lam * (alpha * math.exp(z) + beta)
        return lam * alpha * beta * math.exp(beta * z)

    return f, df


def naive_moments(family, x):
    lam, alpha = x[0], x[1]
    beta = x[2] if len(x) > 2 else 1.0
    f, df = _naive_fns(family, lam, alpha, beta)
    return {"f": _gauss(f), "f2": _gauss(lambda z: f(z) ** 2), "df2": _gauss(lambda z: df(z) ** 2),
            "dphi": _gauss(lambda z: df(z) ** 2 * (z * z - 1)) / 2}


def naive_solve(family, eps, centralized=False, lam=None, lam_min=1.0):
    """Return (params dict, residuals list, gamma1)."""
    if family == "selu":
        def eqs(x):
            m = naive_moments(family, x)
            return [m["f"], m["f2"] - m["f"] ** 2 - 1]
        x = optimize.fsolve(eqs, [1.0, 1.5], xtol=1e-13)
    elif family == "dselu":
        def eqs(x):
            m = naive_moments(family, x)
            return [m["df2"] - 1 - eps, m["f2"] - 1]
        x = optimize.fsolve(eqs, [1.05, 1.67], xtol=1e-13)
    elif centralized:
        def eqs(x):
            m = naive_moments(family, x)
            return [m["df2"] - 1 - eps, m["f2"] - 1, m["f"]]
        x0 = [1.05, 1.67, 1.0] if family == "sselu" else [1.05, 1.67, 0.1]
        x = optimize.fsolve(eqs, x0, xtol=1e-13)
    elif lam is not None:
        def eqs(y):
            m = naive_moments(family, [lam, *y])
            return [m["df2"] - 1 - eps, m["f2"] - 1]
        y0 = [1.67, 1.0] if family == "sselu" else [1.67, 0.1]
        x = np.r_[lam, optimize.fsolve(eqs, y0, xtol=1e-13)]
    else:
        cons = [{"type": "eq", "fun": lambda x: naive_moments(family, x)["df2"] - 1 - eps},
                {"type": "eq", "fun": lambda x: naive_moments(family, x)["f2"] - 1}]
        x0 = [1.05, 1.67, 1.0] if family == "sselu" else [1.05, 1.67, 0.1]
        bounds = [(lam_min, math.sqrt(2)), (0, 50), (1e-3, 50) if family == "sselu" else (-20, 20)]
        res = optimize.minimize(lambda x: abs(naive_moments(family, x)["dphi"] + 1), x0, method="SLSQP",
                                bounds=bounds, constraints=cons, options={"ftol": 1e-12, "maxiter": 200})
        x = res.x
    m = naive_moments(family, x)
    if family == "selu":
        res = [m["f"], m["f2"] - m["f"] ** 2 - 1]
    else:
        res = [m["df2"] - 1 - eps, m["f2"] - 1] + ([m["f"]] if centralized else [])
    names = ("lam", "alpha", "beta")[:len(x)]
    return dict(zip(names, map(float, x), strict=True)), res, abs(m["dphi"] + 1)


# ------------------------------------------------------------------------------------------------


def _spread(fn, reps):
    """(median, min, max) wall time of ``reps`` calls."""
    times = wall_times(fn, reps)
    return statistics.median(times), min(times), max(times)


_COLD_SCRIPT = r"""
import json, subprocess, sys, time
t = time.perf_counter()
from meanfield.solver import parameter_table, solve
out = {"import meanfield": time.perf_counter() - t}
for family, eps in (("selu", None), ("dselu", 0.03), ("sselu", 0.03), ("lselu", 0.03)):
    t = time.perf_counter()
    solve(family, eps)
    out["first solve " + family] = time.perf_counter() - t
t = time.perf_counter()
parameter_table()
out["first table (after the four solves)"] = time.perf_counter() - t
print(json.dumps(out))
"""
_TABLE_SCRIPT = (
    "import time; from meanfield.solver import parameter_table; t = time.perf_counter(); parameter_table(); "
    "print(time.perf_counter() - t)")
_COLD_KEYS = ("import meanfield", "first solve selu", "first solve dselu", "first solve sselu", "first solve lselu",
              "first table (after the four solves)", "table alone in a fresh process")


def _cold_run():
    """One fresh process for the first solves and the first table, another for the table alone."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    first = subprocess.run([sys.executable, "-c", _COLD_SCRIPT], capture_output=True, text=True, check=True,
                           cwd=root)
    alone = subprocess.run([sys.executable, "-c", _TABLE_SCRIPT], capture_output=True, text=True, check=True,
                           cwd=root)
    return {**json.loads(first.stdout.strip().splitlines()[-1]),
            "table alone in a fresh process": float(alone.stdout.strip().splitlines()[-1])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="repetitions per warm timing (median)")
    parser.add_argument("--naive-reps", type=int, default=5, help="repetitions of each naive solve (median)")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh processes for the cold timings")
    parser.add_argument("--out", default=DEFAULT_OUT, help="where to write the results")
    args = parser.parse_args(argv)

    import meanfield
    from meanfield.solver import TABLE_EPS, parameter_table, solve

    colds = [_cold_run() for _ in range(args.cold_runs)]
    lines = [
        f"bench_solver  {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"meanfield {meanfield.__version__}, python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}",
        f"CPU: {cpu_model()} ({os.cpu_count()} logical cores); threads: "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}",
        "",
        f"cold: {args.cold_runs} fresh processes, median [min-max] (SymPy derivation + cached curve scan in the "
        "first solves; the table after them, and alone in another fresh process)",
    ]
    for key in _COLD_KEYS:
        values = [run[key] for run in colds]
        unit, scale = ("ms", 1e3) if key.startswith("first solve") else ("s", 1.0)
        lines.append(f"  {key:<34} {statistics.median(values) * scale:9.3f} {unit} "
                     f"[{min(values) * scale:.3f}-{max(values) * scale:.3f}]")
    cold = {k.split()[-1]: statistics.median(run[k] for run in colds)
            for k in _COLD_KEYS if k.startswith("first solve")}
    cold_table = statistics.median(run["table alone in a fresh process"] for run in colds)
    lines.append("")

    header = (f"  {'problem':<28}{'meanfield ms':>13}{'[min-max]':>14}{'naive ms':>10}{'[min-max]':>12}"
              f"{'speed-up':>10}{'mf max|res|':>13}{'naive max|res|':>16}{'mf gamma1':>12}{'naive gamma1':>14}")
    lines += [f"warm: median [min-max] wall time per solve, meanfield ({args.reps} calls) vs the naive quad + "
              f"scipy.optimize solver ({args.naive_reps} calls)", header]
    worst = 0.0
    for label, family, eps, kw in PROBLEMS:
        sol = solve(family, eps, **kw)
        t_mf, lo_mf, hi_mf = _spread(lambda family=family, eps=eps, kw=kw: solve(family, eps, **kw), args.reps)
        worst = max(worst, t_mf)
        _, res, g1 = naive_solve(family, eps, **kw)
        t_naive, lo_nv, hi_nv = _spread(lambda family=family, eps=eps, kw=kw: naive_solve(family, eps, **kw),
                                        args.naive_reps)
        mf_range = f"[{lo_mf * 1e3:.1f}-{hi_mf * 1e3:.1f}]"
        nv_range = f"[{lo_nv * 1e3:.0f}-{hi_nv * 1e3:.0f}]"
        lines.append(f"  {label:<28}{t_mf * 1e3:13.2f}{mf_range:>14}{t_naive * 1e3:10.0f}{nv_range:>12}"
                     f"{t_naive / t_mf:9.0f}x{sol.max_residual:13.1e}{max(map(abs, res)):16.1e}"
                     f"{sol.gamma1:12.8f}{g1:14.8f}")
        print(lines[-1], flush=True)

    t_table, lo_table, hi_table = _spread(parameter_table, args.reps)

    def naive_table():
        rows = [naive_solve("selu", None)]
        for family, centralized in (("dselu", False), ("sselu", False), ("lselu", False),
                                    ("sselu", True), ("lselu", True)):
            rows += [naive_solve(family, e, centralized=centralized) for e in TABLE_EPS]
        return rows

    naive_rows = naive_table()
    t_naive_table, lo_naive_table, hi_naive_table = _spread(naive_table, args.naive_reps)
    table = parameter_table()
    n_table = len(table)
    naive_worst_res = max(max(map(abs, r)) for _, r, _ in naive_rows)
    naive_gap = max(abs(g - s.gamma1) for (_, _, g), s in zip(naive_rows, table, strict=True))
    lines += [
        "",
        f"whole table ({n_table} solves): meanfield {t_table:.3f} s (median of {args.reps}, "
        f"[{lo_table:.3f}-{hi_table:.3f}]), "
        f"naive {t_naive_table:.1f} s (median of {args.naive_reps}, [{lo_naive_table:.1f}-{hi_naive_table:.1f}]; "
        f"ratio of medians {t_naive_table / t_table:.0f}x)",
        f"  meanfield max|residual| over the table {max(s.max_residual for s in table):.1e}; "
        f"naive {naive_worst_res:.1e}; max |gamma1 difference| naive vs meanfield {naive_gap:.1e}",
        "",
        f"targets: per solve <= {TARGET_SOLVE_S * 1e3:.0f} ms: worst warm {worst * 1e3:.2f} ms "
        f"({'met' if worst <= TARGET_SOLVE_S else 'MISSED'}); first solve of a family (cold) up to "
        f"{max(cold.values()) * 1e3:.0f} ms",
        f"         table <= {TARGET_TABLE_S:.0f} s: warm {t_table:.3f} s, fresh process {cold_table:.3f} s "
        f"({'met' if max(t_table, cold_table) <= TARGET_TABLE_S else 'MISSED'})",
    ]
    text = "\n".join(lines) + "\n"
    sys.stdout.write("\n" + text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
