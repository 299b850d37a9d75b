"""The outcome of one property check (:mod:`meanfield.properties`)."""

from __future__ import annotations

import dataclasses
import math

__all__ = ["CheckResult"]


@dataclasses.dataclass
class CheckResult:
    """Outcome of one property check.

    Attributes
    ----------
    name : str
        Short identifier (``"definition2"``, ``"poincare"``, ...).
    source : str
        Where the property is stated.
    passed : bool
    margin : float
        How far inside the property the activation is (negative or zero when it fails).
    detail : str
        The measured numbers, in the paper's terms.
    counterexample : dict or None
        Where it fails (e.g. ``{"q": 0.3, "phi": 0.5, "bound": 1.0}``).
    measured : dict
        The numbers behind the verdict (e.g. Definition 2's ``E_f2_minus_1``, ``tolerance`` and
        the q-map's fixed point ``q_star``); non-finite values are ``None``.
    """

    name: str
    source: str
    passed: bool
    margin: float
    detail: str
    counterexample: dict | None = None
    measured: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        out = dataclasses.asdict(self)
        out["passed"] = bool(self.passed)
        out["margin"] = _finite_or_none(self.margin)
        out["measured"] = {k: _finite_or_none(v) for k, v in self.measured.items()}
        return out


def _finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None
