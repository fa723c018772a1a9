"""Registers the library's commands: ``validate``, ``schema``, ``build``, ``plugins``,
``fit``, ``predict`` and ``export``."""

from __future__ import annotations

from emma_plugins.commands import build, export, fit, plugins, predict, schema, validate
from emma_plugins.core.hookspecs import Register, hookimpl


@hookimpl
def register_commands(register: Register) -> None:
    for module in (validate, schema, build, plugins, fit, predict, export):
        register(module.__name__.rsplit(".", 1)[-1], module.add_parser)
