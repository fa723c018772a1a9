"""Early stopping keeps the best validation state; the ROC threshold comes from its inputs only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from emma_plugins.training.selection import BestState, roc_threshold


def test_best_state_restores_the_lowest_validation_loss_state() -> None:
    module = nn.Linear(2, 1)
    best = BestState()
    states = {}
    for epoch, loss in enumerate([0.9, 0.4, 0.7, 0.8], start=1):
        with torch.no_grad():
            module.weight.fill_(float(epoch))
        states[epoch] = module.weight.clone()
        best.update(module, loss, epoch)
    best.restore(module)
    assert best.best_epoch == 2
    torch.testing.assert_close(module.weight, states[2])


def test_patience_stops_after_epochs_without_improvement() -> None:
    module = nn.Linear(1, 1)
    best = BestState(patience=2)
    for epoch, loss in enumerate([1.0, 0.5, 0.6, 0.7], start=1):
        best.update(module, loss, epoch)
    assert best.should_stop
    assert best.best_epoch == 2


def test_roc_threshold_is_the_point_nearest_the_corner() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    threshold = roc_threshold(y, scores)
    assert 0.3 < threshold <= 0.6
    assert ((scores >= threshold) == y.astype(bool)).all()


def test_roc_threshold_of_one_class_falls_back_to_half() -> None:
    assert roc_threshold(np.zeros(5), np.linspace(0, 1, 5)) == 0.5


def test_f1_threshold_is_the_best_f1_on_the_validation_scores() -> None:
    from sklearn.metrics import f1_score

    from emma_plugins.training.selection import decision_threshold, f1_threshold

    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.2).astype(int)  # imbalanced, like HTRU2
    scores = np.clip(0.35 * y + rng.random(400) * 0.7, 0, 1)
    threshold = f1_threshold(y, scores)
    best = max(f1_score(y, scores >= t) for t in np.unique(scores))
    assert f1_score(y, scores >= threshold) == pytest.approx(best)
    assert decision_threshold(y, scores, "f1_optimum") == threshold
    assert decision_threshold(y, scores, "roc_corner") == roc_threshold(y, scores)
    assert f1_threshold(np.zeros(5), np.linspace(0, 1, 5)) == 0.5  # one class: no choice
    with pytest.raises(ValueError, match="unknown threshold rule 'median'"):
        decision_threshold(y, scores, "median")  # type: ignore[arg-type]
