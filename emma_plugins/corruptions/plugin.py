"""Registers the built-in corruption kinds: gaussian, ood and missing."""

from __future__ import annotations

from ..hookspecs import Register, hookimpl
from .gaussian import GaussianNoise, GaussianParams
from .missing import MissingMode
from .ood import OODParams, OutOfDistribution


@hookimpl
def register_corruptions(register: Register) -> None:
    register("gaussian", GaussianNoise, GaussianParams)
    register("ood", OutOfDistribution, OODParams)
    register("missing", MissingMode)
