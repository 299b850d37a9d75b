"""The ``meanfield`` command line (also ``python -m meanfield``).

Subcommands live in :mod:`meanfield.commands`, one module each. Usage errors
exit with status 2 and a one-line message on stderr, never a traceback.

Start-up stays light: ``meanfield --version`` and ``--help`` import neither SymPy nor
SciPy (the package's top level loads its submodules on first use, and each subcommand
imports the numerical modules inside ``run``).
"""

from __future__ import annotations

import argparse
import codecs
import importlib
import sys

from meanfield.commands import COMMAND_MODULES, UsageError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors stay one line."""

    def error(self, message):
        # "meanfield maps" -> "maps: ..."; the entry point adds the one "meanfield: error:" prefix
        where = self.prog.partition(" ")[2]
        raise UsageError(f"{where}: {message}" if where else message)


#: ASCII spellings of the non-ASCII characters the commands print, used when the terminal's
#: encoding lacks them (``LC_ALL=C`` without UTF-8 mode); anything else becomes ``?``.
_ASCII_SPELLINGS = {"\u00b1": "+-", "\u2014": "--", "\u2013": "-", "\u2212": "-", "\u2248": "~",
                    "\u2264": "<=", "\u2265": ">=", "\u2260": "!=", "\u00d7": "x", "\u00b7": ".",
                    "\u221e": "inf", "\u03bb": "lambda", "\u03b1": "alpha", "\u03b2": "beta",
                    "\u03b3": "gamma", "\u03b4": "delta", "\u03b5": "eps", "\u03c6": "phi",
                    "\u03c7": "chi", "\u03be": "xi", "\u03c3": "sigma", "\u00b2": "^2",
                    "\u2192": "->", "\u2026": "..."}
_TRANSLITERATE = "meanfield-transliterate"


def _transliterate(error):
    """Codec error handler: spell a character the stream cannot encode in ASCII."""
    text = error.object[error.start:error.end]
    return "".join(_ASCII_SPELLINGS.get(ch, "?") for ch in text), error.end


def _encodable_streams():
    """Let stdout/stderr print every character the commands use, whatever the locale.

    Under ``LC_ALL=C`` with UTF-8 mode off, Python's streams are ASCII and a ``\u00b1`` in a table
    would raise ``UnicodeEncodeError`` (a ``ValueError``); such streams transliterate instead.
    """
    try:
        codecs.lookup_error(_TRANSLITERATE)
    except LookupError:
        codecs.register_error(_TRANSLITERATE, _transliterate)
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if encoding is None or not hasattr(stream, "reconfigure"):
            continue
        try:
            "\u00b1\u2014".encode(encoding)
        except (UnicodeEncodeError, LookupError):
            stream.reconfigure(errors=_TRANSLITERATE)


def build_parser():
    """Return the top-level parser with every available subcommand registered."""
    from meanfield import __version__

    parser = _Parser(prog="meanfield", description="Mean-field theory of activation functions.")
    parser.add_argument("--version", action="version", version=f"meanfield {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"meanfield.commands.{name}").register(sub)
    return parser


def main(argv=None):
    """Entry point: parse ``argv`` and run the subcommand; returns the exit status.

    0: success; 1: the command ran and found a failure (``check``, ``report``); 2: bad input
    (one line on stderr); 130: interrupted.
    """
    _encodable_streams()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "handler", None) is None:
            raise UsageError(f"a COMMAND is required, one of: {', '.join(COMMAND_MODULES)} "
                             "(meanfield --help describes them)")
        return int(args.handler(args) or 0)
    except (UsageError, ValueError) as exc:
        message = str(exc).replace("\n", " ")
        print(f"meanfield: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `meanfield solve --table | head`: the reader left, not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("meanfield: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
