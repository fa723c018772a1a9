"""Audio corruptions on spectrogram features ``(n, T, F)``: noise, a time mask, clipping.

They act on the mode's feature tensors, not on waveforms: `WhiteNoise` sets the power of
Gaussian noise relative to each sample's feature power (``mean(x^2)``), which on
standardized log-mel features is a noise-to-signal ratio of the features, not an acoustic
SNR; `TimeMask` blanks consecutive frames, a dropout of the microphone; `AudioClip`
saturates each sample's loudest features, a clipping microphone.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from emma_plugins.corruptions.base import (
    Corruption,
    CorruptionContext,
    CorruptionError,
    draw_normal,
)
from emma_plugins.corruptions.checks import in_range, positive_int, require_dims
from emma_plugins.corruptions.spans import random_span_mask

Fill = Literal["zero", "mean"]


class WhiteNoiseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    snr_db: float = Field(
        default=10.0, allow_inf_nan=False, description="Signal-to-noise ratio in dB, per sample."
    )


class WhiteNoise(Corruption):
    """``x + sqrt(P / 10^(snr_db / 10)) * N(0, 1)``, ``P = mean(x^2)`` over each sample."""

    severity = "snr_db"

    def __init__(self, snr_db: float = 10.0) -> None:
        if not math.isfinite(snr_db):
            raise CorruptionError(f"white_noise snr_db must be a finite number, got {snr_db!r}.")
        self.snr_db = float(snr_db)

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        require_dims(x, 2, "white_noise", context, "rows of samples, (n, ...)")
        power = x.pow(2).mean(dim=tuple(range(1, x.dim())), keepdim=True)
        noise_std = (power / 10.0 ** (self.snr_db / 10.0)).sqrt()
        return x + noise_std * draw_normal(x, generator)


class TimeMaskParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(default=8, ge=1, description="Consecutive time steps masked per sample.")
    fill: Fill = Field(
        default="zero",
        description="zero: the masked steps become 0 (the training mean when standardized); "
        "mean: each feature's mean over the sample's time steps.",
    )


class TimeMask(Corruption):
    """``width`` consecutive time steps (axis 1) of each sample set to ``fill``.

    The span starts at a uniform random step and lies wholly inside the sample.
    """

    #: Read by the conformance kit (`emma_plugins.testing.samples`): (time steps, features).
    conformance_shape: ClassVar[tuple[int, ...]] = (12, 4)
    severity = "width"

    def __init__(self, width: int = 8, fill: Fill = "zero") -> None:
        self.width = positive_int(width, "time_mask width")
        if fill not in ("zero", "mean"):
            raise CorruptionError(f"time_mask fill must be 'zero' or 'mean', got {fill!r}.")
        self.fill: Fill = fill

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        require_dims(x, 3, "time_mask", context, "spectrograms shaped (n, T, F)", hint="mode")
        n, steps = x.shape[0], x.shape[1]
        what = f"time_mask width on mode {context.mode!r}"
        mask = random_span_mask(n, steps, self.width, generator, what=what).to(x.device)
        mask = mask.view(n, steps, *([1] * (x.dim() - 2)))
        if self.fill == "zero":
            replacement = torch.zeros_like(x)
        else:
            replacement = x.mean(dim=1, keepdim=True).expand_as(x)
        return torch.where(mask, replacement, x)


class AudioClipParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percentile: float = Field(
        default=80.0,
        gt=0.0,
        le=100.0,
        description="Percentile of each sample's own values where it saturates from above "
        "(lower clips more; 100 keeps the sample).",
    )


class AudioClip(Corruption):
    """A clipping microphone: each sample saturated at the ``percentile``-th of its values.

    Everything louder than the sample's own ``percentile``-th value (over all its
    features, interpolated linearly as `torch.quantile` does) reads that value. It works
    on spectrograms ``(n, T, F)`` and on any rows ``(n, ...)``.
    """

    #: Read by the conformance kit (`emma_plugins.testing.samples`): (time steps, features).
    conformance_shape: ClassVar[tuple[int, ...]] = (12, 4)
    severity = "percentile"

    def __init__(self, percentile: float = 80.0) -> None:
        self.percentile = in_range(
            percentile, "audio_clip percentile", 0.0, 100.0, high_inclusive=True
        )

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        require_dims(x, 2, "audio_clip", context, "rows of samples, (n, ...)")
        if x.shape[0] == 0 or x[0].numel() == 0:
            return x.clone()
        level = torch.quantile(x.flatten(1), self.percentile / 100.0, dim=1)
        return torch.minimum(x, level.view(-1, *([1] * (x.dim() - 1))))
