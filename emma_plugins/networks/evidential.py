"""Subjective-logic opinions from Dirichlet evidence, Dempster's rule, and the evidential loss.

The maths of TMC (Han et al., ICLR 2021, "Trusted Multi-View Classification"):

* a view's non-negative evidence ``e`` over ``K`` classes gives a Dirichlet
  ``alpha = e + 1`` of strength ``S = sum(alpha)``; its opinion is the belief masses
  ``b_k = e_k / S`` and the uncertainty ``u = K / S``, with ``sum(b) + u = 1``;
* opinions are combined with the reduced Dempster's rule
  ``b_k = (b1_k b2_k + b1_k u2 + b2_k u1) / (1 - C)``, ``u = u1 u2 / (1 - C)``, with the
  conflict ``C = sum_{i != j} b1_i b2_j``;
* the loss of an opinion is the expected cross-entropy under its Dirichlet,
  ``psi(S) - psi(alpha_y)``, plus an annealed KL divergence from the Dirichlet of the
  misleading evidence, ``alpha~ = y + (1 - y) alpha``, to the uniform Dirichlet.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def opinion(alpha: Tensor) -> tuple[Tensor, Tensor]:
    """Belief masses ``[..., K]`` and uncertainty ``[...]`` of Dirichlet parameters ``alpha``."""
    strength = alpha.sum(dim=-1, keepdim=True)
    return (alpha - 1.0) / strength, alpha.shape[-1] / strength.squeeze(-1)


def dirichlet_from_opinion(belief: Tensor, uncertainty: Tensor) -> Tensor:
    """Dirichlet parameters of an opinion: ``S = K / u``, ``alpha = b S + 1``."""
    strength = belief.shape[-1] / uncertainty
    return belief * strength.unsqueeze(-1) + 1.0


def dempster_combine(belief: Tensor, uncertainty: Tensor) -> tuple[Tensor, Tensor]:
    """Combine the opinions ``[..., M, K]`` / ``[..., M]`` of M views into one.

    Dempster's rule is associative, and for singleton beliefs plus total ignorance its
    M-fold application has a closed form: the unnormalised mass of class ``k`` is
    ``prod_m (b_mk + u_m) - prod_m u_m`` and that of ignorance is ``prod_m u_m``;
    dividing by their total removes the conflict. For two views this is exactly the
    pairwise rule above. Products are taken in log space so many views do not underflow.
    """
    log_ignorance = uncertainty.log().sum(dim=-1, keepdim=True)  # [..., 1]
    log_support = (belief + uncertainty.unsqueeze(-1)).log().sum(dim=-2)  # [..., K]
    shift = log_support.amax(dim=-1, keepdim=True)
    singleton = torch.exp(log_support - shift) * -torch.expm1(log_ignorance - log_support)
    ignorance = torch.exp(log_ignorance - shift)
    total = singleton.sum(dim=-1, keepdim=True) + ignorance
    return singleton / total, (ignorance / total).squeeze(-1)


def expected_cross_entropy(alpha: Tensor, y: Tensor) -> Tensor:
    """``psi(S) - psi(alpha_y)`` per sample: cross-entropy averaged over the Dirichlet."""
    true_alpha = alpha.gather(-1, y.long().unsqueeze(-1)).squeeze(-1)
    return torch.digamma(alpha.sum(dim=-1)) - torch.digamma(true_alpha)


def kl_to_uniform(alpha: Tensor) -> Tensor:
    """``KL(Dir(alpha) || Dir(1))`` per sample."""
    k = alpha.shape[-1]
    strength = alpha.sum(dim=-1)
    log_norm = torch.lgamma(strength) - math.lgamma(k) - torch.lgamma(alpha).sum(dim=-1)
    spread = (alpha - 1.0) * (torch.digamma(alpha) - torch.digamma(strength).unsqueeze(-1))
    return log_norm + spread.sum(dim=-1)


def evidential_loss(alpha: Tensor, y: Tensor, kl_weight: float) -> Tensor:
    """Per-sample TMC loss: expected cross-entropy + ``kl_weight`` x KL of misleading evidence."""
    onehot = torch.nn.functional.one_hot(y.long(), alpha.shape[-1]).to(alpha.dtype)
    misleading = onehot + (1.0 - onehot) * alpha
    return expected_cross_entropy(alpha, y) + kl_weight * kl_to_uniform(misleading)
