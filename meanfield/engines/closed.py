"""The ``closed`` engine (placeholder, being written)."""

from __future__ import annotations

__all__ = ["ClosedEngine"]


class ClosedEngine:
    name = "closed"

    def supports(self, act, quantity):
        return False

    def unsupported_reason(self, act, quantity):
        return f"no closed form for {act.name}"
