"""QMF's per-sample loss history and its margin ranking loss."""

from __future__ import annotations

import torch

from emma_plugins.networks.loss_history import LossHistory


def test_history_is_the_mean_of_recorded_losses_per_sample() -> None:
    history = LossHistory(n_modes=2)
    history.reset(4)
    history.record(torch.tensor([0, 2]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    history.record(torch.tensor([2, 0]), torch.tensor([[5.0, 6.0], [3.0, 0.0]]))
    mean, known = history.mean(torch.tensor([0, 1, 2]), torch.device("cpu"))
    torch.testing.assert_close(mean, torch.tensor([[2.0, 1.0], [0.0, 0.0], [4.0, 5.0]]))
    assert known.tolist() == [True, False, True]


def test_history_grows_without_reset_and_reset_forgets() -> None:
    history = LossHistory(n_modes=1)
    history.record(torch.tensor([7]), torch.tensor([[1.0]]))
    assert len(history.counts) == 8
    history.reset(3)
    assert history.counts.tolist() == [0.0, 0.0, 0.0]


def test_ranking_loss_matches_a_hand_computed_pair() -> None:
    history = LossHistory(n_modes=1)
    history.record(torch.tensor([0, 1]), torch.tensor([[0.2], [1.0]]))
    # sample 0 has the lower past loss, so it should be more confident by at least 0.8
    confidence = torch.tensor([[0.5], [0.4]], requires_grad=True)
    loss = history.ranking_loss(confidence, torch.tensor([0, 1]))
    # both ordered pairs give max(0, -(0.5 - 0.4) + 0.8) = 0.7
    torch.testing.assert_close(loss, torch.tensor(0.7))
    loss.backward()
    assert confidence.grad is not None and float(confidence.grad[0, 0]) < 0
    satisfied = history.ranking_loss(torch.tensor([[2.0], [0.0]]), torch.tensor([0, 1]))
    assert float(satisfied) == 0.0


def test_ranking_loss_is_zero_without_history() -> None:
    history = LossHistory(n_modes=2)
    confidence = torch.randn(3, 2, requires_grad=True)
    loss = history.ranking_loss(confidence, torch.arange(3))
    assert float(loss.detach()) == 0.0
    loss.backward()  # still part of the graph
