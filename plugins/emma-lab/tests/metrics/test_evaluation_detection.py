"""AUROC of quality scores for corrupted modes and of uncertainty for a method's errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from emma_lab.metrics.detection import (
    auroc,
    corruption_detection_auroc,
    error_detection_auroc,
)


def test_auroc_of_a_perfect_a_reversed_and_a_random_score() -> None:
    labels = np.array([0, 0, 1, 1, 0, 1])
    assert auroc(labels * 2.0 + 0.1, labels) == 1.0
    assert auroc(-labels * 1.0, labels) == 0.0
    assert auroc(np.ones(6), labels) == 0.5  # ties count one half
    rng = np.random.default_rng(0)
    many = rng.integers(0, 2, 20_000)
    assert auroc(rng.random(20_000), many) == pytest.approx(0.5, abs=0.02)
    # hand count: positives {0.8, 0.3}, negatives {0.5, 0.1}: 3 of 4 pairs ordered
    assert auroc([0.8, 0.3, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(0.75)
    assert math.isnan(auroc([0.1, 0.2], [1, 1]))


def test_low_quality_detects_the_corrupted_modes() -> None:
    quality = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.6]])
    corrupted = torch.tensor([[False, True], [True, False], [False, False]])
    assert corruption_detection_auroc(quality, corrupted) == 1.0
    assert corruption_detection_auroc(-quality, corrupted) == 0.0
    assert corruption_detection_auroc(quality, corrupted, mode=1) == 1.0
    with pytest.raises(ValueError, match=r"\[N, M\]"):
        corruption_detection_auroc(quality[:, 0], corrupted)


def test_uncertainty_detects_the_methods_errors() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    y = np.array([0, 1, 1, 0])  # the last two are wrong
    assert error_detection_auroc(np.array([0.1, 0.2, 0.7, 0.9]), probs, y) == 1.0
    assert error_detection_auroc(np.array([0.9, 0.7, 0.2, 0.1]), probs, y) == 0.0
    assert math.isnan(error_detection_auroc(np.ones(2), probs[:2], y[:2]))  # no errors
    binary = np.array([0.9, 0.2, 0.4])  # positive-class probabilities; the last is wrong
    assert error_detection_auroc([0.0, 0.1, 0.5], binary, [1, 0, 1]) == 1.0
