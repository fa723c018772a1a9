"""``qmf``: energy-weighted fusion of per-mode classifiers, its loss and history ranking."""

from __future__ import annotations

import torch
from _baseline_samples import SHAPES, baseline_spec, modes, objective, train
from hypothesis import given, settings
from hypothesis import strategies as st

from emma_plugins.assembly.builder import build
from emma_plugins.networks import QMF
from emma_plugins.training.loss import ClassificationLoss


def test_fused_logits_are_the_energy_weighted_mode_logits() -> None:
    torch.manual_seed(0)
    net = QMF(SHAPES, out_features=3, hidden=[5], temperature=2.0)
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
    net = QMF(SHAPES, out_features=2, hidden=[4], temperature=temperature)
    net(modes(8, seed))
    weights = net.fusion_weights()
    assert bool((weights > 0).all())
    torch.testing.assert_close(weights.sum(1), torch.ones(8))
    net([100 * x for x in modes(8, seed)])  # extreme inputs: still a distribution over modes
    weights = net.fusion_weights()
    assert bool((weights >= 0).all()) and bool(weights.isfinite().all())
    torch.testing.assert_close(weights.sum(1), torch.ones(8))


def test_the_lower_energy_mode_gets_the_larger_weight() -> None:
    net = QMF(SHAPES, out_features=2)
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


def test_training_loss_adds_each_modes_loss_and_ranks_by_history() -> None:
    torch.manual_seed(0)
    net = QMF(SHAPES, out_features=2, hidden=[4], rank_weight=1.0)
    xs, y = modes(6), torch.tensor([0, 1, 0, 1, 1, 0])
    base = ClassificationLoss(y, 2, balanced=False)
    index = torch.arange(6)
    net.begin_fit(6)
    out = net(xs)
    first = net.training_loss(out, y, epoch=1, base_loss=base, index=index)
    logits = net._last.get("logits")
    expected = base(out, y) + sum(base(logits[:, m], y) for m in range(2))
    torch.testing.assert_close(first, expected)  # no history yet: no ranking term
    assert int(net.history.counts.sum()) == 6
    second = net.training_loss(out, y, epoch=2, base_loss=base, index=index)
    ranking = net.history.ranking_loss(net.quality_scores(), index)
    assert float(ranking) > 0
    torch.testing.assert_close(second, expected + ranking)


def test_trains_from_a_spec_and_the_objective_falls() -> None:
    model, _, split, loss = train("qmf", hidden=[8], rank_weight=0.1)
    torch.manual_seed(0)
    fresh = build(baseline_spec("qmf", hidden=[8], rank_weight=0.1))
    assert objective(model, split, loss, epoch=3) < objective(fresh, split, loss, epoch=3)
    assert len(model.network.history.counts) == len(split)  # sized by fit's begin_fit
    quality = model.network.quality_scores()
    assert quality.shape == (len(split), 2)
    # mode "a" carries the label, mode "b" is noise: "a" should end up more confident
    assert float(quality[:, 0].mean()) > float(quality[:, 1].mean())
