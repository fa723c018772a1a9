"""``mmdynamics``: feature gates and per-mode confidence that scale features before fusion.

After multimodal dynamics (Han et al., CVPR 2022, "Multimodal Dynamics: Dynamical Fusion
for Trustworthy Multimodal Classification"):

* feature level: a sigmoid gate per input feature, computed from the mode itself,
  ``x~_m = x_m * sigmoid(W_m x_m + b_m)``, kept sparse by an L1 penalty;
* mode level: an encoder gives ``h_m``; a per-mode classifier predicts from ``h_m``, and a
  confidence regressor ``c_m = sigmoid(g_m(h_m))`` learns the classifier's true-class
  probability (TCP) by mean squared error;
* fusion: a shared classifier on the concatenation of ``c_m h_m``.

The loss is the fused task loss plus, per mode, its own task loss and the confidence
regression, plus ``sparsity`` x the gates' L1 norm (summed over features, averaged over
samples). The TCP target is detached so the regression does not push the classifier.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from emma_plugins.networks.class_logits import class_count, to_output_logits
from emma_plugins.networks.interfaces import LastForward, LossFn
from emma_plugins.networks.layers import LayerParams, Widths, flat_sizes, mlp_stack
from emma_plugins.networks.per_mode import per_mode_encoders, run_per_mode


class MMDynamicsParams(LayerParams):
    """Parameters of the ``mmdynamics`` network."""

    encoder: Widths = Field(
        default_factory=lambda: [16],
        min_length=1,
        description="Hidden widths of each mode's encoder; the last is the feature width.",
    )
    head: Widths = Field(
        default_factory=list, description="Hidden widths of the shared fusion classifier."
    )
    sparsity: float = Field(1e-3, ge=0, description="Weight of the gates' L1 penalty.")
    confidence_weight: float = Field(
        1.0, ge=0, description="Weight of the true-class-probability regression."
    )


class MMDynamics(nn.Module):
    """Gated features, confidence-scaled mode encodings, a shared classifier."""

    def __init__(
        self,
        mode_shapes: Sequence[Sequence[int]],
        out_features: int,
        encoder: Sequence[int] = (16,),
        head: Sequence[int] = (),
        sparsity: float = 1e-3,
        confidence_weight: float = 1.0,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.out_features = out_features
        self.sparsity, self.confidence_weight = sparsity, confidence_weight
        self.gates = nn.ModuleList(nn.Linear(size, size) for size in flat_sizes(mode_shapes))
        self.encoders = per_mode_encoders("mmdynamics", mode_shapes, encoder, activation, dropout)
        width, n_modes, k = encoder[-1], len(mode_shapes), class_count(out_features)
        self.classifiers = nn.ModuleList(nn.Linear(width, k) for _ in range(n_modes))
        self.confidences = nn.ModuleList(nn.Linear(width, 1) for _ in range(n_modes))
        self.head = mlp_stack(n_modes * width, head, out_features, activation, dropout)
        self._last = LastForward("mmdynamics")

    def forward(self, modes: Sequence[Tensor]) -> Tensor:
        flat = [x.flatten(1) for x in modes]
        gates = [torch.sigmoid(gate(x)) for gate, x in zip(self.gates, flat, strict=True)]
        features = run_per_mode(self.encoders, [x * g for x, g in zip(flat, gates, strict=True)])
        by_mode = list(features.unbind(1))
        mode_logits = run_per_mode(self.classifiers, by_mode)  # [N, M, K]
        confidence = torch.sigmoid(run_per_mode(self.confidences, by_mode)).squeeze(-1)
        gate_l1 = torch.stack([g.sum(dim=1) for g in gates], dim=1).sum(dim=1).mean()
        self._last.store(mode_logits=mode_logits, confidence=confidence, gate_l1=gate_l1)
        out: Tensor = self.head((confidence.unsqueeze(-1) * features).flatten(1))
        return out

    def training_loss(
        self, output: Tensor, y: Tensor, *, epoch: int, base_loss: LossFn, index: Tensor
    ) -> Tensor:
        """Fused + per-mode task losses, TCP regression, and the gates' L1 penalty."""
        mode_logits, confidence = self._last.get("mode_logits"), self._last.get("confidence")
        loss = base_loss(output, y)
        for logits in mode_logits.unbind(1):
            loss = loss + base_loss(to_output_logits(logits, self.out_features), y)
        index_y = y.long().view(-1, 1, 1).expand(-1, mode_logits.shape[1], 1)
        tcp = torch.softmax(mode_logits, dim=-1).gather(-1, index_y).squeeze(-1)
        loss = loss + self.confidence_weight * F.mse_loss(
            confidence, tcp.detach(), reduction="sum"
        ) / len(y)
        return loss + self.sparsity * self._last.get("gate_l1")

    def quality_scores(self) -> Tensor:
        """``[N, M]`` predicted true-class probability of each mode."""
        return self._last.get("confidence").detach()
