"""Corruptions that simulate failing modes, and schemes that decide which samples fail."""

from .audio import TimeMask, TimeMaskParams, WhiteNoise, WhiteNoiseParams
from .base import Corruption, CorruptionContext, CorruptionError
from .catalog import make_corruption
from .gaussian import GaussianNoise, GaussianParams
from .image import Occlusion, OcclusionParams, PixelNoise, PixelNoiseParams
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
    "Occlusion",
    "OcclusionParams",
    "OutOfDistribution",
    "PixelNoise",
    "PixelNoiseParams",
    "TimeMask",
    "TimeMaskParams",
    "WhiteNoise",
    "WhiteNoiseParams",
    "corrupt_all",
    "make_corruption",
]
