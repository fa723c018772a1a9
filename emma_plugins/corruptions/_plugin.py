"""Registers the built-in corruption kinds: gaussian, ood, missing, and image and audio kinds."""

from __future__ import annotations

from emma_plugins.core.hookspecs import Register, hookimpl
from emma_plugins.corruptions.audio import TimeMask, TimeMaskParams, WhiteNoise, WhiteNoiseParams
from emma_plugins.corruptions.gaussian import GaussianNoise, GaussianParams
from emma_plugins.corruptions.image import Occlusion, OcclusionParams, PixelNoise, PixelNoiseParams
from emma_plugins.corruptions.missing import MissingMode
from emma_plugins.corruptions.ood import OODParams, OutOfDistribution


@hookimpl
def register_corruptions(register: Register) -> None:
    register("gaussian", GaussianNoise, GaussianParams)
    register("ood", OutOfDistribution, OODParams)
    register("missing", MissingMode)
    register("pixel_noise", PixelNoise, PixelNoiseParams)
    register("occlusion", Occlusion, OcclusionParams)
    register("white_noise", WhiteNoise, WhiteNoiseParams)
    register("time_mask", TimeMask, TimeMaskParams)
