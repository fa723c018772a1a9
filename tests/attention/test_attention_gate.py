"""Gates (5.5): the energy threshold (5.6), capacity (5.9) and effective capacity."""

from __future__ import annotations

import pytest
import torch
from _attention_fakes import given_attention, modes_from_potentials

from emma_plugins.attention.gate import IdentityGate, PerModeGate, SharedTanhGate, log_cosh


def _f(value: torch.Tensor) -> float:
    return float(value.detach())


def _numeric(curve, points: int = 200_001) -> float:
    a = torch.linspace(0, 1, points, dtype=torch.float64)
    return float(torch.trapezoid(curve(a), a))


def _set(gate: SharedTanhGate, gain: float, bias: float) -> SharedTanhGate:
    with torch.no_grad():
        gate.gain.fill_(gain)
        gate.bias.fill_(bias)
    return gate


def test_threshold_5_6_blocks_modes_above_it() -> None:
    attention = given_attention(4, {"modal_energy": {"kind": "self_only"}})
    attention.importance.set_coldness(0.5)
    _set(attention.gate, 1.5, 0.3)
    generator = torch.Generator().manual_seed(0)
    potentials = 8 * torch.rand(200, 4, generator=generator)
    report = attention.evaluate(modes_from_potentials(potentials))
    rho, energy = 0.5, report.modal_energy
    log_z = torch.logsumexp(-rho * energy, dim=1, keepdim=True)
    threshold = (torch.log(torch.tensor(1.5 / 0.3)) - log_z) / rho
    above, below = energy > threshold + 1e-4, energy < threshold - 1e-4
    assert above.sum() > 20 and below.sum() > 20
    assert (report.attention[above] == 0).all()
    assert (report.attention[below] > 0).all()


@pytest.mark.parametrize(("gain", "bias"), [(1.0, 0.0), (3.0, 0.4), (0.5, 0.9), (40.0, 1.0)])
def test_capacity_closed_forms_match_numeric_integrals(gain: float, bias: float) -> None:
    gate = _set(SharedTanhGate(2), gain, bias).double()
    thesis = _numeric(lambda a: torch.tanh(gain * a - bias))
    applied = _numeric(lambda a: torch.relu(torch.tanh(gain * a - bias)))
    assert _f(gate.capacity()) == pytest.approx(thesis, abs=1e-6)
    assert _f(gate.effective_capacity()) == pytest.approx(applied, abs=1e-6)
    formula = (log_cosh(torch.tensor(gain - bias)) - log_cosh(torch.tensor(bias))) / gain
    assert _f(gate.capacity()) == pytest.approx(float(formula), rel=1e-5)


def test_capacity_is_finite_for_huge_gains_and_penalty_is_gain_minus_bias() -> None:
    gate = _set(SharedTanhGate(3), 1e6, 0.5)
    capacity = gate.capacity().detach()
    assert torch.isfinite(capacity) and float(capacity) == pytest.approx(1.0, abs=1e-5)
    gate = _set(SharedTanhGate(3), 2.0, 0.25)
    gate.capacity().backward()
    assert torch.isfinite(gate.gain.grad) and torch.isfinite(gate.bias.grad)
    assert _f(gate.capacity_penalty()) == pytest.approx(1.75)


def test_per_mode_gate_capacities_and_penalty() -> None:
    gate = PerModeGate(3).double()
    with torch.no_grad():
        gate.weight.copy_(torch.tensor([[2.0, 0.3, 0.1], [0.0, -1.0, 0.0], [0.5, 0.5, 0.0]]))
        gate.bias.copy_(torch.tensor([-0.5, 0.2, 0.3]))
    expected = [
        _numeric(lambda a, g=g, c=c: torch.tanh(g * a + c))
        for g, c in [(2.0, -0.5), (-1.0, 0.2), (0.0, 0.3)]
    ]
    assert gate.mode_capacities().tolist() == pytest.approx(expected, abs=1e-6)
    assert _f(gate.capacity()) == pytest.approx(sum(expected) / 3, abs=1e-6)
    rectified = [
        _numeric(lambda a, g=g, c=c: torch.relu(torch.tanh(g * a + c)))
        for g, c in [(2.0, -0.5), (-1.0, 0.2), (0.0, 0.3)]
    ]
    assert _f(gate.effective_capacity()) == pytest.approx(sum(rectified) / 3, abs=1e-6)
    assert _f(gate.capacity_penalty()) == pytest.approx((2.0 - 1.0 + 0.0 + 0.0) / 3)
    alpha = torch.tensor([[0.2, 0.3, 0.5]], dtype=torch.float64)
    assert torch.allclose(gate(alpha), torch.relu(torch.tanh(alpha @ gate.weight.T + gate.bias)))


def test_identity_gate_passes_importance() -> None:
    gate = IdentityGate(2)
    alpha = torch.tensor([[0.25, 0.75]])
    assert torch.equal(gate(alpha), alpha)
    assert _f(gate.capacity()) == 0.5 and _f(gate.capacity_penalty()) == 0.0
