"""QMF's per-sample loss history and its margin ranking loss."""

from __future__ import annotations

import torch
from torch import Tensor

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


def _official_on(confidence: Tensor, sums: Tensor, index: Tensor) -> Tensor:
    """QMF's rank loss for one mode, as its description states it: the cumulative loss
    min-max normalised over the whole history, pairs by ``roll(-1)``, target the ``sign``
    of the normalised gap ``m``, ``MarginRankingLoss(margin=0)`` on ``(c_i, c_j + m / t,
    -t)`` with ``t = 0`` read as 1 in the division."""
    h = (sums[index] - sums.min()) / (sums.max() - sums.min())
    h_next = h.roll(-1)
    target = torch.sign(h - h_next)
    margin = (h - h_next).abs()
    nonzero = torch.where(target == 0, torch.ones_like(target), target)
    return torch.nn.MarginRankingLoss(margin=0.0)(
        confidence, confidence.roll(-1) + margin / nonzero, -target
    )


def test_normalised_history_is_min_max_of_the_cumulative_loss_per_mode() -> None:
    history = LossHistory(n_modes=2)
    history.reset(3)
    history.record(torch.tensor([0, 1, 2]), torch.tensor([[1.0, 4.0], [3.0, 2.0], [2.0, 0.0]]))
    history.record(torch.tensor([0]), torch.tensor([[1.0, 0.0]]))  # cumulative: [2, 4]
    h = history.normalised(torch.tensor([2, 0, 1]), torch.device("cpu"))
    torch.testing.assert_close(h, torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.5]]))


def test_rolled_ranking_loss_matches_a_hand_computed_batch() -> None:
    history = LossHistory(n_modes=1)
    history.record(torch.tensor([0, 1, 2]), torch.tensor([[0.0], [1.0], [0.5]]))
    confidence = torch.tensor([[0.2], [0.9], [0.1]], requires_grad=True)
    loss = history.rolled_ranking_loss(confidence, torch.tensor([0, 1, 2]))
    # pairs (0,1): t=-1, m=1: max(0, 0.7 - 1) = 0; (1,2): t=1, m=.5: max(0, 0.8 - .5) = .3;
    # (2,0): t=1, m=.5: max(0, -0.1 - .5) = 0; mean 0.1
    torch.testing.assert_close(loss, torch.tensor(0.1))
    loss.backward()
    assert confidence.grad is not None
    torch.testing.assert_close(confidence.grad, torch.tensor([[0.0], [1 / 3], [-1 / 3]]))


def test_rolled_ranking_loss_is_the_official_margin_ranking_loss_summed_over_modes() -> None:
    g = torch.Generator().manual_seed(0)
    n, index = 12, torch.randperm(20, generator=g)[:12]
    history = LossHistory(n_modes=3)
    history.reset(20)
    for _ in range(3):
        history.record(torch.arange(20), torch.rand(20, 3, generator=g) * 2)
    history.record(index[:5], torch.rand(5, 3, generator=g))  # a part-seen epoch
    history.sums[index[0]] = history.sums[index[1]]  # a tie: a zero term in the mean
    confidence = torch.randn(n, 3, generator=g)
    got = history.rolled_ranking_loss(confidence, index)
    expected = sum(_official_on(confidence[:, m], history.sums[:, m], index) for m in range(3))
    torch.testing.assert_close(got, expected)
    assert float(got) > 0


def test_rolled_ranking_loss_is_zero_on_a_constant_history_and_stays_in_the_graph() -> None:
    history = LossHistory(n_modes=2)
    history.reset(4)
    confidence = torch.randn(3, 2, requires_grad=True)
    loss = history.rolled_ranking_loss(confidence, torch.arange(3))
    assert float(loss.detach()) == 0.0
    loss.backward()
    history.record(torch.arange(4), torch.ones(4, 2))  # every sample the same: still constant
    assert float(history.rolled_ranking_loss(confidence, torch.arange(3)).detach()) == 0.0
