"""Energy estimators (step 1): the contract, the built-in tied DAE, deep structured energies."""

from emma_plugins.estimators.base import EnergyEstimator, as_tensor
from emma_plugins.estimators.dae import TiedDAE, TiedDAEParams
from emma_plugins.estimators.structured import (
    StructuredEnergy,
    StructuredEnergyParams,
    StructuredTraining,
)

__all__ = [
    "EnergyEstimator",
    "StructuredEnergy",
    "StructuredEnergyParams",
    "StructuredTraining",
    "TiedDAE",
    "TiedDAEParams",
    "as_tensor",
]
