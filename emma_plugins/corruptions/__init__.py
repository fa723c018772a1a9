"""Corruptions that simulate failing modes, and schemes that decide which samples fail."""

from emma_plugins.corruptions.audio import (
    AudioClip,
    AudioClipParams,
    TimeMask,
    TimeMaskParams,
    WhiteNoise,
    WhiteNoiseParams,
)
from emma_plugins.corruptions.base import Corruption, CorruptionContext, CorruptionError
from emma_plugins.corruptions.catalog import make_corruption
from emma_plugins.corruptions.gaussian import GaussianNoise, GaussianParams
from emma_plugins.corruptions.image import (
    Blur,
    BlurParams,
    Contrast,
    ContrastParams,
    Occlusion,
    OcclusionParams,
    PixelNoise,
    PixelNoiseParams,
)
from emma_plugins.corruptions.missing import MissingMode
from emma_plugins.corruptions.ood import OODParams, OutOfDistribution
from emma_plugins.corruptions.scheme import (
    CorruptedBatch,
    CorruptionGroup,
    CorruptionScheme,
    corrupt_all,
)
from emma_plugins.corruptions.sensor import (
    Clip,
    ClipParams,
    Drift,
    DriftParams,
    Gain,
    GainParams,
    Impulse,
    ImpulseParams,
    Quantize,
    QuantizeParams,
    Stuck,
    StuckParams,
)

__all__ = [
    "AudioClip",
    "AudioClipParams",
    "Blur",
    "BlurParams",
    "Clip",
    "ClipParams",
    "Contrast",
    "ContrastParams",
    "CorruptedBatch",
    "Corruption",
    "CorruptionContext",
    "CorruptionError",
    "CorruptionGroup",
    "CorruptionScheme",
    "Drift",
    "DriftParams",
    "Gain",
    "GainParams",
    "GaussianNoise",
    "GaussianParams",
    "Impulse",
    "ImpulseParams",
    "MissingMode",
    "OODParams",
    "Occlusion",
    "OcclusionParams",
    "OutOfDistribution",
    "PixelNoise",
    "PixelNoiseParams",
    "Quantize",
    "QuantizeParams",
    "Stuck",
    "StuckParams",
    "TimeMask",
    "TimeMaskParams",
    "WhiteNoise",
    "WhiteNoiseParams",
    "corrupt_all",
    "make_corruption",
]
