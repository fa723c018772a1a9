"""``mmdynamics``: sigmoid feature gates, true-class-probability confidence, shared classifier."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from _baseline_samples import SHAPES, baseline_spec, modes, objective, train

from emma_plugins.assembly.builder import build
from emma_plugins.networks import MMDynamics
from emma_plugins.training.loss import ClassificationLoss


def _net(**params: object) -> MMDynamics:
    torch.manual_seed(0)
    return MMDynamics(SHAPES, out_features=2, encoder=[5], **params)  # type: ignore[arg-type]


def test_forward_scales_each_modes_features_by_its_confidence() -> None:
    net, xs = _net(), modes()
    out = net(xs)
    flat = [x.flatten(1) for x in xs]
    feats = [
        enc(x * torch.sigmoid(gate(x)))
        for enc, gate, x in zip(net.encoders, net.gates, flat, strict=True)
    ]
    conf = torch.cat(
        [torch.sigmoid(c(f)) for c, f in zip(net.confidences, feats, strict=True)], dim=1
    )
    expected = net.head(torch.cat([conf[:, m : m + 1] * feats[m] for m in range(2)], dim=1))
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(net.quality_scores(), conf)
    assert bool((conf > 0).all()) and bool((conf < 1).all())


def test_training_loss_terms() -> None:
    net, y = _net(sparsity=0.5, confidence_weight=2.0), torch.tensor([0, 1, 1, 0, 1])
    xs = modes()
    out = net(xs)
    base = ClassificationLoss(y, 2, balanced=False)
    loss = net.training_loss(out, y, epoch=1, base_loss=base, index=torch.arange(5))
    mode_logits = net._last.get("mode_logits")
    tcp = torch.softmax(mode_logits, -1)[torch.arange(5), :, y]
    gates_l1 = sum(
        torch.sigmoid(g(x.flatten(1))).sum(1).mean() for g, x in zip(net.gates, xs, strict=True)
    )
    expected = (
        base(out, y)
        + sum(base(mode_logits[:, m], y) for m in range(2))
        + 2.0 * F.mse_loss(net.quality_scores(), tcp, reduction="sum") / 5
        + 0.5 * gates_l1
    )
    torch.testing.assert_close(loss, expected)


def test_confidence_target_does_not_train_the_mode_classifier() -> None:
    net, y = _net(sparsity=0.0), torch.tensor([0, 1, 1, 0, 1])
    out = net(modes())
    base = ClassificationLoss(y, 2, balanced=False)
    with_conf = net.training_loss(out, y, epoch=1, base_loss=base, index=torch.arange(5))
    net.confidence_weight = 0.0
    without = net.training_loss(out, y, epoch=1, base_loss=base, index=torch.arange(5))
    (grad,) = torch.autograd.grad(with_conf - without, net.classifiers[0].weight, allow_unused=True)
    assert grad is None or float(grad.abs().max()) == 0.0


def test_trains_from_a_spec_and_the_objective_falls() -> None:
    model, _, split, loss = train("mmdynamics", encoder=[8])
    torch.manual_seed(0)
    fresh = build(baseline_spec("mmdynamics", encoder=[8]))
    assert objective(model, split, loss, epoch=1) < objective(fresh, split, loss, epoch=1)
    with torch.no_grad():
        out = model(split.modes).output
    assert ((out.squeeze(1) > 0).long() == split.y).float().mean() > 0.8
    confidence = model.network.quality_scores()
    # mode "a" predicts the label, so its true-class probability (and confidence) is higher
    assert float(confidence[:, 0].mean()) > float(confidence[:, 1].mean())
