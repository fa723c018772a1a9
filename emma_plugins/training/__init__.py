"""Two-stage training: fit and freeze the estimators, then train EMMA and the network end to end.

The top layer of the model code: it builds on assembly, attention and the networks; only
the conformance kit, the commands and the CLI sit above it.
"""

from emma_plugins.training.annealing import ColdnessAnnealing, compensate_initial_attention
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.loop import FitConfig, FitResult, evaluate_loss, fit
from emma_plugins.training.loss import ClassificationLoss, class_weights, positive_scores
from emma_plugins.training.selection import (
    THRESHOLD_RULES,
    BestState,
    ThresholdRule,
    decision_threshold,
    f1_threshold,
    roc_threshold,
)
from emma_plugins.training.stages import (
    StageResult,
    adopt_estimators,
    fit_estimators,
    train_base,
    train_with,
    train_without,
)

__all__ = [
    "THRESHOLD_RULES",
    "BestState",
    "ClassificationLoss",
    "ColdnessAnnealing",
    "FitConfig",
    "FitResult",
    "StageResult",
    "TensorSplit",
    "ThresholdRule",
    "adopt_estimators",
    "class_weights",
    "compensate_initial_attention",
    "decision_threshold",
    "evaluate_loss",
    "f1_threshold",
    "fit",
    "fit_estimators",
    "positive_scores",
    "roc_threshold",
    "train_base",
    "train_with",
    "train_without",
]
