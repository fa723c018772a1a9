"""Image corruptions: sensor noise on every pixel, and an occluding square patch.

Both act on the trailing dimensions of a sample, so an image mode must carry its shape
(``(C, H, W)`` or ``(H, W)``; see `MultiModalData.shapes`).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from emma_plugins.corruptions.base import Corruption, CorruptionContext, draw_normal
from emma_plugins.corruptions.checks import non_negative, positive_int, require_dims
from emma_plugins.corruptions.spans import random_span_mask


class PixelNoiseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sigma: float = Field(
        default=0.5, ge=0.0, description="Noise std as a multiple of each image's pixel std."
    )


class PixelNoise(Corruption):
    """``x + sigma * s * N(0, 1)`` per pixel, ``s`` the standard deviation of the image's pixels.

    Scaling by each image's own spread makes ``sigma`` a noise-to-contrast ratio that means
    the same on raw pixels (0-16) and on standardized ones; a flat image gets no noise.
    """

    #: Read by the conformance kit (`emma_plugins.testing.samples`): small images.
    conformance_shape: ClassVar[tuple[int, ...]] = (1, 6, 6)

    def __init__(self, sigma: float = 0.5) -> None:
        self.sigma = non_negative(sigma, "pixel_noise sigma")

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        require_dims(x, 2, "pixel_noise", context, "rows of samples, (n, ...)")
        spread = x.std(dim=tuple(range(1, x.dim())), correction=0, keepdim=True)
        return x + self.sigma * spread * draw_normal(x, generator)


class OcclusionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(default=4, ge=1, description="Side of the square patch, in pixels.")
    fill: float = Field(
        default=0.0, description="Value of the patch (0 is the training mean when standardized)."
    )


class Occlusion(Corruption):
    """A ``size`` x ``size`` patch set to ``fill`` at a uniform random position per image.

    The patch covers the last two dimensions (height, width) across all channels and lies
    wholly inside the image.
    """

    #: Read by the conformance kit (`emma_plugins.testing.samples`): small images.
    conformance_shape: ClassVar[tuple[int, ...]] = (1, 6, 6)

    def __init__(self, size: int = 4, fill: float = 0.0) -> None:
        self.size = positive_int(size, "occlusion size")
        self.fill = float(fill)

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        require_dims(x, 3, "occlusion", context, "images shaped (n, [C,] H, W)", hint="image")
        n, height, width = x.shape[0], x.shape[-2], x.shape[-1]
        what = f"occlusion size on mode {context.mode!r}"
        rows = random_span_mask(n, height, self.size, generator, what=what)
        cols = random_span_mask(n, width, self.size, generator, what=what)
        patch = (rows[:, :, None] & cols[:, None, :]).to(x.device)
        patch = patch.view(n, *([1] * (x.dim() - 3)), height, width)
        return torch.where(patch, torch.full_like(x, self.fill), x)
