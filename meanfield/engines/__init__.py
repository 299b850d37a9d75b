"""Interchangeable engines for Gaussian expectations (a small registry, after chaospy).

Every map in :mod:`meanfield.maps` reduces to expectations of one of three
integrands over ``x ~ N(mean, var)`` and their derivatives in ``mean`` and ``var``:

=========  ===============
quantity   integrand g(x)
=========  ===============
``"f"``    ``f(x)``
``"f2"``   ``f(x)^2``
``"df2"``  ``f'(x)^2``
=========  ===============

An engine implements ``expect(act, quantity, mean, var, derivative=None)`` with
``derivative`` one of ``None`` (``E[g]``), ``"mean"`` (``d E[g] / d mean``) and
``"var"`` (``d E[g] / d var``); ``mean`` and ``var`` are validated float arrays
that broadcast together. ``supports(act, quantity)`` says whether it can.

Engines: ``"closed"`` (SymPy-derived closed forms), ``"quadrature"`` (any
activation), ``"mpmath"`` (arbitrary-precision reference); ``"auto"`` takes the
closed form where one exists, else quadrature.
"""

from __future__ import annotations

from meanfield.engines._interface import DERIVATIVES, QUANTITIES
from meanfield.engines.closed import ClosedEngine
from meanfield.engines.quadrature import QuadratureEngine
from meanfield.engines.reference import MpmathEngine

__all__ = ["ENGINES", "METHODS", "QUANTITIES", "DERIVATIVES", "get_engine"]


#: name -> engine instance
ENGINES = {"closed": ClosedEngine(), "quadrature": QuadratureEngine(), "mpmath": MpmathEngine()}

#: valid values of every public ``method=`` argument
METHODS = ("auto", *ENGINES)


def get_engine(method, act, quantity):
    """Return the engine for ``method`` (resolving ``"auto"``) that can compute ``quantity``.

    Raises
    ------
    ValueError
        Unknown method, or an engine asked for explicitly that cannot handle this activation.
    """
    if method == "auto":
        closed = ENGINES["closed"]
        return closed if closed.supports(act, quantity) else ENGINES["quadrature"]
    if method not in ENGINES:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    engine = ENGINES[method]
    if not engine.supports(act, quantity):
        raise ValueError(engine.unsupported_reason(act, quantity))
    return engine
