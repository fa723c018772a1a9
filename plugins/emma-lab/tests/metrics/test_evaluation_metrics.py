"""Task metrics agree with scikit-learn's definitions, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest
from emma_lab.metrics.metrics import binary_f1, task_metric
from sklearn.metrics import accuracy_score, f1_score


@pytest.mark.parametrize("seed", range(20))
def test_binary_f1_matches_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    y = rng.integers(0, 2, n) * (rng.random() > 0.1)  # some draws have no positive at all
    scores = rng.random(n)
    threshold = float(rng.random())
    expected = f1_score(y, (scores >= threshold).astype(int), zero_division=0)
    assert task_metric(y, scores, threshold) == pytest.approx(expected, abs=1e-12)


def test_binary_f1_edge_cases() -> None:
    assert binary_f1(np.array([0, 0]), np.array([0, 0])) == 0.0
    assert binary_f1(np.array([1, 1]), np.array([1, 1])) == 1.0
    assert binary_f1(np.array([1, 0]), np.array([0, 1])) == 0.0
    assert binary_f1(np.array([1, 1, 0]), np.array([1, 0, 0])) == pytest.approx(2 / 3)


def test_multiclass_accuracy_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    probabilities = rng.random((50, 4))
    y = rng.integers(0, 4, 50)
    expected = accuracy_score(y, probabilities.argmax(axis=1))
    assert task_metric(y, probabilities) == pytest.approx(expected)
