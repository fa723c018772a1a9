"""``encoder_fusion``: an encoder per mode, then a fusion head over the encodings.

It exposes ``encode(modes)`` and ``fuse(encodings)`` so that EMMA's weights can act on the
encodings instead of the raw modes (``attention.apply_to: encodings``, the open question
of the thesis' section 8.1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pydantic import Field
from torch import Tensor, nn

from emma_plugins.networks.layers import LayerParams, Widths, mlp_stack
from emma_plugins.networks.per_mode import per_mode_encoders


class EncoderFusionParams(LayerParams):
    """Parameters of the ``encoder_fusion`` network."""

    encoder: Widths = Field(
        default_factory=lambda: [16],
        min_length=1,
        description="Hidden widths of each mode's encoder; the last is the encoding width.",
    )
    head: Widths = Field(
        default_factory=lambda: [16], description="Hidden widths of the fusion head."
    )


class EncoderFusion(nn.Module):
    """``fuse(encode(modes))``: per-mode encoders, concatenation, then an MLP head."""

    def __init__(
        self,
        mode_shapes: Sequence[Sequence[int]],
        out_features: int,
        encoder: Sequence[int] = (16,),
        head: Sequence[int] = (16,),
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.out_features = out_features
        self.encoders = per_mode_encoders(
            "encoder_fusion", mode_shapes, encoder, activation, dropout
        )
        self.encoding_width = encoder[-1]
        width = self.encoding_width * len(self.encoders)
        self.head = mlp_stack(width, head, out_features, activation, dropout)

    def encode(self, modes: Sequence[Tensor]) -> list[Tensor]:
        """One encoding ``[N, encoding_width]`` per mode."""
        return [enc(x.flatten(1)) for enc, x in zip(self.encoders, modes, strict=True)]

    def fuse(self, encodings: Sequence[Tensor]) -> Tensor:
        """Logits ``[N, out_features]`` from the (possibly weighted) encodings."""
        out: Tensor = self.head(torch.cat(list(encodings), dim=1))
        return out

    def forward(self, modes: Sequence[Tensor]) -> Tensor:
        return self.fuse(self.encode(modes))

    def input_layers(self, apply_to: str = "inputs") -> list[nn.Linear]:
        """The layers that read what attention weighs: each encoder's first layer, or the
        head's first layer when the weights apply to the encodings."""
        stacks = self.encoders if apply_to == "inputs" else [self.head]
        return [next(m for m in stack.modules() if isinstance(m, nn.Linear)) for stack in stacks]
