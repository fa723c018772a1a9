"""AUROC of scores that should single out corrupted modes or wrong predictions.

* ``corruption_detection_auroc``: a network's per-mode quality ``[N, M]`` (higher = more
  trustworthy, see `emma_plugins.networks.interfaces`) against the ``[N, M]`` mask of the
  modes that were corrupted; all (sample, mode) pairs are pooled, or one mode is taken;
* ``error_detection_auroc``: a per-sample uncertainty ``[N]`` (higher = less sure)
  against the method's own mistakes.

Both are NaN when one of the two groups is empty (nothing to separate).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from emma_lab.metrics._arrays import as_array
from emma_lab.metrics.calibration import top_label


def auroc(scores: Any, positives: Any) -> float:
    """Area under the ROC curve of ``scores`` for ``positives`` (ties count one half)."""
    s = as_array(scores, "scores").reshape(-1)
    labels = as_array(positives, "positives", dtype=bool).reshape(-1)
    if s.shape != labels.shape:
        raise ValueError(f"scores has {s.size} values but positives has {labels.size}.")
    if labels.all() or not labels.any():
        return float("nan")
    # Mann-Whitney: the share of (positive, negative) pairs ordered right, ties one half;
    # the same value as scikit-learn's roc_auc_score without its per-call validation cost.
    ranks = rankdata(s)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def corruption_detection_auroc(quality: Any, corrupted: Any, mode: int | None = None) -> float:
    """How well low quality marks the corrupted modes (pooled, or mode ``mode`` only)."""
    q = as_array(quality, "quality")
    mask = as_array(corrupted, "corrupted", dtype=bool)
    if q.ndim != 2 or q.shape != mask.shape:
        raise ValueError(
            f"quality and corrupted must both be [N, M], got {q.shape} and {mask.shape}."
        )
    if mode is not None:
        q, mask = q[:, mode], mask[:, mode]
    return auroc(-q, mask)


def error_detection_auroc(
    uncertainty: Any, probabilities: Any, y: Any, threshold: float = 0.5
) -> float:
    """How well a high uncertainty marks the samples the method gets wrong."""
    predicted, _ = top_label(probabilities, threshold)
    wrong = predicted != np.asarray(as_array(y, "y", dtype=int)).reshape(-1)
    return auroc(uncertainty, wrong)
