"""Endogenous slot (chapter 7): intra-modal masks ``m_i`` shaped like each mode ``x_i``.

Forward signature of the slot: ``forward(modes: list[Tensor]) -> list[Tensor]``, one mask
per mode with the mode's shape. A missing mode arrives as zeros and its output is
multiplied by ``beta_i = 0`` afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn


class SigmoidMaskParams(BaseModel):
    """Parameters of the ``sigmoid_mask`` endogenous attention."""

    model_config = ConfigDict(extra="forbid")

    init_bias: float = Field(
        3.0, description="Initial gate bias; sigmoid(3) ~ 0.95 starts the masks nearly open."
    )


class SigmoidMask(nn.Module):
    """``m_i = sigmoid(A_i flat(x_i) + c_i)``, one linear layer per mode.

    ``A_i`` starts at zero and ``c_i`` at ``init_bias``, so the masks start uniform and
    nearly open: a pretrained network is barely disturbed when the stage is added.
    """

    def __init__(
        self, n_modes: int, mode_shapes: Sequence[tuple[int, ...]], init_bias: float = 3.0
    ) -> None:
        super().__init__()
        if len(mode_shapes) != n_modes:
            raise ValueError(
                f"sigmoid_mask: got {len(mode_shapes)} mode shapes for {n_modes} modes."
            )
        self.mode_shapes = [tuple(shape) for shape in mode_shapes]
        self.layers = nn.ModuleList()
        for shape in self.mode_shapes:
            width = math.prod(shape)
            layer = nn.Linear(width, width)
            nn.init.zeros_(layer.weight)
            nn.init.constant_(layer.bias, init_bias)
            self.layers.append(layer)

    def forward(self, modes: Sequence[Tensor]) -> list[Tensor]:
        return [
            torch.sigmoid(layer(x.flatten(1))).reshape(x.shape)
            for layer, x in zip(self.layers, modes, strict=True)
        ]

    def describe(self) -> dict[str, Any]:
        return {"n_parameters": sum(p.numel() for p in self.parameters())}
