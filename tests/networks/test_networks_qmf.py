"""``qmf``: energy-weighted fusion of per-mode classifiers, its loss and history ranking."""

from __future__ import annotations

from typing import NamedTuple

import pytest
import torch
from _baseline_samples import SHAPES, baseline_spec, modes, objective, train
from hypothesis import given, settings
from hypothesis import strategies as st

from emma_plugins.assembly.builder import build
from emma_plugins.core.errors import SpecError
from emma_plugins.networks import QMF
from emma_plugins.training.loss import ClassificationLoss


def _mode_logits(net: QMF, xs: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([h(x.flatten(1)) for h, x in zip(net.heads, xs, strict=True)], dim=1)


def test_default_weights_are_the_official_linear_ones() -> None:
    # official QMF: w_m = 0.1 * logsumexp(logits_m), unnormalised, fused = sum_m w_m logits_m
    torch.manual_seed(0)
    net = QMF(SHAPES, out_features=3, hidden=[5])
    assert net.weighting == "linear" and net.weight_scale == 0.1
    xs = modes()
    out = net(xs)
    logits = _mode_logits(net, xs)
    weights = 0.1 * torch.logsumexp(logits, dim=-1)
    torch.testing.assert_close(net.fusion_weights(), weights)
    torch.testing.assert_close(out, (weights.unsqueeze(-1) * logits).sum(1))
    torch.testing.assert_close(net.quality_scores(), torch.logsumexp(logits, dim=-1))
    assert not torch.allclose(weights.sum(1), torch.ones(5))  # not normalised


def test_linear_weights_follow_temperature_and_scale() -> None:
    torch.manual_seed(0)
    net = QMF(SHAPES, out_features=2, hidden=[4], temperature=2.0, weight_scale=0.3)
    xs = modes()
    net(xs)
    logits = _mode_logits(net, xs)
    energy = -2.0 * torch.logsumexp(logits / 2.0, dim=-1)
    torch.testing.assert_close(net.fusion_weights(), 0.3 * -energy)
    torch.testing.assert_close(net.quality_scores(), -energy)


def test_linear_weights_are_detached_in_the_fusion() -> None:
    torch.manual_seed(0)
    net = QMF(SHAPES, out_features=2, hidden=[4])
    xs = modes()
    net(xs).sum().backward()
    got = [p.grad.clone() for p in net.heads.parameters()]  # type: ignore[union-attr]
    net.zero_grad()
    logits = _mode_logits(net, xs)
    weights = 0.1 * torch.logsumexp(logits, dim=-1).detach()
    (weights.unsqueeze(-1) * logits).sum().backward()
    for a, p in zip(got, net.heads.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad)
    assert net.fusion_weights().requires_grad is False


def test_softmax_option_keeps_the_normalised_weights() -> None:
    torch.manual_seed(0)
    net = QMF(SHAPES, out_features=3, hidden=[5], temperature=2.0, weighting="softmax")
    xs = modes()
    out = net(xs)
    logits = _mode_logits(net, xs)
    energy = -2.0 * torch.logsumexp(logits / 2.0, dim=-1)
    weights = torch.softmax(-energy, dim=1)
    torch.testing.assert_close(net.quality_scores(), -energy)
    torch.testing.assert_close(net.fusion_weights(), weights)
    torch.testing.assert_close(net.fusion_weights().sum(1), torch.ones(5))
    torch.testing.assert_close(out, (weights.unsqueeze(-1) * logits).sum(1))


def test_a_mode_with_huge_logits_does_not_take_all_the_linear_weight() -> None:
    # The audit's finding: softmax weights are winner-take-all, so an out-of-distribution
    # mode whose logits blow up takes nearly all the weight; the official linear weights
    # grow only in proportion to its logsumexp.
    logits = torch.tensor([[[5.0, 0.0], [24.0, 25.0]], [[0.0, 4.0], [-30.0, 31.0]]])
    linear = QMF(SHAPES, out_features=2)
    softmax = QMF(SHAPES, out_features=2, weighting="softmax")
    w_lin = linear.weights_from_energy(linear.energy(logits))
    w_soft = softmax.weights_from_energy(softmax.energy(logits))
    share_lin = w_lin[:, 1] / w_lin.sum(1)
    share_soft = w_soft[:, 1] / w_soft.sum(1)
    assert bool((share_soft > 0.9999).all())
    assert bool((share_lin < 0.9).all())
    lse = torch.logsumexp(logits, dim=-1)
    torch.testing.assert_close(share_lin, lse[:, 1] / lse.sum(1))


def test_fused_logits_are_the_energy_weighted_mode_logits() -> None:
    torch.manual_seed(0)
    net = QMF(SHAPES, out_features=3, hidden=[5], temperature=2.0, weighting="softmax")
    xs = modes()
    out = net(xs)
    logits = torch.stack([h(x.flatten(1)) for h, x in zip(net.heads, xs, strict=True)], dim=1)
    energy = -2.0 * torch.logsumexp(logits / 2.0, dim=-1)
    weights = torch.softmax(-energy, dim=1)
    torch.testing.assert_close(net.quality_scores(), -energy)
    torch.testing.assert_close(net.fusion_weights(), weights)
    torch.testing.assert_close(out, (weights.unsqueeze(-1) * logits).sum(1))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 10.0))
def test_weights_are_positive_and_sum_to_one(seed: int, temperature: float) -> None:
    torch.manual_seed(seed)
    net = QMF(SHAPES, out_features=2, hidden=[4], temperature=temperature, weighting="softmax")
    net(modes(8, seed))
    weights = net.fusion_weights()
    assert bool((weights > 0).all())
    torch.testing.assert_close(weights.sum(1), torch.ones(8))
    net([100 * x for x in modes(8, seed)])  # extreme inputs: still a distribution over modes
    weights = net.fusion_weights()
    assert bool((weights >= 0).all()) and bool(weights.isfinite().all())
    torch.testing.assert_close(weights.sum(1), torch.ones(8))


@pytest.mark.parametrize("weighting", ["linear", "softmax"])
def test_the_lower_energy_mode_gets_the_larger_weight(weighting: str) -> None:
    net = QMF(SHAPES, out_features=2, weighting=weighting)  # type: ignore[arg-type]
    energy = torch.tensor([[-3.0, -1.0], [0.5, -2.0]])
    weights = net.weights_from_energy(energy)
    assert bool(weights[0, 0] > weights[0, 1]) and bool(weights[1, 1] > weights[1, 0])


def test_binary_output_is_the_class_logit_difference() -> None:
    torch.manual_seed(0)
    net = QMF(SHAPES, out_features=1, hidden=[4])
    out = net(modes())
    logits = torch.stack([h(x.flatten(1)) for h, x in zip(net.heads, modes(), strict=True)], dim=1)
    fused = (net.fusion_weights().unsqueeze(-1) * logits).sum(1)
    torch.testing.assert_close(out, (fused[:, 1] - fused[:, 0]).unsqueeze(1))


def test_weights_are_detached_unless_asked() -> None:
    grads = []
    for detach in (True, False):
        torch.manual_seed(0)
        net = QMF(SHAPES, out_features=2, hidden=[4], detach_weights=detach)
        net(modes())[:, 0].sum().backward()
        grads.append(net.heads[0][0].weight.grad.clone())
    assert not torch.allclose(grads[0], grads[1])


class FirstEpoch(NamedTuple):
    """One batch of the first epoch: no history yet, so no ranking term."""

    xs: list[torch.Tensor]
    y: torch.Tensor
    base: ClassificationLoss
    index: torch.Tensor
    out: torch.Tensor
    loss: torch.Tensor
    expected: torch.Tensor  # the fused loss plus every mode's own


def _first_epoch(net: QMF) -> FirstEpoch:
    xs, y = modes(6), torch.tensor([0, 1, 0, 1, 1, 0])
    base = ClassificationLoss(y, 2, balanced=False)
    index = torch.arange(6)
    net.begin_fit(6)
    out = net(xs)
    loss = net.training_loss(out, y, epoch=1, base_loss=base, index=index)
    logits = net._last.get("logits")
    expected = base(out, y) + sum(base(logits[:, m], y) for m in range(2))
    return FirstEpoch(xs, y, base, index, out, loss, expected)


def test_training_loss_ranks_the_linear_weights_the_official_way() -> None:
    torch.manual_seed(0)
    net = QMF(SHAPES, out_features=2, hidden=[4], rank_weight=0.5, weight_scale=5.0)
    xs, y, base, index, out, first, expected = _first_epoch(net)
    torch.testing.assert_close(first, expected)  # constant (empty) history: no ranking term
    # a history whose order the confidences break: sample 0 kept the largest loss
    net.history.reset(6)
    net.history.record(index, torch.linspace(3.0, 0.0, 6).unsqueeze(1).expand(6, 2))
    out = net(xs)
    weights = 5.0 * torch.logsumexp(net._last.get("logits"), dim=-1)
    ranking = net.history.rolled_ranking_loss(weights, index)
    assert float(ranking.detach()) > 0
    second = net.training_loss(out, y, epoch=2, base_loss=base, index=index)
    torch.testing.assert_close(second, expected + 0.5 * ranking)
    # the ranking term trains the (undetached) confidences
    (grad,) = torch.autograd.grad(second - expected, net.heads[0][0].weight, allow_unused=True)
    assert grad is not None and float(grad.abs().max()) > 0


def test_official_ranking_penalises_an_overconfident_high_loss_sample() -> None:
    net = QMF(SHAPES, out_features=2, hidden=[4], rank_weight=1.0)
    index = torch.arange(2)
    net.history.reset(2)
    net.history.record(index, torch.tensor([[2.0, 2.0], [0.0, 0.0]]))  # sample 0: high loss
    # sample 0 is more confident than sample 1 by more than the tolerance (1) in mode 0 only
    confidence = torch.tensor([[3.0, 0.5], [1.5, 0.0]])
    # rolled pairs (0, 1) and (1, 0): mode 0 gives max(0, 1.5 - 1) twice, mode 1 nothing
    torch.testing.assert_close(
        net.history.rolled_ranking_loss(confidence, index), torch.tensor(0.5)
    )


def test_all_pairs_ranking_with_softmax_keeps_the_earlier_loss() -> None:
    torch.manual_seed(0)
    net = QMF(
        SHAPES,
        out_features=2,
        hidden=[4],
        rank_weight=1.0,
        weighting="softmax",
        ranking="all_pairs",
    )
    _xs, y, base, index, out, first, expected = _first_epoch(net)
    torch.testing.assert_close(first, expected)  # no history yet: no ranking term
    assert int(net.history.counts.sum()) == 6
    second = net.training_loss(out, y, epoch=2, base_loss=base, index=index)
    ranking = net.history.ranking_loss(net.quality_scores(), index)
    assert float(ranking) > 0
    torch.testing.assert_close(second, expected + ranking)


def test_spec_parses_the_weighting_and_ranking_params() -> None:
    model = build(baseline_spec("qmf", weighting="softmax", weight_scale=0.25, ranking="all_pairs"))
    net = model.network
    assert isinstance(net, QMF)
    assert (net.weighting, net.weight_scale, net.ranking) == ("softmax", 0.25, "all_pairs")
    default = build(baseline_spec("qmf")).network
    assert isinstance(default, QMF)
    assert (default.weighting, default.weight_scale, default.ranking) == (
        "linear",
        0.1,
        "official",
    )
    with pytest.raises(SpecError, match=r"network\.weighting"):
        build(baseline_spec("qmf", weighting="bogus"))
    with pytest.raises(SpecError, match=r"network\.weight_scale"):
        build(baseline_spec("qmf", weight_scale=0))
    with pytest.raises(SpecError, match=r"network\.ranking"):
        build(baseline_spec("qmf", ranking="roll"))


@pytest.mark.parametrize("weighting", ["linear", "softmax"])
def test_trains_from_a_spec_and_the_objective_falls(weighting: str) -> None:
    model, _, split, loss = train("qmf", hidden=[8], rank_weight=0.1, weighting=weighting)
    torch.manual_seed(0)
    fresh = build(baseline_spec("qmf", hidden=[8], rank_weight=0.1, weighting=weighting))
    assert objective(model, split, loss, epoch=3) < objective(fresh, split, loss, epoch=3)
    assert len(model.network.history.counts) == len(split)  # sized by fit's begin_fit
    quality = model.network.quality_scores()
    assert quality.shape == (len(split), 2)
    # mode "a" carries the label, mode "b" is noise: "a" should end up more confident
    assert float(quality[:, 0].mean()) > float(quality[:, 1].mean())
