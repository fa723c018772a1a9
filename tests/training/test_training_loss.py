"""The class-imbalance weight of section 6.3.1 and the loss it weights."""

from __future__ import annotations

import torch

from emma_plugins.training.loss import ClassificationLoss, class_weights, positive_scores


def test_class_weights_are_inverse_frequency() -> None:
    y = torch.tensor([0] * 9 + [1])
    weights = class_weights(y, 2)
    torch.testing.assert_close(weights, torch.tensor([10 / 18, 10 / 2]))
    # each class contributes the same total weight
    assert torch.isclose(weights[0] * 9, weights[1] * 1)


def test_balanced_bce_equals_the_mean_of_class_means() -> None:
    y = torch.tensor([0, 0, 0, 1])
    logits = torch.tensor([[0.2], [-1.0], [0.5], [0.3]])
    loss = ClassificationLoss(y, 2, balanced=True)(logits, y)
    per = torch.nn.functional.binary_cross_entropy_with_logits(
        logits.squeeze(1), y.float(), reduction="none"
    )
    expected = (per[:3].mean() + per[3]) / 2
    torch.testing.assert_close(loss, expected)


def test_unbalanced_loss_is_the_plain_mean() -> None:
    y = torch.tensor([0, 1, 1])
    logits = torch.tensor([[0.1], [0.2], [-0.3]])
    loss = ClassificationLoss(y, 2, balanced=False)(logits, y)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits.squeeze(1), y.float())
    torch.testing.assert_close(loss, expected)


def test_multiclass_uses_weighted_cross_entropy_and_softmax_scores() -> None:
    y = torch.tensor([0, 1, 2, 2])
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    loss = ClassificationLoss(y, 3)(logits, y)
    weights = class_weights(y, 3)
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits, y, weight=weights))
    assert positive_scores(logits).shape == (4, 3)
    torch.testing.assert_close(positive_scores(logits).sum(1), torch.ones(4))
