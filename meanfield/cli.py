"""The ``meanfield`` command line (also ``python -m meanfield``).

Subcommands live in :mod:`meanfield.commands`, one module each. Usage errors
exit with status 2 and a one-line message on stderr, never a traceback.

Start-up stays light: ``meanfield --version`` and ``--help`` import neither SymPy nor
SciPy (the package's top level loads its submodules on first use, and each subcommand
imports the numerical modules inside ``run``).
"""

from __future__ import annotations

import argparse
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
