"""Task metrics: F1 at a validation-chosen threshold (binary) or accuracy (multi-class)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def binary_f1(y_true: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of class 1 from 0/1 labels and predictions; 0 when there is no positive at all.

    Counted with numpy: scikit-learn's ``f1_score`` validates its input on every call,
    which cost more than a forward pass when experiments score many small test parts.
    """
    truth, pred = np.asarray(y_true) == 1, np.asarray(predicted).astype(bool)
    tp = np.count_nonzero(truth & pred)
    wrong = np.count_nonzero(truth ^ pred)
    return 2.0 * tp / (2 * tp + wrong) if tp else 0.0


def task_metric(y_true: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    """F1 of the positive class for binary scores ``(N,)``; accuracy for ``(N, K)``."""
    y_true = np.asarray(y_true)
    scores = np.asarray(scores)
    if scores.ndim == 1:
        return binary_f1(y_true, scores >= threshold)
    return float(np.mean(scores.argmax(axis=1) == y_true))


def metric_name(scores_ndim: int) -> str:
    return "f1" if scores_ndim == 1 else "accuracy"


def detection_auroc(clean: np.ndarray, corrupted: np.ndarray) -> float:
    """AUROC of a score (higher = more suspicious) for telling corrupted from clean."""
    clean, corrupted = np.asarray(clean, dtype=float), np.asarray(corrupted, dtype=float)
    if len(clean) == 0 or len(corrupted) == 0:
        return float("nan")
    labels = np.r_[np.zeros(len(clean)), np.ones(len(corrupted))]
    return float(roc_auc_score(labels, np.r_[clean, corrupted]))
