"""Registers the built-in estimator kinds."""

from __future__ import annotations

from ..hookspecs import Register, hookimpl
from .dae import TiedDAE, TiedDAEParams


@hookimpl
def register_estimators(register: Register) -> None:
    register("dae", TiedDAE, TiedDAEParams)
