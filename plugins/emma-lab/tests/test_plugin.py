"""emma-lab plugs in through its entry point, like any third-party package."""

from __future__ import annotations

from emma_lab.plugin import COMMANDS

from emma_plugins import get_registry, load_failures
from emma_plugins.cli import build_parser


def test_every_lab_hook_registers_under_the_lab_distribution() -> None:
    assert not [f for f in load_failures() if f.provider == "emma-lab"]
    for family, kinds in {
        "command": COMMANDS,
        "dataset": ("htru2", "mfeat", "fsdd", "av_digits", "wave", "circle"),
        "spec_section": ("evaluation",),
    }.items():
        registry = get_registry(family)
        assert {kind: registry.get(kind).provider for kind in kinds} == dict.fromkeys(
            kinds, "emma-lab"
        )


def test_the_library_cli_offers_the_lab_commands_beside_its_own() -> None:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if a.dest == "command"]
    assert {"validate", "schema", "build", "plugins", *COMMANDS} <= set(subparsers.choices)
