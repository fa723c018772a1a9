"""Energy estimators (step 1): the contract, the built-in tied DAE, deep structured energies."""

from .base import EnergyEstimator, as_tensor
from .dae import TiedDAE, TiedDAEParams
from .structured import StructuredEnergy, StructuredEnergyParams, StructuredTraining

__all__ = [
    "EnergyEstimator",
    "StructuredEnergy",
    "StructuredEnergyParams",
    "StructuredTraining",
    "TiedDAE",
    "TiedDAEParams",
    "as_tensor",
]
