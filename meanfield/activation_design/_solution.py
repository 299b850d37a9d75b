"""Results of the SELU-family solver: :class:`Solution`, :class:`SolutionTable`, residuals and tolerance.

The equations of :func:`meanfield.solver.solve` (Chen et al., eq. 5, 11; Klambauer et al.) are
evaluated here from the closed forms (:func:`~meanfield.engines.closed.family_moments`), and
:func:`_finish` turns polished parameters into a :class:`Solution`, refusing any whose residuals
exceed :data:`RESIDUAL_TOL`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from meanfield.activations import Activation, get_activation
from meanfield.engines.closed import family_moments

__all__ = ["RESIDUAL_TOL", "Solution", "SolutionTable", "SolverError"]

#: Largest absolute residual of any returned solution (every equation is O(1)).
RESIDUAL_TOL = 1e-12



class SolverError(ValueError):
    """No solution within tolerance: infeasible ``eps``/``lam``/``lam_min``, or no convergence."""



def _equations(template, params, eps, centralized):
    """Residual rows ``phi(1) - (1 + eps)``, ``E[f^2] - 1`` (and ``E[f]``) at ``z ~ N(0, 1)``."""
    with np.errstate(all="ignore"):
        rows = [family_moments(template, params, "df2", 0.0, 1.0) - (1 + eps),
                family_moments(template, params, "f2", 0.0, 1.0) - 1]
        if centralized:
            rows.append(family_moments(template, params, "f", 0.0, 1.0))
    return np.stack(np.broadcast_arrays(*rows), axis=-1)


_RESIDUAL_KEYS = ("phi(1)-(1+eps)", "E[f^2]-1", "E[f]")
_SELU_KEYS = ("E[f(y)]-mean", "Var[f(y)]-var")


def _selu_equations(template, params, mean, var, omega=0.0, tau=1.0, scaled=False):
    """``E f(y) - mean`` and ``Var f(y) - var``, y ~ N(mean omega, var tau) (``scaled``: Newton's rows).

    ``Var f - var`` is written ``(E f^2 - s2) - (E f - mean)(E f + mean)``, ``s2 = var + mean^2``
    (the same number without the cancellation of ``E f^2 - (E f)^2``); ``scaled=True`` returns
    ``(E f - mean)/sqrt(s2)`` and ``(E f^2 - s2)/s2`` instead, the equations Newton solves at any scale.
    """
    s2 = var + mean * mean
    with np.errstate(all="ignore"):
        first = family_moments(template, params, "f", mean * omega, var * tau)
        second = family_moments(template, params, "f2", mean * omega, var * tau)
        if scaled:
            rows = ((first - mean) / math.sqrt(s2), (second - s2) / s2)
        else:
            rows = (first - mean, (second - s2) - (first - mean) * (first + mean))
    return np.stack(np.broadcast_arrays(*rows), axis=-1)


# ------------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Solution:
    """One solved parameter set.

    Attributes
    ----------
    family : str
        ``"selu"``, ``"dselu"``, ``"sselu"`` or ``"lselu"``.
    eps : float
        The ``eps`` of ``phi(1) = 1 + eps``; for ``"selu"`` the implied ``phi(1) - 1``.
    params : dict
        The activation's parameters: ``lam, alpha`` (selu, dselu) or ``lam, alpha, beta``;
        ``get_activation(family, **params)`` rebuilds :attr:`activation`.
    activation : Activation
    gamma1 : float
        ``|dphi/dq(1) + 1|`` (Chen et al., Prop. 3.1).
    residuals : dict
        Each equation's residual at the returned (float64) parameters, evaluated by the float64
        closed forms; keys ``"phi(1)-(1+eps)"``, ``"E[f^2]-1"`` (and ``"E[f]"`` when centralized), or
        for selu ``"E[f(y)]-mean"``, ``"Var[f(y)]-var"``. Every entry is ``<= RESIDUAL_TOL`` in
        magnitude (for selu relative to ``max(1, sqrt(var + mean^2))`` and ``max(1, var + mean^2)``).
        These are float64 numbers: each carries the closed forms' own rounding error, a few ulp of
        the moments (~1e-15 here), so the true residual of the returned parameters can be larger than
        the reported one by that much (sSELU at eps = 0.03: 8.9e-16 reported, 1.2e-15 true). The exact
        residuals of the returned parameters come from :meth:`verify` (mpmath, any precision).
    centralized : bool
    mode : str
        ``"fixed-point"`` (selu), ``"equalities"`` (dselu), ``"optimum"`` (eq. 11),
        ``"centralized"`` or ``"fixed-lam"``.
    lam_min : float or None
        The bound of the optimum / the root filter of the centralized system.
    constraint_active : bool or None
        Whether ``lam = lam_min`` at the optimum (mode ``"optimum"`` only).
    other_roots : tuple of dict
        Further roots of a square system (centralized, fixed-lam, selu) that were not chosen,
        each ``{"lam", "alpha", "beta", "gamma1", "reason"}``.
    mean, var, omega, tau : float or None
        The fixed point of a ``"selu"`` solution and the input convention y ~ N(mean omega, var tau).
    """

    family: str
    eps: float
    params: dict
    activation: Activation = field(repr=False)
    gamma1: float
    residuals: dict
    centralized: bool = False
    mode: str = "optimum"
    lam_min: float | None = None
    constraint_active: bool | None = None
    other_roots: tuple = field(default=(), repr=False)
    mean: float | None = None
    var: float | None = None
    omega: float | None = None
    tau: float | None = None

    @property
    def max_residual(self):
        """Largest absolute residual."""
        return max(abs(v) for v in self.residuals.values())

    def verify(self, dps=40):
        """The equations' residuals at the returned parameters in ``dps``-digit arithmetic (mpmath).

        Each moment is an adaptive tanh-sinh integral at ``dps`` digits
        (:func:`~meanfield.engines.reference.mp_gauss_expectation`) and the target is subtracted in
        mpmath before rounding, so the result is the true residual of the float64 parameters to
        ~``10**-dps``, unlike :attr:`residuals`. Slow (~0.1 s per equation).

        Returns
        -------
        dict
            The keys of :attr:`residuals`, float values.
        """
        import mpmath

        from meanfield.engines.reference import mp_gauss_expectation

        dps = int(dps)
        if not 15 <= dps <= 1000:
            raise ValueError(f"dps must be an integer in [15, 1000]; got {dps}")
        mp_f, mp_df = self.activation.mpmath_functions()
        kinks = self.activation.kinks
        with mpmath.workdps(dps + 10):
            def moment(g, mean, var):
                return mp_gauss_expectation(g, mean, var, kinks, dps)

            if self.family == "selu":
                m_y, v_y = self.mean * self.omega, self.var * self.tau
                first = moment(mp_f, m_y, v_y)
                second = moment(lambda x: mp_f(x) ** 2, m_y, v_y)
                mean, var = mpmath.mpf(self.mean), mpmath.mpf(self.var)
                values = (first - mean, second - first**2 - var)
            else:
                values = [moment(lambda x: mp_df(x) ** 2, 0.0, 1.0) - (1 + mpmath.mpf(self.eps)),
                          moment(lambda x: mp_f(x) ** 2, 0.0, 1.0) - 1]
                if self.centralized:
                    values.append(moment(mp_f, 0.0, 1.0))
            return {k: float(v) for k, v in zip(self.residuals, values, strict=True)}

    def to_dict(self):
        """JSON-friendly dict of every field.

        The activation appears as its :meth:`~meanfield.activations.Activation.to_dict`.
        """
        return {
            "family": self.family, "eps": self.eps, "centralized": self.centralized, "mode": self.mode,
            "params": dict(self.params), "gamma1": self.gamma1, "residuals": dict(self.residuals),
            "max_residual": self.max_residual, "lam_min": self.lam_min,
            "constraint_active": self.constraint_active, "mean": self.mean, "var": self.var,
            "omega": self.omega, "tau": self.tau,
            "other_roots": [dict(r) for r in self.other_roots], "activation": self.activation.to_dict(),
        }

    def row(self):
        """Flat dict with the columns of :attr:`SolutionTable.COLUMNS` (``beta`` None where absent)."""
        return {"family": self.family, "centralized": self.centralized, "mode": self.mode, "eps": self.eps,
                "lam": self.params["lam"], "alpha": self.params["alpha"], "beta": self.params.get("beta"),
                "gamma1": self.gamma1, "max_residual": self.max_residual}


class SolutionTable(Sequence):
    """A list of :class:`Solution` (an eps sweep or :func:`parameter_table`) with tidy export.

    Indexing, iteration and ``len`` give the solutions; :meth:`rows` one flat dict per solution.
    """

    COLUMNS = ("family", "centralized", "mode", "eps", "lam", "alpha", "beta", "gamma1", "max_residual")

    def __init__(self, solutions):
        self._solutions = tuple(solutions)
        if not all(isinstance(s, Solution) for s in self._solutions):
            raise ValueError("SolutionTable holds Solution objects only")

    def __getitem__(self, index):
        if isinstance(index, slice):
            return SolutionTable(self._solutions[index])
        return self._solutions[index]

    def __len__(self):
        return len(self._solutions)

    def __repr__(self):
        return f"SolutionTable({len(self)} solutions)"

    def rows(self):
        """One dict per solution with keys :attr:`COLUMNS`."""
        return [s.row() for s in self._solutions]

    def to_dict(self):
        """``{"columns": [...], "rows": [...], "solutions": [Solution.to_dict(), ...]}``."""
        return {"columns": list(self.COLUMNS), "rows": self.rows(),
                "solutions": [s.to_dict() for s in self._solutions]}

    def to_json(self, indent=2):
        """The rows as a JSON array (full float precision)."""
        return json.dumps(self.rows(), indent=indent, allow_nan=False)

    def to_csv(self, path_or_buffer=None):
        """Write the rows as CSV (header :attr:`COLUMNS`; empty cell for a missing ``beta``).

        Parameters
        ----------
        path_or_buffer : str, os.PathLike, file-like or None
            Where to write; None returns the CSV text.
        """
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows():
            writer.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v)
                             for k, v in row.items()})
        out = text.getvalue()
        if path_or_buffer is None:
            return out
        if isinstance(path_or_buffer, (str, os.PathLike)):
            with open(path_or_buffer, "w", encoding="utf-8", newline="") as fh:
                fh.write(out)
        elif hasattr(path_or_buffer, "write"):
            path_or_buffer.write(out)
        else:
            raise ValueError(f"path_or_buffer must be a path, a writable buffer or None; got {path_or_buffer!r}")
        return None


def _gamma1(template, params):
    """``|dphi/dq(1) + 1|`` from the closed forms."""
    return abs(float(family_moments(template, params, "df2", 0.0, 1.0, "var")) + 1)


def _finish(family, params, eps, centralized, mode, *, lam_min=None, constraint_active=None,
            other_roots=(), mean=None, var=None, omega=None, tau=None):
    """Recompute residuals and gamma1 from the closed forms; refuse anything above tolerance."""
    params = {k: float(v) for k, v in params.items()}
    act = get_activation(family, **params)
    template = act.template
    if family == "selu":
        res = _selu_equations(template, params, mean, var, omega, tau)
        keys = _SELU_KEYS
        eps = float(family_moments(template, params, "df2", 0.0, 1.0)) - 1
        # the selu equations have the scale sqrt(var + mean^2) (E f) and var + mean^2 (Var f)
        scale = np.array([max(1.0, math.sqrt(var + mean * mean)), max(1.0, var + mean * mean)])
    else:
        res = _equations(template, params, eps, centralized)
        keys = _RESIDUAL_KEYS
        scale = np.ones(len(res))
    residuals = {k: float(v) for k, v in zip(keys, res, strict=False)}
    worst = float(np.max(np.abs(np.asarray(res)[:len(scale)]) / scale[:len(res)]))
    if not worst <= RESIDUAL_TOL:
        raise SolverError(
            f"{family} (eps={eps:g}, mode {mode}): Newton polishing reached a residual of {worst:.3g} "
            f"> {RESIDUAL_TOL:g}; the problem is too close to the edge of its feasible range")
    g1 = _gamma1(template, params)
    return Solution(family=family, eps=float(eps), params=params, activation=act, gamma1=g1,
                    residuals=residuals, centralized=centralized, mode=mode, lam_min=lam_min,
                    constraint_active=constraint_active, other_roots=tuple(other_roots),
                    mean=mean, var=var, omega=omega, tau=tau)


