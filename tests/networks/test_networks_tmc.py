"""``tmc``: per-mode Dirichlet opinions fused by Dempster's rule, its loss and outputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from _baseline_samples import SHAPES, baseline_spec, modes, objective, train

from emma_plugins.assembly.builder import build
from emma_plugins.networks import TMC
from emma_plugins.networks.evidential import dempster_combine, evidential_loss, opinion
from emma_plugins.networks.interfaces import HasQualityScores, HasUncertainty
from emma_plugins.training.loss import ClassificationLoss


def _net(out_features: int = 3) -> TMC:
    torch.manual_seed(0)
    return TMC(SHAPES, out_features=out_features, hidden=[5], annealing_epochs=4)


def test_logits_are_the_log_expected_probabilities_of_the_fused_opinion() -> None:
    net, xs = _net(), modes()
    out = net(xs)
    alpha = (
        F.softplus(torch.stack([h(x.flatten(1)) for h, x in zip(net.heads, xs, strict=True)], 1))
        + 1
    )
    belief, u = opinion(alpha)
    fused_b, fused_u = dempster_combine(belief, u)
    strength = 3 / fused_u
    expected = (fused_b * strength.unsqueeze(-1) + 1) / strength.unsqueeze(-1)
    torch.testing.assert_close(out, expected.log())
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(5))
    torch.testing.assert_close(net.uncertainty(), fused_u)
    torch.testing.assert_close(net.quality_scores(), 1 - u)
    assert isinstance(net, HasQualityScores) and isinstance(net, HasUncertainty)


def test_belief_and_uncertainty_sum_to_one_per_mode_and_fused() -> None:
    net = _net()
    net([5 * x for x in modes(9)])
    parts = net.opinions()
    torch.testing.assert_close(
        parts["belief"].sum(-1) + parts["uncertainty"], torch.ones(9, len(SHAPES))
    )
    torch.testing.assert_close(
        parts["fused_belief"].sum(-1) + parts["fused_uncertainty"], torch.ones(9)
    )
    assert bool((parts["uncertainty"] > 0).all()) and bool((parts["uncertainty"] <= 1).all())


def test_binary_output_is_a_log_odds() -> None:
    net = _net(out_features=1)
    out = net(modes())
    fused_alpha = net._last.get("fused_alpha")
    p1 = fused_alpha[:, 1] / fused_alpha.sum(-1)
    torch.testing.assert_close(torch.sigmoid(out.squeeze(1)), p1)


def test_training_loss_sums_every_opinion_with_annealed_kl() -> None:
    net, y = _net(), torch.tensor([0, 1, 2, 0, 1])
    out = net(modes())
    base = ClassificationLoss(y, 3)
    loss = net.training_loss(out, y, epoch=2, base_loss=base, index=torch.arange(5))
    alphas = [net._last.get("alpha")[:, m] for m in range(2)] + [net._last.get("fused_alpha")]
    expected = sum(evidential_loss(a, y, kl_weight=0.5).mean() for a in alphas)
    torch.testing.assert_close(loss, expected)
    assert net.kl_weight(1) == 0.25 and net.kl_weight(40) == 1.0


def test_trains_from_a_spec_and_the_objective_falls() -> None:
    model, _, split, loss = train("tmc", hidden=[8], annealing_epochs=3)
    torch.manual_seed(0)
    fresh = build(baseline_spec("tmc", hidden=[8], annealing_epochs=3))
    assert objective(model, split, loss, epoch=3) < objective(fresh, split, loss, epoch=3)
    with torch.no_grad():
        out = model(split.modes).output
    accuracy = ((out.squeeze(1) > 0).long() == split.y).float().mean()
    assert accuracy > 0.8
    uncertainty = model.network.uncertainty()
    wrong = (out.squeeze(1) > 0).long() != split.y
    if wrong.any():  # mistakes should be the less certain predictions, on average
        assert float(uncertainty[wrong].mean()) > float(uncertainty[~wrong].mean())
