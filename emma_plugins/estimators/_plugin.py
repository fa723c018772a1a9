"""Registers the built-in estimator kinds."""

from __future__ import annotations

from emma_plugins.core.hookspecs import Register, hookimpl
from emma_plugins.estimators.dae import TiedDAE, TiedDAEParams


@hookimpl
def register_estimators(register: Register) -> None:
    register("dae", TiedDAE, TiedDAEParams)
