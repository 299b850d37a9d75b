"""The command line's fixed choices, kept here so that building the parser imports no numerics.

Each mirrors a constant of the library (``tests/test_cli_startup.py`` checks they agree):
:data:`meanfield.engines.METHODS`, :data:`meanfield.simulation.WEIGHT_KINDS`,
:data:`meanfield.solver.FAMILIES` and :data:`meanfield.solver.TABLE_EPS`.
"""

__all__ = ["METHODS", "WEIGHT_KINDS", "FAMILIES", "TABLE_EPS"]

#: engines of every ``--method`` option
METHODS = ("auto", "closed", "quadrature", "mpmath")
#: ``simulate --weights``
WEIGHT_KINDS = ("gaussian", "orthogonal")
#: ``solve FAMILY``
FAMILIES = ("selu", "dselu", "sselu", "lselu")
#: ``solve --table`` default eps values (Chen et al., Table 5)
TABLE_EPS = (0.01, 0.017, 0.03, 0.06)
