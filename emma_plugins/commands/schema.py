"""``emma schema [--out FILE]``: the JSON schema of spec files, for editors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emma_plugins.spec import spec_json_schema


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON schema of spec files",
        description="Print the JSON schema of spec files, with every kind the installed "
        "plugins register (point your editor's YAML/JSON language server at it).",
    )
    parser.add_argument("--out", metavar="FILE", help="write the schema to FILE instead")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    text = json.dumps(spec_json_schema(), indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0
