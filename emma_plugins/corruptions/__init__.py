"""Corruptions that simulate failing modes, and schemes that decide which samples fail."""

from .base import Corruption, CorruptionContext, CorruptionError
from .catalog import make_corruption
from .gaussian import GaussianNoise, GaussianParams
from .missing import MissingMode
from .ood import OODParams, OutOfDistribution
from .scheme import CorruptedBatch, CorruptionGroup, CorruptionScheme, corrupt_all

__all__ = [
    "CorruptedBatch",
    "Corruption",
    "CorruptionContext",
    "CorruptionError",
    "CorruptionGroup",
    "CorruptionScheme",
    "GaussianNoise",
    "GaussianParams",
    "MissingMode",
    "OODParams",
    "OutOfDistribution",
    "corrupt_all",
    "make_corruption",
]
