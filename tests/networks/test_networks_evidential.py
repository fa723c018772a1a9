"""Subjective-logic opinions, Dempster's rule and TMC's evidential loss, checked by hand."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from emma_plugins.networks.evidential import (
    dempster_combine,
    dirichlet_from_opinion,
    evidential_loss,
    expected_cross_entropy,
    kl_to_uniform,
    opinion,
)


def pairwise_rule(b1: torch.Tensor, u1: torch.Tensor, b2: torch.Tensor, u2: torch.Tensor):
    """The textbook two-view rule, written out for the comparison."""
    conflict = b1.sum(-1) * b2.sum(-1) - (b1 * b2).sum(-1)
    scale = 1.0 - conflict
    belief = (b1 * b2 + b1 * u2.unsqueeze(-1) + b2 * u1.unsqueeze(-1)) / scale.unsqueeze(-1)
    return belief, u1 * u2 / scale


def test_two_views_match_the_hand_computed_combination() -> None:
    belief = torch.tensor([[[0.6, 0.2], [0.1, 0.5]]])
    uncertainty = torch.tensor([[0.2, 0.4]])
    fused_b, fused_u = dempster_combine(belief, uncertainty)
    # conflict C = 0.6 * 0.5 + 0.2 * 0.1 = 0.32
    torch.testing.assert_close(fused_b, torch.tensor([[0.32, 0.28]]) / 0.68)
    torch.testing.assert_close(fused_u, torch.tensor([0.08]) / 0.68)


def test_opinion_of_a_dirichlet() -> None:
    alpha = torch.tensor([4.0, 2.0, 1.0])  # evidence 3, 1, 0; S = 7
    belief, u = opinion(alpha)
    torch.testing.assert_close(belief, torch.tensor([3.0, 1.0, 0.0]) / 7)
    torch.testing.assert_close(u, torch.tensor(3.0 / 7))
    torch.testing.assert_close(dirichlet_from_opinion(belief, u), alpha)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 5), st.integers(2, 4))
def test_masses_sum_to_one_and_the_closed_form_is_sequential_dempster(
    seed: int, n_classes: int, n_views: int
) -> None:
    g = torch.Generator().manual_seed(seed)
    alpha = torch.rand(7, n_views, n_classes, generator=g) * 20 + 1
    belief, u = opinion(alpha)
    torch.testing.assert_close(belief.sum(-1) + u, torch.ones(7, n_views))
    fused_b, fused_u = dempster_combine(belief, u)
    torch.testing.assert_close(fused_b.sum(-1) + fused_u, torch.ones(7))
    b_seq, u_seq = belief[:, 0], u[:, 0]
    for view in range(1, n_views):
        b_seq, u_seq = pairwise_rule(b_seq, u_seq, belief[:, view], u[:, view])
    torch.testing.assert_close(fused_b, b_seq)
    torch.testing.assert_close(fused_u, u_seq)
    assert bool((fused_u <= u.min(dim=1).values + 1e-6).all())  # agreeing evidence adds up


def test_expected_cross_entropy_is_the_digamma_form() -> None:
    alpha = torch.tensor([[3.0, 1.0]])
    value = expected_cross_entropy(alpha, torch.tensor([0]))
    # psi(4) - psi(3) = 1/3
    torch.testing.assert_close(value, torch.tensor([1.0 / 3.0]))


def test_kl_to_uniform() -> None:
    torch.testing.assert_close(kl_to_uniform(torch.ones(2, 3)), torch.zeros(2))
    # Dir(2, 1) vs Dir(1, 1): log(Gamma(3) / (Gamma(2) Gamma(1) Gamma(2))) +
    # (2 - 1)(psi(2) - psi(3)) = log 2 - 1/2
    torch.testing.assert_close(
        kl_to_uniform(torch.tensor([2.0, 1.0])), torch.tensor(math.log(2) - 0.5)
    )


def test_evidential_loss_penalises_only_misleading_evidence() -> None:
    y = torch.tensor([0])
    right = torch.tensor([[5.0, 1.0]])  # evidence only for the true class: no KL
    torch.testing.assert_close(
        evidential_loss(right, y, kl_weight=1.0), expected_cross_entropy(right, y)
    )
    wrong = torch.tensor([[1.0, 5.0]])
    extra = evidential_loss(wrong, y, 1.0) - evidential_loss(wrong, y, 0.0)
    torch.testing.assert_close(extra, kl_to_uniform(wrong))
    assert float(evidential_loss(wrong, y, 0.5)) > float(evidential_loss(right, y, 0.5))
