"""The ``emma`` command: thin argument parsing over the library.

Subcommands come from every plugin's ``register_commands`` hook, the library's own
(``validate``, ``schema``, ``build``, ``plugins``) included, so an installed lab or any
third-party package adds its commands the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from emma_plugins._version import __version__
from emma_plugins.core.errors import EmmaError
from emma_plugins.core.plugins import get_registry


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emma",
        description="Energy-based Multi-Modal Attention: robust multi-modal models "
        "from spec files. `emma plugins` lists the installed commands and kinds.",
    )
    parser.add_argument("--version", action="version", version=f"emma-plugins {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for entry in get_registry("command"):
        entry.factory(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()  # loads the plugins, which strict mode may refuse
        args = parser.parse_args(argv)
        code: int = args.handler(args)
    except EmmaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
