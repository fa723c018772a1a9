"""``linear_attention``: attention weights from a linear map of the mode embeddings.

After the attentive context of Shon, Oh and Glass (2018), the fusion the thesis compares
EMMA with (chapter 3): each mode is encoded to an embedding of a common width ``E``; a
linear function of the concatenated embeddings, ``W^T [e_1, ..., e_M] + b``, gives one
score per mode; their softmax ``alpha`` weighs the embeddings, ``sum_m alpha_m e_m``; a
head classifies the fused embedding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pydantic import Field
from torch import Tensor, nn

from emma_plugins.networks.interfaces import LastForward
from emma_plugins.networks.layers import LayerParams, Widths, mlp_stack
from emma_plugins.networks.per_mode import per_mode_encoders, run_per_mode


class LinearAttentionParams(LayerParams):
    """Parameters of the ``linear_attention`` network."""

    encoder: Widths = Field(
        default_factory=lambda: [16],
        min_length=1,
        description="Hidden widths of each mode's encoder; the last is the embedding width, "
        "shared by all modes.",
    )
    head: Widths = Field(
        default_factory=list, description="Hidden widths of the classifier on the fused embedding."
    )


class LinearAttention(nn.Module):
    """Per-mode encoders, softmax attention from one linear layer, weighted sum, head."""

    def __init__(
        self,
        mode_shapes: Sequence[Sequence[int]],
        out_features: int,
        encoder: Sequence[int] = (16,),
        head: Sequence[int] = (),
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.out_features = out_features
        self.encoders = per_mode_encoders(
            "linear_attention", mode_shapes, encoder, activation, dropout
        )
        n_modes, width = len(mode_shapes), encoder[-1]
        self.attend = nn.Linear(n_modes * width, n_modes)
        self.head = mlp_stack(width, head, out_features, activation, dropout)
        self._last = LastForward("linear_attention")

    def attention(self, embeddings: Tensor) -> Tensor:
        """``[N, M]`` softmax weights from the ``[N, M, E]`` embeddings."""
        return torch.softmax(self.attend(embeddings.flatten(1)), dim=1)

    def forward(self, modes: Sequence[Tensor]) -> Tensor:
        embeddings = run_per_mode(self.encoders, modes)
        alpha = self.attention(embeddings)
        fused = (alpha.unsqueeze(-1) * embeddings).sum(dim=1)
        self._last.store(alpha=alpha.detach())
        out: Tensor = self.head(fused)
        return out

    def quality_scores(self) -> Tensor:
        """The attention weight of each mode, ``[N, M]`` (rows sum to 1)."""
        return self._last.get("alpha")
