"""Stored high-precision references: mpmath values computed once by a test module's own reference code.

SciPy's practice (``scipy/special/tests/data``): a reference that costs seconds per point in mpmath
is evaluated once and stored as decimal strings; the tests compare against the stored numbers, and
a check recomputes them. The numbers come from the reference functions written in the test modules
(independent of meanfield's engines), never from the code under test.

* ``ReferenceTable(name).get(key, compute)`` returns the stored ``(mpf, ...)`` tuple for ``key``,
  or ``compute()`` when the point is not stored (a new test point costs its mpmath time until the
  table is regenerated).
* Regenerate (adds every missing point the tests ask for, keeps the rest)::

      MEANFIELD_RECORD_REFERENCES=1 CI=true python -m pytest tests/test_correlations.py \
          -m "slow or reference or not slow"

* ``tests/test_reference_tables.py`` recomputes a few stored points in every run and all of them
  with ``pytest -m reference``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import mpmath as mp

__all__ = ["ReferenceTable", "DATA_DIR", "DIGITS"]

DATA_DIR = Path(__file__).resolve().parent / "data"
#: Significant digits stored (the references are computed at 30-35 digits).
DIGITS = 34
_RECORD = os.environ.get("MEANFIELD_RECORD_REFERENCES", "") not in ("", "0")


class ReferenceTable:
    """One JSON file ``tests/data/<name>.json``: ``{key: [decimal string, ...]}``."""

    def __init__(self, name):
        self.path = DATA_DIR / f"{name}.json"
        self.values = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        self._added = False

    @staticmethod
    def key(*parts):
        """A stable text key: floats by their shortest round-trip repr, dicts with sorted keys."""
        return "|".join(json.dumps(p, sort_keys=True) if isinstance(p, dict) else repr(p) for p in parts)

    def get(self, key, compute, record=None):
        """The stored values for ``key`` as mpf, else ``compute()``.

        A computed point is recorded when ``record`` is true, or (``record=None``) when
        ``MEANFIELD_RECORD_REFERENCES`` is set.
        """
        stored = self.values.get(key)
        if stored is not None:
            return tuple(mp.mpf(v) for v in stored)
        value = tuple(compute())
        if _RECORD if record is None else record:
            self.values[key] = [mp.nstr(v, DIGITS, strip_zeros=False) for v in value]
            self._added = True
            self.save()  # at once: a regeneration run can be stopped at any point
        return value

    def save(self):
        """Write the table (sorted keys, one entry per line) if points were added."""
        if not self._added:
            return
        DATA_DIR.mkdir(exist_ok=True)
        lines = ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(self.values.items()))
        self.path.write_text("{\n" + lines + "\n}\n", encoding="utf-8")
        self._added = False
