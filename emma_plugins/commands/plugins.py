"""``emma plugins``: every registered kind per family, its provider, and broken plugins."""

from __future__ import annotations

import argparse

from emma_plugins.core.plugins import ALL_FAMILIES, get_registry, load_failures


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plugins",
        help="list registered kinds, commands and spec sections, and plugins that failed to load",
        description="List every registered kind per component family with the distribution "
        "that provides it, and any plugin that failed to load with its error.",
    )
    parser.set_defaults(handler=run)


def render() -> str:
    lines: list[str] = []
    for family in ALL_FAMILIES:
        registry = get_registry(family)
        lines.append(f"{family}:")
        if not len(registry):
            lines.append("  (none)")
        for entry in registry:
            lines.append(f"  {entry.kind:<20} {entry.provider}")
    failures = load_failures()
    if failures:
        lines.append("failed to load:")
        for failure in failures:
            lines.append(f"  {failure.name:<20} {failure.provider}: {failure.error}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    print(render())
    return 0
