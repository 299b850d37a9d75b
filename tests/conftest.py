"""Shared fixtures: the activation zoo with concrete parameters and seeded random parameter draws."""

from __future__ import annotations

import os
import zlib

import numpy as np
from hypothesis import HealthCheck, settings

from meanfield import get_activation, list_activations

# A deterministic hypothesis profile for CI (derandomized, no database, no deadline) and a
# longer local one: HYPOTHESIS_PROFILE=dev pytest ...
settings.register_profile("ci", derandomize=True, database=None, deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    """Plain ``pytest`` skips the tests marked ``slow`` (a few minutes on 2 cores); CI (``CI=true``,
    as ``.ci/run`` sets it) runs them too. Tests marked ``reference`` (nested 30-digit mpmath
    integrals, several minutes each) run only when selected: ``pytest -m reference``."""
    if config.option.markexpr:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        config.option.markexpr = "not reference"
    else:
        config.option.markexpr = "not slow and not reference"

#: parameters for the built-ins that have no defaults (near the solver's outputs at eps ~ 0.03)
REQUIRED_PARAMS = {
    "dselu": {"lam": 1.0358, "alpha": 1.6194},
    "sselu": {"lam": 1.0506, "alpha": 1.6227, "beta": 1.2},
    "lselu": {"lam": 1.0506, "alpha": 1.5, "beta": 0.15},
}

#: random parameter ranges of the parametric families (20 draws each in the accuracy tests)
PARAM_RANGES = {
    "lrelu": {"slope": (-0.5, 0.9)},
    "elu": {"alpha": (0.1, 3.0)},
    "selu": {"lam": (0.5, 2.0), "alpha": (0.1, 3.0)},
    "dselu": {"lam": (0.5, 2.0), "alpha": (0.1, 3.0)},
    "sselu": {"lam": (0.5, 2.0), "alpha": (0.1, 3.0), "beta": (0.2, 5.0)},
    "lselu": {"lam": (0.5, 2.0), "alpha": (0.1, 3.0), "beta": (-0.5, 1.0)},
}


def builtin(name):
    """A built-in activation with concrete parameters."""
    return get_activation(name, **REQUIRED_PARAMS.get(name, {}))


ALL_BUILTINS = [builtin(n) for n in list_activations()]


def random_draws(name, count=20, seed=0):
    """``count`` activations of family ``name`` with parameters drawn uniformly from PARAM_RANGES."""
    # crc32, not hash(): str hashes are salted per process, so the draws would differ per run
    rng = np.random.default_rng(zlib.crc32(name.encode()) + seed)
    out = []
    for _ in range(count):
        params = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in PARAM_RANGES[name].items()}
        out.append(get_activation(name, **params))
    return out
