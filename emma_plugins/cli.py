"""The ``emma`` command: thin argument parsing over the library.

Subcommands come from every plugin's ``register_commands`` hook, the library's own
(``validate``, ``schema``, ``build``, ``plugins``) included, so an installed lab or any
third-party package adds its commands the same way.
"""

from __future__ import annotations

import argparse
import errno
import os
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


#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
#: Errors of a full disk or an exhausted quota: reported in one line, exit status 2.
DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``emma`` command. Exit status: 0 done, 2 an error reported in one line
    (a bad spec, an unusable output directory, a full disk), 130 interrupted (Ctrl-C)."""
    try:
        parser = build_parser()  # loads the plugins, which strict mode may refuse
        args = parser.parse_args(argv)
        args.argv = ["emma", *(sys.argv[1:] if argv is None else argv)]  # for run manifests
        code: int = args.handler(args)
    except EmmaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        if exc.errno not in DISK_FULL:
            raise
        where = exc.filename or "the output directory"
        print(
            f"error: {where}: {os.strerror(exc.errno or errno.ENOSPC)}; free some space and run "
            "again (files already complete, checkpoints included, are intact).",
            file=sys.stderr,
        )
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
