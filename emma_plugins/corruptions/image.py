"""Image corruptions: sensor noise, an occluding patch, an out-of-focus blur, low contrast.

They act on the trailing dimensions of a sample, so an image mode must carry its shape
(``(C, H, W)`` or ``(H, W)``; see `MultiModalData.shapes`).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from emma_plugins.corruptions.base import Corruption, CorruptionContext, draw_normal
from emma_plugins.corruptions.checks import finite, non_negative, positive_int, require_dims
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
    severity = "sigma"

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
    severity = "size"

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


class BlurParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sigma: float = Field(
        default=1.0,
        ge=0.0,
        allow_inf_nan=False,
        description="Standard deviation of the Gaussian kernel, in pixels.",
    )


class Blur(Corruption):
    """Gaussian blur of each image and channel: a lens out of focus, or a moving camera.

    The separable kernel has radius ``ceil(3 * sigma)``; the border is padded by repeating
    the edge pixels, so a flat image stays flat. ``sigma = 0`` returns a copy.
    """

    #: Read by the conformance kit (`emma_plugins.testing.samples`): small images.
    conformance_shape: ClassVar[tuple[int, ...]] = (1, 6, 6)
    severity = "sigma"

    def __init__(self, sigma: float = 1.0) -> None:
        self.sigma = non_negative(finite(sigma, "blur sigma"), "blur sigma")

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        require_dims(x, 3, "blur", context, "images shaped (n, [C,] H, W)", hint="image")
        if self.sigma == 0.0:
            return x.clone()
        rows = _blur_matrix(x.shape[-2], self.sigma, x)
        cols = _blur_matrix(x.shape[-1], self.sigma, x)
        return rows @ x @ cols.T


def _blur_matrix(length: int, sigma: float, like: Tensor) -> Tensor:
    """``(length, length)``: a 1-d Gaussian blur with edge padding, as a matrix (rows sum to 1).

    Row ``i`` holds the kernel centred on ``i``; taps that fall outside the axis are folded
    onto the nearest edge pixel (replicate padding).
    """
    radius = math.ceil(3.0 * sigma)
    taps = torch.arange(-radius, radius + 1, device=like.device, dtype=like.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    positions = torch.arange(length, device=like.device)
    sources = (positions[:, None] + taps.long()[None, :]).clamp(0, length - 1)
    matrix = torch.zeros(length, length, device=like.device, dtype=like.dtype)
    return matrix.scatter_add_(1, sources, kernel.expand(length, -1).contiguous())


class ContrastParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factor: float = Field(
        default=0.3,
        ge=0.0,
        allow_inf_nan=False,
        description="Share of each pixel's deviation from the image mean that is kept "
        "(below 1 lowers contrast, 0 leaves a flat image).",
    )


class Contrast(Corruption):
    """Low contrast: ``m + factor * (x - m)``, ``m`` the mean of each image's pixels.

    A washed-out picture: glare, fog or a wrongly exposed camera. ``m`` is one value per
    image, over all its channels and pixels, so the mean brightness is kept. ``factor < 1``
    lowers the contrast, ``factor > 1`` raises it.
    """

    #: Read by the conformance kit (`emma_plugins.testing.samples`): small images.
    conformance_shape: ClassVar[tuple[int, ...]] = (1, 6, 6)
    severity = "factor"

    def __init__(self, factor: float = 0.3) -> None:
        self.factor = non_negative(finite(factor, "contrast factor"), "contrast factor")

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        require_dims(x, 2, "contrast", context, "rows of samples, (n, ...)")
        m = x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
        return m + self.factor * (x - m)
