"""Classification losses with the class-imbalance weight of section 6.3.1 (footnote 6)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def class_weights(y: Tensor, n_classes: int) -> Tensor:
    """Inverse class frequency, normalised so a balanced set gets weight 1 for every class.

    Each sample's loss is weighted by how rare its class is, which is what the thesis'
    imbalance penalty describes (the original code had no weighting at all).
    """
    counts = torch.bincount(y.long(), minlength=n_classes).to(torch.float32)
    weights = counts.sum() / (n_classes * counts.clamp_min(1.0))
    return torch.where(counts > 0, weights, torch.zeros_like(weights))


class ClassificationLoss:
    """Binary cross-entropy on one logit, or cross-entropy on ``n_classes`` logits.

    With ``balanced=True`` each sample is weighted by the inverse frequency of its class in
    the training split; ``balanced=False`` matches the original code.
    """

    def __init__(self, y_train: Tensor, n_classes: int, balanced: bool = True) -> None:
        self.n_classes = n_classes
        self.weights = class_weights(y_train, n_classes) if balanced else None

    def __call__(self, logits: Tensor, y: Tensor) -> Tensor:
        weights = self.weights.to(logits.device) if self.weights is not None else None
        if self.n_classes == 2 and logits.shape[-1] == 1:
            target = y.to(logits.dtype)
            per_sample = F.binary_cross_entropy_with_logits(
                logits.squeeze(-1), target, reduction="none"
            )
            if weights is not None:
                per_sample = per_sample * weights[y.long()]
                return per_sample.sum() / weights[y.long()].sum()
            return per_sample.mean()
        return F.cross_entropy(logits, y.long(), weight=weights)


def positive_scores(logits: Tensor) -> Tensor:
    """Probability of the positive class (binary) or of each class (multi-class)."""
    if logits.shape[-1] == 1:
        return torch.sigmoid(logits.squeeze(-1))
    return torch.softmax(logits, dim=-1)
