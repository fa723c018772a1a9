"""``linear_attention``: softmax weights from a linear map, weighted embeddings, from a spec."""

from __future__ import annotations

import pytest
import torch
from _baseline_samples import SHAPES, baseline_spec, modes, train

from emma_plugins.assembly.builder import build
from emma_plugins.core.errors import SpecError
from emma_plugins.networks import LinearAttention
from emma_plugins.networks.interfaces import HasQualityScores, HasTrainingLoss


def test_forward_is_the_head_on_the_attention_weighted_embeddings() -> None:
    torch.manual_seed(0)
    net = LinearAttention(SHAPES, out_features=3, encoder=[6, 5], head=[4])
    xs = modes()
    embeddings = torch.stack(
        [enc(x.flatten(1)) for enc, x in zip(net.encoders, xs, strict=True)], dim=1
    )
    alpha = torch.softmax(net.attend(torch.cat([embeddings[:, 0], embeddings[:, 1]], 1)), 1)
    expected = net.head(alpha[:, :1] * embeddings[:, 0] + alpha[:, 1:] * embeddings[:, 1])
    torch.testing.assert_close(net(xs), expected)
    torch.testing.assert_close(net.quality_scores(), alpha)
    assert isinstance(net, HasQualityScores) and not isinstance(net, HasTrainingLoss)


def test_weights_follow_the_linear_scores() -> None:
    net = LinearAttention(SHAPES, out_features=1, encoder=[3])
    with torch.no_grad():
        net.attend.weight.zero_()
        net.attend.bias.copy_(torch.tensor([2.0, 0.0]))
    net(modes())
    alpha = net.quality_scores()
    torch.testing.assert_close(alpha.sum(1), torch.ones(5))
    expected = torch.softmax(torch.tensor([2.0, 0.0]), 0)
    torch.testing.assert_close(alpha, expected.expand(5, 2))


def test_quality_before_any_forward_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="no forward pass yet"):
        LinearAttention(SHAPES, out_features=1).quality_scores()


def test_trains_from_a_spec_with_attention_disabled() -> None:
    model, result, split, _ = train("linear_attention", encoder=[8])
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    with torch.no_grad():
        out = model(split.modes).output
    assert out.shape == (len(split), 1)
    accuracy = ((out.squeeze(1) > 0).long() == split.y).float().mean()
    assert accuracy > 0.8


def test_spec_rejects_unknown_params() -> None:
    with pytest.raises(SpecError, match="wdith"):
        build(baseline_spec("linear_attention", wdith=3))
