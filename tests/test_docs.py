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
import importlib
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
TIMEOUT_S = 300  # ~10 s alone; a loaded 2-core machine (CI beside other jobs) takes minutes

for _module in ("sphinx", "numpydoc", "pydata_sphinx_theme", "sphinx-mathjax-offline"):
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


@pytest.mark.slow  # the Sphinx build: ~10-50 s
def test_html_builds_without_warnings(build):
    _, html, _, proc = build
    assert proc.returncode == 0, _report(proc, "html")
    assert (html / "index.html").exists()
    for page in ("installation", "cli", "gpu", "gallery", "api/index", "api/maps", "api/errors", "theory/maps",
                 "theory/self_normalization", "theory/engines", "theory/solver", "theory/simulator"):
        assert (html / f"{page}.html").exists(), page


@pytest.mark.slow  # the Sphinx build: ~10-50 s
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


@pytest.mark.slow  # the Sphinx build: ~10-50 s
def test_doctests_in_docs_pass(build):
    """The pages' examples run (docstring hygiene is test_html_builds_without_warnings' job)."""
    base, _, doctrees, _ = build
    proc = _sphinx("doctest", base / "doctest", doctrees, strict=False)
    output_file = base / "doctest" / "output.txt"
    output = output_file.read_text(encoding="utf-8") if output_file.exists() else ""
    assert proc.returncode == 0 and "0 failures in tests" in output, (
        output[-6000:] + "\n" + _report(proc, "doctest"))


@pytest.mark.slow  # the Sphinx build: ~10-50 s
def test_math_renders_offline(build):
    """MathJax is shipped into _static (no CDN): the theory pages render on a machine without network."""
    _, html, _, _ = build
    page = (html / "theory" / "maps.html").read_text(encoding="utf-8")
    assert 'src="../_static/mathjax/tex-chtml.js"' in page
    assert "cdn" not in page.lower().split("mathjax")[0][-200:]
    assert (html / "_static" / "mathjax" / "tex-chtml.js").stat().st_size > 100_000


@pytest.mark.slow  # the Sphinx build: ~10-50 s
def test_api_pages_open_with_summary_tables(build):
    """The API index lists every module with its summary; each module page starts with a table of
    its functions and classes, linked to their entries (SciPy style)."""
    _, html, _, _ = build
    index = (html / "api" / "index.html").read_text(encoding="utf-8")
    for module in ("meanfield.maps", "meanfield.properties", "meanfield.errors", "meanfield.solver"):
        page = module.rsplit(".", 1)[-1]
        assert f'href="{page}.html#module-{module}"' in index, module
    maps = (html / "api" / "maps.html").read_text(encoding="utf-8")
    table = maps.split("meanfield-summary")[1].split("</table>")[0]
    assert 'href="#meanfield.maps.phi"' in table and 'href="#meanfield.maps.gpn_constants"' in table


def test_docstring_examples_sit_under_an_examples_heading():
    """numpydoc renders a doctest that follows Parameters/Returns/Raises inside that section (a stray
    ".." and the output outside the code box): every example needs its own Examples heading."""
    import inspect
    import pkgutil
    import warnings

    from numpydoc.docscrape import NumpyDocString

    import meanfield

    misplaced = []
    for info in pkgutil.walk_packages(meanfield.__path__, "meanfield."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        objects = [module]
        for obj in vars(module).values():
            if getattr(obj, "__module__", None) == info.name and (inspect.isfunction(obj) or inspect.isclass(obj)):
                objects.append(obj)
                if inspect.isclass(obj):
                    objects += [getattr(m, "fget", getattr(m, "__func__", m)) for m in vars(obj).values()
                                if inspect.isfunction(m) or isinstance(m, (property, classmethod, staticmethod))]
        for obj in objects:
            doc = inspect.getdoc(obj)
            if not doc or ">>>" not in doc:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # unknown section names are the modules' own headings
                parsed = NumpyDocString(doc)
            for section in ("Parameters", "Returns", "Yields", "Raises", "Warns", "Attributes", "Other Parameters"):
                if ">>>" in repr(parsed[section]):
                    misplaced.append(f"{getattr(obj, '__qualname__', obj.__name__)} ({info.name}): {section}")
    assert not misplaced, misplaced
