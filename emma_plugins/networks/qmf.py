"""``qmf``: quality-aware fusion of per-mode predictions by their energy.

After QMF (Zhang et al., ICML 2023, "Provable Dynamic Fusion for Low-Quality Multimodal
Data", official code QingyangZhang/QMF): every mode has its own classifier; the energy of
its logits, ``E_m = -T logsumexp(f_m / T)``, is low when the mode is typical and
confident; the fused prediction weighs each mode's logits by a weight that grows as its
energy falls.

* ``weighting="linear"`` (default, the official form): ``w_m = weight_scale * (-E_m)``,
  i.e. ``0.1 * logsumexp(f_m)`` at ``T = 1``: unnormalised, linear in the energy, and
  negative when ``logsumexp(f_m) < 0``. A mode with huge logits gets a proportionally
  larger weight, not all of it.
* ``weighting="softmax"`` (the form this package used first): ``w = softmax_m(-E_m)``,
  positive and summing to 1. It ranks the modes like the linear form, but the sizes
  differ: the softmax is exponential in the energy gap, so a mode whose logits are far
  larger (an out-of-distribution input often gives that) takes nearly all the weight.

The weights are detached in the fusion by default (``detach_weights``), as in the
official text-image code, so the fusion does not learn to game them. Training adds every
mode's own task loss and the history ranking regularizer on the confidences (the linear
weights ``weight_scale * (-E_m)`` with the linear weighting, ``-E_m`` with the softmax):
``ranking="official"`` is the official rolled-pair form
(`LossHistory.rolled_ranking_loss`), ``ranking="all_pairs"`` the earlier all-pairs form
(`LossHistory.ranking_loss`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

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
    weighting: Literal["linear", "softmax"] = Field(
        "linear",
        description="Fusion weights: 'linear' = weight_scale * (-energy), unnormalised (the "
        "official QMF form); 'softmax' = softmax of -energy over modes (sums to 1).",
    )
    weight_scale: float = Field(
        0.1, gt=0, description="Factor of the linear weights (official QMF: 0.1)."
    )
    rank_weight: float = Field(
        0.1, ge=0, description="Weight of the history ranking regularizer (0 turns it off)."
    )
    detach_weights: bool = Field(
        True, description="Stop gradients through the fusion weights (as in QMF)."
    )
    ranking: Literal["official", "all_pairs"] = Field(
        "official",
        description="History ranking: 'official' = QMF's rolled pairs on the min-max "
        "normalised cumulative loss, margin as tolerance, summed over modes; 'all_pairs' = "
        "all batch pairs on the mean past loss, margin as required gap.",
    )


class QMF(nn.Module):
    """Per-mode classifiers fused by energy-based weights."""

    def __init__(
        self,
        mode_shapes: Sequence[Sequence[int]],
        out_features: int,
        hidden: Sequence[int] = (16,),
        temperature: float = 1.0,
        weighting: Literal["linear", "softmax"] = "linear",
        weight_scale: float = 0.1,
        rank_weight: float = 0.1,
        detach_weights: bool = True,
        ranking: Literal["official", "all_pairs"] = "official",
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"qmf: temperature must be positive, got {temperature}.")
        if weighting not in ("linear", "softmax"):
            raise ValueError(f"qmf: weighting must be 'linear' or 'softmax', got {weighting!r}.")
        if ranking not in ("official", "all_pairs"):
            raise ValueError(f"qmf: ranking must be 'official' or 'all_pairs', got {ranking!r}.")
        self.out_features = out_features
        self.temperature = temperature
        self.weighting, self.weight_scale = weighting, weight_scale
        self.rank_weight = rank_weight
        self.detach_weights = detach_weights
        self.ranking = ranking
        self.heads = per_mode_stacks(
            mode_shapes, hidden, class_count(out_features), activation, dropout
        )
        self.history = LossHistory(len(mode_shapes))
        self._last = LastForward("qmf")

    def energy(self, logits: Tensor) -> Tensor:
        """``[N, M]`` energy of ``[N, M, K]`` per-mode logits (lower = more confident)."""
        return -self.temperature * torch.logsumexp(logits / self.temperature, dim=-1)

    def weights_from_energy(self, energy: Tensor) -> Tensor:
        """``[N, M]`` fusion weights of ``[N, M]`` energies.

        Linear: ``weight_scale * (-E)``, unnormalised (official QMF). Softmax:
        ``softmax_m(-E)``, positive and summing to 1 over modes.
        """
        if self.weighting == "softmax":
            return torch.softmax(-energy, dim=1)
        return self.weight_scale * -energy

    def confidence(self, energy: Tensor) -> Tensor:
        """``[N, M]`` confidences the history ranking acts on (not detached).

        The linear weights themselves with the linear weighting (as in the official code,
        which ranks its fusion weights); ``-E`` with the softmax weighting.
        """
        return self.weight_scale * -energy if self.weighting == "linear" else -energy

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
        """Fused loss + each mode's loss + ``rank_weight`` x history ranking of the confidences."""
        logits, energy = self._last.get("logits"), self._last.get("energy")
        loss = base_loss(output, y)
        for mode_logits in logits.unbind(1):
            loss = loss + base_loss(to_output_logits(mode_logits, self.out_features), y)
        if self.rank_weight:
            confidence = self.confidence(energy)
            if self.ranking == "official":
                ranking = self.history.rolled_ranking_loss(confidence, index)
            else:
                ranking = self.history.ranking_loss(confidence, index)
            loss = loss + self.rank_weight * ranking
        per_sample = F.cross_entropy(
            logits.flatten(0, 1), y.long().repeat_interleave(logits.shape[1]), reduction="none"
        )
        self.history.record(index, per_sample.view(logits.shape[:2]))
        return loss

    def fusion_weights(self) -> Tensor:
        """``[N, M]`` weights of the last forward (linear: unnormalised, may be negative)."""
        return self._last.get("weights").detach()

    def quality_scores(self) -> Tensor:
        """``[N, M]`` negative energy of each mode (higher = more trustworthy).

        The same for both weightings: the linear weight is ``-E`` times a positive factor,
        so it orders samples and modes alike, and the softmax weight is relative to the
        sample's other modes, which a per-mode quality should not be.
        """
        return -self._last.get("energy").detach()
