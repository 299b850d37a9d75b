"""The Sphinx documentation in docs/ builds with warnings as errors, and its examples run.

Equivalent to::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest

but into a temporary folder. Skipped when Sphinx or numpydoc (the ``docs`` extra) is missing.
The HTML build takes ~10 s and the doctest build, which reuses its parsed pages, a few more.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
TIMEOUT_S = 80

for _module in ("sphinx", "numpydoc"):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"{_module} is not installed (pip install '.[docs]')", allow_module_level=True)


def _sphinx(builder, out, doctrees, *, strict=True):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "sphinx", *(["-W", "--keep-going"] if strict else []), "-q",
           "-b", builder, "-d", str(doctrees), DOCS, str(out)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


def _report(proc, builder):
    return (f"sphinx -b {builder} failed (exit {proc.returncode}); the problems it reported:\n"
            f"{proc.stderr[-8000:]}\n{proc.stdout[-4000:]}")


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """One HTML build shared by the tests (with --keep-going its pages exist even on warnings)."""
    base = tmp_path_factory.mktemp("docs")
    html, doctrees = base / "html", base / "doctrees"
    return base, html, doctrees, _sphinx("html", html, doctrees)


def test_html_builds_without_warnings(build):
    _, html, _, proc = build
    assert proc.returncode == 0, _report(proc, "html")
    assert (html / "index.html").exists()
    for page in ("installation", "cli", "gpu", "gallery", "api/index", "api/maps", "theory/maps",
                 "theory/self_normalization", "theory/engines", "theory/solver", "theory/simulator"):
        assert (html / f"{page}.html").exists(), page


def test_generated_pages_are_current(build):
    """CLI reference, gallery and solver API page reflect the checkout, not a snapshot."""
    _, html, _, _ = build
    assert (html / "cli.html").exists(), "the HTML build produced no pages"
    from meanfield.cli import build_parser

    cli = (html / "cli.html").read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in sub.choices:
        assert f"meanfield {name}" in cli, name
    gallery = (html / "gallery.html").read_text(encoding="utf-8")
    for png in glob.glob(os.path.join(ROOT, "figures", "*.png")):
        assert os.path.basename(png) in gallery, png
    solver = (html / "api" / "solver.html").read_text(encoding="utf-8")
    assert 'id="meanfield.solver.solve"' in solver


def test_doctests_in_docs_pass(build):
    """The pages' examples run (docstring hygiene is test_html_builds_without_warnings' job)."""
    base, _, doctrees, _ = build
    proc = _sphinx("doctest", base / "doctest", doctrees, strict=False)
    output_file = base / "doctest" / "output.txt"
    output = output_file.read_text(encoding="utf-8") if output_file.exists() else ""
    assert proc.returncode == 0 and "0 failures in tests" in output, (
        output[-6000:] + "\n" + _report(proc, "doctest"))
