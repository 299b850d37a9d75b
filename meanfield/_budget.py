"""A wall-clock budget for symbolic work on untrusted input (SymPy has no timeouts of its own).

Used where a short user string can cost SymPy minutes: building and differentiating an
expression (:mod:`meanfield.expressions`), finding its kinks, deriving a closed form
(:mod:`meanfield.engines.closed`) and rebuilding the activation of a trace file
(:mod:`meanfield.trace_io`).
"""

from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["time_budget"]


@contextlib.contextmanager
def time_budget(seconds, what, error=ValueError):
    """Raise ``error`` (a ValueError by default) if the block runs longer than ``seconds``.

    Uses ``SIGALRM``, so it acts only in the main thread of a POSIX process and only while
    no other interval timer is armed; elsewhere the block runs unbounded (the size limits of
    :mod:`meanfield.expressions` still bound the work). A budget inside another one is a no-op:
    the outer one still applies.

    >>> with time_budget(1.0, "adding"):
    ...     _ = 1 + 1
    """
    usable = (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))
    if not usable:
        yield
        return

    def _expired(signum, frame):
        raise _BudgetExpired

    previous = signal.signal(signal.SIGALRM, _expired)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0.0)
    except _BudgetExpired:
        raise error(f"{what} took longer than the time budget of {seconds:g} s") from None
    finally:
        signal.signal(signal.SIGALRM, previous)


class _BudgetExpired(BaseException):
    """Raised by the SIGALRM handler of :func:`time_budget` (never escapes it).

    A BaseException, so that SymPy's ``except Exception`` clauses do not swallow it.
    """
