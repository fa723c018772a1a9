"""Denoising score matching for energies given as scalar potentials.

A denoising autoencoder whose reconstruction is ``r(x) = x - sigma^2 grad Psi(x)`` learns,
when trained to restore clean samples from ``x + sigma * eps``, the score of the
noise-smoothed density: ``grad Psi = -grad log p_sigma`` (Vincent, 2011). With the
``sigma^2`` factor ``Psi`` is therefore the negative log-likelihood itself, up to a
constant; without it (``r(x) = x - grad Psi``, the original deep structured form of Zhai et
al., 2016) the learned ``Psi`` is ``sigma^2`` times the NLL (Saremi et al., 2018).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

import torch
from torch import Tensor


@contextmanager
def cudnn_disabled() -> Iterator[None]:
    """Turn cuDNN off, and nothing else, until the block ends.

    ``torch.backends.cudnn.flags(enabled=False)`` would also reset ``benchmark``,
    ``deterministic`` and the TF32 settings to their defaults for the block; this keeps
    the user's choices.
    """
    previous = torch.backends.cudnn.enabled
    torch.backends.cudnn.enabled = False
    try:
        yield
    finally:
        torch.backends.cudnn.enabled = previous


def potential_gradient(
    potential: Callable[[Tensor], Tensor],
    x: Tensor,
    *,
    create_graph: bool = False,
    cudnn: bool = True,
) -> Tensor:
    """``grad_x Psi(x)`` per sample, by autograd, also under ``torch.no_grad``.

    ``create_graph=True`` keeps the graph so that a loss on the gradient can be
    backpropagated to the parameters (a double backward). ``cudnn=False`` turns cuDNN off
    while the graph is recorded: cuDNN's recurrent kernels have no double backward, and
    their backward refuses to run in eval mode.
    """
    with torch.enable_grad(), nullcontext() if cudnn else cudnn_disabled():
        leaf = x if x.requires_grad else x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(potential(leaf).sum(), leaf, create_graph=create_graph)
    return grad


def score_matching_reconstruction(
    potential: Callable[[Tensor], Tensor],
    x: Tensor,
    sigma: float,
    *,
    create_graph: bool = False,
    cudnn: bool = True,
) -> Tensor:
    """``r(x) = x - sigma^2 grad Psi(x)``: one denoising step down the potential."""
    grad = potential_gradient(potential, x, create_graph=create_graph, cudnn=cudnn)
    return x - sigma**2 * grad


def denoising_score_matching_loss(
    potential: Callable[[Tensor], Tensor],
    clean: Tensor,
    sigma: float,
    generator: torch.Generator,
    *,
    cudnn: bool = False,
) -> Tensor:
    """Mean over the batch of ``||r(x + sigma eps) - x||^2`` with ``r`` from the potential.

    The noise is drawn on the CPU from ``generator`` (so runs repeat on any device) and the
    loss stays differentiable with respect to the potential's parameters. cuDNN is off by
    default, which any recurrent potential needs; a potential known to be safe may pass
    ``cudnn=True``.
    """
    if sigma <= 0:
        raise ValueError(
            f"denoising score matching needs a noise level sigma > 0, got {sigma}; "
            "set the estimator's 'sigma' parameter to a positive value."
        )
    noise = torch.randn(clean.shape, generator=generator).to(clean)
    noisy = (clean + sigma * noise).requires_grad_(True)
    restored = score_matching_reconstruction(
        potential, noisy, sigma, create_graph=True, cudnn=cudnn
    )
    return (restored - clean).flatten(1).square().sum(dim=1).mean()
