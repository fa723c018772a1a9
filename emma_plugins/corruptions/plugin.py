"""Registers the built-in corruption kinds: gaussian, ood, missing, and image and audio kinds."""

from __future__ import annotations

from ..hookspecs import Register, hookimpl
from .audio import TimeMask, TimeMaskParams, WhiteNoise, WhiteNoiseParams
from .gaussian import GaussianNoise, GaussianParams
from .image import Occlusion, OcclusionParams, PixelNoise, PixelNoiseParams
from .missing import MissingMode
from .ood import OODParams, OutOfDistribution


@hookimpl
def register_corruptions(register: Register) -> None:
    register("gaussian", GaussianNoise, GaussianParams)
    register("ood", OutOfDistribution, OODParams)
    register("missing", MissingMode)
    register("pixel_noise", PixelNoise, PixelNoiseParams)
    register("occlusion", Occlusion, OcclusionParams)
    register("white_noise", WhiteNoise, WhiteNoiseParams)
    register("time_mask", TimeMask, TimeMaskParams)
