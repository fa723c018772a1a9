"""Classification scores of a model on a split: accuracy, and F1 (binary) or macro F1."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.loop import batches_of, chunks
from emma_plugins.training.loss import positive_scores


@torch.no_grad()
def class_scores(model: nn.Module, split: TensorSplit, batch_size: int = 4096) -> np.ndarray:
    """Positive-class probability ``(N,)`` (one logit) or class probabilities ``(N, K)``."""
    was_training = model.training
    model.eval()
    parts = []
    for _, batch in batches_of(split, chunks(split, batch_size)):
        parts.append(positive_scores(model(batch.modes, batch.missing).output))
    model.train(was_training)
    return torch.cat(parts).double().cpu().numpy()


def classification_scores(y: np.ndarray, scores: np.ndarray, prefix: str = "") -> dict[str, float]:
    """``accuracy`` and ``f1``: F1 of class 1 at 0.5 for binary scores, macro F1 otherwise."""
    from sklearn.metrics import f1_score

    predicted = (scores >= 0.5).astype(np.int64) if scores.ndim == 1 else scores.argmax(axis=1)
    average = "binary" if scores.ndim == 1 else "macro"
    return {
        f"{prefix}accuracy": float(np.mean(predicted == y)),
        f"{prefix}f1": float(f1_score(y, predicted, average=average, zero_division=0)),
    }


def split_scores(model: nn.Module, split: TensorSplit, prefix: str = "") -> dict[str, float]:
    """`classification_scores` of ``model`` on ``split``."""
    return classification_scores(split.y.cpu().numpy(), class_scores(model, split), prefix)


__all__ = ["class_scores", "classification_scores", "split_scores"]
