"""Sphinx directives that generate the parts of the meanfield docs that would otherwise go stale.

* ``.. meanfield-cli::`` renders ``meanfield --help`` and every subcommand's ``--help`` from
  :func:`meanfield.cli.build_parser` (a new subcommand appears by itself).
* ``.. meanfield-toplevel::`` lists ``meanfield.__all__`` with a link to where each name is
  documented.
* ``.. meanfield-module-data:: MODULE`` documents the data (constants) in ``MODULE.__all__``
  that ``automodule`` skips: autodoc documents module data only when the module's own source
  has a ``#:`` comment for it, so re-exported constants and constants without a comment would
  be missing (and links to them broken). The comment is taken from the module that defines
  the constant, when there is one.
* ``.. meanfield-summary:: MODULE`` puts a SciPy-style summary table (autosummary) of the
  functions and classes ``MODULE`` defines at the top of its API page.
* ``.. meanfield-gallery::`` shows every PNG in ``figures/`` with its caption and claim from
  ``figures/README.md`` (written by ``meanfield report``), plus the table of claims.
* ``.. meanfield-files:: GLOB [GLOB ...]`` lists the repository files matching the globs
  (relative to the repository root); its content is shown when nothing matches.

All paths are relative to the repository root, the parent of the docs source folder. The
pages that use these directives are re-read on every build (``env-get-outdated``), so an
incremental build picks up new figures, subcommands or top-level names too.
"""

from __future__ import annotations

import glob
import importlib
import os
import re

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

#: Width of the rendered ``--help`` texts (argparse reads $COLUMNS).
HELP_COLUMNS = 88

#: Modules whose API pages document members, in the order a top-level name is looked up.
DOCUMENTED_MODULES = (
    "meanfield.maps",
    "meanfield.activations",
    "meanfield.engines",
    "meanfield.properties",
    "meanfield.trace_io",
    "meanfield.trace",
    "meanfield.simulation",
    "meanfield.backends",
    "meanfield.report",
    "meanfield.solver",
    "meanfield.errors",
    "meanfield.correlations",
    "meanfield.sweeps",
)


def _root(env):
    return os.path.dirname(os.path.abspath(env.srcdir))


class _GeneratedRst(SphinxDirective):
    """A directive whose output is reStructuredText generated at build time."""

    def render(self, lines):
        # generated pages are re-read on every build (see _always_outdated)
        self.env.meanfield_generated = getattr(self.env, "meanfield_generated", set())
        self.env.meanfield_generated.add(self.env.docname)
        node = nodes.section()
        node.document = self.state.document
        content = StringList()
        source = f"<{self.name} directive in {self.env.docname}>"
        for i, line in enumerate(lines):
            content.append(line, source, i)
        nested_parse_with_titles(self.state, content, node)
        return node.children


def _literal(text, language="text"):
    out = [f".. code-block:: {language}", ""]
    out += ["   " + line if line.strip() else "" for line in text.rstrip().splitlines()]
    out.append("")
    return out


def _help_text(parser):
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_COLUMNS)
    try:
        return parser.format_help()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


class CliDirective(_GeneratedRst):
    """``.. meanfield-cli::``: the help of ``meanfield`` and of each subcommand, as sections."""

    option_spec = {"title-char": directives.unchanged}

    def run(self):
        import argparse

        from meanfield import cli

        char = self.options.get("title-char", "-")
        parser = cli.build_parser()
        self.env.note_dependency(os.path.abspath(cli.__file__))
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        lines = [".. _cli-meanfield:", "", "meanfield", char * 9, ""]
        lines += _literal(_help_text(parser))
        for name, subparser in sub.choices.items():
            module = importlib.import_module(f"meanfield.commands.{name}")
            self.env.note_dependency(os.path.abspath(module.__file__))
            title = f"meanfield {name}"
            lines += [f".. _cli-{name}:", "", title, char * len(title), ""]
            lines += _literal(_help_text(subparser))
        return self.render(lines)


class ToplevelDirective(_GeneratedRst):
    """``.. meanfield-toplevel::``: ``meanfield.__all__`` with links to the documenting module."""

    def run(self):
        import meanfield

        modules = [(name, importlib.import_module(name)) for name in DOCUMENTED_MODULES]
        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 28 52 20", "",
                 "   * - name", "     - summary", "     - documented in"]
        for name in meanfield.__all__:
            obj = getattr(meanfield, name)
            home = next((m for m, mod in modules if name in getattr(mod, "__all__", ())),
                        getattr(obj, "__module__", None))  # a new module: its own API page
            if name == "__version__":
                lines += ["   * - ``__version__``", f"     - the package version, ``{obj}``", "     -"]
                continue
            if home is None:
                logger.warning("meanfield.%s is not documented in any of %s", name,
                               ", ".join(DOCUMENTED_MODULES), location=self.get_location())
                continue
            role = "class" if isinstance(obj, type) else "func" if callable(obj) else "data"
            lines += [f"   * - :py:{role}:`meanfield.{name} <{home}.{name}>`",
                      f"     - {_summary(obj) if role != 'data' else ''}",
                      f"     - :py:mod:`{home}`"]
        return self.render(lines + [""])


def _summary(obj):
    """First paragraph of a docstring, on one line, with cross-reference roles made literal
    (they would resolve relative to the wrong module on another page)."""
    import inspect

    doc = inspect.getdoc(obj) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    return re.sub(r":[\w:]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`", lambda m: f"``{m.group(1)}``", first)


class SummaryDirective(_GeneratedRst):
    """``.. meanfield-summary:: MODULE``: a SciPy-style table of the functions and classes in
    ``MODULE.__all__`` that the module defines (name linked to its entry, first docstring line).

    With the module names as content instead (``.. meanfield-summary::`` followed by one module
    per line), a table of those modules with their one-line summaries.
    """

    optional_arguments = 1
    has_content = True

    def run(self):
        import inspect

        rows = []
        if self.arguments:
            name = self.arguments[0]
            module = importlib.import_module(name)
            for member in getattr(module, "__all__", ()):
                obj = getattr(module, member)
                home = getattr(obj, "__module__", "")
                # defined here, or in a private helper module whose names this module documents
                private = any(part.startswith("_") for part in home.split("."))
                private = private or (hasattr(module, "__path__") and home.startswith(name + "."))
                if (inspect.isclass(obj) or inspect.isfunction(obj)) and (home == name or private):
                    role = "class" if inspect.isclass(obj) else "func"
                    rows.append((f":py:{role}:`~{name}.{member}`", _summary(obj)))
        else:
            for name in (line.strip() for line in self.content if line.strip()):
                rows.append((f":py:mod:`{name}`", _summary(importlib.import_module(name))))
        if not rows:
            logger.warning("meanfield-summary: nothing to list", location=self.get_location())
            return []
        lines = [".. list-table::", "   :widths: 30 70", "   :class: meanfield-summary", ""]
        for ref, summary in rows:
            lines += [f"   * - {ref}", f"     - {summary}"]
        return self.render(lines + [""])


class ModuleDataDirective(_GeneratedRst):
    """``.. meanfield-module-data:: MODULE``: constants of ``__all__`` that automodule leaves out."""

    required_arguments = 1

    def run(self):
        import inspect
        import sys

        from sphinx.pycode import ModuleAnalyzer

        def attr_docs(modname):
            try:
                return ModuleAnalyzer.for_module(modname).find_attr_docs()
            except Exception:  # noqa: BLE001 - no source: no comments
                return {}

        name = self.arguments[0]
        module = importlib.import_module(name)
        own = attr_docs(name)
        lines = []
        for member in getattr(module, "__all__", ()):
            value = getattr(module, member)
            if (inspect.isclass(value) or inspect.ismodule(value) or callable(value)
                    or member.startswith("__") or ("", member) in own):
                continue
            doc = []
            for other in sorted(m for m in sys.modules if m.split(".")[0] == name.split(".")[0]):
                if getattr(sys.modules[other], member, None) is value and other != name:
                    doc = list(attr_docs(other).get(("", member), []))
                    if doc:
                        break
            lines += [f".. py:data:: {member}", f"   :module: {name}", f"   :value: {value!r}", ""]
            lines += ["   " + line if line.strip() else "" for line in doc] + [""]
        return self.render(lines)


def _split_row(line):
    """Cells of a Markdown table row, split on unescaped "|"; ``\\|`` is a literal "|" in a cell
    (``meanfield report`` escapes values such as ``max |MC - theory|`` that way)."""
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def _parse_report_readme(text):
    """The first table's rows and ``{png: [(title, caption), ...]}`` from ``meanfield report``'s README."""
    lines = text.splitlines()
    rows = []
    for line in lines:
        if line.lstrip().startswith("|"):
            if not set(line.strip()) <= set("|-: "):  # not the header separator
                rows.append(_split_row(line))
        elif rows:
            break
    figures = {}
    title = None
    for i, line in enumerate(lines):
        if line.startswith("## "):
            title = line[3:].strip()
        m = re.match(r"!\[.*\]\(([^()\s]+\.png)\)$", line.strip())
        if m:
            caption = next((l.strip() for l in lines[i + 1:] if l.strip()), "")
            if caption.startswith("#") or caption.startswith("!["):
                caption = ""
            figures.setdefault(os.path.basename(m.group(1)), []).append((title, caption))
    return rows, figures


_RST_SPECIAL = re.compile(r"([\\*`|_\[\]<>])")


def _rst_escape(text):
    return _RST_SPECIAL.sub(r"\\\1", text)


def _rst_inline(text):
    """Markdown inline text as safe reStructuredText: `code`, *em*, **strong** kept, the rest escaped."""
    out = []
    for m in re.finditer(r"`([^`]+)`|\*\*([^*\s][^*]*?)\*\*|\*([^*\s][^*]*?)\*|([^`*]+|[`*])", text):
        code, strong, em, plain = m.groups()
        if strong is not None:
            out.append(f"\\ **{_rst_escape(strong.strip())}**\\ ")
        elif code is not None:
            # escaped spaces ("\\ ") delimit inline markup next to word characters
            out.append(f"\\ ``{code}``\\ " if "``" not in code else _rst_escape(code))
        elif em is not None:
            out.append(f"\\ *{_rst_escape(em.strip())}*\\ ")
        else:
            out.append(_rst_escape(plain))
    text = "".join(out)
    while text.endswith("\\ "):
        text = text[:-2]
    return text.strip()


class GalleryDirective(_GeneratedRst):
    """``.. meanfield-gallery::``: every ``figures/*.png`` with its claim from figures/README.md."""

    option_spec = {"folder": directives.unchanged}

    def run(self):
        root = _root(self.env)
        folder = os.path.join(root, self.options.get("folder", "figures"))
        docdir = os.path.dirname(self.env.doc2path(self.env.docname))
        readme = os.path.join(folder, "README.md")
        rows, captions = [], {}  # captions keep the README's order
        if os.path.exists(readme):
            self.env.note_dependency(readme)
            with open(readme, encoding="utf-8") as fh:
                rows, captions = _parse_report_readme(fh.read())
        found = {os.path.basename(p): p for p in glob.glob(os.path.join(folder, "*.png"))}
        # the report's order first (README sections), then any other PNG by name
        order = [b for b in captions if b in found] + sorted(b for b in found if b not in captions)
        lines = []
        if rows:
            header, body = rows[0], rows[1:]
            source = os.path.relpath(readme, root).replace(os.sep, "/")
            lines += [f".. list-table:: Claims checked by ``meanfield report`` (from ``{source}``)",
                      "   :header-rows: 1", ""]
            for row in [header, *body]:
                lines.append(f"   * - {_rst_inline(row[0])}")
                lines += [f"     - {_rst_inline(c)}" for c in row[1:]]
            lines.append("")
        if not order:
            lines += [".. note::", "", "   ``figures/`` holds no PNG yet: run ``meanfield report``.", ""]
        for base in order:
            path = found[base]
            self.env.note_dependency(path)
            claims = captions.get(base) or [(None, "")]
            heading = _rst_escape(os.path.splitext(base)[0])
            lines += [heading, "~" * len(heading), ""]
            rel = os.path.relpath(path, docdir).replace(os.sep, "/")
            lines += [f".. figure:: {rel}", "   :width: 90%", f"   :alt: {base}", ""]
            for k, (title, caption) in enumerate(claims):
                if k == 0:  # the caption; every further claim of the same figure is legend text
                    lines.append(f"   {_rst_inline(title) if title else _rst_escape(base)}")
                elif title:
                    lines += ["", f"   {_rst_inline(title)}"]
                if caption:
                    lines += ["", f"   {_rst_inline(caption)}"]
            svg = path[:-4] + ".svg"
            if os.path.exists(svg):
                self.env.note_dependency(svg)
                svg_rel = os.path.relpath(svg, docdir).replace(os.sep, "/")
                lines += ["", f"   Also as :download:`SVG <{svg_rel}>` (``{os.path.relpath(svg, root)}``)."]
            lines.append("")
        return self.render(lines)


class FilesDirective(_GeneratedRst):
    """``.. meanfield-files:: GLOB ...``: bullet list of matching repository files (or the content)."""

    required_arguments = 1
    optional_arguments = 20
    has_content = True

    def run(self):
        root = _root(self.env)
        found = []
        for pattern in self.arguments:
            found += sorted(glob.glob(os.path.join(root, pattern)))
        if not found:
            if self.content:
                return self.render(list(self.content))
            return self.render(["*(none)*", ""])
        return self.render([f"* ``{os.path.relpath(p, root)}``" for p in found] + [""])


def _always_outdated(app, env, added, changed, removed):
    return sorted(getattr(env, "meanfield_generated", set()) - set(removed))


def _purge(app, env, docname):
    getattr(env, "meanfield_generated", set()).discard(docname)


def _merge(app, env, docnames, other):
    env.meanfield_generated = getattr(env, "meanfield_generated", set()) | (
        getattr(other, "meanfield_generated", set()) & set(docnames))


def setup(app):
    app.connect("env-get-outdated", _always_outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.add_directive("meanfield-cli", CliDirective)
    app.add_directive("meanfield-toplevel", ToplevelDirective)
    app.add_directive("meanfield-module-data", ModuleDataDirective)
    app.add_directive("meanfield-summary", SummaryDirective)
    app.add_directive("meanfield-gallery", GalleryDirective)
    app.add_directive("meanfield-files", FilesDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
