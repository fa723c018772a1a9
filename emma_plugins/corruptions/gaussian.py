"""Additive white Gaussian noise, the failing mode of the thesis' experiment II."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from emma_plugins.corruptions.base import Corruption, CorruptionContext, draw_normal
from emma_plugins.corruptions.checks import non_negative


class GaussianParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sigma: float = Field(
        default=0.5, ge=0.0, description="Noise standard deviation in standardized units."
    )


class GaussianNoise(Corruption):
    """``x + sigma * N(0, 1)``; on standardized features ``sigma`` is a noise-to-signal ratio.

    The thesis uses ``sigma = 0.5`` (section 6.3.1).
    """

    severity = "sigma"

    def __init__(self, sigma: float = 0.5) -> None:
        self.sigma = non_negative(sigma, "gaussian sigma")

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        return x + self.sigma * draw_normal(x, generator)
