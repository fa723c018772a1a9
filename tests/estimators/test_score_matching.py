"""Denoising score matching: the reconstruction, the loss, its optimum and the cuDNN switch."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from emma_plugins.estimators.score_matching import (
    cudnn_disabled,
    denoising_score_matching_loss,
    potential_gradient,
    score_matching_reconstruction,
)


def quadratic(variance: float | Tensor = 1.0) -> Callable[[Tensor], Tensor]:
    """``Psi(x) = ||x||^2 / (2 variance)``: the NLL of N(0, variance I) up to a constant."""
    return lambda x: 0.5 * x.flatten(1).square().sum(dim=1) / variance


def test_gradient_by_autograd_also_under_no_grad() -> None:
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        grad = potential_gradient(quadratic(2.0), x)
    torch.testing.assert_close(grad, x / 2.0)
    assert not x.requires_grad


def test_reconstruction_steps_down_the_potential_by_sigma_squared() -> None:
    x = torch.randn(4, 3)
    restored = score_matching_reconstruction(quadratic(), x, 0.5)
    torch.testing.assert_close(restored, x - 0.25 * x)


def test_loss_is_the_squared_distance_of_the_reconstruction_to_the_clean_sample() -> None:
    clean = torch.randn(8, 3)
    loss = denoising_score_matching_loss(quadratic(), clean, 0.3, torch.Generator().manual_seed(1))
    noisy = clean + 0.3 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    expected = (noisy * (1 - 0.09) - clean).square().sum(dim=1).mean()
    torch.testing.assert_close(loss, expected)


def test_loss_reaches_the_weights_through_the_gradient() -> None:
    # a double backward: the loss depends on the weight only through grad_x Psi
    log_variance = torch.zeros((), requires_grad=True)
    loss = denoising_score_matching_loss(
        quadratic(log_variance.exp()), torch.randn(16, 2), 0.5, torch.Generator()
    )
    (grad,) = torch.autograd.grad(loss, log_variance)
    assert torch.isfinite(grad) and grad != 0


def test_optimum_is_the_nll_of_the_noise_smoothed_density() -> None:
    # Data N(0, 1), noise sigma = 0.5: the smoothed density is N(0, 1.25), so the best
    # Gaussian potential has variance 1.25 (with r(x) = x - grad Psi, it would be 1.25 / sigma^2).
    clean = torch.randn(200_000, 1, generator=torch.Generator().manual_seed(0))
    variances = torch.linspace(1.0, 1.5, 51)
    losses = [
        float(denoising_score_matching_loss(quadratic(v), clean, 0.5, torch.Generator()).detach())
        for v in variances
    ]
    best = float(variances[torch.tensor(losses).argmin()])
    assert best == pytest.approx(1.25, abs=0.02)


def test_sigma_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"sigma > 0, got 0.0; set the estimator's 'sigma'"):
        denoising_score_matching_loss(quadratic(), torch.randn(3, 2), 0.0, torch.Generator())


def test_cudnn_disabled_switches_only_cudnn_and_restores_it() -> None:
    cudnn = torch.backends.cudnn
    before = (cudnn.enabled, cudnn.benchmark, cudnn.deterministic)
    with cudnn_disabled():
        assert not cudnn.enabled
        assert (cudnn.benchmark, cudnn.deterministic) == before[1:]
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == before
    with pytest.raises(RuntimeError, match="inside"), cudnn_disabled():
        raise RuntimeError("inside")
    assert cudnn.enabled == before[0]


def test_gradient_is_recorded_with_cudnn_off_when_asked() -> None:
    seen: list[bool] = []

    def spy(x: Tensor) -> Tensor:
        seen.append(torch.backends.cudnn.enabled)
        return quadratic()(x)

    potential_gradient(spy, torch.randn(2, 2), cudnn=False)
    potential_gradient(spy, torch.randn(2, 2), cudnn=True)
    assert seen == [False, torch.backends.cudnn.enabled]
