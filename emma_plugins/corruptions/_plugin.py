"""Registers the built-in corruption kinds: gaussian, ood, missing, sensor, image, audio."""

from __future__ import annotations

from emma_plugins.core.hookspecs import Register, hookimpl
from emma_plugins.corruptions.audio import (
    AudioClip,
    AudioClipParams,
    TimeMask,
    TimeMaskParams,
    WhiteNoise,
    WhiteNoiseParams,
)
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


@hookimpl
def register_corruptions(register: Register) -> None:
    register("gaussian", GaussianNoise, GaussianParams)
    register("ood", OutOfDistribution, OODParams)
    register("missing", MissingMode)
    register("stuck", Stuck, StuckParams)
    register("drift", Drift, DriftParams)
    register("gain", Gain, GainParams)
    register("clip", Clip, ClipParams)
    register("quantize", Quantize, QuantizeParams)
    register("impulse", Impulse, ImpulseParams)
    register("pixel_noise", PixelNoise, PixelNoiseParams)
    register("occlusion", Occlusion, OcclusionParams)
    register("blur", Blur, BlurParams)
    register("contrast", Contrast, ContrastParams)
    register("white_noise", WhiteNoise, WhiteNoiseParams)
    register("time_mask", TimeMask, TimeMaskParams)
    register("audio_clip", AudioClip, AudioClipParams)
