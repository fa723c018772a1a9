"""``cnn``: a deep structured energy whose features come from a small, smooth CNN."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field
from torch import Tensor, nn

from emma_plugins.estimators import StructuredEnergy, StructuredEnergyParams

if TYPE_CHECKING:
    from typing import Unpack

    from emma_plugins.estimators import StructuredTraining


def _image_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ValueError(
            f"the cnn estimator needs image samples shaped (C, H, W), got shape {list(shape)}; "
            "give the mode a shape such as [1, 8, 8]"
        )
    channels, height, width = (int(size) for size in shape)
    return channels, height, width


class ConvEnergyParams(StructuredEnergyParams):
    """Parameters of the ``cnn`` estimator."""

    channels: list[int] = Field(
        default_factory=lambda: [16, 32],
        min_length=1,
        description="Output channels of each 3x3 convolution block, in order; each block "
        "halves the height and width by 2x2 average pooling (where they are at least 2).",
    )
    features: int = Field(64, ge=1, description="Width of the dense feature layer phi(x).")
    experts: int = Field(64, ge=1, description="Number of softplus terms on the features.")

    def check_context(self, shape: Sequence[int], **_: object) -> None:
        _image_shape(shape)
        if any(c < 1 for c in self.channels):
            raise ValueError(f"channels must all be >= 1, got {self.channels}")


class ConvFeatures(nn.Module):
    """``phi``: [3x3 conv, softplus, 2x2 average pool] per block, then a dense softplus layer.

    Softplus and average pooling keep ``phi`` smooth: with ReLU or max pooling the gradient
    of the energy would be piecewise constant in the input, and score matching (which fits
    that gradient) could not shape it.
    """

    def __init__(self, shape: Sequence[int], channels: Sequence[int], features: int) -> None:
        super().__init__()
        in_channels, height, width = _image_shape(shape)
        layers: list[nn.Module] = []
        for out_channels in channels:
            layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.Softplus()]
            pool = (min(2, height), min(2, width))
            if pool != (1, 1):
                layers.append(nn.AvgPool2d(pool))
                height, width = height // pool[0], width // pool[1]
            in_channels = out_channels
        layers += [nn.Flatten(), nn.Linear(in_channels * height * width, features), nn.Softplus()]
        self.layers = nn.Sequential(*layers)
        self.out_features = features

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.layers(x)
        return out


class ConvEnergy(StructuredEnergy):
    """``Psi(x) = 1/2 ||x - b||^2 / s^2 - sum_k softplus(v_k . phi(x) + c_k)`` for images,
    with ``phi`` a `ConvFeatures` network, trained by denoising score matching."""

    #: Read by the conformance kit (emma_plugins.testing.samples): small one-channel
    #: images and parameters that train in a blink.
    conformance_shape: ClassVar[tuple[int, ...]] = (1, 4, 4)
    conformance_params: ClassVar[dict[str, object]] = {
        "epochs": 1,
        "channels": [4],
        "features": 8,
        "experts": 8,
    }

    def __init__(
        self,
        shape: Sequence[int],
        channels: Sequence[int] = (16, 32),
        features: int = 64,
        experts: int = 64,
        **training: Unpack[StructuredTraining],
    ) -> None:
        image = _image_shape(shape)
        super().__init__(
            image,
            lambda: ConvFeatures(image, channels, features),
            features=features,
            experts=experts,
            **training,
        )
        self.channels = tuple(channels)
