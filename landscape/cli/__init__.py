"""``landscape`` command line: a thin layer over library calls, one module per command.

Every user error (:class:`landscape.errors.LandscapeError`) is printed as one line, without
a traceback, and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from landscape.cli._common import parse_seeds
from landscape.errors import LandscapeError

__all__ = ["build_parser", "main", "parse_seeds"]

# the modules of the sub-commands, in the order ``landscape --help`` lists them; each has
# ``add_parser(subparsers)`` and ``COMMANDS = {name: handler}``
COMMAND_MODULES = (
    "search",
    "sweep",
    "import_masks",
    "ls",
    "verify",
    "predict",
    "rm",
    "path",
    "analyze",
    "clean",
    "figures",
    "demo",
)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Callable[[argparse.Namespace], int]]]:
    """The argument parser and the handler of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="landscape", description="The mask landscape of strong lottery tickets."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands: dict[str, Callable[[argparse.Namespace], int]] = {}
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"landscape.cli.{name}")
        module.add_parser(sub)
        commands.update(module.COMMANDS)
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    try:
        return commands[args.command](args) or 0
    except LandscapeError as exc:
        print(f"landscape {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(
            f"landscape {args.command}: interrupted; finished masks are kept, run again to resume",
            file=sys.stderr,
        )
        return 130
