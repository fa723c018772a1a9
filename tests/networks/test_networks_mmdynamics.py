"""``mmdynamics``: sigmoid feature gates, true-class-probability confidence, shared classifier."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _baseline_samples import SHAPES, baseline_spec, modes, objective, train

from emma_plugins.assembly.builder import build
from emma_plugins.core.errors import SpecError
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


def _official(out_features: int = 2, **params: object) -> MMDynamics:
    torch.manual_seed(0)
    return MMDynamics(SHAPES, out_features, encoder=[5], form="official", **params)  # type: ignore[arg-type]


def test_the_default_form_is_the_variant() -> None:
    net = _net()
    assert net.form == "variant" and net.sparsity == 1e-3
    official = _official()
    assert official.form == "official" and official.sparsity == 1.0
    assert _official(sparsity=0.2).sparsity == 0.2


@pytest.mark.parametrize("out_features", [1, 2, 3])
def test_official_forward_uses_the_raw_confidence(out_features: int) -> None:
    net, xs = _official(out_features), modes(7)
    out = net(xs)
    assert out.shape == (7, out_features)
    flat = [x.flatten(1) for x in xs]
    feats = [
        enc(x * torch.sigmoid(gate(x)))
        for enc, gate, x in zip(net.encoders, net.gates, flat, strict=True)
    ]
    conf = torch.cat([c(f) for c, f in zip(net.confidences, feats, strict=True)], dim=1)
    logits = net.head(torch.cat([conf[:, m : m + 1] * feats[m] for m in range(2)], dim=1))
    assert logits.shape == (7, max(2, out_features))  # K class logits, as the official head
    expected = logits[:, 1:] - logits[:, :1] if out_features == 1 else logits
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(net.quality_scores(), conf)


def test_official_init_is_xavier_with_zero_biases() -> None:
    net = _official()
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(float(m.bias.detach().abs().max()) == 0.0 for m in linears)


def test_official_loss_terms() -> None:
    net, y = _official(3), torch.tensor([0, 1, 2, 0, 1])
    xs = modes()
    out = net(xs)
    base = ClassificationLoss(y, 3, balanced=False)
    terms = net.loss_terms(out, y, base)
    assert set(terms) == {"fused", "modes", "confidence", "sparsity"}
    assert all(t.dim() == 0 and bool(t.isfinite()) for t in terms.values())
    mode_logits = net._last.get("mode_logits")
    tcp = torch.softmax(mode_logits, -1)[torch.arange(5), :, y]
    gates_mean = sum(
        torch.sigmoid(g(x.flatten(1))).mean() for g, x in zip(net.gates, xs, strict=True)
    )
    confidence = net._last.get("confidence")
    regression = sum(F.mse_loss(confidence[:, m], tcp[:, m]) for m in range(2))
    torch.testing.assert_close(terms["confidence"], regression)
    torch.testing.assert_close(terms["sparsity"], gates_mean)
    loss = net.training_loss(out, y, epoch=1, base_loss=base, index=torch.arange(5))
    expected = (
        base(out, y)
        + sum(base(mode_logits[:, m], y) for m in range(2))
        + regression  # weight 1
        + gates_mean  # weight 1.0 on the mean, per mode
    )
    torch.testing.assert_close(loss, expected)


def test_official_confidence_target_trains_the_mode_classifier() -> None:
    net, y = _official(sparsity=0.0), torch.tensor([0, 1, 1, 0, 1])
    out = net(modes())
    base = ClassificationLoss(y, 2, balanced=False)
    terms = net.loss_terms(out, y, base)
    (grad,) = torch.autograd.grad(terms["confidence"], net.classifiers[0].weight)
    assert float(grad.abs().max()) > 0


def test_official_training_steps_reduce_the_loss() -> None:
    net, y = _official(), torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    xs = modes(8, seed=4)
    base = ClassificationLoss(y, 2, balanced=False)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = net.training_loss(net(xs), y, epoch=1, base_loss=base, index=torch.arange(8))
        assert bool(loss.isfinite())
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0]


def test_spec_parses_the_form() -> None:
    net = build(baseline_spec("mmdynamics", form="official", encoder=[6])).network
    assert isinstance(net, MMDynamics)
    assert (net.form, net.sparsity) == ("official", 1.0)
    net = build(baseline_spec("mmdynamics", form="official", sparsity=0.3)).network
    assert isinstance(net, MMDynamics) and net.sparsity == 0.3
    net = build(baseline_spec("mmdynamics")).network
    assert isinstance(net, MMDynamics) and (net.form, net.sparsity) == ("variant", 1e-3)
    with pytest.raises(SpecError, match=r"network\.form"):
        build(baseline_spec("mmdynamics", form="paper"))


def test_official_form_trains_from_a_spec_and_the_objective_falls() -> None:
    model, _, split, loss = train("mmdynamics", encoder=[8], form="official")
    torch.manual_seed(0)
    fresh = build(baseline_spec("mmdynamics", encoder=[8], form="official"))
    assert objective(model, split, loss, epoch=1) < objective(fresh, split, loss, epoch=1)
    with torch.no_grad():
        out = model(split.modes).output
    assert ((out.squeeze(1) > 0).long() == split.y).float().mean() > 0.8
