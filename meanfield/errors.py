"""The exception and warning classes meanfield raises, in one place for users to catch.

Every user-facing error is a :class:`ValueError` subclass (bad input, an infeasible problem,
an unreadable file), so ``except ValueError`` catches them all; numerical trouble that still
leaves a usable result is a :class:`NumericalWarning`.
"""

from __future__ import annotations

__all__ = ["DesignError", "NumericalWarning", "TraceFileError", "UnstableTheoryWarning"]


class DesignError(ValueError):
    """The conditions could not be met to tolerance (infeasible, or no start converged)."""


class NumericalWarning(RuntimeWarning):
    """A result is finite only in part, or less accurate than promised (overflow, lost precision).

    Raised as a warning (``warnings.warn(..., NumericalWarning)``) where the computation can go on,
    e.g. a simulated trace that overflows from some layer on; filter it like any warning class.
    """


class TraceFileError(ValueError):
    """A trace file cannot be read: truncated, not a trace, corrupt metadata or a newer format."""


class UnstableTheoryWarning(RuntimeWarning):
    """A mean-field prediction follows an unstable fixed point of its recursion.

    The recursion's Jacobian there has spectral radius > 1, so the finite-width fluctuations of a
    simulated net grow away from it: the prediction is exact only for infinite width. Warned by
    :func:`meanfield.trace_theory.theory_profile` (and so :meth:`meanfield.trace.Trace.theory`).
    """
