"""Expected calibration error of a prediction's top-label confidence (equal-width bins).

``ECE = sum_b |B_b| / N * |accuracy(B_b) - confidence(B_b)|`` over bins
``((b - 1) / n_bins, b / n_bins]`` of the confidence of the predicted class (the first
bin also holds confidence 0). Binary scores ``(N,)`` are the positive-class probability
``p``: the prediction is ``p >= threshold`` and its confidence ``max(p, 1 - p)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emma_lab.metrics._arrays import as_array


def top_label(probabilities: Any, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class and its probability, from ``(N,)`` positive-class or ``(N, K)`` scores."""
    p = as_array(probabilities, "probabilities")
    if p.ndim == 1:
        return (p >= threshold).astype(int), np.maximum(p, 1.0 - p)
    if p.ndim == 2:
        return p.argmax(axis=1), p.max(axis=1)
    raise ValueError(
        f"probabilities must be (N,) positive-class or (N, K) class probabilities, got {p.shape}."
    )


def expected_calibration_error(
    probabilities: Any, y: Any, n_bins: int = 15, threshold: float = 0.5
) -> float:
    """ECE of the top-label confidence with ``n_bins`` equal-width bins on [0, 1]."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}.")
    predicted, confidence = top_label(probabilities, threshold)
    labels = as_array(y, "y", dtype=int).reshape(-1)
    if labels.shape != predicted.shape:
        raise ValueError(f"y has {labels.size} labels for {predicted.size} predictions.")
    if np.any((confidence < 0) | (confidence > 1)):
        raise ValueError("probabilities must lie in [0, 1]; apply softmax/sigmoid to logits.")
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    correct = (predicted == labels).astype(float)
    # per bin, |sum(correct - confidence)| / N = |B| / N * |accuracy - confidence|
    gap = np.bincount(bins, weights=correct - confidence, minlength=n_bins)
    return float(np.abs(gap).sum() / len(labels))
