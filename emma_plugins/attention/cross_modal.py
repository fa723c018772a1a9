"""Cross-modal slot (chapter 7): attention across modes, applied after masking.

Forward signature of the slot: ``forward(modes: list[Tensor], present [N, M] bool) ->
list[Tensor]`` with each output shaped like its input. The module zeroes missing modes
afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor, nn


class MultiHeadParams(BaseModel):
    """Parameters of the ``mha`` cross-modal attention."""

    model_config = ConfigDict(extra="forbid")

    dim: int = Field(16, ge=1, description="Common embedding width of the mode tokens.")
    heads: int = Field(2, ge=1, description="Attention heads; must divide dim.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Attention dropout.")

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> MultiHeadParams:
        if self.dim % self.heads:
            raise ValueError(
                f"heads ({self.heads}) must divide dim ({self.dim}); e.g. dim={self.heads * 8}."
            )
        return self


class MultiHeadCrossModal(nn.Module):
    """Each mode becomes one token (a linear projection of the flattened mode to ``dim``);
    ``nn.MultiheadAttention`` runs over the ``M`` tokens with missing modes masked as keys;
    each token is projected back to its mode's shape and added to the mode (residual).

    The back projections start at zero, so the stage starts as the identity.
    """

    def __init__(
        self,
        n_modes: int,
        mode_shapes: Sequence[tuple[int, ...]],
        dim: int = 16,
        heads: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(mode_shapes) != n_modes:
            raise ValueError(f"mha: got {len(mode_shapes)} mode shapes for {n_modes} modes.")
        widths = [math.prod(shape) for shape in mode_shapes]
        self.embed = nn.ModuleList(nn.Linear(width, dim) for width in widths)
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        unembed = [nn.Linear(dim, width) for width in widths]
        for layer in unembed:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.unembed = nn.ModuleList(unembed)

    def forward(self, modes: Sequence[Tensor], present: Tensor) -> list[Tensor]:
        tokens = torch.stack(
            [embed(x.flatten(1)) for embed, x in zip(self.embed, modes, strict=True)], dim=1
        )
        # A sample with no present mode would mask every key (NaN); let it attend to all.
        ignore = ~(present | ~present.any(dim=1, keepdim=True))
        mixed, _ = self.attention(tokens, tokens, tokens, key_padding_mask=ignore)
        return [
            x + unembed(mixed[:, i]).reshape(x.shape)
            for i, (unembed, x) in enumerate(zip(self.unembed, modes, strict=True))
        ]

    def describe(self) -> dict[str, Any]:
        return {"n_parameters": sum(p.numel() for p in self.parameters())}
