"""Expected calibration error on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from emma_lab.metrics.calibration import expected_calibration_error, top_label


def test_ece_of_a_known_calibration() -> None:
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    y = np.array([0, 1, 1, 1])
    # bin (0.8, 0.9]: confidence 0.9, accuracy 0.5 -> 2/4 * 0.4
    # bin (0.5, 0.6]: confidence 0.6, accuracy 1.0 -> 2/4 * 0.4
    assert expected_calibration_error(probs, y, n_bins=10) == pytest.approx(0.4)


def test_perfect_calibration_has_zero_ece_and_one_bin_is_the_mean_gap() -> None:
    # confidence 0.75 on 4 samples, 3 of them right: calibrated
    probs = torch.tensor([[0.75, 0.25]] * 4)
    assert expected_calibration_error(probs, torch.tensor([0, 0, 0, 1])) == pytest.approx(0.0)
    # a single bin: |mean accuracy - mean confidence|
    probs = np.array([[0.7, 0.3], [0.2, 0.8], [0.9, 0.1]])
    y = np.array([0, 0, 0])
    assert expected_calibration_error(probs, y, n_bins=1) == pytest.approx(abs(2 / 3 - 0.8))


def test_binary_scores_use_the_top_label() -> None:
    predicted, confidence = top_label(np.array([0.8, 0.3, 0.5]))
    assert predicted.tolist() == [1, 0, 1]
    np.testing.assert_allclose(confidence, [0.8, 0.7, 0.5])
    # 0.8 on a positive and 0.3 on a negative: confidences 0.8 and 0.7, both right
    value = expected_calibration_error(np.array([0.8, 0.3]), np.array([1, 0]), n_bins=10)
    assert value == pytest.approx((0.2 + 0.3) / 2)


def test_bad_inputs_are_explained() -> None:
    with pytest.raises(ValueError, match="softmax"):
        expected_calibration_error(np.array([1.5, 0.2]), np.array([1, 0]))
    with pytest.raises(ValueError, match="2 labels for 3"):
        expected_calibration_error(np.array([0.5, 0.2, 0.1]), np.array([1, 0]))
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(np.array([0.5]), np.array([1]), n_bins=0)
