"""The stored mpmath references (tests/data/*.json) equal a fresh evaluation of the reference code.

Every run recomputes one stored correlation point (about 2 s); ``pytest -m reference`` recomputes
all of them (about 2 s per point, nested ones minutes). Agreement is required to 1e-25 relative:
the table holds 34 significant digits of a 30-digit (dps 35 working) computation, so the two
agree to the reference's own precision or something changed (the reference code, mpmath, or the
table).
"""

from __future__ import annotations

import ast
import json

import mpmath as mp
import pytest

from meanfield import get_activation
from tests import test_correlations as corr

REL = mp.mpf("1e-25")


def _activation(name, params):
    """Rebuild the activation of a stored key (GPN versions from their base: their params are derived)."""
    base = name.removesuffix("-gpn")
    if base != name:
        act = get_activation(base, **{k: v for k, v in params.items() if k not in ("scale", "shift")}).gpn()
    else:
        act = get_activation(name, **params)
    return act if {k: float(v) for k, v in act.params.items()} == params else None


def _entries(table):
    for key, stored in sorted(table.values.items()):
        name, params, which, q1, q2, c, dps = key.split("|")
        act = _activation(ast.literal_eval(name), json.loads(params))
        yield key, act, ast.literal_eval(which), float(q1), float(q2), float(c), int(dps), stored


def _check(entry):
    key, act, which, q1, q2, c, dps, stored = entry
    assert act is not None, f"{key}: the activation's derived parameters changed; regenerate the table"
    fresh = corr.reference(act, which, q1, q2, c, dps=dps)
    with mp.workdps(40):  # compare (and parse the stored digits) above the references' precision
        for got, want in zip(fresh, stored, strict=True):
            want = mp.mpf(want)
            assert abs(got - want) <= REL * max(abs(want), mp.mpf("1e-300")), (key, got, want)


def test_tables_cover_the_tests_points():
    """The grid test's points are stored (else every CI run recomputes them for minutes)."""
    missing = [p for p in corr.FULL_POINTS
               if corr.reference_key(corr.builtin("selu"), "f", *p) not in corr.TABLE.values]
    assert not missing, f"{len(missing)} points missing: regenerate (tests/_reference_table.py)"


def test_a_stored_point_recomputes():
    """One stored SELU point (about 2 s) is recomputed in every run; all of them with -m reference."""
    entries = [e for e in _entries(corr.TABLE) if e[1] is not None and e[1].name == "selu"]
    _check(next(e for e in entries if 0 < abs(e[5]) < 1 and e[2] == "f"))


@pytest.mark.slow
@pytest.mark.reference
@pytest.mark.parametrize("table", ["correlations", "correlations_nested"])
def test_every_stored_point_recomputes(table):
    stored = corr.TABLE if table == "correlations" else corr.TABLE_NESTED
    for entry in _entries(stored):
        _check(entry)
