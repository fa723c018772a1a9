"""Sensor failures on any mode: stuck, drifting, mis-amplified, saturated, coarse or spiky.

These are the failures nobody trains for: a model sees Gaussian noise during training, but
a real sensor more often freezes, drifts, saturates or spikes. Every kind works in training
units, ``mean + k * std`` per feature (`CorruptionContext.mean` and ``std``; 0 and 1 on
standardized data), so a parameter means the same on raw and standardized features. Each
acts on the rows ``(n, *shape)`` of one mode and names its `Corruption.severity`, the
parameter a benchmark sweeps to make the failure worse.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from emma_plugins.corruptions.base import (
    Corruption,
    CorruptionContext,
    CorruptionError,
    training_stats,
)
from emma_plugins.corruptions.checks import finite, in_range, non_negative


class StuckParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: float = Field(
        default=0.0,
        allow_inf_nan=False,
        description="Frozen value, in training std units from the training mean (0: the mean).",
    )


class Stuck(Corruption):
    """Every feature frozen at ``mean + at * std``: a sensor stuck at a constant reading.

    With ``at = 0`` the reading is the training mean, a perfectly typical value that only
    its constancy gives away.
    """

    severity = "at"

    def __init__(self, at: float = 0.0) -> None:
        self.at = finite(at, "stuck at")

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        mean, std = training_stats(x, context, "stuck")
        return (mean + self.at * std).expand_as(x).clone()


class DriftParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offset: float = Field(
        default=2.0, allow_inf_nan=False, description="Shift of every feature, in training stds."
    )


class Drift(Corruption):
    """``x + offset * std``: a calibration drift shifting every reading by the same amount."""

    severity = "offset"

    def __init__(self, offset: float = 2.0) -> None:
        self.offset = finite(offset, "drift offset")

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        _, std = training_stats(x, context, "drift")
        return x + self.offset * std


class GainParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: float = Field(
        default=4.0,
        allow_inf_nan=False,
        description="Gain applied around the training mean (1: unchanged, negative: inverted).",
    )


class Gain(Corruption):
    """``mean + k * (x - mean)``: a wrong amplifier gain, deviations scaled by ``k``."""

    severity = "k"

    def __init__(self, k: float = 4.0) -> None:
        self.k = finite(k, "gain k")

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        mean, _ = training_stats(x, context, "gain")
        return mean + self.k * (x - mean)


class ClipParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percentile: float = Field(
        default=90.0,
        gt=50.0,
        lt=100.0,
        description="Training percentile where each feature saturates, on both sides "
        "(lower saturates more).",
    )


class Clip(Corruption):
    """Two-sided saturation: each feature clamped to ``mean +/- z * std``.

    ``z`` is the standard normal quantile of ``percentile / 100``, so on Gaussian features
    the reading saturates at the training ``percentile`` above and at ``100 - percentile``
    below: a sensor whose range is too narrow.
    """

    severity = "percentile"

    def __init__(self, percentile: float = 90.0) -> None:
        self.percentile = in_range(percentile, "clip percentile", 50.0, 100.0)

    @property
    def z(self) -> float:
        """Half-width of the unclipped band, in training stds."""
        return NormalDist().inv_cdf(self.percentile / 100.0)

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        mean, std = training_stats(x, context, "clip")
        z = self.z
        return torch.minimum(torch.maximum(x, mean - z * std), mean + z * std)


class QuantizeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    levels: int = Field(
        default=4,
        ge=2,
        description="Equally spaced values spanning mean +/- 3 training stds (fewer is coarser).",
    )


class Quantize(Corruption):
    """A coarse converter: each feature rounded to ``levels`` values over ``mean +/- 3 * std``.

    The levels are equally spaced and include both ends of the span; values outside it
    clamp to its ends. A feature with zero training std reads its mean.
    """

    severity = "levels"

    def __init__(self, levels: int = 4) -> None:
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
            raise CorruptionError(f"quantize levels must be an integer >= 2, got {levels!r}.")
        self.levels = levels

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        mean, std = training_stats(x, context, "quantize")
        low, high = mean - 3.0 * std, mean + 3.0 * std
        step = (high - low) / (self.levels - 1)
        clamped = torch.minimum(torch.maximum(x, low), high)
        steps = torch.round((clamped - low) / torch.where(step > 0, step, 1.0))
        return torch.where(step > 0, low + steps * step, mean.expand_as(x))


class ImpulseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fraction: float = Field(
        default=0.25,
        gt=0.0,
        le=1.0,
        description="Share of each row's features replaced by a spike (at least one).",
    )
    amplitude: float = Field(
        default=10.0,
        ge=0.0,
        allow_inf_nan=False,
        description="Spike height, in training stds from the mean.",
    )


class Impulse(Corruption):
    """Salt-and-pepper spikes: a random share of each row jumps to ``mean +/- amplitude * std``.

    Electrical interference, or bit flips in the transmission. In each row, a random
    ``round(fraction * features)`` of the flattened features (at least one) become
    ``mean + amplitude * std`` or ``mean - amplitude * std``, each sign with probability 1/2.
    """

    severity = "fraction"

    def __init__(self, fraction: float = 0.25, amplitude: float = 10.0) -> None:
        self.fraction = in_range(fraction, "impulse fraction", 0.0, 1.0, high_inclusive=True)
        self.amplitude = non_negative(finite(amplitude, "impulse amplitude"), "impulse amplitude")

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        mean, std = training_stats(x, context, "impulse")
        n, features = x.shape[0], math.prod(x.shape[1:])
        if features == 0:
            return x.clone()
        hits = min(features, max(1, math.floor(self.fraction * features + 0.5)))
        device = generator.device
        keys = torch.rand((n, features), generator=generator, device=device)
        chosen = torch.zeros((n, features), dtype=torch.bool, device=device)
        chosen.scatter_(1, keys.topk(hits, dim=1).indices, True)
        signs = torch.rand((n, features), generator=generator, device=device) < 0.5
        sign = torch.where(signs, 1.0, -1.0).to(device=x.device, dtype=x.dtype)
        spikes = mean.reshape(1, features) + sign * self.amplitude * std.reshape(1, features)
        out = torch.where(chosen.to(x.device), spikes, x.reshape(n, features))
        return out.reshape(x.shape)
