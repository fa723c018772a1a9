"""``emma build SPEC``: assemble the model a spec describes and print what was built."""

from __future__ import annotations

import argparse

from emma_plugins.assembly.builder import build
from emma_plugins.assembly.size import add_max_parameters_option
from emma_plugins.assembly.summary import render_summary


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="assemble the model of a spec and print its parts and sizes",
        description="Build the model a spec describes (estimators unfitted, nothing trained) "
        "and print its modes, estimators, attention stages, network and parameter counts.",
    )
    parser.add_argument("spec", metavar="SPEC", help="spec file (.yaml, .yml, .toml, .json)")
    parser.add_argument(
        "--modules", action="store_true", help="also print the full torch module tree"
    )
    add_max_parameters_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    model = build(args.spec, max_parameters=args.max_parameters)
    print(f"{args.spec}:")
    print(render_summary(model))
    if args.modules:
        print(model)
    return 0
