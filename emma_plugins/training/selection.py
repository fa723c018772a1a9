"""Model selection on validation data only: best-state tracking and the decision threshold."""

from __future__ import annotations

import copy
import math
from typing import Any, Literal

import numpy as np
from torch import nn


class BestState:
    """Keeps a copy of the module's state at its lowest validation loss (early stopping).

    The original code stopped on the training loss and never recorded the best epoch of
    model-with; here the state restored at the end is the one with the best validation loss.
    """

    def __init__(self, patience: int | None = None, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.best_epoch = -1
        self.epochs_since_best = 0
        self._state: dict[str, Any] | None = None

    def update(self, module: nn.Module, val_loss: float, epoch: int) -> bool:
        """Record ``val_loss``; return True when it is a new best."""
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.epochs_since_best = val_loss, epoch, 0
            self._state = copy.deepcopy(module.state_dict())
            return True
        self.epochs_since_best += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.epochs_since_best >= self.patience

    def restore(self, module: nn.Module) -> None:
        if self._state is not None:
            module.load_state_dict(self._state)

    def state_dict(self) -> dict[str, Any]:
        """The tracker's progress, for `emma_plugins.training.resume.TrainerState`."""
        return {
            "best_loss": self.best_loss,
            "best_epoch": self.best_epoch,
            "epochs_since_best": self.epochs_since_best,
            "state": self._state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_loss = float(state["best_loss"])
        self.best_epoch = int(state["best_epoch"])
        self.epochs_since_best = int(state["epochs_since_best"])
        self._state = state["state"]


#: How a binary model's decision threshold is chosen on validation data:
#: ``roc_corner``, the ROC point nearest (0, 1) (the original code's choice), or
#: ``f1_optimum``, the threshold with the highest F1 of the positive class.
ThresholdRule = Literal["roc_corner", "f1_optimum"]
THRESHOLD_RULES: tuple[ThresholdRule, ...] = ("roc_corner", "f1_optimum")


def roc_threshold(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Threshold at the ROC point nearest (0, 1), as in the thesis (validation data only)."""
    from sklearn.metrics import roc_curve

    y_true = np.asarray(y_true)
    if len(np.unique(y_true)) < 2:
        return 0.5
    fpr, tpr, thresholds = roc_curve(y_true, scores)
    best = int(np.argmin(fpr**2 + (1.0 - tpr) ** 2))
    return _probability(thresholds[best])


def f1_threshold(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Threshold with the highest F1 of the positive class (validation data only).

    Ties go to the highest threshold, the most conservative of the equally good ones.
    """
    from sklearn.metrics import precision_recall_curve

    y_true = np.asarray(y_true)
    if len(np.unique(y_true)) < 2:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    best = len(f1) - 1 - int(np.argmax(f1[::-1]))
    return _probability(thresholds[best])


def decision_threshold(
    y_true: np.ndarray, scores: np.ndarray, rule: ThresholdRule = "roc_corner"
) -> float:
    """The binary decision threshold by ``rule`` (`THRESHOLD_RULES`)."""
    if rule == "roc_corner":
        return roc_threshold(y_true, scores)
    if rule == "f1_optimum":
        return f1_threshold(y_true, scores)
    raise ValueError(f"unknown threshold rule {rule!r}; choose from {', '.join(THRESHOLD_RULES)}")


def _probability(threshold: float) -> float:
    threshold = float(threshold)
    return min(threshold, 1.0) if math.isfinite(threshold) else 1.0
