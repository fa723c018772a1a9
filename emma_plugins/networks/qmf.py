"""``qmf``: quality-aware fusion of per-mode predictions by their energy.

After QMF (Zhang et al., ICML 2023, "Provable Dynamic Fusion for Low-Quality Multimodal
Data"): every mode has its own classifier; the energy of its logits,
``E_m = -T logsumexp(f_m / T)``, is low when the mode is typical and confident; the fused
prediction weighs each mode's logits by a weight that grows as its energy falls. We use
``w = softmax_m(-E_m)`` (positive, summing to 1 over modes) instead of the paper's
unnormalised weights proportional to ``-E_m``, which can be negative; both rank the modes
alike. The weights are detached by default, as in QMF, so the fusion does not learn to
game them. Training adds every mode's own task loss and the history ranking regularizer
(`LossHistory.ranking_loss` on the confidences ``-E_m``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from emma_plugins.networks.class_logits import class_count, to_output_logits
from emma_plugins.networks.interfaces import LastForward, LossFn
from emma_plugins.networks.layers import LayerParams, Widths
from emma_plugins.networks.loss_history import LossHistory
from emma_plugins.networks.per_mode import per_mode_stacks, run_per_mode


class QMFParams(LayerParams):
    """Parameters of the ``qmf`` network."""

    hidden: Widths = Field(
        default_factory=lambda: [16], description="Hidden widths of each mode's classifier."
    )
    temperature: float = Field(1.0, gt=0, description="Temperature T of the energy.")
    rank_weight: float = Field(
        0.1, ge=0, description="Weight of the history ranking regularizer (0 turns it off)."
    )
    detach_weights: bool = Field(
        True, description="Stop gradients through the fusion weights (as in QMF)."
    )


class QMF(nn.Module):
    """Per-mode classifiers fused by energy-based weights."""

    def __init__(
        self,
        mode_shapes: Sequence[Sequence[int]],
        out_features: int,
        hidden: Sequence[int] = (16,),
        temperature: float = 1.0,
        rank_weight: float = 0.1,
        detach_weights: bool = True,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"qmf: temperature must be positive, got {temperature}.")
        self.out_features = out_features
        self.temperature = temperature
        self.rank_weight = rank_weight
        self.detach_weights = detach_weights
        self.heads = per_mode_stacks(
            mode_shapes, hidden, class_count(out_features), activation, dropout
        )
        self.history = LossHistory(len(mode_shapes))
        self._last = LastForward("qmf")

    def energy(self, logits: Tensor) -> Tensor:
        """``[N, M]`` energy of ``[N, M, K]`` per-mode logits (lower = more confident)."""
        return -self.temperature * torch.logsumexp(logits / self.temperature, dim=-1)

    def weights_from_energy(self, energy: Tensor) -> Tensor:
        """``[N, M]`` fusion weights, positive and summing to 1 over modes."""
        return torch.softmax(-energy, dim=1)

    def forward(self, modes: Sequence[Tensor]) -> Tensor:
        logits = run_per_mode(self.heads, modes)
        energy = self.energy(logits)
        weights = self.weights_from_energy(energy)
        used = weights.detach() if self.detach_weights else weights
        fused = (used.unsqueeze(-1) * logits).sum(dim=1)
        self._last.store(logits=logits, energy=energy, weights=weights)
        return to_output_logits(fused, self.out_features)

    def begin_fit(self, n_samples: int) -> None:
        self.history.reset(n_samples)

    def training_loss(
        self, output: Tensor, y: Tensor, *, epoch: int, base_loss: LossFn, index: Tensor
    ) -> Tensor:
        """Fused loss + each mode's loss + ``rank_weight`` x history ranking of ``-E``."""
        logits, energy = self._last.get("logits"), self._last.get("energy")
        loss = base_loss(output, y)
        for mode_logits in logits.unbind(1):
            loss = loss + base_loss(to_output_logits(mode_logits, self.out_features), y)
        if self.rank_weight:
            loss = loss + self.rank_weight * self.history.ranking_loss(-energy, index)
        per_sample = F.cross_entropy(
            logits.flatten(0, 1), y.long().repeat_interleave(logits.shape[1]), reduction="none"
        )
        self.history.record(index, per_sample.view(logits.shape[:2]))
        return loss

    def fusion_weights(self) -> Tensor:
        """``[N, M]`` weights of the last forward."""
        return self._last.get("weights").detach()

    def quality_scores(self) -> Tensor:
        """``[N, M]`` negative energy of each mode (higher = more trustworthy)."""
        return -self._last.get("energy").detach()
