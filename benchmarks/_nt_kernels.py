"""Run inside the neural-tangents venv (see bench_correlations.py): time nt's kernels, save values.

Usage: /work/venvs/nt/bin/python _nt_kernels.py IN.npz OUT.npz REPEATS
IN holds ``r`` (norms) and ``theta`` (angles) of 2-D inputs ``x_i = sqrt(2) r_i (cos, sin)``, so
that ``Dense(W_std=1, b_std=0)`` gives pre-activations with ``q_i = r_i^2`` and correlation
``cos(theta_i - theta_j)``; the NNGP of ``serial(Dense, act)`` is ``E[f(u_i) f(u_j)]`` and its NTK is
``sqrt(q_i q_j) c_ij E[f'(u_i) f'(u_j)]`` (the Dense NTK times the derivative kernel).
"""

import sys
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
from neural_tangents import stax  # noqa: E402

SELU_LAMBDA, SELU_ALPHA = 1.0507009873554805, 1.6732632423543772


def _selu(x):
    return SELU_LAMBDA * jnp.where(x > 0, x, SELU_ALPHA * jnp.expm1(jnp.minimum(x, 0)))


LAYERS = {
    "relu/analytic": lambda: stax.Relu(),
    "erf/analytic": lambda: stax.Erf(a=1.0, b=1.0, c=0.0),
    "gelu/analytic": lambda: stax.Gelu(approximate=False),
    "tanh/numerical25": lambda: stax.ElementwiseNumerical(jnp.tanh, deg=25),
    "selu/numerical25": lambda: stax.ElementwiseNumerical(_selu, deg=25),
}


def main(src, dst, repeats):
    data = np.load(src)
    r, theta = data["r"], data["theta"]
    x = np.sqrt(2.0) * r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    out = {}
    for name, make in LAYERS.items():
        _, _, kernel_fn = stax.serial(stax.Dense(1, W_std=1.0, b_std=0.0), make())
        fn = jax.jit(lambda a, kf=kernel_fn: kf(a, a, ("nngp", "ntk")))
        nngp, ntk = fn(x)  # compile
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            nngp, ntk = fn(x)
            nngp.block_until_ready()
            ntk.block_until_ready()
            times.append(time.perf_counter() - t0)
        out[f"{name}/nngp"] = np.asarray(nngp)
        out[f"{name}/ntk"] = np.asarray(ntk)
        out[f"{name}/times"] = np.asarray(times)
    out["versions"] = np.array([f"jax {jax.__version__}", f"numpy {np.__version__}"])
    np.savez(dst, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
