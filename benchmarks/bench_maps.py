"""Speed and accuracy of the maps: meanfield closed / quadrature vs scipy quad vs Gauss-Hermite.

For SELU and GELU, E[f(x)^2] (second_moment) and E[f'(x)^2] (phi) at x ~ N(0, q) over q
log-spaced in [1e-3, 1e3], all measured side by side in one run:

* meanfield ``closed`` and ``quadrature`` on 10^4 values (one vectorized call, best of 5);
* ``scipy.integrate.quad`` in a Python loop on 200 values, the best a competent user writes: a
  scalar ``math``-module integrand (no NumPy on scalars), split at the kink x = 0, ``epsabs=0,
  epsrel=1e-13``, limits +-40 sqrt(q);
* a plain 25-point Gauss-Hermite rule (no split), vectorized, on 10^4 values.

Max relative error of each is measured against the 30-digit mpmath engine on 40 q values.
Targets (issue "Engines and maps"): closed <= 0.1 us/value, quadrature <= 2 us/value at
<= 1e-12, i.e. >= 200x faster than scipy quad at equal accuracy.

Also, side by side:

* **neural-tangents** analytic kernels (``stax.Relu/Erf/Gelu``, jitted, float64) for E f^2 against
  meanfield's public ``second_moment`` (validation included) and a hand-written NumPy evaluation
  of the same closed formula (ReLU q/2; erf (2/pi) atan(2q/sqrt(1+4q)); GELU
  q (1/4 + atan(q/sqrt(1+2q))/(2 pi)) + q^2/(pi (1+q) sqrt(1+2q))). The nt part runs in its
  own venv through ``benchmarks/_bench_maps_nt.py``; installed with (Python 3.11)::

      python -m venv /work/venvs/nt
      /work/venvs/nt/bin/pip install "neural-tangents==0.6.5" "jax[cpu]==0.4.23" \
          "jaxlib==0.4.23" "numpy<2" "scipy<1.13"

* **cold vs warm**: the first map call in a fresh process (``python -c``) against the median of
  the repeated calls that follow it in the same process (one call against one call: page faults
  of temporaries and cold caches; issue 18), over 5 fresh processes.

Every timing is the median and spread (min-max) of 7 runs. Thread settings: the environment's
(set OMP_NUM_THREADS/OPENBLAS_NUM_THREADS=1 to pin; the maps are single-threaded NumPy).

Run:  python benchmarks/bench_maps.py [--out benchmarks/results/bench_maps.txt] [--n 10000]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import subprocess
import sys

import numpy as np
import scipy
from _timing import cpu_model, wall_times
from scipy import integrate

import meanfield as mf
from meanfield.engines import ENGINES

N_FAST, N_LOOP, N_REF = 10_000, 200, 40


def scipy_quad(g, q, kinks):
    """E[g(x)] by scipy quad with a scalar ``math`` integrand ``g`` (the honest baseline)."""
    s = math.sqrt(q)
    norm = 1.0 / math.sqrt(2 * math.pi * q)
    inv2q = 1.0 / (2 * q)

    def integrand(x):
        return g(x) * math.exp(-x * x * inv2q) * norm

    pts = sorted({0.0, *kinks})
    bounds = [-40 * s, *pts, 40 * s]
    return sum(integrate.quad(integrand, lo, hi, epsabs=0.0, epsrel=1e-13, limit=200)[0]
               for lo, hi in zip(bounds, bounds[1:], strict=False))


_L, _A = mf.SELU_LAMBDA, mf.SELU_ALPHA
_SQRT1_2 = 1 / math.sqrt(2)
#: scalar math-module integrands g for the scipy baseline
MATH_INTEGRANDS = {
    ("selu", "f2"): lambda x: (_L * x if x > 0 else _L * _A * math.expm1(x)) ** 2,
    ("selu", "df2"): lambda x: (_L if x > 0 else _L * _A * math.exp(x)) ** 2,
    ("gelu", "f2"): lambda x: (0.5 * x * math.erfc(-x * _SQRT1_2)) ** 2,
    ("gelu", "df2"): lambda x: (0.5 * math.erfc(-x * _SQRT1_2)
                                + x * math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)) ** 2,
}


def gauss_hermite(g, q, n=25):
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return (g(np.sqrt(q)[:, None] * z) * w).sum(-1) / np.sqrt(2 * np.pi)


def bench(act, quantity, out):
    g = {"f2": lambda x: act.f(x) ** 2, "df2": lambda x: act.df(x) ** 2}[quantity]
    q_fast = np.logspace(-3, 3, N_FAST)
    q_loop = np.logspace(-3, 3, N_LOOP)
    q_ref = np.logspace(-3, 3, N_REF)
    zeros = np.zeros_like
    ref = ENGINES["mpmath"].expect(act, quantity, zeros(q_ref), q_ref)
    rows = []
    for method in ("closed", "quadrature"):
        eng = ENGINES[method]
        if not eng.supports(act, quantity):
            continue
        times = wall_times(lambda eng=eng: eng.expect(act, quantity, zeros(q_fast), q_fast), RUNS)
        err = np.max(np.abs(eng.expect(act, quantity, zeros(q_ref), q_ref) / ref - 1))
        rows.append((f"meanfield {method}", _spread(times, N_FAST), err))
    gm = MATH_INTEGRANDS[act.name, quantity]
    times = wall_times(lambda: [scipy_quad(gm, q, act.kinks) for q in q_loop], QUAD_RUNS)
    err = np.max(np.abs(np.array([scipy_quad(gm, float(q), act.kinks) for q in q_ref]) / ref - 1))
    rows.append(("scipy quad (math)", _spread(times, N_LOOP), err))
    times = wall_times(lambda: gauss_hermite(g, q_fast), RUNS)
    err = np.max(np.abs(gauss_hermite(g, q_ref) / ref - 1))
    rows.append(("Gauss-Hermite 25", _spread(times, N_FAST), err))
    label = {"f2": "second_moment", "df2": "phi"}[quantity]
    print(f"\n{act.name} {label} (us/value: median [min, max] of {RUNS} runs, scipy quad of {QUAD_RUNS})",
          file=out)
    print(f"  {'engine':<22} {'median':>10} {'[min, max]':>22} {'max rel err':>12} {'speed-up vs quad':>17}",
          file=out)
    quad_median = rows[-2][1][0]
    for name, (median, lo, hi), err in rows:
        spread = f"[{lo:.3f}, {hi:.3f}]"
        print(f"  {name:<22} {median:>10.3f} {spread:>22} {err:>12.2e} {quad_median / median:>16.0f}x",
              file=out)


NT_PYTHON = os.environ.get("MEANFIELD_NT_PYTHON", "/work/venvs/nt/bin/python")
RUNS = 7
#: runs of the scipy quad loop (200 values x ~0.5-1.4 ms each per run)
QUAD_RUNS = 5


def _spread(times, n):
    per = np.array(times) / n * 1e6
    return float(np.median(per)), float(per.min()), float(per.max())


def bench_neural_tangents(out, n):
    """E f^2 for ReLU, erf, GELU: meanfield closed vs hand-written NumPy vs neural-tangents."""
    q = np.logspace(-3, 3, n)
    index = np.linspace(0, n - 1, N_REF).astype(int)
    hand = {"relu": lambda q: 0.5 * q,
            "erf": lambda q: (2 / np.pi) * np.arctan2(2 * q, np.sqrt(1 + 4 * q)),
            "gelu": lambda q: q * (0.25 + np.arctan2(q, np.sqrt(1 + 2 * q)) / (2 * np.pi))
            + q * q / (np.pi * (1 + q) * np.sqrt(1 + 2 * q))}
    refs = {"index": index.tolist()}
    rows = {}
    for name in ("relu", "erf", "gelu"):
        act = mf.get_activation(name)
        ref = ENGINES["mpmath"].expect(act, "f2", np.zeros(N_REF), q[index])
        refs[name] = ref.tolist()
        mf.second_moment(act, q, method="closed")  # warm-up: derivation/compilation, caches
        times = wall_times(lambda act=act: mf.second_moment(act, q, method="closed"), RUNS)
        err = float(np.max(np.abs(mf.second_moment(act, q[index]) / ref - 1)))
        rows[name] = [("meanfield second_moment", _spread(times, n), err)]
        if hand[name] is not None:
            times = wall_times(lambda h=hand[name]: h(q), RUNS)
            err = float(np.max(np.abs(hand[name](q[index]) / ref - 1)))
            rows[name].append(("hand-written NumPy", _spread(times, n), err))
    try:
        proc = subprocess.run([NT_PYTHON, os.path.join(os.path.dirname(__file__), "_bench_maps_nt.py"),
                               str(n), str(RUNS), json.dumps(refs)],
                              capture_output=True, text=True, timeout=600, check=True)
        nt = json.loads(proc.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        nt = {}
        print(f"\n(neural-tangents rows skipped: {type(exc).__name__}: {exc})", file=out)
    for name, entries in rows.items():
        if name in nt:
            entries.append(("neural-tangents 0.6.5", _spread(nt[name]["us_per_value"], 1),
                            nt[name]["max_rel_err"]))
        print(f"\n{name} E f^2 over {n} q values in [1e-3, 1e3] (us/value: median [min, max] of {RUNS})",
              file=out)
        for label, (med, lo, hi), err in entries:
            print(f"  {label:<26} {med:8.4f} [{lo:.4f}, {hi:.4f}]  max rel err {err:.1e}", file=out)


_COLD = """
import time, numpy as np, meanfield as mf
q = np.logspace(-3, 3, {n})
mf.second_moment('{name}', q[:3])
t = time.perf_counter(); mf.second_moment('{name}', q); cold = time.perf_counter() - t
warm = []
for _ in range({runs}):
    t = time.perf_counter(); mf.second_moment('{name}', q); warm.append(time.perf_counter() - t)
print(cold, sorted(warm)[len(warm) // 2])
"""


def bench_cold_warm(out, n):
    """First full-size call in a fresh process vs the median warm call after it, for auto E f^2."""
    print(f"\ncold (first call in a fresh process) vs warm (median of the next {RUNS} calls there), auto E f^2 "
          f"on {n} values, us/value, over 5 processes", file=out)
    for name in ("selu", "gelu", "tanh"):
        colds, warms = [], []
        for _ in range(5):
            res = subprocess.run([sys.executable, "-c", _COLD.format(n=n, name=name, runs=RUNS)],
                                 capture_output=True, text=True, check=True)
            cold, warm = map(float, res.stdout.split())
            colds.append(cold / n * 1e6)
            warms.append(warm / n * 1e6)
        print(f"  {name:<8} cold median {np.median(colds):.4f} [{min(colds):.4f}, {max(colds):.4f}]"
              f"   warm median {np.median(warms):.4f}   cold/warm {np.median(colds) / np.median(warms):.2f}",
              file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="also write the output to this file")
    parser.add_argument("--n", type=int, default=N_FAST, help="values per vectorized call")
    args = parser.parse_args(argv)
    out = io.StringIO()
    print(f"meanfield {mf.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"python {platform.python_version()}, {cpu_model()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}", file=out)
    print("baselines: scipy quad = scipy.integrate.quad of a scalar math-module integrand, epsabs 0, "
          "epsrel 1e-13, split at the kinks, limits +-40 sqrt(q); Gauss-Hermite 25 = numpy's hermegauss(25); "
          "errors against meanfield's 30-digit mpmath engine", file=out)
    for name in ("selu", "gelu"):
        act = mf.get_activation(name)
        for quantity in ("f2", "df2"):
            bench(act, quantity, out)
    bench_neural_tangents(out, args.n)
    bench_cold_warm(out, args.n)
    text = out.getvalue()
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
