"""Sphinx configuration of the meanfield documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest

Everything that can go stale is generated at build time by ``docs/_ext/meanfield_docs.py``:
the CLI reference (from :func:`meanfield.cli.build_parser`), the figure gallery (from the
files in ``figures/`` and ``figures/README.md``) and the list of GPU benchmarks.
"""

from __future__ import annotations

import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
# The checkout's package wins over any installed copy; the local extensions live in _ext/.
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(DOCS, "_ext"))

import meanfield  # noqa: E402

project = "meanfield"
author = "meanfield developers"
copyright = "meanfield developers"  # noqa: A001
version = release = meanfield.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    # ships MathJax 3 into _static/mathjax: the theory pages render offline (clusters, no CDN)
    "sphinx-mathjax-offline",
    "numpydoc",
    "meanfield_docs",
]

root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
default_role = "code"  # `x` in the theory pages is inline code, not a cross-reference
pygments_style = "sphinx"

# -- cross-references --------------------------------------------------------------------
# Every :func:`...`/:class:`...` inside the package resolves, or the build fails. Names of
# third-party libraries (no intersphinx: the build must work offline) are ignored.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|scipy|sympy|sp|mpmath|cupy|xarray|netCDF4|matplotlib|tqdm)(\..*)?"),
    # the standard library
    (r"py:.*", r"(ast|argparse|importlib|dataclasses|collections|typing|pathlib|os)(\..*)?"),
]

# -- autodoc / numpydoc ------------------------------------------------------------------
autodoc_default_options = {"member-order": "bysource", "undoc-members": True}
autodoc_typehints = "none"  # signatures as written; the numpydoc sections carry the types
# autodoc_preserve_defaults stays off: with it Sphinx 9.0 cannot format the signature of
# meanfield.gpu.codegen.generate_op_source ("error while formatting arguments: pop from empty list").
numpydoc_show_class_members = False  # autodoc :members: lists them; no autosummary stubs
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- doctest (python -m sphinx -b doctest docs docs/_build/doctest) ----------------------
# Only the pages' own ``.. doctest::`` blocks run here; the docstrings' examples are run by
# pytest --doctest-modules (their names come from their module's namespace).
doctest_test_doctest_blocks = ""
doctest_global_setup = """
import numpy as np
import meanfield as mf
"""
import doctest  # noqa: E402

doctest_default_flags = (doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
                         | doctest.IGNORE_EXCEPTION_DETAIL | doctest.DONT_ACCEPT_TRUE_FOR_1)

# -- HTML --------------------------------------------------------------------------------
# pydata-sphinx-theme: a wide content column (long code lines fit; wider ones scroll inside
# their box), a page table of contents, and light/dark modes.
html_theme = "pydata_sphinx_theme"
html_title = f"meanfield {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
html_static_path = ["_static"]
html_css_files = ["meanfield.css"]
html_show_sourcelink = False
