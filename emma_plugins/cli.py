"""The ``emma`` command: thin argument parsing over the library; each subcommand is a module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .errors import EmmaError

#: Modules under ``emma_plugins.commands``; each defines ``add_parser(subparsers)``.
COMMANDS: tuple[str, ...] = (
    "run",
    "plugins",
    "demo",
    "validate",
    "schema",
    "build",
    "grid",
    "bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emma",
        description="Energy-based Multi-Modal Attention: robust multi-modal models "
        "from spec files.",
    )
    parser.add_argument("--version", action="version", version=f"emma-plugins {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"emma_plugins.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except EmmaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
