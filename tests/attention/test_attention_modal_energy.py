"""Modal energies (5.1-5.2): the log-space coupling, missing partners and the gamma gradient."""

from __future__ import annotations

import pytest
import torch

from emma_plugins.attention.coupling import pair_coupling
from emma_plugins.attention.modal_energy import CoupledEnergy, SelfEnergy


def _random_coupled(m: int, seed: int) -> CoupledEnergy:
    generator = torch.Generator().manual_seed(seed)
    stage = CoupledEnergy(m, seed=seed).double()
    with torch.no_grad():
        stage.weight.copy_(1 + torch.rand(m, generator=generator, dtype=torch.float64))
        stage.bias.copy_(torch.rand(m, generator=generator, dtype=torch.float64))
        stage.gamma.copy_(torch.rand(m, m, generator=generator, dtype=torch.float64))
        stage.pair_weight.copy_(2 * torch.rand(m, m, generator=generator, dtype=torch.float64) - 1)
    return stage


def _direct(stage: CoupledEnergy, potential: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """E_i written as in the thesis, with powers and an explicit pair loop (reference only)."""
    e = stage.weight * potential + stage.bias
    energy = [e[:, i] for i in range(stage.n_modes)]
    for i in range(stage.n_modes):
        for j in range(stage.n_modes):
            if i != j:
                shared = stage.pair_weight[i, j] * e[:, i] ** stage.gamma[i, j]
                shared = shared * e[:, j] ** (1 - stage.gamma[i, j])
                energy[i] = energy[i] + torch.where(present[:, j], shared, 0.0)
    return torch.stack(energy, dim=1)


def _potential(n: int, m: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.e + 20 * torch.rand(n, m, generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("m", [2, 3, 5])
def test_coupled_equals_the_thesis_formula(m: int) -> None:
    stage = _random_coupled(m, seed=m)
    potential = _potential(7, m, seed=1)
    present = torch.rand(7, m, generator=torch.Generator().manual_seed(2)) > 0.3
    self_energy, modal = stage(potential, present)
    assert torch.allclose(self_energy, stage.weight * potential + stage.bias)
    assert torch.allclose(modal, _direct(stage, potential, present), rtol=1e-12)


def test_a_missing_partner_does_not_couple() -> None:
    stage = _random_coupled(3, seed=0)
    potential = _potential(4, 3, seed=0)
    present = torch.ones(4, 3, dtype=torch.bool)
    present[:, 2] = False
    _, modal = stage(potential, present)
    changed = potential.clone()
    changed[:, 2] = 1e5
    _, modal_changed = stage(changed, present)
    assert torch.equal(modal[:, :2], modal_changed[:, :2])


@pytest.mark.parametrize("m", [3, 4])
def test_gamma_gradient_matches_autograd_and_corrected_closed_form(m: int) -> None:
    stage = _random_coupled(m, seed=10 + m)
    potential = _potential(9, m, seed=3)
    present = torch.ones(9, m, dtype=torch.bool)
    upstream = torch.randn(9, m, generator=torch.Generator().manual_seed(4), dtype=torch.float64)

    _, modal = stage(potential, present)
    (grad_module,) = torch.autograd.grad((upstream * modal).sum(), stage.gamma)
    (grad_direct,) = torch.autograd.grad(
        (upstream * _direct(stage, potential, present)).sum(), stage.gamma
    )

    with torch.no_grad():
        e = stage.weight * potential + stage.bias
        log_i, log_j = e.log().unsqueeze(2), e.log().unsqueeze(1)
        gamma, w = stage.gamma, stage.pair_weight
        # dE_i/dgamma_ij = w_ij e_i^gamma e_j^(1-gamma) (ln e_i - ln e_j): only E_i depends on
        # gamma_ij (appendix C.3 writes ln e_i + ln e_j and adds a (j, i) term: both wrong).
        shared = w * e.unsqueeze(2) ** gamma * e.unsqueeze(1) ** (1 - gamma)
        closed = (upstream.unsqueeze(2) * shared * (log_i - log_j)).sum(dim=0)
        closed.fill_diagonal_(0.0)
    assert torch.allclose(grad_module, grad_direct, rtol=1e-10, atol=1e-12)
    assert torch.allclose(grad_module, closed, rtol=1e-10, atol=1e-12)
    thesis_sign = (upstream.unsqueeze(2) * shared * (log_i + log_j)).sum(dim=0)
    assert not torch.allclose(grad_module, thesis_sign.fill_diagonal_(0.0))


def test_self_only_has_no_coupling() -> None:
    stage = SelfEnergy(3)
    potential = _potential(5, 3, seed=5).float()
    self_energy, modal = stage(potential, torch.ones(5, 3, dtype=torch.bool))
    assert torch.equal(self_energy, modal) and torch.equal(modal, potential)


def test_initial_values_follow_the_original_code() -> None:
    stage = CoupledEnergy(5, seed=3)
    assert torch.equal(stage.weight, torch.ones(5)) and torch.equal(stage.bias, torch.zeros(5))
    assert torch.equal(stage.gamma, torch.full((5, 5), 0.5))
    off = ~torch.eye(5, dtype=torch.bool)
    assert (stage.pair_weight[off].abs() <= 0.25).all()
    assert (stage.pair_weight.diagonal() == 0).all()
    assert torch.equal(stage.pair_weight, CoupledEnergy(5, seed=3).pair_weight)
    assert not torch.equal(stage.pair_weight, CoupledEnergy(5, seed=4).pair_weight)


def test_large_energies_stay_finite() -> None:
    stage = _random_coupled(4, seed=1).float()
    potential = torch.tensor([[1e6, torch.e, 3e5, 1e6]])
    _, modal = stage(potential, torch.ones(1, 4, dtype=torch.bool))
    (modal.sum()).backward()
    assert torch.isfinite(modal).all()
    assert all(torch.isfinite(p.grad).all() for p in stage.parameters())


def test_pair_coupling_backward_matches_autograd_with_missing_partners() -> None:
    generator = torch.Generator().manual_seed(0)
    log_energy = (
        1 + 3 * torch.rand(6, 4, generator=generator, dtype=torch.float64)
    ).requires_grad_()
    gamma = torch.rand(4, 4, generator=generator, dtype=torch.float64).requires_grad_()
    weight = (2 * torch.rand(4, 4, generator=generator, dtype=torch.float64) - 1).requires_grad_()
    present = torch.rand(6, 4, generator=generator) > 0.3
    assert torch.autograd.gradcheck(
        lambda log_e, g, w: pair_coupling(log_e, g, w, present), (log_energy, gamma, weight)
    )
