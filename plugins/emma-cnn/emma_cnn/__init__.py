"""emma-cnn: registers the ``cnn`` energy estimator (images shaped (C, H, W))."""

from __future__ import annotations

from emma_plugins import Register, hookimpl

from .estimator import ConvEnergy, ConvEnergyParams, ConvFeatures

__all__ = ["ConvEnergy", "ConvEnergyParams", "ConvFeatures", "register_estimators"]


@hookimpl
def register_estimators(register: Register) -> None:
    register("cnn", ConvEnergy, ConvEnergyParams)
