"""``emma validate SPEC...``: check spec files without building anything."""

from __future__ import annotations

import argparse
import sys

from emma_plugins.assembly.size import add_max_parameters_option, check_parameters
from emma_plugins.core.errors import SpecError
from emma_plugins.spec import EmmaSpec, load_spec


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check spec files (exit 0 if all are valid, 2 otherwise)",
        description="Validate spec files (.yaml, .yml, .toml, .json) against the installed "
        "plugins, and the size of the model each describes (counted without allocating it). "
        "Prints a one-line summary per valid file, or every problem with its location in "
        "the spec.",
    )
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="spec file(s) to check")
    add_max_parameters_option(parser)
    parser.set_defaults(handler=run)


def summary(spec: EmmaSpec) -> str:
    """One line: modes with their estimators, the attention chain and the network."""
    modes = ", ".join(
        f"{m.name}[{'x'.join(map(str, m.sample_shape))}] {m.estimator.kind}" for m in spec.modes
    )
    attention = spec.attention
    if attention.enabled:
        chain = " > ".join(component.kind for component in attention.stages().values())
        emma = f"attention {chain} on {attention.apply_to}"
    else:
        emma = "attention disabled"
    network = spec.network.kind if spec.network is not None else "(given in Python)"
    return (
        f"spec_version {spec.spec_version}; {len(spec.modes)} modes: {modes}; {emma}; "
        f"network {network} -> {spec.out_features} output(s)"
    )


def run(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.specs:
        try:
            spec = load_spec(path)
            check_parameters(spec, args.max_parameters, source=path)
        except SpecError as exc:
            failed += 1
            print(exc, file=sys.stderr)
            continue
        print(f"{path}: valid ({summary(spec)})")
    return 2 if failed else 0
