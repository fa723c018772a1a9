"""The regularizers of (5.10) and the balancing condition of section 5.5."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from _attention_fakes import given_attention, modes_from_potentials

from emma_plugins.attention import (
    balancing_fraction,
    capacity_penalty,
    energy_regularizer,
    xi_from_corrupted,
)


def _self_only(m: int):
    attention = given_attention(m, {"modal_energy": {"kind": "self_only"}})
    generator = torch.Generator().manual_seed(m)
    with torch.no_grad():  # strictly inside the box, not at w = 1, b = 0
        attention.modal_energy.weight.copy_(1.2 + torch.rand(m, generator=generator))
        attention.modal_energy.bias.copy_(0.2 + torch.rand(m, generator=generator))
    return attention


@pytest.mark.parametrize("m", [3, 4])
def test_energy_regularizer_moves_clean_energies_down_and_corrupted_up(m: int) -> None:
    clean_count = (m + 1) // 2  # the balancing condition M' = floor((M + 1) / 2)
    generator = torch.Generator().manual_seed(7)
    checked = 0
    for corrupted_modes in itertools.combinations(range(m), m - clean_count):
        for _ in range(3):
            attention = _self_only(m)
            attention.importance.set_coldness(0.3)
            corrupted = torch.zeros(1, m, dtype=torch.bool)
            corrupted[0, list(corrupted_modes)] = True
            potentials = 5 * torch.rand(1, m, generator=generator) + corrupted * 3.0
            modes = modes_from_potentials(potentials)
            before = attention.evaluate(modes).modal_energy.detach()
            optimizer = torch.optim.SGD(attention.parameters(), lr=1e-2)
            energy_regularizer(attention.evaluate(modes), xi_from_corrupted(corrupted)).backward()
            optimizer.step()
            after = attention.evaluate(modes).modal_energy.detach()
            change = (after - before)[0]
            assert (change[~corrupted[0]] < 0).all(), (corrupted_modes, change)
            assert (change[corrupted[0]] > 0).all(), (corrupted_modes, change)
            checked += 1
    assert checked == 3 * math.comb(m, m - clean_count)


def test_energy_regularizer_is_a_batch_mean_over_present_modes() -> None:
    attention = given_attention(3)
    potentials = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.5, 2.0]])
    missing = torch.tensor([[False, True, False], [False, False, False]])
    xi = torch.tensor([[1.0, -1.0, -1.0], [1.0, 1.0, -1.0]])
    report = attention.evaluate(modes_from_potentials(potentials), missing).detach()
    log_alpha = report.log_importance
    expected = -((log_alpha[0, 0] - log_alpha[0, 2]) + (log_alpha[1, :2].sum() - log_alpha[1, 2]))
    assert float(energy_regularizer(report, xi)) == pytest.approx(float(expected) / 2)
    doubled = attention.evaluate(
        modes_from_potentials(potentials.repeat(2, 1)), missing.repeat(2, 1)
    ).detach()
    assert float(energy_regularizer(doubled, xi.repeat(2, 1))) == pytest.approx(
        float(expected) / 2, rel=1e-6
    )
    with pytest.raises(ValueError, match="xi has shape"):
        energy_regularizer(report, xi[:, :2])


def test_capacity_penalty_is_gain_minus_bias_and_differentiable() -> None:
    attention = given_attention(2)
    with torch.no_grad():
        attention.gate.gain.fill_(2.5)
        attention.gate.bias.fill_(0.75)
    penalty = capacity_penalty(attention)
    penalty.backward()
    assert float(penalty.detach()) == pytest.approx(1.75)
    assert float(attention.gate.gain.grad) == 1.0 and float(attention.gate.bias.grad) == -1.0


def test_balancing_fraction_counts_samples_with_a_corrupted_mode() -> None:
    corrupted = torch.tensor(
        [
            [False, False, False, False],  # no corrupted mode: not counted
            [True, True, False, False],  # M = 4, M' = 2: balanced
            [True, False, False, False],  # M' = 3: not balanced
            [True, False, False, True],  # mode 3 missing: M = 3, M' = 2: balanced
        ]
    )
    missing = torch.tensor([[False] * 4, [False] * 4, [False] * 4, [False, False, False, True]])
    assert balancing_fraction(corrupted, missing) == pytest.approx(2 / 3)
    assert balancing_fraction(corrupted) == pytest.approx(2 / 3)  # row 3: M=4, M'=2
    assert math.isnan(balancing_fraction(torch.zeros(3, 4, dtype=torch.bool)))
