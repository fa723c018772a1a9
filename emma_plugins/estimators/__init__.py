"""Energy estimators (step 1): the contract and the built-in tied DAE."""

from .base import EnergyEstimator, as_tensor
from .dae import TiedDAE, TiedDAEParams

__all__ = ["EnergyEstimator", "TiedDAE", "TiedDAEParams", "as_tensor"]
