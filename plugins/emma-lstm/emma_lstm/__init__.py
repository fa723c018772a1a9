"""emma-lstm: registers the ``lstm`` energy estimator (sequences shaped (T, F))."""

from __future__ import annotations

from emma_plugins import Register, hookimpl

from .estimator import LSTMEnergy, LSTMEnergyParams, RecurrentFeatures

__all__ = ["LSTMEnergy", "LSTMEnergyParams", "RecurrentFeatures", "register_estimators"]


@hookimpl
def register_estimators(register: Register) -> None:
    register("lstm", LSTMEnergy, LSTMEnergyParams)
