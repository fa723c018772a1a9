"""Constraints hold throughout training: 500 SGD steps at lr 10 on a random loss."""

from __future__ import annotations

import math

import torch
from _attention_fakes import given_attention, modes_from_potentials

from emma_plugins.attention import capacity_penalty, energy_regularizer, xi_from_corrupted


def _check_bounds(attention) -> None:
    energy, gate = attention.modal_energy, attention.gate
    assert (energy.weight >= 1).all() and (energy.bias >= 0).all()
    assert ((energy.gamma >= 0) & (energy.gamma <= 1)).all()
    assert ((energy.pair_weight >= -1) & (energy.pair_weight <= 1)).all()
    assert (energy.pair_weight.diagonal() == 0).all()
    assert gate.gain >= gate.min_gain and 0 <= gate.bias <= 1
    assert attention.importance.coldness > 0


def test_constraints_hold_after_500_steps_at_large_learning_rate() -> None:
    attention = given_attention(4, {"importance": {"kind": "boltzmann", "learnable": True}})
    optimizer = torch.optim.SGD(attention.parameters(), lr=10.0)
    generator = torch.Generator().manual_seed(0)
    moved = False
    for _ in range(500):
        potentials = 5 * torch.randn(16, 4, generator=generator)
        missing = torch.rand(16, 4, generator=generator) > 0.8
        outputs, report = attention(modes_from_potentials(potentials), missing)
        signs = torch.randn(6, generator=generator)
        loss = signs[0] * sum(out.sum() for out in outputs) * 1e-2
        loss = loss + signs[1] * report.total_energy.mean() * 1e-3
        loss = loss + signs[2] * energy_regularizer(report, xi_from_corrupted(missing.roll(1, 1)))
        loss = loss + signs[3] * capacity_penalty(attention)
        loss = loss + signs[4] * attention.importance.log_rho * 0.01
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        attention.constrain_()
        _check_bounds(attention)
        moved |= bool(attention.modal_energy.weight.detach().max() > 1.5)
    assert moved  # the steps were large enough to matter
    _, report = attention(modes_from_potentials(torch.randn(8, 4)))
    assert torch.isfinite(report.attention).all()


def test_forward_reads_parameters_inside_their_box_even_without_projection() -> None:
    attention = given_attention(3)
    with torch.no_grad():
        attention.modal_energy.weight.fill_(-5.0)
        attention.modal_energy.gamma.fill_(3.0)
        attention.gate.bias.fill_(-2.0)
    potentials = torch.tensor([[1.0, 2.0, 3.0]])
    report = attention.evaluate(modes_from_potentials(potentials))
    attention.constrain_()
    projected = attention.evaluate(modes_from_potentials(potentials))
    assert torch.equal(report.modal_energy, projected.modal_energy)
    assert torch.equal(report.attention, projected.attention)
    assert float(attention.gate.bias.detach()) == 0.0 and math.isclose(
        float(attention.modal_energy.weight[0].detach()), 1.0
    )
