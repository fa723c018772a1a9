"""Corruptions that simulate failing modes, and schemes that decide which samples fail."""

from emma_plugins.corruptions.audio import TimeMask, TimeMaskParams, WhiteNoise, WhiteNoiseParams
from emma_plugins.corruptions.base import Corruption, CorruptionContext, CorruptionError
from emma_plugins.corruptions.catalog import make_corruption
from emma_plugins.corruptions.gaussian import GaussianNoise, GaussianParams
from emma_plugins.corruptions.image import Occlusion, OcclusionParams, PixelNoise, PixelNoiseParams
from emma_plugins.corruptions.missing import MissingMode
from emma_plugins.corruptions.ood import OODParams, OutOfDistribution
from emma_plugins.corruptions.scheme import (
    CorruptedBatch,
    CorruptionGroup,
    CorruptionScheme,
    corrupt_all,
)

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
