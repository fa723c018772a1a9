"""``tmc``: trusted multi-view classification by evidential fusion.

After TMC (Han et al., ICLR 2021): each mode's classifier emits non-negative evidence
(softplus); its Dirichlet gives an opinion (belief masses and an uncertainty); Dempster's
rule combines the opinions into one whose uncertainty says how much to trust the fused
prediction. Training sums the evidential loss (`evidential.evidential_loss`) of every
mode's opinion and of the combined one; the KL weight is annealed as
``min(1, epoch / annealing_epochs)``. The logits are the log of the combined expected
class probabilities ``alpha / S``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from emma_plugins.networks.class_logits import class_count, to_output_logits
from emma_plugins.networks.evidential import (
    dempster_combine,
    dirichlet_from_opinion,
    evidential_loss,
    opinion,
)
from emma_plugins.networks.interfaces import LastForward, LossFn
from emma_plugins.networks.layers import LayerParams, Widths
from emma_plugins.networks.per_mode import per_mode_stacks, run_per_mode


class TMCParams(LayerParams):
    """Parameters of the ``tmc`` network."""

    hidden: Widths = Field(
        default_factory=lambda: [16], description="Hidden widths of each mode's evidence head."
    )
    annealing_epochs: int = Field(
        10, ge=1, description="Epochs over which the KL weight rises linearly to 1."
    )


class TMC(nn.Module):
    """Per-mode Dirichlet evidence combined with Dempster's rule."""

    def __init__(
        self,
        mode_shapes: Sequence[Sequence[int]],
        out_features: int,
        hidden: Sequence[int] = (16,),
        annealing_epochs: int = 10,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if annealing_epochs < 1:
            raise ValueError(f"tmc: annealing_epochs must be at least 1, got {annealing_epochs}.")
        self.out_features = out_features
        self.annealing_epochs = annealing_epochs
        self.heads = per_mode_stacks(
            mode_shapes, hidden, class_count(out_features), activation, dropout
        )
        self._last = LastForward("tmc")

    def forward(self, modes: Sequence[Tensor]) -> Tensor:
        alpha = F.softplus(run_per_mode(self.heads, modes)) + 1.0  # [N, M, K]
        belief, uncertainty = opinion(alpha)
        fused_belief, fused_uncertainty = dempster_combine(belief, uncertainty)
        fused_alpha = dirichlet_from_opinion(fused_belief, fused_uncertainty)
        self._last.store(
            alpha=alpha,
            fused_alpha=fused_alpha,
            uncertainty=uncertainty,
            fused_uncertainty=fused_uncertainty,
        )
        expected = fused_alpha / fused_alpha.sum(dim=-1, keepdim=True)
        return to_output_logits(expected.log(), self.out_features)

    def kl_weight(self, epoch: int) -> float:
        """The annealing coefficient ``min(1, epoch / annealing_epochs)``."""
        return min(1.0, epoch / self.annealing_epochs)

    def training_loss(
        self, output: Tensor, y: Tensor, *, epoch: int, base_loss: LossFn, index: Tensor
    ) -> Tensor:
        """Evidential loss of each mode's opinion plus that of the combined opinion.

        ``base_loss`` (and its class weights) is not used: TMC's objective replaces it.
        """
        alphas = torch.cat([self._last.get("alpha"), self._last.get("fused_alpha")[:, None]], 1)
        y_all = y.long().unsqueeze(1).expand(-1, alphas.shape[1])
        per_opinion = evidential_loss(alphas, y_all, self.kl_weight(epoch))  # [N, M + 1]
        return per_opinion.sum(dim=1).mean()

    def opinions(self) -> dict[str, Tensor]:
        """The last forward's opinions: per-mode and combined belief masses and uncertainty."""
        belief, uncertainty = opinion(self._last.get("alpha"))
        fused_belief, fused_uncertainty = opinion(self._last.get("fused_alpha"))
        return {
            "belief": belief.detach(),
            "uncertainty": uncertainty.detach(),
            "fused_belief": fused_belief.detach(),
            "fused_uncertainty": fused_uncertainty.detach(),
        }

    def quality_scores(self) -> Tensor:
        """``[N, M]`` one minus each mode's uncertainty (its total belief)."""
        return 1.0 - self._last.get("uncertainty").detach()

    def uncertainty(self) -> Tensor:
        """``[N]`` uncertainty of the combined opinion."""
        return self._last.get("fused_uncertainty").detach()
