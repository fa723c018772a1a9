"""Per-sample, per-mode loss history across epochs, and the ranking losses QMF builds on it.

QMF (Zhang et al., 2023) regularises each mode's confidence with the training history of
its samples: a sample whose mode has kept a low loss over past epochs should not be less
confident in that mode than a sample whose mode kept a high loss. The history stores, per
training sample and mode, the sum and the count of the recorded per-epoch losses (each
training sample is seen once per epoch). Two ranking losses read it:

* `LossHistory.rolled_ranking_loss`, the form of the official QMF code: the cumulative
  (summed) loss, min-max normalised over the whole training set, each sample paired with
  the next one of the batch (``roll(-1)``), a hinge whose margin is a *tolerance*;
* `LossHistory.ranking_loss`, the form this package used first: the mean past loss, all
  pairs of the batch, a hinge whose margin is a *required gap* in raw loss units.
"""

from __future__ import annotations

import torch
from torch import Tensor


class LossHistory:
    """Running mean, per training sample and mode, of the losses recorded so far."""

    def __init__(self, n_modes: int) -> None:
        self.n_modes = n_modes
        self.sums = torch.zeros(0, n_modes)
        self.counts = torch.zeros(0)

    def reset(self, n_samples: int = 0) -> None:
        """Forget everything; size the history for ``n_samples`` training samples."""
        self.sums = torch.zeros(n_samples, self.n_modes, device=self.sums.device)
        self.counts = torch.zeros(n_samples, device=self.counts.device)

    def _reach(self, index: Tensor, device: torch.device) -> None:
        need = int(index.max()) + 1 if index.numel() else 0
        if need > len(self.counts):
            grow = need - len(self.counts)
            self.sums = torch.cat([self.sums, self.sums.new_zeros(grow, self.n_modes)])
            self.counts = torch.cat([self.counts, self.counts.new_zeros(grow)])
        self.sums, self.counts = self.sums.to(device), self.counts.to(device)

    def record(self, index: Tensor, losses: Tensor) -> None:
        """Add one epoch's ``[B, M]`` losses of the samples at ``index`` (detached)."""
        self._reach(index, losses.device)
        index = index.to(losses.device)
        self.sums.index_add_(0, index, losses.detach().to(self.sums.dtype))
        self.counts.index_add_(0, index, torch.ones(len(index), device=losses.device))

    def mean(self, index: Tensor, device: torch.device) -> tuple[Tensor, Tensor]:
        """``([B, M]`` mean past loss, ``[B]`` whether the sample has any history)."""
        self._reach(index, device)
        index = index.to(device)
        counts = self.counts[index]
        return self.sums[index] / counts.clamp_min(1.0).unsqueeze(1), counts > 0

    def normalised(self, index: Tensor, device: torch.device) -> Tensor:
        """``[B, M]`` cumulative loss of the samples at ``index``, min-max normalised per mode
        over every sample of the history (the official QMF normalisation). A mode whose
        history is constant (e.g. before any record) gives zeros."""
        self._reach(index, device)
        sums = self.sums
        low, high = sums.min(dim=0).values, sums.max(dim=0).values
        span = high - low
        span = torch.where(span > 0, span, torch.ones_like(span))
        return (sums[index.to(device)] - low) / span

    def rolled_ranking_loss(self, confidence: Tensor, index: Tensor) -> Tensor:
        """QMF's official history ranking of ``[B, M]`` confidences: rolled pairs, summed modes.

        ``h`` is `normalised` (cumulative loss, min-max over the training set), ``j`` is the
        next sample of the batch (``roll(-1)``, the last pairs with the first), ``t`` =
        ``sign(h_i - h_j)``, ``m = |h_i - h_j|``. Per mode the loss is
        ``mean_i max(0, t (c_i - c_j) - m)``: the sample with the larger cumulative loss
        may be more confident than the other by at most ``m``. This is the official
        ``MarginRankingLoss(margin=0)(c_i, c_j + m / t, -t)`` (``t = 0`` counting as a zero
        term in the mean). The modes' losses are summed, as QMF adds one per modality.
        """
        if not len(confidence):
            return confidence.sum() * 0.0
        history = self.normalised(index, confidence.device).to(confidence.dtype)
        gap = history - history.roll(-1, dims=0)  # h_i - h_j, [B, M]
        lead = confidence - confidence.roll(-1, dims=0)  # c_i - c_j
        penalty = torch.relu(torch.sign(gap) * lead - gap.abs())
        return penalty.mean(dim=0).sum()

    def ranking_loss(self, confidence: Tensor, index: Tensor) -> Tensor:
        """Margin ranking of ``[B, M]`` confidences against the history, over all batch pairs.

        Not the official QMF form (see `rolled_ranking_loss`): the history is the mean past
        loss, unnormalised; every pair of the batch counts; the margin is a required gap.

        For samples ``i, j`` with past losses ``h_i < h_j`` (in one mode), confidence must
        satisfy ``c_i - c_j >= |h_i - h_j|``; the penalty is
        ``max(0, -sign(h_j - h_i) (c_i - c_j) + |h_i - h_j|)``, averaged over the pairs
        whose samples both have a history and differ in it. Zero before any history.
        """
        history, known = self.mean(index, confidence.device)
        gap = history.unsqueeze(1) - history.unsqueeze(0)  # h_i - h_j, [B, B, M]
        lead = confidence.unsqueeze(1) - confidence.unsqueeze(0)  # c_i - c_j
        order = -torch.sign(gap)
        penalty = torch.relu(-order * lead + gap.abs())
        pairs = (known.unsqueeze(1) & known.unsqueeze(0)).unsqueeze(-1) & (order != 0)
        if not bool(pairs.any()):
            return confidence.sum() * 0.0
        return penalty[pairs].mean()
