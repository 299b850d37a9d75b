"""Speed and accuracy of the maps: meanfield closed / quadrature vs scipy quad vs Gauss-Hermite.

For SELU and GELU, E[f(x)^2] (second_moment) and E[f'(x)^2] (phi) at x ~ N(0, q) over q
log-spaced in [1e-3, 1e3], all measured side by side in one run:

* meanfield ``closed`` and ``quadrature`` on 10^4 values (one vectorized call, best of 5);
* ``scipy.integrate.quad`` in a Python loop (split at the kink x = 0, epsrel=1e-13) on 200 values;
* a plain 25-point Gauss-Hermite rule (no split), vectorized, on 10^4 values.

Max relative error of each is measured against the 30-digit mpmath engine on 40 q values.
Targets (issue "Engines and maps"): closed <= 0.1 us/value, quadrature <= 2 us/value at
<= 1e-12, i.e. >= 200x faster than scipy quad at equal accuracy.

Run:  python benchmarks/bench_maps.py [--out benchmarks/results/bench_maps.txt]
"""

from __future__ import annotations

import argparse
import io
import platform

import numpy as np
import scipy
from _timing import cpu_model, wall_times
from scipy import integrate

import meanfield as mf
from meanfield.engines import ENGINES

N_FAST, N_LOOP, N_REF = 10_000, 200, 40


def best_time(fn, repeat=15):
    return min(wall_times(fn, repeat))


def scipy_quad(g, q, kinks):
    s = np.sqrt(q)
    pts = sorted({*kinks})

    def integrand(x):
        return g(np.array(x)) * np.exp(-x * x / (2 * q)) / np.sqrt(2 * np.pi * q)

    bounds = [-np.inf, *pts, np.inf] if pts else [-np.inf, 0.0, np.inf]
    total = 0.0
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        lo_, hi_ = max(lo, -40 * s), min(hi, 40 * s)
        total += integrate.quad(integrand, lo_, hi_, epsabs=0.0, epsrel=1e-13, limit=200)[0]
    return total


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
        t = best_time(lambda eng=eng: eng.expect(act, quantity, zeros(q_fast), q_fast))
        err = np.max(np.abs(eng.expect(act, quantity, zeros(q_ref), q_ref) / ref - 1))
        rows.append((f"meanfield {method}", t / N_FAST, err))
    t = best_time(lambda: [scipy_quad(g, q, act.kinks) for q in q_loop], repeat=1)
    err = np.max(np.abs(np.array([scipy_quad(g, q, act.kinks) for q in q_ref]) / ref - 1))
    rows.append(("scipy quad loop", t / N_LOOP, err))
    t = best_time(lambda: gauss_hermite(g, q_fast))
    err = np.max(np.abs(gauss_hermite(g, q_ref) / ref - 1))
    rows.append(("Gauss-Hermite 25", t / N_FAST, err))
    label = {"f2": "second_moment", "df2": "phi"}[quantity]
    print(f"\n{act.name} {label}", file=out)
    print(f"  {'engine':<22} {'us/value':>10} {'max rel err':>12} {'speed-up vs quad':>17}", file=out)
    quad_time = rows[-2][1]
    for name, per, err in rows:
        print(f"  {name:<22} {per * 1e6:>10.3f} {err:>12.2e} {quad_time / per:>16.0f}x", file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="also write the output to this file")
    args = parser.parse_args(argv)
    out = io.StringIO()
    print(f"meanfield {mf.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"python {platform.python_version()}, {cpu_model()}", file=out)
    for name in ("selu", "gelu"):
        act = mf.get_activation(name)
        for quantity in ("f2", "df2"):
            bench(act, quantity, out)
    text = out.getvalue()
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
