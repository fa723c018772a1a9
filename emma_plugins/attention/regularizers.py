"""The regularizers of equation 5.10 and the balancing condition of section 5.5.

``L~ = L(y, y^) + lambda_c (g_a - b_a) - lambda_e Omega``, ``Omega = sum_k xi_k log alpha_k``
with ``xi_k = -1`` for a corrupted mode and ``+1`` otherwise. The trainer adds
``lambda_c * capacity_penalty(attention)`` and ``lambda_e * energy_regularizer(report, xi)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from emma_plugins.attention.module import EnergyAttention
from emma_plugins.attention.report import AttentionReport


def capacity_penalty(attention: EnergyAttention) -> Tensor:
    """The gate's capacity surrogate, a scalar: ``g_a - b_a`` for ``shared_tanh``,
    ``mean_i (W_ii + b_i)`` for ``per_mode`` and 0 for ``identity``."""
    penalty = getattr(attention.gate, "capacity_penalty", None)
    if penalty is None:
        raise AttributeError(
            f"Gate {type(attention.gate).__name__} has no capacity_penalty(); gate plugins "
            "must implement it (return a zero tensor if the gate has no capacity to control)."
        )
    result: Tensor = penalty()
    return result


def xi_from_corrupted(corrupted: Tensor) -> Tensor:
    """``xi [N, M]``: ``-1`` where ``corrupted`` is True, ``+1`` elsewhere."""
    return 1.0 - 2.0 * corrupted.float()


def energy_regularizer(report: AttentionReport, xi: Tensor) -> Tensor:
    """``-Omega`` averaged over the batch, present modes only (a scalar).

    The original code summed over the batch and used different ``xi``; this follows (5.10)
    with a mean, so ``lambda_e`` does not depend on the batch size.
    """
    log_alpha = report.log_importance
    if xi.shape != log_alpha.shape:
        raise ValueError(
            f"xi has shape {tuple(xi.shape)}; expected [N, M] = {list(log_alpha.shape)} "
            "(+1 for a clean mode, -1 for a corrupted one)."
        )
    xi = xi.to(device=log_alpha.device, dtype=log_alpha.dtype)
    omega = torch.where(report.present, xi * log_alpha, 0.0).sum(dim=1)
    return -omega.mean()


def balancing_fraction(corrupted: Tensor, missing: Tensor | None = None) -> float:
    """Among samples with at least one corrupted present mode, the fraction whose number of
    clean present modes is ``M' = floor((M + 1) / 2)``, ``M`` the number of present modes.

    Under that condition the derivation (5.16) reduces to the updates (5.17)/(5.20), which
    push clean modes' energies down and corrupted ones' up. NaN when no sample has a
    corrupted mode.
    """
    present = torch.ones_like(corrupted, dtype=torch.bool) if missing is None else ~missing
    corrupted = corrupted.bool() & present
    n_present = present.sum(dim=1)
    n_clean = (present & ~corrupted).sum(dim=1)
    concerned = corrupted.any(dim=1)
    if not bool(concerned.any()):
        return math.nan
    balanced = n_clean == torch.div(n_present + 1, 2, rounding_mode="floor")
    return float(balanced[concerned].float().mean())
