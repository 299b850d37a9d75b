"""neural-tangents side of bench_maps.py: run in the /work/venvs/nt venv (see bench_maps.py).

Prints one JSON line: {name: {"us_per_value": [...runs], "max_rel_err": e}} for E f(x)^2, x ~ N(0, q)
from ``stax``'s analytic kernels. The kernel is asked for cov1 (the diagonal, E f^2 at each q)
with x1 of shape (N, 1) and x2 of shape (1, 1), so the call also forms the N x 1 cross covariance:
the work per value is the diagonal plus one cross entry (about what a diagonal-only API would do).
"""

import json
import sys
import time

import jax
import numpy as np
from jax import config

config.update("jax_enable_x64", True)
from neural_tangents import stax  # noqa: E402

N = int(sys.argv[1])
RUNS = int(sys.argv[2])
q = np.logspace(-3, 3, N)
x1 = np.sqrt(q)[:, None]
x2 = np.ones((1, 1))
layers = {"relu": stax.Relu(), "erf": stax.Erf(), "gelu": stax.Gelu()}
refs = json.loads(sys.argv[3])
out = {}
for name, layer in layers.items():
    _, _, kernel_fn = stax.serial(stax.Dense(1, W_std=1.0, b_std=None), layer)
    kernel_fn = jax.jit(kernel_fn)  # what an nt user does for speed
    cov1 = np.asarray(kernel_fn(x1, x2).cov1).reshape(-1)
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        np.asarray(kernel_fn(x1, x2).cov1.block_until_ready())
        times.append(time.perf_counter() - t)
    ref = np.array(refs[name])
    idx = np.array(refs["index"])
    out[name] = {"us_per_value": [t / N for t in times],
                 "max_rel_err": float(np.max(np.abs(cov1[idx] / ref - 1)))}
print(json.dumps(out))
