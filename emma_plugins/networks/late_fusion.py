"""``late_fusion``: one MLP head per mode; the network's logits are the heads' mean.

Its per-mode logits are its encodings (``encode``/``fuse``), so with ``attention.apply_to:
encodings`` EMMA weighs each mode's prediction by its attention: per-mode experts routed by
attention, a gated late fusion.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pydantic import Field
from torch import Tensor, nn

from emma_plugins.networks.layers import LayerParams, Widths
from emma_plugins.networks.per_mode import per_mode_stacks


class LateFusionParams(LayerParams):
    """Parameters of the ``late_fusion`` network."""

    hidden: Widths = Field(
        default_factory=lambda: [8], description="Hidden widths of each mode's head."
    )


class LateFusion(nn.Module):
    """Each mode predicts on its own; averaging the logits fuses the predictions."""

    def __init__(
        self,
        mode_shapes: Sequence[Sequence[int]],
        out_features: int,
        hidden: Sequence[int] = (8,),
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.out_features = out_features
        self.heads = per_mode_stacks(mode_shapes, hidden, out_features, activation, dropout)

    def encode(self, modes: Sequence[Tensor]) -> list[Tensor]:
        """Each mode's own logits ``[N, out_features]``."""
        return [head(x.flatten(1)) for head, x in zip(self.heads, modes, strict=True)]

    def fuse(self, encodings: Sequence[Tensor]) -> Tensor:
        """The mean of the (possibly attention-weighted) per-mode logits."""
        return torch.stack(list(encodings)).mean(dim=0)

    def forward(self, modes: Sequence[Tensor]) -> Tensor:
        return self.fuse(self.encode(modes))
