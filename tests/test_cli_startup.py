"""The command line starts light: --version and --help load neither SymPy nor SciPy nor matplotlib.

(The time itself is measured side by side in benchmarks/bench_cli_startup.py, not asserted here.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sympy", "scipy", "matplotlib", "mpmath")


def _modules_after(argv):
    code = ("import sys, json\nfrom meanfield.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return set(json.loads(proc.stderr.strip().splitlines()[-1])), proc.stdout


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["check", "--help"], ["simulate", "--help"]])
def test_startup_imports_no_heavy_library(argv):
    loaded, out = _modules_after(argv)
    assert out.strip(), "nothing printed"
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_import_meanfield_is_lazy_but_complete():
    import meanfield

    code = f"import sys, meanfield; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "[]"
    for name in meanfield.__all__:  # every public name resolves (loading its module on first use)
        assert getattr(meanfield, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        meanfield.nosuch  # noqa: B018


def test_cli_choices_mirror_the_library():
    from meanfield import engines, simulation, solver
    from meanfield.commands import _choices

    assert _choices.METHODS == engines.METHODS
    assert _choices.WEIGHT_KINDS == simulation.WEIGHT_KINDS
    assert _choices.FAMILIES == solver.FAMILIES
    assert _choices.TABLE_EPS == solver.TABLE_EPS
