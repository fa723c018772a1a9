"""Task metrics: F1 at a validation-chosen threshold (binary) or accuracy (multi-class)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score


def task_metric(y_true: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    """F1 of the positive class for binary scores ``(N,)``; accuracy for ``(N, K)``."""
    y_true = np.asarray(y_true)
    scores = np.asarray(scores)
    if scores.ndim == 1:
        return float(f1_score(y_true, (scores >= threshold).astype(int), zero_division=0))
    return float(accuracy_score(y_true, scores.argmax(axis=1)))


def metric_name(scores_ndim: int) -> str:
    return "f1" if scores_ndim == 1 else "accuracy"


def detection_auroc(clean: np.ndarray, corrupted: np.ndarray) -> float:
    """AUROC of a score (higher = more suspicious) for telling corrupted from clean."""
    clean, corrupted = np.asarray(clean, dtype=float), np.asarray(corrupted, dtype=float)
    if len(clean) == 0 or len(corrupted) == 0:
        return float("nan")
    labels = np.r_[np.zeros(len(clean)), np.ones(len(corrupted))]
    return float(roc_auc_score(labels, np.r_[clean, corrupted]))
