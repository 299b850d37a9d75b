"""A sweep's plan: the grid checked and expanded into cases and per-(case, seed) tasks.

Everything here runs on the client before any task starts, so that a bad configuration
(unknown key, empty or duplicated list, unknown activation, infeasible eps) fails at once with
a :class:`ValueError` that names the offending key. Values of simulate's numeric arguments
(``weight_var=-1``, ...) are checked by :func:`~meanfield.simulation.simulate` inside the task
and reported with their case (:class:`~meanfield.sweeps.SweepError`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import itertools
import json
import math

import numpy as np

from meanfield._validation import check_int, check_seed
from meanfield.sweeps._specs import resolve_activation, resolve_family

__all__ = ["ACTIVATION_KEY", "EPS_KEY", "EXCLUDED_KEYS", "Plan", "make_plan", "sweep_keys"]

#: grid key of the activation (simulate's positional ``act``)
ACTIVATION_KEY = "activation"
#: grid key of the solver's eps: the activation is ``solve(family, eps).activation``
EPS_KEY = "eps"
#: simulate() arguments a sweep sets itself or does not support, with the reason
EXCLUDED_KEYS = {
    "act": "use the key 'activation'",
    "seed": "the sweep sets each task's seed (use seed= and n_seeds= of sweep)",
    "seeds": "the sweep sets each task's seed (use seed= and n_seeds= of sweep)",
    "n_seeds": "use n_seeds= of sweep (the seed dimension)",
    "progress": "the sweep shows one progress bar over tasks",
    "histogram_layers": "histograms are not collected by sweeps",
    "bins": "histograms are not collected by sweeps",
}
#: sweep format written into every result, checked when resuming
FORMAT = "meanfield.sweep"
FORMAT_VERSION = 1
_SEED_MODULUS = 2**63


def sweep_keys():
    """Keys a grid (or a fixed argument) may set: simulate()'s arguments plus activation and eps.

    Read from :func:`~meanfield.simulation.simulate`'s signature, so new simulator arguments
    are sweepable as soon as they exist.
    """
    from meanfield.simulation import simulate

    params = inspect.signature(simulate).parameters
    return (ACTIVATION_KEY, EPS_KEY, *(k for k in params if k not in EXCLUDED_KEYS))


@dataclasses.dataclass
class Plan:
    """The checked sweep: dimensions, coordinates, one entry per case and the seed of every task.

    Attributes
    ----------
    dims : tuple of str
        Grid keys, in the grid's order (the case dimensions).
    coords : dict
        Coordinate values per dimension (activation labels for ``activation``).
    cases : list of dict
        Per case (C order over ``dims``): ``spec`` (resolved activation), ``kwargs`` (simulate
        arguments other than the activation and seed), ``label`` (the case as ``{dim: value}``).
    n_seeds : int
    seeds : ndarray of int64, shape (n_cases, n_seeds)
        The seed of every task.
    depth : int
        Largest depth of any case (the ``layer`` dimension).
    config : dict
        JSON-friendly description that identifies the sweep (checked on resume).
    solutions : dict
        ``"label @ eps=..."`` -> solved parameters, for grids with eps.
    """

    dims: tuple
    coords: dict
    cases: list
    n_seeds: int
    seeds: np.ndarray
    depth: int
    config: dict
    solutions: dict

    @property
    def shape(self):
        return tuple(len(self.coords[d]) for d in self.dims)

    @property
    def n_cases(self):
        return len(self.cases)

    @property
    def token(self):
        """Short hash of :attr:`config` (Dask task keys of this sweep start with it)."""
        return hashlib.sha256(config_json(self.config).encode()).hexdigest()[:16]

    def tasks(self):
        """Every task as a dict ``{case, seed_index, seed, spec, kwargs, theory}`` (theory: seed 0)."""
        for c, case in enumerate(self.cases):
            for s in range(self.n_seeds):
                yield {"case": c, "seed_index": s, "seed": int(self.seeds[c, s]),
                       "spec": case["spec"], "kwargs": case["kwargs"], "theory": s == 0}

    def describe_case(self, c):
        """``"activation='tanh', width=50"``: case ``c`` for messages."""
        return ", ".join(f"{k}={v!r}" for k, v in self.cases[c]["label"].items())


def config_json(config):
    """Canonical JSON of a configuration (sorted keys, exact floats)."""
    return json.dumps(config, sort_keys=True, allow_nan=False)


def _plain(value, key):
    """A grid value as a plain JSON scalar (bool, int, float, str) or raise naming ``key``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError(f"grid key {key!r}: values must be finite; got {value!r}")
        return float(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"grid key {key!r}: values must be numbers, booleans or strings; got {value!r}")


def _coordinate_array(values, key):
    kinds = {type(v) for v in values}
    if kinds == {bool}:
        return np.array(values, dtype=bool)
    if kinds == {int}:
        return np.array(values, dtype=np.int64)
    if kinds <= {int, float}:
        return np.array(values, dtype=np.float64)
    if kinds == {str}:
        return np.array(values, dtype=str)
    raise ValueError(f"grid key {key!r} mixes value types {sorted(k.__name__ for k in kinds)}")


def _check_list(key, values):
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise ValueError(f"grid key {key!r} must map to a list of values; got {values!r}")
    values = list(values)
    if not values:
        raise ValueError(f"grid key {key!r} has an empty list of values")
    return values


def make_plan(grid, fixed, *, n_seeds, seed, shared_seeds):
    """Check ``grid`` and the fixed arguments; expand them into a :class:`Plan`.

    Raises
    ------
    ValueError
        Naming the key: not a simulate() argument, in both the grid and the fixed arguments,
        an empty, duplicated or mixed-type list, a missing depth/width/activation, an unknown
        activation, an infeasible eps.
    """
    if not isinstance(grid, dict):
        raise ValueError(f"grid must be a dict mapping simulate() arguments to lists; got {grid!r}")
    allowed = sweep_keys()
    for key in [*grid, *fixed]:
        if not isinstance(key, str) or key not in allowed:
            hint = EXCLUDED_KEYS.get(key)
            raise ValueError(f"unknown sweep key {key!r}" + (f" ({hint})" if hint else "")
                             + f"; valid keys are {', '.join(allowed)}")
    both = set(grid) & set(fixed)
    if both:
        key = sorted(both)[0]
        raise ValueError(f"key {key!r} is given both in the grid and as a fixed argument")
    for key in ("depth", "width", ACTIVATION_KEY):
        if key not in grid and key not in fixed:
            raise ValueError(f"{key} is required: give it as a fixed argument or a grid key")
    n_seeds = check_int(n_seeds, "n_seeds")
    seed = check_seed(seed)
    if not isinstance(shared_seeds, bool):
        raise ValueError(f"shared_seeds must be True or False; got {shared_seeds!r}")

    dims = tuple(grid)
    raw = {k: _check_list(k, v) for k, v in grid.items()}
    if EPS_KEY in fixed:
        fixed = {**fixed}
        raw_eps_fixed = fixed.pop(EPS_KEY)
    else:
        raw_eps_fixed = None
    coords, plain = {}, {}
    for key in dims:
        if key == ACTIVATION_KEY:
            continue
        vals = [_plain(v, key) for v in raw[key]]
        if len(set(vals)) != len(vals):
            raise ValueError(f"grid key {key!r} lists a value twice: {vals}")
        plain[key] = vals
        coords[key] = _coordinate_array(vals, key)
    fixed_plain = {k: v if k == ACTIVATION_KEY else _plain(v, k) for k, v in fixed.items()}
    for v in plain.get("depth", [fixed_plain.get("depth")]):
        check_int(v, "grid key 'depth'" if "depth" in grid else "depth")

    has_eps = EPS_KEY in grid or raw_eps_fixed is not None
    eps_fixed = _plain(raw_eps_fixed, EPS_KEY) if raw_eps_fixed is not None else None
    act_values = raw[ACTIVATION_KEY] if ACTIVATION_KEY in grid else [fixed[ACTIVATION_KEY]]
    solutions = {}
    specs = {}  # (activation index, eps or None) -> spec
    labels = []
    eps_values = plain.get(EPS_KEY, [eps_fixed])
    for i, value in enumerate(act_values):
        for eps in eps_values if has_eps else [None]:
            if has_eps:
                label, spec, params = resolve_family(value, eps)
                solutions[f"{label} @ eps={eps!r}"] = params
            else:
                label, spec = resolve_activation(value)
            specs[i, eps] = spec
        labels.append(label)
    if len(set(labels)) != len(labels):
        raise ValueError(f"grid key 'activation' has duplicate labels {labels}; "
                         "give distinct 'label' fields")
    if ACTIVATION_KEY in grid:
        coords[ACTIVATION_KEY] = np.array(labels, dtype=str)
    coords = {k: coords[k] for k in dims}

    kw_fixed = {k: v for k, v in fixed_plain.items() if k != ACTIVATION_KEY}
    cases = []
    index_lists = [range(len(raw[k])) for k in dims]
    for combo in itertools.product(*index_lists):
        point = dict(zip(dims, combo, strict=True))
        kwargs = dict(kw_fixed)
        label = {}
        for key, j in point.items():
            if key == ACTIVATION_KEY:
                label[key] = labels[j]
            else:
                label[key] = plain[key][j]
                if key != EPS_KEY:
                    kwargs[key] = plain[key][j]
        act_index = point.get(ACTIVATION_KEY, 0)
        eps = plain[EPS_KEY][point[EPS_KEY]] if EPS_KEY in grid else eps_fixed
        cases.append({"spec": specs[act_index, eps if has_eps else None], "kwargs": kwargs,
                      "label": label})
    depth = max(int(case["kwargs"]["depth"]) for case in cases)

    config = {"format": FORMAT, "format_version": FORMAT_VERSION, "dims": list(dims),
              "grid": {k: (labels if k == ACTIVATION_KEY else plain[k]) for k in dims},
              "fixed": {k: v for k, v in kw_fixed.items()},
              "eps": eps_fixed,
              "activations": [case["spec"] for case in cases] if has_eps or ACTIVATION_KEY in grid
              else [cases[0]["spec"]],
              "n_seeds": n_seeds, "seed": seed, "shared_seeds": shared_seeds}
    seeds = np.empty((len(cases), n_seeds), dtype=np.int64)
    for c, case in enumerate(cases):
        for s in range(n_seeds):
            seeds[c, s] = seed + s if shared_seeds else _independent_seed(seed, case, s)
    if shared_seeds and seed + n_seeds > _SEED_MODULUS:
        raise ValueError(f"seed + n_seeds must be <= 2**63; got seed={seed}, n_seeds={n_seeds}")
    return Plan(dims=dims, coords=coords, cases=cases, n_seeds=n_seeds, seeds=seeds, depth=depth,
                config=config, solutions=solutions)


def _independent_seed(seed, case, s):
    """A seed in [0, 2**63) hashed from the base seed, the case's spec and arguments, and s."""
    text = json.dumps([seed, case["spec"], case["kwargs"], s], sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") % _SEED_MODULUS
